"""Checkpoint files: atomic writes under crashes, safe loading of bad files, load_model."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from engine_stand_in import ToyFlow, ToyTask

from waveflow import atomic
from waveflow import task as registry
from waveflow.checkpoint import load_checkpoint, load_model, save_checkpoint
from waveflow.errors import WaveflowError
from waveflow.train.rotation import latest_checkpoint, list_checkpoints


@pytest.fixture(autouse=True)
def toy_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.TASKS, "toy", ToyTask)


def native_checkpoint(hidden: int = 8) -> dict:
    torch.manual_seed(0)
    model = ToyFlow(4, hidden)
    model(torch.randn(16, 4))  # data-dependent init, so the saved weights are not the defaults
    return {
        "task": "toy",
        "config": {"model": {"dim": 4, "hidden": hidden}},
        "model": model.state_dict(),
    }


def test_a_write_failing_midway_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ckpt_00000001.pt"
    save_checkpoint({**native_checkpoint(), "step": 1}, path)

    def half_write_then_fail(state: object, f: object) -> None:
        f.write(b"PK\x03\x04 partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", half_write_then_fail)
    with pytest.raises(WaveflowError, match=r"cannot write .*ckpt_00000001.pt: disk full"):
        save_checkpoint({"step": 2}, path)
    with pytest.raises(WaveflowError, match="disk full"):
        save_checkpoint({"step": 2}, tmp_path / "ckpt_00000002.pt")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_00000001.pt"]
    assert load_checkpoint(path)["step"] == 1


KILLED_WRITER = """
import sys, time, torch
from waveflow.checkpoint import save_checkpoint
def slow_save(state, f):
    f.write(b"PK\\x03\\x04" + bytes(1 << 16))
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
torch.save = slow_save
save_checkpoint({"step": 2}, sys.argv[1])
"""


def test_a_process_killed_while_saving_leaves_no_partial_checkpoint(tmp_path: Path) -> None:
    save_checkpoint({**native_checkpoint(), "step": 1}, tmp_path / "ckpt_00000001.pt")
    target = tmp_path / "ckpt_00000002.pt"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert not target.exists()
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_00000001.pt"]
    assert latest_checkpoint(tmp_path).name == "ckpt_00000001.pt"
    assert load_checkpoint(tmp_path / "ckpt_00000001.pt")["step"] == 1


def test_truncated_and_foreign_files_are_one_line_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    save_checkpoint(native_checkpoint(), good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    tensor_only = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor_only)
    no_model = tmp_path / "no_model.pt"
    torch.save({"task": "toy", "config": {"model": {}}}, no_model)
    cases = {
        truncated: "truncated",
        empty: "cannot load checkpoint",
        tensor_only: "not a waveflow checkpoint",
        no_model: "no 'model' entry",
        tmp_path / "missing.pt": "checkpoint not found",
    }
    for path, message in cases.items():
        with pytest.raises(WaveflowError) as info:
            load_checkpoint(path)
        text = str(info.value)
        assert message in text and str(path) in text and "\n" not in text


class RunsShellCommand:
    """Unpickling an instance calls os.system(command)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return (os.system, (self.command,))


def test_a_malicious_pickle_is_refused_without_running_its_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = {"task": "toy", "config": {"model": {}}, "model": RunsShellCommand(f"touch {marker}")}
    raw_pickle = tmp_path / "raw.pt"
    raw_pickle.write_bytes(pickle.dumps(payload, protocol=2))
    zipped = tmp_path / "zipped.pt"
    torch.save(payload, zipped)
    for path in (raw_pickle, zipped):
        with pytest.raises(WaveflowError, match="refused") as info:
            load_model(path)
        assert str(path) in str(info.value)
    assert not marker.exists()


def test_load_model_rebuilds_a_minimal_native_checkpoint(tmp_path: Path) -> None:
    ckpt = native_checkpoint(hidden=5)
    save_checkpoint(ckpt, tmp_path / "native.pt")
    model, loaded = load_model(tmp_path / "native.pt")
    assert isinstance(model, ToyFlow) and not model.training
    assert loaded["task"] == "toy"
    for name, value in ckpt["model"].items():
        assert torch.equal(model.state_dict()[name], value)
    x = torch.randn(3, 4)
    assert torch.allclose(model.inverse(model(x)[0]), x, atol=1e-5)


def test_load_model_reports_a_config_that_does_not_fit_the_weights(tmp_path: Path) -> None:
    ckpt = native_checkpoint(hidden=5)
    ckpt["config"]["model"]["hidden"] = 6
    save_checkpoint(ckpt, tmp_path / "mismatch.pt")
    with pytest.raises(WaveflowError, match="does not match the model"):
        load_model(tmp_path / "mismatch.pt")
    ckpt["task"] = "no_such_task"
    save_checkpoint(ckpt, tmp_path / "unknown.pt")
    with pytest.raises(WaveflowError, match="unknown task 'no_such_task'"):
        load_model(tmp_path / "unknown.pt")


def test_atomic_write_cleans_up_its_temp_file_on_error(tmp_path: Path) -> None:
    def fail(f: object) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic.atomic_write(tmp_path / "x.bin", fail)
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_naming_a_module_never_imports_it(tmp_path: Path) -> None:
    ckpt = native_checkpoint()
    ckpt["task"] = "waveflow_probe_module_never_imported:Task"
    save_checkpoint(ckpt, tmp_path / "plugin.pt")
    probe = tmp_path / "waveflow_probe_module_never_imported.py"
    probe.write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(WaveflowError, match="never from a checkpoint"):
            load_model(tmp_path / "plugin.pt")
    finally:
        sys.path.remove(str(tmp_path))
    assert not (tmp_path / "imported").exists()
    assert "waveflow_probe_module_never_imported" not in sys.modules
