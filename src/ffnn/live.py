"""A training run as it happens, published to a :class:`ffnn.feed.Feed` for ``ffnn train --serve``.

:class:`LiveView` is a callback; it publishes these parts (each JSON):

- ``run``: the network (sizes, activations, cost), epochs, mini-batches per epoch, examples;
- ``progress`` (within the epoch, at most every ``interval`` seconds): batch k of K, examples a
  second, the epoch's and the run's estimated remaining seconds;
- the list ``gradient_history`` (a sample at most every ``gradient_interval`` seconds, at most
  ``MAX_GRADIENT_SAMPLES`` kept: then every other one, and half as often): each layer's
  root-mean-square weight gradient on a fixed probe batch,
  ‖∂C/∂w^l‖ / √(n_l n_{l−1}) (as :class:`ffnn.callbacks.GradientNorms`) — a vanishing gradient
  shows as the first layers' values falling decades below the last one's;
- the list ``epochs``: one row per epoch, the columns of ``metrics.csv`` (same names, same values);
- ``weights``: the first layer's weights, each neuron's as an image when its inputs form a
  square (MNIST's 28×28): bytes 0–255, 128 for 0, each neuron scaled by its largest |w|;
- ``confusion``: after each epoch, the held-out set's confusion matrix (classification only);
- ``status``: ``training``, then ``finished`` or ``interrupted`` (the caller adds a ``summary``).

Publishing never makes the training wait for a page (pages read the feed in their own threads);
what it costs the training is computing the parts: a backprop of the probe batch every
``gradient_interval`` seconds, a feedforward of the held-out set and the weights' image once an
epoch, and each part's JSON text, encoded once. Nothing here changes the training's numbers (the probe is a separate
forward and backward pass; the random generator is not touched).
"""

from __future__ import annotations

import base64
import math
import time
from typing import Any

import numpy as np

from ffnn.callbacks import Callback, gradient_sizes, metrics_columns
from ffnn.feed import Feed
from ffnn.metrics import confusion_matrix
from ffnn.network import Network
from ffnn.state import History, TrainingState

MAX_WEIGHT_IMAGES = 100  # first-layer neurons shown at most
MAX_GRADIENT_SAMPLES = 2000  # gradient sizes kept for the chart


