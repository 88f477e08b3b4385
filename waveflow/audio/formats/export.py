"""Export of the WaveGlow inference path to TorchScript and ONNX (``waveflow export``).

The exported graph is :class:`VocoderInference`: ``(mel [B, n_mel, F], z [B, F * hop]) ->
audio [B, F * hop]``, float32. ``z`` is the latent, ``sigma * N(0, 1)`` (WaveGlow's
``infer`` draws ``z = sigma * randn`` in the same layout), so a caller chooses the temperature
and the random numbers; with the same ``z`` the exported model equals
``WaveGlow.infer``. Weight norm is folded into plain weights and the inverse matrices of the
1x1 convolutions are computed once in float64 and stored as constants (ONNX has no matrix
inverse). The graph is traced from the model's own ``condition`` and ``flow.inverse``, so every
WaveGlow configuration exports without a second implementation of the maths.

Frames: by default the number of frames (and the batch size) is dynamic; ``frames=N`` fixes the
ONNX graph's frame axis to ``N`` (the batch stays dynamic). A TorchScript trace records shapes
symbolically, so it accepts any length either way; ``frames`` is then only the trace length.

Every export is verified before it is returned: the exported model (``torch.jit`` for
TorchScript, onnxruntime for ONNX) is run next to the eager module at two lengths (dynamic) or
at the fixed length, with batch sizes 1 and 2, and must agree within :data:`TOLERANCE`; an ONNX
file must also pass ``onnx.checker``. A failure raises a WaveflowError and nothing is written.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from waveflow.audio.models.waveglow import WaveGlow
from waveflow.audio.models.wavenet import remove_weight_norm, weight_normed_modules
from waveflow.bijectors import InvertibleConv1x1
from waveflow.errors import WaveflowError

FORMATS = ("torchscript", "onnx")
# torch.onnx's TorchScript-based exporter (dynamo=False) supports opsets up to 20; below 13
# Slice/Unsqueeze/Split take attributes instead of inputs and nothing here is tested there.
MIN_OPSET, MAX_OPSET, DEFAULT_OPSET = 13, 20, 17
INPUT_NAMES, OUTPUT_NAMES = ["mel", "z"], ["audio"]
METADATA_FILE = "waveflow.json"  # TorchScript extra file holding the metadata
TRACE_FRAMES = 8  # frames of the example input traced for a dynamic export
TOLERANCE = 1e-4  # max |exported - eager| allowed, relative to max(1, max |eager|)


class VocoderInference(nn.Module):
    """``forward(mel [B, n_mel, F], z [B, F * hop]) -> audio [B, F * hop]``: WaveGlow's inverse.

    Wraps a COPY of ``model`` (the caller's model is untouched) in eval mode, weight norm
    folded, gradients off, the 1x1-conv inverses cached (build it on the device it will run
    on: moving it invalidates that cache). ``forward`` is ``model.condition`` followed by
    ``model.flow.inverse``, exactly what ``WaveGlow.infer`` runs after drawing ``z``.
    """

    def __init__(self, model: WaveGlow) -> None:
        super().__init__()
        # normal tensors even when built under inference_mode: the cached inverses (constants
        # of the exported graph) need the parameters' version counters
        with torch.inference_mode(False):
            self.model = folded_copy(model).eval().requires_grad_(False)
            with torch.no_grad():
                for layer in self.model.modules():
                    if isinstance(layer, InvertibleConv1x1):
                        layer.inverse_matrix()
        self.hop_length: int = model.config.hop_length
        self.n_mel_channels: int = model.config.n_mel_channels

    def forward(self, mel: Tensor, z: Tensor) -> Tensor:
        cond = self.model.condition(mel, z.shape[1])
        return self.model.flow.inverse(z.unsqueeze(1), cond)[0].squeeze(1)

    def example_inputs(self, batch: int, frames: int, seed: int = 0) -> tuple[Tensor, Tensor]:
        """A log-mel-like ``mel [batch, n_mel, frames]`` and a latent at temperature 0.6."""
        generator = torch.Generator().manual_seed(seed)  # on the CPU: the same on every device
        cpu = generator.device
        mel = torch.randn(batch, self.n_mel_channels, frames, generator=generator, device=cpu)
        z = torch.randn(batch, frames * self.hop_length, generator=generator, device=cpu)
        device = next(self.parameters()).device
        return (mel * 2.0 - 6.0).to(device), (z * 0.6).to(device)


def folded_copy(model: WaveGlow) -> WaveGlow:
    """A new model with ``model``'s weights, weight norm folded, on its device and dtype.

    Built from the config rather than with ``copy.deepcopy``: a deep copy of a weight-normed
    module shares torch's parametrised class with the original, and folding the copy would
    delete the original's ``weight`` property.
    """
    copy = type(model).from_config(model.config)
    if not any(weight_normed_modules(model)):
        remove_weight_norm(copy)
    copy.load_state_dict(model.state_dict())
    parameter = next(model.parameters())
    return remove_weight_norm(copy).to(device=parameter.device, dtype=parameter.dtype)


def check_options(fmt: str, out: str | os.PathLike[str], frames: int | None, opset: int) -> None:
    """One-line WaveflowErrors for a bad format, frame count, opset or output path."""
    if fmt not in FORMATS:
        raise WaveflowError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if frames is not None and frames < 1:
        raise WaveflowError(f"--frames must be a positive number of mel frames, got {frames}")
    if fmt == "onnx":
        check_opset(opset)
    target = Path(out)
    if target.is_dir():
        raise WaveflowError(f"output {target} is a folder; give a file name")
    if not target.parent.is_dir():
        raise WaveflowError(f"output folder {target.parent} does not exist (output {target})")


def check_opset(opset: int) -> None:
    """A one-line WaveflowError unless ``opset`` is in ``MIN_OPSET..MAX_OPSET``."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise WaveflowError(
            f"--opset {opset} is not supported: choose an ONNX opset from {MIN_OPSET} to "
            f"{MAX_OPSET} (default {DEFAULT_OPSET})"
        )


