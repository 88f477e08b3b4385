"""Warning categories for problems met while evaluating (reported, then evaluation goes on)."""

from __future__ import annotations


class EvaluationWarning(UserWarning):
    """Base class: something was left out of an evaluation; the message says what and why."""


class MetricSkippedWarning(EvaluationWarning):
    """A metric was not computed: an optional package is missing, or it failed on one pair."""


class UnmatchedFileWarning(EvaluationWarning):
    """Files without a partner of the same name stem in the other directory."""


class FileFailedWarning(EvaluationWarning):
    """A file pair could not be evaluated (unreadable audio, wrong sample rate, ...)."""
