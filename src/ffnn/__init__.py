"""ffnn — feedforward neural networks trained by backpropagation, exact and fast.

The public API, re-exported; nothing is defined here.
"""

from ffnn import (
    activations,
    callbacks,
    checkpoint,
    costs,
    data,
    gradcheck,
    initializers,
    optimizers,
    schedules,
)
from ffnn._version import __version__
from ffnn.errors import DataFormatError, DataUnavailableError, ModelFileError, TrainingDivergedError
from ffnn.network import Network
from ffnn.perceptron import Perceptron
from ffnn.serialization import load
from ffnn.training import Callback, History, PrintProgress, fit

__all__ = [
    "Callback",
    "DataFormatError",
    "DataUnavailableError",
    "History",
    "ModelFileError",
    "Network",
    "Perceptron",
    "PrintProgress",
    "TrainingDivergedError",
    "__version__",
    "activations",
    "callbacks",
    "checkpoint",
    "costs",
    "data",
    "fit",
    "gradcheck",
    "initializers",
    "load",
    "optimizers",
    "schedules",
]
