"""Mini-batch stochastic gradient descent over epochs (the sources' ``SGD``): :func:`fit`, which
runs the one training loop, :class:`Trainer`, to its end.

Each epoch shuffles the training set, cuts it into mini-batches of ``batch_size`` and, for each
batch of m examples, takes one gradient step (the book's rule, L2 term included):

    w^l → (1 − ηλ/n) w^l − (η/m) Σ_x ∂C_x/∂w^l,      b^l → b^l − (η/m) Σ_x ∂C_x/∂b^l,

where n is the size of the training set — or, with an ``optimizer``, the step that optimiser
makes of the same gradients (``ffnn.steps``). After each epoch the network is scored on the
held-out data and the callbacks run (``ffnn.callbacks``); any of them may stop training. The
playground takes the same loop one mini-batch at a time (:meth:`Trainer.step`), so that its
steps are ``fit``'s, bit for bit.

How the processes share each batch is the loop's strategy (``ffnn.distributed``): by default one
process computes it all; over MPI each rank computes a slice and the gradient is summed.

On a network of another backend (``ffnn.backends``) the training set is copied to it once, each
epoch's order is drawn on the host and copied, and the loop below runs unchanged on its arrays.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ffnn import threads as threads_module
from ffnn._validation import as_inputs, as_sample_weight, check_number, check_seed
from ffnn.backends import NUMPY, namespace
from ffnn.backprop import Workspace, backpropagate
from ffnn.callbacks import Callback, PrintProgress
from ffnn.distributed import SingleProcess, strategy_for
from ffnn.errors import ParameterError, ParameterTypeError, TrainingDivergedError
from ffnn.network import Network
from ffnn.optimizers import Optimizer
from ffnn.state import History, TrainingState

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
    strategy: SingleProcess | None = None,
    threads: int | None = None,
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
    ends the whole job (``MPI_Abort``). It is short for ``strategy=ffnn.distributed.DataParallel(comm)``;
    ``strategy`` is the loop's (:class:`Trainer`), by default one process.

    ``threads`` caps the BLAS threads of the products (None or 0: ``FFNN_THREADS``, else
    automatic — the cores, shared among MPI processes, within a limit the caller set). The fit
    decides once how many its products get, one for a network too small to gain from more, and
    puts the BLAS back as it was when it ends (:mod:`ffnn.threads`).
    """
    if comm is not None and strategy is not None:
        raise ParameterError("Give fit a 'comm' or a 'strategy', not both ('comm' builds DataParallel(comm)).")
    return Trainer(
        network, X, y, epochs, batch_size, eta=eta, lmbda=lmbda, test_data=test_data, shuffle=shuffle, seed=seed,
        verbose=verbose, callbacks=callbacks, batches_per_epoch=batches_per_epoch, validation_data=validation_data,
        optimizer=optimizer, max_norm=max_norm, augment=augment, resume=resume, sample_weight=sample_weight,
        strategy=strategy if comm is None else strategy_for(comm), threads=threads,
    ).run()  # fmt: skip


