"""Independent reference implementations that tests and benchmarks compare waveflow against."""
