"""Backpropagation, batched: the feedforward pass and BP1–BP4 over reusable buffers.

One index convention throughout: the code's layer ``i`` (0 ≤ i < L, L weight layers) is the
math's layer l = i + 1. ``weights[i]`` is w^l (shape (n_l, n_{l−1})), ``biases[i]`` is b^l,
``delta[i]`` is δ^l, and ``a[i]`` is a^{l−1}, the *input* of layer i — so ``a[0]`` is the batch
and ``a[L]`` the network's output. A batch is a matrix whose rows are examples, and the
column-vector equations of the sources become

    z^l = a^{l−1} (w^l)ᵀ + b^l,   a^l = σ(z^l)          a[i+1] = σ(a[i] @ weights[i].T + biases[i])
    δ^L = ∇_a C ⊙ σ'(z^L)                     (BP1)      delta[L−1]
    δ^l = (δ^{l+1} w^{l+1}) ⊙ σ'(z^l)          (BP2)      delta[i−1] = (delta[i] @ weights[i]) ⊙ σ'(a[i])
    ∂C/∂b^l = Σ_batch δ^l                      (BP3)      nabla_b[i]
    ∂C/∂w^l = (δ^l)ᵀ a^{l−1}                   (BP4)      nabla_w[i] = delta[i].T @ a[i]

with the 1/m of the batch mean folded into δ^L, so the sums are the mean gradients. With sample
weights w_x the batch's cost is their weighted mean C = Σ_x w_x C_x / Σ_x w_x, and row x of δ^L
is scaled by w_x / Σ_batch w instead of 1/m (BP2–BP4 are linear in δ, so nothing else changes).
A cost whose ``reduction`` is ``"sum"`` (C = Σ_x C_x, or Σ_x w_x C_x) folds in 1 (or w_x) instead.

A layer without biases (a network built with ``bias=False``) has b^l ≡ 0, a constant and not a
parameter: its BP3 is not computed, and ``nabla_b[i]`` stays 0 (so no update rule moves it).
Every σ' is written in terms of the activation's output (``ffnn.activations``), so only the a's
are kept. The buffers live in the network's backend (``ffnn.backends``); with NumPy, each
layer's product runs into its buffer and BP4 is one fused GEMM (``ffnn._blas``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from ffnn.activations import Activation
from ffnn.backends import NUMPY, Backend, namespace
from ffnn.costs import Cost, batch_cost, example_costs, output_error
from ffnn.errors import ParameterError

Array = Any
LayerUpdate = Callable[[int, Array, Array], None]
"""``apply(i, delta, a_prev)``: receives layer i's BP3/BP4 factors δ^l and a^{l−1}."""


class Layers(Protocol):
    """What backpropagation reads of a network (``ffnn.Network`` has it)."""

    weights: list[Array]
    biases: list[Array]
    activations: list[Activation]
    cost_function: Cost
    dropout: list[float]


def forward_layer(w: Array, b: Array, activation: Activation, a_prev: Array, out: Any = None) -> Any:
    """a^l = σ(a^{l−1} (w^l)ᵀ + b^l) for a batch of rows; ``out`` receives z^l and then a^l."""
    z = namespace(a_prev).matmul(a_prev, w.T, out=out)
    z += b
    return activation.value(z, out=z)


