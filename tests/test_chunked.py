"""Chunked and streaming WaveGlow synthesis and chunked likelihood equal the whole-utterance
results (float64: to rounding; float32: within 1e-4), and bad chunk sizes are one-line errors.

Flat memory in the length is measured by ``tools/benchmark.py memory`` (not a unit test); here
only what decides it: windows never exceed chunk + 2 contexts, and the buffers are trimmed.
"""

from __future__ import annotations

import pytest
import torch

from waveflow.audio.models import chunked
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.errors import WaveflowError

TINY = dict(
    n_mel_channels=5, n_flows=4, n_group=4, n_early_every=2, n_early_size=2,
    n_layers=2, n_channels=8, kernel_size=3, hop_length=8, upsample_kernel=24,
)  # fmt: skip
FRAMES = 57


def tiny_model(dtype=torch.float64, **overrides) -> WaveGlow:
    torch.manual_seed(0)
    model = WaveGlow(**{**TINY, **overrides}).to(dtype)
    with torch.no_grad():  # non-identity couplings
        for step in model.flow_steps():
            step.coupling.net.end.weight.normal_(0, 0.3)
            step.coupling.net.end.bias.normal_(0, 0.1)
    return model.eval()


OPTIONS = dict(
    prior="conditional", actnorm=True, upsampler="interpolate", wavenet_conv="separable", lu=True,
    lapped=True,
)  # fmt: skip


def tiny_model_with_options(**overrides) -> WaveGlow:
    """Every learning-efficiency option on, initialised on data and perturbed (no identity)."""
    model = tiny_model(**{**OPTIONS, **overrides}).train()
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        mel = torch.randn(2, 5, 16, generator=generator, dtype=torch.float64)
        model(0.3 * torch.randn(2, 16 * 8, generator=generator, dtype=torch.float64), mel)
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=generator, dtype=param.dtype))
    return model.eval()


def inputs(model: WaveGlow, batch: int = 2, frames: int = FRAMES):
    dtype = next(model.parameters()).dtype
    generator = torch.Generator().manual_seed(1)
    mel = torch.randn(batch, 5, frames, generator=generator, dtype=dtype)
    z = 0.6 * torch.randn(batch, frames * 8, generator=generator, dtype=dtype)
    with torch.no_grad():
        whole = model.inverse(z, mel)[0]
    return mel, z, whole


def test_receptive_field_of_the_published_layout():
    model = WaveGlow()
    assert model.flow_context() == 12 * 255  # 12 couplings of 8 dilated layers, kernel 3
    assert model.upsampler_context() == (3, 0)  # 1024 taps, stride 256
    assert model.receptive_field() == (96 + 3, 96)
    assert chunked.minimum_chunk_samples(model) == 99 * 256
    assert chunked.default_chunk_samples(model) == 2048 * 256
    assert chunked.Context.of(model).latency_frames == 96


def test_tiny_receptive_field_counts_every_dilated_conv():
    model = tiny_model(n_layers=3, kernel_size=5)
    assert model.flow_context() == 4 * 2 * (1 + 2 + 4)  # 4 flows, (5 - 1) / 2 * dilations
    assert model.receptive_field() == (28 + 2, 28)  # 56 * 4 / 8 frames + ceil(16 / 8)


@pytest.mark.parametrize("chunk", [64, 72, 200, 10_000])
def test_chunked_synthesis_equals_whole_utterance_float64(chunk):
    model = tiny_model()
    mel, z, whole = inputs(model)
    audio = chunked.synthesize(model, mel, z=z, chunk_samples=chunk)
    assert audio.shape == whole.shape
    torch.testing.assert_close(audio, whole, atol=1e-10, rtol=0)


