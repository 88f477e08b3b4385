"""`evaluate_dirs`: metrics for every pair of same-named audio files in two directories."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from waveflow.audio.metrics.pair import evaluate_pair
from waveflow.audio.metrics.problems import (
    FileFailedWarning,
    MetricSkippedWarning,
    UnmatchedFileWarning,
)
from waveflow.audio.metrics.registry import runnable_metrics
from waveflow.errors import WaveflowError

#: File name suffixes treated as audio (case-insensitive); other files are ignored.
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg"})


@dataclass(frozen=True)
class FilePairing:
    """Audio files of two directories matched by name stem ("LJ001-0001.wav" ~ ".flac").

    pairs: (stem, reference path, generated path), sorted by stem.
    ref_only / gen_only: stems present in one directory only.
    """

    pairs: tuple[tuple[str, Path, Path], ...]
    ref_only: tuple[str, ...]
    gen_only: tuple[str, ...]


def audio_files(directory: str | os.PathLike[str], role: str) -> dict[str, Path]:
    """{stem: path} of the audio files of `directory`, sorted by name; `role` names the folder
    in errors (a missing folder, two files of one stem)."""
    path = Path(directory)
    if not path.is_dir():
        raise WaveflowError(f"{role} directory {path} does not exist or is not a directory")
    files: dict[str, Path] = {}
    for file in sorted(path.iterdir()):
        if file.suffix.lower() not in AUDIO_SUFFIXES or not file.is_file():
            continue
        if file.stem in files:
            raise WaveflowError(
                f"{role} directory {path} has two audio files with stem '{file.stem}': "
                f"{files[file.stem].name} and {file.name}"
            )
        files[file.stem] = file
    return files


def pair_files(ref_dir: str | os.PathLike[str], gen_dir: str | os.PathLike[str]) -> FilePairing:
    """Match the audio files (.wav, .flac, .ogg) of two directories by name stem.

    Raises `WaveflowError` if a directory is missing or holds two audio files of one stem.
    """
    refs, gens = audio_files(ref_dir, "reference"), audio_files(gen_dir, "generated")
    common = sorted(refs.keys() & gens.keys())
    return FilePairing(
        pairs=tuple((stem, refs[stem], gens[stem]) for stem in common),
        ref_only=tuple(sorted(refs.keys() - gens.keys())),
        gen_only=tuple(sorted(gens.keys() - refs.keys())),
    )


def summarize(per_file: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """{result key: {"mean", "std", "n"}} over files; NaN values (undefined) are left out.

    std is the population standard deviation (ddof=0); a key with no finite value gets
    mean = std = NaN and n = 0.
    """
    keys = list(dict.fromkeys(key for values in per_file.values() for key in values))
    summary: dict[str, dict[str, float]] = {}
    for key in keys:
        finite = np.array(
            [v[key] for v in per_file.values() if key in v and math.isfinite(v[key])], dtype=float
        )
        summary[key] = {
            "mean": float(finite.mean()) if finite.size else math.nan,
            "std": float(finite.std()) if finite.size else math.nan,
            "n": int(finite.size),
        }
    return summary


def evaluate_dirs(
    ref_dir: str | os.PathLike[str],
    gen_dir: str | os.PathLike[str],
    sample_rate: int = 22050,
    metrics: Iterable[str] | None = None,
    *,
    dtw: bool = False,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Evaluate every generated file against the reference file of the same name stem.

    Files must be mono at `sample_rate` Hz. Returns (per_file, summary): per_file maps
    stem -> {result key: value} (see `evaluate_pair`), summary is `summarize(per_file)`.

    Problems are reported as warnings and evaluation goes on: `UnmatchedFileWarning` lists
    stems found in one directory only, `FileFailedWarning` names a file pair that could not be
    read or evaluated (it is left out of per_file), `MetricSkippedWarning` names a missing
    optional package (once) or a metric that could not be computed on one pair (its keys are
    NaN in per_file and left out of the summary; the pair's other metrics are kept). A missing
    directory, or no runnable metric, raises
    `WaveflowError`.
    """
    from waveflow.audio.data.io import load_audio

    runnable = [metric.name for metric in runnable_metrics(metrics)]
    pairing = pair_files(ref_dir, gen_dir)
    for role, stems in (("reference", pairing.ref_only), ("generated", pairing.gen_only)):
        if stems:
            warnings.warn(
                f"{len(stems)} {role} file(s) without a partner: {', '.join(stems)}",
                UnmatchedFileWarning,
                stacklevel=2,
            )
    per_file: dict[str, dict[str, float]] = {}
    for stem, ref_path, gen_path in pairing.pairs:
        skipped: dict[str, str] = {}
        try:
            ref = load_audio(ref_path, sample_rate)
            gen = load_audio(gen_path, sample_rate)
            per_file[stem] = evaluate_pair(
                ref, gen, sample_rate, runnable, dtw=dtw, skipped=skipped
            )
        except (ValueError, OSError, RuntimeError, MemoryError) as err:
            detail = " ".join(str(err).split()) or type(err).__name__
            warnings.warn(f"{stem}: skipped: {detail}", FileFailedWarning, stacklevel=2)
        for reason in skipped.values():
            warnings.warn(f"{stem}: {reason}", MetricSkippedWarning, stacklevel=2)
    return per_file, summarize(per_file)
