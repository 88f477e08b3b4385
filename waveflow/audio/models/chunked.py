"""WaveGlow synthesis and likelihood of any length in bounded memory: exact chunks, streaming.

Why chunks are exact. On the grouped time axis (``T / n_group`` columns) every layer of the
flow is local: 1x1 convs, splits and squeezes act per column, and a coupling's output at column
``t`` reads its kept half and the conditioning only within its WaveNet's receptive field
(:meth:`WaveNet.receptive_field`, 255 columns per side for the published net). Composed over the
flows the reaches add (:meth:`WaveGlow.flow_context`, 3060 columns = 24480 samples published),
and the conditioning of samples ``[a hop, b hop)`` reads mel frames ``[a - 3, b)``
(:meth:`WaveGlow.upsampler_context`). So running the flow on the window ``[a - C, b + C)`` of
the latent (or audio) and of the conditioning, with ``C`` the flow context rounded up to whole
frames, and keeping ``[a, b)`` gives the whole-utterance result up to float rounding: the zero
padding at the window's edges contaminates at most ``C`` samples inwards. At the utterance's own
ends the window is clipped, exactly as the whole-utterance pass pads there.

Everything asks the model through small methods (``receptive_field``, ``flow_context``,
``upsampler_context``, ``condition``, ``decode``, ``latent_log_prob``), so other layouts only
have to report their own contexts.

* :func:`synthesize`: ``mel [B, M, F] -> audio [B, F hop]`` in chunks (``WaveGlow.infer``).
* :class:`StreamingSynthesizer` / :func:`stream_synthesis`: audio blocks as mel frames arrive,
  equal to the offline result. Algorithmic latency: :attr:`StreamingSynthesizer.latency_frames`
  mel frames (the flow context plus the upsampler's right context; 96 frames = 1.11 s at
  22.05 kHz for the published model): the audio of frame ``f`` is out once frame
  ``f + latency_frames`` has arrived.
* :func:`log_prob`: exact ``log p(audio | mel)`` in nats ``[B]`` in chunks (held-out NLL).

Latents are drawn in fixed blocks of :data:`LATENT_BLOCK_FRAMES` frames in time order, so a
seeded synthesis is the same for every chunk size and in streaming.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from waveflow.audio.models.prior_net import PriorNet
from waveflow.bijectors import AffineCoupling
from waveflow.errors import WaveflowError

# The functions here take a `waveflow.audio.models.waveglow.WaveGlow`, whose `infer` runs
# `synthesize`; that module imports this one, so the annotations name it through this alias.
WaveGlow = torch.nn.Module

DEFAULT_CHUNK_FRAMES = 2048
LATENT_BLOCK_FRAMES = 32


@dataclass(frozen=True)
class Context:
    """What a chunk needs around it: ``samples`` of flow context on each side (whole frames)
    and ``mel_left`` / ``mel_right`` extra mel frames for the upsampler."""

    samples: int
    mel_left: int
    mel_right: int
    hop: int
    group: int

    @classmethod
    def of(cls, model: WaveGlow) -> Context:
        hop, group = model.config.hop_length, model.config.n_group
        frames = -(-model.flow_context() * group // hop)
        left, right = model.upsampler_context()
        return cls(frames * hop, left, right, hop, group)

    @property
    def latency_frames(self) -> int:
        """Mel frames that must arrive after frame ``f`` before its audio is exact."""
        return self.samples // self.hop + self.mel_right

    def mel_span(self, start: int, end: int, frames: int) -> tuple[int, int]:
        """Mel frames ``[m0, m1)`` (of ``frames``) that the conditioning of samples
        ``[start, end)`` reads."""
        m0 = max(0, start // self.hop - self.mel_left)
        return m0, min(frames, -(-end // self.hop) + self.mel_right)


def minimum_chunk_samples(model: WaveGlow) -> int:
    """The smallest accepted chunk: the larger one-sided receptive field, in samples."""
    return max(1, *model.receptive_field()) * model.config.hop_length


def default_chunk_samples(model: WaveGlow) -> int:
    """``DEFAULT_CHUNK_FRAMES`` frames, or 8 receptive fields if larger (time overhead of the
    context then at most 2 / 8 = 25 %); 2048 frames = 524288 samples for the published model."""
    return max(DEFAULT_CHUNK_FRAMES * model.config.hop_length, 8 * minimum_chunk_samples(model))


def chunk_size(model: WaveGlow, chunk_samples: int | None) -> int:
    """The chunk size to use: the default for None; else checked (one-line WaveflowError)."""
    if chunk_samples is None:
        return default_chunk_samples(model)
    hop, minimum = model.config.hop_length, minimum_chunk_samples(model)
    if isinstance(chunk_samples, bool) or not isinstance(chunk_samples, int):
        raise WaveflowError(
            f"chunk size must be an integer number of samples, got {chunk_samples!r}"
        )
    if chunk_samples % hop:
        raise WaveflowError(
            f"chunk size {chunk_samples} samples is not a multiple of hop_length {hop}; "
            f"the minimum is {minimum} samples"
        )
    if chunk_samples < minimum:
        raise WaveflowError(
            f"chunk size {chunk_samples} samples is below the model's receptive field: the "
            f"minimum is {minimum} samples ({minimum // hop} frames of {hop})"
        )
    return chunk_samples


def _window_condition(
    model: WaveGlow, mel: Tensor, mel_base: int, start: int, end: int, ctx: Context, dtype
) -> Tensor:
    """Grouped conditioning of samples ``[start, end)`` from ``mel`` (frames from ``mel_base``)."""
    m0, m1 = ctx.mel_span(start, end, mel_base + mel.shape[2])
    cond = model.synthesis_condition(
        mel[:, :, m0 - mel_base : m1 - mel_base], end - m0 * ctx.hop, dtype
    )
    return cond[:, :, (start - m0 * ctx.hop) // ctx.group :]


class _Latents:
    """The latent ``[B, T]`` read window by window in time order: a given tensor, or drawn
    from the model's base distribution in blocks of ``LATENT_BLOCK_FRAMES`` frames."""

    def __init__(self, model: WaveGlow, sigma: float, generator, z: Tensor | None) -> None:
        self.model, self.sigma, self.generator, self.z = model, sigma, generator, z
        self.block = LATENT_BLOCK_FRAMES * model.config.hop_length
        self.start = 0
        self.buffer: Tensor | None = None

    def take(self, batch: int, start: int, end: int) -> Tensor:
        if self.z is not None:
            return self.z[:, start:end]
        pieces = [] if self.buffer is None else [self.buffer]
        drawn = self.start + (0 if self.buffer is None else self.buffer.shape[1])
        while drawn < end:
            pieces.append(
                self.model.flow.sample_latent((batch, self.block), self.sigma, self.generator)
            )
            drawn += self.block
        self.buffer = torch.cat(pieces, dim=1) if len(pieces) > 1 else pieces[0]
        return self.buffer[:, start - self.start : end - self.start]

    def release(self, before: int) -> None:
        """Forget samples before ``before`` (requests never go back there)."""
        if self.buffer is not None and before > self.start:
            self.buffer = self.buffer[:, before - self.start :].clone()
            self.start = before


