"""Building blocks of ``tools/benchmark.py``: timing statistics, peak memory, machine facts,
model presets, the measured cases (each runnable in a fresh subprocess), FLOP counts and the
report (table + JSON)."""
