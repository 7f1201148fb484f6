"""Mini-batch stochastic gradient descent over epochs (the sources' ``SGD``): :func:`fit`.

Each epoch shuffles the training set, cuts it into mini-batches of ``batch_size`` and, for each
batch of m examples, takes one gradient step (the book's rule, L2 term included):

    w^l → (1 − ηλ/n) w^l − (η/m) Σ_x ∂C_x/∂w^l,      b^l → b^l − (η/m) Σ_x ∂C_x/∂b^l,

where n is the size of the training set — or, with an ``optimizer``, the step that optimiser
makes of the same gradients (``ffnn.steps``). After each epoch the network is scored on the
held-out data and the callbacks run (``ffnn.callbacks``); any of them may stop training.

On a network of another backend (``ffnn.backends``) the training set is copied to it once, each
epoch's order is drawn on the host and copied, and the loop below runs unchanged on its arrays.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, cast

import numpy as np

from ffnn._validation import as_inputs, as_sample_weight, check_number, check_seed
from ffnn.backends import namespace
from ffnn.backprop import Workspace, backpropagate
from ffnn.callbacks import Callback, PrintProgress
from ffnn.distributed import DataParallel, ReducedStep, SliceDraws, sources_sgd
from ffnn.errors import ParameterError, ParameterTypeError, TrainingDivergedError
from ffnn.network import Network
from ffnn.optimizers import Optimizer
from ffnn.state import History, TrainingState
from ffnn.steps import OptimizerStep, SGDStep, Step

Augmentation = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def count_batches(n: int, batch_size: int, limit: int | None = None) -> int:
    """How many mini-batches an epoch of n examples takes: ⌈n / batch_size⌉, at most ``limit``."""
    count = -(-n // batch_size)
    return count if not limit else min(count, limit)


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
    augment: Augmentation | None = None,
    resume: dict[str, Any] | None = None,
    sample_weight: Any = None,
    comm: Any = None,
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
    each shuffled order (source 000 trains with k = 1). If a batch's cost or the parameters become
    NaN or inf, training stops with :class:`ffnn.TrainingDivergedError` and the network keeps the
    parameters of the last good epoch (NumPy's overflow warnings are silenced meanwhile: the
    values themselves are checked).

    ``sample_weight`` (shape (n,), finite, ≥ 0, not all 0) weights each example's cost: each
    mini-batch's cost is the weighted mean C = Σ_x w_x C_x / Σ_x w_x over the batch (a batch whose
    weights are all 0 takes a zero-gradient step), so integer weights train as repeated examples
    would in a full batch, and a weight of 0 as if the example were absent. Held-out scores are
    not weighted.

    ``callbacks`` are :class:`ffnn.callbacks.Callback` objects (``verbose=True`` adds
    :class:`~ffnn.callbacks.PrintProgress`); those that declare ``runs_last`` run after the others.

    ``resume`` is a state from :func:`ffnn.checkpoint.load` (see :class:`ffnn.checkpoint.Checkpointer`):
    training continues after its epoch, with its parameters, optimiser state, random state,
    history and callback states — given the same data, settings and callbacks, the result is
    bit-identical to a run that was never interrupted. ``epochs`` is the total count.

    ``comm`` (an mpi4py communicator, e.g. ``MPI.COMM_WORLD``) trains data-parallel over its
    ranks (:mod:`ffnn.distributed`): each calls ``fit`` with the same arguments; rank 0's initial
    parameters and seed are used, each rank backpropagates its slice of every mini-batch of
    ``batch_size``, and one ``Allreduce`` per batch gives all the whole batch's gradient, so the
    result equals one process's up to rounding. Held-out data is scored on every rank (the
    results are the same); ``verbose`` prints on rank 0 only. A rank that fails while training
    ends the whole job (``MPI_Abort``).
    """
    epochs = check_number(epochs, "epochs", low=0, strict=False, integer=True)
    batch_size = check_number(batch_size, "batch_size", low=1, strict=False, integer=True)
    lmbda = check_number(lmbda, "lmbda", low=0.0, strict=False)
    seed = check_seed(seed)
    if optimizer is None:
        eta = check_number(eta, "eta", low=0.0)
    elif eta is not None or lmbda:
        raise ParameterError(
            "With an optimizer, give it the learning rate and weight decay; 'eta' and 'lmbda' are for plain SGD."
        )
    if max_norm is not None:
        max_norm = check_number(max_norm, "max_norm", low=0.0)
    if batches_per_epoch is not None:
        batches_per_epoch = check_number(batches_per_epoch, "batches_per_epoch", low=1, strict=False, integer=True)
    X = network._inputs(X)  # standardised here, once, if the network carries a standardisation
    Y = network.check_targets(y, len(X))
    W = as_sample_weight(sample_weight, len(X), network.dtype)
    test = _held_out(network, test_data, "test_data")
    validation = _held_out(network, validation_data, "validation_data")
    group = DataParallel(comm) if comm is not None else None
    if group is not None:
        seed = group.same_seed(seed)
    hooks = _in_order([PrintProgress(), *callbacks] if verbose and (group is None or group.root) else list(callbacks))
    rng = np.random.default_rng(seed)

    n = len(X)
    batch_size = min(batch_size, n)
    backend = network.backend
    if group is not None and backend.name != "numpy":
        raise ParameterError(
            f"Data-parallel training over MPI runs on the NumPy backend, not {backend.name!r}; "
            "drop the backend or the MPI launch."
        )
    ws = Workspace(network.sizes, batch_size, network.dtype, backend)
    step: Step  # over MPI the gradient is stored (the fused SGD step would update before the sum exists)
    if optimizer is not None:
        step = (
            OptimizerStep(network.parameters(), ws, optimizer)
            if group is None
            else ReducedStep(network.parameters(), ws, optimizer, comm)
        )
    else:
        assert eta is not None  # checked above
        decay = 1.0 - eta * lmbda / n
        step = (
            SGDStep(network.weights, network.biases, eta, decay, backend)
            if group is None
            else ReducedStep(network.parameters(), ws, sources_sgd(eta, decay), comm)
        )
    on = backend.asarray  # the training set, copied to the backend once (NumPy: as it is)
    X, Y, W = on(X), on(Y), None if W is None else on(W)
    batches = _BatchLoop(
        network, X, Y, W, ws, step, batch_size, batches_per_epoch, rng, augment, max_norm, hooks, group
    )
    history = History(n_test=None if test is None else len(test[0]))
    state = TrainingState(network, step, rng, history, hooks, epochs)
    first_epoch = state.restore(resume) if resume is not None else 0
    if group is not None:
        group.broadcast(network.parameters())
    for cb in hooks:
        cb.bind(state)
    with group.guard() if group is not None else nullcontext():  # a failing rank ends the job
        for epoch in range(first_epoch, epochs):
            for cb in hooks:
                cb.on_epoch_begin(network, epoch)
            start = time.perf_counter()
            order = on(rng.permutation(n) if shuffle else np.arange(n))
            last_good = [backend.copy(p) for p in network.parameters()]
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging epoch is caught from its values
                costs = batches.run(order, epoch)
                seconds = time.perf_counter() - start  # the training alone: checks and evaluation excluded
                if costs is not None:
                    _check_finite(network, costs, last_good, epoch, step.advice)
            if costs is None:  # a batch callback stopped training: back to the last complete epoch
                for p, good in zip(network.parameters(), last_good):
                    p[...] = good
                history.interrupted = True
                break
            _record(history, network, epoch, float(costs.mean()), seconds, test, validation)
            stop = any([cb.on_epoch_end(network, history) for cb in hooks])
            if stop if group is None else group.any(stop):
                break
    for cb in hooks:
        cb.on_train_end(network, history)
    return history


