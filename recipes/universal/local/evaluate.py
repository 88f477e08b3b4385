"""Stages 2 and 4 of the universal-vocoder recipe: per-language metrics of one model.

    python local/evaluate.py --ref-root DUMP/ref --gen DIR --baseline DIR --out EXP/eval
        --langs en,es,fr,it,ru [--unseen ru] [--metrics stoi,pesq,mel,mrstft,f0]
        [--checkpoint CKPT --threads 2] [--sample-rate 22050]

`REF_ROOT/<lang>/<id>.wav` are the test clips of each language; `GEN/<id>.wav` their WaveGlow
copy synthesis and `BASELINE/<id>.wav` their Griffin-Lim copy synthesis (one folder for all
languages: ids start with the language). Each pair is scored with
`waveflow.audio.metrics.evaluate_pair` (the metrics of `waveflow evaluate`) and the results
are written as `OUT/<system>/<lang>.json` (`summary`, `per_file`, `problems`, as `waveflow
evaluate --json`), `OUT/table.md` (markdown) and `OUT/table.json`: one row per language and
system with STOI, wide-band PESQ, log-mel L1 and the two MR-STFT distances (spectral
convergence, log-magnitude L1), the number of clips, whether the language was seen in training
(`--unseen` names those that were not), and whether WaveGlow beats Griffin-Lim on PESQ and
both MR-STFT distances (null when one of them was not measured). One listening report per
language, `OUT/report_<lang>.html` (+ `report_<lang>_files/`), plays each test clip's recording,
WaveGlow and Griffin-Lim side by side with their spectrograms and metrics
(`waveflow.audio.metrics.listening_report`, the page of `waveflow evaluate --html`).

With --checkpoint the synthesis speed in x real time (seconds of audio per second of compute;
above 1 = faster than real time) of WaveGlow (sigma 0.6, fp32, batch 1) and of Griffin-Lim (60
iterations) is measured on the same mels (the first --rtf-clips test clips of every
language), with torch limited to --threads threads, and reported with the machine and date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path

COLUMNS = (  # (result key, header, higher is better)
    ("stoi", "STOI", True),
    ("pesq_wb", "PESQ", True),
    ("mel_l1", "log-mel L1", False),
    ("mrstft_sc", "MR-STFT SC", False),
    ("mrstft_logmag", "MR-STFT log-mag", False),
    ("f0_rmse_cents", "F0 RMSE (cents)", False),
    ("vuv_error", "V/UV error", False),
)
JUDGED = ("pesq_wb", "mrstft_sc", "mrstft_logmag")
VERDICTS = {True: "yes", False: "**no**", None: "not measured"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref-root", type=Path, required=True, help="<lang>/*.wav test clips")
    parser.add_argument("--gen", type=Path, required=True, help="WaveGlow copy synthesis")
    parser.add_argument("--baseline", type=Path, required=True, help="Griffin-Lim copy synthesis")
    parser.add_argument("--out", type=Path, required=True, help="evaluation folder")
    parser.add_argument("--langs", required=True, help="comma-separated")
    parser.add_argument("--unseen", default="", help="languages left out of training")
    parser.add_argument("--metrics", default="stoi,pesq,mel,mrstft,f0")
    parser.add_argument("--checkpoint", type=Path, help="measure the synthesis speed")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the RTF")
    parser.add_argument("--rtf-clips", type=int, default=2, help="clips per language for the speed")
    parser.add_argument("--sigma", type=float, default=0.6)
    parser.add_argument("--sample-rate", type=int, default=22050, help="Hz of every clip")
    return parser.parse_args(argv)


def score(
    refs: list[Path], gen_dir: Path, metrics: list[str], rate: int
) -> tuple[dict, dict, list[str]]:
    """(per_file, summary, problems) of `gen_dir/<name>` against each reference file."""
    from waveflow.audio.data.io import load_audio
    from waveflow.audio.metrics import EvaluationWarning, evaluate_pair, summarize
    from waveflow.errors import WaveflowError

    per_file, problems = {}, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EvaluationWarning)
        for ref in refs:
            try:
                ref_audio = load_audio(ref, rate)
                gen_audio = load_audio(gen_dir / ref.name, rate)
                per_file[ref.stem] = evaluate_pair(ref_audio, gen_audio, rate, metrics)
            except WaveflowError as err:
                problems.append(str(err))
    problems += list(dict.fromkeys(str(w.message) for w in caught))
    return per_file, summarize(per_file), problems


def evaluate(
    args: argparse.Namespace, langs: list[str], unseen: set[str], argv: list[str] | None = None
) -> list[dict]:
    """Score every language and system, write the per-language JSON files and listening
    reports; returns the rows."""
    from waveflow.atomic import atomic_write_text
    from waveflow.audio.metrics.listening_report import SystemResult, write_listening_report
    from waveflow.errors import WaveflowError

    metrics = [name for name in args.metrics.split(",") if name]
    rows = []
    for lang in langs:
        refs = sorted((args.ref_root / lang).glob("*.wav"))
        if not refs:
            raise WaveflowError(f"no test clips in {args.ref_root / lang} (run stage 0)")
        systems = []
        for system, gen_dir in (("waveglow", args.gen), ("griffin_lim", args.baseline)):
            per_file, summary, problems = score(refs, gen_dir, metrics, args.sample_rate)
            systems.append(SystemResult(system, gen_dir, per_file, summary))
            for problem in problems:
                print(f"evaluate.py: warning: {lang} {system}: {problem}", file=sys.stderr)
            record = _finite({"summary": summary, "per_file": per_file, "problems": problems})
            text = json.dumps(record, indent=2, allow_nan=False) + "\n"
            atomic_write_text(args.out / system / f"{lang}.json", text)
            row = {"lang": lang, "seen": lang not in unseen, "system": system, "n": len(per_file)}
            row.update({key: record["summary"].get(key, {}).get("mean") for key, _, _ in COLUMNS})
            rows.append(row)
        seen = "unseen in training" if lang in unseen else "held-out clips"
        write_listening_report(
            args.out / f"report_{lang}.html",
            args.ref_root / lang,
            systems,
            args.sample_rate,
            title=f"Listening report: {lang} ({seen}), {args.gen}",
            settings={"language": lang, "sample rate": f"{args.sample_rate} Hz",
                      "metrics": ", ".join(metrics), "sigma": args.sigma},  # fmt: skip
            command=shlex.join(["python", sys.argv[0], *(sys.argv[1:] if argv is None else argv)]),
            note_extra_clips=False,  # the folders hold every language's clips
        )
        wave, griffin = rows[-2], rows[-1]
        measured = all(wave[k] is not None and griffin[k] is not None for k in JUDGED)
        wave["beats_griffin_lim"] = (
            all(_better(k, wave[k], griffin[k]) for k in JUDGED) if measured else None
        )
    return rows


def _finite(value):
    """`value` with NaN (undefined) floats as None, for JSON."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _better(key: str, value: float, reference: float) -> bool:
    higher = next(h for k, _, h in COLUMNS if k == key)
    return value > reference if higher else value < reference


