"""Data-parallel training over MPI (the Horovod pattern): K processes, one model, one update.

Every rank holds the whole training set and the same seeded random generator, so all walk the
same shuffled order. A global mini-batch B of M rows (``batch_size``) is cut into K contiguous
slices, rank r taking rows ⌊rM/K⌋ … ⌊(r+1)M/K⌋ − 1 (sizes differ by at most one; a slice may be
empty when M < K). Rank r backpropagates its slice B_r and contributes its share of the batch mean,

    g_r = (1/M) Σ_{x∈B_r} ∇C_x = (m_r/M) · ḡ_r,        Σ_r g_r = (1/M) Σ_{x∈B} ∇C_x = ∇C_B,

ḡ_r being the mean over its m_r rows; with sample weights the factor is Σ_{B_r} w / Σ_B w, so
the sum is the weighted mean (0 when Σ_B w = 0); a summed cost (``reduction="sum"``) takes each
rank's sum as it is (factor 1): the batch's sum. One ``Allreduce`` of one flat buffer — every
∂C/∂w^l, ∂C/∂b^l and the batch's cost share — gives each rank ∇C_B, and each applies the same
update to the same parameters: the run equals one process training on the whole batch up to the
rounding of sums taken in another order. Dropout masks and augmentation are drawn for the whole
batch from the shared generator (:class:`SliceDraws`), each rank keeping its rows, so they are
the single process's draws too.

The training loop (``ffnn.training.Trainer``) takes this as a strategy: :class:`SingleProcess`,
the default, computes every row of each batch and reduces nothing; :class:`DataParallel` slices
each batch (:meth:`~DataParallel.part`), sums the gradient (:meth:`~DataParallel.reduce`, through
:class:`ReducedStep`) and draws dropout's masks for the whole batch (:meth:`~DataParallel.random`).
:func:`strategy_for` picks one: ffnn trains data-parallel when an MPI launcher started it with K ≥ 2
processes (:func:`world` reads the launcher's environment: ``mpiexec -n 2 ffnn train …``), or
when ``fit`` is given a ``comm``; otherwise mpi4py is never imported.

A rank that fails alone must not leave the others waiting. A run starts in :func:`starting`,
which first starts MPI (every rank waits there for all K), then lets the rank check its settings,
load its data and build its network; it ends in :func:`agree`, the job's first collective: one
``allgather`` of what each rank found — its error (status and message), or what must be equal on
every rank (the settings that decide the numbers, a digest of the data). If any rank failed,
every rank ends with that rank's exit status and rank 0 prints its message once; if the ranks
differ, every rank refuses to train, naming what differs. A rank that fails before it gets there
(``ffnn train``'s own arguments) joins the same ``allgather`` with its error (:func:`fail`).
Once training, a rank that fails ends the job through ``MPI_Abort`` (:meth:`DataParallel.guard`),
and one that hangs or is stopped is caught by the :class:`Watchdog`: a rank that has waited more
than ``mpi_timeout`` seconds (default :data:`WATCHDOG_SECONDS`) in one collective says so, naming
itself, and ends the job.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

import numpy as np

from ffnn.backprop import Workspace
from ffnn.errors import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USAGE, FFNNError, ParameterError, TrainingDivergedError
from ffnn.network import Network
from ffnn.optimizers import Optimizer, Params
from ffnn.steps import OptimizerStep, SGDStep, Step

T = TypeVar("T")
WATCHDOG_SECONDS = 300.0  # how long a rank waits in one collective for the others, by default (``mpi_timeout``)
# (rank, size) as launchers set them for each process they start: MPICH's and Intel MPI's hydra,
# Open MPI, MVAPICH.
LAUNCHER_VARIABLES = (
    ("PMI_RANK", "PMI_SIZE"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),
)


def launched() -> tuple[int, int]:
    """(rank, size) of this process among those an MPI launcher started; (0, 1) when none did.
    Read from the environment, without MPI."""
    for rank_name, size_name in LAUNCHER_VARIABLES:
        rank, size = os.environ.get(rank_name, ""), os.environ.get(size_name, "")
        if rank.isdigit() and size.isdigit():
            return int(rank), int(size)
    return 0, 1


@functools.cache
def world() -> Any:
    """``MPI.COMM_WORLD`` when an MPI launcher started this process among K ≥ 2, else None — and then
    mpi4py is not imported."""
    size = launched()[1]
    if size < 2:
        return None
    try:
        from mpi4py import MPI  # an extra: imported only under a launcher
    except ImportError:
        raise FFNNError(
            f"ffnn was started by an MPI launcher as one of {size} processes, but mpi4py is not installed; "
            "pip install 'ffnn[mpi]', or run without mpiexec."
        ) from None
    return MPI.COMM_WORLD


def _running_mpi() -> Any:
    """mpi4py's ``MPI`` module when this process has started MPI and not yet ended it, else None."""
    mpi = sys.modules.get("mpi4py.MPI")
    return mpi if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized() else None


