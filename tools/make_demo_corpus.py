"""Build the bundled demo corpus `data/demo-ljspeech/` from the Asterisk core sound prompts.

Source: the Debian packages `asterisk-core-sounds-en-g722` (16 kHz G.722 prompts recorded by
Allison Smith, financed by Digium, licence CC-BY-SA-3.0) and `asterisk-core-sounds-en` (its
`core-sounds-en.txt` holds the transcripts). Install them with

    apt-get install asterisk-core-sounds-en-g722 asterisk-core-sounds-en

and run

    .venv/bin/python tools/make_demo_corpus.py --out data/demo-ljspeech

Processing: decode G.722 with PyAV, resample 16 kHz -> 22050 Hz (torchaudio), scale every clip to
a peak of `PEAK`, write 16-bit FLAC. Selection is deterministic: prompts whose transcript is plain
words (letters and punctuation only, no tones, digits or key symbols) lasting 1.5-8 s, sorted by
name, shuffled with a fixed seed, taken in that order until the total reaches `--minutes`.

Output layout is LJSpeech-1.1: `metadata.csv` (`id|transcript|normalized transcript`, no header)
and `wavs/<id>.flac`, plus a `README.md` with licence, attribution and statistics.
"""

from __future__ import annotations

import argparse
import gzip
import random
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile
import torch
import torchaudio

SOURCE_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
SOURCE_RATE = 16000
TARGET_RATE = 22050
PEAK = 0.8
MIN_SECONDS, MAX_SECONDS = 1.5, 8.0
SEED = 1234
PLAIN_TEXT = re.compile(r"[A-Za-z][A-Za-z ,.?!'\-]*")


@dataclass(frozen=True)
class Prompt:
    """One source prompt: its name (path below SOURCE_DIR without extension) and transcript."""

    name: str
    text: str

    @property
    def utterance_id(self) -> str:
        return "allison-" + self.name.replace("/", "-").replace("_", "-")


def read_transcripts(path: Path) -> dict[str, str]:
    """Map prompt name -> transcript from `core-sounds-en.txt` (plain or gzipped)."""
    opener = gzip.open if path.suffix == ".gz" else open
    transcripts = {}
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = line.split(":", 1)
            transcripts[name.strip()] = " ".join(text.split())
    return transcripts


def decode_g722(path: Path) -> np.ndarray:
    """Decode a raw G.722 file to float32 mono samples in [-1, 1] at SOURCE_RATE."""
    with av.open(str(path), format="g722") as container:
        stream = container.streams.audio[0]
        if stream.rate != SOURCE_RATE:
            raise ValueError(f"{path}: expected {SOURCE_RATE} Hz, decoder reports {stream.rate}")
        frames = [frame.to_ndarray() for frame in container.decode(stream)]
    samples = np.concatenate(frames, axis=-1).reshape(-1)
    return samples.astype(np.float32) / 32768.0


def candidate_prompts(transcripts: dict[str, str]) -> list[tuple[Prompt, np.ndarray]]:
    """Plain-word prompts of acceptable duration, sorted by name, with their decoded audio."""
    candidates = []
    for name, text in sorted(transcripts.items()):
        path = SOURCE_DIR / f"{name}.g722"
        if not path.is_file() or not PLAIN_TEXT.fullmatch(text):
            continue
        audio = decode_g722(path)
        if MIN_SECONDS <= len(audio) / SOURCE_RATE <= MAX_SECONDS:
            candidates.append((Prompt(name, text), audio))
    return candidates


def to_target_rate(audio: np.ndarray) -> np.ndarray:
    """Resample to TARGET_RATE and scale to a peak of PEAK."""
    resampled = torchaudio.functional.resample(torch.from_numpy(audio), SOURCE_RATE, TARGET_RATE)
    resampled = resampled.numpy()
    return resampled * (PEAK / max(float(np.abs(resampled).max()), 1e-6))


def write_readme(out: Path, n_clips: int, seconds: float) -> None:
    (out / "README.md").write_text(
        f"""# demo-ljspeech: a small real-speech corpus in LJSpeech-1.1 layout

{n_clips} clips, {seconds / 60:.1f} minutes in total, one female US-English speaker, 22050 Hz
16-bit mono FLAC. `metadata.csv` holds `id|transcript|normalized transcript` per line (no
header); audio is in `wavs/<id>.flac`.

## Source, attribution and licence

The recordings are voice prompts from the **Asterisk core sounds** (English), recorded by
**Allison Smith** (http://www.theivrvoice.com), with financial contributions by **Digium, Inc.**
(http://www.digium.com), as shipped by the Debian package `asterisk-core-sounds-en-g722`; the
transcripts come from `core-sounds-en.txt` of the package `asterisk-core-sounds-en`.

They are licensed under the Creative Commons Attribution-ShareAlike 3.0 Unported licence
(CC-BY-SA-3.0, https://creativecommons.org/licenses/by-sa/3.0/). This corpus is a derivative
work under the same licence.

**Changes made to the original work:** a subset of prompts was selected; audio was decoded from
16 kHz G.722, resampled to 22050 Hz, scaled to a peak amplitude of {PEAK} and stored as FLAC;
files were renamed to `allison-<prompt name>` ids.

## How it was made

    apt-get install asterisk-core-sounds-en-g722 asterisk-core-sounds-en
    .venv/bin/python tools/make_demo_corpus.py --out data/demo-ljspeech

Selection (deterministic): prompts whose transcript is plain words (no tones, digits or key
symbols) and that last {MIN_SECONDS}-{MAX_SECONDS} s, sorted by name, shuffled with seed {SEED},
taken until the total reached the requested duration. The normalized transcript equals the
transcript because selected texts contain no numbers or abbreviations to expand.
""",
        encoding="utf-8",
    )


def build(out: Path, minutes: float) -> tuple[int, float]:
    """Write the corpus to `out` (replacing it); return (number of clips, total seconds)."""
    candidates = candidate_prompts(read_transcripts(TRANSCRIPTS))
    random.Random(SEED).shuffle(candidates)
    if out.exists():
        shutil.rmtree(out)
    (out / "wavs").mkdir(parents=True)
    chosen, seconds = [], 0.0
    for prompt, audio in candidates:
        if seconds >= minutes * 60:
            break
        clip = to_target_rate(audio)
        path = out / "wavs" / f"{prompt.utterance_id}.flac"
        soundfile.write(path, clip, TARGET_RATE, subtype="PCM_16", format="FLAC")
        chosen.append(prompt)
        seconds += len(clip) / TARGET_RATE
    chosen.sort(key=lambda p: p.utterance_id)
    lines = [f"{p.utterance_id}|{p.text}|{p.text}\n" for p in chosen]
    (out / "metadata.csv").write_text("".join(lines), encoding="utf-8")
    write_readme(out, len(chosen), seconds)
    return len(chosen), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/demo-ljspeech"))
    parser.add_argument("--minutes", type=float, default=4.5, help="total duration to select")
    args = parser.parse_args(argv)
    for required in (SOURCE_DIR, TRANSCRIPTS):
        if not required.exists():
            print(f"make_demo_corpus: missing {required}; install the Asterisk sound packages")
            return 1
    n_clips, seconds = build(args.out, args.minutes)
    print(f"wrote {n_clips} clips, {seconds / 60:.2f} min to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