@pytest.mark.parametrize("group", [4, 8])  # 8 = hop: the columns are the mel frames
def test_chunked_synthesis_and_likelihood_exact_with_every_model_option(group):
    model = tiny_model_with_options(n_group=group)
    mel, z, whole = inputs(model)
    minimum = chunked.minimum_chunk_samples(model)
    for chunk in (minimum, minimum + 8 * 7):
        audio = chunked.synthesize(model, mel, z=z, chunk_samples=chunk)
        torch.testing.assert_close(audio, whole, atol=1e-10, rtol=0)
    with torch.no_grad():
        expected = model.log_prob(whole, mel)
    got = chunked.log_prob(model, whole, mel, chunk_samples=minimum)
    torch.testing.assert_close(got, expected, atol=1e-8, rtol=0)


def test_too_little_context_is_detected():
    """The equality above can fail: with a context below the receptive field it does."""
    model = tiny_model()
    mel, z, whole = inputs(model)
    model.flow_context = lambda: 4  # claim 4 columns instead of 48
    assert (chunked.synthesize(model, mel, z=z, chunk_samples=64) - whole).abs().max() > 1e-3


def test_chunked_synthesis_float32_within_1e4():
    model = tiny_model(torch.float32)
    mel, z, whole = inputs(model, batch=1, frames=80)
    audio = chunked.synthesize(model, mel, z=z, chunk_samples=64)
    assert (audio - whole).abs().max() < 1e-4


def test_infer_is_the_same_for_every_chunk_size_and_in_bf16_close():
    model = tiny_model(torch.float32)
    mel, _, _ = inputs(model)

    def infer(**kwargs):
        return model.infer(mel, sigma=0.7, generator=torch.Generator().manual_seed(5), **kwargs)

    reference = infer()  # one window: the whole utterance
    for chunk in (64, 96, 456):
        assert (infer(chunk_samples=chunk) - reference).abs().max() < 1e-4
    low = infer(chunk_samples=64, dtype=torch.bfloat16)
    assert low.dtype == torch.float32 and (low - reference).abs().max() < 0.1


@pytest.mark.parametrize("blocks", [[3, 1, 10, 0, 20, 23], [1] * FRAMES, [FRAMES]])
def test_streaming_equals_offline(blocks):
    model = tiny_model()
    mel, z, whole = inputs(model)
    stream = chunked.StreamingSynthesizer(model, z=z, chunk_samples=64)
    pieces, arrived = [], 0
    for n in blocks:
        piece = stream.push(mel[:, :, arrived : arrived + n])
        arrived += n
        # latency: audio up to (arrived - latency) frames is out, nothing beyond
        emitted = sum(p.shape[1] for p in pieces) + piece.shape[1]
        assert emitted == max(0, arrived - stream.latency_frames) * 8
        pieces.append(piece)
    pieces.append(stream.finish())
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, atol=1e-10, rtol=0)


def test_stream_synthesis_generator_with_drawn_latents_matches_infer():
    model = tiny_model(torch.float32)
    mel, _, _ = inputs(model, batch=1)
    blocks = [mel[:, :, i : i + 7] for i in range(0, FRAMES, 7)]
    options = dict(sigma=0.5, chunk_samples=64)
    streamed = torch.cat(
        list(
            chunked.stream_synthesis(
                model, blocks, generator=torch.Generator().manual_seed(2), **options
            )
        ),
        dim=1,
    )
    offline = model.infer(mel, generator=torch.Generator().manual_seed(2), **options)
    assert (streamed - offline).abs().max() < 1e-4


def test_streaming_keeps_bounded_buffers():
    model = tiny_model()
    ctx = chunked.Context.of(model)
    frames = 400
    mel = torch.randn(1, 5, frames, dtype=torch.float64)
    stream = chunked.StreamingSynthesizer(model, sigma=0.5, chunk_samples=64)
    longest = 0
    for i in range(0, frames, 5):
        longest = max(longest, stream.push(mel[:, :, i : i + 5]).shape[1])
        assert stream.mel.shape[2] <= 5 + 2 * ctx.latency_frames + ctx.mel_left + 64 // 8
        drawn = 0 if stream.latents.buffer is None else stream.latents.buffer.shape[1]
        assert drawn <= 64 + 2 * ctx.samples + 32 * 8
    assert longest <= 64
    assert stream.finish().shape[1] == stream.latency_frames * 8