class LiveView(Callback):
    """Publishes the run to ``feed`` (see the module docstring). ``probe`` is a fixed batch of
    training examples for the gradient sizes; ``held_out`` (X, labels) gives the confusion matrix."""

    def __init__(
        self,
        feed: Feed,
        probe: tuple[np.ndarray, Any],
        held_out: tuple[np.ndarray, Any] | None,
        batches: int,
        n_train: int,
        interval: float = 0.25,
        gradient_interval: float = 1.0,
    ) -> None:
        self.feed, self.probe, self.held_out = feed, probe, held_out
        self.batches, self.n_train = batches, n_train
        self.interval, self.gradient_interval = interval, gradient_interval
        self.epochs = 0
        self._epoch_start = self._shown = self._gradients_shown = 0.0
        self._history: History | None = None

    def bind(self, state: TrainingState) -> None:
        self.epochs = state.epochs
        network, history = state.network, state.history
        self.feed.set(
            "run",
            {
                "sizes": network.sizes,
                "activations": [a.name for a in network.activations],
                "cost": network.cost_function.name,
                "epochs": state.epochs,
                "batches": self.batches,
                "examples": self.n_train,
                "classes": network.classes,
            },
        )
        self.feed.set("status", {"state": "training"})
        names, columns = metrics_columns(history)  # a resumed run's epochs so far
        self.feed.replace("epochs", [_row(names, row) for row in zip(*columns)])
        self._history = history
        self._publish_weights(network)
        self._publish_gradients(network, len(history.epoch), 0)

    def on_epoch_begin(self, network: Network, epoch: int) -> None:
        self._epoch_start = time.monotonic()
        self._publish_progress(epoch, 0)

    def on_batch_end(self, network: Network, epoch: int, batch: int) -> bool:
        now = time.monotonic()
        if now - self._shown >= self.interval:
            self._shown = now
            self._publish_progress(epoch, batch + 1)
        if now - self._gradients_shown >= self.gradient_interval:
            self._gradients_shown = now
            self._publish_gradients(network, epoch, batch + 1)
        return False

    def on_epoch_end(self, network: Network, history: History) -> bool:
        names, columns = metrics_columns(history)
        self.feed.append("epochs", _row(names, [column[-1] for column in columns]))
        self._publish_progress(history.epoch[-1], self.batches)
        self._publish_weights(network)
        self._publish_confusion(network, history.epoch[-1])
        return False

    def on_train_end(self, network: Network, history: History) -> None:
        self.feed.set("status", {"state": "interrupted" if history.interrupted else "finished"})

    # -- the parts -----------------------------------------------------------------------------

    def _publish_progress(self, epoch: int, batch: int) -> None:
        elapsed = time.monotonic() - self._epoch_start
        rate = batch / elapsed if batch and elapsed > 0 else None  # mini-batches a second
        seconds = self._history.seconds if self._history is not None else []
        per_epoch = self.batches / rate if rate else (float(np.mean(seconds)) if seconds else None)
        left = None if per_epoch is None else per_epoch * (1 - batch / self.batches)
        self.feed.set(
            "progress",
            {
                "epoch": epoch,
                "batch": batch,
                "batches": self.batches,
                "examples_per_second": None if rate is None else round(rate * self.n_train / self.batches, 1),
                "epoch_seconds_left": None if left is None else round(float(left), 1),
                "run_seconds_left": None
                if left is None or per_epoch is None
                else round(float(left + per_epoch * (self.epochs - epoch - 1)), 1),
            },
        )

    def _publish_gradients(self, network: Network, epoch: int, batch: int) -> None:
        with np.errstate(all="ignore"):
            rms = gradient_sizes(network, *self.probe)
        if not all(math.isfinite(v) for v in rms):
            return  # a diverging step: the run reports it
        sample = {"epoch": round(epoch + batch / self.batches, 4), "rms": rms}
        if self.feed.append("gradient_history", sample, limit=MAX_GRADIENT_SAMPLES):
            self.gradient_interval *= 2  # thinned to every other sample: half as many from now on

    def _publish_weights(self, network: Network) -> None:
        w = network.backend.to_numpy(network.weights[0])[:MAX_WEIGHT_IMAGES]
        side = math.isqrt(w.shape[1])
        scale = np.abs(w).max(axis=1, keepdims=True)
        with np.errstate(all="ignore"):
            pixels = np.where(scale > 0, w / scale, 0.0)
        pixels = np.nan_to_num(pixels, nan=0.0, posinf=0.0, neginf=0.0)
        image = np.clip(np.rint(127.5 * pixels + 127.5), 0, 255).astype(np.uint8)
        self.feed.set(
            "weights",
            {
                "units": int(w.shape[0]),
                "of": int(network.weights[0].shape[0]),
                "inputs": int(w.shape[1]),
                "side": side if side * side == w.shape[1] else None,
                "pixels": base64.b64encode(image.tobytes()).decode("ascii"),
            },
        )

    def _publish_confusion(self, network: Network, epoch: int) -> None:
        if self.held_out is None or not network.gives_probabilities:
            return
        X, labels = self.held_out
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            return
        with np.errstate(all="ignore"):
            predicted = network.predict(X)  # the labels the run's accuracy counts
        n = max(2, network.sizes[-1])  # one sigmoid output: classes 0 and 1
        matrix = confusion_matrix(labels, predicted, n)
        self.feed.set("confusion", {"epoch": epoch, "matrix": matrix.tolist(), "classes": network.classes})


def _row(names: list[str], values: Any) -> dict[str, Any]:
    """One epoch's row as JSON can hold it: a held-out cost or gradient size that overflowed (the
    training's own numbers are checked; these are not) becomes None rather than stopping the run."""
    return {n: None if isinstance(v, float) and not math.isfinite(v) else v for n, v in zip(names, values)}
