"""Which epoch is best — decided here once, for early stopping (:class:`ffnn.callbacks.EarlyStopping`),
the book's halving rule (:class:`ffnn.schedules.HalveOnPlateau`) and a run's summary
(``best_test``, ``best_validation``), so that they can never disagree about it.

An epoch's value v improves on the best so far, b, only when it is better by more than ``min_delta``:

    mode "max" (accuracies):  v − b > min_delta;        mode "min" (costs):  b − v > min_delta.

So of equal values the earliest epoch stays the best (ties keep the first), and a NaN never improves
on a number.
"""

from __future__ import annotations

from collections.abc import Sequence

MODES = ("max", "min")


def improves(value: float, best: float | None, mode: str = "max", min_delta: float = 0.0) -> bool:
    """Whether ``value`` is better than ``best`` (None: there is none yet) by more than ``min_delta``."""
    if best is None:
        return True
    return (value - best if mode == "max" else best - value) > min_delta


def best_epoch(values: Sequence[float | None], epochs: Sequence[int], mode: str = "max") -> tuple[float, int] | None:
    """(value, epoch) of the best of ``values`` (None entries skipped: epochs without a score), or None."""
    best: tuple[float, int] | None = None
    for value, epoch in zip(values, epochs):
        if value is not None and improves(value, None if best is None else best[0], mode):
            best = (value, epoch)
    return best
