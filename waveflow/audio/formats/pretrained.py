"""The default vocoder shipped inside the package, used when no checkpoint is given.

Package data (``waveflow/audio/formats/weights/``, installed by ``pip install`` through
``[tool.setuptools.package-data]``):

- ``universal.pt``: a native WaveGlow checkpoint stripped to ``{task, config: {model, data},
  model}`` (weights possibly stored in fp16; they are loaded into an fp32 model), trained on
  five languages of Debian's Asterisk prompts by ``recipes/universal/run.sh``;
- ``universal.sha256``: ``"<sha256 hex>  universal.pt"``.

Both are written by :func:`package_vocoder` (the recipe's packaging stage).

:func:`load_default` verifies the checksum, then reads the file with the same safe loader as
every checkpoint (``waveflow.checkpoint.load_checkpoint``: tensors and plain containers only).
A copy of waveflow built without the file, a missing file or a checksum mismatch raises a
one-line ``WaveflowError`` saying what to do.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from waveflow.atomic import atomic_write, atomic_write_text
from waveflow.audio.data.features import MelConfig
from waveflow.audio.formats.vocoder_file import vocoder_from_checkpoint
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.checkpoint import load_checkpoint
from waveflow.errors import WaveflowError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CHECKPOINT_NAME = "universal.pt"
DIGEST_NAME = "universal.sha256"
MAX_BYTES = 25_000_000  # package data budget of the default vocoder (issue 10)
REINSTALL = (
    "reinstall waveflow (pip install --force-reinstall waveflow, or pip install -e . in a "
    "checkout that has the file) or pass --checkpoint CKPT"
)


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_checkpoint() -> Path:
    """The path of the packaged default vocoder after checking its SHA-256.

    Raises a one-line WaveflowError when no default vocoder is installed, when the checkpoint
    or its checksum file is missing, or when the checksum does not match.
    """
    checkpoint, digest_file = WEIGHTS_DIR / CHECKPOINT_NAME, WEIGHTS_DIR / DIGEST_NAME
    if not checkpoint.exists() and not digest_file.exists():
        raise WaveflowError(
            f"no default vocoder is installed with this copy of waveflow ({checkpoint} does not "
            "exist): pass --checkpoint CKPT, or build one with recipes/universal/run.sh"
        )
    for path in (checkpoint, digest_file):
        if not path.is_file():
            raise WaveflowError(
                f"the default vocoder is incomplete ({path} is missing): {REINSTALL}"
            )
    expected = digest_file.read_text(encoding="utf-8", errors="replace").split()[:1]
    actual = sha256_file(checkpoint)
    if expected != [actual]:
        shown = expected[0][:16] if expected else "nothing"
        raise WaveflowError(
            f"the default vocoder {checkpoint} is corrupted (sha256 {actual[:16]}..., expected "
            f"{shown}...): {REINSTALL}"
        )
    return checkpoint


def load_default(
    device: torch.device | str = "cpu", sample_rate: int | None = None
) -> tuple[WaveGlow, MelConfig]:
    """The packaged default vocoder: ``(WaveGlow in eval mode on device, its mel front end)``.

    The front end is Tacotron2's (22050 Hz, hop 256, 80 mels, fmax 8000), so Tacotron2-layout
    log-mels ``[80, frames]`` can be vocoded directly::

        model, mel_config = load_default()
        audio = model.infer(mel[None], sigma=0.6)[0]   # [frames * 256] at 22050 Hz

    A ``sample_rate`` other than 22050 is refused with both rates
    (:func:`~waveflow.audio.formats.vocoder_file.check_sample_rate`).
    """
    path = default_checkpoint()
    return vocoder_from_checkpoint(
        load_checkpoint(path), path, torch.device(device), sample_rate, "the default vocoder"
    )


def stripped_vocoder(ckpt: dict[str, Any], half: bool = False) -> dict[str, Any]:
    """A WaveGlow checkpoint reduced to what inference needs: ``{task, config: {model, data:
    {mel}}, model}``. The weights are ``model`` (the averaged weights of a run trained with
    ``train.ema_decay``; the raw ones, ``raw_model``, are dropped); ``half`` stores
    floating-point tensors as fp16 (half the size)."""
    state = ckpt["model"]
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    config: dict[str, Any] = {"model": ckpt["config"]["model"]}
    mel = (ckpt["config"].get("data") or {}).get("mel")
    if mel is not None:
        config["data"] = {"mel": mel}
    return {"task": ckpt["task"], "config": config, "model": state}


def package_vocoder(
    source: str | os.PathLike[str], weights_dir: str | os.PathLike[str], half: bool = False
) -> Path:
    """Write ``weights_dir/universal.pt`` (``stripped_vocoder`` of the WaveGlow checkpoint
    ``source``) and its ``universal.sha256``, atomically; returns the checkpoint path.

    The stripped checkpoint is rebuilt once before writing, so a file that would not load is
    never packaged."""
    ckpt = load_checkpoint(source)
    packed = stripped_vocoder(ckpt, half)
    vocoder_from_checkpoint(packed, source, torch.device("cpu"))
    target = Path(weights_dir) / CHECKPOINT_NAME
    atomic_write(target, lambda file: torch.save(packed, file))
    atomic_write_text(target.with_name(DIGEST_NAME), f"{sha256_file(target)}  {CHECKPOINT_NAME}\n")
    return target
