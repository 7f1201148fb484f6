"""Cost functions C, each beside its gradient ∇_a C, and the output error δ^L of BP1.

Targets ``y`` are arrays of the output's shape (one-hot rows for classes). A cost's ``reduction``
says how the examples' costs C_x make the cost C of a batch (or of any set of examples):

- ``"mean"`` (the default): C = 1/n Σ_x C_x, as the book's C = 1/2n Σ_x ‖a^L(x) − y(x)‖²;
- ``"sum"``: C = Σ_x C_x, as source 002's C = ½ Σ_x ‖a^L(x) − y(x)‖², whose gradient is n times
  the mean's — so the same η takes steps n times longer on batches of n.

Gradients here are per example; the network reduces them as its cost says (``ffnn.backprop``).

BP1 in general is δ^L = ∇_a C ⊙ σ'(z^L), or the Jacobian product J_σᵀ ∇_a C for softmax. Each
log-likelihood cost has a *matching* output activation for which the σ' cancels and

    δ^L = a^L − y,

which is also the numerically safe form: cross-entropy with softmax and binary cross-entropy
with sigmoid. For those pairs the cost's value is computed from z^L by a stable formula, so
log 0 never happens. Every other legal pair goes through the general chain rule.

The functions call the namespace of their arrays (``ffnn.backends.namespace``); ``check_targets``
runs at the boundary, on the host's NumPy targets.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from ffnn.activations import Activation
from ffnn.backends import namespace
from ffnn.errors import ParameterError

Array = Any

_BOUNDED_OUTPUTS = ("sigmoid", "softmax")  # activations whose outputs lie in (0, 1)


REDUCTIONS = ("mean", "sum")


class Cost:
    """C(a, y) per example, ∇_a C, the activation for which δ^L = a − y, and the ``reduction``
    ("mean" or "sum") that makes a batch's cost of its examples' (see the module docstring)."""

    name: ClassVar[str]
    matching_activation: ClassVar[str | None] = None
    needs_probabilities: ClassVar[bool] = False

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in REDUCTIONS:
            raise ParameterError(f"The 'reduction' parameter must be one of {list(REDUCTIONS)}. Got {reduction!r}.")
        self.reduction = reduction

    def reduce(self, costs: Array) -> float:
        """C of a batch from its examples' costs C_x (shape (batch,)): their mean or their sum."""
        xp = namespace(costs)
        return float(xp.mean(costs) if self.reduction == "mean" else xp.sum(costs))

    def value(self, a: Array, y: Array) -> Array:
        """The cost of each example, shape (batch,)."""
        raise NotImplementedError

    def gradient(self, a: Array, y: Array) -> Array:
        """∇_a C for each example, shape (batch, n_out)."""
        raise NotImplementedError

    def value_from_z(self, z: Array, y: Array) -> Array:
        """The cost of each example from z^L, for the matching activation (stable form)."""
        raise NotImplementedError

    def check_targets(self, y: Array, name: str = "y") -> None:
        """Refuse targets this cost is not defined for (checked once, at the boundary)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({'' if self.reduction == 'mean' else 'reduction=' + repr(self.reduction)})"


class Quadratic(Cost):
    """C = ½‖a − y‖² per example (the sources' cost),  ∇_a C = a − y."""

    name = "quadratic"

    def value(self, a: Array, y: Array) -> Array:
        d = a - y
        return 0.5 * namespace(d).sum(d * d, axis=-1)

    def gradient(self, a: Array, y: Array) -> Array:
        return a - y

    def check_targets(self, y: Array, name: str = "y") -> None:
        """Refuse targets so large that the cost of outputs near 0 (as training starts), ½ Σ_x ‖y_x‖²
        summed over the examples, is beyond the range of their dtype: every cost would be inf."""
        with np.errstate(over="ignore"):
            total = 0.5 * float(np.sum(np.square(y, dtype=np.float64)))
        largest = float(np.finfo(y.dtype).max)
        if total > largest:
            row = int(np.argmax(np.abs(y).max(axis=-1)))
            raise ParameterError(
                f"'{name}' row {row} holds a target of {float(np.abs(y[row]).max()):.4g}: the quadratic cost of "
                f"such targets, ½ Σ y² = {total:.3g}, is beyond {y.dtype}'s range (±{largest:.3g}). Rescale the "
                "targets (divide them by their std, say), or use float64."
            )


def _clip_probabilities(a: Array) -> Array:
    """a clipped into [tiny, 1 − ε] so log a and log(1 − a) stay finite (unmatched pairs only)."""
    xp = namespace(a)
    info = xp.finfo(a.dtype)
    return xp.clip(a, info.smallest_normal, 1.0 - info.eps)


def _check_unit_interval(cost: Cost, y: Array, name: str) -> None:
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ParameterError(
            f"'{name}' targets for the {cost.name!r} cost must lie in [0, 1]. "
            f"Got values in [{y.min():g}, {y.max():g}]; pass class labels or probabilities."
        )


class CrossEntropy(Cost):
    """Log-likelihood C = −Σ_j y_j ln a_j,  ∇_a C = −y / a;  with softmax δ^L = a − y.

    Targets are probability rows (one-hot for labels): the softmax output error is
    a Σ_j y_j − y, which is a − y exactly when Σ_j y_j = 1, so that is checked at the boundary.
    With softmax outputs, ln a_j = z_j − max z − ln Σ_k e^{z_k − max z}, which never takes the
    log of zero.
    """

    name = "cross_entropy"
    matching_activation = "softmax"
    needs_probabilities = True

    def value(self, a: Array, y: Array) -> Array:
        xp = namespace(a)
        return -xp.sum(y * xp.log(_clip_probabilities(a)), axis=-1)

    def gradient(self, a: Array, y: Array) -> Array:
        return -y / _clip_probabilities(a)

    def check_targets(self, y: Array, name: str = "y") -> None:
        _check_unit_interval(self, y, name)
        sums = y.sum(axis=-1)
        bad = np.abs(sums - 1.0) > 1e-5
        if bad.any():
            row = int(bad.nonzero()[0][0])
            raise ParameterError(
                f"'{name}' targets for the 'cross_entropy' cost must be probability rows summing to 1. "
                f"Row {row} sums to {float(sums[row]):g}; pass class labels, one-hot rows or normalised rows."
            )

    def value_from_z(self, z: Array, y: Array) -> Array:
        xp = namespace(z)
        shifted = z - xp.max(z, axis=-1, keepdims=True)
        log_a = shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))
        return -xp.sum(y * log_a, axis=-1)


