"""Stage 0 of the universal-vocoder recipe: Debian's Asterisk prompts -> an LJSpeech-layout corpus.

    python local/prepare_data.py --db DIR --dump DIR
        [--sounds-root /usr/share/asterisk/sounds] [--docs-root /usr/share/doc]
        [--langs en,es,fr,it,ru] [--heldout-lang ru] [--n-test 20] [--n-valid 5]
        [--seed 1234] [--min-seconds 0.8] [--sample-rate 22050]

Input: the G.722 prompts of `asterisk-core-sounds-<lang>-g722` (16 kHz, 64 kbit/s), found under
`SOUNDS_ROOT/<lang>/` (the Debian packages install that name as a link to e.g.
`en_US_f_Allison/`), and, when installed, the transcripts
`DOCS_ROOT/asterisk-core-sounds-<lang>/core-sounds-<lang>.txt.gz` (used as metadata text).

Each prompt is decoded with PyAV, trimmed to its speech (librosa.effects.trim, 40 dB below
the peak, keeping 100 ms of margin), resampled 16000 -> --sample-rate Hz (default 22050, the
Tacotron2 rate; torchaudio's sinc resampler, as `waveflow.audio.data.io.load_audio`; 16000 keeps the
prompts' native rate), peak-normalised to 0.9 and written as 16-bit
`DB/wavs/<lang>_<prompt>.wav` (prompt path with `/` as `-`, e.g. `en_digits-7`). Non-speech
prompts (the `silence/` folder, beeps and tones) are left out. Existing WAVs at that rate are
kept, so a re-run only decodes what is missing (use --force to redo all).

Writes:

- `DB/metadata.csv` (`id|text|text`), `DB/ATTRIBUTION.txt` and `DB/copyright-<lang>` (the
  packages' licence files: CC-BY-SA-3.0 / CC-BY-3.0 require attribution);
- `DUMP/train.txt`, `valid.txt`, `test.txt`: every language (Tacotron2-style
  `wavs/<id>.wav|text` lists, as `recipes/ljspeech/run.sh --train-list/--valid-list/
  --test-list` take); `DUMP/train_no_<H>.txt`, `valid_no_<H>.txt`: the same without the
  held-out language H; `DUMP/test_<lang>.txt` per language;
- `DUMP/ref/<lang>/`: links to the test recordings of each language (evaluation references);
- `DUMP/stats.json`: minutes and clip counts per language and split.

Split (deterministic): clips shorter than --min-seconds are in the corpus but in no list
(WaveGlow training crops are longer). The test prompts are the same in every language: the
prompt names present, long enough, in all languages, sorted, shuffled with
`random.Random(seed)`, first --n-test. Validation: per language, --n-valid of the remaining
clips (sorted, shuffled with seed + language index). Everything else is training data.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOURCE_RATE = 16000
TARGET_RATE = 22050
LANGUAGES = ("en", "es", "fr", "it", "ru")
# Prompts whose transcript is a bracketed sound description ("[this is a simple beep tone]",
# "<beep ascending>", "[sound of monkeys screaming]") in the packages' core-sounds-*.txt.
NON_SPEECH = frozenset(
    {
        "beep",
        "beeperr",
        "ascending-2tone",
        "descending-2tone",
        "confbridge-join",
        "confbridge-leave",
        "tt-monkeys",
    }
)
TRIM_TOP_DB = 40.0
TRIM_MARGIN_S = 0.1
PEAK = 0.9


@dataclass(frozen=True)
class Clip:
    """One prepared prompt: `id` = `<lang>_<prompt>`, `prompt` = path below the language
    folder without suffix (`digits/7`), `seconds` = duration of the written WAV."""

    id: str
    lang: str
    prompt: str
    text: str
    seconds: float


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="corpus folder (LJSpeech layout)")
    parser.add_argument("--dump", type=Path, required=True, help="lists, references, stats")
    parser.add_argument("--sounds-root", type=Path, default=Path("/usr/share/asterisk/sounds"))
    parser.add_argument("--docs-root", type=Path, default=Path("/usr/share/doc"))
    parser.add_argument("--langs", default=",".join(LANGUAGES), help="comma-separated")
    parser.add_argument("--heldout-lang", default="ru", help="left out of train_no_<H>.txt")
    parser.add_argument("--n-test", type=int, default=20, help="test clips per language")
    parser.add_argument("--n-valid", type=int, default=5, help="validation clips per language")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--min-seconds", type=float, default=0.8, help="shorter: in no list")
    parser.add_argument(
        "--sample-rate", type=int, default=TARGET_RATE, help="corpus rate (22050; 16000: native)"
    )
    parser.add_argument("--force", action="store_true", help="re-decode existing WAVs")
    return parser.parse_args(argv)


def decode_g722(path: Path) -> np.ndarray:
    """Decode a raw G.722 file with PyAV: float32 mono [T] in [-1, 1] at 16 kHz."""
    from waveflow.errors import WaveflowError

    try:
        import av
    except ImportError as err:
        raise WaveflowError(
            "decoding G.722 needs PyAV: pip install av (it is in waveflow's dev extra)"
        ) from err
    try:
        with av.open(os.fspath(path), format="g722") as container:
            frames = [frame.to_ndarray() for frame in container.decode(audio=0)]
    except (av.FFmpegError, OSError, ValueError) as err:
        raise WaveflowError(f"cannot decode {path} as G.722: {err}") from err
    if not frames:
        raise WaveflowError(f"{path}: no audio decoded (empty file?)")
    samples = np.concatenate([f.reshape(-1) for f in frames]).astype(np.float32)
    return samples / 32768.0


def process(samples: np.ndarray, rate: int = TARGET_RATE) -> np.ndarray | None:
    """Trim (40 dB below the peak, 100 ms margin), resample to `rate` Hz, peak-normalise.

    Returns None for a silent clip."""
    import librosa
    import torch
    import torchaudio.functional

    if not np.any(samples):
        return None
    _, (start, end) = librosa.effects.trim(
        samples, top_db=TRIM_TOP_DB, frame_length=512, hop_length=128
    )
    margin = int(TRIM_MARGIN_S * SOURCE_RATE)
    trimmed = samples[max(0, start - margin) : min(len(samples), end + margin)]
    audio = torch.from_numpy(trimmed)
    if rate != SOURCE_RATE:
        audio = torchaudio.functional.resample(audio, SOURCE_RATE, rate)
    peak = float(audio.abs().max())
    return None if peak == 0 else (audio * (PEAK / peak)).numpy()


def language_dir(sounds_root: Path, lang: str) -> Path:
    """`SOUNDS_ROOT/<lang>`, or a one-line error saying which Debian package to install."""
    from waveflow.errors import WaveflowError

    folder = sounds_root / lang
    if not folder.is_dir() or not any(folder.rglob("*.g722")):
        raise WaveflowError(
            f"no G.722 prompts under {folder}: install the Debian package "
            f"asterisk-core-sounds-{lang}-g722 (apt-get install asterisk-core-sounds-{lang}-g722,"
            " from a local mirror when offline) or pass --sounds-root"
        )
    return folder.resolve()


def read_transcripts(docs_root: Path, lang: str) -> dict[str, str]:
    """{prompt: text} from core-sounds-<lang>.txt.gz ({} if that file is not installed)."""
    path = docs_root / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz"
    if not path.is_file():
        return {}
    texts = {}
    with gzip.open(path, "rt", encoding="utf-8-sig", errors="replace") as lines:
        for line in lines:
            name, sep, text = line.strip().partition(":")
            if sep and name and not name.startswith(";"):
                texts[name.strip()] = " ".join(text.replace("|", " ").split())
    return texts


def prepare_language(args: argparse.Namespace, lang: str) -> tuple[list[Clip], int, list[str]]:
    """Decode every speech prompt of `lang` into DB/wavs.

    Returns (clips, #non-speech prompts left out, problems): a prompt that cannot be decoded
    or is silent (ru/is.g722 is an empty file in the package) is reported and left out."""
    import soundfile

    from waveflow.audio.data.io import save_wav
    from waveflow.errors import WaveflowError

    folder = language_dir(args.sounds_root, lang)
    texts = read_transcripts(args.docs_root, lang)
    clips, skipped, problems = [], 0, []
    for path in sorted(folder.rglob("*.g722")):
        prompt = path.relative_to(folder).with_suffix("").as_posix()
        if prompt.startswith("silence/") or prompt in NON_SPEECH:
            skipped += 1
            continue
        clip_id = f"{lang}_{prompt.replace('/', '-')}"
        wav = args.db / "wavs" / f"{clip_id}.wav"
        if args.force or not wav.is_file() or soundfile.info(wav).samplerate != args.sample_rate:
            try:
                audio = process(decode_g722(path), args.sample_rate)
            except WaveflowError as err:
                problems.append(str(err))
                continue
            if audio is None:
                problems.append(f"{path}: silent")
                continue
            save_wav(wav, audio, args.sample_rate)
        seconds = soundfile.info(os.fspath(wav)).duration
        clips.append(Clip(clip_id, lang, prompt, texts.get(prompt) or prompt, seconds))
    return clips, skipped, problems


def split(
    clips: list[Clip], langs: list[str], n_test: int, n_valid: int, seed: int, min_seconds: float
) -> dict[str, list[Clip]]:
    """{"train"|"valid"|"test": clips}, see the module docstring; each sorted by id."""
    from waveflow.errors import WaveflowError

    usable = [c for c in clips if c.seconds >= min_seconds]
    by_lang = {lang: {c.prompt: c for c in usable if c.lang == lang} for lang in langs}
    common = sorted(set.intersection(*(set(prompts) for prompts in by_lang.values())))
    if len(common) < n_test:
        raise WaveflowError(
            f"only {len(common)} prompts of at least {min_seconds} s exist in every language "
            f"({', '.join(langs)}); cannot take {n_test} test prompts"
        )
    random.Random(seed).shuffle(common)
    test_prompts = set(common[:n_test])
    parts: dict[str, list[Clip]] = {"train": [], "valid": [], "test": []}
    for index, lang in enumerate(langs):
        rest = sorted(p for p in by_lang[lang] if p not in test_prompts)
        if len(rest) <= n_valid:
            raise WaveflowError(f"{lang}: {len(rest)} clips left after the test set, too few")
        random.Random(seed + index).shuffle(rest)
        parts["test"] += [by_lang[lang][p] for p in sorted(test_prompts)]
        parts["valid"] += [by_lang[lang][p] for p in rest[:n_valid]]
        parts["train"] += [by_lang[lang][p] for p in rest[n_valid:]]
    return {name: sorted(part, key=lambda c: c.id) for name, part in parts.items()}


def write_list(path: Path, clips: list[Clip]) -> None:
    from waveflow.atomic import atomic_write_text

    atomic_write_text(path, "".join(f"wavs/{c.id}.wav|{c.text}\n" for c in clips))


def link_references(folder: Path, clips: list[Clip], db: Path) -> None:
    """Make `folder` hold exactly one link per clip, to its corpus WAV."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for clip in clips:
        (folder / f"{clip.id}.wav").symlink_to((db / "wavs" / f"{clip.id}.wav").resolve())


def statistics(clips: list[Clip], parts: dict[str, list[Clip]], langs: list[str]) -> dict:
    """Minutes and clip counts per language: all speech clips and each split."""

    def summary(selection: list[Clip]) -> dict:
        minutes = sum(c.seconds for c in selection) / 60
        return {"clips": len(selection), "minutes": round(minutes, 2)}

    stats: dict = {}
    for lang in langs:
        stats[lang] = {"corpus": summary([c for c in clips if c.lang == lang])}
        for name, part in parts.items():
            stats[lang][name] = summary([c for c in part if c.lang == lang])
    stats["all"] = {"corpus": summary(clips), **{n: summary(p) for n, p in parts.items()}}
    return stats


def write_attribution(args: argparse.Namespace, langs: list[str]) -> None:
    from waveflow.atomic import atomic_write_text

    lines = [
        "Speech from Debian's asterisk-core-sounds-<lang>-g722 packages (Asterisk core prompts),",
        f"decoded from G.722, trimmed, resampled to {args.sample_rate} Hz and peak-normalised by",
        "recipes/universal/local/prepare_data.py. Licences and credits (see copyright-<lang>):",
        "  en, es: Allison Smith (theivrvoice.com), Digium, Inc.; CC-BY-SA-3.0",
        "  fr: June Wallack (junewallack.com), translated by Clod Patry, Kristopher Lalletti,",
        "      June Wallack; Digium, Unlimitel, BGM Informatique; CC-BY-SA-3.0",
        "  it: Carlo Flora (carloflora.com), translated by Silvia Petrin; CC-BY-3.0",
        "  ru: Maxim Topal (ivrvoice.ru); CC-BY-3.0",
        "",
    ]
    atomic_write_text(args.db / "ATTRIBUTION.txt", "\n".join(lines))
    for lang in langs:
        source = args.docs_root / f"asterisk-core-sounds-{lang}-g722" / "copyright"
        if source.is_file():
            shutil.copyfile(source, args.db / f"copyright-{lang}")


def prepare(args: argparse.Namespace) -> dict:
    from waveflow.atomic import atomic_write_text
    from waveflow.errors import WaveflowError

    langs = [lang.strip() for lang in args.langs.split(",") if lang.strip()]
    if args.heldout_lang not in langs:
        raise WaveflowError(f"--heldout-lang {args.heldout_lang} is not one of --langs {langs}")
    for lang in langs:  # fail before decoding anything if a package is missing
        language_dir(args.sounds_root, lang)
    clips: list[Clip] = []
    for lang in langs:
        found, skipped, problems = prepare_language(args, lang)
        print(f"stage 0: {lang}: {len(found)} speech prompts ({skipped} non-speech left out)")
        for problem in problems:
            print(f"prepare_data.py: warning: left out {problem}", file=sys.stderr)
        clips += found
    metadata = "".join(f"{c.id}|{c.text}|{c.text}\n" for c in sorted(clips, key=lambda c: c.id))
    atomic_write_text(args.db / "metadata.csv", metadata)
    write_attribution(args, langs)
    parts = split(clips, langs, args.n_test, args.n_valid, args.seed, args.min_seconds)
    held = args.heldout_lang
    for name, part in parts.items():
        write_list(args.dump / f"{name}.txt", part)
    for name in ("train", "valid"):
        write_list(args.dump / f"{name}_no_{held}.txt", [c for c in parts[name] if c.lang != held])
    for lang in langs:
        tests = [c for c in parts["test"] if c.lang == lang]
        write_list(args.dump / f"test_{lang}.txt", tests)
        link_references(args.dump / "ref" / lang, tests, args.db)
    (args.dump / "griffin_lim.done").unlink(missing_ok=True)  # the test set may have changed
    stats = statistics(clips, parts, langs)
    atomic_write_text(args.dump / "stats.json", json.dumps(stats, indent=2) + "\n")
    return stats


def format_stats(stats: dict) -> str:
    """Markdown table of minutes and clips per language and split."""
    names = ("corpus", "train", "valid", "test")
    rows = [
        "| language | " + " | ".join(f"{n} min (clips)" for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for lang, parts in stats.items():
        cells = [f"{parts[n]['minutes']:.1f} ({parts[n]['clips']})" for n in names]
        rows.append(f"| {lang} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def prepare_and_report(args: argparse.Namespace) -> int:
    stats = prepare(args)
    print(format_stats(stats))
    print(f"stage 0: corpus in {args.db}, lists and references in {args.dump}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from waveflow.reporting import run_reporting_errors

    args = parse_args(argv)
    return run_reporting_errors("prepare_data.py", lambda: prepare_and_report(args))


if __name__ == "__main__":
    sys.exit(main())
