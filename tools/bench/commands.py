"""The benchmark commands: build the case specs, run them, make a section and a table.

Each ``*_command(opts)`` takes the resolved options (see :mod:`bench.cli`) and returns
``(section, table)``: the JSON-able section (machine facts, options, model config, one entry
per case) and the text table printed on stdout.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from .isolation import run_isolated
from .machine import machine_info
from .presets import glow_config, waveglow_config
from .report import format_table, mib, seconds_cell

Section = dict[str, Any]


def _section(opts: argparse.Namespace, model: dict[str, Any], results: list[dict]) -> Section:
    return {
        "machine": machine_info(torch.device(opts.device)),
        "options": {k: _plain(v) for k, v in vars(opts).items()},
        "model": model,
        "results": results,
    }


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool, list, type(None))) else str(value)


def _common(opts: argparse.Namespace) -> dict[str, Any]:
    return {
        "device": opts.device,
        "dtype": opts.dtype,
        "runs": opts.runs,
        "warmup": opts.warmup,
        "threads": opts.threads,
    }


def frames_for(seconds: float, sample_rate: int, hop: int) -> int:
    """Mel frames for ``seconds`` of audio: ``round(seconds * sample_rate / hop)``, >= 1."""
    return max(1, round(seconds * sample_rate / hop))


def synth_results(opts: argparse.Namespace, model: dict[str, Any]) -> list[dict[str, Any]]:
    """One isolated ``synth`` case per requested duration."""
    results = []
    for seconds in opts.seconds:
        spec = _common(opts) | {
            "case": "synth",
            "model": model,
            "batch_size": opts.batch_size,
            "frames": frames_for(seconds, opts.sample_rate, model["hop_length"]),
            "sample_rate": opts.sample_rate,
            "sigma": opts.sigma,
        }
        results.append({"mel_seconds": seconds, **spec, **run_isolated(spec, opts.isolate)})
    return results


def synth_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            f"synth {r['mel_seconds']:g} s x{r['batch_size']}"
            + (f" (ran in {r['ran_in']})" if r["ran_in"] != r["dtype"] else ""),
            str(r["frames"]),
            seconds_cell(r["timing"]),
            f"{r['khz']:.3g}",
            f"{r['x_realtime']:.3g}",
            mib(r["peak_bytes"]),
            mib(r["baseline_bytes"]),
        ]
        for r in results
    ]


SYNTH_HEADERS = [
    "case", "frames", "latency median [min-max]", "kHz", "x realtime", "peak MiB", "base MiB"
]


def synth_command(opts: argparse.Namespace) -> tuple[Section, str]:
    model = waveglow_config(opts.config)
    results = synth_results(opts, model)
    return _section(opts, model, results), format_table(SYNTH_HEADERS, synth_rows(results))


def export_command(opts: argparse.Namespace) -> tuple[Section, str]:
    """The exported vocoder: eager PyTorch vs TorchScript vs onnxruntime, one case per length."""
    model = waveglow_config(opts.config)
    results = []
    for seconds in opts.seconds:
        spec = _common(opts) | {
            "case": "export",
            "model": model,
            "batch_size": opts.batch_size,
            "frames": frames_for(seconds, opts.sample_rate, model["hop_length"]),
            "sample_rate": opts.sample_rate,
            "opset": opts.opset,
        }
        results.append({"mel_seconds": seconds, **spec, **run_isolated(spec, opts.isolate)})
    headers = ["case", "backend", "latency median [min-max]", "kHz", "x realtime", "vs eager"]
    rows = [
        [
            f"{opts.config} {r['mel_seconds']:g} s x{r['batch_size']}",
            name,
            seconds_cell(b["timing"]),
            f"{b['khz']:.3g}",
            f"{b['x_realtime']:.3g}",
            f"{b['speedup_vs_eager']:.2f}x",
        ]
        for r in results
        for name, b in r["backends"].items()
    ]
    return _section(opts, model, results), format_table(headers, rows)


def train_command(opts: argparse.Namespace) -> tuple[Section, str]:
    model = waveglow_config(opts.config)
    spec = _common(opts) | {
        "case": "train",
        "model": model,
        "batch_size": opts.batch_size,
        "segment_length": opts.segment_length,
        "sample_rate": opts.sample_rate,
    }
    r = spec | run_isolated(spec, opts.isolate)
    samples_per_s = r["samples_per_step"] / r["timing"]["median_s"]
    r |= {"samples_per_s": samples_per_s, "audio_seconds_per_s": samples_per_s / opts.sample_rate}
    headers = ["case", "step median [min-max]", "samples/s", "audio s/s", "peak MiB", "base MiB"]
    row = [
        f"train {opts.batch_size} x {opts.segment_length}",
        seconds_cell(r["timing"]),
        f"{samples_per_s:,.0f}",
        f"{r['audio_seconds_per_s']:.3g}",
        mib(r["peak_bytes"]),
        mib(r["baseline_bytes"]),
    ]
    return _section(opts, model, [r]), format_table(headers, [row])


def glow_command(opts: argparse.Namespace) -> tuple[Section, str]:
    model = glow_config(opts.channels, opts.image_size, opts.levels, opts.steps, opts.hidden)
    results = []
    for case, batch in (("glow_train", opts.batch_size), ("glow_sample", opts.n_samples)):
        spec = _common(opts) | {"case": case, "model": model, "batch_size": batch}
        results.append(spec | run_isolated(spec, opts.isolate))
    headers = ["case", "time median [min-max]", "images/s", "peak MiB", "base MiB"]
    rows = [
        [
            f"{'train step' if r['case'] == 'glow_train' else 'sample'} x{r['batch_size']}",
            seconds_cell(r["timing"]),
            f"{r['images_per_s']:.3g}",
            mib(r["peak_bytes"]),
            mib(r["baseline_bytes"]),
        ]
        for r in results
    ]
    return _section(opts, model, results), format_table(headers, rows)


def floor_command(opts: argparse.Namespace) -> tuple[Section, str]:
    """Compute floor: counted FLOPs per sample over the measured matmul rate, vs. synthesis."""
    model = waveglow_config(opts.config)
    dtypes = ["fp32", "bf16"] + (["fp16"] if opts.dtype == "fp16" else [])
    matmuls = {}
    for dtype in dtypes:
        spec = _common(opts) | {"case": "matmul", "dtype": dtype, "n": opts.matmul_size}
        matmuls[dtype] = spec | run_isolated(spec, opts.isolate)
    count_spec = {
        "case": "flops",
        "threads": opts.threads,
        "model": model,
        "frames": opts.count_frames,
        "segment_length": opts.count_segment,
    }
    flops = count_spec | run_isolated(count_spec, opts.isolate)
    synth = synth_results(opts, model)[0]
    rate = matmuls[opts.dtype]["gflops"] * 1e9
    per_sample = flops["synth_flops_per_sample"]
    analytic = flops["synth_flops_per_sample_analytic"]
    floor = {
        "dtype": opts.dtype,
        "matmul_gflops": rate / 1e9,
        "synth_flops_per_sample": per_sample,
        "floor_samples_per_s": rate / per_sample,
        "floor_khz": rate / per_sample / 1000.0,
        "floor_x_realtime": rate / per_sample / opts.sample_rate,
        "measured_samples_per_s": synth["samples_per_s"],
        "measured_gflops": synth["samples_per_s"] * per_sample / 1e9,
        "floor_over_measured": rate / per_sample / synth["samples_per_s"],
        "efficiency": synth["samples_per_s"] * per_sample / rate,
    }
    section = _section(opts, model, [*matmuls.values(), flops, synth]) | {"floor": floor}
    rows = [
        [f"matmul {d} {opts.matmul_size}^2", f"{m['gflops']:.4g} GFLOP/s"]
        for d, m in matmuls.items()
    ]
    rows += [
        ["synthesis FLOPs/sample (counted)", f"{per_sample / 1e6:.4g} M"],
        ["synthesis FLOPs/sample (analytic)", f"{analytic / 1e6:.4g} M"],
        ["train fwd+bwd FLOPs/sample", f"{flops['train_flops_per_sample'] / 1e6:.4g} M"],
        [f"floor ({opts.dtype} matmul rate)", f"{floor['floor_khz']:.4g} kHz"],
        [f"measured synth {synth['mel_seconds']:g} s", f"{synth['khz']:.4g} kHz"],
        ["floor / measured", f"{floor['floor_over_measured']:.3g}x"],
        ["achieved / matmul rate", f"{100 * floor['efficiency']:.3g} %"],
    ]
    return section, format_table(["quantity", "value"], rows)


def memory_command(opts: argparse.Namespace) -> tuple[dict[str, Any], str]:
    model = waveglow_config(opts.config)
    results = []
    for mode in opts.modes:
        for seconds in opts.seconds:
            spec = {
                "case": "stream_memory",
                "mode": mode,
                "model": model,
                "frames": frames_for(seconds, opts.sample_rate, model["hop_length"]),
                "block_frames": opts.block_frames,
                "chunk_samples": opts.chunk_samples,
                "threads": opts.threads,
            }
            results.append({"mel_seconds": seconds, **spec, **run_isolated(spec, opts.isolate)})
    for r in results:
        first = next(x for x in results if x["mode"] == r["mode"])
        r["peak_over_shortest"] = r["peak_bytes"] / first["peak_bytes"]
    section = {
        "machine": machine_info(torch.device("cpu")),
        "options": {
            k: v if isinstance(v, (int, float, str, list)) else str(v)
            for k, v in vars(opts).items()
        },
        "model": model,
        "results": results,
    }
    rows = [
        [
            f"{r['mode']} {r['mel_seconds']:g} s",
            str(r["frames"]),
            mib(r["peak_bytes"]),
            mib(r["baseline_bytes"]),
            mib(r["io_bytes"]),
            f"{r['peak_over_shortest']:.3f}",
            f"{r['samples_per_s'] / 1000:.3g}",
        ]
        for r in results
    ]
    headers = ["case", "frames", "peak MiB", "base MiB", "mel+audio MiB", "peak / shortest", "kHz"]
    return section, format_table(headers, rows)