def measure_rtf(args: argparse.Namespace, langs: list[str]) -> dict:
    """Real-time factors of WaveGlow and Griffin-Lim on the same test mels, `threads` threads."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ljspeech" / "local"))
    import torch
    from recipe_summary import times_real_time  # the LJSpeech recipe's speed measurement

    from waveflow.audio.data.features import MelSpectrogram
    from waveflow.audio.data.io import load_audio
    from waveflow.audio.formats.vocoder_file import load_vocoder
    from waveflow.audio.synthesis.griffin_lim import griffin_lim

    torch.set_num_threads(args.threads)
    model, mel_config = load_vocoder(args.checkpoint, torch.device("cpu"))
    front_end = MelSpectrogram(mel_config)
    files = [
        f for lang in langs for f in sorted((args.ref_root / lang).glob("*.wav"))[: args.rtf_clips]
    ]
    with torch.no_grad():
        mels = [front_end(load_audio(f, mel_config.sample_rate)) for f in files]
    speed = times_real_time(model, mels, mel_config.sample_rate, args.sigma)
    start = time.perf_counter()
    for mel in mels:
        griffin_lim(mel, mel_config)
    seconds = sum(m.shape[1] for m in mels) * mel_config.hop_length / mel_config.sample_rate
    speed_gl = seconds / (time.perf_counter() - start)
    return {
        "x_real_time_waveglow": speed,
        "x_real_time_griffin_lim": speed_gl,
        "waveglow_vs_griffin_lim_speed": speed / speed_gl,
        "threads": args.threads,
        "clips": len(files),
        "audio_seconds": seconds,
        "machine": f"{_cpu_name()}, {os.cpu_count()} logical CPUs visible",
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def format_markdown(rows: list[dict], speed: dict | None) -> str:
    header = "| language | in training | system | " + " | ".join(h for _, h, _ in COLUMNS)
    lines = [header + " | clips |", "|---|---|---|" + "---:|" * (len(COLUMNS) + 1)]
    for row in rows:
        cells = ["-" if row[k] is None else f"{row[k]:.3f}" for k, _, _ in COLUMNS]
        seen = "yes (held-out clips)" if row["seen"] else "**no** (unseen language)"
        system = "WaveGlow" if row["system"] == "waveglow" else "Griffin-Lim"
        lines.append(
            f"| {row['lang']} | {seen} | {system} | " + " | ".join(cells) + f" | {row['n']} |"
        )
    lines.append("")
    verdicts = [
        f"{row['lang']}: {VERDICTS[row['beats_griffin_lim']]}"
        for row in rows
        if row["system"] == "waveglow"
    ]
    lines.append(
        "WaveGlow better than Griffin-Lim on PESQ and both MR-STFT distances: "
        + ", ".join(verdicts)
        + "."
    )
    if speed:
        ratio = speed["waveglow_vs_griffin_lim_speed"]
        lines.append(
            f"Synthesis speed on {speed['threads']} CPU threads ({speed['machine']}; "
            f"{speed['date']}; {speed['clips']} clips, {speed['audio_seconds']:.1f} s of audio; "
            f"x real time, above 1 = faster than real time): WaveGlow "
            f"{speed['x_real_time_waveglow']:.2f}x, Griffin-Lim (60 iterations) "
            f"{speed['x_real_time_griffin_lim']:.2f}x: WaveGlow runs at "
            f"{ratio:.2f}x the speed of Griffin-Lim."
        )
    return "\n".join(lines) + "\n"


def evaluate_and_report(args: argparse.Namespace, argv: list[str] | None) -> int:
    from waveflow.atomic import atomic_write_text

    langs = [lang for lang in args.langs.split(",") if lang]
    unseen = {lang for lang in args.unseen.split(",") if lang}
    rows = evaluate(args, langs, unseen, argv)
    speed = measure_rtf(args, langs) if args.checkpoint else None
    table = format_markdown(rows, speed)
    atomic_write_text(args.out / "table.md", table)
    record = {"rows": rows, "speed": speed, "unseen": sorted(unseen)}
    atomic_write_text(args.out / "table.json", json.dumps(record, indent=2) + "\n")
    print(table, end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    from waveflow.reporting import run_reporting_errors

    args = parse_args(argv)
    return run_reporting_errors("evaluate.py", lambda: evaluate_and_report(args, argv))


if __name__ == "__main__":
    sys.exit(main())
