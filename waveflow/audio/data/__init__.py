"""Audio data: file I/O (`io`), Tacotron2-compatible log-mel features (`features`) and
LJSpeech-layout corpora with WaveGlow training crops (`corpus`)."""