def abort(status: int) -> None:
    """End every process of the MPI job with ``status`` (``MPI_Abort``), if this one runs MPI: a
    rank that gives up alone would leave the others waiting for it. Not when the ranks agreed at
    start-up not to train (:func:`agree`): each of them is ending already, with its status."""
    mpi = _running_mpi()
    if mpi is not None and _agreement.passed is not False:
        mpi.COMM_WORLD.Abort(status)


def rank(comm: Any) -> int:
    """This process's rank in ``comm`` (0 without one): rank 0 alone writes files and prints."""
    return 0 if comm is None else int(comm.Get_rank())


def abort_status(error: BaseException) -> int:
    """The job's exit status when ``error`` ends it, as the command line's would be: Ctrl-C, the
    user's data, files or settings, or anything else (a bug in ffnn)."""
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_USAGE if isinstance(error, (FFNNError, OSError)) else EXIT_BUG


def on_root(comm: Any, action: Callable[[], T], seconds: float = WATCHDOG_SECONDS) -> T | None:
    """``action()`` on rank 0 only (None elsewhere); if it fails, every rank raises, so that none
    goes on to wait in a collective for a rank that gave up (the others wait for it at most
    ``seconds``: the :class:`Watchdog`)."""
    if comm is None:
        return action()
    result, failure = None, None
    if comm.Get_rank() == 0:
        try:
            result = action()
        except BaseException as e:  # Ctrl-C too: the others must not wait for a broadcast that never comes
            failure = e
    with Watchdog(comm, seconds).waiting("hear whether rank 0 could write the run folder"):
        message = comm.bcast(None if failure is None else str(failure), root=0)
    if failure is not None:
        raise failure
    if message is not None:
        raise FFNNError(f"rank 0 failed: {message}")
    return result


