"""One step of backpropagation with every number in it, in the sources' symbols (``ffnn explain``).

For one example, or a mini-batch whose rows are examples, :func:`explain` takes a network through
one forward pass, one backward pass and one update, and keeps every quantity the sources name,
layer by layer (l = 1 … L):

    z^l = w^l a^{l−1} + b^l,   a^l = σ(z^l)                         the forward pass, a^0 = x
    C = the cost of the batch (mean or sum of the examples' C_x)      ``cost``
    δ^L = ∇_a C_x ⊙ σ'(z^L)                                 (BP1)    each example's own
    δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)                    (BP2)    each example's own
    ∂C/∂b^l = Σ_x s_x δ^l_x                                 (BP3)    the batch's gradient
    ∂C/∂w^l = Σ_x s_x δ^l_x (a^{l−1}_x)ᵀ                    (BP4)
    w^l ← w^l − η ∂C/∂w^l,   b^l ← b^l − η ∂C/∂b^l                   the update

where s_x is each example's share of the batch's cost: 1/m for the mean over m examples (ffnn's
default), 1 for a summed cost (``reduction="sum"``), w_x / Σ w or w_x with sample weights.

Every number comes from ffnn's own code, run in float64 on a copy of the network (the network
given is never changed): the forward pass and each example's δ are ``ffnn.backprop``'s, from a pass
over the batch whose cost is the unweighted sum — so the δ it leaves are each example's own, as the
sources write them, not yet scaled by s_x; the gradient is a second pass with the network's own cost
and the sample weights, as training computes it; and the update is one real step of the training
loop's update rule (``ffnn.steps``) on a copy: plain SGD, or the ``optimizer`` given, whose formula
is reported with its step. The tests hold these numbers to the per-example reference algorithm
(``ffnn.reference``) and to finite differences (``ffnn.gradcheck``).

:meth:`Explanation.as_dict` gives it all as plain JSON-able data keyed by the sources' symbols;
:func:`render` writes it as a terminal table or Markdown, a wide network summarised.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ffnn._validation import as_sample_weight, check_number
from ffnn.backends import NUMPY
from ffnn.backprop import Workspace, backpropagate
from ffnn.costs import get_cost
from ffnn.errors import ParameterError
from ffnn.gradcheck import as_float64
from ffnn.network import Network
from ffnn.optimizers import Optimizer
from ffnn.steps import OptimizerStep, SGDStep, Step

FLOAT = np.dtype(np.float64)


@dataclass(frozen=True)
class LayerStep:
    """Layer l's quantities: its parameters before and after the step, and per example (rows) z, a, δ."""

    l: int
    activation: str
    w: np.ndarray  # w^l, (n_l, n_{l−1})
    b: np.ndarray | None  # b^l, (n_l,); None: the layer has no biases
    z: np.ndarray  # z^l, one row per example
    a: np.ndarray  # a^l = σ(z^l)
    delta: np.ndarray  # δ^l of each example (BP1 for l = L, BP2 below)
    grad_b: np.ndarray | None  # ∂C/∂b^l (BP3); None without biases
    grad_w: np.ndarray  # ∂C/∂w^l (BP4)
    w_new: np.ndarray  # w^l after the step
    b_new: np.ndarray | None


