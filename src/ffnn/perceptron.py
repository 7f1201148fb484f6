"""The perceptron of source 002 (chapters 1–2): one unit with a step output.

    ŷ = 1 if w · x + b > 0 else 0,        w → w + η (y − ŷ) x,   b → b + η (y − ŷ)

On linearly separable data the rule stops making mistakes after finitely many updates (the
perceptron convergence theorem). On XOR it never does: no line separates {(0,1), (1,0)} from
{(0,0), (1,1)}. That is why networks have hidden layers, and why their units need a smooth σ —
the step has no useful derivative to backpropagate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ffnn._validation import as_inputs, check_number
from ffnn.errors import ParameterError


class Perceptron:
    """A single threshold unit trained by the perceptron rule. Labels are 0 or 1."""

    def __init__(self, n_inputs: int, eta: float = 1.0) -> None:
        self.n_inputs = check_number(n_inputs, "n_inputs", low=1, strict=False, integer=True)
        self.eta = check_number(eta, "eta", low=0.0)
        self.w = np.zeros(self.n_inputs)
        self.b = 0.0

    def predict(self, X: Any) -> np.ndarray:
        """ŷ = 1 where w · x + b > 0, else 0, for each row x of ``X``."""
        X = as_inputs(X, self.n_inputs, np.dtype(np.float64))
        return np.asarray(X @ self.w + self.b > 0, dtype=np.intp)

    def fit(self, X: Any, y: Any, epochs: int = 100) -> list[int]:
        """Sweep the examples in order, updating on each mistake, until an epoch makes none.

        Returns the number of mistakes in each epoch: it ends in 0 exactly when the data were
        separated, and never does on XOR.
        """
        X = as_inputs(X, self.n_inputs, np.dtype(np.float64))
        labels = np.asarray(y)
        if labels.shape != (len(X),) or not np.isin(labels, (0, 1)).all():
            raise ParameterError(f"'y' must hold one label per example, each 0 or 1. Got {labels!r}.")
        epochs = check_number(epochs, "epochs", low=0, strict=False, integer=True)
        mistakes = []
        for _ in range(epochs):
            errors = 0
            for x, target in zip(X, labels):
                update = self.eta * (target - int(x @ self.w + self.b > 0))
                if update:
                    self.w += update * x
                    self.b += update
                    errors += 1
            mistakes.append(errors)
            if errors == 0:
                break
        return mistakes