class StartError(FFNNError):
    """The ranks of an MPI run cannot train together: one of them could not start (its message,
    naming it), or they were started with different settings or data. Every rank raises it and
    ends with ``status``: the exit status of the rank that failed, 2 when the ranks differ."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


class _StartUp:
    """This process's start-up agreement (:func:`agree`): ``passed`` is None until every rank has
    been heard, then whether they all start, alike."""

    passed: bool | None = None


_agreement = _StartUp()


@contextmanager
def starting() -> Iterator[None]:
    """A run's start-up on one rank. Under an MPI launcher (K ≥ 2) MPI is started first — each
    rank waits there for all K, so that one that fails later can still tell the others — then
    the body checks the settings, loads the data, builds the network and ends with :func:`agree`.
    If the body raises before that, this rank joins the agreement with its error (:func:`fail`)
    and raises it, or :class:`StartError` when the ranks did not all fail alike (a bug is
    raised as it is, for the command line to report with its traceback). Without a launcher,
    only the body runs."""
    _agreement.passed = None
    if launched()[1] >= 2:
        _started(WATCHDOG_SECONDS)
    try:
        yield
    except BaseException as e:
        status = abort_status(e)
        failure = fail(status, _said(e)) if _agreement.passed is None else None
        if failure is None or status == EXIT_BUG:
            raise
        raise failure from e


def agree(facts: Callable[[], Mapping[str, str]], seconds: float = WATCHDOG_SECONDS) -> None:
    """End a start-up (:func:`starting`): this rank is ready. Under an MPI launcher (K ≥ 2) it
    tells the others so, with ``facts()`` — what must be the same on every rank (each setting
    that decides the run's numbers, the data's :func:`digest`, …, as a message shows them) —
    and hears from them, in the job's first collective. Raises :class:`StartError` when a rank
    failed (naming it, with its exit status) or when the ranks' facts differ (naming each fact
    that differs and the ranks on each side; status 2). Waits for the others at most ``seconds``
    (the :class:`Watchdog`)."""
    if launched()[1] >= 2:
        failure = _settle({"facts": dict(facts())}, seconds)
        if failure is not None:
            raise failure


def fail(status: int, message: str) -> StartError | None:
    """This rank cannot start training (``status`` and ``message``, its error in one line). Under
    an MPI launcher (K ≥ 2) it joins the start-up agreement with it — once — and returns the
    error every rank ends with: None when all failed alike (each then reports its own, which rank
    0 prints), else :class:`StartError`, naming the first rank that failed. None as well without
    a launcher, or once this rank has been heard."""
    if launched()[1] < 2 or _agreement.passed is not None:
        return None
    return _settle({"status": status, "message": message}, WATCHDOG_SECONDS)


def _started(seconds: float) -> Any:
    """:func:`world`, MPI started: each rank waits there for all (at most ``seconds``)."""
    with Watchdog(None, seconds).waiting("start MPI"):
        return world()


def _said(error: BaseException) -> str:
    """``error`` in one line, as the command line says it after "ffnn: error: "."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    text = " ".join(str(error).split())
    return text if abort_status(error) == EXIT_USAGE else f"internal error: {type(error).__name__}: {text}"


def _settle(entry: dict[str, Any], seconds: float) -> StartError | None:
    """The start-up agreement: every rank's ``entry`` — its error, or its facts — in one
    ``allgather``; what every rank ends with (:func:`fail`), None when they all start."""
    comm = _started(seconds)
    with Watchdog(comm, seconds).waiting("be ready to train (check its settings, load its data, build its network)"):
        entries = comm.allgather(entry)
    k = len(entries)
    failed = [(r, e) for r, e in enumerate(entries) if "status" in e]
    _agreement.passed = False
    if failed:
        r, first = failed[0]
        if len(failed) == k and all(e["message"] == first["message"] for _, e in failed):
            return None  # each rank's own error is everyone's
        also = [q for q, _ in failed[1:]]
        return StartError(
            f"rank {r} of {k}: {first['message']}" + (f" ({_ranks(also)} failed too)" if also else ""), first["status"]
        )
    differences = _differences([e["facts"] for e in entries])
    if differences:
        return StartError(
            f"the {k} ranks were started differently — {'; '.join(differences)}. "
            "Start every rank with the same settings and the same data."
        )
    _agreement.passed = True
    return None


def _differences(facts: Sequence[Mapping[str, str]]) -> list[str]:
    """Each fact that is not the same on every rank: "seed: 1 on rank 0, 2 on rank 1"."""
    found = []
    for key in dict.fromkeys(k for f in facts for k in f):
        sides: dict[str, list[int]] = {}
        for r, f in enumerate(facts):
            sides.setdefault(f.get(key, "none"), []).append(r)
        if len(sides) > 1:
            found.append(f"{key}: " + ", ".join(f"{value} on {_ranks(ranks)}" for value, ranks in sides.items()))
    return found


def _ranks(ranks: Sequence[int]) -> str:
    return f"rank {ranks[0]}" if len(ranks) == 1 else "ranks " + ", ".join(map(str, ranks))


