"""``python -m bench.worker SPEC.json OUT.json``: run one case, write its result as JSON.

Started by :func:`bench.isolation.run_isolated` so that every case has a fresh process.
Errors are printed as one line on stderr (exit status 1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .cases import run_case


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.worker SPEC.json OUT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    try:
        result = run_case(spec)
    except (ValueError, RuntimeError, OSError) as err:
        print(f"{type(err).__name__}: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