class StreamingSynthesizer:
    """Synthesis as mel frames arrive: ``push(mel [B, M, n]) -> audio [B, k]`` returns the
    audio that is now exact, ``finish()`` the rest; the concatenation equals
    :func:`synthesize` of the whole mel with the same latent (within float rounding).

    A block of audio is out as soon as ``latency_frames`` further mel frames have arrived. Each
    emitted piece is computed on a window of itself plus the context on both sides, so pushing
    blocks of at least ``latency_frames`` frames keeps the overhead reasonable; pieces are at
    most ``chunk_samples`` long. Memory is bounded by the chunk and the context, whatever the
    length. ``z`` (``[B, T]``) fixes the latent instead of drawing it (tests).
    """

    def __init__(
        self,
        model: WaveGlow,
        sigma: float = 0.6,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        chunk_samples: int | None = None,
        z: Tensor | None = None,
    ) -> None:
        self.model = model
        self.dtype = dtype
        self.ctx = Context.of(model)
        self.chunk = chunk_size(model, chunk_samples)
        self.latents = _Latents(model, sigma, generator, z)
        self.mel: Tensor | None = None
        self.mel_base = 0
        self.frames = 0
        self.emitted = 0
        self.computed = 0  # samples run through the flow, contexts included (overhead)
        self.finished = False

    @property
    def latency_frames(self) -> int:
        """Algorithmic latency in mel frames (see the module docstring)."""
        return self.ctx.latency_frames

    def push(self, mel: Tensor) -> Tensor:
        """Append mel frames ``[B, M, n]`` (``n >= 0``); return the audio now ready."""
        return self._cat(self.feed(mel))

    def finish(self) -> Tensor:
        """No more frames: return the remaining audio (the stream ends at ``frames * hop``)."""
        return self._cat(self.feed(None))

    def feed(self, mel: Tensor | None) -> Iterator[Tensor]:
        """Like :meth:`push` (``None``: :meth:`finish`), yielding the ready pieces one by one."""
        if self.finished:
            raise WaveflowError("streaming synthesis: the stream is already finished")
        if mel is None:
            if self.frames == 0:
                raise WaveflowError("streaming synthesis: no mel frames were pushed")
            self.finished = True
        else:
            self._append(mel)
        yield from self._emit()

    def _append(self, mel: Tensor) -> None:
        model = self.model
        if mel.dim() == 3 and mel.shape[2] == 0:
            return
        model.check_mel(mel)
        if self.mel is not None and mel.shape[0] != self.mel.shape[0]:
            raise WaveflowError(
                f"streaming synthesis: batch size changed from {self.mel.shape[0]} to "
                f"{mel.shape[0]}"
            )
        param = next(model.parameters())
        mel = mel.to(device=param.device, dtype=param.dtype)
        self.mel = mel if self.mel is None else torch.cat([self.mel, mel], dim=2)
        self.frames += mel.shape[2]

    def _emit(self) -> Iterator[Tensor]:
        ctx, total = self.ctx, self.frames * self.ctx.hop
        ready = total if self.finished else (self.frames - ctx.mel_right) * ctx.hop - ctx.samples
        while ready > self.emitted:
            start, end = self.emitted, min(self.emitted + self.chunk, ready)
            yield self._window(start, end, total if self.finished else None)
            self.emitted = end
            self._release()

    @torch.no_grad()
    def _window(self, start: int, end: int, total: int | None) -> Tensor:
        assert self.mel is not None
        ctx = self.ctx
        lo, hi = max(0, start - ctx.samples), end + ctx.samples
        hi = hi if total is None else min(hi, total)
        cond = _window_condition(self.model, self.mel, self.mel_base, lo, hi, ctx, self.dtype)
        z = self.latents.take(self.mel.shape[0], lo, hi)
        self.computed += hi - lo
        audio = self.model.decode(z, cond, self.dtype)
        return audio[:, start - lo : end - lo]

    def _release(self) -> None:
        assert self.mel is not None
        ctx = self.ctx
        keep = max(0, (self.emitted - ctx.samples) // ctx.hop - ctx.mel_left)
        if keep > self.mel_base:
            self.mel = self.mel[:, :, keep - self.mel_base :].clone()
            self.mel_base = keep
        self.latents.release(max(0, self.emitted - ctx.samples))

    def _cat(self, pieces: Iterable[Tensor]) -> Tensor:
        pieces = list(pieces)
        if pieces:
            return torch.cat(pieces, dim=1)
        param = next(self.model.parameters())
        batch = 0 if self.mel is None else self.mel.shape[0]
        return torch.zeros(batch, 0, device=param.device, dtype=param.dtype)


def stream_synthesis(model: WaveGlow, mel_blocks: Iterable[Tensor], **options) -> Iterator[Tensor]:
    """Yield audio blocks ``[B, k]`` as the mel blocks ``[B, M, n]`` of ``mel_blocks`` arrive;
    ``options`` are those of :class:`StreamingSynthesizer`. Their concatenation is
    ``F * hop`` samples, equal to :func:`synthesize` of the concatenated mel."""
    stream = StreamingSynthesizer(model, **options)
    for block in mel_blocks:
        yield from stream.feed(block)
    yield from stream.feed(None)


@torch.no_grad()
def synthesize(
    model: WaveGlow,
    mel: Tensor,
    sigma: float = 0.6,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    chunk_samples: int | None = None,
    z: Tensor | None = None,
) -> Tensor:
    """``mel [B, M, F] -> audio [B, F hop]`` in exact chunks (see the module docstring); the
    output is filled in place, so peak memory is the mel, the audio and one chunk's work."""
    model.check_mel(mel)
    hop = model.config.hop_length
    stream = StreamingSynthesizer(model, sigma, generator, dtype, chunk_samples, z)
    param = next(model.parameters())
    audio = torch.empty(mel.shape[0], mel.shape[2] * hop, device=param.device, dtype=param.dtype)
    position = 0
    for final in (False, True):
        for piece in stream.feed(None if final else mel):
            audio[:, position : position + piece.shape[1]] = piece
            position += piece.shape[1]
    return audio


class _ColumnLogScales:
    """Forward hooks that add up the column-varying log-det terms per column ``[B, T']``: every
    coupling's ``log_scale`` and every conditional prior's ``-log_std``."""

    def __init__(self) -> None:
        self.columns: Tensor | None = None

    def _accumulate(self, per_column: Tensor) -> None:
        per_column = per_column.to(torch.float64)
        self.columns = per_column if self.columns is None else self.columns + per_column

    def add(self, coupling: AffineCoupling, net, inputs, output: Tensor) -> None:
        log_scale = coupling.params(output, inputs[0], "AffineCoupling")[1]
        if log_scale is not None:
            self._accumulate(log_scale.sum(dim=1))

    def add_prior(self, net, inputs, output: Tensor) -> None:
        log_std = output.chunk(2, dim=1)[1]  # standardising by std has log-det -sum(log std)
        self._accumulate(-log_std.sum(dim=1))


@contextlib.contextmanager
def _column_log_scales(model: WaveGlow) -> Iterator[_ColumnLogScales]:
    record = _ColumnLogScales()
    handles = [
        module.net.register_forward_hook(partial(record.add, module))
        for module in model.modules()
        if isinstance(module, AffineCoupling)
    ]
    handles += [
        module.register_forward_hook(record.add_prior)
        for module in model.modules()
        if isinstance(module, PriorNet)
    ]
    try:
        yield record
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def log_prob(
    model: WaveGlow,
    audio: Tensor,
    mel: Tensor,
    sigma: float = 1.0,
    chunk_samples: int | None = None,
) -> Tensor:
    """Exact ``log p(audio | mel)`` in nats ``[B]`` (float64), computed in chunks.

    Each window's latent is kept on its centre only. Its log-det splits into the terms that
    vary by column, summed over the kept columns (read by hooks: the couplings' ``log_scale``
    and a conditional prior's ``-log_std``), and the rest, which is the same for every column
    (1x1 convs: ``log|det W|`` per column; ActNorm: ``sum log|scale|``; squeeze and split: 0)
    and is scaled to the kept columns. Equals ``model.log_prob`` within float
    rounding. ``audio [B, T]`` with ``T`` a multiple of ``n_group`` and ``<= F * hop``.
    """
    model.check_mel(mel)
    ctx, chunk = Context.of(model), chunk_size(model, chunk_samples)
    length, group = (audio.shape[-1] if audio.dim() else 0), ctx.group
    if audio.dim() != 2 or length == 0 or length % group or length > mel.shape[2] * ctx.hop:
        raise WaveflowError(
            f"chunked log_prob: audio {list(audio.shape)} must be [B, T] with T a positive "
            f"multiple of n_group ({group}) and <= frames * hop ({mel.shape[2] * ctx.hop})"
        )
    total = torch.zeros(audio.shape[0], dtype=torch.float64, device=audio.device)
    with _column_log_scales(model) as record:
        for start in range(0, length, chunk):
            end = min(start + chunk, length)
            lo, hi = max(0, start - ctx.samples), min(length, end + ctx.samples)
            cond = _window_condition(model, mel, 0, lo, hi, ctx, None)
            record.columns = None
            z, logdet = model.flow(audio[:, None, lo:hi], cond)
            columns = record.columns
            if columns is None:
                columns = audio.new_zeros(audio.shape[0], (hi - lo) // group, dtype=torch.float64)
            per_column = (logdet.double() - columns.sum(dim=1)) / columns.shape[1]
            first, last = (start - lo) // group, (end - lo) // group
            kept = columns[:, first:last].sum(dim=1) + per_column * (last - first)
            latent = z[:, 0, start - lo : end - lo]
            total += model.latent_log_prob(latent, cond[:, :, first:last], sigma).double() + kept
    return total
