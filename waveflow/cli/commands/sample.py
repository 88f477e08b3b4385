"""`waveflow sample`: image grids from a Glow, NICE or RealNVP checkpoint; plots of a 2-D toy.

Writes to OUT: `samples_T<temperature>.png` (one grid per temperature), and with
--interpolate `interpolation.png` (rows morph one held-out image into another), with
--manipulate `manipulation.png` (rows: held-out images of the negative class moved along
mean-latent(positive) - mean-latent(negative) with strengths -1, -0.5, 0, 0.5, 1).
Held-out images come from the checkpoint's data section (override the folder with --data-root).
For a WaveGlow checkpoint use `waveflow synthesize`. For a `toy2d` checkpoint OUT gets
`density.png` (the model density) and `samples.png` (held-out points next to --n samples at the
last of --temperatures), and the held-out NLL is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from waveflow.cli.argtypes import nonnegative_floats, positive_int
from waveflow.cli.outputs import add_overwrite_option


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="sample image grids, interpolations and attribute edits from an image flow "
        "checkpoint (Glow, NICE, RealNVP), or density/sample plots of a toy2d one",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, type=Path, metavar="CKPT")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.add_argument(
        "--temperatures",
        type=nonnegative_floats,
        default=(0.0, 0.5, 0.7, 1.0),
        metavar="T1,T2,...",
        help="sampling temperatures (default 0,0.5,0.7,1.0)",
    )
    parser.add_argument("--n", type=positive_int, default=64, help="samples per grid (default 64)")
    parser.add_argument(
        "--nrow", type=positive_int, default=8, help="images per grid row (default 8)"
    )
    parser.add_argument(
        "--class-label",
        metavar="CLASS",
        help="class (index or name) of every sample; conditional models only "
        "(default: classes in turn)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--interpolate", action="store_true", help="write interpolation.png")
    parser.add_argument("--manipulate", action="store_true", help="write manipulation.png")
    parser.add_argument(
        "--attribute",
        metavar="POSITIVE,NEGATIVE",
        help="the two classes (index or name) for --manipulate (default: a dataset-specific "
        "pair, e.g. 'Ankle boot,Sneaker' on Fashion-MNIST)",
    )
    parser.add_argument("--data-root", help="held-out data folder (default: the checkpoint's)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from waveflow.checkpoint import load_checkpoint, model_from_checkpoint
    from waveflow.cli.outputs import check_outputs
    from waveflow.device import resolve_device
    from waveflow.errors import WaveflowError
    from waveflow.image.grid import save_grid
    from waveflow.image.sampling import temperature_samples
    from waveflow.task import IMAGE_TASKS, POINT_TASKS, VOCODER_TASKS

    ckpt = load_checkpoint(args.checkpoint)
    if ckpt["task"] in POINT_TASKS:
        return _toy_plots(ckpt, args)
    if ckpt["task"] in VOCODER_TASKS:
        raise WaveflowError(
            f"{args.checkpoint} is a vocoder (audio) checkpoint (task {ckpt['task']!r}): use "
            f"`waveflow synthesize --checkpoint {args.checkpoint} ...` to turn mel spectrograms "
            "into audio"
        )
    if ckpt["task"] not in IMAGE_TASKS:
        raise WaveflowError(f"{args.checkpoint}: cannot sample task {ckpt['task']!r}")
    planned = [args.out / f"samples_T{t:g}.png" for t in args.temperatures]
    planned += [args.out / "interpolation.png"] if args.interpolate else []
    planned += [args.out / "manipulation.png"] if args.manipulate else []
    check = check_outputs(planned, args.no_overwrite)
    if check.blocked:
        raise WaveflowError("; ".join(check.blocked.values()))
    model = model_from_checkpoint(ckpt, args.checkpoint).to(resolve_device(args.device)).eval()
    if args.class_label is not None and model.n_classes is None:
        raise WaveflowError("--class-label needs a class-conditional model (n_classes)")
    dataset = None
    if args.interpolate or args.manipulate or args.class_label is not None:
        from waveflow.image.evaluate import held_out_images

        dataset = held_out_images(ckpt, model, args.data_root)[0]
    names = getattr(dataset, "class_names", None)
    label = None
    if args.class_label is not None:
        from waveflow.image.demos import resolve_class

        label = resolve_class(args.class_label, names)
    written = []
    with torch.no_grad():
        samples = temperature_samples(model, args.temperatures, args.n, label, args.seed)
        for temperature, images in samples.items():
            path = args.out / f"samples_T{temperature:g}.png"
            written.append(save_grid(path, images, nrow=args.nrow))
        if args.interpolate:
            from waveflow.image.demos import interpolation_grid

            steps = 9
            written.append(
                save_grid(
                    args.out / "interpolation.png",
                    interpolation_grid(model, dataset, 4, steps),
                    nrow=steps,
                )
            )
        if args.manipulate:
            written.append(_manipulation(model, dataset, args.attribute, args.out))
    for path in written:
        print(path)
    replaced = f"; replaced {len(check.replacing)} existing file(s)" if check.replacing else ""
    print(f"wrote {len(written)} PNG file(s) to {args.out}{replaced}", file=sys.stderr)
    return 0


def _toy_plots(ckpt: dict, args: argparse.Namespace) -> int:
    from waveflow.checkpoint import model_from_checkpoint
    from waveflow.dataclass_dict import from_dict
    from waveflow.device import resolve_device
    from waveflow.errors import WaveflowError
    from waveflow.toy.data import Toy2DDataConfig, build_point_datasets
    from waveflow.toy.plots import mean_nll, write_toy_plots

    if args.n <= 0:
        raise WaveflowError("--n must be > 0")
    model = model_from_checkpoint(ckpt, args.checkpoint).to(resolve_device(args.device)).eval()
    data_cfg = from_dict(Toy2DDataConfig, ckpt["config"].get("data") or {}, "data")
    valid = build_point_datasets(data_cfg)[1]
    paths = write_toy_plots(
        model, valid, args.out, n_samples=args.n, temperature=args.temperatures[-1], seed=args.seed
    )
    for path in paths:
        print(path)
    print(f"held-out NLL: {mean_nll(model, valid):.4f} nats/point over {len(valid)} points")
    return 0


def _manipulation(model, dataset, attribute: str | None, out: Path) -> Path:
    from waveflow.errors import WaveflowError
    from waveflow.image.demos import (
        STRENGTHS,
        default_attribute,
        manipulation_grid,
        resolve_class,
    )
    from waveflow.image.grid import save_grid

    names = dataset.class_names
    if attribute is not None:
        parts = [p.strip() for p in attribute.split(",")]
        if len(parts) != 2:
            raise WaveflowError(f"--attribute must be POSITIVE,NEGATIVE, got {attribute!r}")
        pair = (resolve_class(parts[0], names), resolve_class(parts[1], names))
    else:
        pair = default_attribute(names)
        if pair is None:
            raise WaveflowError("--manipulate needs a dataset with at least two classes")
    grid = manipulation_grid(model, dataset, *pair, n_images=6)
    return save_grid(out / "manipulation.png", grid, nrow=len(STRENGTHS))
