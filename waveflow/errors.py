"""User-facing errors.

`WaveflowError` is raised for bad input that a user can fix (wrong shapes, corrupt files, bad
config keys). The command line prints such errors as one line, without a traceback.
"""


class WaveflowError(ValueError):
    """An error caused by user input; its message is a complete, one-line explanation."""
