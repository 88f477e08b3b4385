"""What the training engine and the evaluation see of the vocoders: the `waveglow` task
(`vocoder`), the `distill` task (`distill`) and held-out likelihood (`likelihood`)."""
