"""Glow's Figure 3 on Fashion-MNIST: additive/affine coupling x reverse/shuffle/1x1-conv
permutation, every config trained for the same time budget (interleaved in one process).

Usage::

    python tools/glow_ablation.py --budget 300 --clock cpu --threads 1 \
        --out docs/benchmarks/glow-ablation --plot docs/images/glow-ablation.png

writes ``OUT.json`` (config, machine, every curve), ``OUT.md`` (the table and the comparison
with the paper's ordering) and the PNG. The implementation is
:mod:`ablation.glow_runner` (Python API: ``run_ablation(AblationConfig(...))``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from ablation.glow_report import markdown_table, plot_curves  # noqa: E402
from ablation.glow_runner import COUPLINGS, PERMUTATIONS, AblationConfig, run_ablation  # noqa: E402
from bench.machine import machine_info  # noqa: E402

from waveflow.errors import WaveflowError  # noqa: E402
from waveflow.reporting import run_reporting_errors  # noqa: E402

SNAPSHOT_EVERY_S = 60.0  # wall seconds between writes of a partial result


def build_parser() -> argparse.ArgumentParser:
    d = AblationConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default=d.data_root, help="folder with the IDX files")
    p.add_argument("--dataset", default=d.dataset, choices=["fashion_mnist", "mnist"])
    p.add_argument(
        "--clock",
        default=d.clock,
        choices=["cpu", "wall"],
        help="budget in process CPU seconds (fixed threads) or wall-clock seconds",
    )
    p.add_argument("--budget", type=float, default=d.budget_s, help="training seconds per config")
    p.add_argument("--slice", type=float, default=d.slice_s, help="seconds per round-robin turn")
    p.add_argument(
        "--eval-every",
        type=float,
        default=d.eval_every_s,
        help="test bits/dim every this many training seconds",
    )
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--levels", type=int, default=d.n_levels)
    p.add_argument("--steps", type=int, default=d.n_steps, help="flow steps per level")
    p.add_argument("--hidden", type=int, default=d.hidden_channels)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--n-test", type=int, default=d.n_test)
    p.add_argument("--max-train", type=int, default=None)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--couplings", default=",".join(COUPLINGS))
    p.add_argument("--permutations", default=",".join(PERMUTATIONS))
    p.add_argument("--out", default="glow-ablation", help="prefix of OUT.json and OUT.md")
    p.add_argument("--plot", default=None, help="PNG path (default OUT.png)")
    p.add_argument(
        "--from-json",
        default=None,
        metavar="JSON",
        help="do not train: re-render OUT.md and the PNG from a JSON this tool wrote",
    )
    p.add_argument("--quiet", action="store_true")
    return p  # fmt: skip


def write_outputs(result: dict, command: str, started: float, out: Path, plot: str | None) -> Path:
    """Write OUT.json, OUT.md and the PNG (again after every round: a partial run is usable)."""
    result["machine"] = machine_info(torch.device("cpu"))
    result["wall_s"] = time.perf_counter() - started
    result["command"] = command
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    return render(out.with_suffix(".json"), out, plot)


def render(json_path: Path, out: Path, plot: str | None) -> Path:
    """Rewrite OUT.md and the PNG from a result JSON (e.g. a partial run's last snapshot)."""
    try:
        result = json.loads(json_path.read_text())
        cfg = result["config"]
    except (OSError, ValueError, KeyError) as err:
        raise WaveflowError(f"{json_path}: not a result of this tool ({err})") from err
    out.parent.mkdir(parents=True, exist_ok=True)
    status = "" if result["complete"] else f" (PARTIAL: {result['budget_reached_s']:.0f} s reached)"
    header = (
        f"Glow ablation, {cfg['budget_s']:g} {cfg['clock']} s per config{status}, "
        f"{cfg['threads']} thread(s), {result['machine']['cpu_model']}, "
        f"{result['machine']['date']} (`{result['command']}`)\n\n"
    )
    out.with_suffix(".md").write_text(header + markdown_table(result))
    return plot_curves(result, plot or out.with_suffix(".png"))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_reporting_errors("glow_ablation", lambda: ablate(args, argv))


def ablate(args: argparse.Namespace, argv: list[str] | None) -> int:
    if args.from_json:
        print(render(Path(args.from_json), Path(args.out), args.plot))
        return 0
    cfg = AblationConfig(
        data_root=args.data_root, dataset=args.dataset, clock=args.clock,
        budget_s=args.budget, slice_s=args.slice, eval_every_s=args.eval_every,
        threads=args.threads, n_levels=args.levels, n_steps=args.steps,
        hidden_channels=args.hidden, batch_size=args.batch_size, lr=args.lr,
        n_test=args.n_test, max_train=args.max_train, seed=args.seed,
        couplings=tuple(args.couplings.split(",")),
        permutations=tuple(args.permutations.split(",")),
    )  # fmt: skip
    started = time.perf_counter()
    command = "python tools/glow_ablation.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )

    last_write = [started]

    def write(result: dict) -> Path | None:
        """Write the outputs; partial results at most every SNAPSHOT_EVERY_S seconds."""
        now = time.perf_counter()
        if not result["complete"] and now - last_write[0] < SNAPSHOT_EVERY_S:
            return None
        last_write[0] = now
        return write_outputs(result, command, started, Path(args.out), args.plot)

    result = run_ablation(cfg, progress=None if args.quiet else print, snapshot=write)
    plot = write(result)
    out = Path(args.out)
    if not args.quiet:
        print(markdown_table(result))
        print(f"wrote {out.with_suffix('.json')}, {out.with_suffix('.md')}, {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
