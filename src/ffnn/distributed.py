"""Data-parallel training over MPI (the Horovod pattern): K processes, one model, one update.

Every rank holds the whole training set and the same seeded random generator, so all walk the
same shuffled order. A global mini-batch B of M rows (``batch_size``) is cut into K contiguous
slices, rank r taking rows ⌊rM/K⌋ … ⌊(r+1)M/K⌋ − 1 (sizes differ by at most one; a slice may be
empty when M < K). Rank r backpropagates its slice B_r and contributes its share of the batch mean,

    g_r = (1/M) Σ_{x∈B_r} ∇C_x = (m_r/M) · ḡ_r,        Σ_r g_r = (1/M) Σ_{x∈B} ∇C_x = ∇C_B,

ḡ_r being the mean over its m_r rows; with sample weights the factor is Σ_{B_r} w / Σ_B w, so
the sum is the weighted mean (0 when Σ_B w = 0). One ``Allreduce`` of one flat buffer — every
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
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

import numpy as np

from ffnn.backprop import Workspace
from ffnn.errors import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USAGE, FFNNError, ParameterError, TrainingDivergedError
from ffnn.network import Network
from ffnn.optimizers import Optimizer, Params
from ffnn.steps import OptimizerStep, SGDStep, Step

T = TypeVar("T")
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


def abort(status: int) -> None:
    """End every process of the MPI job with ``status`` (``MPI_Abort``), if this one runs MPI: a
    rank that gives up alone would leave the others waiting for it."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
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


def on_root(comm: Any, action: Callable[[], T]) -> T | None:
    """``action()`` on rank 0 only (None elsewhere); if it fails, every rank raises, so that none
    goes on to wait in a collective for a rank that gave up."""
    if comm is None:
        return action()
    result, failure = None, None
    if comm.Get_rank() == 0:
        try:
            result = action()
        except BaseException as e:  # Ctrl-C too: the others must not wait for a broadcast that never comes
            failure = e
    message = comm.bcast(None if failure is None else str(failure), root=0)
    if failure is not None:
        raise failure
    if message is not None:
        raise FFNNError(f"rank 0 failed: {message}")
    return result


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

    def __init__(self, params: list[np.ndarray], ws: Workspace, optimizer: Optimizer, comm: Any) -> None:
        from mpi4py import MPI  # loaded already: the caller holds a communicator

        local = ws.gradients()
        self.flat = np.zeros(sum(g.size for g in local) + 1, local[0].dtype)  # + the cost
        ends = np.cumsum([0, *(g.size for g in local)])
        views = [self.flat[a:b].reshape(g.shape) for a, b, g in zip(ends[:-1], ends[1:], local)]
        ws.nabla_w[:], ws.nabla_b[:] = views[0::2], views[1::2]  # gradients() is [w¹, b¹, w², b², …]
        super().__init__(params, ws, optimizer)
        self.comm, self._in_place = comm, MPI.IN_PLACE

    def reduce(self, cost: float, share: float) -> float:
        """Sum share · (gradient, cost) over the ranks, step with the summed gradient; return the batch's cost."""
        if share:
            self.flat[:-1] *= share
        else:  # an empty slice, or one whose weights are all 0: nothing (the buffer may hold NaN)
            self.flat.fill(0.0)
        self.flat[-1] = cost * share
        self.comm.Allreduce(self._in_place, self.flat)
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
        return SGDStep(network.weights, network.biases, eta, decay, network.backend, ws if keep else None)

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
    methods as :class:`SingleProcess`, each doing its part of the job over MPI."""

    def __init__(self, comm: Any) -> None:
        from mpi4py import MPI  # loaded already: the caller holds a communicator

        self.comm, self.rank, self.size = comm, int(comm.Get_rank()), int(comm.Get_size())
        self._max, self._in_place = MPI.MAX, MPI.IN_PLACE
        self._flag = np.zeros(1, np.int32)
        self._draws: SliceDraws | None = None

    def same_seed(self, seed: int | None) -> Any:
        """Rank 0's seed — drawn from the system's entropy there when None — on every rank."""
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
        return ReducedStep(network.parameters(), ws, optimizer or sources_sgd(eta, decay), self.comm)

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
        """This rank's share of the global batch ``rows``' mean: m_r / M, or Σ_{B_r} w / Σ_B w (0 if Σ_B w = 0)."""
        if weights is None:
            return float(part.stop - part.start) / len(rows)
        total = float(weights[rows].sum())
        return float(weights[rows[part]].sum()) / total if total > 0 else 0.0

    def broadcast(self, arrays: Sequence[np.ndarray]) -> None:
        """Rank 0's values of ``arrays`` (the parameters) on every rank, in place."""
        for a in arrays:
            self.comm.Bcast(a, root=0)

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank (so that all stop at the same batch)."""
        self._flag[0] = flag
        self.comm.Allreduce(self._in_place, self._flag, op=self._max)
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


def strategy_for(comm: Any) -> SingleProcess:
    """The training loop's strategy: :class:`DataParallel` over ``comm`` (an mpi4py communicator),
    or :class:`SingleProcess` without one."""
    return SingleProcess() if comm is None else DataParallel(comm)
