"""The training loop shared by every flow model: `train(config, resume=None) -> metrics`.

One `Trainer` runs one experiment: it builds the task's model and datasets, optionally resumes
from a checkpoint (or starts from `train.init_from`'s weights), then takes `train.steps`
optimizer steps (or fewer, within `train.budget_seconds`) with warm-up/decay, gradient
accumulation over `train.accumulate` micro-batches, gradient clipping, autocast mixed precision
and a NaN/inf guard; it keeps an EMA of the weights (`train.ema_decay`), validates, logs to the
console and TensorBoard and writes atomic checkpoints on rank 0. Under `torchrun` it wraps the
model in DistributedDataParallel and shards the data order across ranks.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from waveflow.checkpoint import load_checkpoint, load_init_weights, load_state, save_checkpoint
from waveflow.device import DTYPES
from waveflow.errors import WaveflowError
from waveflow.task import get_task
from waveflow.train.clock import TrainingClock
from waveflow.train.config import (
    ExperimentConfig,
    config_to_dict,
    load_config,
    parse_config,
    save_config,
)
from waveflow.train.distributed import (
    DistEnv,
    all_reduce_sum,
    barrier,
    cleanup_distributed,
    gather_objects,
    setup_distributed,
    unwrap,
)
from waveflow.train.ema import WeightEMA
from waveflow.train.monitor import MeanMeter, Monitor, format_metrics
from waveflow.train.optim import build_optimizer
from waveflow.train.rng import capture_rng, preserved_rng, restore_rng, seed_everything
from waveflow.train.rotation import (
    BEST_NAME,
    checkpoint_path,
    latest_checkpoint,
    prune_checkpoints,
    remove_stale_temp_files,
)
from waveflow.train.sampler import ResumableBatchSampler, ShardBatchSampler
from waveflow.train.schedule import lr_at, set_lr

TRAINING_KEYS = ("optimizer", "step", "epoch", "batch_in_epoch", "rng")


class TrainingDiverged(WaveflowError):
    """Raised after `train.max_bad_steps` consecutive steps with a non-finite loss or grad."""


def train(
    config: ExperimentConfig | Mapping[str, Any] | str | os.PathLike[str],
    resume: str | None = None,
) -> dict[str, float]:
    """Train one experiment and return its final metrics.

    `config` is a parsed `ExperimentConfig`, a raw config dict, or a YAML path. `resume` is
    None (use `train.resume` from the config), "auto" (the latest checkpoint in exp_dir, if
    any) or a checkpoint path. The result holds `step`, the last logged `train/...` means, the
    final `valid/...` metrics and `best_valid_loss`.
    """
    if isinstance(config, Mapping):
        config = parse_config(config)
    elif not isinstance(config, ExperimentConfig):
        config = load_config(config)
    env = setup_distributed(config.train.device)
    try:
        trainer = Trainer(config, env)
        return trainer.run(resume if resume is not None else config.train.resume)
    finally:
        cleanup_distributed(env)


class Trainer:
    """State and steps of one training run (one per process)."""

    def __init__(self, config: ExperimentConfig, env: DistEnv) -> None:
        self.config = config
        cfg = config.train
        self.env = env
        self.exp_dir = Path(cfg.exp_dir)
        self.task = get_task(config.task, allow_plugin=True)
        seed_everything(cfg.seed + env.rank)
        self.model: torch.nn.Module = self.task.build_model(config.model).to(env.device)
        self.train_set, self.valid_set = self.task.build_datasets(config.data, config.model)
        self.optimizer = build_optimizer(self.model, cfg)
        self.scaler = torch.amp.GradScaler(env.device.type, enabled=cfg.dtype == "fp16")
        self.sampler = ResumableBatchSampler(
            _length(self.train_set, "training"), cfg.batch_size, cfg.seed, env.rank, env.world_size
        )
        self.valid_sampler = ShardBatchSampler(
            _length(self.valid_set, "validation"),
            cfg.batch_size,
            None if cfg.valid_batches is None else cfg.valid_batches * cfg.batch_size,
            env.rank,
            env.world_size,
        )
        self.loader_generator = torch.Generator()
        self.train_loader = self._loader(self.train_set, self.sampler, self.loader_generator)
        self.valid_loader = self._loader(self.valid_set, self.valid_sampler, torch.Generator())
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.best_valid = math.inf
        self.last_checkpoint: Path | None = None
        self.last_checkpoint_step = -1
        self.last_finite_checkpoint: Path | None = None  # saved when the last step was finite
        self.finite = True  # whether the last step had a finite loss and gradient
        self.monitor: Monitor | None = None
        self.ema: WeightEMA | None = None
        self.clock = TrainingClock()

    # ----------------------------------------------------------------------------- the run

    def run(self, resume: str | None) -> dict[str, float]:
        """Resume or initialise, train to `train.steps`, validate and checkpoint at the end."""
        cfg = self.config.train
        if self.env.is_main:
            stale = remove_stale_temp_files(self.exp_dir)
            if stale:
                self._say(f"removed {len(stale)} temp file(s) of interrupted checkpoint writes")
        resume_path = self._resume_path(resume)
        average: dict[str, Any] | None = None
        if resume_path is not None:
            if cfg.init_from:
                self._say(f"resuming from {resume_path}: train.init_from is ignored")
            average = self._restore(resume_path)
        elif cfg.init_from:
            load_init_weights(self.task, self.model, self.config.model, cfg.init_from)
            self._say(f"initialised the weights from {cfg.init_from}")
        else:
            self._initialize()
        if cfg.ema_decay is not None:
            self.ema = WeightEMA(self.model, cfg.ema_decay)
            if average is not None:
                load_state(self.ema.model, average, resume_path)
        if self.env.is_main:
            self.exp_dir.mkdir(parents=True, exist_ok=True)
            save_config(self.config, self.exp_dir / "config.yaml")
        if self.env.distributed:
            device_ids = [self.env.device.index] if self.env.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=device_ids
            )
        self.monitor = Monitor(self.exp_dir, cfg.steps, self.step, enabled=self.env.is_main)
        accumulate = f" x {cfg.accumulate} micro-batches" if cfg.accumulate > 1 else ""
        self._say(
            f"task {self.config.task}: {_count_params(self.model):,} parameters, "
            f"{len(self.sampler)} batches/epoch{accumulate} x {self.env.world_size} process(es) "
            f"on {self.env.device}, dtype {cfg.dtype}, steps {self.step}->{cfg.steps}"
            + (f", EMA {cfg.ema_decay}" if self.ema is not None else "")
            + (
                f", budget {cfg.budget_seconds:g} s on the {cfg.budget_clock} clock"
                if cfg.budget_seconds is not None
                else ""
            )
        )
        try:
            return self._loop()
        finally:
            self.monitor.close()

    def _loop(self) -> dict[str, float]:
        cfg = self.config.train
        meter = MeanMeter()
        bad_in_row = bad_total = 0
        train_means: dict[str, float] = {}
        valid: dict[str, float] = {}
        valid_step = -1
        last_log = time.perf_counter()
        examples = 0
        batches = self._batches()
        while self.step < cfg.steps and not self._budget_spent():
            self.clock.start()
            micro_batches = [next(batches) for _ in range(cfg.accumulate)]
            self.step += 1
            values, grad_norm, ok = self._train_step(micro_batches)
            self.clock.stop()
            self.finite = ok
            examples += cfg.batch_size * cfg.accumulate * self.env.world_size
            if ok:
                bad_in_row = 0
                meter.add({**values, "grad_norm": grad_norm})
            else:
                bad_in_row += 1
                bad_total += 1
                self._on_bad_step(values, grad_norm, bad_in_row, bad_total)
            self.monitor.advance({"loss": values["loss"]})
            if self.step % cfg.log_every == 0 and meter.sums:
                elapsed = time.perf_counter() - last_log
                train_means = meter.means()
                self._log_train(train_means, examples / max(elapsed, 1e-9))
                meter.reset()
                last_log, examples = time.perf_counter(), 0
            if cfg.valid_every and self.step % cfg.valid_every == 0:
                valid, valid_step = self._validate_and_keep_best(), self.step
            if cfg.media_every and self.step % cfg.media_every == 0:
                self._log_media()
            if cfg.ckpt_every and self.step % cfg.ckpt_every == 0:
                self._save_numbered()
        if self._budget_spent():
            self._say(
                f"stopped at step {self.step}: train.budget_seconds={cfg.budget_seconds} "
                f"({cfg.budget_clock} clock) spent"
            )
        if valid_step != self.step:
            valid = self._validate_and_keep_best()
        if self.last_checkpoint_step != self.step:
            self._save_numbered()
        self.monitor.flush()
        result = {"step": float(self.step), "best_valid_loss": self.best_valid}
        result.update({f"clock/{k}": v for k, v in self.clock.state_dict().items()})
        result.update({f"train/{k}": v for k, v in (train_means or meter.means()).items()})
        result.update({f"valid/{k}": v for k, v in valid.items()})
        self._say(f"done at step {self.step}: " + format_metrics(result))
        return result

    # ------------------------------------------------------------------------ one step

    def _train_step(self, micro_batches: list[Any]) -> tuple[dict[str, float], float, bool]:
        """Forward and backward every micro-batch, guard, update, average the weights.

        Each micro-batch's loss is divided by their number, so the summed gradient is the one
        of the mean loss over all their examples (exact for equal-sized micro-batches). Under
        DDP the gradients are all-reduced only on the last backward. Returns (rank-mean
        metrics averaged over the micro-batches, grad norm, updated).
        """
        cfg = self.config.train
        set_lr(self.optimizer, lr_at(self.step, cfg))
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        count = len(micro_batches)
        sums: dict[str, torch.Tensor] = {}
        finite = torch.ones((), dtype=torch.bool, device=self.env.device)
        for index, batch in enumerate(micro_batches):
            with self._no_sync(last=index == count - 1):
                with self._autocast():
                    out = self.task.loss(self.model, batch, self.config.loss)
                loss = _check_loss(out).float()
                self.scaler.scale(loss / count).backward()
            finite &= torch.isfinite(loss.detach())
            for name, value in out.items():
                sums[name] = sums.get(name, 0.0) + value.detach().float().reshape(())
        self.scaler.unscale_(self.optimizer)
        max_norm = cfg.grad_clip if cfg.grad_clip else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self._params(), max_norm))
        names = ["loss", *sorted(k for k in sums if k != "loss")]
        local = torch.stack([sums[k] / count for k in names])
        flag = (~finite).float().reshape(1)
        summed = all_reduce_sum(self.env, torch.cat([local, flag]))
        values = {
            k: float(v) / self.env.world_size for k, v in zip(names, summed[:-1], strict=True)
        }
        ok = bool(summed[-1] == 0) and math.isfinite(grad_norm)
        if ok:
            self.scaler.step(self.optimizer)
        else:
            self.optimizer.zero_grad(set_to_none=True)
        self.scaler.update()
        if ok and self.ema is not None:
            self.ema.update(unwrap(self.model), self.step)
        return values, grad_norm, ok

    def _no_sync(self, last: bool) -> contextlib.AbstractContextManager:
        """DDP's no_sync() for every micro-batch but the last (no all-reduce of partial sums)."""
        if last or not isinstance(self.model, torch.nn.parallel.DistributedDataParallel):
            return contextlib.nullcontext()
        return self.model.no_sync()

    def _budget_spent(self) -> bool:
        """Whether `train.budget_seconds` of training-step time are used up (same on all ranks)."""
        budget = self.config.train.budget_seconds
        if budget is None:
            return False
        spent = torch.tensor([float(self.clock.seconds(self.config.train.budget_clock) >= budget)])
        return bool(all_reduce_sum(self.env, spent.to(self.env.device))[0] > 0)

    def _on_bad_step(
        self, values: dict[str, float], grad_norm: float, in_row: int, total: int
    ) -> None:
        self._say(
            f"step {self.step}: non-finite loss {values['loss']:.4g} or grad norm "
            f"{grad_norm:.4g}; update skipped ({in_row} in a row, {total} in total)"
        )
        self.monitor.scalars("train", {"bad_steps": float(total)}, self.step)
        limit = self.config.train.max_bad_steps
        if in_row >= limit:
            good = self.last_finite_checkpoint
            where = (
                f"the last checkpoint saved at a finite loss is {good}"
                if good
                else "no checkpoint was saved at a finite loss"
            )
            raise TrainingDiverged(
                f"stopped at step {self.step} after {in_row} consecutive steps with a non-finite "
                f"loss or gradient (train.max_bad_steps={limit}); {where}; "
                "try a lower train.lr, a train.grad_clip, or train.dtype=fp32"
            )

    def _log_train(self, means: dict[str, float], examples_per_s: float) -> None:
        lr = self.optimizer.param_groups[0]["lr"]
        extra = {"lr": lr, "examples_per_s": examples_per_s}
        if self.scaler.is_enabled():
            extra["loss_scale"] = float(self.scaler.get_scale())
        self.monitor.scalars("train", {**means, **extra}, self.step)
        self._say(f"step {self.step} " + format_metrics({**means, **extra}))

    # ---------------------------------------------------------- validation and media

    def _validate_and_keep_best(self) -> dict[str, float]:
        valid = self.validate()
        if not valid:
            return valid
        self.monitor.scalars("valid", valid, self.step)
        improved = valid["loss"] < self.best_valid
        if improved:
            self.best_valid = valid["loss"]
        self._say(
            f"step {self.step} valid " + format_metrics(valid) + (" (best)" if improved else "")
        )
        if improved:
            self._save(self.exp_dir / BEST_NAME)
        return valid

    def eval_model(self) -> torch.nn.Module:
        """The weights to validate, show and publish: the EMA if there is one, else the model."""
        return self.ema.model if self.ema is not None else unwrap(self.model)

    def validate(self) -> dict[str, float]:
        """Mean `Task.loss` outputs over the (capped) validation set, all ranks together.

        Runs `eval_model()` (the EMA weights, if any) in eval mode under no_grad with all
        generators seeded from `train.seed` (restored afterwards). Batches are weighted by
        their size, so `loss` is the exact mean held-out loss. Returns {} for an empty
        validation set.
        """
        model = self.eval_model()
        model.eval()
        sums: dict[str, float] = {}
        count = 0
        with preserved_rng(self.config.train.seed), torch.no_grad(), self._autocast():
            for indices, batch in zip(self.valid_sampler, self.valid_loader, strict=True):
                out = self.task.loss(model, _to_device(batch, self.env.device), self.config.loss)
                _check_loss(out)
                for name, value in out.items():
                    sums[name] = sums.get(name, 0.0) + float(value.float()) * len(indices)
                count += len(indices)
        model.train()
        total: dict[str, float] = {}
        total_count = 0
        for rank_sums, rank_count in gather_objects(self.env, (sums, count)):
            total_count += rank_count
            for name, value in rank_sums.items():
                total[name] = total.get(name, 0.0) + value
        if total_count == 0:
            self._say("validation skipped: the validation set is empty")
            return {}
        names = ["loss", *sorted(k for k in total if k != "loss")]
        return {name: total[name] / total_count for name in names}

    def _log_media(self) -> None:
        if not self.env.is_main:
            return
        model = self.eval_model()
        model.eval()
        with preserved_rng(self.config.train.seed), torch.no_grad():
            self.task.log_media(model, self.monitor.writer, self.step, self.valid_set)
        model.train()

    # ------------------------------------------------------------------ checkpoints

    def _save_numbered(self) -> None:
        path = checkpoint_path(self.exp_dir, self.step)
        self._save(path)
        self.last_checkpoint, self.last_checkpoint_step = path, self.step
        if self.finite:
            self.last_finite_checkpoint = path
        if self.env.is_main:
            prune_checkpoints(
                self.exp_dir, self.config.train.keep_last, self.last_finite_checkpoint
            )

    def _save(self, path: Path) -> None:
        """Write the full training state to `path` (rank 0), with barriers around it."""
        rng = gather_objects(self.env, capture_rng())
        barrier(self.env)
        if self.env.is_main:
            save_checkpoint(self.state_dict(rng), path)
        barrier(self.env)

    def state_dict(self, rng: list[dict[str, Any]]) -> dict[str, Any]:
        """Everything needed to continue exactly; see `waveflow.train.rotation`."""
        return {
            "task": self.config.task,
            "config": config_to_dict(self.config),
            "model": self.eval_model().state_dict(),
            **({"raw_model": unwrap(self.model).state_dict()} if self.ema is not None else {}),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "scheduler": {"step": self.step, "lr": lr_at(max(self.step, 1), self.config.train)},
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "best_valid": self.best_valid,
            "clock": self.clock.state_dict(),
            "rng": rng,
            "finite": self.finite,
        }

    def _resume_path(self, resume: str | None) -> Path | None:
        latest = latest_checkpoint(self.exp_dir)
        if resume is None:
            if latest is not None:
                raise WaveflowError(
                    f"{self.exp_dir} already holds checkpoints (latest {latest.name}); pass "
                    "--resume to continue that run, or choose another --exp-dir"
                )
            return None
        if resume == "auto":
            if latest is None:
                self._say(f"no checkpoint in {self.exp_dir}: starting a new run")
            return latest
        return Path(resume)

    def _restore(self, path: Path) -> dict[str, Any] | None:
        """Load the training state of `path`; returns its EMA weights (None if it has none).

        With EMA the raw weights are `raw_model` and `model` is the average; a checkpoint
        written without EMA has only `model` (the raw weights), from which a new EMA starts.
        """
        ckpt = load_checkpoint(path)
        if ckpt["task"] != self.config.task:
            raise WaveflowError(
                f"checkpoint {path} is for task {ckpt['task']!r}, not {self.config.task!r}"
            )
        missing = [key for key in TRAINING_KEYS if key not in ckpt]
        if missing:
            raise WaveflowError(
                f"checkpoint {path} has no training state ({', '.join(missing)} missing); "
                "it can be used for inference but not resumed"
            )
        average = ckpt["model"] if "raw_model" in ckpt else None
        load_state(self.model, ckpt["raw_model"] if average is not None else ckpt["model"], path)
        try:
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scaler.is_enabled() and ckpt.get("scaler"):
                self.scaler.load_state_dict(ckpt["scaler"])
        except (KeyError, ValueError, RuntimeError) as err:
            reason = " ".join(str(err).split())
            raise WaveflowError(
                f"checkpoint {path}: optimizer state does not fit: {reason}"
            ) from err
        self.step = int(ckpt["step"])
        self.epoch = int(ckpt["epoch"])
        self.batch_in_epoch = int(ckpt["batch_in_epoch"])
        self.best_valid = float(ckpt.get("best_valid", math.inf))
        self.last_checkpoint, self.last_checkpoint_step = path, self.step
        self.clock.load_state_dict(ckpt.get("clock", {}))
        self.finite = bool(ckpt.get("finite", True))
        self.last_finite_checkpoint = path if self.finite else None
        rng = ckpt["rng"]
        if isinstance(rng, list) and len(rng) == self.env.world_size:
            restore_rng(rng[self.env.rank])
        else:
            self._say("the world size changed since the checkpoint: random streams re-seeded")
            seed_everything(self.config.train.seed + self.env.rank + 7919 * self.step)
        self._say(f"resumed from {path} at step {self.step}")
        return average

    # ------------------------------------------------------------------------ helpers

    def _initialize(self) -> None:
        """Data-dependent init on a fixed random batch of `init_batch_size` training examples."""
        cfg = self.config.train
        size = min(cfg.init_batch_size or cfg.batch_size, len(self.train_set))
        generator = torch.Generator()
        generator.manual_seed(self.config.train.seed * 1_000_003 + 104_729 + self.env.rank)
        indices = torch.randperm(len(self.train_set), generator=generator)[:size].tolist()
        collate = self.task.collate_fn() or torch.utils.data.default_collate
        batch = _to_device(collate([self.train_set[i] for i in indices]), self.env.device)
        self.model.train()
        self.task.initialize(self.model, batch, self.config.loss)

    def _batches(self) -> Iterator[Any]:
        """Training batches on the device, forever, keeping (epoch, batch_in_epoch) current."""
        while True:
            self.sampler.start(self.epoch, self.batch_in_epoch)
            set_epoch = getattr(self.train_set, "set_epoch", None)
            if callable(set_epoch):
                set_epoch(self.epoch)
            self.loader_generator.manual_seed(self.config.train.seed * 1_000_003 + self.epoch)
            for batch in self.train_loader:
                self.batch_in_epoch += 1
                yield _to_device(batch, self.env.device)
            self.epoch += 1
            self.batch_in_epoch = 0

    def _loader(self, dataset: Any, batch_sampler: Any, generator: torch.Generator) -> DataLoader:
        return DataLoader(
            dataset,
            batch_sampler=batch_sampler,
            num_workers=self.config.train.num_workers,
            collate_fn=self.task.collate_fn(),
            pin_memory=self.env.device.type == "cuda",
            generator=generator,
        )

    def _autocast(self) -> torch.autocast:
        dtype = DTYPES[self.config.train.dtype]
        return torch.autocast(self.env.device.type, dtype=dtype, enabled=dtype != torch.float32)

    def _params(self) -> list[torch.nn.Parameter]:
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def _say(self, line: str) -> None:
        if not self.env.is_main:
            return
        if self.monitor is not None:
            self.monitor.print(line)
        else:
            print(line, flush=True)


def _check_loss(out: Any) -> torch.Tensor:
    if not isinstance(out, Mapping) or "loss" not in out:
        raise WaveflowError("Task.loss must return a dict with a 'loss' entry")
    for name, value in out.items():
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise WaveflowError(f"Task.loss entry {name!r} must be a scalar tensor")
    return out["loss"]


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _length(dataset: Any, what: str) -> int:
    try:
        return len(dataset)
    except TypeError as err:
        raise WaveflowError(f"the {what} dataset must define __len__ (map-style)") from err


def _count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
