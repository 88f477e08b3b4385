"""Resumable, shardable data order for training and a fixed shard for validation.

`ResumableBatchSampler` yields lists of dataset indices. The order of epoch `e` is a permutation
drawn from a generator seeded with `(seed, e)` only, so it is the same on every rank and after a
restart; rank `r` of `w` takes every w-th batch-sized slice. `start(epoch, batch)` positions the
sampler so that a resumed run continues the exact order of an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from waveflow.errors import WaveflowError


class ResumableBatchSampler:
    """Shuffled training batches of `batch_size` indices for one rank, dropping the remainder."""

    def __init__(
        self, num_samples: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if num_samples < batch_size * world_size:
            raise WaveflowError(
                f"the training set has {num_samples} examples, fewer than one batch of "
                f"{batch_size} x {world_size} process(es); lower train.batch_size"
            )
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.first_batch = 0

    def __len__(self) -> int:
        """Batches per epoch for this rank (the same on every rank)."""
        return self.num_samples // (self.batch_size * self.world_size)

    def start(self, epoch: int, batch: int = 0) -> None:
        """Make the next iteration yield epoch `epoch` from its batch number `batch` on."""
        self.epoch = epoch
        self.first_batch = batch

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator()
        generator.manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.num_samples, generator=generator).tolist()
        step = self.batch_size * self.world_size
        for batch in range(self.first_batch, len(self)):
            offset = batch * step + self.rank * self.batch_size
            yield order[offset : offset + self.batch_size]


class ShardBatchSampler:
    """Validation batches: the first `limit` examples in order, rank `r` taking every w-th one.

    Across ranks every selected example is seen exactly once (no padding), so summing losses
    weighted by batch size and dividing by the total count gives the exact mean.
    """

    def __init__(
        self, num_samples: int, batch_size: int, limit: int | None, rank: int, world_size: int
    ) -> None:
        total = num_samples if limit is None else min(num_samples, limit)
        indices = list(range(rank, total, world_size))
        self.batches = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)
