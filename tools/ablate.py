"""Learning-efficiency ablation of vocoder configurations (same budget, corpus and split).

    python tools/ablate.py --base recipes/ljspeech/conf/small.yaml \
        baseline: fast:train.lr=6e-4,train.ema_decay=0.999 other.yaml \
        --budget cpu:600 --eval-every 100 --seeds 3 --out exp/ablation \
        [--set data.root=DIR] [--threads 1] [--test-utterances 5] [--metrics mel,mrstft,stoi,pesq]

Each configuration is trained for the same budget over several seeds (`steps:N`,
`cpu:SECONDS` of process CPU time with a fixed thread count, or `minutes:M` of wall-clock
time); then every run is scored on the held-out test utterances: exact NLL in bits/sample,
and the log-mel L1, MR-STFT, STOI and PESQ of copy-synthesis against the recordings, with
Griffin-Lim as a reference row. Writes OUT/report.md (mean ± std over seeds), OUT/report.json
(also min/max and every run's curve) and OUT/nll_vs_minutes.png. Finished runs (their
result.json) are skipped and interrupted ones resume, so it can run in the background
(`nohup python tools/ablate.py ... > OUT.log 2>&1 &`) and be restarted. The implementation
lives in ``tools/ablation/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ablation.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