def digest(arrays: Iterable[np.ndarray]) -> str:
    """The first 12 hex digits of a SHA-256 of ``arrays``' dtypes, shapes and bytes: a data set's
    fingerprint, the same on two ranks when they hold the same numbers (about 0.1 s for MNIST)."""
    sha = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        sha.update(f"{a.dtype.str}{a.shape};".encode())
        sha.update(a.data)
    return sha.hexdigest()[:12]


class Watchdog:
    """Ends the MPI job when this process has waited longer than ``seconds`` in one collective of
    ``comm`` (None: MPI is still starting): another rank stopped, hung, or is that much slower.

    Each collective is :meth:`enter` … :meth:`leave` (or :meth:`waiting`), a timestamp on the
    training path. One daemon thread per process looks at the collective in progress, at least
    every second, and past its deadline prints which rank waited how long for what and calls
    ``MPI_Abort``; hydra then kills every rank, a stopped one too (before MPI has started, this
    process just exits). A thread rather than non-blocking collectives polled against a clock:
    the training path keeps its blocking ``Allreduce`` (MPICH's fastest), and the thread runs
    beside it because mpi4py releases the GIL in MPI calls and starts MPI with
    ``MPI_THREAD_MULTIPLE``, so ``MPI_Abort`` may come from it.

    Rank r's deadline is ``seconds`` + r/2: when several ranks wait for one that stalled, the
    lowest of them speaks, and its ``MPI_Abort`` ends the others before they do.
    """

    _waiting: tuple[float, Watchdog, str] | None = None  # (since, whose, what) of the collective in progress
    _thread: threading.Thread | None = None

    def __init__(self, comm: Any, seconds: float = WATCHDOG_SECONDS) -> None:
        self.comm, self.seconds = comm, float(seconds)
        self.rank, self.size = launched() if comm is None else (int(comm.Get_rank()), int(comm.Get_size()))
        self.deadline = self.seconds + 0.5 * self.rank

    def enter(self, what: str) -> None:
        """This process begins to wait in a collective, for the others to do ``what``."""
        Watchdog._waiting = (time.monotonic(), self, what)
        if Watchdog._thread is None:
            Watchdog._thread = threading.Thread(target=_watch, name="ffnn-mpi-watchdog", daemon=True)
            Watchdog._thread.start()

    @staticmethod
    def leave() -> None:
        """The collective is over."""
        Watchdog._waiting = None

    @contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        """The body is a collective in which this process waits for the others to do ``what``."""
        self.enter(what)
        try:
            yield
        finally:
            self.leave()

    def fire(self, what: str, waited: float) -> None:
        """Say that this rank waited ``waited`` seconds for the others to do ``what``; end the job (status 2)."""
        others = f"rank {1 - self.rank}" if self.size == 2 else "the other ranks"
        print(
            f"ffnn: error: rank {self.rank} of {self.size} waited {waited:.0f} s for {others} to {what}; "
            "ending the whole job. A rank stopped, hung or is far slower than this one; if it is only slower, "
            f"give --mpi-timeout (now {self.seconds:g} s) more.",
            file=sys.stderr,
            flush=True,
        )
        mpi = _running_mpi()
        if mpi is not None:
            # hydra forwards a rank's output in its own time, and MPI_Abort at once could end the job
            # before it has (a CI run lost the message): the job has waited this long; a second more
            time.sleep(1.0)
            (mpi.COMM_WORLD if self.comm is None else self.comm).Abort(EXIT_USAGE)
        os._exit(EXIT_USAGE)


def _watch() -> None:
    """The watchdog's thread: ends the job when the collective in progress is past its deadline."""
    while True:
        waiting = Watchdog._waiting
        if waiting is None:
            time.sleep(1.0)
            continue
        since, dog, what = waiting
        left = since + dog.deadline - time.monotonic()
        if left > 0:
            time.sleep(min(left, 1.0))
        elif Watchdog._waiting is waiting:  # still the same collective
            dog.fire(what, time.monotonic() - since)


