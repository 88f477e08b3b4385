"""The WaveGlow vocoder family, in rooms:

- `models`: the networks and flows (WaveGlow, its WaveNet coupling nets, mel upsamplers, the
  prior net, the IAF student, the denoiser, exact chunked/streaming inference).
- `formats`: files in and out (NVIDIA's checkpoints, the shipped default vocoder, TorchScript
  and ONNX export, opening a native-or-NVIDIA vocoder file).
- `synthesis`: mel -> waveform for batches of files, Griffin-Lim.
- `data`: audio file I/O, Tacotron2-compatible log-mel features, corpora and training crops.
- `tasks`: the training tasks (`waveglow`, `distill`) and held-out likelihood.
- `metrics`: objective vocoder metrics (reference vs generated waveform), spectrogram plots.
"""