class BinaryCrossEntropy(Cost):
    """The book's cross-entropy C = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)].

    ∇_a C = (a − y) / (a(1 − a)); with sigmoid outputs δ^L = a − y. From z the cost is
    Σ_j [max(z_j, 0) − y_j z_j + ln(1 + e^{−|z_j|})], finite for every z.
    """

    name = "binary_cross_entropy"
    matching_activation = "sigmoid"
    needs_probabilities = True

    def value(self, a: Array, y: Array) -> Array:
        xp = namespace(a)
        p = _clip_probabilities(a)
        return -xp.sum(y * xp.log(p) + (1.0 - y) * xp.log1p(-p), axis=-1)

    def gradient(self, a: Array, y: Array) -> Array:
        p = _clip_probabilities(a)
        return (p - y) / (p * (1.0 - p))

    def check_targets(self, y: Array, name: str = "y") -> None:
        _check_unit_interval(self, y, name)

    def value_from_z(self, z: Array, y: Array) -> Array:
        xp = namespace(z)
        terms = xp.maximum(z, 0.0) - y * z + xp.log1p(xp.exp(-xp.abs(z)))
        return xp.sum(terms, axis=-1)


COSTS: dict[str, type[Cost]] = {cls.name: cls for cls in (Quadratic, CrossEntropy, BinaryCrossEntropy)}


def get_cost(name: str | Cost, reduction: str | None = None) -> Cost:
    """A cost by name (``"quadratic"``, ``"cross_entropy"``, ``"binary_cross_entropy"``) with its
    ``reduction`` ("mean" by default, or "sum"); a Cost is taken as it is, or as a new one of its
    class with ``reduction`` if one is given."""
    if isinstance(name, Cost):
        return name if reduction is None or reduction == name.reduction else type(name)(reduction)
    if not isinstance(name, str) or name not in COSTS:
        raise ParameterError(f"The 'cost' parameter must be one of {sorted(COSTS)}. Got {name!r} instead.")
    return COSTS[name](reduction or "mean")


def check_pairing(cost: Cost, output: Activation) -> None:
    """Refuse a cost that would take the log of a non-probability; warn on unusual pairs.

    Cross-entropy costs need outputs in (0, 1): sigmoid or softmax. The pair that is legal but
    not matched (softmax with binary cross-entropy, sigmoid with cross-entropy) trains, exactly,
    through the general chain rule, and warns because it is rarely what was meant.
    """
    if not cost.needs_probabilities or output.name == cost.matching_activation:
        return
    if output.name not in _BOUNDED_OUTPUTS:
        raise ParameterError(
            f"The '{cost.name}' cost needs output activations in (0, 1) (sigmoid or softmax); "
            f"got output_activation={output.name!r}. Use output_activation="
            f"{cost.matching_activation!r} or cost='quadratic'."
        )
    warnings.warn(
        f"cost={cost.name!r} with output_activation={output.name!r} is legal but unusual; "
        f"the matching output for {cost.name!r} is {cost.matching_activation!r}.",
        UserWarning,
        stacklevel=3,
    )


def output_error(cost: Cost, output: Activation, a: Array, y: Array, out: Array | None = None) -> Array:
    """BP1: δ^L = ∇_a C ⊙ σ'(z^L), which is a^L − y for the matching pairs."""
    if output.name == cost.matching_activation:
        return namespace(a).subtract(a, y, out=out)
    return output.backward(a, cost.gradient(a, y), out=out)


def example_costs(cost: Cost, output: Activation, z: Array, a: Array, y: Array) -> Array:
    """C_x of each example (shape (batch,)), from z^L by the stable form where the pair matches."""
    return cost.value_from_z(z, y) if output.name == cost.matching_activation else cost.value(a, y)


def batch_cost(cost: Cost, output: Activation, z: Array, a: Array, y: Array) -> float:
    """C of the batch — the mean or the sum of its examples' costs, as ``cost.reduction`` says —
    each computed from z^L by the stable form where the pair matches."""
    return cost.reduce(example_costs(cost, output, z, a, y))
