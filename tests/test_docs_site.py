"""The documentation site (mkdocs.yml, docs/) builds with `mkdocs build --strict`: every link
and anchor resolves, every page is in the nav, and MkDocs reports no warning."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def nav_pages(nav) -> list[str]:
    """Every page file named in a MkDocs nav (nested sections included)."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    return [page for item in nav for page in nav_pages(item)]


def test_the_site_builds_strictly_without_warnings(tmp_path):
    site = tmp_path / "site"
    missing = [name for name in ("mkdocs", "material") if importlib.util.find_spec(name) is None]
    assert not missing, f"the site needs the docs extra (pip install -e '.[docs]'): no {missing}"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's end-of-life banner
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    warnings = [line for line in log.splitlines() if "WARNING" in line]
    assert not warnings, "\n".join(warnings)
    assert (site / "index.html").is_file()


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    listed = nav_pages(config["nav"])
    missing = [page for page in listed if not (DOCS / page).is_file()]
    assert not missing, f"mkdocs.yml's nav names pages that do not exist: {missing}"
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.glob("*.md"))
    unlisted = [page for page in pages if page not in listed]
    assert not unlisted, f"pages under docs/ missing from mkdocs.yml's nav: {unlisted}"


def test_the_nav_walk_finds_nested_pages():
    nav = [{"Home": "index.md"}, {"Vocoder": [{"A": "a.md"}, "b.md"]}]
    assert nav_pages(nav) == ["index.md", "a.md", "b.md"]
