"""`waveflow evaluate` on tiny folder pairs, and the mel comparison plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from waveflow.audio.data.io import load_audio, save_wav
from waveflow.audio.metrics.plots import plot_mel_comparison
from waveflow.cli import main
from waveflow.cli.commands.evaluate import format_table

CORPUS = Path(__file__).resolve().parents[1] / "data" / "demo-ljspeech" / "wavs"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """ref/: a, b, only_ref (1 s clips); gen/: a (noisy), b (exact copy), only_gen."""
    clips = sorted(CORPUS.glob("*.flac"))[:3]
    ref_dir, gen_dir = tmp_path / "ref", tmp_path / "gen"
    generator = torch.Generator().manual_seed(0)
    for stem, clip in zip(("a", "b", "only_ref"), clips, strict=True):
        audio = load_audio(clip, 22050)[:22050]
        save_wav(ref_dir / f"{stem}.wav", audio, 22050)
        if stem == "a":
            audio = audio + 0.01 * torch.randn(audio.shape, generator=generator)
        if stem != "only_ref":
            save_wav(gen_dir / f"{stem}.wav", audio, 22050)
    save_wav(gen_dir / "only_gen.wav", torch.zeros(22050), 22050)
    return ref_dir, gen_dir


def test_evaluate_writes_json_table_and_plots(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref_dir, gen_dir = folders
    out = tmp_path / "out" / "metrics.json"
    plots = tmp_path / "plots"
    code = main(
        ["evaluate", "--ref", str(ref_dir), "--gen", str(gen_dir), "--json", str(out)]
        + ["--plots", str(plots), "--metrics", "mel,mrstft,pesq"]
    )
    captured = capsys.readouterr()
    assert code == 0
    for key in ("mel_l1", "mrstft_sc", "mrstft_logmag", "pesq_wb"):
        assert key in captured.out
    assert "only_ref" in captured.err and "only_gen" in captured.err
    record = json.loads(out.read_text())
    assert set(record["per_file"]) == {"a", "b"}
    assert record["per_file"]["b"]["mel_l1"] == pytest.approx(0.0, abs=1e-6)
    assert record["per_file"]["a"]["mel_l1"] > 0.1
    assert record["summary"]["pesq_wb"]["n"] == 2
    assert record["failed"] == []
    for stem in ("a", "b"):
        assert (plots / f"{stem}.png").read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(path.name for path in out.parent.iterdir()) == ["metrics.json"]


def test_corrupt_file_is_reported_skipped_and_fails_the_run(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref_dir, gen_dir = folders
    (gen_dir / "b.wav").write_bytes(b"RIFF\x00\x00not really audio")
    out = tmp_path / "metrics.json"
    code = main(
        ["evaluate", "--ref", str(ref_dir), "--gen", str(gen_dir), "--json", str(out)]
        + ["--metrics", "mel"]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "b: skipped: cannot read audio file" in captured.err
    record = json.loads(out.read_text())
    assert set(record["per_file"]) == {"a"} and len(record["failed"]) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metrics", "mel,nope"], "unknown metric(s) nope"),
        (["--sample-rate", "16000"], "has sample rate 22050 Hz, expected 16000 Hz"),
    ],
)
def test_bad_options_give_one_line_errors(
    folders: tuple[Path, Path], extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ref_dir, gen_dir = folders
    code = main(["evaluate", "--ref", str(ref_dir), "--gen", str(gen_dir)] + extra)
    assert code == 1
    assert message in capsys.readouterr().err


def test_missing_folder_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["evaluate", "--ref", str(tmp_path / "nope"), "--gen", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().count("\n") == 0 and "does not exist" in err


def test_format_table_lists_each_metric_with_its_direction() -> None:
    table = format_table(
        {
            "pesq_wb": {"mean": 3.5, "std": 0.25, "n": 4},
            "mcd_db": {"mean": 5.0, "std": 1.0, "n": 3},
        }
    )
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "mean", "std", "n", "better"]
    assert lines[2].split() == ["pesq_wb", "3.5000", "0.2500", "4", "higher"]
    assert lines[3].split() == ["mcd_db", "5.0000", "1.0000", "3", "lower"]


def test_plot_mel_comparison_writes_a_png(tmp_path: Path) -> None:
    ref = torch.randn(80, 40, generator=torch.Generator().manual_seed(0)) - 4.0
    path = tmp_path / "sub" / "cmp.png"
    plot_mel_comparison(ref, ref[:, :35] + 0.5, path, title="check")
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(p.name for p in path.parent.iterdir()) == ["cmp.png"]


def _tiny_vocoder_checkpoint(path: Path):
    from dataclasses import asdict

    from waveflow.audio.models.waveglow import WaveGlow
    from waveflow.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = WaveGlow(
        n_mel_channels=80, n_flows=2, n_group=8, n_early_every=4, n_early_size=2,
        n_layers=2, n_channels=8,
    )  # fmt: skip
    for name, param in model.named_parameters():  # the end convs start at zero: perturb them
        if "end" in name:
            param.data.normal_(0.0, 0.05)
    config = {"model": asdict(model.config)}
    save_checkpoint({"task": "waveglow", "config": config, "model": model.state_dict()}, path)
    return model.eval()


def test_checkpoint_gives_the_exact_held_out_nll(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from waveflow.audio.data.features import MelSpectrogram

    ref_dir, gen_dir = folders
    model = _tiny_vocoder_checkpoint(tmp_path / "vocoder.pt")
    out = tmp_path / "nll.json"
    code = main(
        ["evaluate", "--ref", str(ref_dir), "--checkpoint", str(tmp_path / "vocoder.pt")]
        + ["--device", "cpu", "--json", str(out)]
    )
    assert code == 0
    assert "nll_bits_per_sample" in capsys.readouterr().out
    # Independent computation: every reference file, whole, through log_prob.
    front_end = MelSpectrogram()
    total_nats, total_samples = 0.0, 0
    with torch.no_grad():
        for wav in sorted(ref_dir.glob("*.wav")):
            audio = load_audio(wav, 22050)
            audio = audio[: len(audio) - len(audio) % 256]
            log_prob = model.log_prob(audio[None], front_end(audio)[None])
            total_nats -= float(log_prob)
            total_samples += len(audio)
    expected_bits = total_nats / total_samples / torch.log(torch.tensor(2.0)).item()
    summary = json.loads(out.read_text())["summary"]
    assert summary["nll_bits_per_sample"]["mean"] == pytest.approx(expected_bits, rel=1e-5)
    assert summary["nll_bits_per_sample"]["n"] == 3


def test_checkpoint_nll_reads_mels_by_name(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref_dir, _ = folders
    _tiny_vocoder_checkpoint(tmp_path / "vocoder.pt")
    mels = tmp_path / "mels"
    assert main(["mel", str(ref_dir), "--out", str(mels)]) == 0
    args = ["evaluate", "--ref", str(ref_dir), "--checkpoint", str(tmp_path / "vocoder.pt")]
    assert main([*args, "--device", "cpu", "--mels", str(mels)]) == 0
    with_mels = capsys.readouterr().out
    assert main([*args, "--device", "cpu"]) == 0
    assert with_mels.splitlines()[2] == capsys.readouterr().out.splitlines()[2]
    (mels / "b.npy").unlink()
    assert main([*args, "--device", "cpu", "--mels", str(mels)]) == 1
    assert "no mel for b.wav" in capsys.readouterr().err


def test_audio_mode_needs_gen_or_checkpoint(
    folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ref_dir, _ = folders
    assert main(["evaluate", "--ref", str(ref_dir)]) == 1
    assert "--gen DIR" in capsys.readouterr().err
    assert main(["evaluate"]) == 1
    assert "--ref DIR" in capsys.readouterr().err