def metadata(inference: VocoderInference, frames: int | None, **extra: Any) -> dict[str, Any]:
    """What a consumer needs to call the exported model, stored inside the exported file."""
    from waveflow import __version__

    return {
        "inputs": "mel [batch, n_mel_channels, frames] float32 (natural-log mel), "
        "z [batch, frames * hop_length] float32 (latent: sigma * N(0, 1))",
        "outputs": "audio [batch, frames * hop_length] float32",
        "hop_length": inference.hop_length,
        "n_mel_channels": inference.n_mel_channels,
        "frames": frames,
        "waveflow_version": __version__,
        **extra,
    }


def export_torchscript(
    inference: VocoderInference, frames: int | None = None, info: dict[str, Any] | None = None
) -> bytes:
    """The bytes of a ``torch.jit.save`` file of the traced module, reloaded and verified."""
    with torch.no_grad(), _quiet_tracing():
        traced = torch.jit.trace(
            inference, inference.example_inputs(1, frames or TRACE_FRAMES), check_trace=False
        )
    buffer = io.BytesIO()
    extra = {METADATA_FILE: json.dumps(info or metadata(inference, frames))}
    with _quiet_tracing():
        torch.jit.save(traced, buffer, _extra_files=extra)
        loaded = torch.jit.load(io.BytesIO(buffer.getvalue()))
    with torch.no_grad():
        _verify(inference, loaded, frames, "TorchScript")
    return buffer.getvalue()


