"""The learning-efficiency ablation tool behind ``tools/ablate.py`` (see its docstring)."""