@dataclass(frozen=True)
class Explanation:
    """One step of backpropagation on a batch (see the module docstring); :meth:`as_dict` for JSON."""

    sizes: list[int]
    bias: bool  # whether the layers have biases
    cost_name: str
    reduction: str  # "mean" or "sum": how C and its gradient combine the examples
    cost: float  # C of the batch, before the step
    eta: float | None
    optimizer: str
    formula: str
    x: np.ndarray  # the inputs as given, one row per example
    a0: np.ndarray  # a^0: what the first layer receives (x, standardised if the network standardises)
    y: np.ndarray  # the targets, one row per example
    sample_weight: np.ndarray | None
    layers: list[LayerStep]

    @property
    def output(self) -> np.ndarray:
        """a^L, the network's output, one row per example."""
        return self.layers[-1].a

    @property
    def gradient(self) -> str:
        """How the batch's gradient combines the examples, in words (the JSON's ``gradient``)."""
        weighted = "" if self.sample_weight is None else "weighted "
        how = "mean" if self.reduction == "mean" else "sum"
        return f"{weighted}{how} over the {len(self.a0)} example{'s' * (len(self.a0) != 1)}"

    def as_dict(self) -> dict[str, Any]:
        """Every quantity as plain data (lists of Python floats, full float64 precision), keyed by the
        sources' symbols; per-example quantities are lists over the batch's rows."""
        return {
            "sizes": list(self.sizes),
            "cost": {"name": self.cost_name, "reduction": self.reduction, "value": float(self.cost)},
            "gradient": self.gradient,
            "eta": self.eta,
            "optimizer": {"name": self.optimizer, "formula": self.formula},
            "input": {
                "x": self.x.tolist(),
                "a0": self.a0.tolist(),
                "y": self.y.tolist(),
                "sample_weight": None if self.sample_weight is None else self.sample_weight.tolist(),
            },
            "layers": [
                {
                    "l": s.l,
                    "activation": s.activation,
                    "w": s.w.tolist(),
                    "b": _listed(s.b),
                    "z": s.z.tolist(),
                    "a": s.a.tolist(),
                    "delta": s.delta.tolist(),
                    "dC/db": _listed(s.grad_b),
                    "dC/dw": s.grad_w.tolist(),
                    "w_new": s.w_new.tolist(),
                    "b_new": _listed(s.b_new),
                }
                for s in self.layers
            ],
            "output": self.output.tolist(),
        }


def _listed(x: np.ndarray | None) -> list[Any] | None:
    return None if x is None else x.tolist()


def explain(
    network: Network,
    X: Any,
    y: Any,
    *,
    eta: float | None = None,
    optimizer: Optimizer | None = None,
    sample_weight: Any = None,
    lmbda: float = 0.0,
    n_train: int | None = None,
) -> Explanation:
    """One forward pass, backward pass and update of ``network`` on the batch (``X``, ``y``), every
    number kept (see the module docstring); ``network`` itself is not changed.

    ``X`` is one example (shape (n,)) with its label or target ``y``, or a batch (shape (m, n))
    with one label or target row per example, as ``ffnn.fit`` takes them. The update is plain SGD
    with learning rate ``eta`` (and the book's L2 decay 1 − ηλ/n, given ``lmbda`` and ``n_train``,
    the training set's size), or one step of ``optimizer`` (``ffnn.optimizers``), from its initial
    state; with an optimizer, ``eta`` is only reported (give the η the optimizer was made with).
    """
    if optimizer is None:
        eta = check_number(eta, "eta", low=0.0)
        lmbda = check_number(lmbda, "lmbda", low=0.0, strict=False)
        if lmbda and n_train is None:
            raise ParameterError(
                "explain: with 'lmbda', give 'n_train', the training set's size (the decay is 1 − ηλ/n)."
            )
    elif lmbda:
        raise ParameterError("explain: with an optimizer, give it the weight decay; 'lmbda' is for plain SGD.")
    net = as_float64(network)
    x = np.asarray(X)
    if x.ndim == 1:  # one example: its label, or its row of targets
        x, y = x[None, :], np.asarray(y)[None, ...]
    a0 = net._inputs(x)
    Y = net.check_targets(y, len(a0))
    weights = as_sample_weight(sample_weight, len(a0), FLOAT)
    m, rows, L = len(a0), np.arange(len(a0)), len(net.weights)

    # Each example's own z, a and δ: a pass whose cost is the plain sum, so δ^L is not scaled.
    per_example = copy.copy(net)
    per_example.cost_function = get_cost(net.cost_function, "sum")
    ws = _workspace(net, m)
    ws.load(a0, Y, rows)
    deltas: list[np.ndarray] = [np.empty(0)] * L

    def keep_delta(i: int, delta: np.ndarray, a_prev: np.ndarray) -> None:
        deltas[i] = delta.copy()

    backpropagate(per_example, ws, m, keep_delta)
    a = [np.array(buf) for buf in ws.a]
    z = [a[i] @ net.weights[i].T + net.biases[i] for i in range(L - 1)] + [np.array(ws.z_out)]

    # The batch's gradient and the step, as training takes them: the network's own cost and the
    # sample weights, then the update rule on a copy of the parameters.
    stepped = copy.deepcopy(net)
    ws = _workspace(net, m)
    ws.load(a0, Y, rows, weights)
    step: Step
    if optimizer is None:
        assert eta is not None
        decay = 1.0 - eta * lmbda / n_train if lmbda and n_train else 1.0
        step = SGDStep(stepped.weights, stepped.biases if net.bias else None, eta, decay, NUMPY, keep=ws)
        name, formula = "sgd", _sgd_formula(eta, decay, net.bias)
    else:
        step = OptimizerStep(stepped.parameters(), ws, optimizer)
        name, formula = optimizer.name, optimizer.formula
    cost = backpropagate(stepped, ws, m, step)
    grad_w, grad_b = [np.array(g) for g in ws.nabla_w], [np.array(g) for g in ws.nabla_b]
    step.finish()

    def bias(arrays: Sequence[np.ndarray], i: int) -> np.ndarray | None:
        return np.array(arrays[i]) if net.bias else None

    layers = [
        LayerStep(
            l=i + 1,
            activation=net.activations[i].name,
            w=np.array(net.weights[i]),
            b=bias(net.biases, i),
            z=z[i],
            a=a[i + 1],
            delta=deltas[i],
            grad_b=bias(grad_b, i),
            grad_w=grad_w[i],
            w_new=np.array(stepped.weights[i]),
            b_new=bias(stepped.biases, i),
        )
        for i in range(L)
    ]
    return Explanation(
        sizes=list(net.sizes),
        bias=net.bias,
        cost_name=net.cost_function.name,
        reduction=net.cost_function.reduction,
        cost=float(cost),
        eta=None if eta is None else float(eta),
        optimizer=name,
        formula=formula,
        x=np.asarray(x, dtype=FLOAT),
        a0=np.array(a0),
        y=np.array(Y),
        sample_weight=weights,
        layers=layers,
    )


