"""Synthesis records no more aten operations than NVIDIA's maths (a CPU proxy of GPU kernel
launches; a count, not a timing), and the coupling nets' prepared weights follow the model.

The reference (``tools/reference/nvidia_maths.py``) and waveflow get the same weights in the
same structure as the published model (early outputs, 1x1 convs, WaveNet couplings with a fused
conditioning projection), at a small size; the counts come from ``tools/bench/op_count.py``,
the tool that ``tools/benchmark.py versus`` reports them with.
"""

from __future__ import annotations

import pytest
import torch
from bench.op_count import count_ops, summary
from reference import nvidia_maths as nl

from waveflow.audio.formats.nvidia import waveglow_from_nvidia_state
from waveflow.audio.models.waveglow import WaveGlow

CONFIG = dict(
    n_mel_channels=8, n_flows=6, n_group=8, n_early_every=4, n_early_size=2,
    WN_config={"n_layers": 4, "n_channels": 16, "kernel_size": 3},
    hop_length=16, upsample_kernel=64,
)  # fmt: skip


def pair() -> tuple[nl.WaveGlow, WaveGlow]:
    reference = nl.make_reference(**CONFIG)
    state = {k: v.clone() for k, v in reference.state_dict().items()}
    ours = waveglow_from_nvidia_state(state, {"hop_length": CONFIG["hop_length"]}, "reference")
    for module in reference.modules():
        if hasattr(module, "weight_g"):
            torch.nn.utils.remove_weight_norm(module)
    return reference.eval(), ours.eval().remove_weight_norm()


@pytest.mark.parametrize("mode", ["inference_mode", "no_grad"])
def test_synthesis_records_no_more_ops_than_the_reference(mode: str) -> None:
    reference, ours = pair()
    mel = torch.randn(1, CONFIG["n_mel_channels"], 120) - 5  # past the streaming latency
    context = torch.inference_mode if mode == "inference_mode" else torch.no_grad
    with context():
        assert (reference.infer(mel, sigma=0.0) - ours.infer(mel, sigma=0.0)).abs().max() < 1e-4

    def run(model):
        def call() -> None:
            with context():
                model.infer(mel, sigma=0.6)

        return call

    theirs, mine = summary(count_ops(run(reference))), summary(count_ops(run(ours)))
    # one pass through every coupling net (the whole mel fits in one chunk): its dilated
    # convolutions once; its 1x1 convolutions are matrix products
    assert mine["convolutions"] == CONFIG["n_flows"] * CONFIG["WN_config"]["n_layers"]
    assert mine["ops"] <= theirs["ops"], (mine, theirs)


@pytest.mark.parametrize("mode", ["inference_mode", "no_grad"])
def test_prepared_weights_follow_weight_changes_between_syntheses(mode: str) -> None:
    _, ours = pair()
    mel = torch.randn(1, CONFIG["n_mel_channels"], 12) - 5
    context = torch.inference_mode if mode == "inference_mode" else torch.no_grad
    with context():
        before = ours.infer(mel, sigma=0.0)
    with torch.no_grad():  # what an optimizer step does: weights change in place
        for net in (step.coupling.net for step in ours.flow_steps()):
            net.end.weight.mul_(1.5)
            net.res_skip_layers[0].weight.add_(0.01)
    with context():
        after = ours.infer(mel, sigma=0.0)
    z = torch.zeros(1, 12 * CONFIG["hop_length"])
    with torch.enable_grad():  # the autograd path composes the weights afresh every call
        expected = ours.inverse(z, mel)[0].detach()
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(after, expected, rtol=1e-5, atol=1e-5)
