"""Under ``torchrun``: join a process group (NCCL on CUDA, gloo on CPU) and all-reduce.

``python -m torch.distributed.run --nproc_per_node N tools/bench/allreduce_check.py
--device cuda`` prints one JSON line per rank and exits 1 if the sum is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.distributed as dist


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    args = parser.parse_args()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if args.device == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    backend = "nccl" if args.device == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    value = torch.full((1024,), float(rank + 1), device=device)
    dist.all_reduce(value)
    world = dist.get_world_size()
    expected = world * (world + 1) / 2
    ok = bool(torch.all(value == expected))
    print(json.dumps({"rank": rank, "world_size": world, "backend": backend, "ok": ok}))
    dist.destroy_process_group()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
