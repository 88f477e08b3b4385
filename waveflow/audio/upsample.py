"""WaveGlow's mel upsampler: NVIDIA's transposed conv, computed as one GEMM per call.

``TransposedUpsampler`` IS an ``nn.ConvTranspose1d(M, M, K, stride=hop)`` (same parameters,
same state-dict keys, same ``forward``); :meth:`TransposedUpsampler.grouped` computes the
same upsampled mel, trimmed to ``length`` samples and grouped into WaveGlow's conditioning
layout ``[B, M * g, length / g]`` (``Squeeze(g)``: channel ``o * g + k`` holds sample
``t * g + k``) directly:

``u[o, f hop + r] = b[o] + sum_{n < K / hop} sum_i W[i, o, n hop + r] mel[i, f - n]``, i.e. for
every output frame ``f`` one matrix ``W2 [(o, r), (n, i)]`` times the stacked shifted frames
``[(n, i), f]``: a GEMM with an inner dimension of ``M K / hop`` (320 published) instead of
``torch``'s CPU ``col2im`` path, which writes ``K / hop`` times the output and was about ten
times slower (and needed 25 GB of columns for an hour of mel). The grouping is one permuting
copy of the GEMM's output. Exact up to float summation order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class TransposedUpsampler(nn.ConvTranspose1d):
    """``ConvTranspose1d(channels, channels, kernel, stride=hop)`` with a fast grouped path."""

    def __init__(self, channels: int, kernel: int, hop: int) -> None:
        super().__init__(channels, channels, kernel, stride=hop)
        self._cache: tuple[tuple, Tensor] | None = None

    def taps(self) -> int:
        """Mel frames that reach one output sample: ``ceil(kernel / hop)``."""
        return -(-self.kernel_size[0] // self.stride[0])

    def _gemm_weight(self) -> Tensor:
        """``W2 [(o, r), (n, i)] = W[i, o, n hop + r]`` (zero-padded kernel); cached when no
        gradient is needed (keyed on the weight's version, storage and dtype)."""
        weight = self.weight
        key = (weight._version, weight.data_ptr(), weight.dtype, weight.device)
        if self._cache is not None and self._cache[0] == key and not torch.is_grad_enabled():
            return self._cache[1]
        channels_in, channels_out, kernel = weight.shape
        hop, taps = self.stride[0], self.taps()
        padded = F.pad(weight, (0, taps * hop - kernel))
        w2 = padded.reshape(channels_in, channels_out, taps, hop).permute(1, 3, 2, 0)
        w2 = w2.reshape(channels_out * hop, taps * channels_in)
        if not torch.is_grad_enabled():
            self._cache = (key, w2)
        return w2

    def grouped(self, mel: Tensor, length: int, group: int) -> Tensor:
        """``mel [B, M, F]`` -> the first ``length`` upsampled samples, grouped by ``group``:
        ``[B, M * group, length / group]`` (``length <= F * hop``, a multiple of ``group``)."""
        batch, channels, frames = mel.shape
        hop, taps = self.stride[0], self.taps()
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
