"""Vocoder files: NVIDIA's published checkpoints (`nvidia`, unpickled safely by
`safe_unpickle`), the default vocoder shipped in `weights/` (`pretrained`), TorchScript/ONNX
export (`export`) and opening a file that is either a native checkpoint or NVIDIA's
(`vocoder_file`)."""
