"""Activation functions σ, each beside its derivative.

A layer computes ``a = σ(z)`` from its weighted input ``z = w a_prev + b``. Backpropagation needs
``δ = ∂C/∂z`` from ``∂C/∂a``; for the element-wise activations that is the Hadamard product of
BP1/BP2,

    δ = ∇_a C ⊙ σ'(z),

and for softmax, whose every output depends on every input, the Jacobian product

    δ_k = Σ_j (∂a_j/∂z_k) (∇_a C)_j = a_k ((∇_a C)_k − Σ_j (∇_a C)_j a_j).

Every derivative here is written in terms of the output ``a = σ(z)`` (σ' = a(1 − a) for the
sigmoid, 1 − a² for tanh, ...), so a batched network need not keep ``z`` for its hidden layers.
Arrays are batches of rows, shape (batch, n). Functions take an ``out=`` array so the training
loop can reuse its buffers; ``out`` may be the input itself. They call the namespace of their
arrays (``ffnn.backends.namespace``): NumPy for NumPy arrays, the array API for other libraries.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any, ClassVar

from ffnn.backends import namespace
from ffnn.errors import ParameterError, ParameterTypeError

Array = Any


class Activation:
    """σ and its derivative. Subclasses implement ``value`` and ``derivative``."""

    name: ClassVar[str]

    def value(self, z: Array, out: Array | None = None) -> Array:
        """a = σ(z)."""
        raise NotImplementedError

    def derivative(self, a: Array, out: Array | None = None) -> Array:
        """σ'(z), written in terms of a = σ(z)."""
        raise NotImplementedError

    def backward(self, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        """δ = ∇_a C ⊙ σ'(z): the ∂C/∂z that reaches this layer's weighted input."""
        return namespace(a).multiply(grad_a, self.derivative(a), out=out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """σ(z) = 1 / (1 + e^{−z}),  σ'(z) = σ(z)(1 − σ(z)) = a(1 − a).

    e^{−z} is computed with −z capped at ln(1/tiny) (87 in float32, 708 in float64): it never
    overflows, and σ never falls below the smallest normal float, so no subnormal number (which
    slows every later multiplication by orders of magnitude) comes out of a saturated unit. The
    cap changes σ(z) only where the true value is itself below the normal range.
    """

    name = "sigmoid"

    def value(self, z: Array, out: Array | None = None) -> Array:
        xp = namespace(z)
        out = xp.negative(z, out=out)
        xp.minimum(out, _exp_limit(float(xp.finfo(out.dtype).smallest_normal)), out=out)
        xp.exp(out, out=out)
        out += 1.0
        return xp.divide(1.0, out, out=out)

    def derivative(self, a: Array, out: Array | None = None) -> Array:
        xp = namespace(a)
        out = xp.subtract(1.0, a, out=out)
        return xp.multiply(out, a, out=out)

    def backward(self, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        out = namespace(a).multiply(grad_a, a, out=out)  # ∇_a C ⊙ a
        out -= out * a  # ∇_a C ⊙ a ⊙ (1 − a)
        return out


@functools.cache
def _exp_limit(tiny: float) -> float:
    """⌊ln(1/tiny)⌋: 1/(1 + e^x) is still a normal number for every x up to it."""
    return float(math.floor(-math.log(tiny)))


class Tanh(Activation):
    """tanh(z),  tanh'(z) = 1 − tanh²(z) = 1 − a²."""

    name = "tanh"

    def value(self, z: Array, out: Array | None = None) -> Array:
        return namespace(z).tanh(z, out=out)

    def derivative(self, a: Array, out: Array | None = None) -> Array:
        xp = namespace(a)
        out = xp.multiply(a, a, out=out)
        return xp.subtract(1.0, out, out=out)


class ReLU(Activation):
    """max(0, z),  derivative 1 where z > 0 (equivalently a > 0), else 0."""

    name = "relu"

    def value(self, z: Array, out: Array | None = None) -> Array:
        return namespace(z).maximum(z, 0.0, out=out)

    def derivative(self, a: Array, out: Array | None = None) -> Array:
        xp = namespace(a)
        return xp.greater(a, 0.0, out=out) if out is not None else xp.astype(a > 0, a.dtype)

    def backward(self, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        xp = namespace(a)
        return xp.multiply(grad_a, xp.astype(a > 0, a.dtype), out=out)


class LeakyReLU(Activation):
    """z for z > 0, αz otherwise (α = ``slope``, 0.01 by default); derivative 1 or α."""

    name = "leaky_relu"

    def __init__(self, slope: float = 0.01) -> None:
        message = f"The 'slope' parameter must be in (0, 1). Got {slope!r} instead."
        if not isinstance(slope, numbers.Real) or isinstance(slope, bool):
            raise ParameterTypeError(message)
        if not 0.0 < float(slope) < 1.0:
            raise ParameterError(message)
        self.slope: float = float(slope)

    def value(self, z: Array, out: Array | None = None) -> Array:
        # For 0 < α < 1, max(z, αz) is z when z > 0 and αz otherwise.
        return namespace(z).maximum(z, self.slope * z, out=out)

    def derivative(self, a: Array, out: Array | None = None) -> Array:
        xp = namespace(a)
        return xp.where(a > 0, xp.ones_like(a), xp.full_like(a, self.slope))

    def __repr__(self) -> str:
        return f"LeakyReLU(slope={self.slope})"


class Identity(Activation):
    """σ(z) = z,  σ'(z) = 1: a linear output layer, for regression."""

    name = "identity"

    def value(self, z: Array, out: Array | None = None) -> Array:
        if out is None:
            return namespace(z).asarray(z, copy=True)
        if out is not z:
            out[...] = z
        return out

    def derivative(self, a: Array, out: Array | None = None) -> Array:
        return namespace(a).ones_like(a)

    def backward(self, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        if out is None:
            return namespace(grad_a).asarray(grad_a, copy=True)
        if out is not grad_a:
            out[...] = grad_a
        return out


class Softmax(Activation):
    """a_j = e^{z_j} / Σ_k e^{z_k}, computed as e^{z_j − max z} so it never overflows.

    Its derivative is a Jacobian, ∂a_j/∂z_k = a_j (1[j = k] − a_k), not a vector, so ``backward``
    applies it whole: δ = a ⊙ (∇_a C − (∇_a C · a)). With the cross-entropy cost that collapses
    to δ = a − y, which the network uses directly.
    """

    name = "softmax"

    def value(self, z: Array, out: Array | None = None) -> Array:
        xp = namespace(z)
        out = xp.subtract(z, xp.max(z, axis=-1, keepdims=True), out=out)
        xp.exp(out, out=out)
        out /= xp.sum(out, axis=-1, keepdims=True)
        return out

    def derivative(self, a: Array, out: Array | None = None) -> Array:
        raise ParameterTypeError(
            "softmax has no element-wise derivative (its Jacobian couples the outputs); "
            "use Softmax.backward(a, grad_a) for δ = a ⊙ (∇_a C − ∇_a C · a)."
        )

    def backward(self, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        xp = namespace(a)
        inner = xp.sum(grad_a * a, axis=-1, keepdims=True)  # ∇_a C · a, one per example
        out = xp.subtract(grad_a, inner, out=out)
        out *= a
        return out


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity, Softmax)
}
OUTPUT_ONLY = ("softmax",)  # normalises a whole layer into probabilities: an output layer's, never a hidden one's
HIDDEN_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name not in OUTPUT_ONLY)


def check_hidden(name: str) -> None:
    """Refuse an activation that may only be an output layer's (softmax) for a hidden layer."""
    if name in OUTPUT_ONLY:
        raise ParameterError(f"{name!r} is an output activation; use it as output_activation, not for a hidden layer.")


def get_activation(name: str | Activation, parameter: str = "activation") -> Activation:
    """An activation by name (``"sigmoid"``, ``"relu"``, ...) or the instance itself."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ParameterError(f"The '{parameter}' parameter must be one of {sorted(ACTIVATIONS)}. Got {name!r} instead.")
    return ACTIVATIONS[name]()
