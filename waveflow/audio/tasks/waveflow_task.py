"""The WaveFlow training task for the engine (`task: waveflow`).

YAML (data and loss sections as the WaveGlow task's):

    task: waveflow
    model: {n_group: 16, n_flows: 8, n_layers: 8, n_channels: 64, ...}   # WaveFlowConfig
    data:  {root: LJSpeech-1.1, segment_length: 16384, ...}             # VocoderDataConfig
    loss:  {sigma: 1.0, stft_weight: 0.0}                                # FlowVocoderLossConfig

WaveGlow-only options (the lapped fold, the 1x1-conv and prior options, NVIDIA's upsampler)
are one-line errors, and so is `train.init_from` with an NVIDIA WaveGlow file.
"""

from __future__ import annotations

import torch

from waveflow.audio.models.waveflow_model import WaveFlow, WaveFlowConfig
from waveflow.audio.tasks.vocoder import WaveGlowTask
from waveflow.errors import WaveflowError

_NO_COLUMNS = "WaveFlow's flows act on the rows of the h x T/h matrix, not on grouped columns"
#: WaveGlow options that have no meaning for WaveFlow, and why.
WAVEGLOW_ONLY_KEYS = {
    "model.lapped": "the lapped (MDCT) fold of WaveGlow's columns; " + _NO_COLUMNS,
    "model.conv_init": "WaveGlow's 1x1-conv start; " + _NO_COLUMNS,
    "model.lu": "WaveGlow's LU 1x1 convs; WaveFlow permutes rows instead",
    "model.actnorm": "WaveGlow's ActNorm; " + _NO_COLUMNS,
    "model.alternate_coupling": "WaveGlow's coupling halves; WaveFlow has no coupling",
    "model.prior": "WaveGlow's conditional prior; WaveFlow's prior is N(0, sigma^2)",
    "model.upsampler": "WaveGlow's choice of upsampler; WaveFlow interpolates the mel",
    "model.upsample_kernel": "NVIDIA's transposed-conv upsampler; WaveFlow interpolates the mel",
    "model.n_early_every": "WaveGlow's early outputs; WaveFlow has none",
    "model.n_early_size": "WaveGlow's early outputs; WaveFlow has none",
    "model.wavenet_conv": "WaveGlow's 1-D WaveNet; WaveFlow's is 2-D",
}


class WaveFlowTask(WaveGlowTask):
    """WaveFlow as the engine sees it: WaveGlow's data and loss, :class:`WaveFlow` as the model."""

    name = "waveflow"
    model_config = WaveFlowConfig
    unsupported_keys = WAVEGLOW_ONLY_KEYS

    def build_model(self, model_cfg: WaveFlowConfig) -> WaveFlow:
        return WaveFlow.from_config(model_cfg)

    def size_floor(self, model_cfg: WaveFlowConfig) -> tuple[int, int]:
        """One ``n_channels -> 2 n_channels`` ``k x k`` conv per layer of every flow."""
        cfg = model_cfg
        layers = cfg.n_flows * cfg.n_layers
        return layers, layers * 2 * cfg.n_channels**2 * cfg.kernel_size**2

    def load_foreign_weights(
        self, model: torch.nn.Module, model_cfg: WaveFlowConfig, path: str, error: WaveflowError
    ) -> None:
        """`train.init_from` with a file that is not a native checkpoint (e.g. NVIDIA's
        WaveGlow): a one-line error naming both (a native `task: waveglow` checkpoint is refused
        by the native loader, naming both tasks)."""
        raise WaveflowError(
            f"train.init_from {path}: task waveflow (WaveFlow) loads only native waveflow "
            f"checkpoints; NVIDIA WaveGlow files are for task waveglow ({error})"
        ) from error
