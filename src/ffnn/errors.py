"""ffnn's own exception types. Each carries a one-line message saying what was wrong and what to do.

Every error ffnn raises on purpose — a caller's mistake, a bad file, a missing data set, a
diverging run — is an :class:`FFNNError`. The command line reports those in one line (exit status
2, or 1 for divergence); anything else that escapes is a bug in ffnn and is reported as one.
Each type also derives from the built-in exception a Python caller would expect (``ValueError``,
``TypeError``, ...), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

# The exit statuses of the command line (an MPI job ended by one rank ends with the same ones).
EXIT_DIVERGED, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 1, 2, 70, 130


class FFNNError(Exception):
    """Base of every error ffnn raises on purpose (as opposed to a bug)."""


class ParameterError(FFNNError, ValueError):
    """A parameter or setting has a value outside its rule (range, choices, shape, combination)."""


class ParameterTypeError(FFNNError, TypeError):
    """A parameter has the wrong type (a string where a number belongs, a non-numeric array)."""


class SettingError(ParameterError):
    """A run setting (command-line flag, TOML file or recipe) is unknown, mistyped or out of range."""


class DataFormatError(FFNNError, ValueError):
    """A data file is malformed: wrong magic, truncated, inconsistent sizes, or not what it claims."""


class ModelFileError(DataFormatError):
    """A model file is not an ffnn model, is truncated or inconsistent, or comes from a newer format."""


class NonFiniteOutputError(FFNNError, ValueError):
    """A network's outputs overflowed its dtype (NaN or inf), so it has no answer for that input."""


class DataUnavailableError(FFNNError, RuntimeError):
    """No source could provide a data set; the message lists what was tried and how to fix it."""


class TrainingDivergedError(FFNNError, FloatingPointError):
    """The cost or the parameters became NaN or inf during training; the last good ones are kept."""


class ExtraNotInstalledError(FFNNError, ImportError):
    """An optional part of ffnn is used without its extra installed; the message names the extra."""


class RunFolderError(FFNNError, ValueError):
    """A run folder cannot be used as asked: not empty, not a run folder, or another run's checkpoint."""
