"""Side by side: waveflow against a reference of NVIDIA's WaveGlow maths.

The reference (``tools/reference/nvidia_maths.py``: NVIDIA's module layout and equations, weight
norm as NVIDIA uses it, removed for synthesis as NVIDIA's ``inference.py`` does) and waveflow get
the SAME weights (converted by :func:`waveflow.audio.formats.nvidia.waveglow_from_nvidia_state`); a
sigma-0 synthesis checks that they compute the same function before anything is timed.

Each repeat times every case once, reference and waveflow alternating, so that machine noise
(other jobs on a shared machine) hits both alike; ratios are reference time / waveflow time of
the medians (> 1: waveflow is faster), with the median of the per-repeat ratios next to them.
Cases: synthesis of a ``seconds`` mel (fp32 reference vs waveflow in each ``--dtypes``) and a
training step (forward, backward, Adam) on ``batch_size x segment_length`` samples.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from waveflow.device import DTYPES, resolve_device

from .cases import autocast, synchronizer, synthesis_precision
from .commands import frames_for
from .machine import machine_info
from .report import format_table


def reference_module() -> Any:
    """``tools/reference/nvidia_maths.py`` (the reference of NVIDIA's maths; ``tools/`` is on
    the path of every tool)."""
    from reference import nvidia_maths

    return nvidia_maths


def build_pair(model: dict[str, Any], device: torch.device) -> tuple[Any, Any]:
    """``(reference, waveflow)`` WaveGlows with the same random weights (non-identity)."""
    from waveflow.audio.formats.nvidia import waveglow_from_nvidia_state

    nl = reference_module()
    torch.manual_seed(0)
    reference = nl.WaveGlow(
        model["n_mel_channels"], model["n_flows"], model["n_group"], model["n_early_every"],
        model["n_early_size"],
        {k: model[k] for k in ("n_layers", "n_channels", "kernel_size")},
        hop_length=model["hop_length"], upsample_kernel=model["upsample_kernel"],
    )  # fmt: skip
    with torch.no_grad():
        for wn in reference.WN:
            wn.end.weight.normal_(0, 0.02)
    state = {k: v.clone() for k, v in reference.state_dict().items()}
    ours = waveglow_from_nvidia_state(state, {"hop_length": model["hop_length"]}, "reference")
    return reference.to(device), ours.to(device)


def remove_reference_weight_norm(reference: torch.nn.Module) -> torch.nn.Module:
    """NVIDIA's ``remove_weightnorm`` before inference: fold ``weight_g``/``weight_v``."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module in reference.modules():
            if hasattr(module, "weight_g"):
                torch.nn.utils.remove_weight_norm(module)
    return reference


def _train_step(model: torch.nn.Module, loss_fn: Callable[[], torch.Tensor], dtype: str, device):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-6)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, dtype):
            loss = loss_fn()
        loss.backward()
        optimizer.step()

    return step


def versus_cases(opts: argparse.Namespace, model: dict[str, Any]) -> tuple[dict, dict]:
    """The timed callables, in alternation order, and the sigma-0 equivalence check."""
    nl = reference_module()
    device = resolve_device(opts.device)
    reference, ours = build_pair(model, device)  # synthesis copies (weight norm folded)
    frames = frames_for(max(opts.seconds, 0.05), opts.sample_rate, model["hop_length"])
    generator = torch.Generator(device).manual_seed(1)
    on_device = {"generator": generator, "device": device}
    mel = torch.randn(opts.batch_size, model["n_mel_channels"], frames, **on_device) - 5
    ref_synth = remove_reference_weight_norm(reference).eval()
    our_synth = ours.eval().remove_weight_norm()
    with torch.inference_mode():
        check_frames = min(frames, 8)
        diff = (
            (
                ref_synth.infer(mel[:, :, :check_frames], sigma=0.0)
                - our_synth.infer(mel[:, :, :check_frames], sigma=0.0)
            )
            .abs()
            .max()
        )
    cases: dict[str, Callable[[], None]] = {}

    def synth(net, **kwargs):
        def run() -> None:
            with torch.inference_mode():
                net.infer(mel, sigma=0.6, **kwargs)

        return run

    if opts.seconds > 0:
        cases["synth reference fp32"] = synth(ref_synth)
        for dtype in opts.dtypes:
            low = None if dtype == "fp32" else DTYPES[dtype]
            cases[f"synth waveflow {dtype}"] = synth(our_synth, dtype=low)
    if opts.segment_length:
        length, hop = opts.segment_length, model["hop_length"]
        audio = (torch.rand(opts.train_batch, length, **on_device) * 2 - 1) * 0.5
        train_frames = length // hop + 1
        shape = (opts.train_batch, model["n_mel_channels"], train_frames)
        train_mel = torch.randn(shape, **on_device) - 5
        ref_train, our_train = (net.train() for net in build_pair(model, device))
        cases["train reference fp32"] = _train_step(
            ref_train, lambda: nl.nvidia_loss(ref_train((train_mel, audio))), "fp32", device
        )
        for dtype in opts.dtypes:
            cases[f"train waveflow {dtype}"] = _train_step(
                our_train,
                lambda: -our_train.log_prob(audio, train_mel).mean() / length,
                dtype,
                device,
            )
    return cases, {"max_abs_diff_sigma0": float(diff), "check_frames": check_frames}


