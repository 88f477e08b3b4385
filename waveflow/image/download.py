"""Download helpers for MNIST, Fashion-MNIST and CIFAR-10 (public URLs, MD5-checked).

Files land in ``root`` exactly as the loaders expect them: the four ``*-ubyte.gz`` files for
(Fashion-)MNIST, ``root/cifar-10-batches-py/`` for CIFAR-10. Without network access the
error says which files to fetch and where to put them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from waveflow.errors import WaveflowError


@dataclass(frozen=True)
class Resource:
    """Files of one dataset: ``{file name: md5}`` under one base URL."""

    base_url: str
    files: dict[str, str]


IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
RESOURCES = {
    "mnist": Resource(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        dict(
            zip(
                IDX_FILES,
                (
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                    "9fb629c4189551a2d022fa330f9573f3",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
                strict=True,
            )
        ),
    ),
    "fashion_mnist": Resource(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        dict(
            zip(
                IDX_FILES,
                (
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "25c81989df183df01b3e8a0aad5dffbe",
                    "bef4ecab320f06d8554ea6380940ec79",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ),
                strict=True,
            )
        ),
    ),
    "cifar10": Resource(
        "https://www.cs.toronto.edu/~kriz/",
        {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
    ),
}


def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(url: str, target: Path, md5: str, timeout: float = 60.0) -> None:
    """Fetch ``url`` into ``target`` (temp file + rename), refusing a wrong checksum."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        actual = md5sum(tmp)
        if actual != md5:
            raise WaveflowError(f"{url}: checksum mismatch (md5 {actual}, expected {md5})")
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError) as err:
        raise WaveflowError(
            f"cannot download {url} ({err}); without network access, fetch it elsewhere and "
            f"put it at {target}"
        ) from err
    finally:
        tmp.unlink(missing_ok=True)


def download_dataset(name: str, root: str | os.PathLike[str]) -> Path:
    """Download (if missing or corrupt) and unpack dataset ``name`` into ``root``."""
    if name not in RESOURCES:
        raise WaveflowError(f"no download for dataset {name!r} (known: {', '.join(RESOURCES)})")
    resource = RESOURCES[name]
    root = Path(root)
    for file_name, md5 in resource.files.items():
        target = root / file_name
        if target.is_file() and md5sum(target) == md5:
            continue
        download_file(resource.base_url + file_name, target, md5)
    if name == "cifar10" and not (root / "cifar-10-batches-py" / "test_batch").is_file():
        extract_tar(root / "cifar-10-python.tar.gz", root)
    return root


def extract_tar(archive: Path, dest: Path) -> None:
    """Extract regular files and folders of ``archive`` into ``dest``; refuse links, absolute
    paths and ``..`` components."""
    dest = dest.resolve()
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                target = (dest / member.name).resolve()
                unsafe = not (member.isfile() or member.isdir())
                if unsafe or not target.is_relative_to(dest):
                    raise WaveflowError(f"{archive}: refusing unsafe member {member.name!r}")
            for member in members:
                target = dest / member.name
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    raise WaveflowError(f"{archive}: cannot read member {member.name!r}")
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise WaveflowError(f"{archive}: corrupt archive ({err})") from err