def launcher_terminal() -> bool:
    """Whether this rank's standard error reaches a terminal through the MPI launcher: hydra gives
    each rank a pipe that its proxy reads and passes on to ``mpiexec``'s own standard error.
    Followed through Linux's /proc, from a process's stderr pipe to its parent while the parent
    holds that pipe, to the first stderr that is no pipe (a terminal, a file, /dev/null).
    False where that cannot be told: another system, a launcher on another machine."""
    pid = os.getpid()
    try:
        for _ in range(8):
            target = os.readlink(f"/proc/{pid}/fd/2")
            if not target.startswith("pipe:"):
                fd = os.open(f"/proc/{pid}/fd/2", os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
                try:
                    return os.isatty(fd)
                finally:
                    os.close(fd)
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            if not _holds(parent, target):
                return False  # a pipe to a process that is no launcher: `mpiexec … 2>&1 | tee log`
            pid = parent
    except (OSError, ValueError, IndexError):
        pass
    return False


def _holds(pid: int, target: str) -> bool:
    """Whether process ``pid`` holds the file ``target`` (as /proc names it: pipe:[123])."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False


def sources_sgd(eta: float, decay: float) -> Optimizer:
    """Plain SGD as an optimiser, for a stored gradient: u_w = (decay·w − w) − η g_w, u_b = −η g_b,
    so p + u is ``steps.SGDStep``'s w ← decay·w − η g, b ← b − η g_b. decay·w is rounded as that
    step's GEMM rounds it (decay in the parameters' precision; decay·w − w is then exact), so the
    two do not drift apart in float32. It keeps no state, as SGDStep does, so a checkpoint of
    either continues in the other."""

    def update(grads: Params, state: None, params: Params) -> tuple[Params, None]:
        return [
            (decay * p - p) - eta * g if p.ndim >= 2 and decay != 1.0 else -eta * g for g, p in zip(grads, params)
        ], None

    return Optimizer(lambda params: None, update, "sgd")


class ReducedStep(OptimizerStep):
    """An optimiser's step on the gradient summed over the ranks.

    The workspace's gradient arrays are views of one preallocated flat buffer (with one more
    slot, for the cost), so backprop stores this rank's ∂C/∂w^l, ∂C/∂b^l (its slice's mean)
    straight into it; :meth:`reduce` scales it by the rank's share, sums it over the ranks in
    place (one ``Allreduce``), and lets the optimiser update the parameters from the sum — the
    same update on every rank.
    """

    def __init__(
        self, params: list[np.ndarray], ws: Workspace, optimizer: Optimizer, comm: Any, watchdog: Watchdog
    ) -> None:
        from mpi4py import MPI  # loaded already: the caller holds a communicator

        local = ws.gradients()
        self.flat = np.zeros(sum(g.size for g in local) + 1, local[0].dtype)  # + the cost
        ends = np.cumsum([0, *(g.size for g in local)])
        views = [self.flat[a:b].reshape(g.shape) for a, b, g in zip(ends[:-1], ends[1:], local)]
        ws.nabla_w[:], ws.nabla_b[:] = views[0::2], views[1::2]  # gradients() is [w¹, b¹, w², b², …]
        super().__init__(params, ws, optimizer)
        self.comm, self.watchdog, self._in_place = comm, watchdog, MPI.IN_PLACE

    def reduce(self, cost: float, share: float) -> float:
        """Sum share · (gradient, cost) over the ranks, step with the summed gradient; return the batch's cost."""
        if share:
            self.flat[:-1] *= share
        else:  # an empty slice, or one whose weights are all 0: nothing (the buffer may hold NaN)
            self.flat.fill(0.0)
        self.flat[-1] = cost * share
        self.watchdog.enter("sum the gradients")
        try:
            self.comm.Allreduce(self._in_place, self.flat)
        finally:
            self.watchdog.leave()
        self.finish()
        return float(self.flat[-1])


