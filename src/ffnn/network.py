"""The network: parameters, feedforward and backpropagation (BP1–BP4), batched.

Notation follows the seeds. Layer l (1 ≤ l ≤ L) has weights w^l of shape (n_l, n_{l−1}) — row j
is neuron j, column k is neuron k of the layer below, as w^l_jk — and biases b^l of shape (n_l,).
A batch is a matrix whose rows are examples, so the column-vector equations of the seeds become

    z^l = a^{l−1} (w^l)ᵀ + b^l,        a^l = σ(z^l)                      (feedforward)
    δ^L = ∇_a C ⊙ σ'(z^L)                                               (BP1)
    δ^l = (δ^{l+1} w^{l+1}) ⊙ σ'(z^l)                                   (BP2)
    ∂C/∂b^l = mean over the batch of δ^l                                (BP3)
    ∂C/∂w^l = (δ^l)ᵀ a^{l−1} / batch                                    (BP4)

where each row of δ^l is one example's δ^l of the seeds. ``ffnn.reference`` holds the seeds'
per-example algorithm, which these batched products must (and in the tests do) reproduce.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ffnn._arrays import resolve_dtype
from ffnn._blas import gemm_at_b
from ffnn._validation import as_inputs, as_labels, as_targets, check_sizes
from ffnn.activations import Activation, get_activation
from ffnn.costs import check_pairing, get_cost, mean_cost, output_error
from ffnn.initializers import get_initializer

if TYPE_CHECKING:
    from ffnn.training import History

Array = Any
LayerUpdate = Callable[[int, Array, Array], None]  # (layer index, δ^l, a^{l−1}) → None
_CHUNK = 8192  # rows fed forward at a time outside training, to bound memory on large inputs


class Workspace:
    """Buffers for one batch size, reused across batches: activations, errors and gradients."""

    def __init__(self, sizes: Sequence[int], batch_size: int, dtype: np.dtype[Any]) -> None:
        self.batch_size = batch_size
        self.a = [np.empty((batch_size, n), dtype) for n in sizes]  # a[0] holds the input batch
        self.delta = [np.empty((0, 0), dtype)] + [np.empty((batch_size, n), dtype) for n in sizes[1:]]  # no δ⁰
        self.y = np.empty((batch_size, sizes[-1]), dtype)  # the batch's targets
        self.z_out = np.empty((batch_size, sizes[-1]), dtype)
        self.nabla_w = [np.empty((n_out, n_in), dtype) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.nabla_b = [np.empty(n_out, dtype) for n_out in sizes[1:]]
        self.masks: list[np.ndarray | None] = [None] * (len(sizes) - 1)  # dropout's, made when first needed
        self.undropped: list[np.ndarray | None] = [None] * (len(sizes) - 1)
        widest = batch_size * max(sizes)
        self._bits = np.empty(widest, np.int32) if dtype == np.float32 else None
        self._normal = np.empty(widest, bool)

    def flush_subnormals(self, delta: np.ndarray) -> np.ndarray:
        """δ with its subnormal entries (|δ| < tiny, float32 only) set to 0, in place.

        A saturated unit's σ'(z) is tiny, and δ = ∇_a C ⊙ σ'(z) falls below the normal range;
        fed to a matrix product, such numbers slow it down by up to 5× on x86 (microcode assists
        on every multiplication). Setting them to zero — what a CPU's flush-to-zero mode does,
        which Python cannot turn on for the BLAS threads — changes each gradient by less than
        10⁻³⁸. Float64 δ would need values below 10⁻³⁰⁸ and are left as they are.
        """
        if self._bits is None:
            return delta
        # Subnormal ⟺ exponent bits all zero. Done on the integer view with a multiply by the
        # mask: no floating-point operation touches a subnormal, and no branch per element.
        bits = delta.view(np.int32)
        exponent = np.bitwise_and(bits, 0x7F800000, out=self._bits[: bits.size].reshape(bits.shape))
        normal = np.not_equal(exponent, 0, out=self._normal[: bits.size].reshape(bits.shape))
        np.multiply(bits, normal, out=bits)
        return delta

    def draw_masks(self, rates: Sequence[float], m: int, rng: np.random.Generator) -> list[np.ndarray | None]:
        """Inverted-dropout masks for a batch of m: 1/(1 − p) with probability 1 − p, else 0."""
        out: list[np.ndarray | None] = []
        for l, p in enumerate(rates):
            if not p:
                out.append(None)
                continue
            if self.masks[l] is None:
                self.masks[l] = np.empty_like(self.a[l])
                self.undropped[l] = np.empty_like(self.a[l])
            mask = self.masks[l][:m]  # type: ignore[index]
            rng.random(dtype=mask.dtype, out=mask)
            np.greater_equal(mask, p, out=mask)
            mask *= 1.0 / (1.0 - p)
            out.append(mask)
        return out

    def store_gradient(self, l: int, delta: Array, a_prev: Array) -> None:
        """BP3: ∂C/∂b^l = Σ_batch δ^l;  BP4: ∂C/∂w^l = (δ^l)ᵀ a^{l−1} — into ``nabla_b``/``nabla_w``."""
        np.sum(delta, axis=0, out=self.nabla_b[l])
        gemm_at_b(1.0, delta, a_prev, 0.0, self.nabla_w[l])


class Network:
    """A fully connected feedforward network trained by backpropagation.

    Parameters
    ----------
    sizes : neurons per layer, input first, e.g. ``[784, 30, 10]``.
    activation : the hidden layers' activation (``"sigmoid"``, ``"tanh"``, ``"relu"``,
        ``"leaky_relu"``, ``"identity"``), or a list with one per layer (output included).
    output_activation : the output layer's activation (those above, or ``"softmax"``). By default
        the one that matches the cost (softmax for ``cross_entropy``, sigmoid for
        ``binary_cross_entropy``), else the hidden activation, as in the seeds.
    cost : ``"quadratic"`` (the seeds' C = 1/2N Σ‖a − y‖²), ``"cross_entropy"`` (log-likelihood,
        with softmax) or ``"binary_cross_entropy"`` (the book's cross-entropy, with sigmoid).
    init : ``"seed000"``, ``"normal"``, ``"scaled_normal"``, ``"glorot"`` or ``"he"``.
    dtype : ``"float32"`` (default, fast) or ``"float64"`` (for gradient checks).
    seed : seeds the initialiser; the same seed gives the same weights.
    dropout : inverted dropout rate p of the hidden layers (one number, or one per hidden layer):
        in training each hidden activation is kept with probability 1 − p and scaled by 1/(1 − p),
        so its expectation is unchanged and nothing needs rescaling at evaluation, where dropout
        is off. ``input_dropout`` does the same to the inputs.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Activation | Sequence[str | Activation] = "sigmoid",
        output_activation: str | Activation | None = None,
        cost: str = "quadratic",
        init: str = "normal",
        dtype: str = "float32",
        seed: int | None = None,
        dropout: float | Sequence[float] = 0.0,
        input_dropout: float = 0.0,
    ) -> None:
        self.sizes = check_sizes(sizes)
        self.cost_function = get_cost(cost)
        self.activations = _layer_activations(
            activation, output_activation, len(self.sizes) - 1, self.cost_function.matching_activation
        )
        check_pairing(self.cost_function, self.activations[-1])
        self.dtype = resolve_dtype(dtype)
        initializer = get_initializer(init)
        rng = np.random.default_rng(_check_seed(seed))
        self.init = init
        self.metadata: dict[str, Any] = {}  # training settings and results, kept in model files
        self.dropout = _dropout_rates(dropout, input_dropout, len(self.sizes) - 2)
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            w, b = initializer(n_in, n_out, rng)
            self.weights.append(np.ascontiguousarray(w, dtype=self.dtype))
            self.biases.append(np.ascontiguousarray(b, dtype=self.dtype))

    def __repr__(self) -> str:
        names = [a.name for a in self.activations]
        return (
            f"Network(sizes={self.sizes}, activations={names}, cost={self.cost_function.name!r}, "
            f"dtype={self.dtype.name!r})"
        )

    @property
    def num_layers(self) -> int:
        """Layers counted as in the seeds: the input layer included."""
        return len(self.sizes)

    # -- feedforward ---------------------------------------------------------------------------

    def _layer(self, l: int, a_prev: Array, out: Array | None = None) -> Array:
        """a^l = σ(a^{l−1} (w^l)ᵀ + b^l) for a batch, with l counted from 0 over the weight layers."""
        z = np.matmul(a_prev, self.weights[l].T, out=out)
        z += self.biases[l]
        return self.activations[l].value(z, out=z)

    def _feedforward(self, X: Array) -> tuple[Array, Array]:
        """(z^L, a^L) for a validated batch."""
        a = X
        for l in range(len(self.weights) - 1):
            a = self._layer(l, a)
        z = np.matmul(a, self.weights[-1].T)
        z += self.biases[-1]
        return z, self.activations[-1].value(z, out=z.copy())

    def _targets(self, y: Array, n: int, name: str = "y") -> np.ndarray:
        """``y`` as (n, sizes[-1]) targets of the network's dtype, checked against its cost."""
        Y = as_targets(y, n, self.sizes[-1], self.dtype, name)
        self.cost_function.check_targets(Y, name)
        return Y

    def _outputs(self, X: Array) -> tuple[np.ndarray, np.ndarray]:
        """(z^L, a^L) for validated inputs, fed forward in chunks to bound memory."""
        parts = [self._feedforward(X[i : i + _CHUNK]) for i in range(0, len(X), _CHUNK)]
        return np.concatenate([z for z, _ in parts]), np.concatenate([a for _, a in parts])

    def feedforward(self, X: Array) -> np.ndarray:
        """The output activations a^L, one row per row of ``X`` (shape (n, sizes[-1]))."""
        return self._outputs(as_inputs(X, self.sizes[0], self.dtype))[1]

    def predict(self, X: Array) -> np.ndarray:
        """Class labels: the index of the most active output neuron (or a^L ≥ ½ for one output)."""
        return _labels_of(self.feedforward(X))

    def score(self, X: Array, y: Array) -> tuple[float, float]:
        """(accuracy, mean cost) over the examples, from one feedforward pass.

        Accuracy is the fraction classified correctly; the cost excludes any regularisation term.
        """
        X = as_inputs(X, self.sizes[0], self.dtype)
        Y = self._targets(y, len(X))
        z, a = self._outputs(X)
        correct = np.count_nonzero(_labels_of(a) == as_labels(y, len(X), self.sizes[-1]))
        return correct / len(X), mean_cost(self.cost_function, self.activations[-1], z, a, Y)

    def cost(self, X: Array, y: Array) -> float:
        """The mean cost C over the examples (without any regularisation term)."""
        return self.score(X, y)[1]

    def accuracy(self, X: Array, y: Array) -> float:
        """The fraction of examples classified correctly, in [0, 1]."""
        return self.score(X, y)[0]

    # -- backpropagation -----------------------------------------------------------------------

    def backprop(self, X: Array, y: Array) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(nabla_b, nabla_w): ∂C/∂b^l and ∂C/∂w^l averaged over the batch (BP1–BP4).

        ``nabla_b[l]`` has the shape of ``biases[l]`` and ``nabla_w[l]`` that of ``weights[l]``.
        """
        X = as_inputs(X, self.sizes[0], self.dtype)
        Y = self._targets(y, len(X))
        ws = Workspace(self.sizes, len(X), self.dtype)
        ws.a[0][...] = X
        ws.y[...] = Y
        self.gradients(ws, len(X))
        return [b.copy() for b in ws.nabla_b], [w.copy() for w in ws.nabla_w]

    def gradients(
        self, ws: Workspace, m: int, apply: LayerUpdate | None = None, rng: np.random.Generator | None = None
    ) -> float:
        """Backpropagate the batch ``ws.a[0][:m]`` with targets ``ws.y[:m]``; return its mean cost.

        For each layer l, from the last, BP3 and BP4 give the gradient as products of two
        factors, ∂C/∂b^l = Σ_batch δ^l and ∂C/∂w^l = (δ^l)ᵀ a^{l−1} (δ carries the 1/m of the
        mean). ``apply(l, delta, a_prev)`` receives those factors: by default they are multiplied
        out into ``ws.nabla_b[l]``/``ws.nabla_w[l]``; plain SGD instead folds them into the
        parameters with one GEMM (:class:`ffnn.training.SGDUpdate`). BP2 runs before ``apply`` so
        δ^{l−1} always sees the weights the batch was fed forward with.

        With ``rng``, the network's dropout is applied: the input of layer l is multiplied by a
        mask of 0 and 1/(1 − p) drawn from ``rng``, and the same mask gates δ on the way back.

        This is the training loop's hot path: every array is one of the workspace's buffers, and
        no product is computed whose result is unused (there is no δ for the input layer).
        """
        L = len(self.weights)
        a = [buf[:m] for buf in ws.a]
        masks = ws.draw_masks(self.dropout, m, rng) if rng is not None else [None] * L
        # Feedforward, keeping every a^l (σ' is computed from a^l) and z^L for the cost.
        for l in range(L - 1):
            if masks[l] is not None:
                a[l] *= masks[l]
            self._layer(l, a[l], out=a[l + 1])
        if masks[L - 1] is not None:
            a[L - 1] *= masks[L - 1]
        z = np.matmul(a[L - 1], self.weights[-1].T, out=ws.z_out[:m])
        z += self.biases[-1]
        a_out = self.activations[-1].value(z, out=a[L])
        batch_cost = mean_cost(self.cost_function, self.activations[-1], z, a_out, ws.y[:m])
        # BP1, with the 1/m of the batch mean folded into δ^L (BP2–BP4 are linear in δ).
        delta = output_error(self.cost_function, self.activations[-1], a_out, ws.y[:m], out=ws.delta[L][:m])
        delta *= 1.0 / m
        flush = ws.flush_subnormals
        apply = apply or ws.store_gradient
        for l in range(L - 1, -1, -1):
            delta_prev = None
            if l > 0:  # BP2: δ^{l−1} = (δ^l w^l) ⊙ σ'(z^{l−1})
                grad_a = np.matmul(delta, self.weights[l], out=ws.delta[l][:m])
                a_kept = a[l]
                if masks[l] is not None:  # through the mask, and σ' of the undropped a
                    grad_a *= masks[l]
                    a_kept = np.multiply(a[l], 1.0 - self.dropout[l], out=ws.undropped[l][:m])  # type: ignore[index]
                delta_prev = flush(self.activations[l - 1].backward(a_kept, grad_a, out=grad_a))
            apply(l, flush(delta) if l == L - 1 else delta, a[l])  # BP3 and BP4
            delta = delta_prev
        return batch_cost

    # -- training ------------------------------------------------------------------------------

    def fit(
        self, X: Array, y: Array, epochs: int, batch_size: int, eta: float | None = None, **options: Any
    ) -> History:
        """Train by mini-batch gradient descent: ``ffnn.training.fit(self, X, y, ...)``, whose
        docstring lists the options (``lmbda``, ``test_data``, ``validation_data``, ``optimizer``,
        ``callbacks``, ``seed``, ...)."""
        from ffnn.training import fit  # training builds on network; the method is a convenience

        return fit(self, X, y, epochs, batch_size, eta, **options)

    def save(self, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None) -> None:
        """Write the network to ``path`` (``.npz`` arrays + JSON header, atomically); see ``ffnn.load``."""
        from ffnn.serialization import save

        save(self, path, self.metadata if metadata is None else metadata)

    def parameters(self) -> list[np.ndarray]:
        """Every parameter array, layer by layer: [w^1, b^1, w^2, b^2, ...] (views, not copies)."""
        return [p for w, b in zip(self.weights, self.biases) for p in (w, b)]


def _dropout_rates(dropout: float | Sequence[float], input_dropout: float, n_hidden: int) -> list[float]:
    """[p_input, p_hidden_1, …]: the dropout rate of the input of each weight layer."""
    hidden = [dropout] * n_hidden if isinstance(dropout, (int, float)) else list(dropout)
    if len(hidden) != n_hidden:
        raise ValueError(f"The 'dropout' list must give one rate per hidden layer ({n_hidden}). Got {len(hidden)}.")
    rates = [input_dropout, *hidden]
    for name, p in zip(["input_dropout", *["dropout"] * n_hidden], rates):
        if not (isinstance(p, (int, float)) and not isinstance(p, bool) and 0.0 <= p < 1.0):
            raise ValueError(f"The '{name}' parameter must be in [0, 1). Got {p!r} instead.")
    return [float(p) for p in rates]


def _labels_of(a: np.ndarray) -> np.ndarray:
    """Class labels from output activations: argmax, or a ≥ ½ for a single output neuron."""
    if a.shape[1] == 1:
        return (a[:, 0] >= 0.5).astype(np.intp)
    return np.asarray(np.argmax(a, axis=1), dtype=np.intp)


def _check_seed(seed: Any) -> int | None:
    if seed is not None and not (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and int(seed) >= 0):
        raise ValueError(f"The 'seed' parameter must be None or a non-negative integer. Got {seed!r} instead.")
    return None if seed is None else int(seed)


def _layer_activations(
    activation: str | Activation | Sequence[str | Activation],
    output_activation: str | Activation | None,
    n_layers: int,
    matching: str | None,
) -> list[Activation]:
    """One activation per weight layer, the output layer's last."""
    if isinstance(activation, (str, Activation)):
        layers = [get_activation(activation)] * n_layers
        if output_activation is None and matching is not None:
            output_activation = matching
    else:
        layers = [get_activation(a) for a in activation]
        if len(layers) != n_layers:
            raise ValueError(
                f"The 'activation' list must give one activation per layer ({n_layers} for these sizes). "
                f"Got {len(layers)}: {list(activation)!r}."
            )
    if any(a.name == "softmax" for a in layers[:-1]):
        raise ValueError("'softmax' is an output activation; use it as output_activation, not for a hidden layer.")
    if output_activation is not None:
        layers[-1] = get_activation(output_activation, "output_activation")
    return layers