class Workspace:
    """Buffers for batches of up to ``batch_size`` rows, reused from batch to batch.

    ``load`` gathers a batch into them; ``backpropagate`` reads it from there and leaves the
    gradients in ``nabla_w``/``nabla_b`` (unless its ``apply`` consumes them), in the order of
    :meth:`gradients`. The buffers are arrays of ``backend`` (NumPy by default). With
    ``bias=False`` (a network without biases) ``nabla_b`` holds zeros, which BP3 never writes.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        batch_size: int,
        dtype: np.dtype[Any],
        backend: Backend = NUMPY,
        bias: bool = True,
    ) -> None:
        pairs = list(zip(sizes[:-1], sizes[1:]))
        self.backend, self.dtype, self.bias = backend, np.dtype(dtype), bias
        self._sum, self._gemm = backend.xp.sum, backend.gemm_at_b
        self.a = [backend.empty((batch_size, n), dtype) for n in sizes]  # a[i]: input of layer i; a[L]: output
        self.delta = [backend.empty((batch_size, n_out), dtype) for _, n_out in pairs]  # delta[i] = δ^(i+1)
        self.y = backend.empty((batch_size, sizes[-1]), dtype)  # the batch's targets
        self.z_out = backend.empty((batch_size, sizes[-1]), dtype)  # z^L, for the cost
        self.nabla_w = [backend.empty((n_out, n_in), dtype) for n_in, n_out in pairs]
        self.nabla_b = [(backend.empty if bias else backend.zeros)((n_out,), dtype) for _, n_out in pairs]
        self.masks: list[Array | None] = [None] * len(pairs)  # dropout's, for a[i]; made when first needed
        self.undropped: list[Array | None] = [None] * len(pairs)
        self.sample_weight: Array | None = None  # the batch's w_x, when ``load`` was given weights
        self._weights = backend.empty((batch_size,), dtype)
        self._rows: dict[int, tuple[list[Array], list[Array], Array, Array]] = {}
        widest = batch_size * max(sizes)
        self._bits = np.empty(widest, np.int32) if dtype == np.float32 and backend is NUMPY else None
        self._normal = np.empty(widest, bool)

    def load(
        self,
        X: Array,
        Y: Array,
        rows: Array,
        weights: Array | None = None,
        *,
        in_range: bool = False,
    ) -> int:
        """Gather the examples ``rows`` of inputs ``X`` and targets ``Y`` (and their sample ``weights``,
        if any: a checked (n,) array) as the batch; return its size m. ``in_range=True`` says the
        rows are known to lie in range (a slice of a permutation of the examples), sparing the check.
        All are arrays of the workspace's backend (``rows`` integers)."""
        m = int(rows.shape[0])
        if not 0 < m <= self.y.shape[0] or X.shape[1:] != self.a[0].shape[1:] or Y.shape[1:] != self.y.shape[1:]:
            raise ParameterError(
                f"A batch of {m} rows of X {X.shape} and Y {Y.shape} does not fit this workspace "
                f"(at most {self.y.shape[0]} rows of {self.a[0].shape[1]} inputs and {self.y.shape[1]} targets)."
            )
        xp = self.backend.xp
        if not in_range:
            n, low, high = min(X.shape[0], Y.shape[0]), int(xp.min(rows)), int(xp.max(rows))
            if low < 0 or high >= n:
                raise ParameterError(f"Batch rows must lie in [0, {n}); got {low}..{high}.")
        a, _, y, _ = self.rows(m)
        self.sample_weight = None
        if xp is np:  # mode="clip" writes into out directly
            np.take(X, rows, axis=0, out=a[0], mode="clip")
            np.take(Y, rows, axis=0, out=y, mode="clip")
            if weights is not None:
                self.sample_weight = np.take(weights, rows, out=self._weights[:m], mode="clip")
            return m
        a[0][...] = xp.take(X, rows, axis=0)
        y[...] = xp.take(Y, rows, axis=0)
        if weights is not None:
            self.sample_weight = xp.take(weights, rows, axis=0, out=self._weights[:m])
        return m

    def inputs(self, m: int) -> Array:
        """The loaded batch's inputs a^0 (m rows), to be transformed in place (augmentation)."""
        return self.rows(m)[0][0]

    def rows(self, m: int) -> tuple[list[Array], list[Array], Array, Array]:
        """(a, delta, y, z^L): views of the buffers' first m rows, made once per batch size."""
        views = self._rows.get(m)
        if views is None:
            cut = (slice(m), slice(None))  # both axes named: the array API defines no partial index
            views = ([buf[cut] for buf in self.a], [buf[cut] for buf in self.delta], self.y[cut], self.z_out[cut])
            self._rows[m] = views
        return views

    def gradients(self) -> list[Array]:
        """The stored ∂C/∂w^l and ∂C/∂b^l in the order of ``Network.parameters()``: [w¹, b¹, w², b², …]."""
        return [g for pair in zip(self.nabla_w, self.nabla_b) for g in pair]

    def store_gradient(self, i: int, delta: Array, a_prev: Array) -> None:
        """BP3: ∂C/∂b^l = Σ_batch δ^l (with biases);  BP4: ∂C/∂w^l = (δ^l)ᵀ a^{l−1} — into
        ``nabla_b[i]``/``nabla_w[i]``."""
        if self.bias:
            self._sum(delta, axis=0, out=self.nabla_b[i])
        self._gemm(1.0, delta, a_prev, 0.0, self.nabla_w[i])

    def flush_subnormals(self, delta: Array) -> Array:
        """δ with its subnormal entries (|δ| < tiny, float32 only) set to 0, in place.

        A saturated unit's σ'(z) is tiny, and δ = ∇_a C ⊙ σ'(z) falls below the normal range;
        fed to a matrix product, such numbers slow it down by up to 5× on x86 (microcode assists
        on every multiplication). Setting them to zero — what a CPU's flush-to-zero mode does,
        which Python cannot turn on for the BLAS threads — changes each gradient by less than
        10⁻³⁸. Float64 δ would need values below 10⁻³⁰⁸ and are left as they are, and so are
        other backends' (a GPU flushes them itself).
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

    def draw_masks(self, rates: Sequence[float], m: int, rng: np.random.Generator) -> list[Array | None]:
        """Inverted-dropout masks for the inputs a[i] of a batch of m: 1/(1 − p) with probability 1 − p, else 0.
        The uniform draws come from ``rng`` on the host, whatever the backend."""
        out: list[Array | None] = []
        for i, p in enumerate(rates):
            if not p:
                out.append(None)
                continue
            if self.masks[i] is None:
                self.masks[i] = self.backend.empty(tuple(self.a[i].shape), self.dtype)
                self.undropped[i] = self.backend.empty(tuple(self.a[i].shape), self.dtype)
            mask = self.backend.uniform(rng, self.masks[i][:m, :], self.dtype)  # type: ignore[index]
            self.backend.xp.greater_equal(mask, p, out=mask)
            mask *= 1.0 / (1.0 - p)
            out.append(mask)
        return out


def backpropagate(
    net: Layers, ws: Workspace, m: int, apply: LayerUpdate | None = None, rng: np.random.Generator | None = None
) -> float:
    """Backpropagate the batch of m examples loaded in ``ws`` (``Workspace.load``); return its cost
    (the mean of its examples' costs, or their sum for a summed cost).

    For each layer, from the last, BP3 and BP4 give the gradient as products of two factors,
    ∂C/∂b^l = Σ_batch δ^l and ∂C/∂w^l = (δ^l)ᵀ a^{l−1}. ``apply(i, delta, a_prev)`` receives
    those factors: by default ``ws.store_gradient`` multiplies them out into ``ws.nabla_b[i]`` /
    ``ws.nabla_w[i]``; plain SGD instead folds them into the parameters with one GEMM
    (``ffnn.steps.SGDStep``). BP2 runs before ``apply`` so δ^{l−1} always sees the weights the
    batch was fed forward with.

    With sample weights loaded (``Workspace.load(..., weights)``), the batch's cost is the weighted
    mean Σ_x w_x C_x / Σ_x w_x over the batch (the weighted sum Σ_x w_x C_x for a summed cost) and
    the gradient is its gradient; a batch whose weights are all 0 has cost 0 and gradient 0.

    With ``rng``, the network's dropout is applied: the input a[i] of layer i is multiplied by a
    mask of 0 and 1/(1 − p) drawn from ``rng``, and the same mask gates δ on the way back.

    This is the training loop's hot path: every array is one of the workspace's buffers, and no
    product is computed whose result is unused (there is no δ for the input layer).
    """
    L = len(net.weights)
    xp = ws.backend.xp
    # Cheap, once a batch: the batch size, the depth and the two ends. (A hidden layer of another
    # width would make its product's out= refuse the shapes: nothing is read out of bounds.)
    if not (0 < m <= ws.y.shape[0] and len(ws.nabla_w) == L and net.weights[0].shape == ws.nabla_w[0].shape
            and net.weights[-1].shape == ws.nabla_w[-1].shape):  # fmt: skip
        raise ParameterError(
            f"backpropagate: a batch of {m} rows and weights {[w.shape for w in net.weights]} do not fit a workspace "
            f"made for {ws.y.shape[0]} rows and weights {[g.shape for g in ws.nabla_w]}."
        )
    a, deltas, y, z_out = ws.rows(m)
    masks = ws.draw_masks(net.dropout, m, rng) if rng is not None else [None] * L
    # Feedforward, keeping every a[i] (σ' is computed from it) and z^L for the cost.
    for i in range(L - 1):
        if masks[i] is not None:
            a[i] *= masks[i]
        forward_layer(net.weights[i], net.biases[i], net.activations[i], a[i], out=a[i + 1])
    if masks[L - 1] is not None:
        a[L - 1] *= masks[L - 1]
    z = xp.matmul(a[L - 1], net.weights[L - 1].T, out=z_out)
    z += net.biases[L - 1]
    output = net.activations[L - 1]
    a_out = output.value(z, out=a[L])
    # BP1, with the 1/m of the batch mean — or each example's w_x / Σ_batch w — folded into δ^L
    # (BP2–BP4 are linear in δ); a summed cost folds in 1, or w_x.
    cost = net.cost_function
    delta = output_error(cost, output, a_out, y, out=deltas[L - 1])
    if ws.sample_weight is None:
        total = batch_cost(cost, output, z, a_out, y)
        if cost.reduction == "mean":
            delta *= 1.0 / m
    else:
        share = _weight_shares(ws.sample_weight) if cost.reduction == "mean" else ws.sample_weight
        total = float(example_costs(cost, output, z, a_out, y) @ share)
        delta *= share[:, None]
    apply = apply or ws.store_gradient
    for i in range(L - 1, -1, -1):
        delta_prev: Array | None = None
        if i > 0:  # BP2: delta[i−1] = (delta[i] @ weights[i]) ⊙ σ'(a[i])
            grad_a = xp.matmul(delta, net.weights[i], out=deltas[i - 1])
            a_kept = a[i]
            if masks[i] is not None:  # through the mask, and σ' of the undropped a
                grad_a *= masks[i]
                a_kept = xp.multiply(a[i], 1.0 - net.dropout[i], out=ws.undropped[i][:m, :])  # type: ignore[index]
            delta_prev = ws.flush_subnormals(net.activations[i - 1].backward(a_kept, grad_a, out=grad_a))
        if i == L - 1:  # (hidden δ's are flushed as BP2 makes them)
            ws.flush_subnormals(delta)
        apply(i, delta, a[i])  # BP3 and BP4
        delta = delta_prev
    return total


def _weight_shares(w: Array) -> Array:
    """Each example's share of the batch's weighted mean, w_x · (1 / Σ_batch w) (all 0 if Σ w = 0).

    Multiplying by the reciprocal, as the unweighted path multiplies by 1/m, makes unit weights
    give exactly that path's δ^L."""
    total = float(namespace(w).sum(w))
    return w * (1.0 / total if total > 0 else 0.0)
