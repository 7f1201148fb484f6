"""Per-epoch probes on fixed data, recorded in ``history.extra`` (so ``metrics.csv`` carries them):
each layer's gradient size (:class:`GradientNorms`) and the training accuracy (:class:`TrainingAccuracy`)."""

from __future__ import annotations

import numpy as np

from ffnn.callbacks.base import Callback
from ffnn.metrics import rms_sizes
from ffnn.network import Network
from ffnn.state import History


class GradientNorms(Callback):
    """Records how fast each layer learns at the start of every epoch, on a fixed probe batch:
    ``history.extra["grad_norm_l"]`` = ‖∂C/∂w^l‖ / √(n_l n_{l−1}), the root-mean-square gradient of
    one weight of layer l (so row 0 is the untrained network).

    Scaled per weight because a step moves each weight by −η ∂C/∂w^l_jk: the RMS is how fast a
    typical weight of the layer changes. The unscaled norm grows with the layer's size — the
    784×30 first layer of a deep sigmoid network has a norm close to its 30×10 last layer's
    even when each of its weights moves 80× more slowly.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y
        self.pending: list[float] = []

    def on_epoch_begin(self, network: Network, epoch: int) -> None:
        self.pending = gradient_sizes(network, self.X, self.y)

    def on_epoch_end(self, network: Network, history: History) -> bool:
        for l, value in enumerate(self.pending, start=1):
            history.extra.setdefault(f"grad_norm_{l}", []).append(value)
        return False


def gradient_sizes(network: Network, X: np.ndarray, y: np.ndarray) -> list[float]:
    """Each layer's ‖∂C/∂w^l‖ / √(n_l n_{l−1}) on the batch (X, y): the RMS gradient of one weight."""
    return rms_sizes(network.backprop(X, y)[1])


class TrainingAccuracy(Callback):
    """Records the accuracy on a fixed sample of the training set after each epoch, as
    ``history.extra["train_accuracy"]`` (dropout off, as at evaluation)."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y

    def on_epoch_end(self, network: Network, history: History) -> bool:
        history.extra.setdefault("train_accuracy", []).append(network.accuracy(self.X, self.y))
        return False
