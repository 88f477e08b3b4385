"""waveflow's flows against normflows (a peer flow library), same machine, same run.

Two parts:

* ``glow``: Fashion-MNIST (Debian's ``dataset-fashion-mnist``, 28x28 zero-padded to 32x32 as
  the recipe does). waveflow's Glow and normflows' Glow of the same size (levels, steps per
  level, hidden width, batch, optimiser, learning rate, warm-up, clipping) train for the same
  WALL-CLOCK budget each, interleaved in slices in one process (the order alternates every
  round) so the load of a shared machine hits both alike. Both see the same batches and are
  scored on the same dequantised test images. Reported: test bits/dim (uniform dequantisation,
  the usual bound) per seed, training images/s and their ratio.
* ``toy``: the 2-D densities (moons, checkerboard). Rational-quadratic spline coupling flows in
  both libraries (same couplings, bins, tail bound, hidden width; normflows' residual MLP has
  one block = two hidden layers, so waveflow's MLP gets three), plus waveflow's affine
  coupling flow with its width chosen to match the spline flow's parameter count. Same batches,
  same steps; test NLL (nats per point) on held-out points, per seed.

Usage (the numbers in docs/flow-library.md)::

    nice -n 10 python tools/versus_normflows.py --seeds 0,1,2 --budget 90 \\
        --out docs/benchmarks/versus-normflows

writes ``OUT.json`` (config, machine, every run) and ``OUT.md`` (the tables). Needs the
``bench`` extra (``pip install -e .[bench]``: normflows).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench.machine import machine_info  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from waveflow.image.data import ImageDataConfig, load_split  # noqa: E402
from waveflow.image.glow import Glow  # noqa: E402
from waveflow.image.pixels import bits_per_dim, dequantize, reduce_bits  # noqa: E402
from waveflow.toy.data import make_points  # noqa: E402
from waveflow.toy.model import Toy2DConfig, Toy2DFlow  # noqa: E402


@dataclasses.dataclass
class Contender:
    """One model being trained: its log-likelihood function, optimiser and clock."""

    name: str
    model: nn.Module
    log_prob: object  # callable x -> log p(x) [B] in nats
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    used_s: float = 0.0
    steps: int = 0
    diverged: bool = False

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


# ----------------------------------------------------------------------------- Glow


def normflows_glow(n_levels: int, n_steps: int, hidden: int, size: int) -> nn.Module:
    """normflows' multiscale Glow (its README's recipe) on ``[B, 1, size, size]``."""
    import normflows as nf

    flows, merges, bases = [], [], []
    for i in range(n_levels):
        level = [
            nf.flows.GlowBlock(2 ** (n_levels + 1 - i), hidden, split_mode="channel", scale=True)
            for _ in range(n_steps)
        ]
        flows.append([*level, nf.flows.Squeeze()])
        if i > 0:
            merges.append(nf.flows.Merge())
            k = n_levels - i
            shape = (2**k, size // 2**k, size // 2**k)
        else:
            shape = (2 ** (n_levels + 1), size // 2**n_levels, size // 2**n_levels)
        bases.append(nf.distributions.GlowBase(shape))
    return nf.MultiscaleFlow(bases, flows, merges, class_cond=False)


def load_images(args) -> tuple[Tensor, Tensor]:
    """Training levels ``[N, 1, 32, 32]`` and the fixed dequantised test images."""
    cfg = ImageDataConfig(dataset="fashion_mnist", root=args.data_root)
    train, _, _ = load_split(cfg, "train", 1, 32)
    test, _, _ = load_split(cfg, "test", 1, 32)
    train_levels = reduce_bits(torch.from_numpy(train), args.n_bits)
    test_levels = reduce_bits(torch.from_numpy(test[: args.n_test]), args.n_bits)
    noise = torch.Generator().manual_seed(1)
    return train_levels, dequantize(test_levels, args.n_bits, generator=noise)


def glow_contenders(args, seed: int, init_x: Tensor) -> list[Contender]:
    runs = []
    for name in ("waveflow", "normflows"):
        torch.manual_seed(seed)
        if name == "waveflow":
            model = Glow(
                in_channels=1,
                n_levels=args.levels,
                n_steps=args.steps,
                hidden_channels=args.hidden,
                image_size=32,
                n_bits=args.n_bits,
            )
            log_prob = model.log_prob
        else:
            model = normflows_glow(args.levels, args.steps, args.hidden, 32)

            def log_prob(x: Tensor, model: nn.Module = model) -> Tensor:
                return model.log_prob(x, None)

        with torch.no_grad():
            log_prob(init_x)  # data-dependent ActNorm initialisation, same batch for both
        optimizer = torch.optim.Adamax(model.parameters(), lr=args.lr)
        generator = torch.Generator().manual_seed(seed + 2)
        runs.append(Contender(name, model, log_prob, optimizer, generator))
    return runs


@torch.no_grad()
def test_bpd(run: Contender, test_x: Tensor, n_bits: int) -> float:
    run.model.eval()
    total = 0.0
    for chunk in test_x.split(250):
        total += float(bits_per_dim(run.log_prob(chunk), math.prod(chunk.shape[1:]), n_bits).sum())
    run.model.train()
    return total / test_x.shape[0]


def train_slice(run: Contender, batch_fn, args, budget: float) -> None:
    """Train ``run`` for one slice of wall-clock time (training steps only count)."""
    end = min(run.used_s + args.slice, budget)
    while not run.diverged and run.used_s < end:
        x = batch_fn(run)
        for group in run.optimizer.param_groups:
            group["lr"] = args.lr * min(1.0, (run.steps + 1) / args.warmup)
        start = time.perf_counter()
        loss = -run.log_prob(x).mean()
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), 50.0)
        run.optimizer.step()
        run.used_s += time.perf_counter() - start
        run.steps += 1
        run.diverged = not math.isfinite(float(loss.detach()))


def run_glow(args, log) -> list[dict]:
    train_levels, test_x = load_images(args)
    rows = []
    for seed in args.seeds:
        g = torch.Generator().manual_seed(seed + 3)
        index = torch.randint(train_levels.shape[0], (256,), generator=g)
        init_x = dequantize(train_levels[index], args.n_bits, generator=g)
        runs = glow_contenders(args, seed, init_x)

        def batch(run: Contender) -> Tensor:
            i = torch.randint(train_levels.shape[0], (args.batch_size,), generator=run.generator)
            return dequantize(train_levels[i], args.n_bits, generator=run.generator)

        round_index = 0
        while any(r.used_s < args.budget and not r.diverged for r in runs):
            order = runs if round_index % 2 == 0 else runs[::-1]
            for run in order:
                train_slice(run, batch, args, args.budget)
            round_index += 1
            log(" | ".join(f"{r.name} {r.used_s:5.1f}s {r.steps} steps" for r in runs))
        for run in runs:
            bpd = None if run.diverged else test_bpd(run, test_x, args.n_bits)
            row = {
                "part": "glow",
                "seed": seed,
                "library": run.name,
                "steps": run.steps,
                "train_s": run.used_s,
                "images_per_s": run.steps * args.batch_size / run.used_s,
                "test_bpd": bpd,
                "parameters": run.parameters,
                "diverged": run.diverged,
            }
            log(json.dumps(row))
            rows.append(row)
    return rows


# ------------------------------------------------------------------------------ toy


def normflows_spline_flow(n_couplings: int, hidden: int, bins: int, bound: float) -> nn.Module:
    import normflows as nf

    flows = [
        nf.flows.CoupledRationalQuadraticSpline(
            2, 1, hidden, num_bins=bins, tail_bound=bound, reverse_mask=bool(i % 2)
        )
        for i in range(n_couplings)
    ]
    return nf.NormalizingFlow(q0=nf.distributions.DiagGaussian(2, trainable=False), flows=flows)


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def toy_models(args, seed: int) -> list[tuple[str, nn.Module, object]]:
    common = dict(
        n_couplings=args.toy_couplings,
        norm="none",
        prior="gaussian",
        n_hidden_layers=3,
        n_bins=args.toy_bins,
        tail_bound=args.toy_bound,
    )
    torch.manual_seed(seed)

    def flow(coupling: str, width: int) -> Toy2DFlow:
        cfg = Toy2DConfig(flow="realnvp", coupling=coupling, hidden_features=width, **common)
        return Toy2DFlow(cfg)

    spline = flow("spline", args.toy_hidden)
    target = count(spline)
    low, high = 1, 1024  # the parameter count grows with the width: bisect for the target
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if count(flow("affine", mid)) <= target else (low, mid)
    width = min((low, high), key=lambda w: abs(count(flow("affine", w)) - target))
    torch.manual_seed(seed)
    affine = flow("affine", width)
    torch.manual_seed(seed)
    peer = normflows_spline_flow(args.toy_couplings, args.toy_hidden, args.toy_bins, args.toy_bound)
    return [
        ("waveflow spline coupling", spline, spline.log_prob),
        ("waveflow affine coupling (equal parameters)", affine, affine.log_prob),
        ("normflows spline coupling", peer, peer.log_prob),
    ]


def run_toy(args, log) -> list[dict]:
    rows = []
    for dataset in ("moons", "checkerboard"):
        for seed in args.seeds:
            train = torch.from_numpy(make_points(dataset, 20000, np.random.default_rng([seed, 0])))
            test = torch.from_numpy(make_points(dataset, 10000, np.random.default_rng([seed, 5])))
            runs = [
                Contender(
                    name,
                    model,
                    log_prob,
                    torch.optim.Adam(model.parameters(), lr=args.toy_lr),
                    torch.Generator().manual_seed(seed + 2),
                )
                for name, model, log_prob in toy_models(args, seed)
            ]

            def batch(run: Contender, train: Tensor = train) -> Tensor:
                return train[torch.randint(len(train), (256,), generator=run.generator)]

            for run in runs:
                start = time.perf_counter()
                for step in range(args.toy_steps):
                    lr = args.toy_lr * 0.5 * (1 + math.cos(math.pi * step / args.toy_steps))
                    for group in run.optimizer.param_groups:
                        group["lr"] = lr
                    loss = -run.log_prob(batch(run)).mean()
                    run.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(run.model.parameters(), 10.0)
                    run.optimizer.step()
                run.used_s = time.perf_counter() - start
                run.model.eval()
                with torch.no_grad():
                    nll = float(-run.log_prob(test).double().mean())
                row = {
                    "part": "toy",
                    "dataset": dataset,
                    "seed": seed,
                    "model": run.name,
                    "steps": args.toy_steps,
                    "train_s": run.used_s,
                    "test_nll": nll,
                    "parameters": run.parameters,
                }
                log(json.dumps(row))
                rows.append(row)
    return rows


# --------------------------------------------------------------------------- report


def mean_std(values: list[float]) -> str:
    if not values:
        return "diverged"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def markdown(result: dict) -> str:
    machine = result["machine"]
    lines = [
        f"Command: `{result['command']}`  ",
        f"Machine: {machine['cpu_model']}, {result['config']['threads']} torch thread(s), "
        f"torch {machine['torch_version']}, {machine['datetime_utc']}",
        "",
    ]
    glow = [r for r in result["rows"] if r["part"] == "glow"]
    if glow:
        c = result["config"]
        lines += [
            f"Fashion-MNIST Glow, {c['levels']} levels x {c['steps']} steps, width "
            f"{c['hidden']}, batch {c['batch_size']}, {c['n_bits']}-bit, "
            f"{c['budget']:g} s of training each (wall clock, interleaved), test bits/dim on "
            f"{c['n_test']} images "
            "(uniform dequantisation), mean ± std over seeds:",
            "",
            "| library | parameters | test bits/dim | training images/s | steps |",
            "|---|---|---|---|---|",
        ]
        for lib in ("waveflow", "normflows"):
            rs = [r for r in glow if r["library"] == lib]
            lines.append(
                f"| {lib} | {rs[0]['parameters']:,} | "
                f"{mean_std([r['test_bpd'] for r in rs if r['test_bpd'] is not None])} | "
                f"{mean_std([r['images_per_s'] for r in rs])} | "
                f"{statistics.mean(r['steps'] for r in rs):.0f} |"
            )
        ratios = [
            w["images_per_s"] / n["images_per_s"]
            for w in glow
            if w["library"] == "waveflow"
            for n in glow
            if n["library"] == "normflows" and n["seed"] == w["seed"]
        ]
        lines += [
            "",
            f"Training speed ratio waveflow / normflows (same run, per seed): "
            f"{', '.join(f'{r:.2f}x' for r in ratios)}",
            "",
        ]
    toy = [r for r in result["rows"] if r["part"] == "toy"]
    if toy:
        c = result["config"]
        lines += [
            f"2-D toy densities, {c['toy_couplings']} couplings, {c['toy_bins']} bins on "
            f"[-{c['toy_bound']:g}, {c['toy_bound']:g}], {c['toy_steps']} steps of 256 "
            "points, "
            "test NLL in nats per point on 10000 held-out points (lower is better), mean ± "
            "std over seeds:",
            "",
            "| density | model | parameters | test NLL | training s |",
            "|---|---|---|---|---|",
        ]
        for dataset in ("moons", "checkerboard"):
            names = dict.fromkeys(r["model"] for r in toy if r["dataset"] == dataset)
            for name in names:
                rs = [r for r in toy if r["dataset"] == dataset and r["model"] == name]
                lines.append(
                    f"| {dataset} | {name} | {rs[0]['parameters']:,} | "
                    f"{mean_std([r['test_nll'] for r in rs])} | "
                    f"{statistics.mean(r['train_s'] for r in rs):.1f} |"
                )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", choices=["glow", "toy", "all"], default="all")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--data-root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--budget", type=float, default=90.0, help="wall seconds of training per model")
    p.add_argument("--slice", type=float, default=5.0, help="seconds per interleaved turn")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--levels", type=int, default=2)
    p.add_argument("--steps", type=int, default=4, help="flow steps per level")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--n-bits", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--toy-steps", type=int, default=1500)
    p.add_argument("--toy-couplings", type=int, default=4)
    p.add_argument("--toy-hidden", type=int, default=64)
    p.add_argument("--toy-bins", type=int, default=8)
    p.add_argument("--toy-bound", type=float, default=4.0)
    p.add_argument("--toy-lr", type=float, default=1e-3)
    p.add_argument("--out", default="versus-normflows", help="prefix of OUT.json and OUT.md")
    args = p.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(args.threads)
    given = argv if argv is not None else sys.argv[1:]
    command = "python tools/versus_normflows.py " + " ".join(given)
    config = {k: v for k, v in vars(args).items() if k != "out"}
    rows: list[dict] = []

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def write() -> None:
        result = {
            "command": command,
            "config": config,
            "rows": rows,
            "machine": machine_info(torch.device("cpu")),
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        out.with_suffix(".md").write_text(markdown(result))

    if args.part in ("toy", "all"):
        rows += run_toy(args, log)
        write()
    if args.part in ("glow", "all"):
        rows += run_glow(args, log)
        write()
    print(Path(args.out).with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
