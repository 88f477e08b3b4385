"""What ``--dtype bf16`` / ``fp16`` costs on this CPU: time and aten operations against fp32.

Runs WaveGlow synthesis of a short mel (random weights, weight norm folded) at fp32, bf16 and
fp16 in alternating rounds, each low precision FORCED on (bypassing the fallback that
:func:`waveflow.audio.models.wavenet.low_precision` applies on a CPU without native units) so that
the cost it avoids is measured, and counts the aten operations ``torch.profiler`` records for
one synthesis (every event, views and allocations included). Also prints this CPU's
:func:`waveflow.device.cpu_has_native` answer, i.e. what a plain ``--dtype`` run will do.

    python tools/cpu_precision.py [--config published] [--frames 12] [--rounds 3]
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
from pathlib import Path
from unittest import mock

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.machine import machine_info  # noqa: E402
from bench.presets import waveglow_config  # noqa: E402
from bench.versus import alternate  # noqa: E402

from waveflow.audio.models.waveglow import WaveGlow  # noqa: E402
from waveflow.device import cpu_has_native  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def aten_ops(run) -> collections.Counter:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    return collections.Counter(e.name for e in prof.events() if e.name.startswith("aten::"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="published")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args(argv)
    torch.manual_seed(0)
    model = WaveGlow(**waveglow_config(opts.config)).eval().remove_weight_norm()
    mel = torch.randn(1, model.config.n_mel_channels, opts.frames, device="cpu") - 5.0

    def synth(dtype: torch.dtype):
        def run() -> None:
            with torch.inference_mode():
                model.infer(mel, dtype=dtype)

        return run

    cases = {name: synth(dtype) for name, dtype in DTYPES.items()}
    with mock.patch("waveflow.audio.models.wavenet.native_low_precision", return_value=True):
        seconds = alternate(cases, opts.rounds, 1, lambda: None)
        ops = {name: aten_ops(run) for name, run in cases.items()}
    info = machine_info(torch.device("cpu"))
    print(
        f"{info['cpu_model']}, torch {info['torch_version']} ({info['torch_threads']} threads), "
        f"{info['datetime_utc']}; {opts.config} WaveGlow, {opts.frames} frames, "
        f"{opts.rounds} alternating rounds"
    )
    native = {name: cpu_has_native(DTYPES[name]) for name in ("bf16", "fp16")}
    print(f"native units (a plain --dtype run uses them, else runs fp32): {native}")
    base = statistics.median(seconds["fp32"])
    for name, times in seconds.items():
        median, count = statistics.median(times), sum(ops[name].values())
        convs = sum(n for op, n in ops[name].items() if "conv" in op)
        print(
            f"{name}: {median:7.2f} s ({median / base:5.1f}x fp32)  {count:7d} aten ops "
            f"({count / sum(ops['fp32'].values()):5.1f}x), {convs} conv ops; top: "
            + ", ".join(f"{op} {n}" for op, n in ops[name].most_common(3))
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
