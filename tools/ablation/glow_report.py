"""The ablation's outputs: a markdown table, the check against the paper's ordering, one PNG.

Input is the dict returned by :func:`ablation.glow_runner.run_ablation`.
"""

from __future__ import annotations

from pathlib import Path

from ablation.glow_runner import PERMUTATIONS

PAPER_ORDER = ("conv1x1", "shuffle", "reverse")  # Glow, Figure 3: best (lowest NLL) first
FRACTIONS = (0.25, 0.5, 1.0)


def bpd_at(curve: list[dict[str, float]], time_s: float) -> float:
    """Test bits/dim of the evaluation nearest to ``time_s`` training seconds (evaluations
    happen at the first step boundary after each mark, so slightly after it)."""
    return min(curve, key=lambda point: abs(point["time_s"] - time_s))["test_bpd"]


def paper_order_checks(result: dict) -> list[dict[str, object]]:
    """For each coupling: the permutations ranked by test bits/dim at the budget reached (the
    full budget of a complete run), and whether that is the paper's ranking
    (1x1 conv < shuffle < reverse); diverged runs rank last."""
    checks = []
    runs = result["runs"]
    for coupling in dict.fromkeys(r["coupling"] for r in runs):
        mine = [r for r in runs if r["coupling"] == coupling]
        ranked = sorted(mine, key=lambda r: _score(r, result["budget_reached_s"]))
        order = [r["permutation"] for r in ranked]
        expected = [p for p in PAPER_ORDER if p in order]
        checks.append({"coupling": coupling, "order": order, "matches_paper": order == expected})
    return checks


def _score(run: dict, horizon: float) -> tuple[bool, float]:
    """Sort key: diverged runs last, then test bits/dim at ``horizon`` seconds."""
    return run["diverged"], 0.0 if run["diverged"] else bpd_at(run["curve"], horizon)


def markdown_table(result: dict) -> str:
    """One row per config: steps, training seconds and test bits/dim at 1/4, 1/2 and all of
    the budget; then one line per coupling comparing the ranking with the paper's."""
    budget = result["budget_reached_s"]
    clock = "CPU" if result["config"]["clock"] == "cpu" else "wall-clock"
    heads = [f"bpd @ {f * budget:.3g} s" for f in FRACTIONS]
    lines = [
        f"| coupling | permutation | params | steps | {clock} s | " + " | ".join(heads) + " |",
        "|---|---|---:|---:|---:|" + "---:|" * len(FRACTIONS),
    ]
    order = {p: i for i, p in enumerate(PERMUTATIONS)}
    for run in sorted(result["runs"], key=lambda r: (r["coupling"], order[r["permutation"]])):
        values = [f"{bpd_at(run['curve'], f * budget):.4f}" for f in FRACTIONS]
        if run["diverged"]:
            values[-1] = "diverged"
        lines.append(
            f"| {run['coupling']} | {run['permutation']} | {run['parameters']:,} | "
            f"{run['steps']} | {run['train_s']:.0f} | " + " | ".join(values) + " |"
        )
    lines.append("")
    for check in paper_order_checks(result):
        verdict = "matches" if check["matches_paper"] else "differs from"
        lines.append(
            f"- {check['coupling']}: best to worst {' < '.join(check['order'])} ({verdict} the "
            f"paper's {' < '.join(PAPER_ORDER)})"
        )
    return "\n".join(lines) + "\n"


def plot_curves(result: dict, path: str | Path, title: str | None = None) -> Path:
    """One PNG: test bits/dim against training seconds, one line per config (colour =
    permutation, line style = coupling)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"reverse": "tab:green", "shuffle": "tab:blue", "conv1x1": "tab:red"}
    styles = {"additive": "--", "affine": "-"}
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for run in result["runs"]:
        times = [p["time_s"] for p in run["curve"]]
        bpd = [p["test_bpd"] for p in run["curve"]]
        ax.plot(
            times, bpd, styles[run["coupling"]], color=colours[run["permutation"]],
            marker=".", label=run["name"],
        )  # fmt: skip
    finals = [p["test_bpd"] for r in result["runs"] for p in r["curve"][1:]]
    if finals:  # zoom on the training curves, not on the untrained starting point
        low, high = min(finals), sorted(finals)[int(0.9 * (len(finals) - 1))]
        ax.set_ylim(low - 0.05 * (high - low + 1e-3), high + 0.1 * (high - low + 1e-3))
    clock = "CPU" if result["config"]["clock"] == "cpu" else "wall-clock"
    ax.set_xlabel(f"training {clock} seconds per config")
    ax.set_ylabel("test bits/dim")
    ax.set_title(title or "Glow ablation on Fashion-MNIST (coupling x permutation)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
