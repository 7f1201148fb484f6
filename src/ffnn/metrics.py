"""Classification metrics over integer labels, and the RMS size of a weight gradient."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """C[i, j] = the number of examples of true class i predicted as class j; C.sum() = n."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return counts


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """The fraction of each true class predicted correctly (NaN for a class with no examples)."""
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.diag(confusion) / totals)


def rms_sizes(nabla_w: list[np.ndarray]) -> list[float]:
    """‖∂C/∂w^l‖ / √(n_l n_{l−1}) for each layer's weight gradient: the RMS of one weight's."""
    return [float(np.linalg.norm(g) / np.sqrt(g.size)) for g in nabla_w]
