"""Peak memory of long-form synthesis: the case a worker runs (``memory_command`` in
:mod:`bench.commands` runs it for short vs very long mels, each in a fresh process).

Two modes per duration:

* ``stream``: :class:`waveflow.audio.models.chunked.StreamingSynthesizer` fed ``block_frames`` mel
  frames at a time (made on the fly, as a TTS model would) and its audio consumed block by
  block: nothing of size ``O(length)`` exists, so the peak RSS must be flat in the length;
* ``offline``: ``WaveGlow.infer`` on the whole mel in memory (chunked inside): the peak grows
  by the input mel and the output audio only (``io_mib``), not by the model's activations.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from .memory import baseline_bytes, memory_report


def _model(spec: dict[str, Any]):
    from waveflow.audio.models.waveglow import WaveGlow

    torch.manual_seed(0)
    return WaveGlow(**spec["model"]).eval().remove_weight_norm()


def stream_memory_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Synthesise ``frames`` frames (``mode`` stream or offline); peak RSS and throughput."""
    from waveflow.audio.models.chunked import StreamingSynthesizer

    model = _model(spec)
    n_mel, frames, block = spec["model"]["n_mel_channels"], spec["frames"], spec["block_frames"]
    chunk = spec["chunk_samples"] or None
    generator = torch.Generator().manual_seed(0)
    device = torch.device("cpu")
    samples, checksum, work = 0, 0.0, None
    if spec["mode"] == "offline":
        mel = torch.randn(1, n_mel, frames, generator=generator, device=device) - 5.0
        base = baseline_bytes(device)
        start = time.perf_counter()
        audio = model.infer(mel, sigma=0.6, generator=generator, chunk_samples=chunk)
        samples, checksum = audio.shape[1], float(audio.abs().mean())
    else:
        stream = StreamingSynthesizer(model, sigma=0.6, generator=generator, chunk_samples=chunk)
        base = baseline_bytes(device)
        start = time.perf_counter()
        for first in range(0, frames, block):
            n = min(block, frames - first)
            piece = stream.push(torch.randn(1, n_mel, n, generator=generator, device=device) - 5.0)
            samples += piece.shape[1]
            checksum += float(piece.abs().sum())
        piece = stream.finish()
        samples += piece.shape[1]
        work = stream.computed / samples
        checksum = (checksum + float(piece.abs().sum())) / samples
    seconds = time.perf_counter() - start
    if samples != frames * spec["model"]["hop_length"] or not checksum == checksum:
        raise ValueError(f"memory case: got {samples} samples, checksum {checksum}")
    io_bytes = 0 if spec["mode"] == "stream" else 4 * frames * (n_mel + spec["model"]["hop_length"])
    return {
        **memory_report(device, base),
        "seconds": seconds,
        "samples": samples,
        "samples_per_s": samples / seconds,
        "io_bytes": io_bytes,
        "computed_over_output": work,
    }
