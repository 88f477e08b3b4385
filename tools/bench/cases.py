"""The measured cases. Each takes a JSON-able ``spec`` dict and returns a JSON-able result.

Every case builds its own model and inputs, so it can run alone in a fresh subprocess (see
:mod:`bench.isolation`) and its peak memory is its own. Timings are wall-clock seconds per
call after ``spec["warmup"]`` untimed calls, summarised by :func:`bench.stats.summarize`.

Cases: ``synth`` (WaveGlow ``infer``), ``export`` (the exported vocoder in eager PyTorch,
TorchScript and onnxruntime, alternating), ``train`` (one WaveGlow optimizer step),
``glow_train`` (one Glow optimizer step, with the Glow recipe's optimiser, warm-up and gradient
clipping: :func:`glow_schedule`), ``glow_sample`` (Glow sampling) and ``matmul`` (the
device's dense matmul rate).
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from waveflow.device import DTYPES, resolve_device
from waveflow.train.config import TrainConfig

from .memory import baseline_bytes, memory_report, reset_peak
from .stats import summarize, time_runs

GLOW_RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "cifar10" / "conf" / "glow.yaml"


def synchronizer(device: torch.device) -> Callable[[], None]:
    """A callable that waits for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def autocast(device: torch.device, dtype: str) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` to bf16/fp16 around a training forward; nothing for fp32."""
    if dtype == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[dtype])


def synthesis_precision(device: torch.device, dtype: str) -> str:
    """The precision a synthesis at ``dtype`` really runs in on ``device``: low precision falls
    back to fp32 where the device has no native units for it
    (:func:`waveflow.device.native_low_precision`)."""
    from waveflow.device import native_low_precision

    native = dtype == "fp32" or native_low_precision(DTYPES[dtype], device)
    return dtype if native else "fp32"


def _timed(spec: dict[str, Any], device: torch.device, fn: Callable[[], object]) -> dict:
    """Time ``fn`` per the spec and attach the memory figures of the timed window."""
    baseline = baseline_bytes(device)
    reset_peak(device)
    seconds = time_runs(fn, spec["runs"], spec["warmup"], synchronizer(device))
    return {"timing": summarize(seconds), "seconds": seconds, **memory_report(device, baseline)}


def _finite(value: torch.Tensor, what: str) -> None:
    if not torch.isfinite(value).all():
        raise ValueError(f"{what} is not finite; the benchmark result would be meaningless")


def synth_case(spec: dict[str, Any]) -> dict[str, Any]:
    """WaveGlow synthesis of ``batch_size`` mels of ``frames`` frames (weight norm removed)."""
    from waveflow.audio.models.waveglow import WaveGlow

    device = resolve_device(spec["device"])
    torch.manual_seed(0)
    model = WaveGlow(**spec["model"]).to(device).eval().remove_weight_norm()
    n_mel = spec["model"]["n_mel_channels"]
    mel = torch.randn(spec["batch_size"], n_mel, spec["frames"], device=device) - 5.0
    generator = torch.Generator(device).manual_seed(0)
    dtype = None if spec["dtype"] == "fp32" else DTYPES[spec["dtype"]]
    outputs: list[torch.Tensor] = []

    def synthesize() -> None:
        with torch.inference_mode():
            audio = model.infer(mel, sigma=spec["sigma"], generator=generator, dtype=dtype)
        outputs[:] = [audio]

    result = _timed(spec, device, synthesize)
    _finite(outputs[0], "synthesised audio")
    samples = outputs[0].numel()
    median = result["timing"]["median_s"]
    return {
        **result,
        "ran_in": synthesis_precision(device, spec["dtype"]),
        "output_samples": samples,
        "audio_seconds": samples / spec["sample_rate"],
        "samples_per_s": samples / median,
        "khz": samples / median / 1000.0,
        "x_realtime": samples / spec["sample_rate"] / median,
        "latency_s": median,
    }


EXPORT_BACKENDS = ("eager", "torchscript", "onnxruntime")


def export_case(spec: dict[str, Any]) -> dict[str, Any]:
    """The exported vocoder (``mel, z -> audio``, weight norm folded) on the CPU in eager
    PyTorch, TorchScript (``torch.jit.load`` of the exported file) and onnxruntime.

    After ``warmup`` untimed calls of each, every timed round calls the three backends once on
    the same inputs, the order rotating per round, so that load changes hit all of them; the
    speed-up of a backend is the median over rounds of ``eager seconds / backend seconds``.
    """
    import io

    from waveflow.audio.formats.export import (
        VocoderInference,
        export_onnx,
        export_torchscript,
        onnxruntime_runner,
    )
    from waveflow.audio.models.waveglow import WaveGlow

    if spec["device"] != "cpu" or spec["dtype"] != "fp32":
        raise ValueError("the export benchmark runs on the CPU in fp32 (--device cpu --dtype fp32)")
    torch.manual_seed(0)
    inference = VocoderInference(WaveGlow(**spec["model"]))
    started = time.perf_counter()
    scripted = torch.jit.load(io.BytesIO(export_torchscript(inference)))
    onnx_bytes = export_onnx(inference, opset=spec["opset"])
    export_seconds = time.perf_counter() - started
    runners = {
        "eager": inference,
        "torchscript": scripted,
        "onnxruntime": onnxruntime_runner(onnx_bytes, threads=torch.get_num_threads()),
    }
    mel, z = inference.example_inputs(spec["batch_size"], spec["frames"])
    outputs: dict[str, torch.Tensor] = {}

    def call(name: str) -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            outputs[name] = runners[name](mel, z)
        return time.perf_counter() - start

    for name in EXPORT_BACKENDS:
        for _ in range(spec["warmup"]):
            call(name)
    seconds: dict[str, list[float]] = {name: [] for name in EXPORT_BACKENDS}
    for round_ in range(spec["runs"]):
        for i in range(len(EXPORT_BACKENDS)):
            name = EXPORT_BACKENDS[(round_ + i) % len(EXPORT_BACKENDS)]
            seconds[name].append(call(name))
    samples = z.numel()
    backends = {}
    for name in EXPORT_BACKENDS:
        _finite(outputs[name], f"{name} audio")
        median = statistics.median(seconds[name])
        ratios = [e / b for e, b in zip(seconds["eager"], seconds[name], strict=True)]
        backends[name] = {
            "timing": summarize(seconds[name]),
            "seconds": seconds[name],
            "khz": samples / median / 1000.0,
            "x_realtime": samples / spec["sample_rate"] / median,
            "speedup_vs_eager": statistics.median(ratios),
            "max_abs_diff_vs_eager": (outputs[name] - outputs["eager"]).abs().max().item(),
        }
    return {
        "backends": backends,
        "output_samples": samples,
        "audio_seconds": samples / spec["sample_rate"],
        "export_seconds": export_seconds,
        "onnx_bytes": len(onnx_bytes),
        "onnxruntime_version": _onnxruntime_version(),
    }


def _onnxruntime_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def train_case(spec: dict[str, Any]) -> dict[str, Any]:
    """One WaveGlow optimizer step (forward NLL, backward, Adam) on random audio and mels."""
    from waveflow.audio.models.waveglow import WaveGlow

    device = resolve_device(spec["device"])
    torch.manual_seed(0)
    model = WaveGlow(**spec["model"]).to(device).train()
    batch, length = spec["batch_size"], spec["segment_length"]
    hop, n_mel = spec["model"]["hop_length"], spec["model"]["n_mel_channels"]
    audio = (torch.rand(batch, length, device=device) * 2 - 1) * 0.5
    mel = torch.randn(batch, n_mel, length // hop + 1, device=device) - 5.0

    def loss_fn() -> torch.Tensor:
        return -model.log_prob(audio, mel, sigma=1.0).mean() / length

    return _optimizer_steps(spec, device, model, loss_fn, TrainConfig(lr=1e-4)) | {
        "samples_per_step": batch * length,
        "audio_seconds_per_step": batch * length / spec["sample_rate"],
    }


def _optimizer_steps(
    spec: dict[str, Any],
    device: torch.device,
    model: torch.nn.Module,
    loss_fn: Callable[[], torch.Tensor],
    schedule: TrainConfig,
) -> dict[str, Any]:
    """Time ``zero_grad; autocast forward; backward; [clip;] step`` (GradScaler for fp16) with
    ``schedule``'s optimizer, learning rate (warm-up included) and gradient clipping, as the
    training engine applies them; untimed and timed calls are steps 1, 2, ... of a run."""
    from waveflow.train.optim import build_optimizer
    from waveflow.train.schedule import lr_at, set_lr

    optimizer = build_optimizer(model, schedule)
    scaler = torch.amp.GradScaler(device.type, enabled=spec["dtype"] == "fp16")
    losses: list[torch.Tensor] = []
    steps = [0]

    def step() -> None:
        steps[0] += 1
        set_lr(optimizer, lr_at(steps[0], schedule))
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, spec["dtype"]):
            loss = loss_fn()
        scaler.scale(loss).backward()
        if schedule.grad_clip:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), schedule.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        losses[:] = [loss.detach()]

    result = _timed(spec, device, step)
    _finite(losses[0], "training loss")
    return result | {
        "steps_per_s": 1.0 / result["timing"]["median_s"],
        "final_loss": float(losses[0]),
        "schedule": {
            "optimizer": schedule.optimizer,
            "lr": schedule.lr,
            "warmup_steps": schedule.warmup_steps,
            "grad_clip": schedule.grad_clip,
        },
    }


def glow_schedule() -> TrainConfig:
    """The ``train:`` section of the paper-size Glow recipe (``recipes/cifar10/conf/glow.yaml``:
    Adamax, lr 1e-3 after a linear warm-up over 5000 steps, gradient norm clipped at 100).

    The warm-up is what makes a fresh paper-size Glow trainable: one Adam(ax) step of 1e-3 moves
    every parameter by about 1e-3 in the direction of its gradient's sign, so each of the 96
    zero-initialised coupling output convs (3x3 over 512 channels) shifts its output coherently
    by several units and the loss becomes infinite on any data (docs/gpu.md)."""
    import yaml

    from waveflow.dataclass_dict import from_dict

    train = yaml.safe_load(GLOW_RECIPE.read_text())["train"]
    return from_dict(TrainConfig, train, "train")


def _glow(spec: dict[str, Any], device: torch.device) -> tuple[torch.nn.Module, torch.Tensor]:
    from waveflow.image.glow import Glow, GlowConfig

    torch.manual_seed(0)
    model = Glow.from_config(GlowConfig(**spec["model"])).to(device)
    size, channels = spec["model"]["image_size"], spec["model"]["in_channels"]
    x = torch.rand(spec["batch_size"], channels, size, size, device=device) - 0.5
    model.initialize(x)
    return model, x


def glow_train_case(spec: dict[str, Any]) -> dict[str, Any]:
    """One Glow optimizer step (bits/dim, backward, Adam) on ``batch_size`` random images."""
    device = resolve_device(spec["device"])
    model, x = _glow(spec, device)
    model.train()
    loss_fn = lambda: model.bits_per_dim(x).mean()  # noqa: E731
    result = _optimizer_steps(spec, device, model, loss_fn, glow_schedule())
    return result | {"images_per_s": spec["batch_size"] / result["timing"]["median_s"]}


def glow_sample_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Glow sampling of ``batch_size`` images at temperature 0.7 (one ``model.sample`` call)."""
    device = resolve_device(spec["device"])
    model, _ = _glow(spec, device)
    model.eval()
    generator = torch.Generator(device).manual_seed(0)
    outputs: list[torch.Tensor] = []

    def sample() -> None:
        with torch.inference_mode(), autocast(device, spec["dtype"]):
            outputs[:] = [model.sample(spec["batch_size"], 0.7, generator=generator)]

    result = _timed(spec, device, sample)
    _finite(outputs[0], "sampled images")
    median = result["timing"]["median_s"]
    return result | {"images_per_s": spec["batch_size"] / median, "latency_s": median}


def matmul_case(spec: dict[str, Any]) -> dict[str, Any]:
    """The rate of an ``n x n @ n x n`` matmul in ``dtype``: ``2 n^3`` FLOPs per call."""
    device = resolve_device(spec["device"])
    n, dtype = spec["n"], DTYPES[spec["dtype"]]
    generator = torch.Generator(device).manual_seed(0)
    a = torch.randn(n, n, device=device, generator=generator).to(dtype)
    b = torch.randn(n, n, device=device, generator=generator).to(dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    result = _timed(spec, device, lambda: torch.mm(a, b, out=out))
    flops = 2.0 * n**3
    rates = sorted(flops / s / 1e9 for s in result["seconds"])
    return result | {
        "flops_per_call": flops,
        "gflops": flops / result["timing"]["median_s"] / 1e9,
        "gflops_min": rates[0],
        "gflops_max": rates[-1],
    }


def flops_case(spec: dict[str, Any]) -> dict[str, Any]:
    """FLOPs per output sample of WaveGlow synthesis and of one training step, counted."""
    from .flops import count_synthesis_flops, count_train_flops, waveglow_flops_per_sample

    config = spec["model"]
    synth = count_synthesis_flops(config, spec["frames"])
    train = count_train_flops(config, spec["segment_length"])
    return {
        "synth_flops_per_sample": synth,
        "synth_flops_per_sample_analytic": waveglow_flops_per_sample(config),
        "train_flops_per_sample": train,
        "count_frames": spec["frames"],
        "count_segment_length": spec["segment_length"],
        "counted_ops": "convolutions and matmuls (2 FLOPs per multiply-add); not elementwise",
    }


def stream_memory_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Peak memory of streaming / offline long-form synthesis (see :mod:`bench.memory_case`)."""
    from .memory_case import stream_memory_case as case

    return case(spec)


CASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "synth": synth_case,
    "export": export_case,
    "train": train_case,
    "glow_train": glow_train_case,
    "glow_sample": glow_sample_case,
    "matmul": matmul_case,
    "flops": flops_case,
    "stream_memory": stream_memory_case,
}


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``CASES[spec["case"]]`` in this process with ``spec["threads"]`` torch threads when
    given (restored afterwards); the result records the thread count it ran with."""
    case = CASES.get(spec.get("case", ""))
    if case is None:
        raise ValueError(f"unknown benchmark case {spec.get('case')!r}; known: {sorted(CASES)}")
    threads = torch.get_num_threads()
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    try:
        result = case(spec)
        result["torch_threads"] = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads)
    bad = [k for k, v in result.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise ValueError(f"benchmark case {spec['case']}: non-finite figures {bad}")
    return result
