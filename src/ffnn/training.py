"""Mini-batch stochastic gradient descent over epochs (the seeds' ``SGD``), with its history.

Each epoch shuffles the training set, cuts it into mini-batches of ``batch_size`` and, for each
batch of m examples, takes one gradient step (the book's rule, L2 term included):

    w^l → (1 − ηλ/n) w^l − (η/m) Σ_x ∂C_x/∂w^l,      b^l → b^l − (η/m) Σ_x ∂C_x/∂b^l,

where n is the size of the training set. After the epoch, callbacks run (printing progress is
one); any of them may stop training.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ffnn._blas import gemm_at_b
from ffnn._validation import as_inputs, check_number
from ffnn.errors import TrainingDivergedError
from ffnn.network import Workspace
from ffnn.optimizers import Optimizer

if TYPE_CHECKING:
    from ffnn.network import Network


@dataclass
class History:
    """Per-epoch records of a ``fit``.

    ``train_cost`` is the mean, over the epoch's mini-batches, of each batch's cost measured just
    before its update (the running training cost; no extra pass over the data). ``test_*`` and
    ``validation_*`` are measured on ``test_data`` / ``validation_data`` after the epoch (None
    without them).
    ``seconds`` is the epoch's training time, evaluation excluded.
    """

    epoch: list[int] = field(default_factory=list)
    train_cost: list[float] = field(default_factory=list)
    test_accuracy: list[float | None] = field(default_factory=list)
    test_cost: list[float | None] = field(default_factory=list)
    validation_accuracy: list[float | None] = field(default_factory=list)
    validation_cost: list[float | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    test_correct: list[int | None] = field(default_factory=list)
    n_test: int | None = None
    interrupted: bool = False  # a batch callback stopped an epoch; its partial work was undone
    extra: dict[str, list[float]] = field(default_factory=dict)  # per-epoch series recorded by callbacks


class Callback(Protocol):
    """Called after each epoch; returning True stops training.

    A callback may also define ``on_batch_end(network, epoch, batch) -> bool | None``, called
    after every mini-batch: True stops at once, and the network goes back to the parameters of
    the last complete epoch (``history.interrupted`` is then True); Ctrl-C handling uses it.
    ``on_epoch_begin(network, epoch)`` runs before each epoch, ``on_train_end(network, history)``
    once at the end.
    """

    def on_epoch_end(self, network: Network, history: History) -> bool | None: ...


class PrintProgress:
    """Prints ``Epoch 3: 9423 / 10000`` after each epoch (``Epoch 3 complete`` without test data)."""

    def on_epoch_end(self, network: Network, history: History) -> bool | None:
        epoch, correct = history.epoch[-1], history.test_correct[-1]
        if correct is None:
            print(f"Epoch {epoch} complete", flush=True)
        else:
            print(f"Epoch {epoch}: {correct} / {history.n_test}", flush=True)
        return None


def fit(
    network: Network,
    X: Any,
    y: Any,
    epochs: int,
    batch_size: int,
    eta: float | None = None,
    lmbda: float = 0.0,
    test_data: tuple[Any, Any] | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    verbose: bool = False,
    callbacks: Sequence[Callback] = (),
    batches_per_epoch: int | None = None,
    validation_data: tuple[Any, Any] | None = None,
    optimizer: Optimizer | None = None,
    max_norm: float | None = None,
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    resume: dict[str, Any] | None = None,
) -> History:
    """Train ``network`` in place by mini-batch gradient descent; return the per-epoch :class:`History`.

    ``X`` is (n, sizes[0]); ``y`` holds class labels (n,) or targets (n, sizes[-1]). By default
    the step is plain SGD with learning rate ``eta`` and the book's L2 strength ``lmbda``; an
    ``optimizer`` from :mod:`ffnn.optimizers` replaces it (give it the learning rate and weight
    decay; ``eta`` and ``lmbda`` are then not used). ``max_norm=c`` rescales, after each step,
    every neuron's incoming weights w^l_j to ‖w^l_j‖ ≤ c. ``augment(X_batch, rng)`` returns each
    input batch transformed (see :mod:`ffnn.data.augment`); the network's own dropout applies.
    ``seed`` drives shuffling, dropout and augmentation: the same seed, data and network give
    bit-identical weights. ``batches_per_epoch=k`` makes an "epoch" the first k mini-batches of
    each shuffled order (seed 000 trains with k = 1). If a batch's cost or the parameters become
    NaN or inf, training stops with :class:`ffnn.TrainingDivergedError` and the network keeps the
    parameters of the last good epoch.

    ``resume`` is a state from :func:`ffnn.checkpoint.load` (see :class:`ffnn.checkpoint.Checkpointer`):
    training continues after its epoch, with its parameters, optimiser state, random state,
    history and callback states — given the same data, settings and callbacks, the result is
    bit-identical to a run that was never interrupted. ``epochs`` is the total count.
    """
    epochs = check_number(epochs, "epochs", low=0, strict=False, integer=True)
    batch_size = check_number(batch_size, "batch_size", low=1, strict=False, integer=True)
    lmbda = check_number(lmbda, "lmbda", low=0.0, strict=False)
    if optimizer is None:
        eta = check_number(eta, "eta", low=0.0)
    elif eta is not None or lmbda:
        raise ValueError(
            "With an optimizer, give it the learning rate and weight decay; 'eta' and 'lmbda' are for plain SGD."
        )
    if max_norm is not None:
        max_norm = check_number(max_norm, "max_norm", low=0.0)
    if batches_per_epoch is not None:
        batches_per_epoch = check_number(batches_per_epoch, "batches_per_epoch", low=1, strict=False, integer=True)
    X = as_inputs(X, network.sizes[0], network.dtype)
    Y = network._targets(y, len(X))
    test = _held_out(network, test_data, "test_data")
    validation = _held_out(network, validation_data, "validation_data")
    callbacks = [PrintProgress(), *callbacks] if verbose else list(callbacks)
    epoch_hooks = [cb.on_epoch_begin for cb in callbacks if hasattr(cb, "on_epoch_begin")]
    rng = np.random.default_rng(seed)

    n = len(X)
    batch_size = min(batch_size, n)
    ws = Workspace(network.sizes, batch_size, network.dtype)
    step: SGDUpdate | OptimizerUpdate
    if optimizer is None:
        assert eta is not None  # checked above
        step = SGDUpdate(network, eta, 1.0 - eta * lmbda / n)
        advice = f"try a smaller eta (it is {eta})"
    else:
        step = OptimizerUpdate(network, ws, optimizer)
        advice = f"try a smaller learning rate for the {optimizer.name} optimizer"
    batches = _BatchLoop(network, X, Y, ws, step, batch_size, batches_per_epoch, rng, augment, max_norm, callbacks)
    history = History(n_test=None if test is None else len(test[0]))
    context = TrainingContext(network, step, rng, history, callbacks, epochs)
    first_epoch = context.restore(resume) if resume is not None else 0
    for cb in callbacks:
        if hasattr(cb, "bind"):
            cb.bind(context)
    for epoch in range(first_epoch, epochs):
        for hook in epoch_hooks:
            hook(network, epoch)
        start = time.perf_counter()
        order = rng.permutation(n) if shuffle else np.arange(n)
        last_good = [p.copy() for p in network.parameters()]
        costs = batches.run(order, epoch)
        if costs is None:  # a batch callback stopped training: back to the last complete epoch
            for p, good in zip(network.parameters(), last_good):
                p[...] = good
            history.interrupted = True
            return history
        seconds = time.perf_counter() - start
        _check_finite(network, costs, last_good, epoch, advice)
        _record(history, network, epoch, float(costs.mean()), seconds, test, validation)
        if any([cb.on_epoch_end(network, history) for cb in callbacks]):
            break
    for cb in callbacks:
        if hasattr(cb, "on_train_end"):
            cb.on_train_end(network, history)
    return history


class _BatchLoop:
    """One epoch's mini-batches: gather, augment, backpropagate (with dropout), step, constrain."""

    def __init__(
        self,
        network: Network,
        X: np.ndarray,
        Y: np.ndarray,
        ws: Workspace,
        step: SGDUpdate | OptimizerUpdate,
        batch_size: int,
        batches_per_epoch: int | None,
        rng: np.random.Generator,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None,
        max_norm: float | None,
        callbacks: Sequence[Any],
    ) -> None:
        self.network, self.X, self.Y, self.ws, self.step = network, X, Y, ws, step
        self.starts = range(0, len(X), batch_size)[:batches_per_epoch]
        self.batch_size, self.rng, self.augment, self.max_norm = batch_size, rng, augment, max_norm
        self.dropout_rng = rng if any(network.dropout) else None
        self.hooks = [cb.on_batch_end for cb in callbacks if hasattr(cb, "on_batch_end")]

    def run(self, order: np.ndarray, epoch: int) -> np.ndarray | None:
        """Each batch's cost (before its step), or None when a batch callback asks to stop."""
        network, ws = self.network, self.ws
        costs = np.empty(len(self.starts))
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is caught after the epoch
            for k, i in enumerate(self.starts):
                idx = order[i : i + self.batch_size]
                m = len(idx)
                batch = np.take(self.X, idx, axis=0, out=ws.a[0][:m], mode="clip")  # a permutation: always in range
                np.take(self.Y, idx, axis=0, out=ws.y[:m], mode="clip")
                if self.augment is not None:
                    batch[...] = self.augment(batch, self.rng)
                costs[k] = network.gradients(ws, m, self.step, self.dropout_rng)
                self.step.finish()
                if self.max_norm is not None:
                    _constrain_norms(network, self.max_norm)
                if self.hooks and any([hook(network, epoch, k) for hook in self.hooks]):
                    return None
        return costs