def test_streaming_misuse_is_reported():
    model = tiny_model()
    stream = chunked.StreamingSynthesizer(model, chunk_samples=64)
    with pytest.raises(WaveflowError, match="no mel frames"):
        stream.finish()
    stream.push(torch.randn(1, 5, 3, dtype=torch.float64))
    with pytest.raises(WaveflowError, match="batch size changed"):
        stream.push(torch.randn(2, 5, 3, dtype=torch.float64))
    with pytest.raises(WaveflowError, match="channels"):
        stream.push(torch.randn(1, 4, 3, dtype=torch.float64))
    stream.finish()
    with pytest.raises(WaveflowError, match="already finished"):
        stream.push(torch.randn(1, 5, 3, dtype=torch.float64))


@pytest.mark.parametrize(
    ("chunk", "message"),
    [
        (60, "not a multiple of hop_length 8; the minimum is 64 samples"),
        (56, "below the model's receptive field: the minimum is 64 samples (8 frames of 8)"),
        (0, "minimum is 64"),
        (64.0, "integer"),
    ],
)
def test_bad_chunk_sizes_name_the_minimum(chunk, message):
    model = tiny_model()
    with pytest.raises(WaveflowError, match="minimum|integer") as err:
        model.infer(torch.zeros(1, 5, 4, dtype=torch.float64), chunk_samples=chunk)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("length", [FRAMES * 8, FRAMES * 8 - 4, 100])
@pytest.mark.parametrize("chunk", [64, 136, 10_000])
def test_chunked_log_prob_equals_whole_utterance(length, chunk):
    model = tiny_model()
    mel, _, whole = inputs(model)
    audio = whole[:, :length]
    with torch.no_grad():
        expected = model.log_prob(audio, mel, sigma=0.8)
    got = chunked.log_prob(model, audio, mel, sigma=0.8, chunk_samples=chunk)
    torch.testing.assert_close(got, expected, atol=1e-9, rtol=0)


def test_chunked_log_prob_float32_and_sensitivity():
    model = tiny_model(torch.float32)
    mel, _, whole = inputs(model)
    with torch.no_grad():
        expected = model.log_prob(whole, mel).double()
    got = chunked.log_prob(model, whole, mel, chunk_samples=64)
    assert ((got - expected).abs() / expected.abs()).max() < 1e-5
    model.flow_context = lambda: 4
    wrong = chunked.log_prob(model, whole, mel, chunk_samples=64)
    assert (wrong - expected).abs().max() > 1e-3


def test_chunked_log_prob_rejects_bad_audio():
    model = tiny_model()
    mel = torch.randn(1, 5, 4, dtype=torch.float64)
    with pytest.raises(WaveflowError, match="multiple of n_group"):
        chunked.log_prob(model, torch.zeros(1, 30, dtype=torch.float64), mel)
    with pytest.raises(WaveflowError, match="<= frames"):
        chunked.log_prob(model, torch.zeros(1, 40, dtype=torch.float64), mel)


@pytest.mark.parametrize("chunk_frames", [1, 7, 4096])
def test_mel_front_end_in_chunks_equals_one_centred_stft(chunk_frames, monkeypatch):
    from waveflow.audio.data.features import MelSpectrogram

    front_end = MelSpectrogram()
    c = front_end.config
    audio = torch.rand(2, 20_000, generator=torch.Generator().manual_seed(0)) * 2 - 1
    spectrum = torch.stft(
        audio, c.n_fft, c.hop_length, c.win_length, window=front_end.window, center=True,
        pad_mode="reflect", return_complex=True,
    )  # fmt: skip
    expected = torch.log(torch.clamp(front_end.filterbank @ spectrum.abs(), min=c.log_floor))
    monkeypatch.setattr(front_end, "chunk_frames", chunk_frames)
    torch.testing.assert_close(front_end(audio), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(front_end(audio[1]), expected[1], atol=1e-5, rtol=0)
