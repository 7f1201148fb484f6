"""The sources' algorithm, literally: column vectors and a loop over each mini-batch's examples.

This is source 003's ``Network`` (Nielsen's ``network.py``) with its math corrected, generalised
only as far as ffnn's options go (activations, costs, L2). It is the teaching code — read it
beside ``docs/math.md`` — and the oracle of the tests: the batched :class:`ffnn.Network` must
give the same numbers. It imports nothing from the rest of ffnn, so it checks it independently,
and it is deliberately plain: one example at a time, float64, no buffers.

Erratum (see ``docs/errata.md``): source 003 computes the hidden-layer error as
``np.dot(activations[-l].transpose(), delta) * sp``; BP2 needs the next layer's *weights* there,
``np.dot(self.weights[-l + 1].transpose(), delta) * sp``, which is what ``backprop`` does below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Column = np.ndarray  # shape (n, 1)
Example = tuple[Column, Column]


# Each activation: σ(z) and its derivative matrix ∂a/∂z (diagonal for the element-wise ones).
def sigmoid(z: Column) -> Column:
    """σ(z) = 1 / (1 + e^{−z}), computed as e^{z}/(1 + e^{z}) for z < 0 so nothing overflows."""
    e = np.exp(-np.abs(z))
    return np.asarray(np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))


def sigmoid_prime(z: Column) -> Column:
    """σ'(z) = σ(z)(1 − σ(z))."""
    s = sigmoid(z)
    return s * (1.0 - s)


def softmax(z: Column) -> Column:
    """a_j = e^{z_j} / Σ_k e^{z_k}."""
    e: np.ndarray = np.exp(z - z.max())
    e /= e.sum()
    return e


ACTIVATIONS: dict[str, tuple[Callable[[Column], Column], Callable[[Column], np.ndarray]]] = {
    "sigmoid": (sigmoid, lambda z: np.diagflat(sigmoid_prime(z))),
    "tanh": (np.tanh, lambda z: np.diagflat(1.0 - np.tanh(z) ** 2)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: np.diagflat((z > 0).astype(float))),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.diagflat(np.where(z > 0, 1.0, 0.01))),
    "identity": (lambda z: z.copy(), lambda z: np.eye(len(z))),
    # ∂a_j/∂z_k = a_j (1[j = k] − a_k): the full Jacobian diag(a) − a aᵀ.
    "softmax": (softmax, lambda z: np.diagflat(softmax(z)) - softmax(z) @ softmax(z).T),
}

# Each cost of one example: C(a, y) and ∇_a C.
COSTS: dict[str, tuple[Callable[[Column, Column], float], Callable[[Column, Column], Column]]] = {
    "quadratic": (lambda a, y: 0.5 * float(np.sum((a - y) ** 2)), lambda a, y: a - y),
    "cross_entropy": (lambda a, y: -float(np.sum(y * np.log(a))), lambda a, y: -y / a),
    "binary_cross_entropy": (
        lambda a, y: -float(np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))),
        lambda a, y: (a - y) / (a * (1 - a)),
    ),
}


class ReferenceNetwork:
    """Source 003's ``Network``: ``weights[l]`` is (n_out, n_in), ``biases[l]`` a column (n_out, 1).

    ``activations`` names one activation per layer (a single name for all); ``weights`` and
    ``biases`` may be given (to mirror another network), else they are drawn from N(0, 1), as
    in source 003.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activations: str | Sequence[str] = "sigmoid",
        cost: str = "quadratic",
        weights: Sequence[np.ndarray] | None = None,
        biases: Sequence[np.ndarray] | None = None,
        seed: int | None = None,
    ) -> None:
        rng = np.random.default_rng(seed)
        self.num_layers = len(sizes)
        self.sizes = list(sizes)
        names = [activations] * (len(sizes) - 1) if isinstance(activations, str) else list(activations)
        self.activations = [ACTIVATIONS[n] for n in names]
        self.cost, self.cost_gradient = COSTS[cost]
        if weights is None or biases is None:
            biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
            weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]
        self.weights = [np.array(w, dtype=float) for w in weights]
        self.biases = [np.array(b, dtype=float).reshape(-1, 1) for b in biases]

    def feedforward(self, a: Column) -> Column:
        """a^l = σ(w^l a^{l−1} + b^l), layer by layer; returns a^L."""
        for b, w, (sigma, _) in zip(self.biases, self.weights, self.activations):
            a = sigma(np.dot(w, a) + b)
        return a

    def backprop(self, x: Column, y: Column) -> tuple[list[Column], list[np.ndarray]]:
        """(nabla_b, nabla_w): the gradient of the cost C_x of the single example (x, y)."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]  # a^0 = x, a^1, ..., a^L
        zs = []  # z^1, ..., z^L
        for b, w, (sigma, _) in zip(self.biases, self.weights, self.activations):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigma(z)
            activations.append(activation)
        # BP1: δ^L = (∂a^L/∂z^L)ᵀ ∇_a C, i.e. ∇_a C ⊙ σ'(z^L) when σ acts element-wise.
        jacobian = self.activations[-1][1](zs[-1])
        delta = np.dot(jacobian.T, self.cost_gradient(activations[-1], y))
        nabla_b[-1] = delta  # BP3
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())  # BP4
        for l in range(2, self.num_layers):
            jacobian = self.activations[-l][1](zs[-l])
            # BP2: δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l) — the weights, not the activations.
            delta = np.dot(jacobian.T, np.dot(self.weights[-l + 1].transpose(), delta))
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def update_mini_batch(self, mini_batch: Sequence[Example], eta: float, lmbda: float = 0.0, n: int = 1) -> None:
        """One step: w → (1 − ηλ/n) w − (η/m) Σ_x ∇_w C_x,  b → b − (η/m) Σ_x ∇_b C_x."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        m = len(mini_batch)
        self.weights = [(1 - eta * lmbda / n) * w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]

    def SGD(  # noqa: N802 — the sources' name
        self,
        training_data: Sequence[Example],
        epochs: int,
        mini_batch_size: int,
        eta: float,
        lmbda: float = 0.0,
        test_data: Sequence[tuple[Column, int]] | None = None,
        seed: int | None = None,
    ) -> list[int]:
        """Mini-batch SGD; each epoch visits the examples in the order ``rng.permutation(n)``.

        (Source 003 shuffles with ``random.shuffle``; a permutation from a seeded
        ``numpy.random.Generator`` is the same idea, made reproducible — and the order in which
        ``ffnn.training.fit`` visits the data for the same seed.) Returns the number of test
        examples classified correctly after each epoch (empty without test data).
        """
        rng = np.random.default_rng(seed)
        n = len(training_data)
        scores = []
        for j in range(epochs):
            order = rng.permutation(n)
            mini_batches = [
                [training_data[i] for i in order[k : k + mini_batch_size]] for k in range(0, n, mini_batch_size)
            ]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta, lmbda, n)
            if test_data is not None:
                scores.append(self.evaluate(test_data))
                print(f"Epoch {j}: {scores[-1]} / {len(test_data)}")
        return scores

    def evaluate(self, test_data: Sequence[tuple[Column, int]]) -> int:
        """The number of test examples whose most active output neuron is the label."""
        return sum(int(np.argmax(self.feedforward(x)) == y) for x, y in test_data)

    def total_cost(self, data: Sequence[Example]) -> float:
        """The mean cost over the examples, C = (1/N) Σ_x C_x."""
        return sum(self.cost(self.feedforward(x), y) for x, y in data) / len(data)
