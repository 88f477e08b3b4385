"""Shared fixtures: real speech from the bundled corpus (`data/demo-ljspeech`).

`tools/` and the recipes' `local/` folders are put on the import path, as the tools' entry
scripts and the recipes' `run.sh` do, so that tests import their modules (`bench`, `ablation`,
`reference.nvidia_maths`, `recipe_summary`, `distill_report`) as those scripts do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
RECIPES = ROOT / "recipes"
for folder in (TOOLS, RECIPES / "ljspeech" / "local", RECIPES / "distill" / "local"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

DEMO_CORPUS = Path(__file__).resolve().parents[1] / "data" / "demo-ljspeech"
SAMPLE_RATE = 22050
TINY_CLIP_SECONDS = 1.25
TINY_CLIP_COUNT = 6


def _demo_clips() -> list[Path]:
    clips = sorted((DEMO_CORPUS / "wavs").glob("*.flac"))
    if not clips:
        pytest.fail(f"bundled corpus missing: no FLAC files under {DEMO_CORPUS / 'wavs'}")
    return clips


@pytest.fixture(scope="session")
def demo_corpus() -> Path:
    """Root of the bundled LJSpeech-layout corpus (FLAC, 22050 Hz, read-only: do not modify)."""
    return DEMO_CORPUS


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-speech 16-bit mono WAV at 22050 Hz (one bundled clip, a few seconds long)."""
    source = _demo_clips()[0]
    audio, rate = soundfile.read(source, dtype="int16")
    assert rate == SAMPLE_RATE
    path = tmp_path_factory.mktemp("speech") / f"{source.stem}.wav"
    soundfile.write(path, audio, rate, subtype="PCM_16")
    return path


@pytest.fixture
def tiny_ljspeech(tmp_path: Path) -> Path:
    """A fresh LJSpeech-1.1-layout corpus of 6 real-speech clips of 1.25 s (16-bit WAV,
    22050 Hz) with ids `LJ900-0001`..`LJ900-0006`; returns its root (contains metadata.csv
    and wavs/)."""
    root = tmp_path / "tiny-ljspeech"
    (root / "wavs").mkdir(parents=True)
    clip_samples = int(TINY_CLIP_SECONDS * SAMPLE_RATE)
    lines = []
    for number, source in enumerate(_demo_clips()[:TINY_CLIP_COUNT], start=1):
        audio, rate = soundfile.read(source, dtype="int16")
        assert rate == SAMPLE_RATE and len(audio) >= clip_samples
        start = (len(audio) - clip_samples) // 2
        utterance_id = f"LJ900-{number:04d}"
        soundfile.write(
            root / "wavs" / f"{utterance_id}.wav",
            np.ascontiguousarray(audio[start : start + clip_samples]),
            rate,
            subtype="PCM_16",
        )
        lines.append(f"{utterance_id}|Clip {number} of {source.stem}.|Clip {number} of the demo.\n")
    (root / "metadata.csv").write_text("".join(lines), encoding="utf-8")
    return root