def alternate(cases: dict[str, Callable[[], None]], repeats: int, warmup: int, sync) -> dict:
    """Seconds per case: ``warmup`` untimed rounds, then ``repeats`` rounds of every case."""
    for _ in range(warmup):
        for run in cases.values():
            run()
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, run in cases.items():
            sync()
            start = time.perf_counter()
            run()
            sync()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def ratios(seconds: dict[str, list[float]], work: dict[str, float]) -> list[dict[str, Any]]:
    """One row per waveflow case: its rate and reference / waveflow time (medians, per pair)."""
    rows = []
    for name, times in seconds.items():
        kind, who, dtype = name.split()
        ref = seconds[f"{kind} reference fp32"]
        rows.append(
            {
                "case": name,
                "kind": kind,
                "who": who,
                "dtype": dtype,
                "median_s": statistics.median(times),
                "seconds": times,
                "per_s": work[kind] / statistics.median(times),
                "ratio": statistics.median(ref) / statistics.median(times),
                "ratio_of_pairs": statistics.median(r / t for r, t in zip(ref, times, strict=True)),
            }
        )
    return rows


def versus_command(opts: argparse.Namespace) -> tuple[dict[str, Any], str]:
    from .presets import waveglow_config

    model = waveglow_config(opts.config)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    cases, check = versus_cases(opts, model)
    seconds = alternate(cases, opts.runs, opts.warmup, synchronizer(resolve_device(opts.device)))
    frames = frames_for(opts.seconds, opts.sample_rate, model["hop_length"])
    work = {
        "synth": opts.batch_size * frames * model["hop_length"],
        "train": opts.train_batch * (opts.segment_length or 0),
    }
    rows = ratios(seconds, work)
    section = {
        "machine": machine_info(resolve_device(opts.device)),
        "options": {
            k: v if isinstance(v, (int, float, str, list)) else str(v)
            for k, v in vars(opts).items()
        },
        "model": model,
        "equivalence": check,
        "synthesis_ran_in": {
            d: synthesis_precision(resolve_device(opts.device), d) for d in opts.dtypes
        },
        "results": rows,
    }
    unit = {"synth": "kHz", "train": "samples/s"}
    table = format_table(
        ["case", "median", "rate", "ratio vs reference", "median of pair ratios"],
        [
            [
                r["case"],
                f"{r['median_s']:.3g} s",
                f"{r['per_s'] / 1000:.3g} kHz"
                if r["kind"] == "synth"
                else f"{r['per_s']:,.0f} {unit['train']}",
                f"{r['ratio']:.2f}x",
                f"{r['ratio_of_pairs']:.2f}x",
            ]
            for r in rows
        ],
    )
    diff = check["max_abs_diff_sigma0"]
    table += f"\n# same maths: max |reference - waveflow| at sigma 0 = {diff:.2e}"
    for asked, ran in section["synthesis_ran_in"].items():
        if asked != ran:
            table += f"\n# synthesis {asked} ran in {ran}: no native {asked} units on this device"
    return section, table
