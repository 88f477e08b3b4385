"""Synthesis CPU time of the `waveflow` preset against `fast` and Griffin-Lim on one clip.

    python tools/waveflow_speed.py data/demo-ljspeech/wavs/allison-agent-alreadyon.flac [--rounds 3]

One torch thread, process CPU time, the three systems timed in alternating rounds (median
reported), untrained weights (the time does not depend on them). Prints JSON: x real time and
the speed ratio to Griffin-Lim measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time

import torch
import yaml

from waveflow.audio.data.features import MelConfig, MelSpectrogram
from waveflow.audio.data.io import load_audio
from waveflow.audio.models.waveflow_model import WaveFlow, WaveFlowConfig
from waveflow.audio.models.waveglow import WaveGlow, WaveGlowConfig
from waveflow.audio.synthesis.griffin_lim import griffin_lim
from waveflow.dataclass_dict import from_dict

PRESETS = "recipes/ljspeech/conf/"


def preset(cls: type, name: str) -> object:
    with open(PRESETS + name, encoding="utf-8") as f:
        return from_dict(cls, yaml.safe_load(f)["model"], "model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = MelConfig()
    audio = torch.as_tensor(load_audio(args.clip, config.sample_rate)).float()
    mel = MelSpectrogram(config)(audio)
    seconds = mel.shape[-1] * config.hop_length / config.sample_rate
    waveflow = WaveFlow(preset(WaveFlowConfig, "waveflow.yaml")).eval()
    fast = WaveGlow(preset(WaveGlowConfig, "fast.yaml")).eval().remove_weight_norm()
    systems = {
        "waveflow": lambda: waveflow.infer(mel[None]),
        "fast": lambda: fast.infer(mel[None]),
        "griffin_lim": lambda: griffin_lim(mel, config, seed=0),
    }
    times: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(args.rounds):
        for name, run in systems.items():
            start = time.process_time()
            run()
            times[name].append(time.process_time() - start)
    median = {name: sorted(t)[len(t) // 2] for name, t in times.items()}
    print(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, torch {torch.__version__}, 1 thread",
        "clip": args.clip, "audio_s": seconds, "rounds": args.rounds,
        "median_cpu_s": median,
        "x_real_time": {name: seconds / t for name, t in median.items()},
        "speed_ratio_to_griffin_lim": {n: median["griffin_lim"] / t for n, t in median.items()},
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
