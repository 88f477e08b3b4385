"""LJSpeech metadata, splits, file lists, training crops and the mel cache."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from waveflow.audio.data.corpus import (
    AudioSegmentDataset,
    Utterance,
    prepare_mels,
    read_file_list,
    read_ljspeech_metadata,
    select_utterances,
    split_ljspeech,
)
from waveflow.audio.data.features import MelConfig, MelSpectrogram
from waveflow.audio.data.io import load_audio
from waveflow.errors import WaveflowError

CONFIG = MelConfig()
SEGMENT = 64 * CONFIG.hop_length  # 16384 samples, 0.74 s


def wav_files(root: Path) -> list[Path]:
    return sorted((root / "wavs").glob("*.wav"))


def test_metadata_of_tiny_corpus(tiny_ljspeech: Path) -> None:
    utterances = read_ljspeech_metadata(tiny_ljspeech)
    assert [u.id for u in utterances] == [f"LJ900-{n:04d}" for n in range(1, 7)]
    assert utterances[0].text == "Clip 1 of the demo."  # the normalized column
    assert all(u.path == tiny_ljspeech / "wavs" / f"{u.id}.wav" for u in utterances)


def test_metadata_of_bundled_flac_corpus(demo_corpus: Path) -> None:
    utterances = read_ljspeech_metadata(demo_corpus)
    assert len(utterances) >= 50
    assert all(u.path.suffix == ".flac" and u.path.is_file() and u.text for u in utterances)
    durations = [soundfile.info(u.path).duration for u in utterances]
    assert 200 < sum(durations) < 360 and min(durations) >= 1.0
    assert {soundfile.info(u.path).samplerate for u in utterances} == {22050}


def test_metadata_without_normalized_column_and_missing_audio(tmp_path: Path) -> None:
    (tmp_path / "metadata.csv").write_text('A-1|He said "hi".\nB-2|x|y\n', encoding="utf-8")
    first, second = read_ljspeech_metadata(tmp_path)
    assert first == Utterance("A-1", 'He said "hi".', tmp_path / "wavs" / "A-1.wav")
    assert second.text == "y"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "metadata.csv not found"),
        ("LJ1|a|b\nno pipes here\n", r"metadata\.csv:2"),
        ("LJ1|a|b\nLJ1|c|d\n", "duplicate id 'LJ1'"),
        ("\n\n", "no utterances"),
    ],
)
def test_bad_metadata_raises(tmp_path: Path, content: str | None, problem: str) -> None:
    if content is not None:
        (tmp_path / "metadata.csv").write_text(content, encoding="utf-8")
    with pytest.raises(WaveflowError, match=problem):
        read_ljspeech_metadata(tmp_path)


def make_utterances(n: int) -> list[Utterance]:
    return [Utterance(f"LJ{i:03d}", f"text {i}", Path(f"wavs/LJ{i:03d}.wav")) for i in range(n)]


def test_split_is_a_deterministic_partition() -> None:
    utterances = make_utterances(50)
    split = split_ljspeech(utterances, n_valid=5, n_test=7)
    assert (len(split.train), len(split.valid), len(split.test)) == (38, 5, 7)
    ids = [{u.id for u in part} for part in split]
    assert set.union(*ids) == {u.id for u in utterances}
    assert sum(len(part) for part in ids) == 50
    assert split == split_ljspeech(list(reversed(utterances)), n_valid=5, n_test=7)
    assert split.test != split_ljspeech(utterances, 5, 7, seed=99).test
    assert all(part == sorted(part, key=lambda u: u.id) for part in split)


def test_split_rejects_impossible_sizes() -> None:
    with pytest.raises(WaveflowError, match="non-empty training set"):
        split_ljspeech(make_utterances(10), n_valid=5, n_test=5)
    with pytest.raises(WaveflowError, match=">= 0"):
        split_ljspeech(make_utterances(10), n_valid=-1, n_test=2)


def test_file_lists(tmp_path: Path) -> None:
    tacotron = tmp_path / "train.txt"
    tacotron.write_text("DUMMY/LJ002.wav|text two\nwavs/LJ005.flac|five\n\n", encoding="utf-8")
    plain = tmp_path / "ids.txt"
    plain.write_text("# valid set\nLJ007\nLJ001\n", encoding="utf-8")
    assert read_file_list(tacotron) == ["LJ002", "LJ005"]
    assert read_file_list(plain) == ["LJ007", "LJ001"]
    chosen = select_utterances(make_utterances(10), read_file_list(plain))
    assert [u.id for u in chosen] == ["LJ007", "LJ001"]
    with pytest.raises(WaveflowError, match="LJ999"):
        select_utterances(make_utterances(10), ["LJ001", "LJ999"])
    with pytest.raises(WaveflowError, match="cannot read file list"):
        read_file_list(tmp_path / "absent.txt")


def find_offset(haystack: np.ndarray, needle: np.ndarray) -> int:
    """Start of the (unique) occurrence of `needle` in `haystack`; fails if absent."""
    for start in np.flatnonzero(haystack[: len(haystack) - len(needle) + 1] == needle[0]):
        if np.array_equal(haystack[start : start + len(needle)], needle):
            return int(start)
    raise AssertionError("crop is not a contiguous slice of the source audio")


def test_training_item_is_a_crop_with_its_mel(tiny_ljspeech: Path) -> None:
    files = wav_files(tiny_ljspeech)
    dataset = AudioSegmentDataset(files, CONFIG, SEGMENT, seed=3)
    assert len(dataset) == 6
    audio, mel = dataset[2]
    assert audio.dtype == mel.dtype == torch.float32
    assert audio.shape == (SEGMENT,) and mel.shape == (80, SEGMENT // 256 + 1)
    find_offset(load_audio(files[2], 22050).numpy(), audio.numpy())
    torch.testing.assert_close(mel, MelSpectrogram(CONFIG)(audio))


def test_crops_reproducible_per_seed_and_epoch(tiny_ljspeech: Path) -> None:
    files = wav_files(tiny_ljspeech)

    def crops(seed: int, epoch: int) -> list[torch.Tensor]:
        dataset = AudioSegmentDataset(files, CONFIG, SEGMENT, seed=seed)
        dataset.set_epoch(epoch)
        return [dataset[i][0] for i in range(len(dataset))]

    first = crops(seed=0, epoch=4)
    assert all(torch.equal(a, b) for a, b in zip(first, crops(0, 4), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, crops(0, 5), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, crops(1, 4), strict=True))


def test_validation_crops_start_at_zero_or_take_whole_utterance(tiny_ljspeech: Path) -> None:
    files = wav_files(tiny_ljspeech)
    full = load_audio(files[0], 22050)
    audio, _ = AudioSegmentDataset(files, CONFIG, SEGMENT, train=False)[0]
    torch.testing.assert_close(audio, full[:SEGMENT], rtol=0, atol=0)
    whole = AudioSegmentDataset(files, CONFIG, None, train=False)
    audio, mel = whole[0]
    trimmed = len(full) - len(full) % 256
    torch.testing.assert_close(audio, full[:trimmed], rtol=0, atol=0)
    assert mel.shape == (80, trimmed // 256 + 1)


def test_segment_length_need_not_be_a_multiple_of_hop(tiny_ljspeech: Path) -> None:
    audio, mel = AudioSegmentDataset(wav_files(tiny_ljspeech), CONFIG, 16000, train=False)[0]
    assert audio.shape == (16000,) and mel.shape == (80, 16000 // 256 + 1)
    with pytest.raises(WaveflowError, match="segment_length must be positive"):
        AudioSegmentDataset(wav_files(tiny_ljspeech), CONFIG, 0)
    with pytest.raises(WaveflowError, match="train=False"):
        AudioSegmentDataset(wav_files(tiny_ljspeech), CONFIG, None, train=True)


def test_bad_files_skipped_and_reported_once(tiny_ljspeech: Path) -> None:
    wavs = tiny_ljspeech / "wavs"
    soundfile.write(wavs / "empty.wav", np.zeros(0, dtype=np.int16), 22050)
    (wavs / "corrupt.wav").write_bytes(b"RIFF....WAVEfmt but nothing valid follows" * 4)
    soundfile.write(wavs / "rate16k.wav", np.full(30000, 0.1), 16000)
    soundfile.write(wavs / "short.wav", np.full(SEGMENT - 1, 0.1), 22050)
    files = [*wav_files(tiny_ljspeech), wavs / "missing.wav"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = AudioSegmentDataset(files, CONFIG, SEGMENT)
        for i in range(len(dataset)):
            dataset[i]
    reports = [w for w in caught if ".wav" in str(w.message)]
    assert len(reports) == 1
    message = str(reports[0].message)
    for name in ("empty.wav", "corrupt.wav", "rate16k.wav", "short.wav", "missing.wav"):
        assert name in message
    assert len(dataset) == 6 and all(f.name.startswith("LJ900") for f in dataset.files)
    assert dataset.skipped[wavs / "missing.wav"] == "missing"
    assert "16000" in dataset.skipped[wavs / "rate16k.wav"]


def test_no_usable_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "corrupt.wav").write_bytes(b"not audio")
    with pytest.raises(WaveflowError, match="no usable audio file.*corrupt.wav"):
        AudioSegmentDataset([tmp_path / "corrupt.wav", tmp_path / "gone.wav"], CONFIG, SEGMENT)


def test_cache_gives_identical_items(tiny_ljspeech: Path, tmp_path: Path) -> None:
    files = wav_files(tiny_ljspeech)[:3]
    plain = AudioSegmentDataset(files, CONFIG, SEGMENT, seed=7)
    cached = AudioSegmentDataset(files, CONFIG, SEGMENT, seed=7, cache_dir=tmp_path / "cache")
    for _ in range(2):  # first pass writes the cache, second reads it
        for i in range(3):
            for a, b in zip(plain[i], cached[i], strict=True):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3
    assert not [p for p in (tmp_path / "cache").iterdir() if ".tmp" in p.name]


def test_dataloader_batches(tiny_ljspeech: Path) -> None:
    dataset = AudioSegmentDataset(wav_files(tiny_ljspeech), CONFIG, SEGMENT)
    audio, mel = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=True)))
    assert audio.shape == (4, SEGMENT) and mel.shape == (4, 80, SEGMENT // 256 + 1)


def test_prepare_mels_writes_full_utterance_features(tiny_ljspeech: Path, tmp_path: Path) -> None:
    files = wav_files(tiny_ljspeech)[:2]
    bad = tiny_ljspeech / "wavs" / "broken.wav"
    bad.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="broken.wav"):
        written = prepare_mels([*files, bad], tmp_path / "mels", CONFIG)
    assert list(written) == files
    for file, mel_path in written.items():
        mel = np.load(mel_path)
        audio = load_audio(file, 22050)
        assert mel.dtype == np.float32 and mel.shape == (80, 1 + len(audio) // 256)
        np.testing.assert_allclose(mel, MelSpectrogram(CONFIG)(audio).numpy(), atol=1e-5)
    assert sorted(p.name for p in (tmp_path / "mels").iterdir()) == [
        "LJ900-0001.npy",
        "LJ900-0002.npy",
    ]
