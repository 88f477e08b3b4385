"""`waveflow evaluate --html`: the static listening report, its files, and a real browser on it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import soundfile
import torch

from waveflow.audio.data.io import load_audio, save_wav
from waveflow.cli import main

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "demo-ljspeech" / "wavs"
sys.path.insert(0, str(ROOT / "tools"))

from browser import audio_states, find_chromium, screenshot  # noqa: E402

STEMS = ("a", "b", "c")


@pytest.fixture()
def systems(tmp_path: Path) -> tuple[Path, Path, Path]:
    """ref/: a, b, c (0.5 s of speech, FLAC); close/: a, b, c (slightly noisy WAVs);
    far/: a, c (noisier; b is missing)."""
    clips = sorted(CORPUS.glob("*.flac"))[: len(STEMS)]
    ref, close, far = tmp_path / "ref", tmp_path / "close", tmp_path / "far"
    ref.mkdir()
    generator = torch.Generator().manual_seed(0)
    for stem, clip in zip(STEMS, clips, strict=True):
        audio = load_audio(clip, 22050)[:11025]
        soundfile.write(ref / f"{stem}.flac", audio.numpy(), 22050, subtype="PCM_16")
        noise = torch.randn(audio.shape, generator=generator)
        save_wav(close / f"{stem}.wav", audio + 0.003 * noise, 22050)
        if stem != "b":
            save_wav(far / f"{stem}.wav", audio + 0.05 * noise, 22050)
    return ref, close, far


def _report(systems: tuple[Path, Path, Path], page: Path, *extra: str) -> int:
    ref, close, far = systems
    return main(
        ["evaluate", "--ref", str(ref), "--gen", f"close={close}", "--gen", str(far)]
        + ["--metrics", "mel,mrstft", "--html", str(page), *extra]
    )


def test_page_links_every_clip_marks_the_best_and_lists_the_missing(
    systems: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("model:\n  n_flows: 4  # <not html>\n")
    page = tmp_path / "out" / "report.html"
    extra = ["--config", str(config), "--json", str(tmp_path / "m.json")]
    assert _report(systems, page, *extra, "--plots", str(tmp_path / "plots")) == 0
    record = json.loads((tmp_path / "m.json").read_text())  # several systems: one record each
    assert sorted(record["systems"]) == ["close", "far"]
    assert sorted(record["systems"]["far"]["per_file"]) == ["a", "c"]
    assert sorted(p.name for p in (tmp_path / "plots" / "far").iterdir()) == ["a.png", "c.png"]
    out = capsys.readouterr().out
    assert f"wrote {page}" in out and "close (" in out and "far (" in out
    text = page.read_text()
    sources = re.findall(r'<(?:audio|img)[^>]* src="([^"]+)"', text)
    # recording x3, close x3 (+3 PNGs), far x2 (+2 PNGs): the missing clip has no player
    assert len(re.findall(r"<audio ", text)) == 8 and len(sources) == 13
    for source in sources:  # relative links into the folder beside the page, all present
        assert source.startswith("report_files/") and (page.parent / source).is_file()
    assert not re.search(r"(?:src|href)=\"(?:https?:|//|/)", text)
    assert "<script" not in text and "<link" not in text  # inline CSS, nothing fetched
    missing = re.search(r'<p class="missing">[^<]*</p>', text)
    assert missing is not None and "1 clip(s) missing from far" in missing.group(0)
    assert missing.group(0).endswith(": b</p>")
    b_section = text.split('<h2 id="b">')[1].split("<h2")[0]
    assert "missing: no far audio for this clip" in b_section
    # every metric column of every clip: the less noisy system holds the best value
    for stem in ("a", "c"):
        section = text.split(f'<h2 id="{stem}">')[1].split("<h2")[0]
        close_row = section.split("<b>close</b>")[1].split("</tr>")[0]
        far_row = section.split("<b>far</b>")[1].split("</tr>")[0]
        assert close_row.count('class="best"') == 3 and 'class="best"' not in far_row
    assert "&lt;not html&gt;" in text and "<not html>" not in text  # the config, escaped
    assert f"waveflow evaluate --ref {systems[0]}" in text  # the command


def test_existing_page_follows_the_overwrite_policy(
    systems: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    page.write_text("an older report")
    assert _report(systems, page, "--no-overwrite") == 1
    err = capsys.readouterr().err.strip()
    assert err == f"waveflow evaluate: error: --html: {page} exists (--no-overwrite)"
    assert page.read_text() == "an older report" and not (tmp_path / "report_files").exists()
    assert _report(systems, page) == 0
    assert "(replaced the existing page)" in capsys.readouterr().out
    assert "<audio " in page.read_text()
    stale = tmp_path / "report_files" / "close" / "stale.wav"
    stale.write_bytes(b"")
    assert _report(systems, page) == 0  # the folder is rebuilt whole: no stale files
    assert not stale.exists()


def test_html_needs_a_system(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["evaluate", "--ref", str(tmp_path), "--checkpoint", str(tmp_path / "x.pt")]
    assert main([*argv, "--html", str(tmp_path / "r.html")]) == 1
    assert "--html needs at least one --gen DIR" in capsys.readouterr().err


CHROMIUM = find_chromium()


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on this machine (Debian: apt-get install chromium): the listening "
    "report is not opened in a browser",
)
def test_chromium_loads_every_player_and_takes_a_screenshot(
    systems: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "report.html"
    assert _report(systems, page) == 0
    states = audio_states(page, CHROMIUM)
    assert len(states) == 8
    for state in states:
        info = soundfile.info(page.parent / state["src"])
        assert state["error"] is None and state["readyState"] >= 1, state
        assert state["duration"] == pytest.approx(info.frames / info.samplerate, abs=2e-3)
    png = tmp_path / "shot.png"
    screenshot(page, png, CHROMIUM, width=800, height=600)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 10_000