class SliceDraws(np.random.Generator):
    """The shared generator, drawing each random array for the whole global batch and keeping this
    rank's rows: ``random(dtype=, out=)`` (how dropout draws its masks, ``Workspace.draw_masks``)
    draws an (M, n) array from the same bit generator — what one process training on the whole
    batch draws — and writes rows ``part`` of it into ``out`` (of ``part``'s length, possibly 0).
    Every rank's generator so stays in step with the others', and the masks are the single
    process's."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(rng.bit_generator)
        self.part, self.total = slice(0, 0), 0

    def random(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> Any:
        full = super().random((self.total, *out.shape[1:]), dtype=dtype)
        out[...] = full[self.part]
        return out


class SingleProcess:
    """The training loop's default strategy: this process computes every row of each batch, and
    there is nothing to share, sum or agree on — each method is what one process does anyway."""

    rank: int = 0
    size: int = 1
    comm: Any = None  # the mpi4py communicator, over MPI

    @property
    def root(self) -> bool:
        """Whether this process is rank 0, which alone prints."""
        return self.rank == 0

    def same_seed(self, seed: int | None) -> Any:
        """The seed every process uses."""
        return seed

    def step(
        self, network: Network, ws: Workspace, optimizer: Optimizer | None, eta: float, decay: float, keep: bool
    ) -> Step:
        """The update rule's step: ``optimizer``'s (``OptimizerStep``, the gradient stored in ``ws``)
        or, without one, plain SGD w ← decay·w − η ∂C/∂w folded into BP4's GEMM (``SGDStep``; with
        ``keep``, the gradient is stored in ``ws`` as well)."""
        if optimizer is not None:
            return OptimizerStep(network.parameters(), ws, optimizer)
        biases = network.biases if network.bias else None
        return SGDStep(network.weights, biases, eta, decay, network.backend, ws if keep else None)

    def random(self, rng: np.random.Generator) -> np.random.Generator:
        """The generator dropout draws its masks from."""
        return rng

    def part(self, m: int) -> slice:
        """This process's rows of a global batch of m: all of them."""
        return slice(0, m)

    def reduce(self, step: Step, cost: float, rows: Any, part: slice, weights: Any) -> float:
        """End the batch ``rows`` (of which this process computed ``part``): ``step.finish()``; its cost."""
        step.finish()
        return cost

    def broadcast(self, arrays: Sequence[np.ndarray]) -> None:
        """Rank 0's values of ``arrays`` (the parameters) on every process, in place."""

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any process (so that all stop at the same batch)."""
        return flag

    def guard(self) -> AbstractContextManager[None]:
        """What ends the other processes if this one fails while training."""
        return nullcontext()


class DataParallel(SingleProcess):
    """The ranks of ``comm`` training one network together (see the module docstring): the same
    methods as :class:`SingleProcess`, each doing its part of the job over MPI. A rank that waits
    longer than ``seconds`` in one of their collectives ends the job (:class:`Watchdog`)."""

    def __init__(self, comm: Any, seconds: float = WATCHDOG_SECONDS) -> None:
        from mpi4py import MPI  # loaded already: the caller holds a communicator

        self.comm, self.rank, self.size = comm, int(comm.Get_rank()), int(comm.Get_size())
        self.watchdog = Watchdog(comm, seconds)
        self._max, self._in_place = MPI.MAX, MPI.IN_PLACE
        self._flag = np.zeros(1, np.int32)
        self._draws: SliceDraws | None = None
        self._summed = False  # the network's cost sums its examples' (reduction "sum"): set by step()

    def same_seed(self, seed: int | None) -> Any:
        """Rank 0's seed — drawn from the system's entropy there when None — on every rank."""
        with self.watchdog.waiting("share rank 0's seed"):
            return self.comm.bcast(np.random.SeedSequence().entropy if seed is None else seed, root=0)

    def step(
        self, network: Network, ws: Workspace, optimizer: Optimizer | None, eta: float, decay: float, keep: bool
    ) -> Step:
        """The rule's step on the gradient summed over the ranks (:class:`ReducedStep`, which keeps
        it in ``ws`` in any case); plain SGD as :func:`sources_sgd`, since the fused GEMM would
        update the weights before the sum exists."""
        if network.backend.name != "numpy":
            raise ParameterError(
                f"Data-parallel training over MPI runs on the NumPy backend, not {network.backend.name!r}; "
                "drop the backend or the MPI launch."
            )
        self._summed = network.cost_function.reduction == "sum"
        return ReducedStep(network.parameters(), ws, optimizer or sources_sgd(eta, decay), self.comm, self.watchdog)

    def random(self, rng: np.random.Generator) -> np.random.Generator:
        """The shared generator drawing for the whole global batch, this rank keeping its rows (:class:`SliceDraws`)."""
        self._draws = SliceDraws(rng)
        return self._draws

    def part(self, m: int) -> slice:
        """This rank's rows of a global batch of m: ⌊rm/K⌋ to ⌊(r+1)m/K⌋ (also the rows its dropout masks keep)."""
        part = slice(self.rank * m // self.size, (self.rank + 1) * m // self.size)
        if self._draws is not None:
            self._draws.part, self._draws.total = part, m
        return part

    def reduce(self, step: Step, cost: float, rows: Any, part: slice, weights: Any) -> float:
        """Sum (gradient, cost) × this rank's share over the ranks and step with the sum (one
        ``Allreduce``, :meth:`ReducedStep.reduce`); the whole batch's cost."""
        assert isinstance(step, ReducedStep)  # what step() made
        return step.reduce(cost, self.share(rows, part, weights))

    def share(self, rows: np.ndarray, part: slice, weights: np.ndarray | None) -> float:
        """The factor of this rank's (gradient, cost) in the global batch ``rows``' — its share of
        their mean: m_r / M, or Σ_{B_r} w / Σ_B w (0 if Σ_B w = 0); of a summed cost (reduction
        "sum"), 1: the batch's sum is the sum of the ranks' (0 for an empty slice)."""
        if self._summed:
            return 1.0 if part.stop > part.start else 0.0
        if weights is None:
            return float(part.stop - part.start) / len(rows)
        total = float(weights[rows].sum())
        return float(weights[rows[part]].sum()) / total if total > 0 else 0.0

    def broadcast(self, arrays: Sequence[np.ndarray]) -> None:
        """Rank 0's values of ``arrays`` (the parameters) on every rank, in place."""
        with self.watchdog.waiting("share rank 0's parameters"):
            for a in arrays:
                self.comm.Bcast(a, root=0)

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank (so that all stop at the same batch)."""
        self._flag[0] = flag
        self.watchdog.enter("agree whether to stop")
        try:
            self.comm.Allreduce(self._in_place, self._flag, op=self._max)
        finally:
            self.watchdog.leave()
        return bool(self._flag[0])

    @contextmanager
    def guard(self) -> Iterator[None]:
        """End the whole job if this rank fails while training (the others would wait for it in
        their next collective): print what happened and call ``MPI_Abort``. Divergence is decided
        from summed values, so every rank raises it together and it passes through."""
        try:
            yield
        except TrainingDivergedError:
            raise
        except BaseException as e:
            print(
                f"ffnn: rank {self.rank} of {self.size} stopped ({type(e).__name__}: {e}); ending the whole job.",
                file=sys.stderr,
                flush=True,
            )
            self.comm.Abort(abort_status(e))


def strategy_for(comm: Any, seconds: float = WATCHDOG_SECONDS) -> SingleProcess:
    """The training loop's strategy: :class:`DataParallel` over ``comm`` (an mpi4py communicator;
    a rank waits for the others at most ``seconds`` in a collective), or :class:`SingleProcess`
    without one."""
    return SingleProcess() if comm is None else DataParallel(comm, seconds)
