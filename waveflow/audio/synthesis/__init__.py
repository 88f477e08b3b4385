"""From mels to waveforms: batch synthesis of mel files to WAVs (`batch`) and the Griffin-Lim
baseline (`griffin_lim`)."""
