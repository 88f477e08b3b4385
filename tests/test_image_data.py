"""Image data: IDX, CIFAR-10 pickles (safely), folders, pixel convention, downloads."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from image_files import SYSTEM_FASHION_MNIST, idx_bytes, write_cifar, write_mnist_layout

from waveflow.errors import WaveflowError
from waveflow.image.cifar import load_cifar10_split, read_cifar_batch
from waveflow.image.data import ImageDataConfig, build_image_datasets, fit_size
from waveflow.image.download import download_file, extract_tar, md5sum
from waveflow.image.idx import read_idx
from waveflow.image.pixels import dequantize, reduce_bits, to_unit_range


def test_idx_reader_reads_gzip_and_raw_and_names_corrupt_files(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array)))
    (tmp_path / "b").write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "b"), array)
    (tmp_path / "short").write_bytes(idx_bytes(array)[:-5])
    with pytest.raises(WaveflowError, match="short.*truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(idx_bytes(array))[:20])
    with pytest.raises(WaveflowError, match="bad.gz.*gzip"):
        read_idx(tmp_path / "bad.gz")
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(WaveflowError, match="text.*not an IDX"):
        read_idx(tmp_path / "text")
    with pytest.raises(WaveflowError, match="not found"):
        read_idx(tmp_path / "missing")


def test_mnist_layout_datasets_pad_to_32_and_dequantise(tmp_path):
    write_mnist_layout(tmp_path)
    cfg = ImageDataConfig(dataset="fashion_mnist", root=str(tmp_path), n_valid=4)
    train, valid = build_image_datasets(cfg, channels=1, image_size=32, n_bits=5)
    assert len(train) == 20 and len(valid) == 4
    x, y = train[3]
    assert x.shape == (1, 32, 32) and x.dtype == torch.float32 and int(y) == 3
    assert x.min() >= -0.5 and x.max() < 0.5
    raw = read_idx(tmp_path / "train-images-idx3-ubyte.gz")[3]
    levels = torch.floor((x[0, 2:30, 2:30] + 0.5) * 32).long()
    torch.testing.assert_close(levels, torch.from_numpy(raw.astype(np.int64)) // 8)
    border = torch.floor((x[0, :2] + 0.5) * 32)
    assert (border == 0).all()  # zero padding
    with pytest.raises(WaveflowError, match="3 channel"):
        build_image_datasets(ImageDataConfig(dataset="cifar10", root=str(tmp_path)), 1, 32, 8)
    with pytest.raises(WaveflowError, match="model.in_channels"):
        build_image_datasets(cfg, channels=3, image_size=32, n_bits=8)


@pytest.mark.skipif(not SYSTEM_FASHION_MNIST.is_dir(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_files_load():
    cfg = ImageDataConfig(dataset="fashion_mnist", root=str(SYSTEM_FASHION_MNIST), n_valid=100)
    train, valid = build_image_datasets(cfg, 1, 32, 8)
    assert len(train) == 60000 and len(valid) == 100
    assert sorted(set(valid.labels.tolist())) == list(range(10))


def test_pixel_convention_round_trips_levels():
    pixels = torch.arange(256, dtype=torch.uint8)
    for n_bits in (8, 5, 1):
        levels = reduce_bits(pixels, n_bits)
        assert levels.max() == 2**n_bits - 1
        x = dequantize(levels, n_bits)
        assert torch.equal(torch.floor((x + 0.5) * 2**n_bits).long(), levels)
        shown = to_unit_range(x, n_bits)
        torch.testing.assert_close(shown, levels.float() / (2**n_bits - 1))
    odd = torch.tensor([float("nan"), float("inf"), -7.0, 0.9])
    assert to_unit_range(odd, 8).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_fit_size_resize_and_refusal():
    images = np.full((2, 1, 28, 28), 200, dtype=np.uint8)
    resized = fit_size(images, 32, "resize")
    assert resized.shape == (2, 1, 32, 32) and (resized == 200).all()
    with pytest.raises(WaveflowError, match="pad_mode=resize"):
        fit_size(images, 16, "zeros")


def test_horizontal_flips_only_flip(tmp_path):
    write_mnist_layout(tmp_path)
    cfg = ImageDataConfig(dataset="mnist", root=str(tmp_path), flips=True)
    train, _ = build_image_datasets(cfg, 1, 28, 8)
    image = train.images[0]
    seen = set()
    torch.manual_seed(0)
    for _ in range(20):
        levels = torch.floor((train[0][0] + 0.5) * 256).to(torch.uint8)
        assert torch.equal(levels, image) or torch.equal(levels, image.flip(-1))
        seen.add(torch.equal(levels, image))
    assert seen == {True, False}


class Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_cifar_batches_load_and_malicious_pickles_are_refused(tmp_path):
    write_cifar(tmp_path)
    images, labels = load_cifar10_split(tmp_path, "train")
    assert images.shape == (30, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == [i % 10 for i in range(6)] * 5
    raw = pickle.loads((tmp_path / "cifar-10-batches-py" / "test_batch").read_bytes())
    np.testing.assert_array_equal(
        read_cifar_batch(tmp_path / "cifar-10-batches-py" / "test_batch")[0][2, 1],
        raw[b"data"][2, 1024:2048].reshape(32, 32),
    )
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil_batch"
    evil.write_bytes(pickle.dumps({b"data": Exploit(marker), b"labels": []}))
    with pytest.raises(WaveflowError, match="evil_batch.*refusing to load global"):
        read_cifar_batch(evil)
    assert not marker.exists()
    truncated = tmp_path / "truncated_batch"
    truncated.write_bytes((tmp_path / "cifar-10-batches-py" / "test_batch").read_bytes()[:100])
    with pytest.raises(WaveflowError, match="truncated_batch"):
        read_cifar_batch(truncated)


def test_image_folder_with_classes_and_a_corrupt_file(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            array = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
            Image.fromarray(array).save(tmp_path / cls / f"{i}.png")
    cfg = ImageDataConfig(dataset="folder", root=str(tmp_path), n_valid=2)
    train, valid = build_image_datasets(cfg, channels=3, image_size=16, n_bits=8)
    assert len(train) == 8 and len(valid) == 2
    assert train[0][0].shape == (3, 16, 16)
    assert train.class_names == ["cats", "dogs"]
    assert sorted(torch.cat([train.labels, valid.labels]).tolist()) == [0] * 5 + [1] * 5
    (tmp_path / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(WaveflowError, match="broken.png"):
        build_image_datasets(cfg, channels=3, image_size=16, n_bits=8)


def test_download_checks_md5_and_explains_offline_failures(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"some dataset bytes")
    target = tmp_path / "out" / "file.bin"
    download_file(source.as_uri(), target, md5sum(source))
    assert target.read_bytes() == source.read_bytes()
    other = tmp_path / "out" / "other.bin"
    with pytest.raises(WaveflowError, match="checksum mismatch"):
        download_file(source.as_uri(), other, "0" * 32)
    assert not other.exists() and len(list(other.parent.iterdir())) == 1
    with pytest.raises(WaveflowError, match=f"put it at {other}"):
        download_file((tmp_path / "nowhere").as_uri(), other, "0" * 32)


def test_extract_tar_refuses_path_traversal(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(WaveflowError, match="unsafe member"):
        extract_tar(archive, tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()
