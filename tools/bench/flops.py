"""FLOP counts of WaveGlow: counted with ``torch.utils.flop_counter`` and derived analytically.

Both count convolutions and matmuls only, at 2 FLOPs per multiply-add; elementwise work (the
gated tanh/sigmoid, the affine maps, weight norm) is left out, so they are a lower bound on the
work and the compute floor built on them is an upper bound on the speed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode


def waveglow_flops_per_sample(config: dict[str, Any]) -> float:
    """Conv/matmul FLOPs per synthesised audio sample of WaveGlow ``config``, by hand.

    Per mel frame the transposed upsampler (``ConvTranspose1d(M, M, K_up, stride=hop)``, one
    GEMM over ``ceil(K_up / hop)`` frames) costs ``2 M^2 hop ceil(K_up / hop)``, i.e.
    ``2 M^2 ceil(K_up / hop)`` per sample. Per grouped time step (``n_group`` samples) flow
    ``k`` with ``c`` channels (``h = c / 2``) costs, with ``C`` = n_channels, ``L`` =
    n_layers, ``K`` = kernel_size and ``M_c`` the conditioning channels (``M g``): the 1x1 conv
    ``2 c^2``; the WaveNet's start ``2 h C``, conditioning projection ``2 M_c (2 C L)``,
    dilated convs ``L * 2 C (2C) K`` and the 1x1 projections with ``end`` folded into the skip
    rows: ``(L - 1) * 2 C (C + 2h) + 2 C (2h)`` (NVIDIA's layout has
    ``(L - 1) * 2 C (2C) + 2 C^2`` skip/residual convs plus ``end``).

    Options: ``upsampler: interpolate`` costs its 3-tap ``M -> M`` conv per column instead
    (and ``M_c = M``); ``wavenet_conv: separable`` costs ``2 C K + 2 C (2C)`` per dilated
    layer; ``prior: conditional`` adds each prior net's 3-tap conv (``in -> 2 out``) per
    column. ActNorm is elementwise and not counted; with ``lu`` the 1x1 convs' ``P L U``
    matrix products (once per call, not per sample) are not included.
    """
    m, g = config["n_mel_channels"], config["n_group"]
    big_c, layers, kernel = config["n_channels"], config["n_layers"], config["kernel_size"]
    interpolate = config.get("upsampler", "transposed") == "interpolate"
    cond = m if interpolate else m * g
    if interpolate:
        upsample = 2 * m * m * 3 / g
    else:
        upsample = 2 * m * m * -(-config["upsample_kernel"] // config["hop_length"])
    if config.get("wavenet_conv", "dense") == "separable":
        dilated = 2 * big_c * kernel + 2 * big_c * 2 * big_c
    else:
        dilated = 2 * big_c * 2 * big_c * kernel
    conditional = config.get("prior", "standard") == "conditional"
    per_group_step = 0
    for k in range(config["n_flows"]):
        c = g - config["n_early_size"] * (k // config["n_early_every"])
        h = c // 2
        if conditional and k > 0 and k % config["n_early_every"] == 0:
            # the Split before flow k: prior net on the c channels that stay + conditioning
            per_group_step += 2 * (c + cond) * 2 * config["n_early_size"] * 3
        per_group_step += 2 * c * c
        per_group_step += 2 * h * big_c + 2 * cond * (2 * big_c * layers)
        per_group_step += layers * dilated
        per_group_step += (layers - 1) * 2 * big_c * (big_c + 2 * h) + 2 * big_c * 2 * h
    if conditional:
        last = config["n_flows"] - 1
        c_final = g - config["n_early_size"] * (last // config["n_early_every"])
        per_group_step += 2 * cond * 2 * c_final * 3  # the final LearnedPrior's net
    return upsample + per_group_step / g


def count_synthesis_flops(config: dict[str, Any], frames: int) -> float:
    """Counted FLOPs per output sample of ``infer`` on one fp32 CPU mel of ``frames`` frames
    (a second call: per-model work cached by the first, such as composed weights, is left out)."""
    from waveflow.audio.models.waveglow import WaveGlow

    torch.manual_seed(0)
    model = WaveGlow(**config).eval().remove_weight_norm()
    mel = torch.randn(1, config["n_mel_channels"], frames, device="cpu") - 5.0
    with torch.inference_mode():
        model.infer(mel, sigma=0.6)
        with FlopCounterMode(display=False) as counter:
            audio = model.infer(mel, sigma=0.6)
    return counter.get_total_flops() / audio.numel()


def count_train_flops(config: dict[str, Any], segment_length: int) -> float:
    """Counted FLOPs per audio sample of a training forward + backward (batch 1, CPU fp32)."""
    from waveflow.audio.models.waveglow import WaveGlow

    torch.manual_seed(0)
    model = WaveGlow(**config).train()
    audio = torch.rand(1, segment_length, device="cpu") - 0.5
    frames = segment_length // config["hop_length"] + 1
    mel = torch.randn(1, config["n_mel_channels"], frames, device="cpu")
    with FlopCounterMode(display=False) as counter:
        loss = -model.log_prob(audio, mel).mean()
        loss.backward()
    return counter.get_total_flops() / segment_length