class SGDUpdate:
    """Plain SGD applied layer by layer as backprop produces each layer's factors:

        w^l ← decay · w^l − η (δ^l)ᵀ a^{l−1},      b^l ← b^l − η Σ_batch δ^l,

    with decay = 1 − ηλ/n (the book's L2 term) and δ^l already divided by the batch size. The
    weight update is a single GEMM (``ffnn._blas.gemm_at_b``): the gradient is never stored.
    """

    def __init__(self, network: Network, eta: float, decay: float) -> None:
        self.weights, self.biases = network.weights, network.biases
        self.eta, self.decay = eta, decay
        self._bias_step = [np.empty_like(b) for b in network.biases]

    def __call__(self, l: int, delta: np.ndarray, a_prev: np.ndarray) -> None:
        step = np.sum(delta, axis=0, out=self._bias_step[l])
        step *= self.eta
        self.biases[l] -= step
        gemm_at_b(-self.eta, delta, a_prev, self.decay, self.weights[l])

    def finish(self) -> None:
        """Nothing left to do: every layer was updated as backprop reached it."""

    def state_dict(self) -> Any:
        return None

    def load_state_dict(self, state: Any) -> None:
        """Plain SGD has no state."""


class OptimizerUpdate:
    """A step of an :class:`ffnn.optimizers.Optimizer`: backprop stores ∂C/∂w^l and ∂C/∂b^l in the
    workspace, then ``finish`` asks the optimiser for the updates u and applies p ← p + u."""

    def __init__(self, network: Network, ws: Workspace, optimizer: Optimizer) -> None:
        self.params = network.parameters()
        self.grads = [g for pair in zip(ws.nabla_w, ws.nabla_b) for g in pair]
        self.optimizer = optimizer
        self.state = optimizer.init(self.params)
        self.store = ws.store_gradient

    def __call__(self, l: int, delta: np.ndarray, a_prev: np.ndarray) -> None:
        self.store(l, delta, a_prev)

    def finish(self) -> None:
        updates, self.state = self.optimizer.update(self.grads, self.state, self.params)
        for p, u in zip(self.params, updates):
            p += u

    def state_dict(self) -> Any:
        return self.state

    def load_state_dict(self, state: Any) -> None:
        self.state = state