def _workspace(net: Network, m: int) -> Workspace:
    return Workspace(net.sizes, m, FLOAT, NUMPY, net.bias)


def _sgd_formula(eta: float, decay: float, bias: bool) -> str:
    """Plain SGD's rule with its numbers: "w ← w − η ∂C/∂w; b ← b − η ∂C/∂b (η = 3)"."""
    w_rule = "w ← w − η ∂C/∂w" if decay == 1.0 else "w ← (1 − ηλ/n) w − η ∂C/∂w"
    values = f"η = {eta:g}" + ("" if decay == 1.0 else f", 1 − ηλ/n = {decay!r}")
    return f"{w_rule}{'; b ← b − η ∂C/∂b' if bias else ''} ({values})"


# -- rendering: a terminal table or Markdown -------------------------------------------------------

FORMATS = ("table", "markdown", "json")
MAX_ROWS, MAX_COLUMNS = 12, 10  # a matrix larger than this is summarised, not shown whole
LARGEST = 5  # the entries a summary lists
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_COST_OF_EXAMPLE = {
    "quadratic": "½ ‖a^L − y‖²",
    "cross_entropy": "−Σ_j y_j ln a^L_j",
    "binary_cross_entropy": "−Σ_j [y_j ln a^L_j + (1 − y_j) ln(1 − a^L_j)]",
}


def _sup(l: int) -> str:
    return str(l).translate(_SUPERSCRIPTS)


@dataclass(frozen=True)
class _Matrix:
    """A titled matrix with named rows and columns, shown whole or summarised."""

    title: str
    values: np.ndarray  # 2-d
    rows: list[str]
    columns: list[str]


@dataclass(frozen=True)
class _Heading:
    """A section's title (FORWARD PASS, …) and the equation or value beside it."""

    title: str
    text: str


_Block = str | _Heading | _Matrix  # a line of text, a section's heading, or a matrix


def render(
    explanation: Explanation,
    fmt: str = "table",
    *,
    neuron: tuple[int, int] | None = None,
    title: str = "",
    examples: Sequence[str] | None = None,
) -> str:
    """``explanation`` as text: ``fmt`` "table" (for a terminal) or "markdown". A matrix of more
    than ``MAX_ROWS`` rows or ``MAX_COLUMNS`` columns is summarised — its shape, norm and
    largest entries; ``neuron`` = (l, j) shows neuron j of layer l alone, whole (both counted from
    1, as in the sources). ``title`` heads it; ``examples`` names the batch's rows (default x1, x2, …)."""
    if fmt not in ("table", "markdown"):
        raise ParameterError(f"render: 'fmt' must be 'table' or 'markdown'. Got {fmt!r}.")
    e, L = explanation, len(explanation.layers)
    if neuron is not None:
        l, j = neuron
        if not (1 <= l <= L and 1 <= j <= e.sizes[l]):
            raise ParameterError(
                f"There is no neuron {l}:{j}: layers are 1 to {L} and layer l has neurons 1 to n_l, "
                f"with sizes {e.sizes} (the input layer is 0)."
            )
    names = list(examples) if examples is not None else [f"x{i + 1}" for i in range(len(e.a0))]
    blocks = _blocks(e, names, neuron)
    header = [title] if title else []
    if fmt == "markdown":
        return "\n\n".join([*(f"**{h}**" for h in header), *(_markdown(b) for b in blocks)]) + "\n"
    return "\n".join([*header, *(_text(b) for b in blocks)]) + "\n"


