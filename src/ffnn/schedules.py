"""Learning-rate schedules: functions of the step t (counted from 0, one per mini-batch) → η_t.

Pass one as an optimiser's learning rate: ``adam(cosine(1e-3, total_steps=...))``.

- ``constant(η)``                           η_t = η
- ``step_decay(η, factor, every)``          η_t = η · factor^⌊t / every⌋
- ``exponential(η, rate, steps)``           η_t = η · rate^(t / steps)
- ``cosine(η, total, warmup, final)``       linear from 0 to η over ``warmup`` steps, then
                                            η_t = final + (η − final) · ½ (1 + cos(π s / S)),
                                            s the steps since warm-up, S those left; final after
- ``HalveOnPlateau(η, patience)``           the book's rule (chapter 3): halve η whenever the
                                            validation accuracy has not improved for ``patience``
                                            epochs; stop training once η has fallen to η₀/128. It is both a
                                            schedule and a callback (it watches the history).
"""

from __future__ import annotations

import math
from typing import Any

from ffnn._validation import check_number
from ffnn.callbacks import Callback
from ffnn.errors import ParameterError
from ffnn.monitor import improves
from ffnn.network import Network
from ffnn.optimizers import Schedule
from ffnn.state import History


def constant(value: float) -> Schedule:
    """η_t = η."""
    value = check_number(value, "learning_rate", low=0.0)
    return lambda step: value


def step_decay(value: float, factor: float, every: int) -> Schedule:
    """η_t = η · factor^⌊t / every⌋."""
    value = check_number(value, "learning_rate", low=0.0)
    factor = check_number(factor, "factor", low=0.0)
    every = check_number(every, "every", low=1, strict=False, integer=True)
    return lambda step: value * factor ** (step // every)


def exponential(value: float, rate: float, steps: int) -> Schedule:
    """η_t = η · rate^(t / steps): multiplied by ``rate`` every ``steps`` steps, smoothly."""
    value = check_number(value, "learning_rate", low=0.0)
    rate = check_number(rate, "rate", low=0.0)
    steps = check_number(steps, "steps", low=1, strict=False, integer=True)
    return lambda step: value * rate ** (step / steps)


def cosine(value: float, total_steps: int, warmup_steps: int = 0, final: float = 0.0) -> Schedule:
    """Linear warm-up to η, then a half cosine down to ``final`` at ``total_steps``."""
    value = check_number(value, "learning_rate", low=0.0)
    total_steps = check_number(total_steps, "total_steps", low=1, strict=False, integer=True)
    warmup_steps = check_number(warmup_steps, "warmup_steps", low=0, strict=False, integer=True)
    final = check_number(final, "final", low=0.0, strict=False)
    if warmup_steps >= total_steps:
        raise ParameterError(f"'warmup_steps' ({warmup_steps}) must be smaller than 'total_steps' ({total_steps}).")

    def schedule(step: int) -> float:
        if step < warmup_steps:
            return value * (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
        return final + (value - final) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return schedule


class HalveOnPlateau(Callback):
    """The book's rule: halve η after ``patience`` epochs without a better validation accuracy;
    ask training to stop when η has fallen to η₀ / ``stop_below`` (128 in the book).

    Use the same object as the optimiser's learning rate and as a ``fit`` callback.
    """

    state_key = "halve_on_plateau"

    def __init__(self, value: float, patience: int = 10, stop_below: float = 128.0) -> None:
        self.initial = self.value = check_number(value, "learning_rate", low=0.0)
        self.patience = check_number(patience, "patience", low=1, strict=False, integer=True)
        self.stop_below = check_number(stop_below, "stop_below", low=1.0)
        self.best: float | None = None
        self.waited = 0
        self.history: list[float] = []  # η in force during each epoch

    def __call__(self, step: int) -> float:
        return float(self.value)

    def state_dict(self) -> dict[str, Any]:
        return {"value": self.value, "best": self.best, "waited": self.waited, "history": list(self.history)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.value, self.best, self.waited = state["value"], state["best"], state["waited"]
        self.history = list(state["history"])

    def on_epoch_end(self, network: Network, history: History) -> bool:
        return self.observe(history.validation_accuracy[-1])

    def observe(self, accuracy: float | None) -> bool:
        """Record one epoch's validation accuracy; True when training should stop."""
        if accuracy is None:
            raise ParameterError("HalveOnPlateau needs validation data: pass validation_data= to fit.")
        self.history.append(self.value)
        if improves(accuracy, self.best):  # ties keep the earlier epoch (ffnn.monitor)
            self.best, self.waited = accuracy, 0
            return False
        self.waited += 1
        if self.waited >= self.patience:
            self.value /= 2.0
            self.waited = 0
        return self.exhausted

    @property
    def exhausted(self) -> bool:
        """Whether η has fallen to η₀ / ``stop_below``, where training stops."""
        return bool(self.value <= self.initial / self.stop_below)


SCHEDULES = ("constant", "step", "exponential", "cosine", "halve-on-plateau")
