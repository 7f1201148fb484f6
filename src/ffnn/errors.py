"""ffnn's own exception types. Each carries a one-line message saying what was wrong and what to do."""

from __future__ import annotations


class TrainingDivergedError(FloatingPointError):
    """The cost or the parameters became NaN or inf during training; the last good ones are kept."""


class DataFormatError(ValueError):
    """A data file is malformed: wrong magic, truncated, inconsistent sizes, or not what it claims."""


class DataUnavailableError(RuntimeError):
    """No source could provide a data set; the message lists what was tried and how to fix it."""


class ModelFileError(DataFormatError):
    """A model file is not an ffnn model, is truncated or inconsistent, or comes from a newer format."""
