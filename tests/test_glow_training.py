"""A few optimisation steps lower bits/dim; the engine trains the "glow" task end to end."""

from __future__ import annotations

import torch
from image_files import fashion_mnist_root, write_mnist_layout

from waveflow.checkpoint import load_model
from waveflow.image.data import ImageDataConfig, build_image_datasets
from waveflow.image.task import GlowTask
from waveflow.train.engine import train

SMALL_MODEL = {
    "in_channels": 1,
    "image_size": 32,
    "n_bits": 5,
    "n_levels": 2,
    "n_steps": 2,
    "hidden_channels": 16,
}


def test_a_few_steps_lower_bits_per_dim(tmp_path):
    torch.manual_seed(0)
    task = GlowTask()
    model = task.build_model(task.model_config(**SMALL_MODEL))
    data_cfg = ImageDataConfig(
        dataset="fashion_mnist", root=str(fashion_mnist_root(tmp_path)), n_valid=64, max_train=512
    )
    train_set, valid_set = build_image_datasets(data_cfg, 1, 32, 5)
    valid_set.noise = False
    valid_batch = (torch.stack([valid_set[i][0] for i in range(64)]), valid_set.labels[:64])
    loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True)
    options = task.loss_config()
    task.initialize(model, next(iter(loader)), options)
    with torch.no_grad():
        before = task.loss(model, valid_batch, options)["bits_per_dim"].item()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step, batch in enumerate(loader):
        optimizer.zero_grad()
        task.loss(model, batch, options)["loss"].backward()
        optimizer.step()
        if step == 11:
            break
    with torch.no_grad():
        after = task.loss(model, valid_batch, options)["bits_per_dim"].item()
    assert after < before - 0.3, (before, after)


def test_engine_trains_a_class_conditional_glow_and_saves_a_loadable_checkpoint(tmp_path):
    root = tmp_path / "fm"
    write_mnist_layout(root, n_train=32, n_test=8)
    config = {
        "task": "glow",
        "model": {**SMALL_MODEL, "n_steps": 1, "hidden_channels": 4, "n_classes": 10},
        "data": {"dataset": "fashion_mnist", "root": str(root)},
        "train": {
            "exp_dir": str(tmp_path / "exp"),
            "steps": 3,
            "batch_size": 8,
            "num_workers": 0,
            "optimizer": "adamax",
            "lr": 1e-3,
            "log_every": 1,
            "valid_every": 3,
            "ckpt_every": 3,
            "media_every": 3,
            "device": "cpu",
        },
    }
    metrics = train(config)
    assert metrics["step"] == 3
    for key in ("valid/bits_per_dim", "valid/class_bits", "valid/class_accuracy"):
        assert torch.isfinite(torch.tensor(metrics[key])), key
    model, ckpt = load_model(tmp_path / "exp" / "ckpt_00000003.pt")
    assert ckpt["task"] == "glow" and model.n_classes == 10
    assert model.sample(2, 0.5, y=torch.tensor([1, 2])).shape == (2, 1, 32, 32)
    assert any(p.name.startswith("events") for p in (tmp_path / "exp" / "tb").iterdir())