class TrainingContext:
    """Everything a training run's future depends on, for checkpoints: :meth:`snapshot` after an
    epoch, :meth:`restore` before the next. Callbacks with a ``bind(context)`` method get it."""

    def __init__(
        self,
        network: Network,
        step: SGDUpdate | OptimizerUpdate,
        rng: np.random.Generator,
        history: History,
        callbacks: Sequence[Any],
        epochs: int,
    ) -> None:
        self.network, self.step, self.rng, self.history = network, step, rng, history
        self.callbacks, self.epochs = list(callbacks), epochs

    def snapshot(self) -> dict[str, Any]:
        history = {f.name: getattr(self.history, f.name) for f in dataclasses.fields(self.history)}
        return {
            "epoch": self.history.epoch[-1],
            "parameters": [p.copy() for p in self.network.parameters()],
            "optimizer": self.step.state_dict(),
            "rng": self.rng.bit_generator.state,
            "history": copy.deepcopy(history),
            "callbacks": [[type(cb).__name__, cb.state_dict()] for cb in self._stateful()],
        }

    def _stateful(self) -> list[Any]:
        return [cb for cb in self.callbacks if hasattr(cb, "state_dict")]

    def restore(self, state: dict[str, Any]) -> int:
        """Load ``state`` into the run; return the first epoch still to train."""
        params = self.network.parameters()
        saved = state["parameters"]
        if len(saved) != len(params) or any(s.shape != p.shape for s, p in zip(saved, params)):
            raise ValueError(
                "The checkpoint's parameters do not fit this network's sizes; resume with the same settings."
            )
        names = [name for name, _ in state.get("callbacks", [])]
        if names != [type(cb).__name__ for cb in self._stateful()]:
            raise ValueError(f"The checkpoint was made with stateful callbacks {names}; resume with the same ones.")
        for p, s in zip(params, saved):
            p[...] = s
        self.step.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        for name, value in state["history"].items():
            setattr(self.history, name, copy.deepcopy(value))
        for cb, (_, cb_state) in zip(self._stateful(), state["callbacks"]):
            cb.load_state_dict(cb_state)
        return int(state["epoch"]) + 1


