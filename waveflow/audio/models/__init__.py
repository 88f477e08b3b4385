"""Vocoder networks and flows: WaveGlow (`waveglow`) built from waveflow's bijectors, its
WaveNet coupling networks (`wavenet`), mel upsamplers (`conditioning`), the learned prior
(`prior_net`), the IAF student (`student`), the bias denoiser (`denoiser`) and WaveGlow's exact
chunked and streaming inference (`chunked`)."""
