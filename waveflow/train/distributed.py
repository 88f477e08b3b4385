"""Process-group setup and the few collectives the engine needs.

Under `torchrun` (RANK, WORLD_SIZE and LOCAL_RANK set) `setup_distributed` starts a process
group, NCCL on CUDA and gloo on CPU, one process per device. Without those variables everything
here degrades to single-process no-ops.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import torch
import torch.distributed as dist

from waveflow.device import resolve_device
from waveflow.errors import WaveflowError


@dataclasses.dataclass(frozen=True)
class DistEnv:
    """Where this process runs: its rank among `world_size` processes and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Whether this process logs, writes TensorBoard and saves checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str) -> DistEnv:
    """Pick the device ("auto" | "cpu" | "cuda") and join the torchrun process group, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = resolve_device(device, "train.device").type == "cuda"
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise WaveflowError(
                f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA device(s)"
            )
        torch.cuda.set_device(local_rank)
        target = torch.device("cuda", local_rank)
    else:
        target = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistEnv(rank=rank, world_size=world_size, local_rank=local_rank, device=target)


def cleanup_distributed(env: DistEnv) -> None:
    """Leave the process group started by `setup_distributed`.

    Every rank waits for the others first: a gloo rank that tears its group down while a peer
    still has a collective in flight aborts the peer ("terminate called without an active
    exception"), which a busy machine makes likely.
    """
    if env.distributed and dist.is_initialized():
        barrier(env)
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.distributed:
        if env.device.type == "cuda":
            dist.barrier(device_ids=[env.device.index])
        else:
            dist.barrier()


def all_reduce_sum(env: DistEnv, tensor: torch.Tensor) -> torch.Tensor:
    """Sum `tensor` over all ranks (returns a new tensor; the input is left as is)."""
    tensor = tensor.detach().clone()
    if env.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def gather_objects(env: DistEnv, obj: Any) -> list[Any]:
    """Collect one picklable object per rank, in rank order, on every rank."""
    if not env.distributed:
        return [obj]
    gathered: list[Any] = [None] * env.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DistributedDataParallel wrapper (or `model` itself)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