def _blocks(e: Explanation, names: list[str], neuron: tuple[int, int] | None) -> list[_Block]:
    """The explanation as a sequence of lines and matrices, in the order of the pass."""
    L, m = len(e.layers), len(e.a0)
    top = e.layers[-1]
    mean = e.reduction == "mean"
    share = "" if m == 1 else ("(1/m) Σ_x " if mean else "Σ_x ")
    units = [f"{s.activation}" for s in e.layers]
    out: list[_Block] = [
        f"network {e.sizes}: layers {', '.join(units)}; {e.cost_name} cost"
        f"{'' if e.bias else '; no biases (z^l = w^l a^(l−1))'}",
        f"batch: {m} example{'s' * (m != 1)} ({', '.join(names[:8])}{', …' if m > 8 else ''}); "
        f"C = {share}C_x, C_x = {_COST_OF_EXAMPLE.get(e.cost_name, 'C(a^L, y)')}",
        _Heading("forward pass", "z^l = w^l a^(l−1) + b^l,   a^l = σ(z^l)   (one row per example)"),
    ]
    inputs = [f"k={k + 1}" for k in range(e.sizes[0])]
    out.append(_Matrix("a⁰ = x, the input", e.a0, names, inputs))
    out.append(_Matrix("y, the target", e.y, names, [f"j={j + 1}" for j in range(e.sizes[-1])]))
    for s, cols, js, ks in _shown(e, neuron, e.layers):
        u = _sup(s.l)
        out.append(f"── layer {s.l}: {e.sizes[s.l - 1]} → {e.sizes[s.l]}, σ = {s.activation}")
        out.append(_Matrix(f"w{u} (row j: neuron j of layer {s.l}; column k: neuron k of layer {s.l - 1})",
                           s.w[cols], js, ks))  # fmt: skip
        out.append(_Matrix(f"b{u}", s.b[cols][None, :], ["b"], js) if s.b is not None else f"  b{u}: none (no biases)")
        z_eq = f"z{u} = w{u} a{_sup(s.l - 1)}" + (f" + b{u}" if s.b is not None else "")
        out.append(_Matrix(z_eq, s.z[:, cols], names, js))
        out.append(_Matrix(f"a{u} = {s.activation}(z{u})", s.a[:, cols], names, js))
    out.append(_Heading("cost", f"C = {e.cost:.10g}"))
    out.append(_Heading("backward pass", "δ^l of each example x, one row per example"))
    for s, cols, js, _ in _shown(e, neuron, reversed(e.layers)):
        u = _sup(s.l)
        if s.l == L:
            matched = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(e.cost_name) == s.activation
            rule = f"a{u} − y" if matched else f"∇_a C_x ⊙ {s.activation}'(z{u})"
            if not matched and e.cost_name == "quadratic" and s.activation != "softmax":
                rule = f"(a{u} − y) ⊙ {s.activation}'(z{u})"
            if not matched and s.activation == "softmax":
                rule = f"J_softmax(z{u})ᵀ ∇_a C_x"
            out.append(_Matrix(f"BP1  δ{u} = {rule}", s.delta[:, cols], names, js))
        else:
            nxt = _sup(s.l + 1)
            out.append(_Matrix(f"BP2  δ{u} = ((w{nxt})ᵀ δ{nxt}) ⊙ {s.activation}'(z{u})", s.delta[:, cols], names, js))
    weighted = e.sample_weight is not None
    how = ("Σ_x (w_x / Σ w) " if mean else "Σ_x w_x ") if weighted else share
    out.append(_Heading("gradient", f"the batch's: {e.gradient}{' (sample weights w_x)' * weighted}"))
    for s, cols, js, ks in _shown(e, neuron, e.layers):
        u, d = _sup(s.l), _sup(s.l - 1)
        if s.grad_b is not None:
            out.append(_Matrix(f"BP3  ∂C/∂b{u} = {how}δ{u}_x", s.grad_b[cols][None, :], ["∂C/∂b"], js))
        else:
            out.append(f"  BP3  ∂C/∂b{u}: none (no biases)")
        out.append(_Matrix(f"BP4  ∂C/∂w{u} = {how}δ{u}_x (a{d}_x)ᵀ", s.grad_w[cols], js, ks))
    rule = e.formula if e.optimizer == "sgd" and e.formula.startswith("w ") else f"{e.optimizer}: {e.formula}"
    out.append(_Heading("update", rule))
    for s, cols, js, ks in _shown(e, neuron, e.layers):
        u = _sup(s.l)
        out.append(_Matrix(f"w{u} after the step", s.w_new[cols], js, ks))
        if s.b_new is not None:
            out.append(_Matrix(f"b{u} after the step", s.b_new[cols][None, :], ["b"], js))
    if neuron is None:
        out.append(_Heading("output", _outputs_line(top.a, names)))
    return out


