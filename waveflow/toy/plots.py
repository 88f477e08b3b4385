"""The tutorial pictures of a trained 2-D flow: its density on a grid and its samples (PNG)."""

from __future__ import annotations

from pathlib import Path

import torch

from waveflow.toy.data import BOUNDS, PointDataset
from waveflow.toy.model import Toy2DFlow


def flow_label(model: Toy2DFlow) -> str:
    """The plot title's name of a flow: ``realnvp``, ``maf``, ``realnvp spline``, ..."""
    cfg = model.config
    return f"{cfg.flow} spline" if cfg.coupling == "spline" else cfg.flow


@torch.no_grad()
def density_grid(
    model: Toy2DFlow, bounds: tuple[float, float], resolution: int = 200
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(axis [R], p [R, R])``: the model density ``exp(log p)`` on a square grid; row ``i``
    is ``y = axis[i]``, column ``j`` is ``x = axis[j]``."""
    axis = torch.linspace(bounds[0], bounds[1], resolution)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([xx.flatten(), yy.flatten()], 1)
    param = next(model.parameters())
    log_p = (
        torch.cat([model.log_prob(chunk.to(param)) for chunk in points.split(8192)]).float().cpu()
    )
    return axis, log_p.exp().reshape(resolution, resolution)


def write_toy_plots(
    model: Toy2DFlow,
    data: PointDataset,
    out_dir: str | Path,
    n_samples: int = 2000,
    temperature: float = 1.0,
    seed: int = 0,
    resolution: int = 200,
) -> list[Path]:
    """Write ``density.png`` (model density heatmap) and ``samples.png`` (held-out data next to
    ``n_samples`` model samples) into ``out_dir``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = model.eval()
    bounds = BOUNDS[data.name]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    axis, density = density_grid(model, bounds, resolution)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.imshow(density.numpy(), origin="lower", extent=(*bounds, *bounds), cmap="viridis")
    ax.set_title(f"{flow_label(model)} density ({data.name})")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    density_path = out / "density.png"
    fig.savefig(density_path)
    plt.close(fig)

    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    samples = model.sample(n_samples, temperature, generator=generator).float().cpu()
    shown = data.points[:n_samples]
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), dpi=100)
    for ax, points, title in ((axes[0], shown, "data"), (axes[1], samples, "samples")):
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5)
        ax.set_xlim(*bounds)
        ax.set_ylim(*bounds)
        ax.set_aspect("equal")
        ax.set_title(
            f"{title} ({data.name})" if title == "data" else f"{flow_label(model)} {title}"
        )
    fig.tight_layout()
    samples_path = out / "samples.png"
    fig.savefig(samples_path)
    plt.close(fig)
    return [density_path, samples_path]


@torch.no_grad()
def mean_nll(model: Toy2DFlow, data: PointDataset) -> float:
    """Mean negative log-likelihood (nats per point) of ``data`` under ``model`` (eval mode)."""
    model = model.eval()
    param = next(model.parameters())
    return float(-model.log_prob(data.points.to(param)).double().mean())
