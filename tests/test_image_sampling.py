"""Grids, PNG files, latent demos, evaluation and the `waveflow sample` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from image_files import write_mnist_layout
from PIL import Image

from waveflow.cli import main
from waveflow.dataclass_dict import to_dict
from waveflow.errors import WaveflowError
from waveflow.image import Glow, GlowConfig
from waveflow.image.data import ImageDataConfig, ImageDataset
from waveflow.image.demos import interpolation_grid, manipulation_grid, resolve_class
from waveflow.image.evaluate import evaluate_bits_per_dim
from waveflow.image.grid import make_grid, save_grid
from waveflow.image.latent import interpolate
from waveflow.image.sampling import temperature_samples

TINY = GlowConfig(in_channels=1, image_size=32, n_bits=5, n_levels=2, n_steps=1, hidden_channels=4)


def test_make_grid_places_images_row_by_row():
    images = torch.stack([torch.full((1, 2, 3), v) for v in (0.1, 0.2, 0.3)])
    grid = make_grid(images, nrow=2, padding=1, pad_value=1.0)
    assert grid.shape == (1, 2 * 3 + 1, 2 * 4 + 1)
    assert torch.all(grid[:, 1:3, 1:4] == 0.1) and torch.all(grid[:, 1:3, 5:8] == 0.2)
    assert torch.all(grid[:, 4:6, 1:4] == 0.3) and torch.all(grid[:, 4:6, 5:8] == 1.0)
    assert torch.all(grid[:, 0] == 1.0)


def test_save_grid_writes_a_readable_png(tmp_path):
    images = torch.rand(5, 3, 4, 6)
    path = save_grid(tmp_path / "g.png", images, nrow=5, padding=0)
    with Image.open(path) as png:
        array = np.asarray(png)
    assert array.shape == (4, 30, 3)
    expected = (images[1].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    np.testing.assert_array_equal(array[:, 6:12], expected)
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]


def tiny_model(n_classes: int | None = None) -> Glow:
    torch.manual_seed(0)
    config = GlowConfig(**{**to_dict(TINY), "n_classes": n_classes})
    model = Glow.from_config(config)
    model.initialize(torch.rand(8, 1, 32, 32) - 0.5, torch.arange(8) % 10 if n_classes else None)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.02 * torch.randn_like(param))
    return model.eval()


def test_temperature_samples_scale_one_noise():
    model = tiny_model()
    grids = temperature_samples(model, (0.0, 0.7), n=4, seed=3)
    assert set(grids) == {0.0, 0.7}
    assert grids[0.7].shape == (4, 1, 32, 32)
    assert grids[0.7].min() >= 0 and grids[0.7].max() <= 1
    assert torch.equal(grids[0.0][0], grids[0.0][3])
    again = temperature_samples(model, (0.7,), n=4, seed=3)
    assert torch.equal(again[0.7], grids[0.7])


def test_interpolation_ends_reconstruct_the_images():
    model = tiny_model().double()
    levels = torch.randint(0, 32, (2, 1, 32, 32))
    x = (levels.double() + 0.5) / 32 - 0.5
    path = interpolate(model, x[0], x[1], steps=5)
    assert path.shape == (5, 1, 32, 32)
    torch.testing.assert_close(path[0], levels[0].float() / 31)
    torch.testing.assert_close(path[-1], levels[1].float() / 31)


def dataset_with_classes(n: int = 40, noise: bool = True) -> ImageDataset:
    torch.manual_seed(1)
    images = torch.randint(0, 256, (n, 1, 32, 32), dtype=torch.uint8)
    names = [f"c{i}" for i in range(10)]
    return ImageDataset(images, torch.arange(n) % 4, n_bits=5, noise=noise, class_names=names)


def test_manipulation_at_strength_zero_reconstructs_and_moves_otherwise():
    model = tiny_model()
    dataset = dataset_with_classes()
    grid = manipulation_grid(model, dataset, positive=1, negative=0, n_images=3)
    assert grid.shape == (15, 1, 32, 32)
    originals = dataset.images[dataset.labels == 0][:3]
    levels = originals.long() // 8
    torch.testing.assert_close(grid[2::5], levels.float() / 31, atol=1 / 31 + 1e-6, rtol=0)
    assert not torch.allclose(grid[0], grid[4])
    with pytest.raises(WaveflowError, match="classes 1 and 7"):
        manipulation_grid(model, dataset, positive=1, negative=7)
    assert interpolation_grid(model, dataset, n_pairs=2, steps=3).shape == (6, 1, 32, 32)
    assert resolve_class("c3", dataset.class_names) == 3 and resolve_class("2", None) == 2
    with pytest.raises(WaveflowError, match="unknown class"):
        resolve_class("dog", dataset.class_names)


def test_evaluate_bits_per_dim_is_the_mean_of_per_image_values():
    model = tiny_model()
    dataset = dataset_with_classes(10, noise=False)
    result = evaluate_bits_per_dim(model, dataset, batch_size=4)
    assert result["images"] == 10
    x = torch.stack([dataset[i][0] for i in range(10)])
    expected = model.bits_per_dim(x).mean().item()
    assert result["bits_per_dim"] == pytest.approx(expected, rel=1e-5)


def save_checkpoint(path, model: Glow, config: GlowConfig, data_root) -> None:
    data = to_dict(ImageDataConfig(dataset="fashion_mnist", root=str(data_root)))
    torch.save(
        {
            "task": "glow",
            "config": {"model": to_dict(config), "data": data},
            "model": model.state_dict(),
        },
        path,
    )


def test_sample_command_writes_pngs_and_evaluation_runs(tmp_path, capsys):
    data_root = tmp_path / "fm"
    write_mnist_layout(data_root, n_train=4, n_test=40)
    ckpt = tmp_path / "glow.pt"
    save_checkpoint(ckpt, tiny_model(), TINY, data_root)
    out = tmp_path / "samples"
    code = main(
        [
            "sample",
            "--checkpoint",
            str(ckpt),
            "--out",
            str(out),
            "--n",
            "6",
            "--temperatures",
            "0,0.7",
            "--interpolate",
            "--manipulate",
            "--attribute",
            "Sneaker,Sandal",
        ]
    )
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["interpolation.png", "manipulation.png", "samples_T0.7.png", "samples_T0.png"]
    with Image.open(out / "samples_T0.7.png") as png:
        assert png.size == (6 * 34 + 2, 34 + 2) and png.mode == "L"
    with Image.open(out / "manipulation.png") as png:
        assert png.size == (5 * 34 + 2, 4 * 34 + 2)  # 4 sandals in the 40 test images
    capsys.readouterr()
    report = tmp_path / "r.json"
    code = main(
        ["evaluate", "--checkpoint", str(ckpt), "--batch-size", "16", "--json", str(report)]
    )
    assert code == 0
    assert "test bits/dim" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["images"] == 40


@pytest.mark.parametrize("task", ["waveglow", "distill"])
def test_sample_command_points_every_vocoder_to_synthesize(tmp_path, capsys, task):
    ckpt = tmp_path / f"{task}.pt"
    torch.save({"task": task, "config": {"model": {}}, "model": {}}, ckpt)
    assert main(["sample", "--checkpoint", str(ckpt), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert f"vocoder (audio) checkpoint (task {task!r})" in err and "waveflow synthesize" in err


def test_sample_command_refuses_waveglow_and_bad_checkpoints(tmp_path, capsys):
    ckpt = tmp_path / "wg.pt"
    torch.save({"task": "waveglow", "config": {"model": {}}, "model": {}}, ckpt)
    assert main(["sample", "--checkpoint", str(ckpt), "--out", str(tmp_path / "o")]) == 1
    assert "waveflow synthesize" in capsys.readouterr().err
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert main(["sample", "--checkpoint", str(broken), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "broken.pt" in err and len(err.strip().splitlines()) == 1
    cond = tmp_path / "cond.pt"
    save_checkpoint(cond, tiny_model(), TINY, tmp_path)
    assert (
        main(
            [
                "sample",
                "--checkpoint",
                str(cond),
                "--out",
                str(tmp_path / "o"),
                "--class-label",
                "3",
            ]
        )
        == 1
    )
    assert "class-conditional" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
