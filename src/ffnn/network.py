"""The network: parameters, feedforward, predictions and scores; BP1–BP4 through ``ffnn.backprop``.

Notation follows the sources. Layer l (1 ≤ l ≤ L) has weights w^l of shape (n_l, n_{l−1}) — row j
is neuron j, column k is neuron k of the layer below, as w^l_jk — and biases b^l of shape (n_l,),
stored as ``weights[l − 1]`` and ``biases[l − 1]``. A batch is a matrix whose rows are examples:

    z^l = a^{l−1} (w^l)ᵀ + b^l,        a^l = σ(z^l),        a^0 = the input.

Training is not here: ``ffnn.fit(network, X, y, ...)`` (``ffnn.training``) trains a network, and
``ffnn.save`` / ``ffnn.load`` (``ffnn.serialization``) write and read it. ``ffnn.reference``
holds the sources' per-example algorithm, which the batched backpropagation must (and in the
tests does) reproduce.

Input standardisation: a network may carry ``standardization`` = (mean, std), one value per
input; then every public entry point that takes raw inputs (``feedforward``, ``layer_outputs``,
``predict``, ``predict_proba``, ``score``, ``cost``, ``accuracy``, ``backprop``) feeds
(x − mean) / std to the first layer, through ``_inputs`` — the one place it happens. ``ffnn.fit``
applies it once to the training inputs before its loop (which works on the batches directly,
not through these methods); held-out data goes through ``score``, so it too is standardised
exactly once. ``classes`` names the classes (None: the labels are the indices).

Backends: the parameters are arrays of the network's ``backend`` (``ffnn.backends``: NumPy,
PyTorch, CuPy, array_api_strict). Inputs are checked on the host and copied over a chunk at a
time; every public result (outputs, labels, scores, gradients) comes back as NumPy.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ffnn._arrays import resolve_dtype
from ffnn._validation import (
    as_inputs,
    as_labels,
    as_sample_weight,
    as_targets,
    check_memory,
    check_seed,
    check_sizes,
)
from ffnn.activations import ACTIVATIONS, Activation, check_hidden, get_activation
from ffnn.backends import get_backend
from ffnn.backprop import Workspace, backpropagate, forward_layer
from ffnn.costs import check_pairing, example_costs, get_cost
from ffnn.errors import ParameterError, ParameterTypeError
from ffnn.initializers import FORMER_NAMES, generator, get_initializer
from ffnn.outputs import PROBABILITY_OUTPUTS, labels_of, probabilities_of, require_finite

Array = Any
_CHUNK = 8192  # rows fed forward at a time outside training, to bound memory on large inputs


class Network:
    """A fully connected feedforward network trained by backpropagation.

    Parameters
    ----------
    sizes
        neurons per layer, input first, e.g. ``[784, 30, 10]``.
    activation
        the hidden layers' activation (``"sigmoid"``, ``"tanh"``, ``"relu"``,
        ``"leaky_relu"``, ``"identity"``), or a list with one per layer (output included).
    output_activation
        the output layer's activation (those above, or ``"softmax"``). By default
        the one that matches the cost (softmax for ``cross_entropy``, sigmoid for
        ``binary_cross_entropy``), else the hidden activation, as in the sources.
    cost
        ``"quadratic"`` (the sources' C = 1/2N Σ‖a − y‖²), ``"cross_entropy"`` (log-likelihood,
        with softmax) or ``"binary_cross_entropy"`` (the book's cross-entropy, with sigmoid).
    reduction
        how a batch's cost (and so its gradient) combines its examples' costs C_x:
        ``"mean"`` (the default, or a ``Cost`` instance's own: C = 1/n Σ_x C_x) or ``"sum"``
        (C = Σ_x C_x, source 002's
        ½ Σ ‖a − y‖²). Every cost the network reports (``cost``, ``score``, training's) is so reduced.
        Sample weights count as w_x / max w (scaled so the largest is 1): a weighted mean is their
        ratios' alone, a weighted sum Σ_x w_x C_x is of the weights so scaled.
    init
        ``"small_uniform"``, ``"normal"``, ``"scaled_normal"``, ``"glorot"``, ``"he"`` or
        ``"legacy_uniform"`` (source 002's draw: ``ffnn.initializers``).
    bias
        whether the layers have biases b^l (default). ``False``: z^l = w^l a^{l−1}, as in source
        002's network; ``biases`` then holds zeros, constants that training never moves (their
        gradient is reported as 0), and model files store none.
    dtype
        ``"float32"`` (default, fast) or ``"float64"`` (for gradient checks).
    seed
        seeds the initialiser; the same seed gives the same weights.
    dropout
        inverted dropout rate p of the hidden layers (one number, or one per hidden layer):
        in training each hidden activation is kept with probability 1 − p and scaled by 1/(1 − p),
        so its expectation is unchanged and nothing needs rescaling at evaluation, where dropout
        is off. ``input_dropout`` does the same to the inputs.
    backend
        the array library of the parameters and of training: ``"numpy"`` (default),
        ``"torch"``, ``"cupy"`` or ``"array_api_strict"`` (see ``ffnn.backends``); ``device`` is
        torch's (``"cpu"`` by default, ``"cuda"``). The initial weights are drawn by NumPy and
        copied, so a seed gives the same network on every backend. A network this machine's memory
        cannot hold (:func:`memory_needed`) is refused before anything is drawn.
    parameters
        the layers' (w^l, b^l), NumPy arrays of shapes (n_l, n_{l−1}) and (n_l,), to use
        instead of drawing any (``init`` is then only recorded, and ``seed`` unused): how
        ``ffnn.load`` builds a network from a file's arrays. Arrays already of ``dtype`` and
        C-contiguous are taken as they are on NumPy (not copied), so a model costs its own size once.
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
        backend: str = "numpy",
        device: str | None = None,
        *,
        bias: bool = True,
        reduction: str | None = None,
        parameters: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        self.sizes = check_sizes(sizes)
        self.backend = get_backend(backend, device)
        if not isinstance(bias, (bool, np.bool_)):
            raise ParameterTypeError(f"The 'bias' parameter must be True or False. Got {bias!r} instead.")
        self.bias = bool(bias)
        self.cost_function = get_cost(cost, reduction)
        self.activations = _layer_activations(
            activation, output_activation, len(self.sizes) - 1, self.cost_function.matching_activation
        )
        check_pairing(self.cost_function, self.activations[-1])
        self.dtype = resolve_dtype(dtype)
        initializer = get_initializer(init)
        rng = generator(init, check_seed(seed))
        self.init = FORMER_NAMES.get(init, init)  # a model read under a former name is saved under the new one
        self.metadata: dict[str, Any] = {}  # training settings and results, kept in model files
        self._classes: list[str] | None = None
        self._standardization: tuple[np.ndarray, np.ndarray] | None = None
        self.dropout = _dropout_rates(dropout, input_dropout, len(self.sizes) - 2)
        self.weights: list[Array] = []  # arrays of the backend
        self.biases: list[Array] = []
        if parameters is None:  # drawn here: refused first if this machine cannot hold them
            self._check_memory()
        given = None if parameters is None else _check_parameters(parameters, self.sizes, self.bias)
        for l, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            w, b = initializer(n_in, n_out, rng) if given is None else given[l]
            # without biases, b^l is 0 (an initialiser's draw of it is still made: the same seed, the same w)
            b = b if self.bias else np.zeros(n_out)
            self.weights.append(self.backend.asarray(np.ascontiguousarray(w, dtype=self.dtype)))
            self.biases.append(self.backend.asarray(np.ascontiguousarray(b, dtype=self.dtype)))

    def __repr__(self) -> str:
        names = [a.name for a in self.activations]
        backend = "" if self.backend.name == "numpy" else f", backend={self.backend.name!r}"
        extra = ("" if self.bias else ", bias=False") + (
            "" if self.cost_function.reduction == "mean" else f", reduction={self.cost_function.reduction!r}"
        )
        return (
            f"Network(sizes={self.sizes}, activations={names}, cost={self.cost_function.name!r}{extra}, "
            f"dtype={self.dtype.name!r}{backend})"
        )

    def _check_memory(self, batch_size: int | None = None) -> None:
        """Refuse (ParameterError, before allocating) what this machine's memory cannot hold
        (``ffnn._validation.check_memory``): this network's building (``batch_size`` None) or its
        training on mini-batches of ``batch_size`` rows, as :func:`memory_needed` counts them.
        Training on a GPU is left to its library, whose memory that is."""
        if batch_size is not None and not self.backend.on_host:
            return
        what = f"A network of sizes {_shown_sizes(self.sizes)} ({parameter_count(self.sizes):,} parameters)"
        if batch_size is None:
            check_memory(memory_needed(self.sizes, self.dtype), what, "give it smaller layers")
        else:
            check_memory(
                memory_needed(self.sizes, self.dtype, batch_size),
                f"Training {what[0].lower()}{what[1:]} on mini-batches of {batch_size}",
                "give it smaller layers, or train it on smaller mini-batches",
            )

    @property
    def num_layers(self) -> int:
        """Layers counted as in the sources: the input layer included."""
        return len(self.sizes)

    # -- inputs --------------------------------------------------------------------------------

    @property
    def classes(self) -> list[str] | None:
        """The class names, one per class — per output neuron, or 2 for a single one — (model
        files keep them); None: the labels are the class indices."""
        return self._classes

    @classes.setter
    def classes(self, value: Sequence[Any] | None) -> None:
        self._classes = None if value is None else check_classes(value, self.sizes[-1])

    @property
    def standardization(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(mean, std) of the inputs, applied as (x − mean) / std by every public entry point; or None."""
        return self._standardization

    @standardization.setter
    def standardization(self, value: tuple[Any, Any] | None) -> None:
        if value is None:
            self._standardization = None
            return
        mean, std = check_standardization(value, self.sizes[0], "standardization", self.dtype)
        self._standardization = (mean.astype(self.dtype), std.astype(self.dtype))

    def _inputs(self, X: Array, name: str = "X") -> np.ndarray:
        """``X`` checked (as ``as_inputs``) and standardised if the network carries a standardisation."""
        X = as_inputs(X, self.sizes[0], self.dtype, name)
        if self._standardization is None:
            return np.asarray(X)
        mean, std = self._standardization
        out: np.ndarray = np.ascontiguousarray((X - mean) / std, dtype=self.dtype)
        return out

    # -- feedforward ---------------------------------------------------------------------------

    def _feedforward(self, X: Array, hidden: bool) -> list[Array]:
        """[a^L, z^L] for a validated batch (of the backend); with ``hidden``, [a^1, …, a^{L−1}, a^L, z^L]."""
        kept = []
        a = X
        for i in range(len(self.weights) - 1):
            a = forward_layer(self.weights[i], self.biases[i], self.activations[i], a)
            if hidden:
                kept.append(a)
        z = a @ self.weights[-1].T
        z += self.biases[-1]
        return [*kept, self.activations[-1].value(z, out=self.backend.copy(z)), z]

    def _chunked(self, X: np.ndarray, hidden: bool = False) -> list[np.ndarray]:
        """``_feedforward`` over validated inputs in chunks of rows, to bound memory; NumPy results."""
        parts = [
            [self.backend.to_numpy(out) for out in self._feedforward(self.backend.asarray(X[i : i + _CHUNK]), hidden)]
            for i in range(0, len(X), _CHUNK)
        ]
        return parts[0] if len(parts) == 1 else [np.concatenate(layer) for layer in zip(*parts)]

    def feedforward(self, X: Array) -> np.ndarray:
        """The output activations a^L, one row per row of ``X`` (shape (n, sizes[-1]))."""
        return self._chunked(self._inputs(X))[0]

    def layer_outputs(self, X: Array) -> list[np.ndarray]:
        """[a^1, …, a^L]: every layer's activations for the rows of ``X``, the output's last."""
        return self._chunked(self._inputs(X), hidden=True)[:-1]

    @property
    def gives_probabilities(self) -> bool:
        """Whether the outputs can be read as class probabilities (a softmax or sigmoid output layer)."""
        return self.activations[-1].name in PROBABILITY_OUTPUTS

    def outputs(self, X: Array) -> np.ndarray:
        """:meth:`feedforward`, refused (:class:`ffnn.errors.NonFiniteOutputError`) when an output
        is not finite: the outputs a result is made of (``ffnn.outputs``)."""
        X = self._inputs(X)  # checked before the overflows below are silenced
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow shows as non-finite outputs, refused
            a = self._chunked(X)[0]
        require_finite(a)
        return a

    def predict(self, X: Array) -> np.ndarray:
        """Class labels: the index of the most active output neuron (or a^L ≥ ½ for one output:
        ``ffnn.outputs.labels_of``); NonFiniteOutputError where the outputs overflow."""
        return labels_of(self.outputs(X))

    def predict_proba(self, X: Array) -> np.ndarray:
        """Class probabilities, shape (n, classes): a softmax output as it is; one sigmoid output as
        the two columns (1 − a, a); several sigmoid outputs normalised to sum to 1 per row
        (``ffnn.outputs.probabilities_of``); NonFiniteOutputError where the outputs overflow."""
        return self.as_probabilities(self.outputs(X))

    def as_probabilities(self, a: np.ndarray) -> np.ndarray:
        """:meth:`predict_proba` of output activations a^L already computed (shape (n, sizes[-1]))."""
        return probabilities_of(self.activations[-1].name, a)

    def check_targets(self, y: Array, n: int, name: str = "y") -> np.ndarray:
        """``y`` as (n, sizes[-1]) targets of the network's dtype, checked against its cost.

        Integer class labels (n,) are one-hot encoded here; (n, sizes[-1]) arrays are targets.
        """
        Y = as_targets(y, n, self.sizes[-1], self.dtype, name)
        self.cost_function.check_targets(Y, name)
        return Y

    def score(self, X: Array, y: Array, sample_weight: Array | None = None) -> tuple[float, float]:
        """(accuracy, cost) over the examples, from one feedforward pass.

        Accuracy is the fraction classified correctly; the cost C is the mean of the examples'
        costs (their sum for ``reduction="sum"``) and excludes any regularisation term. With
        ``sample_weight`` w (shape (n,), ≥ 0) both are weighted: the accuracy Σ_x w_x [correct] /
        Σ_x w_x, the cost Σ_x w_x C_x / Σ_x w_x (summed: Σ_x w_x C_x).
        """
        X = self._inputs(X)
        Y = self.check_targets(y, len(X))
        w = as_sample_weight(sample_weight, len(X), np.dtype(np.float64))
        a, z = self._chunked(X)
        correct = labels_of(a) == as_labels(y, len(X), self.sizes[-1])
        costs = example_costs(self.cost_function, self.activations[-1], z, a, Y)
        summed = self.cost_function.reduction == "sum"
        if w is None:
            return np.count_nonzero(correct) / len(X), self.cost_function.reduce(costs)
        return float(w @ correct / w.sum()), float(w @ costs / (1.0 if summed else w.sum()))

    def cost(self, X: Array, y: Array, sample_weight: Array | None = None) -> float:
        """The cost C over the examples: their costs' mean, or sum for ``reduction="sum"`` (weighted
        by ``sample_weight``; no regularisation term)."""
        return self.score(X, y, sample_weight)[1]

    def accuracy(self, X: Array, y: Array) -> float:
        """The fraction of examples classified correctly, in [0, 1]."""
        return self.score(X, y)[0]

    # -- backpropagation -----------------------------------------------------------------------

    def backprop(
        self, X: Array, y: Array, sample_weight: Array | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(nabla_b, nabla_w): ∂C/∂b^l and ∂C/∂w^l of the batch's cost C (BP1–BP4, ``ffnn.backprop``):
        averaged over the batch — summed for ``reduction="sum"`` — or, with ``sample_weight`` w, the
        gradient of the weighted mean C = Σ_x w_x C_x / Σ_x w_x (the weighted sum Σ_x w_x C_x).

        ``nabla_b[l − 1]`` has the shape of ``biases[l − 1]`` and ``nabla_w[l − 1]`` that of ``weights[l − 1]``;
        without biases, ``nabla_b`` holds zeros.
        """
        X = self._inputs(X)
        Y = self.check_targets(y, len(X))
        w = as_sample_weight(sample_weight, len(X), self.dtype)
        ws = Workspace(self.sizes, len(X), self.dtype, self.backend, self.bias)
        on = self.backend.asarray
        m = ws.load(on(X), on(Y), on(np.arange(len(X))), None if w is None else on(w))
        backpropagate(self, ws, m)
        host = self.backend.to_host
        return host(ws.nabla_b), host(ws.nabla_w)

    def parameters(self) -> list[Array]:
        """Every parameter array, layer by layer: [w^1, b^1, w^2, b^2, ...] (the backend's arrays, not copies)."""
        return [p for w, b in zip(self.weights, self.biases) for p in (w, b)]


def check_classes(value: Any, n_out: int) -> list[str]:
    """``value`` as a network's class names: a list of distinct names (str() of each), one per class
    of an output layer of ``n_out`` neurons (2 for a single neuron: its classes 0 and 1)."""
    count = 2 if n_out == 1 else n_out
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ParameterTypeError(f"The 'classes' parameter must be a list of {count} class names. Got {value!r}.")
    names = [str(c) for c in value]
    if len(names) != count or len(set(names)) != count:
        raise ParameterError(
            f"'classes' must list {count} distinct class names, one per class of the output layer "
            f"({n_out} neuron{'s' * (n_out > 1)}). Got {len(names)}: {names[:12]!r}."
        )
    return names


def memory_needed(sizes: Sequence[int], dtype: np.dtype[Any], batch_size: int | None = None) -> int:
    """About the bytes that a network of ``sizes`` in ``dtype`` takes

    - to be built (``batch_size`` None): its parameters (:func:`parameter_count`) in ``dtype``,
      and, while its largest layer's initial values are drawn, twice that layer in float64 (the
      draw, and the scaled copy an initialiser makes);
    - to be trained on mini-batches of ``batch_size`` rows, beyond the network itself: the
      parameters twice more (their gradients, and the last good ones the loop keeps each epoch),
      and each layer's activations a^l and errors δ^l for a batch (an optimiser's moments come on top).
    """
    item = np.dtype(dtype).itemsize
    if batch_size is None:
        largest = max(parameter_count(pair) for pair in zip(sizes[:-1], sizes[1:]))
        return parameter_count(sizes) * item + 2 * largest * 8
    return 2 * parameter_count(sizes) * item + batch_size * (2 * sum(sizes) - sizes[0]) * item


def parameter_count(sizes: Sequence[int]) -> int:
    """The weights and biases of a network of ``sizes``: Σ_l n_l (n_{l−1} + 1)."""
    return sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def _shown_sizes(sizes: Sequence[int]) -> str:
    """``sizes`` as a message shows them: [2, 1000000000, 1]; a list of many layers cut short."""
    text = str(list(sizes))
    return text if len(text) <= 60 else f"{text[:40]}…]"


def check_standardization(
    value: Any, n_in: int, name: str, dtype: np.dtype[Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) as float64 arrays of ``n_in`` values each, finite, std > 0 — also once rounded to
    ``dtype`` (a std of 1e-300 is 0 in float32); errors name ``name``."""
    try:
        mean, std = (np.asarray(v, dtype=np.float64) for v in value)
    except (TypeError, ValueError) as e:
        raise ParameterTypeError(f"The '{name}' parameter must be (mean, std), two arrays of numbers: {e}.") from e
    if mean.shape != (n_in,) or std.shape != (n_in,):
        raise ParameterError(
            f"The '{name}' parameter's mean and std must each have {n_in} values (the inputs). "
            f"Got shapes {mean.shape} and {std.shape}."
        )
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise ParameterError(f"The '{name}' parameter needs a finite mean and a finite std > 0 for every input.")
    if dtype is not None:
        with np.errstate(over="ignore"):
            low = (std.astype(dtype) == 0) | ~np.isfinite(std.astype(dtype)) | ~np.isfinite(mean.astype(dtype))
        if low.any():
            i = int(np.flatnonzero(low)[0])
            raise ParameterError(
                f"The '{name}' parameter's input {i} (mean {mean[i]:.4g}, std {std[i]:.4g}) is beyond the range of "
                f"{np.dtype(dtype)}, the network's dtype (±{np.finfo(dtype).max:.3g}, std at least "
                f"{np.finfo(dtype).smallest_subnormal:.3g}): rescale that input, or use float64."
            )
    return mean, std


def _dropout_rates(dropout: Any, input_dropout: Any, n_hidden: int) -> list[float]:
    """[p_input, p_hidden_1, …]: the dropout rate of the input of each weight layer."""
    if isinstance(dropout, numbers.Real):
        hidden = [dropout] * n_hidden
    elif isinstance(dropout, Sequence) and not isinstance(dropout, str):
        hidden = list(dropout)
    else:
        raise ParameterTypeError(
            "The 'dropout' parameter must be a rate in [0, 1) or a list of one per hidden layer. "
            f"Got {dropout!r} instead."
        )
    if len(hidden) != n_hidden:
        raise ParameterError(f"The 'dropout' list must give one rate per hidden layer ({n_hidden}). Got {len(hidden)}.")
    rates = [input_dropout, *hidden]
    for name, p in zip(["input_dropout", *["dropout"] * n_hidden], rates):
        if not (isinstance(p, numbers.Real) and not isinstance(p, bool) and 0.0 <= float(p) < 1.0):
            raise ParameterError(f"The '{name}' parameter must be in [0, 1). Got {p!r} instead.")
    return [float(p) for p in rates]


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
    elif isinstance(activation, Sequence):
        layers = [get_activation(a) for a in activation]
        if len(layers) != n_layers:
            raise ParameterError(
                f"The 'activation' list must give one activation per layer ({n_layers} for these sizes). "
                f"Got {len(layers)}: {list(activation)!r}."
            )
    else:
        raise ParameterTypeError(
            f"The 'activation' parameter must be an activation's name (one of {sorted(ACTIVATIONS)}), an "
            f"Activation, or a list of one per layer. Got {activation!r} instead."
        )
    for a in layers[:-1]:
        check_hidden(a.name)
    if output_activation is not None:
        layers[-1] = get_activation(output_activation, "output_activation")
    return layers


def _check_parameters(parameters: Any, sizes: list[int], bias: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``parameters`` argument as a list of NumPy (w^l, b^l) of the shapes ``sizes`` gives, or an
    error; without biases (``bias`` False), each b^l must be all zeros."""
    if not isinstance(parameters, Sequence) or len(parameters) != len(sizes) - 1:
        raise ParameterError(
            f"The 'parameters' argument must list one (w, b) pair per layer ({len(sizes) - 1} for these sizes). "
            f"Got {type(parameters).__name__}{f' of {len(parameters)}' if isinstance(parameters, Sequence) else ''}."
        )
    pairs = []
    for l, (pair, n_in, n_out) in enumerate(zip(parameters, sizes[:-1], sizes[1:]), start=1):
        w, b = pair
        if not (isinstance(w, np.ndarray) and isinstance(b, np.ndarray)):
            raise ParameterTypeError(
                f"The 'parameters' of layer {l} must be NumPy arrays. Got {type(w).__name__} and {type(b).__name__}."
            )
        if w.shape != (n_out, n_in) or b.shape != (n_out,):
            raise ParameterError(
                f"The 'parameters' of layer {l} must have shapes {(n_out, n_in)} and {(n_out,)} (the sizes'). "
                f"Got {w.shape} and {b.shape}."
            )
        if not bias and np.any(b):
            raise ParameterError(
                f"The 'parameters' of layer {l} give nonzero biases to a network without biases (bias=False): "
                "pass zeros, or build it with bias=True."
            )
        pairs.append((w, b))
    return pairs
