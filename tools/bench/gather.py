"""Collect the logs of ``tools/gpu_check.sh`` into one JSON file with the goals checked.

``python tools/bench/gather.py LOGS OUT.json --dry-run 0|1``: reads ``LOGS/steps.tsv`` (name,
exit status, seconds) and each step's ``LOGS/<name>.json`` benchmark section, writes OUT.json
and prints a summary; exits 1 if a step failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

GOALS = {  # issue 11, on an H200
    "synth_bf16_b1_samples_per_s": 10e6,
    "train_bf16_samples_per_s": 2e6,
}


def gather(logs: Path, dry_run: bool) -> dict[str, Any]:
    steps = []
    for line in (logs / "steps.tsv").read_text().splitlines():
        name, rc, seconds = line.split("\t")
        entry: dict[str, Any] = {"name": name, "exit_status": int(rc), "seconds": int(seconds)}
        section_file = logs / f"{name}.json"
        if section_file.exists():
            entry["result"] = json.loads(section_file.read_text())
        else:
            log = logs / f"{name}.log"
            entry["log_tail"] = log.read_text().splitlines()[-5:] if log.exists() else []
        steps.append(entry)
    by_name = {s["name"]: s for s in steps}
    figures: dict[str, float] = {}
    synth = by_name.get("synth_bf16_b1", {}).get("result", {}).get("synth")
    if synth:
        figures["synth_bf16_b1_samples_per_s"] = synth["results"][0]["samples_per_s"]
    train = by_name.get("train_bf16", {}).get("result", {}).get("train")
    if train:
        figures["train_bf16_samples_per_s"] = train["results"][0]["samples_per_s"]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "dry_run": dry_run,
        "steps": steps,
        "figures": figures,
        "goals": {
            key: {"goal": goal, "measured": figures.get(key), "met": figures.get(key, 0) >= goal}
            for key, goal in GOALS.items()
        },
        "failed": [s["name"] for s in steps if s["exit_status"] != 0],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("logs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--dry-run", type=int, default=0)
    args = parser.parse_args()
    record = gather(args.logs, bool(args.dry_run))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    for step in record["steps"]:
        status = "ok" if step["exit_status"] == 0 else f"FAILED ({step['exit_status']})"
        print(f"{step['name']:<22} {status:<12} {step['seconds']:>5} s")
    for key, goal in record["goals"].items():
        print(
            f"goal {key}: measured {goal['measured']}, goal {goal['goal']:.3g}, met {goal['met']}"
        )
    print(f"wrote {args.out}")
    return 1 if record["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
