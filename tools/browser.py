"""Open a static page from disk in headless Chromium: check its audio players, take a screenshot.

    python tools/browser.py PAGE.html [--screenshot OUT.png] [--width 1280] [--height 1700]

Prints one line per `<audio>` element (source, readyState, duration in seconds, media error)
as JSON and exits 1 if any failed to load its metadata. Used by the listening-report tests and
to make the screenshot in docs/images/. Needs Debian's `chromium` (or chromium-browser /
google-chrome on the PATH, or $CHROMIUM).

How the audio is checked: the page is copied to a probe page beside it (same folder, so its
relative links resolve) with a script that waits for every `<audio>`'s `loadedmetadata` (or
`error`) and writes readyState, duration and error code into the DOM; `chromium --headless
--dump-dom` returns that DOM once the page is idle (`--virtual-time-budget`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
RESULT_ID = "waveflow-audio-probe"
PROBE = """<script>
(() => {
  const players = [...document.querySelectorAll("audio")];
  const loaded = (a) => new Promise((done) => {
    if (a.readyState >= 1 || a.error) return done();
    a.addEventListener("loadedmetadata", done, {once: true});
    a.addEventListener("error", done, {once: true});
  });
  Promise.all(players.map(loaded)).then(() => {
    const out = document.createElement("pre");
    out.id = "__RESULT_ID__";
    out.textContent = JSON.stringify(players.map((a) => ({
      src: a.getAttribute("src"), readyState: a.readyState, duration: a.duration,
      error: a.error ? a.error.code : null})));
    document.body.appendChild(out);
  });
})();
</script>""".replace("__RESULT_ID__", RESULT_ID)


def find_chromium() -> str | None:
    """The Chromium executable: $CHROMIUM, else the first of NAMES on the PATH, else None."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    return next((path for path in map(shutil.which, NAMES) if path), None)


def _run(chromium: str, args: list[str], timeout: float) -> str:
    with tempfile.TemporaryDirectory(prefix="waveflow-chromium-") as profile:
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--mute-audio", f"--user-data-dir={profile}", "--allow-file-access-from-files",
            *args,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}: {done.stderr[-500:]}")
    return done.stdout


def audio_states(page: Path, chromium: str, timeout: float = 60.0) -> list[dict]:
    """[{src, readyState, duration, error}] of every `<audio>` of `page` as Chromium loads it."""
    page = Path(page).resolve()
    text = page.read_text(encoding="utf-8")
    probe = page.with_name(f".{page.stem}.probe.html")
    probe.write_text(text.replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    try:
        dom = _run(chromium, ["--virtual-time-budget=20000", "--dump-dom", probe.as_uri()], timeout)
    finally:
        probe.unlink()
    found = re.search(rf'<pre id="{RESULT_ID}">(.*?)</pre>', dom, re.S)
    if found is None:
        raise RuntimeError(f"the probe script did not finish in Chromium on {page}")
    import html

    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, png: Path, chromium: str, width: int = 1280, height: int = 1700,
               timeout: float = 60.0) -> None:  # fmt: skip
    """Save a `width` x `height` screenshot of `page` (opened from disk) as `png`."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(
        chromium,
        [f"--window-size={width},{height}", "--hide-scrollbars", f"--screenshot={png}",
         Path(page).resolve().as_uri()],
        timeout,
    )  # fmt: skip
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot {png}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--screenshot", type=Path, metavar="OUT.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1700)
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("browser.py: error: no Chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    states = audio_states(args.page, chromium)
    for state in states:
        print(json.dumps(state))
    if args.screenshot is not None:
        screenshot(args.page, args.screenshot, chromium, args.width, args.height)
        print(f"wrote {args.screenshot}")
    return 0 if all(s["readyState"] >= 1 and s["error"] is None for s in states) else 1


if __name__ == "__main__":
    sys.exit(main())