def _constrain_norms(network: Network, max_norm: float) -> None:
    """Max-norm: w^l_j ← w^l_j · min(1, c / ‖w^l_j‖) for each neuron j's incoming weights."""
    for w in network.weights:
        norms = np.sqrt(np.einsum("ij,ij->i", w, w))
        np.minimum(1.0, max_norm / np.maximum(norms, np.finfo(w.dtype).tiny), out=norms)
        w *= norms[:, None]


def _check_finite(network: Network, costs: np.ndarray, last_good: list[np.ndarray], epoch: int, advice: str) -> None:
    """Restore the last good parameters and raise if a cost or a parameter is NaN or inf."""
    bad = np.flatnonzero(~np.isfinite(costs))
    if not len(bad) and all(np.isfinite(p).all() for p in network.parameters()):
        return
    for p, good in zip(network.parameters(), last_good):
        p[...] = good
    where = f"batch {int(bad[0])}" if len(bad) else "its last batch"
    value = costs[bad[0]] if len(bad) else "finite, but the parameters are not"
    raise TrainingDivergedError(
        f"Training diverged in epoch {epoch}, {where}: the cost is {value}. "
        f"The parameters from before epoch {epoch} are kept; {advice}."
    )


def _held_out(network: Network, data: tuple[Any, Any] | None, name: str) -> tuple[np.ndarray, Any] | None:
    """Held-out (X, y), checked before training starts."""
    if data is None:
        return None
    X = as_inputs(data[0], network.sizes[0], network.dtype, f"{name}[0]")
    network._targets(data[1], len(X), f"{name}[1]")
    return X, data[1]


def _record(
    history: History,
    network: Network,
    epoch: int,
    train_cost: float,
    seconds: float,
    test: tuple[np.ndarray, Any] | None,
    validation: tuple[np.ndarray, Any] | None,
) -> None:
    history.epoch.append(epoch)
    history.train_cost.append(train_cost)
    history.seconds.append(seconds)
    test_accuracy, test_cost = network.score(*test) if test is not None else (None, None)
    history.test_accuracy.append(test_accuracy)
    history.test_cost.append(test_cost)
    history.test_correct.append(None if test is None else round(test_accuracy * len(test[0])))  # type: ignore[operator]
    val_accuracy, val_cost = network.score(*validation) if validation is not None else (None, None)
    history.validation_accuracy.append(val_accuracy)
    history.validation_cost.append(val_cost)
