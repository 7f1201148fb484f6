"""What a row of output activations a^L means — decided here once, for every face: the Python API
(:meth:`ffnn.Network.predict`, :meth:`~ffnn.Network.predict_proba`), ``ffnn predict`` and
``ffnn evaluate`` (its confusion matrix), the scikit-learn estimators, the ONNX graph
(:mod:`ffnn.export` builds the same rules as nodes) and the pages of ``ffnn serve``.

- **The label** of a row: the index of its largest output — the first of equal ones, as NumPy's
  ``argmax`` — or, for a single output neuron, 1 when a ≥ ½ and 0 when a < ½ (so a = ½ is class 1).
- **The probabilities** of a row: a softmax output as it is; one sigmoid output as the two
  columns (1 − a, a); several sigmoid outputs normalised to sum to 1. Other output layers
  (identity, tanh, ReLU: regression) give none.
- **Outputs that are not finite** (an activation overflowed its dtype: weights or inputs too
  large for it) have no label and no probabilities: :func:`require_finite` refuses them with a
  :class:`ffnn.errors.NonFiniteOutputError`, which the command line reports in one line (exit
  status 2) and the pages answer with 422. No face prints a NaN as a result.
"""

from __future__ import annotations

import numpy as np

from ffnn.errors import NonFiniteOutputError, ParameterError

PROBABILITY_OUTPUTS = ("softmax", "sigmoid")  # output activations whose values read as probabilities


def labels_of(a: np.ndarray) -> np.ndarray:
    """Class labels (n,) of output activations a^L (n, k): argmax_j a_j, or [a ≥ ½] when k = 1."""
    if a.shape[1] == 1:
        return (a[:, 0] >= 0.5).astype(np.intp)
    return np.asarray(np.argmax(a, axis=1), dtype=np.intp)


def probabilities_of(output_activation: str, a: np.ndarray) -> np.ndarray:
    """Class probabilities (n, classes) of output activations a^L of a softmax or sigmoid layer."""
    if output_activation not in PROBABILITY_OUTPUTS:
        raise ParameterError(
            f"predict_proba needs a softmax or sigmoid output layer; this network's is "
            f"{output_activation!r}. Use feedforward(X) for its outputs."
        )
    if output_activation == "softmax":
        return a
    if a.shape[1] == 1:
        return np.concatenate([1.0 - a, a], axis=1)
    return np.asarray(a / a.sum(axis=1, keepdims=True))  # σ ≥ the smallest normal float: no row sums to 0


def require_finite(*activations: np.ndarray) -> None:
    """Refuse activations (each (n, ·), rows alike) of which some row is not finite, naming the first such row."""
    bad = np.zeros(len(activations[0]), dtype=bool)
    for a in activations:
        bad |= ~np.isfinite(a).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise NonFiniteOutputError(
            f"the network's activations overflow its dtype ({activations[-1].dtype}) for input row {row}: they "
            "are not finite numbers, so it has no answer for it: its weights, or that input, are too large "
            "for the dtype."
        )
