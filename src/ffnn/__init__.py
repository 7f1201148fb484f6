"""ffnn — feedforward neural networks trained by backpropagation, exact and fast.

The public API, re-exported; nothing is defined here.
"""

from ffnn import (
    activations,
    callbacks,
    checkpoint,
    costs,
    data,
    explain,
    export,
    gradcheck,
    initializers,
    optimizers,
    schedules,
)
from ffnn._version import __version__
from ffnn.callbacks import Callback, PrintProgress
from ffnn.errors import (
    DataFormatError,
    DataUnavailableError,
    FFNNError,
    ModelFileError,
    NonFiniteOutputError,
    ParameterError,
    ParameterTypeError,
    SettingError,
    TrainingDivergedError,
)
from ffnn.network import Network
from ffnn.perceptron import Perceptron
from ffnn.serialization import load, save
from ffnn.state import History
from ffnn.training import Trainer, fit

__all__ = [
    "Callback",
    "DataFormatError",
    "DataUnavailableError",
    "FFNNError",
    "History",
    "ModelFileError",
    "Network",
    "NonFiniteOutputError",
    "ParameterError",
    "ParameterTypeError",
    "Perceptron",
    "PrintProgress",
    "SettingError",
    "Trainer",
    "TrainingDivergedError",
    "__version__",
    "activations",
    "callbacks",
    "checkpoint",
    "costs",
    "data",
    "explain",
    "export",
    "fit",
    "gradcheck",
    "initializers",
    "load",
    "optimizers",
    "save",
    "schedules",
]
