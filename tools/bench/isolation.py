"""Run a benchmark case in a fresh Python subprocess (honest peak RSS) or in this process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from waveflow.errors import WaveflowError

from .cases import run_case

TOOLS_DIR = Path(__file__).resolve().parents[1]


def run_isolated(spec: dict[str, Any], isolate: bool = True) -> dict[str, Any]:
    """The result of case ``spec``; with ``isolate`` from ``python -m bench.worker`` in a new
    process (its own RSS high-water mark), otherwise in this process (peak RSS then includes
    everything this process did before)."""
    if not isolate:
        result = run_case(spec)
        result["isolated"] = False
        return result
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TOOLS_DIR), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="waveflow-bench-") as tmp:
        spec_path, out_path = Path(tmp, "spec.json"), Path(tmp, "result.json")
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.run(
            [sys.executable, "-m", "bench.worker", str(spec_path), str(out_path)],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not out_path.exists():
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit status {proc.returncode}"
            raise WaveflowError(f"benchmark case {spec['case']} failed: {reason}")
        result = json.loads(out_path.read_text())
    result["isolated"] = True
    return result
