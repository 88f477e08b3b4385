"""The documentation site (mkdocs.yml, docs/) builds with `mkdocs build --strict`: every link
and anchor resolves, every page is in the nav, and MkDocs reports no warning. README.md, which
GitHub shows outside the site, links into it: those links must resolve too."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
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


def built_page(site: Path, page: str | Path) -> Path:
    """The HTML file MkDocs builds for a page of docs/ (``a/b.md`` -> ``a/b/index.html``)."""
    page = Path(page)
    return site / ("index.html" if page.name == "index.md" else page.with_suffix("") / "index.html")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def relative_links(markdown: str) -> list[str]:
    """The targets of the Markdown links and images of a text that are not URLs."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown)
    return [t for t in targets if not re.match(r"[a-z]+:", t)]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built by `mkdocs build --strict`; fails with MkDocs' log on any warning."""
    missing = [name for name in ("mkdocs", "material") if importlib.util.find_spec(name) is None]
    assert not missing, f"the site needs the docs extra (pip install -e '.[docs]'): no {missing}"
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's end-of-life banner
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    warnings = [line for line in log.splitlines() if "WARNING" in line]
    assert not warnings, "\n".join(warnings)
    return out


def test_the_site_builds_strictly_without_warnings(site):
    assert (site / "index.html").is_file()
    for page in nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]):
        assert built_page(site, page).is_file(), f"{page} was not built"


def test_the_readme_links_resolve(site):
    readme = (ROOT / "README.md").read_text()
    own = {github_anchor(h) for h in re.findall(r"^#+ (.*)$", readme, flags=re.M)}
    broken = []
    for target in relative_links(readme):
        path, _, anchor = target.partition("#")
        if not path:
            resolves = anchor in own
        elif not (ROOT / path).exists():
            resolves = False
        else:
            html = built_page(site, Path(path).relative_to("docs")) if anchor else None
            resolves = html is None or f'id="{anchor}"' in html.read_text()
        if not resolves:
            broken.append(target)
    assert not broken, f"README.md links that do not resolve: {broken}"


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    listed = nav_pages(config["nav"])
    missing = [page for page in listed if not (DOCS / page).is_file()]
    assert not missing, f"mkdocs.yml's nav names pages that do not exist: {missing}"
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.glob("*.md"))
    unlisted = [page for page in pages if page not in listed]
    assert not unlisted, f"pages under docs/ missing from mkdocs.yml's nav: {unlisted}"


def test_the_nav_walk_and_the_link_finder():
    nav = [{"Home": "index.md"}, {"Vocoder": [{"A": "a.md"}, "b.md"]}]
    assert nav_pages(nav) == ["index.md", "a.md", "b.md"]
    text = "[a](docs/a.md#x) ![p](docs/images/p.png) [u](https://x.org/y) [s](#here)"
    assert relative_links(text) == ["docs/a.md#x", "docs/images/p.png", "#here"]
    assert github_anchor("What `make demo` shows") == "what-make-demo-shows"
