"""ffnn's own exception types."""

from __future__ import annotations


class TrainingDivergedError(FloatingPointError):
    """The cost or the parameters became NaN or inf during training; the last good ones are kept."""
