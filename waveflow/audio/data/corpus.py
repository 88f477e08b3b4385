"""LJSpeech-layout corpora, train/valid/test splits and WaveGlow training crops.

LJSpeech-1.1 layout: `ROOT/metadata.csv` with lines `id|transcript|normalized transcript` (no
header, pipe separated, the third field optional) and audio in `ROOT/wavs/<id>.wav` or
`ROOT/wavs/<id>.flac`.
"""

from __future__ import annotations

import hashlib
import os
import random
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile
import torch

from waveflow.atomic import atomic_path
from waveflow.audio.data.features import MelConfig, MelSpectrogram
from waveflow.audio.data.io import AUDIO_SUFFIXES, load_audio
from waveflow.errors import WaveflowError
from waveflow.inputs import describe_non_regular


@dataclass(frozen=True)
class Utterance:
    """One corpus entry: `text` is the normalized transcript (the raw one if absent)."""

    id: str
    text: str
    path: Path


class Split(NamedTuple):
    train: list[Utterance]
    valid: list[Utterance]
    test: list[Utterance]


def read_ljspeech_metadata(root: str | os.PathLike[str]) -> list[Utterance]:
    """Read `root/metadata.csv` into utterances, in file order.

    The audio path is `wavs/<id>.wav` if it exists, else `wavs/<id>.flac` if it exists, else
    the (missing) `.wav` path: missing files are reported by `AudioSegmentDataset`, not here.
    Raises `WaveflowError` for a missing metadata file, a malformed line or a duplicate id.
    """
    root = Path(root)
    metadata = root / "metadata.csv"
    if not metadata.is_file():
        raise WaveflowError(f"{root} is not an LJSpeech-layout corpus: {metadata} not found")
    utterances, seen = [], set()
    with open(metadata, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("|")
            if len(fields) not in (2, 3) or not fields[0].strip():
                raise WaveflowError(
                    f"{metadata}:{number}: expected 'id|transcript|normalized transcript', "
                    f"got {line[:80]!r}"
                )
            utterance_id = fields[0].strip()
            if utterance_id in seen:
                raise WaveflowError(f"{metadata}:{number}: duplicate id {utterance_id!r}")
            seen.add(utterance_id)
            text = fields[-1].strip() or fields[1].strip()
            utterances.append(Utterance(utterance_id, text, _audio_path(root, utterance_id)))
    if not utterances:
        raise WaveflowError(f"{metadata} lists no utterances")
    return utterances


def _audio_path(root: Path, utterance_id: str) -> Path:
    for suffix in AUDIO_SUFFIXES:
        candidate = root / "wavs" / f"{utterance_id}{suffix}"
        if candidate.exists():
            return candidate
    return root / "wavs" / f"{utterance_id}{AUDIO_SUFFIXES[0]}"


def split_ljspeech(
    utterances: Sequence[Utterance], n_valid: int, n_test: int, seed: int = 1234
) -> Split:
    """Deterministic split: sort by id, shuffle with `random.Random(seed)`, take the first
    `n_test` as test, the next `n_valid` as valid and the rest as train. Each part is returned
    sorted by id. The result depends only on the set of ids, `n_valid`, `n_test` and `seed`.
    """
    if n_valid < 0 or n_test < 0:
        raise WaveflowError(f"split sizes must be >= 0, got n_valid={n_valid}, n_test={n_test}")
    if n_valid + n_test >= len(utterances):
        raise WaveflowError(
            f"cannot split {len(utterances)} utterances into {n_valid} valid + {n_test} test "
            "and a non-empty training set"
        )
    ordered = sorted(utterances, key=lambda u: u.id)
    random.Random(seed).shuffle(ordered)
    test = ordered[:n_test]
    valid = ordered[n_test : n_test + n_valid]
    train = ordered[n_test + n_valid :]
    return Split(*(sorted(part, key=lambda u: u.id) for part in (train, valid, test)))


def read_file_list(path: str | os.PathLike[str]) -> list[str]:
    """Utterance ids from a file list: Tacotron2 style (`wavs/LJ001-0001.wav|text`) or one id
    per line. The id is the file name of the first `|`-field without its audio suffix. Blank
    lines and lines starting with `#` are ignored."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise WaveflowError(f"cannot read file list {path}: {err}") from err
    ids = []
    for line in lines:
        entry = line.split("|", 1)[0].strip()
        if not entry or entry.startswith("#"):
            continue
        name = Path(entry).name
        for suffix in AUDIO_SUFFIXES:
            name = name.removesuffix(suffix)
        ids.append(name)
    if not ids:
        raise WaveflowError(f"file list {path} lists no utterances")
    return ids


def select_utterances(utterances: Iterable[Utterance], ids: Sequence[str]) -> list[Utterance]:
    """The utterances with the given ids, in the order of `ids`; unknown ids are an error."""
    by_id = {u.id: u for u in utterances}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise WaveflowError(f"{len(unknown)} id(s) not in the corpus metadata: {shown}")
    return [by_id[i] for i in ids]


class AudioSegmentDataset(torch.utils.data.Dataset):
    """WaveGlow training pairs: `dataset[i] -> (audio, mel)`.

    - `audio`: float32 [L], a crop of file i; `mel`: float32 [n_mels, L // hop_length + 1],
      the log-mel of that crop (computed on the crop, as WaveGlow does; frame k is centred on
      crop sample k * hop_length).
    - `segment_length` (L) is any positive length (NVIDIA's 16000 is not a multiple of the hop:
      the mel then covers slightly more than the crop and the vocoder trims its upsampled
      conditioning to L).
    - `train=True`: the crop start is uniform in [0, T - L], drawn from a generator seeded by
      (seed, epoch, i), so epochs are reproducible and resumable; call `set_epoch` each epoch.
    - `train=False`: the crop starts at sample 0 (deterministic). With `segment_length=None`
      the whole utterance is returned, trimmed to a multiple of hop_length (lengths then
      differ between items: use batch_size=1).
    - Files are scanned with `soundfile.info` at construction. Missing, unreadable or empty
      files, files at another sample rate and clips shorter than `segment_length` are skipped
      (never zero-padded: silence padding destabilises flow training), as are float WAVs
      holding NaN or infinite samples (read once, in blocks), and reported in ONE warning;
      `skipped` maps each skipped path to the reason. If nothing usable remains a
      `WaveflowError` is raised. Multichannel files are averaged to mono.
    - `cache_dir`: decoded audio is stored there as float32 `.npy` on first use and read back
      memory-mapped afterwards (useful for FLAC corpora). Written atomically.
    """

    def __init__(
        self,
        files: Sequence[str | os.PathLike[str]],
        mel_config: MelConfig,
        segment_length: int | None = 16000,
        *,
        train: bool = True,
        seed: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        hop = mel_config.hop_length
        if segment_length is None:
            if train:
                raise WaveflowError("segment_length=None (whole utterances) needs train=False")
        elif segment_length <= 0:
            raise WaveflowError(f"segment_length must be positive, got {segment_length}")
        self.mel_config = mel_config
        self.segment_length = segment_length
        self.train = train
        self.seed = seed
        self.epoch = 0
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.mel = MelSpectrogram(mel_config)
        self.files: list[Path] = []
        self.skipped: dict[Path, str] = {}
        minimum = segment_length or (mel_config.n_fft // 2 + hop)
        for file in map(Path, files):
            problem = _scan(file, mel_config.sample_rate, minimum)
            if problem is None:
                self.files.append(file)
            else:
                self.skipped[file] = problem
        listing = "; ".join(f"{path.name}: {why}" for path, why in self.skipped.items())
        if not self.files:
            raise WaveflowError(f"no usable audio file among {len(files)} given ({listing})")
        if self.skipped:
            warnings.warn(
                f"skipped {len(self.skipped)} of {len(files)} audio files: {listing}",
                stacklevel=2,
            )

    def set_epoch(self, epoch: int) -> None:
        """Select the crop positions of `epoch` (training crops depend on seed, epoch, index)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        file = self.files[index]
        audio = self._audio(file)
        if len(audio) < (self.segment_length or 1):
            raise WaveflowError(f"audio file {file} is shorter than its header says")
        if self.segment_length is None:
            length = len(audio) - len(audio) % self.mel_config.hop_length
            start = 0
        else:
            length = self.segment_length
            start = 0
            if self.train:
                rng = np.random.default_rng([self.seed, self.epoch, index])
                start = int(rng.integers(0, len(audio) - length + 1))
        crop = torch.from_numpy(np.array(audio[start : start + length], dtype=np.float32))
        return crop, self.mel(crop)

    def _audio(self, file: Path) -> np.ndarray:
        rate = self.mel_config.sample_rate
        if self.cache_dir is None:
            return load_audio(file, rate, downmix=True).numpy()
        key = hashlib.sha1(f"{file.resolve()}|{rate}".encode()).hexdigest()[:12]
        cached = self.cache_dir / f"{file.stem}-{key}.npy"
        if not cached.exists():
            with atomic_path(cached) as tmp:
                np.save(tmp, load_audio(file, rate, downmix=True).numpy())
        return np.load(cached, mmap_mode="r")


def _scan(file: Path, sample_rate: int, min_samples: int) -> str | None:
    """Why `file` is unusable for the dataset (from its header), or None if it is usable."""
    problem = describe_non_regular(file)
    if problem is not None:
        return "missing" if problem == "no such file" else problem
    try:
        info = soundfile.info(os.fspath(file))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as err:
        return f"unreadable ({' '.join(str(err).split()) or type(err).__name__})"
    if info.frames <= 0:
        return "empty"
    if info.samplerate != sample_rate:
        return f"sample rate {info.samplerate} Hz, expected {sample_rate} Hz"
    if info.frames < min_samples:
        return f"too short ({info.frames} samples < {min_samples})"
    if info.subtype in FLOAT_SUBTYPES:
        return _non_finite(file)
    return None


#: soundfile subtypes that can hold NaN or infinity (integer PCM, FLAC and Vorbis cannot).
FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})