def export_onnx(
    inference: VocoderInference,
    frames: int | None = None,
    opset: int = DEFAULT_OPSET,
    info: dict[str, Any] | None = None,
) -> bytes:
    """The ONNX model bytes, checked by ``onnx.checker`` and verified in onnxruntime."""
    check_opset(opset)
    onnx, _ = _onnx_modules()
    axes: dict[str, dict[int, str]] = {name: {0: "batch"} for name in INPUT_NAMES + OUTPUT_NAMES}
    if frames is None:
        axes["mel"][2] = "frames"
        axes["z"][1] = axes["audio"][1] = "samples"
    buffer = io.BytesIO()
    with torch.no_grad(), _quiet_tracing():
        torch.onnx.export(
            inference,
            inference.example_inputs(1, frames or TRACE_FRAMES),
            buffer,
            dynamo=False,  # torch.export cannot trace the 1x1 convs' inverse cache
            opset_version=opset,
            input_names=INPUT_NAMES,
            output_names=OUTPUT_NAMES,
            dynamic_axes=axes,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in (info or metadata(inference, frames, opset=opset)).items():
        proto.metadata_props.add(key=key, value=json.dumps(value))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as err:  # onnx raises ValidationError and InferenceError subclasses
        raise WaveflowError(f"the exported ONNX model fails onnx.checker: {_line(err)}") from err
    data = proto.SerializeToString()
    with torch.no_grad():
        _verify(inference, onnxruntime_runner(data), frames, "ONNX")
    return data


def onnxruntime_runner(
    data: bytes, threads: int | None = None
) -> Callable[[Tensor, Tensor], Tensor]:
    """``run(mel, z) -> audio`` through an onnxruntime CPU session of the model ``data``."""
    _, ort = _onnx_modules()
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])

    def run(mel: Tensor, z: Tensor) -> Tensor:
        feeds = {"mel": mel.cpu().numpy(), "z": z.cpu().numpy()}
        return torch.from_numpy(session.run(None, feeds)[0])

    return run


def _verify(
    inference: VocoderInference,
    run: Callable[[Tensor, Tensor], Tensor],
    frames: int | None,
    what: str,
) -> None:
    """Compare ``run`` with the eager module at batch 1 and 2 and one or two lengths."""
    lengths = [frames] if frames is not None else [TRACE_FRAMES, TRACE_FRAMES + 5]
    for batch, length in [(b, f) for f in lengths for b in (1, 2)]:
        mel, z = inference.example_inputs(batch, length, seed=batch + length)
        expected = inference(mel, z).cpu()
        try:
            got = run(mel, z).cpu()
        except Exception as err:  # a runtime refusing the shape: the export is not dynamic
            raise WaveflowError(
                f"the exported {what} model fails on a batch of {batch} x {length} frames "
                f"({_line(err)}); nothing was written"
            ) from err
        worst = (got - expected).abs().max().item() if got.shape == expected.shape else None
        tolerance = TOLERANCE * max(1.0, expected.abs().max().item())
        if worst is None or not worst <= tolerance:
            detail = f"max difference {worst:.3g}" if worst is not None else f"shape {got.shape}"
            raise WaveflowError(
                f"the exported {what} model disagrees with eager synthesis on a batch of "
                f"{batch} x {length} frames ({detail}, tolerance {tolerance:.3g}); "
                "nothing was written"
            )


def _onnx_modules() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime
    except ImportError as err:
        raise WaveflowError(
            f"ONNX export needs the onnx and onnxruntime packages ({err.name} is missing): "
            "pip install 'waveflow[export]'"
        ) from err
    return onnx, onnxruntime


@contextlib.contextmanager
def _quiet_tracing() -> Iterator[None]:
    """Silence the tracer's notes on the bijectors' shape checks, torch's deprecations and the
    ONNX exporter's constant-folding notes.

    The shape checks compare sizes to raise on bad input; a trace keeps only the tensor ops,
    and :func:`_verify` is what proves the traced graph right at other shapes. Constant
    folding is an optimisation the exporter skips for some slices; the graph is the same.
    """
    with warnings.catch_warnings():
        for category in (torch.jit.TracerWarning, DeprecationWarning, FutureWarning):
            warnings.simplefilter("ignore", category)
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        yield


def _line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:300] + ("..." if len(text) > 300 else "")
