"""No import circles in the package or the tools: every import counts (also those inside
functions and under ``TYPE_CHECKING``), so a circle cannot hide behind a lazy import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# (folder holding the top-level names, the folder to scan): `waveflow.x` from the repository
# root, the tools' `bench.x` / `ablation.x` / `reference.x` from tools/ (their entry scripts put
# tools/ on the path).
SOURCES = ((ROOT, ROOT / "waveflow"), (ROOT / "tools", ROOT / "tools"))


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module under `SOURCES`."""
    modules = {}
    for base, folder in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts:
                modules[".".join(parts)] = path
    return modules


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that the module `name` (file `path`) imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(anchor + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from package import module` imports the submodule; `from module import name` not
            targets = [f"{source}.{alias.name}" for alias in node.names] + [source]
            targets = [t for t in targets[:-1] if t in known] or [source]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported_modules(name, path, set(files)) for name, path in files.items()}


def test_the_checker_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_circles(graph) == [["a", "b", "c"]]


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    graph = import_graph()
    assert "waveflow.audio.models.chunked" in graph["waveflow.audio.models.waveglow"]  # lazy
    assert "bench.cases" in graph["bench.versus"]  # `from .cases import ...`


def test_no_import_circles() -> None:
    circles = import_circles(import_graph())
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_the_audio_rooms_stand_on_floors() -> None:
    """No circle between the rooms of waveflow/audio (models, formats, synthesis, data,
    tasks, metrics) either: a room imports only from rooms below it."""
    rooms: dict[str, set[str]] = {}
    for name, imported in import_graph().items():
        parts = name.split(".")
        if parts[:2] != ["waveflow", "audio"] or len(parts) < 3:
            continue
        targets = {t.split(".")[2] for t in imported if t.startswith("waveflow.audio.")}
        rooms.setdefault(parts[2], set()).update(targets - {parts[2]})
    assert {"models", "formats", "synthesis", "data", "tasks", "metrics"} <= set(rooms)
    for targets in rooms.values():
        for target in targets:
            rooms.setdefault(target, set())
    circles = import_circles(rooms)
    assert not circles, "circles between audio rooms: " + "; ".join(map(" <-> ".join, circles))


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("waveflow.audio.waveglow", "waveflow.audio.models.waveglow", "WaveGlow"),
        ("waveflow.audio.pretrained", "waveflow.audio.formats.pretrained", "load_default"),
    ],
)
def test_the_old_import_paths_of_the_gpu_kit_still_work_and_warn(old, new, name) -> None:
    """Scripts written before the rooms (the shared GPU comparison kit imports these two) keep
    working, with a DeprecationWarning that names the new home."""
    import importlib
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