def _shown(
    e: Explanation, neuron: tuple[int, int] | None, layers: Iterable[Any]
) -> Iterator[tuple[Any, list[int], list[str], list[str]]]:
    """The layers shown — layer l alone when ``neuron`` = (l, j) is asked for — each with the
    neurons shown (neuron j alone, else all), their labels j=…, and its inputs' labels k=…."""
    for s in layers:
        if neuron is not None and neuron[0] != s.l:
            continue
        cols = [neuron[1] - 1] if neuron is not None else list(range(e.sizes[s.l]))
        yield s, cols, [f"j={j + 1}" for j in cols], [f"k={k + 1}" for k in range(e.sizes[s.l - 1])]


def _outputs_line(a: np.ndarray, names: list[str]) -> str:
    shown = [f"{name}: {', '.join(f'{v:.3f}' for v in row)}" for name, row in zip(names[:MAX_ROWS], a[:, :MAX_COLUMNS])]
    return "a^L to 3 decimals   " + ";  ".join(shown) + ("; …" if len(a) > MAX_ROWS else "")


def _number(v: float) -> str:
    return f"{v:.6g}"


def _too_large(m: _Matrix) -> bool:
    return bool(m.values.shape[0] > MAX_ROWS or m.values.shape[1] > MAX_COLUMNS)


def _summary(m: _Matrix) -> str:
    """Shape, norm, and the largest entries by magnitude with their row and column names."""
    v = m.values
    flat = np.argsort(-np.abs(v), axis=None, kind="stable")[:LARGEST]
    largest = ", ".join(
        f"[{m.rows[i]}, {m.columns[j]}] {_number(v[i, j])}" for i, j in zip(*np.unravel_index(flat, v.shape))
    )
    return (
        f"{v.shape[0]} × {v.shape[1]}, norm {_number(float(np.linalg.norm(v)))}, "
        f"mean {_number(float(v.mean()))}; largest: {largest}"
    )


def _text(block: _Block) -> str:
    if isinstance(block, str):
        return block
    if isinstance(block, _Heading):
        return f"\n{block.title.upper()}   {block.text}"
    if _too_large(block):
        return f"  {block.title}: {_summary(block)}"
    cells = [[_number(float(v)) for v in row] for row in block.values]
    width = max(len(c) for c in [*block.columns, *(c for row in cells for c in row)])
    label = max(len(r) for r in block.rows)
    lines = [f"  {block.title}", "    " + " " * label + "".join(f"  {c:>{width}}" for c in block.columns)]
    lines += ["    " + f"{r:<{label}}" + "".join(f"  {c:>{width}}" for c in row) for r, row in zip(block.rows, cells)]
    return "\n".join(lines)


def _markdown(block: _Block) -> str:
    if isinstance(block, str):
        return f"#### {block[3:]}" if block.startswith("── ") else block.strip()
    if isinstance(block, _Heading):
        return f"### {block.title.capitalize()}\n\n{block.text}"
    if _too_large(block):
        return f"**{block.title}**: {_summary(block)}"
    lines = [
        f"**{block.title}**",
        "",
        "| | " + " | ".join(block.columns) + " |",
        "|---|" + "---:|" * len(block.columns),
    ]
    lines += [
        f"| {r} | " + " | ".join(_number(float(v)) for v in row) + " |" for r, row in zip(block.rows, block.values)
    ]
    return "\n".join(lines)
