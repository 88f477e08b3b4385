"""The metrics that `evaluate_pair` knows, by name, with the packages each one needs."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from waveflow.audio.metrics.optional import MissingDependencyError, import_optional
from waveflow.audio.metrics.perceptual import pesq_wideband, stoi_scores
from waveflow.audio.metrics.problems import MetricSkippedWarning
from waveflow.audio.metrics.signal_pair import SignalPair
from waveflow.audio.metrics.spectral import log_mel_l1, multi_resolution_stft_distance
from waveflow.audio.metrics.world import f0_errors, mel_cepstral_distortion
from waveflow.errors import WaveflowError


@dataclass(frozen=True)
class Metric:
    """A metric selectable by `name`, producing one value per key in `keys`.

    `label` names it in messages; `packages` are the optional packages (module name equals
    distribution name) it imports; `higher_is_better` applies to all its keys. `any_length`:
    it runs in bounded memory on audio of any length (the others are skipped above
    `LIMITS.max_metric_seconds`).
    """

    name: str
    label: str
    keys: tuple[str, ...]
    higher_is_better: bool
    packages: tuple[str, ...]
    compute: Callable[[SignalPair], tuple[float, ...]]
    any_length: bool = False


def _mel(pair: SignalPair) -> tuple[float, ...]:
    return (log_mel_l1(pair.ref, pair.gen, pair.sample_rate),)


def _mrstft(pair: SignalPair) -> tuple[float, ...]:
    return multi_resolution_stft_distance(pair.ref, pair.gen)


def _pesq(pair: SignalPair) -> tuple[float, ...]:
    return (pesq_wideband(pair.ref, pair.gen, pair.sample_rate),)


def _stoi(pair: SignalPair) -> tuple[float, ...]:
    return stoi_scores(pair.ref, pair.gen, pair.sample_rate)


def _mcd(pair: SignalPair) -> tuple[float, ...]:
    return (mel_cepstral_distortion(pair.world_ref, pair.world_gen, dtw=pair.dtw),)


def _f0(pair: SignalPair) -> tuple[float, ...]:
    return f0_errors(pair.world_ref, pair.world_gen)


_WORLD = ("pyworld", "pysptk")

#: All metrics, in the order in which they are computed and reported.
METRICS: tuple[Metric, ...] = (
    Metric("mel", "log-mel L1", ("mel_l1",), False, (), _mel, any_length=True),
    Metric(
        "mrstft", "MR-STFT", ("mrstft_sc", "mrstft_logmag"), False, (), _mrstft, any_length=True
    ),
    Metric("pesq", "PESQ", ("pesq_wb",), True, ("pesq",), _pesq),
    Metric("stoi", "STOI", ("stoi", "estoi"), True, ("pystoi",), _stoi),
    Metric("mcd", "MCD", ("mcd_db",), False, _WORLD, _mcd),
    Metric("f0", "F0", ("f0_rmse_cents", "vuv_error"), False, _WORLD, _f0),
)

METRIC_NAMES: tuple[str, ...] = tuple(metric.name for metric in METRICS)

#: Result keys whose larger values mean better audio (all others: smaller is better).
HIGHER_IS_BETTER: frozenset[str] = frozenset(
    key for metric in METRICS if metric.higher_is_better for key in metric.keys
)


def resolve_metrics(names: Iterable[str] | None) -> tuple[Metric, ...]:
    """The metrics selected by `names` (metric names or result keys), in `METRICS` order.

    None selects all. An unknown name raises `WaveflowError` listing the valid ones.
    """
    if names is None:
        return METRICS
    by_name = {metric.name: metric for metric in METRICS}
    by_name.update({key: metric for metric in METRICS for key in metric.keys})
    wanted = [name.strip() for name in names if name.strip()]
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise WaveflowError(
            f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRIC_NAMES)} "
            f"(or a result key such as {METRICS[0].keys[0]})"
        )
    if not wanted:
        raise WaveflowError(f"no metric selected; known: {', '.join(METRIC_NAMES)}")
    chosen = {by_name[name].name for name in wanted}
    return tuple(metric for metric in METRICS if metric.name in chosen)


def missing_dependency(metric: Metric) -> str | None:
    """Why `metric` cannot run ("PESQ skipped: package 'pesq' is not installed ..."), or None."""
    for package in metric.packages:
        try:
            import_optional(package, purpose=metric.label)
        except MissingDependencyError as err:
            return str(err)
    return None


def runnable_metrics(names: Iterable[str] | None) -> tuple[Metric, ...]:
    """`resolve_metrics(names)` less those whose packages are missing.

    Each one left out is reported by a `MetricSkippedWarning`; if none is left, raises
    `WaveflowError` with the reasons.
    """
    runnable, reasons = [], []
    for metric in resolve_metrics(names):
        reason = missing_dependency(metric)
        if reason is None:
            runnable.append(metric)
        else:
            reasons.append(reason)
            warnings.warn(reason, MetricSkippedWarning, stacklevel=3)
    if not runnable:
        raise WaveflowError(f"no selected metric can run: {'; '.join(reasons)}")
    return tuple(runnable)