class Trainer:
    """The training loop: :func:`fit` runs it to the end (:meth:`run`); the playground advances it
    one mini-batch at a time (:meth:`step`). Both go through the same three stages:

    - an epoch begins: ``on_epoch_begin``, the epoch's order drawn from the seeded generator (a
      permutation, or 0 … n−1 without ``shuffle``), the parameters kept as the last good ones;
    - each mini-batch: the strategy's part of its rows loaded (``Workspace.load``), augmented,
      backpropagated with dropout (feedforward, BP1–BP4), the update rule's step (``ffnn.steps``;
      over MPI on the gradient summed over the ranks), max-norm, ``on_batch_end`` (True: back to
      the last good parameters, and training ends, ``history.interrupted``);
    - an epoch ends: every cost and parameter checked finite (else the last good parameters back
      and :class:`ffnn.TrainingDivergedError`), the epoch recorded in :attr:`history` with its
      held-out scores, ``on_epoch_end`` (True on any process: training ends).

    The parameters are :func:`fit`'s, checked the same way, and

    - ``strategy``: how the processes share each batch (:mod:`ffnn.distributed`):
      ``SingleProcess()`` (the default: every row here, nothing reduced) or ``DataParallel(comm)``;
    - ``check_finite=False``: no check at an epoch's end — non-finite costs and parameters stay
      for the caller to see (the playground shows them as divergence);
    - ``keep_gradients=True``: each mini-batch's ∂C/∂w^l, ∂C/∂b^l stay in ``ws.nabla_w`` /
      ``ws.nabla_b`` under plain SGD too (an optimiser's step stores them in any case).
    - ``threads``: as :func:`fit`'s; :attr:`threads` is what this loop decided for its products,
      in force while :meth:`run` or :meth:`step` runs (None: another backend's, not NumPy's BLAS).

    :attr:`epoch` is the epoch under way (or next), ``batch`` the next mini-batch in it,
    ``order`` its order of the examples, ``done`` whether training has ended.
    """

    def __init__(
        self,
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
        strategy: SingleProcess | None = None,
        check_finite: bool = True,
        keep_gradients: bool = False,
        threads: int | None = None,
    ) -> None:
        self.epochs = check_number(epochs, "epochs", low=0, strict=False, integer=True)
        batch_size = check_number(batch_size, "batch_size", low=1, strict=False, integer=True)
        lmbda = check_number(lmbda, "lmbda", low=0.0, strict=False)
        seed = check_seed(seed)
        if optimizer is not None and (eta is not None or lmbda):
            raise ParameterError(
                "With an optimizer, give it the learning rate and weight decay; 'eta' and 'lmbda' are for plain SGD."
            )
        eta = check_number(eta, "eta", low=0.0) if optimizer is None else 0.0  # (an optimizer has its own)
        if max_norm is not None:
            max_norm = check_number(max_norm, "max_norm", low=0.0)
        if batches_per_epoch is not None:
            batches_per_epoch = check_number(batches_per_epoch, "batches_per_epoch", low=1, strict=False, integer=True)
        X = network._inputs(X)  # standardised here, once, if the network carries a standardisation
        Y = network.check_targets(y, len(X))
        W = as_sample_weight(sample_weight, len(X), network.dtype)
        self.test = _held_out(network, test_data, "test_data")
        self.validation = _held_out(network, validation_data, "validation_data")
        self.strategy = strategy = strategy if strategy is not None else SingleProcess()
        self.threads = _plan_threads(network, min(batch_size, len(X)), strategy, threads)
        seed = strategy.same_seed(seed)
        self.hooks = _in_order([PrintProgress(), *callbacks] if verbose and strategy.root else list(callbacks))
        self.rng = np.random.default_rng(seed)

        n = len(X)
        batch_size = min(batch_size, n)
        self.network, backend = network, network.backend
        network._check_memory(batch_size)  # refused before the buffers below are allocated
        self.ws = Workspace(network.sizes, batch_size, network.dtype, backend, network.bias)
        self.update = strategy.step(network, self.ws, optimizer, eta, 1.0 - eta * lmbda / n, keep_gradients)
        on = backend.asarray  # the training set, copied to the backend once (NumPy: as it is)
        self.X, self.Y, self.W = on(X), on(Y), None if W is None else on(W)
        starts = range(0, n, batch_size)[: count_batches(n, batch_size, batches_per_epoch)]
        self.bounds = [(i, min(i + batch_size, n)) for i in starts]  # each batch's rows of the order
        self.costs = np.empty(len(self.bounds))  # each batch's cost in the epoch, before its step
        self.shuffle, self.augment, self.max_norm, self.check_finite = shuffle, augment, max_norm, check_finite
        self.draws = strategy.random(self.rng) if any(network.dropout) else None  # dropout's masks
        # only the callbacks that watch batches are called after each one (the hot path); over MPI,
        # the ranks agree after each batch whether to stop — if any rank watches batches
        self.batch_hooks = [cb for cb in self.hooks if type(cb).on_batch_end is not Callback.on_batch_end]
        self.watch_batches = strategy.any(bool(self.batch_hooks))
        self.history = History(n_test=None if self.test is None else len(self.test[0]))
        self.state = TrainingState(network, self.update, self.rng, self.history, self.hooks, self.epochs)
        self.epoch = self.state.restore(resume) if resume is not None else 0
        self.batch, self.order, self.done = 0, on(np.arange(0)), self.epoch >= self.epochs
        self._last_good: list[Any] = []
        self._started = 0.0
        strategy.broadcast(network.parameters())
        for cb in self.hooks:
            cb.bind(self.state)

    def run(self) -> History:
        """Train to the end — every epoch, unless a callback stops it — as :func:`fit` does; the history.
        A process that fails meanwhile ends the others (the strategy's guard)."""
        with self.strategy.guard(), self._threads():
            while not self.done:
                self._advance(len(self.bounds))  # the rest of the epoch
        self._end()
        return self.history

    def step(self) -> float:
        """One mini-batch, the epoch's first beginning it and its last ending it (as :meth:`run`
        does); the batch's cost, measured before its update (not finite once training diverged,
        with ``check_finite=False``)."""
        if self.done:
            raise ParameterError("Training has ended: there is no next mini-batch.")
        k = self.batch
        with self._threads():
            self._advance(k + 1)
        if self.done:
            self._end()
        return float(self.costs[k])

    def _threads(self) -> contextlib.AbstractContextManager[None]:
        """The BLAS at the threads this loop decided on (nothing changed for another backend)."""
        return contextlib.nullcontext() if self.threads is None else threads_module.limited(self.threads)

    def _advance(self, end: int) -> None:
        """The epoch's mini-batches up to ``end`` (excluded), beginning the epoch before its first
        and ending it after its last."""
        if self.batch == 0:
            self._begin_epoch()
        network, epoch, bounds, costs, order = self.network, self.epoch, self.bounds, self.costs, self.order
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging epoch is caught from its values
            for k in range(self.batch, end):
                start, stop = bounds[k]
                costs[k] = self._batch(order[start:stop])  # rows of a permutation
                if self.max_norm is not None:
                    _constrain_norms(network, self.max_norm)
                if self.watch_batches and self.strategy.any(
                    any([cb.on_batch_end(network, epoch, k) for cb in self.batch_hooks])
                ):
                    self._interrupt()
                    return
            self.batch = end
            if end < len(bounds):
                return
            seconds = time.perf_counter() - self._started  # the training alone: checks and evaluation excluded
            if self.check_finite:
                _check_finite(network, costs, self._last_good, epoch, self.update.advice)
        self._end_epoch(seconds)

    def _batch(self, rows: Any) -> float:
        """The mini-batch ``rows``: the strategy's part of it loaded, augmented, backpropagated (with
        dropout) and stepped; the whole batch's cost. Augmentation and dropout draw for the whole
        batch, as one process would, and keep the part's rows (``ffnn.distributed``)."""
        ws, backend, strategy = self.ws, self.network.backend, self.strategy
        part = strategy.part(rows.shape[0])
        inputs = None
        if self.augment is not None:  # on the host, as NumPy
            inputs = self.augment(backend.to_numpy(backend.xp.take(self.X, rows, axis=0)), self.rng)[part]
        cost = 0.0
        if part.stop > part.start:
            m = ws.load(self.X, self.Y, rows[part], self.W, in_range=True)
            if inputs is not None:
                ws.inputs(m)[...] = backend.asarray(inputs)
            cost = backpropagate(self.network, ws, m, self.update, self.draws)
        elif self.draws is not None:  # no rows here: draw the masks all the same, to stay in step
            ws.draw_masks(self.network.dropout, 0, self.draws)
        return strategy.reduce(self.update, cost, rows, part, self.W)

    def _begin_epoch(self) -> None:
        for cb in self.hooks:
            cb.on_epoch_begin(self.network, self.epoch)
        self._started = time.perf_counter()
        n, backend = self.X.shape[0], self.network.backend
        self.order = backend.asarray(self.rng.permutation(n) if self.shuffle else np.arange(n))
        self._last_good = [backend.copy(p) for p in self.network.parameters()]

    def _end_epoch(self, seconds: float) -> None:
        """Record the epoch, ask the callbacks whether to stop, and move to the next epoch."""
        network, history = self.network, self.history
        _record(history, network, self.epoch, float(self.costs.mean()), seconds, self.test, self.validation)
        stop = any([cb.on_epoch_end(network, history) for cb in self.hooks])
        self.epoch, self.batch = self.epoch + 1, 0
        self.done = self.strategy.any(stop) or self.epoch >= self.epochs  # (every process asked, every epoch)

    def _interrupt(self) -> None:
        """A batch callback stopped training: back to the last complete epoch."""
        for p, good in zip(self.network.parameters(), self._last_good):
            p[...] = good
        self.history.interrupted = True
        self.done = True

    def _end(self) -> None:
        for cb in self.hooks:
            cb.on_train_end(self.network, self.history)


def _plan_threads(network: Network, batch_size: int, strategy: SingleProcess, threads: Any) -> int | None:
    """The threads of this fit's products (``ffnn.threads.for_fit``: its widest layer, the most
    rows of a batch a process multiplies, the processes of an MPI job); None on a backend other
    than NumPy's. The root process warns when the processes' threads outnumber the cores."""
    layers = list(zip(network.sizes[:-1], network.sizes[1:]))
    rows = -(-batch_size // strategy.size)  # every rank decides alike
    plan = threads_module.for_fit(layers, rows, network.dtype.itemsize, threads, strategy.size)
    if plan.warning and strategy.root:
        warnings.warn(plan.warning, UserWarning, stacklevel=4)
    return plan.threads if network.backend is NUMPY else None


def _in_order(callbacks: list[Any]) -> list[Callback]:
    """The callbacks, checked, those that declare ``runs_last`` moved after the others."""
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ParameterTypeError(
                f"Each callback must be an ffnn.callbacks.Callback (subclass it and override the hooks you need). "
                f"Got {type(cb).__name__}."
            )
    return [cb for cb in callbacks if not cb.runs_last] + [cb for cb in callbacks if cb.runs_last]


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