def _non_finite(file: Path, block: int = 1 << 18) -> str | None:
    """"contains NaN or infinite samples" if a float file does, read in blocks; else None."""
    try:
        for chunk in soundfile.blocks(os.fspath(file), blocksize=block, dtype="float32"):
            if not np.isfinite(chunk).all():
                return "contains NaN or infinite samples"
    except (soundfile.LibsndfileError, RuntimeError, OSError) as err:
        return f"unreadable ({' '.join(str(err).split()) or type(err).__name__})"
    return None


def prepare_mels(
    files: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    mel_config: MelConfig,
) -> dict[Path, Path]:
    """Compute full-utterance log-mels to `out_dir/<stem>.npy` ([n_mels, frames] float32).

    Files that cannot be loaded (see `load_audio`) are skipped and reported in ONE warning.
    Returns {audio file: mel file} for the files written. Outputs are written atomically.
    """
    counts = Counter(Path(file).stem for file in files)
    duplicates = sorted(stem for stem, count in counts.items() if count > 1)
    if duplicates:
        raise WaveflowError(f"several input files share the name(s) {', '.join(duplicates)}")
    mel = MelSpectrogram(mel_config)
    out = Path(out_dir)
    written: dict[Path, Path] = {}
    failures: list[str] = []
    for file in map(Path, files):
        try:
            features = mel(load_audio(file, mel_config.sample_rate, downmix=True))
        except WaveflowError as err:
            failures.append(str(err))
            continue
        target = out / f"{file.stem}.npy"
        with atomic_path(target) as tmp:
            np.save(tmp, features.numpy())
        written[file] = target
    if failures:
        warnings.warn(
            f"skipped {len(failures)} of {len(files)} files: {'; '.join(failures)}", stacklevel=2
        )
    return written
