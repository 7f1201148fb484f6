"""ffnn — feedforward neural networks trained by backpropagation, exact and fast.

The public API, re-exported; nothing is defined here.
"""

from ffnn import activations, costs, data, gradcheck, initializers, reference
from ffnn._version import __version__
from ffnn.errors import TrainingDivergedError
from ffnn.network import Network
from ffnn.perceptron import Perceptron
from ffnn.training import Callback, History, PrintProgress, fit

__all__ = [
    "Callback",
    "History",
    "Network",
    "Perceptron",
    "PrintProgress",
    "TrainingDivergedError",
    "__version__",
    "activations",
    "costs",
    "data",
    "fit",
    "gradcheck",
    "initializers",
    "reference",
]
