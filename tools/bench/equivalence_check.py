"""waveflow computes NVIDIA's WaveGlow maths on a device: ``python
tools/bench/equivalence_check.py --device cuda`` prints one JSON line, exit 1 on a mismatch.

The reference of NVIDIA's maths (``tools/reference/nvidia_maths.py``) and waveflow get the same
weights; in float64 their latents, NVIDIA's loss and the sigma-0 synthesis (whole and in chunks)
must agree to 1e-9, and the published model in float32 to 1e-4 (sigma-0 synthesis of 16 frames)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.presets import waveglow_config  # noqa: E402
from bench.versus import build_pair, reference_module  # noqa: E402


def tiny_check(device: torch.device) -> dict[str, float]:
    nl = reference_module()
    reference = nl.make_reference().double().to(device)
    from waveflow.audio.formats.nvidia import waveglow_from_nvidia_state
    from waveflow.audio.models.chunked import minimum_chunk_samples

    state = {k: v.clone() for k, v in reference.state_dict().items()}
    model = waveglow_from_nvidia_state(state, {"hop_length": 8}).double().to(device)
    generator = torch.Generator(device).manual_seed(0)
    like = {"generator": generator, "dtype": torch.float64, "device": device}
    mel = torch.randn(2, 6, 40, **like)
    audio = 0.2 * torch.randn(2, 40 * 8, **like)
    with torch.no_grad():
        outputs = reference((mel, audio))
        z, _ = model(audio, mel)
        grouped = outputs[0].transpose(1, 2).reshape(2, -1)
        loss = model.nll(audio, mel)["nvidia_loss"]
        ref_audio = reference.infer(mel, sigma=0.0)
        whole = model.infer(mel, sigma=0.0, chunk_samples=10**6 * 8)
        chunked = model.infer(mel, sigma=0.0, chunk_samples=minimum_chunk_samples(model))
    return {
        "z": float((z - grouped).abs().max()),
        "nvidia_loss": float((loss - nl.nvidia_loss(outputs)).abs()),
        "infer_sigma0": float((whole - ref_audio).abs().max()),
        "infer_chunked_sigma0": float((chunked - ref_audio).abs().max()),
    }


def published_check(device: torch.device) -> float:
    reference, model = build_pair(waveglow_config("published"), device)
    generator = torch.Generator(device).manual_seed(0)
    mel = torch.randn(1, 80, 16, generator=generator, device=device) - 5
    with torch.no_grad():
        return float((reference.infer(mel, sigma=0.0) - model.infer(mel, sigma=0.0)).abs().max())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--skip-published", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    result: dict[str, object] = {"device": str(device), "float64": tiny_check(device)}
    ok = all(v < 1e-9 for v in result["float64"].values())  # type: ignore[union-attr]
    if not args.skip_published:
        result["published_fp32_infer_sigma0"] = published_check(device)
        ok = ok and result["published_fp32_infer_sigma0"] < 1e-4  # type: ignore[operator]
    result["ok"] = ok
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
