"""Learning-rate schedule and the resumable, sharded data order."""

from __future__ import annotations

import math

import pytest

from waveflow.errors import WaveflowError
from waveflow.train.config import TrainConfig
from waveflow.train.sampler import ResumableBatchSampler, ShardBatchSampler
from waveflow.train.schedule import lr_at


def test_warmup_is_linear_then_cosine_ends_at_the_floor() -> None:
    cfg = TrainConfig(lr=1.0, steps=110, warmup_steps=10, lr_decay="cosine", lr_min_ratio=0.1)
    assert [lr_at(s, cfg) for s in (1, 5, 10)] == pytest.approx([0.1, 0.5, 1.0])
    assert lr_at(60, cfg) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way: cos(pi/2) = 0
    assert lr_at(110, cfg) == pytest.approx(0.1)
    lrs = [lr_at(s, cfg) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_exponential_decay_halves_every_decay_period_after_warmup() -> None:
    cfg = TrainConfig(lr=2.0, warmup_steps=4, lr_decay="exponential", lr_decay_rate=0.5,
                      lr_decay_steps=100)  # fmt: skip
    assert lr_at(4, cfg) == pytest.approx(2.0)
    assert lr_at(104, cfg) == pytest.approx(1.0)
    assert lr_at(204, cfg) == pytest.approx(0.5)
    assert lr_at(54, cfg) == pytest.approx(2.0 / math.sqrt(2))


def test_constant_schedule_without_warmup() -> None:
    assert {lr_at(s, TrainConfig(lr=0.3)) for s in (1, 50, 10_000)} == {0.3}


def test_rank_shards_partition_each_global_batch_and_epochs_reshuffle() -> None:
    shards = [ResumableBatchSampler(50, 4, seed=7, rank=r, world_size=3) for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]  # 50 // (4 * 3), the remainder is dropped
    epoch0 = [list(s) for s in shards]
    for batch in range(4):
        together = [i for shard in epoch0 for i in shard[batch]]
        assert len(set(together)) == 12
    seen = [i for shard in epoch0 for b in shard for i in b]
    assert len(set(seen)) == 48 and set(seen) <= set(range(50))
    shards[0].start(epoch=1)
    assert list(shards[0]) != epoch0[0]


def test_starting_mid_epoch_continues_the_same_order() -> None:
    sampler = ResumableBatchSampler(40, 8, seed=3)
    sampler.start(epoch=2)
    full = list(sampler)
    sampler.start(epoch=2, batch=3)
    assert list(sampler) == full[3:]
    assert list(ResumableBatchSampler(40, 8, seed=3).__iter__()) != full  # epoch 0 differs


def test_too_small_training_set_is_a_clear_error() -> None:
    with pytest.raises(WaveflowError, match="fewer than one batch"):
        ResumableBatchSampler(10, 8, seed=0, world_size=2)


def test_validation_shards_cover_the_capped_set_once() -> None:
    shards = [ShardBatchSampler(23, 4, limit=20, rank=r, world_size=2) for r in range(2)]
    seen = sorted(i for shard in shards for batch in shard for i in batch)
    assert seen == list(range(20))