def _in_order(callbacks: list[Any]) -> list[Callback]:
    """The callbacks, checked, those that declare ``runs_last`` moved after the others."""
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ParameterTypeError(
                f"Each callback must be an ffnn.callbacks.Callback (subclass it and override the hooks you need). "
                f"Got {type(cb).__name__}."
            )
    return [cb for cb in callbacks if not cb.runs_last] + [cb for cb in callbacks if cb.runs_last]


class _BatchLoop:
    """One epoch's mini-batches: load, augment, backpropagate (with dropout), step, constrain."""

    def __init__(
        self,
        network: Network,
        X: Any,
        Y: Any,
        W: Any,
        ws: Workspace,
        step: Step,
        batch_size: int,
        limit: int | None,
        rng: np.random.Generator,
        augment: Augmentation | None,
        max_norm: float | None,
        callbacks: Sequence[Callback],
        group: DataParallel | None = None,
    ) -> None:
        self.network, self.X, self.Y, self.W, self.ws, self.step = network, X, Y, W, ws, step
        n = X.shape[0]
        starts = range(0, n, batch_size)[: count_batches(n, batch_size, limit)]
        self.bounds = [(i, min(i + batch_size, n)) for i in starts]  # each batch's rows of the order
        self.rng, self.augment, self.max_norm = rng, augment, max_norm
        self.dropout_rng = rng if any(network.dropout) else None
        # only the callbacks that watch batches are called after each one (the hot path)
        self.callbacks = [cb for cb in callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
        self.group = group
        # over MPI, the ranks agree after each batch whether to stop — if any rank watches batches
        self.stop_together = group if group is not None and group.any(bool(self.callbacks)) else None
        self.draws = SliceDraws(rng) if group is not None and any(network.dropout) else None
        self.batch = self._whole if group is None else self._slice

    def run(self, order: Any, epoch: int) -> np.ndarray | None:
        """Each batch's cost (before its step), or None when a batch callback asks to stop.

        ``order`` is the epoch's permutation of the examples, an array of the backend."""
        costs = np.empty(len(self.bounds))
        for k, (start, stop) in enumerate(self.bounds):
            costs[k] = self.batch(order[start:stop])  # rows of a permutation
            if self.max_norm is not None:
                _constrain_norms(self.network, self.max_norm)
            stop = any([cb.on_batch_end(self.network, epoch, k) for cb in self.callbacks])
            if self.stop_together.any(stop) if self.stop_together is not None else stop:
                return None
        return costs

    def _whole(self, rows: Any) -> float:
        """Load the batch ``rows``, augment it, backpropagate it (with dropout), step; its cost."""
        ws, backend = self.ws, self.network.backend
        m = ws.load(self.X, self.Y, rows, self.W, in_range=True)
        if self.augment is not None:
            batch = ws.inputs(m)  # augmented on the host, as NumPy
            batch[...] = backend.asarray(self.augment(backend.to_numpy(batch), self.rng))
        cost = backpropagate(self.network, ws, m, self.step, self.dropout_rng)
        self.step.finish()
        return cost

    def _slice(self, rows: np.ndarray) -> float:
        """This rank's slice of the global batch ``rows``, backpropagated; the step with the gradient
        summed over the ranks; the whole batch's cost. Augmentation and dropout draw for the whole
        batch, as one process would, and keep the slice's rows (``ffnn.distributed``)."""
        group, ws, step = cast(DataParallel, self.group), self.ws, cast(ReducedStep, self.step)
        part = group.part(len(rows))
        inputs = self.augment(self.X[rows], self.rng)[part] if self.augment is not None else None
        if self.draws is not None:
            self.draws.part, self.draws.total = part, len(rows)
        cost = 0.0
        if part.stop > part.start:
            m = ws.load(self.X, self.Y, rows[part], self.W, in_range=True)
            if inputs is not None:
                ws.inputs(m)[...] = inputs
            cost = backpropagate(self.network, ws, m, step, self.draws)
        elif self.draws is not None:  # no rows here: draw the masks all the same, to stay in step
            ws.draw_masks(self.network.dropout, 0, self.draws)
        return step.reduce(cost, group.share(rows, part, self.W))


def _constrain_norms(network: Network, max_norm: float) -> None:
    """Max-norm: w^l_j ← w^l_j · min(1, c / ‖w^l_j‖) for each neuron j's incoming weights."""
    for w in network.weights:
        xp = namespace(w)
        norms = xp.sqrt(xp.vecdot(w, w))
        xp.minimum(1.0, max_norm / xp.maximum(norms, xp.finfo(w.dtype).smallest_normal), out=norms)
        w *= norms[:, None]


def _check_finite(network: Network, costs: np.ndarray, last_good: list[Any], epoch: int, advice: str) -> None:
    """Restore the last good parameters and raise if a cost or a parameter is NaN or inf."""
    bad = np.flatnonzero(~np.isfinite(costs))
    xp = network.backend.xp
    if not len(bad) and all(bool(xp.all(xp.isfinite(p))) for p in network.parameters()):
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
    network.check_targets(data[1], len(X), f"{name}[1]")
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
