"""WaveGlow's conditioning paths: the mel ``[B, M, F]`` to the grouped columns ``[B, C, T/g]``.

Every conditioner is called as ``conditioner(mel, length) -> cond [B, cond_channels, length/g]``
for audio of ``length <= F * hop`` samples grouped ``g = n_group`` samples per column.

* :class:`TransposedUpsampler` (``upsampler: transposed``, NVIDIA's): a learned
  ``ConvTranspose1d(M, M, kernel, stride=hop)`` to the sample rate, trimmed to ``length`` and
  grouped, so ``cond_channels = M * g`` (computed as one GEMM straight into the grouped
  layout). It is a subclass of ``ConvTranspose1d`` so its parameters keep NVIDIA's names
  (``upsample.weight``, ``upsample.bias``).
* :class:`InterpolatingUpsampler` (``upsampler: interpolate``): the mel linearly interpolated
  to the column rate (column ``j`` covers samples ``[j g, (j+1) g)``; frame ``f`` is centred on
  sample ``f hop``) followed by one learned ``Conv1d(M, M, 3)`` initialised to the identity, so
  ``cond_channels = M`` for any ``g``. No weight can grow into gate saturation the way the
  1024-tap upsampler's do, and with ``g = hop`` the columns are the mel frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from waveflow.bijectors.base import weights_key


class TransposedUpsampler(nn.ConvTranspose1d):
    """NVIDIA's upsampler followed by WaveGlow's grouping: ``[B, M, F] -> [B, M g, length/g]``.

    The same function as ``Squeeze(g)(ConvTranspose1d(mel)[:, :, :length])``, computed as one
    GEMM per call straight into the grouped layout: ``u[o, f hop + r] = b[o] + sum_{n < K/hop}
    sum_i W[i, o, n hop + r] mel[i, f - n]``, i.e. one matrix ``W2 [(o, r), (n, i)]`` times the
    stacked shifted frames ``[(n, i), f]`` (an inner dimension of ``M K / hop``, 320 published),
    instead of torch's CPU ``col2im`` path, which writes ``K / hop`` times the output (about 4x
    slower, and 25 GB of columns for an hour of mel). Exact up to float summation order.
    """

    def __init__(self, n_mel: int, hop_length: int, kernel_size: int, n_group: int) -> None:
        super().__init__(n_mel, n_mel, kernel_size, stride=hop_length)
        self.n_group = n_group
        self._cache: tuple[tuple, Tensor] | None = None

    def taps(self) -> int:
        """Mel frames that reach one output sample: ``ceil(kernel / hop)``."""
        return -(-self.kernel_size[0] // self.stride[0])

    def _gemm_weight(self) -> Tensor:
        """``W2 [(o, r), (n, i)] = W[i, o, n hop + r]`` (zero-padded kernel); cached when no
        gradient is needed (keyed on :func:`weights_key` of the weight)."""
        weight = self.weight
        key = weights_key([weight])
        cached = self._cache
        if cached is not None and cached[0] == key and not torch.is_grad_enabled():
            return cached[1]
        channels_in, channels_out, kernel = weight.shape
        hop, taps = self.stride[0], self.taps()
        padded = F.pad(weight, (0, taps * hop - kernel))
        w2 = padded.reshape(channels_in, channels_out, taps, hop).permute(1, 3, 2, 0)
        w2 = w2.reshape(channels_out * hop, taps * channels_in)
        if key is not None and not torch.is_grad_enabled():
            self._cache = (key, w2)
        return w2

    def forward(self, mel: Tensor, length: int) -> Tensor:  # type: ignore[override]
        """``mel [B, M, F]`` -> the first ``length`` upsampled samples, grouped:
        ``[B, M * g, length / g]`` (``length <= F * hop``, a multiple of ``g``)."""
        batch, _, frames = mel.shape
        hop, taps, group = self.stride[0], self.taps(), self.n_group
        out_frames = -(-length // hop)
        w2 = self._gemm_weight()
        padded = F.pad(mel, (taps - 1, max(0, out_frames - frames)))
        stacked = torch.cat(
            [padded[:, :, taps - 1 - n : taps - 1 - n + out_frames] for n in range(taps)], dim=1
        )
        upsampled = torch.matmul(w2.to(stacked.dtype), stacked)  # [B, (o, r), f]
        upsampled = upsampled.view(batch, self.out_channels, hop, out_frames)
        upsampled = upsampled + self.bias.to(upsampled.dtype)[None, :, None, None]
        per_frame = hop // group
        grouped = upsampled.view(batch, self.out_channels, per_frame, group, out_frames)
        grouped = grouped.permute(0, 1, 3, 4, 2).reshape(
            batch, self.out_channels * group, out_frames * per_frame
        )
        return grouped[:, :, : length // group]

    def context_frames(self) -> tuple[int, int]:
        """Mel frames ``(left, right)`` beyond ``[a, b)`` read by samples ``[a hop, b hop)``.

        Kernel ``K``, stride ``hop``, no padding: sample ``s`` reads the frames ``f`` with
        ``f hop <= s < f hop + K``, i.e. ``ceil((K - hop) / hop)`` frames on the left, none on
        the right.
        """
        kernel, hop = self.kernel_size[0], self.stride[0]
        return -(-(kernel - hop) // hop), 0


def interpolate_frames(mel: Tensor, columns: int, n_group: int, hop_length: int) -> Tensor:
    """Linear interpolation of ``mel [B, M, F]`` at the centres of ``columns`` groups of samples.

    Column ``j``'s centre, sample ``j g + (g - 1) / 2``, lies at frame position
    ``(j g + (g - 1) / 2) / hop`` (clamped to ``[0, F - 1]``). Returns ``[B, M, columns]``.
    """
    frames = mel.shape[2]
    centre = (torch.arange(columns, device=mel.device, dtype=mel.dtype) * n_group) + (
        (n_group - 1) / 2
    )
    position = (centre / hop_length).clamp(0, frames - 1)
    left = position.floor().long().clamp(max=frames - 1)
    right = (left + 1).clamp(max=frames - 1)
    weight = position - left.to(mel.dtype)
    return mel[:, :, left] * (1 - weight) + mel[:, :, right] * weight


class InterpolatingUpsampler(nn.Module):
    """Interpolate the mel to the column rate, then ``Conv1d(M, M, 3)``: ``[B, M, length/g]``."""

    def __init__(self, n_mel: int, hop_length: int, n_group: int) -> None:
        super().__init__()
        self.hop_length = hop_length
        self.n_group = n_group
        self.conv = nn.Conv1d(n_mel, n_mel, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[:, :, 1].copy_(torch.eye(n_mel))
            self.conv.bias.zero_()

    def forward(self, mel: Tensor, length: int) -> Tensor:
        columns = length // self.n_group
        return self.conv(interpolate_frames(mel, columns, self.n_group, self.hop_length))

    def context_frames(self) -> tuple[int, int]:
        """Mel frames ``(left, right)`` beyond ``[a, b)`` read by samples ``[a hop, b hop)``.

        The kernel-3 conv reads one column beyond each end; the column before sample ``a hop``
        interpolates frames ``a - 1`` and ``a``, the column after ``b hop`` frames ``b`` and
        ``b + 1`` (``n_group <= hop``): one frame on the left, two on the right.
        """
        return 1, 2
