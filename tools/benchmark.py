"""Benchmarks of waveflow: WaveGlow synthesis, export and training, Glow, the compute floor.

Usage (see ``--help`` of each command)::

    python tools/benchmark.py synth [--config published|small|FILE.yaml] [--device cpu|cuda]
        [--dtype fp32|bf16|fp16] [--batch-size 1] [--seconds 1,10] [--runs 5 --warmup 2]
        [--json OUT] [--quick]
    python tools/benchmark.py export [--config published|small|tiny|FILE.yaml] [--seconds 1]
        [--batch-size 1] [--opset 17] [--threads N] ...   (CPU: eager vs TorchScript vs ONNX)
    python tools/benchmark.py train [--batch-size 12 --segment-length 16000] ...
    python tools/benchmark.py glow [--image-size 32 --channels 3 --levels 3 --steps 32
        --hidden 512] ...
    python tools/benchmark.py floor ...
    python tools/benchmark.py versus [--config published] [--seconds 1] [--segment-length 16000]
        [--dtypes fp32,bf16] [--runs 5]     # alternating, against NVIDIA's maths: ratios
    python tools/benchmark.py memory [--config tiny] [--seconds 10,3600] [--modes stream,offline]

The implementation lives in ``tools/bench/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
