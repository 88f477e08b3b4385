"""Objective vocoder metrics on real speech (bundled demo corpus) and on a synthetic tone."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from waveflow.audio.data.io import load_audio
from waveflow.audio.metrics import (
    HIGHER_IS_BETTER,
    MetricSkippedWarning,
    evaluate_pair,
    pair_files,
    summarize,
)
from waveflow.audio.metrics.world import MCD_CONSTANT, WorldAnalysis, mel_cepstral_distortion
from waveflow.errors import WaveflowError

CORPUS = Path(__file__).resolve().parents[1] / "data" / "demo-ljspeech" / "wavs"
SAMPLE_RATE = 22050
SNRS_DB = (30, 20, 10, 0)


def speech_clips(count: int) -> list[np.ndarray]:
    """The `count` shortest clips of the bundled corpus (about 1.5 s each), float64 [T]."""
    files = sorted(CORPUS.glob("*.flac"), key=lambda path: path.stat().st_size)[:count]
    assert len(files) == count, f"bundled corpus missing under {CORPUS}"
    return [load_audio(path, SAMPLE_RATE).double().numpy() for path in files]


def add_white_noise(audio: np.ndarray, snr_db: float, noise: np.ndarray) -> np.ndarray:
    """`audio` plus `noise` scaled to the given signal-to-noise ratio (power, dB)."""
    scale = math.sqrt(np.mean(audio**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return audio + scale * noise


def is_worse(key: str, before: float, after: float) -> bool:
    return after < before if key in HIGHER_IS_BETTER else after > before


def test_identical_signals_score_perfectly() -> None:
    (clip,) = speech_clips(1)
    scores = evaluate_pair(clip, clip.copy(), SAMPLE_RATE)
    for key in ("mel_l1", "mrstft_sc", "mrstft_logmag", "mcd_db", "f0_rmse_cents", "vuv_error"):
        assert scores[key] == pytest.approx(0.0, abs=1e-9), key
    assert scores["pesq_wb"] == pytest.approx(4.64, abs=0.01)
    assert scores["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert scores["estoi"] == pytest.approx(1.0, abs=1e-6)


def test_white_noise_makes_every_metric_worse_as_snr_drops() -> None:
    """Mean over 3 clips; one noise draw per clip, rescaled for each SNR.

    F0 RMSE is left out here: on real speech it is dominated by a few octave errors in weak
    frames and is not monotone in the SNR (see the synthetic-tone test below).
    """
    clips = speech_clips(3)
    rng = np.random.default_rng(1234)
    noises = [rng.standard_normal(clip.size) for clip in clips]
    means = []
    for snr in SNRS_DB:
        scores = [
            evaluate_pair(clip, add_white_noise(clip, snr, noise), SAMPLE_RATE)
            for clip, noise in zip(clips, noises, strict=True)
        ]
        means.append({key: np.mean([s[key] for s in scores]) for key in scores[0]})
    keys = [key for key in means[0] if key != "f0_rmse_cents"]
    assert len(keys) == 8
    for key in keys:
        trend = [round(float(m[key]), 4) for m in means]
        for before, after in zip(means, means[1:], strict=False):
            assert is_worse(key, before[key], after[key]), f"{key} not monotone: {trend}"


def voiced_tone(seconds: float = 2.0) -> np.ndarray:
    """Harmonic tone (29 partials, 1/k amplitudes) with F0 gliding 100-180 Hz."""
    time = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 140.0 + 40.0 * np.sin(2 * np.pi * 1.5 * time)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 30))
    return 0.3 * tone / np.abs(tone).max()


def test_f0_rmse_grows_as_snr_drops_on_a_voiced_tone() -> None:
    tone = voiced_tone()
    noise = np.random.default_rng(0).standard_normal(tone.size)
    errors = [
        evaluate_pair(tone, add_white_noise(tone, snr, noise), SAMPLE_RATE, ["f0"])[
            "f0_rmse_cents"
        ]
        for snr in SNRS_DB
    ]
    assert all(b > a for a, b in zip(errors, errors[1:], strict=False)), errors


def test_length_mismatch_is_trimmed_to_the_shorter_signal() -> None:
    (clip,) = speech_clips(1)
    scores = evaluate_pair(clip, clip[:-300], SAMPLE_RATE, ["mel", "mrstft"])
    assert scores == pytest.approx({"mel_l1": 0.0, "mrstft_sc": 0.0, "mrstft_logmag": 0.0})


def test_mcd_excludes_c0_and_uses_the_10_over_ln10_sqrt2_constant() -> None:
    rng = np.random.default_rng(0)
    mcep = rng.standard_normal((50, 25))
    shifted = mcep.copy()
    shifted[:, 0] += 5.0  # energy term: ignored
    shifted[:, 3] += 0.1
    ref, gen = WorldAnalysis(np.zeros(50), mcep), WorldAnalysis(np.zeros(50), shifted)
    expected = 10.0 / math.log(10.0) * math.sqrt(2.0 * 0.1**2)
    assert MCD_CONSTANT == pytest.approx(10.0 / math.log(10.0) * math.sqrt(2.0))
    assert mel_cepstral_distortion(ref, gen) == pytest.approx(expected)


def test_dtw_aligns_a_delayed_copy() -> None:
    rng = np.random.default_rng(0)
    mcep = np.cumsum(rng.standard_normal((80, 25)), axis=0)
    delayed = np.concatenate([mcep[:1].repeat(4, axis=0), mcep[:-4]])
    ref, gen = WorldAnalysis(np.zeros(80), mcep), WorldAnalysis(np.zeros(80), delayed)
    plain = mel_cepstral_distortion(ref, gen)
    aligned = mel_cepstral_distortion(ref, gen, dtw=True)
    assert aligned < 0.1 * plain


@pytest.mark.parametrize(
    ("ref", "gen", "rate", "metrics", "message"),
    [
        (np.zeros((2, 4000)), np.zeros(4000), SAMPLE_RATE, None, "must be 1-D"),
        (np.zeros(4000), np.array([]), SAMPLE_RATE, None, "generated audio is empty"),
        (np.full(4000, np.nan), np.zeros(4000), SAMPLE_RATE, None, "NaN or infinite"),
        (np.zeros(4000), np.zeros(4000), 0, None, "sample rate must be positive"),
        (np.zeros(4000), np.zeros(4000), SAMPLE_RATE, ["mel", "bogus"], "unknown metric"),
        (np.zeros(800), np.zeros(800), SAMPLE_RATE, ["mrstft"], "needs more than 1024"),
        (np.zeros(8000), np.zeros(8000), 8000, ["pesq"], "at least 16000 Hz"),
    ],
)
def test_bad_input_raises_a_clear_error(ref, gen, rate, metrics, message) -> None:
    with pytest.raises(WaveflowError, match=message):
        evaluate_pair(ref, gen, rate, metrics)


def test_missing_package_skips_only_its_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pesq", None)  # makes `import pesq` fail
    (clip,) = speech_clips(1)
    with pytest.warns(MetricSkippedWarning, match=r"PESQ skipped: package 'pesq' is not insta"):
        scores = evaluate_pair(clip, clip, SAMPLE_RATE, ["mel", "pesq"])
    assert set(scores) == {"mel_l1"}


def test_summarize_leaves_out_undefined_values() -> None:
    summary = summarize({"a": {"x": 1.0, "y": math.nan}, "b": {"x": 3.0, "y": math.nan}})
    assert summary["x"] == {"mean": 2.0, "std": 1.0, "n": 2}
    assert summary["y"]["n"] == 0 and math.isnan(summary["y"]["mean"])


def test_pair_files_matches_by_stem_across_formats(tmp_path: Path) -> None:
    ref_dir, gen_dir = tmp_path / "ref", tmp_path / "gen"
    ref_dir.mkdir(), gen_dir.mkdir()
    for name in ("a.wav", "b.flac", "c.wav", "notes.txt"):
        (ref_dir / name).touch()
    for name in ("a.flac", "b.wav", "d.wav"):
        (gen_dir / name).touch()
    pairing = pair_files(ref_dir, gen_dir)
    assert [stem for stem, _, _ in pairing.pairs] == ["a", "b"]
    assert pairing.ref_only == ("c",) and pairing.gen_only == ("d",)
    (gen_dir / "a.wav").touch()
    with pytest.raises(WaveflowError, match="two audio files with stem 'a'"):
        pair_files(ref_dir, gen_dir)
