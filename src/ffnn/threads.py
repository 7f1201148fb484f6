"""How many BLAS threads ffnn's matrix products run on: one rule, decided once per fit.

NumPy hands every product to its BLAS (OpenBLAS in NumPy's wheels), which splits a product over
its own pool of threads. Two things make that pool a poor guest on a busy machine:

- **Handing off a small product costs more than it saves.** OpenBLAS splits any product of
  more than 2¹⁸ multiply-adds (m·n·k) between threads, but gives those of up to 10⁶ to a
  one-thread "small-matrix" kernel — except products ``A Bᵀ`` with more than 1,200 outputs.
  ffnn's forward product ``a^{l−1} (w^l)ᵀ`` is of that form (the weights are stored
  (n_out, n_in), as the sources write them), so a 200×40 by 40×100 product is split between
  two threads, and the caller waits for the other thread's half. When other processes keep
  the cores busy, that thread may not run for a whole scheduler time slice: 12 ms instead of
  15 µs (``docs/design.md``). scikit-learn's MLP stores its weights (n_in, n_out), so the same
  product never leaves its caller's thread.
- **Woken threads spin.** After a threaded product, OpenBLAS's threads busy-wait for the next
  one for about 0.1 s: a process that uses two threads now and then holds two cores all along.

So every fit decides once, before its first batch, how many threads its products get
(:func:`for_fit`), and runs with the BLAS pools at that size (:func:`limited`), putting them back
as it found them when it ends. The rule:

1. **The threads a process may use:** the ``threads`` setting (``--threads``, ``threads=`` of
   ``fit``, ``n_threads`` of the estimators) when it is ≥ 1, else ``FFNN_THREADS`` in the
   environment when it is ≥ 1, else automatic: the cores this process may run on, divided
   among the K processes of an MPI job (⌊cores / K⌋, at least 1), and never more than the BLAS
   is limited to already — a caller's limit (joblib's workers, ``threadpoolctl``,
   ``OPENBLAS_NUM_THREADS``) is kept. A number that puts more threads on the machine than it
   has cores (K × threads > cores) is used, with a warning.
2. **The threads a fit's products get:** that number, but no more than one per 2²³/itemsize
   multiply-adds of the fit's largest product (2²¹ in float32, 2²⁰ in float64: about 30 µs of
   one core's work) — rows per process × n_in × n_out of its widest layer. Below that a
   product gains less from a second thread than the hand-off costs, so small networks run on
   one thread and wake no other.
3. ``ffnn serve`` answers each request on one thread (``FFNN_THREADS`` may say otherwise): its
   server's workers are the parallelism, and a tiny product split between them waits on a pool
   they all share.

The pools are those ``threadpoolctl`` finds (every BLAS loaded: OpenBLAS, MKL, BLIS), the
library scikit-learn and joblib use to set and read the same limits.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ffnn._validation import check_number
from ffnn.errors import SettingError

VARIABLE = "FFNN_THREADS"
WORK_PER_THREAD_BYTES = 2**23  # multiply-adds × itemsize of one product per thread: 2²¹ float32, 2²⁰ float64


@dataclass(frozen=True)
class Plan:
    """A fit's decision: ``threads`` for its products; ``warning`` when the processes' threads
    outnumber the cores (None otherwise)."""

    threads: int
    warning: str | None = None


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def requested(threads: Any = None) -> int | None:
    """The threads asked for: ``threads`` (the setting or argument) when ≥ 1, else ``FFNN_THREADS``
    when ≥ 1, else None (automatic). 0, None and an empty variable mean automatic."""
    if threads is not None and check_number(threads, "threads", low=0, strict=False, integer=True):
        return int(threads)
    text = os.environ.get(VARIABLE, "").strip()
    if not text.isdecimal():
        if text:
            raise SettingError(f"{VARIABLE} must be an integer >= 0 (0 or empty: automatic); got {text!r}.")
        return None
    return int(text) or None


def per_process(cores: int, processes: int, requested: int | None) -> Plan:
    """The threads each of ``processes`` processes on ``cores`` cores may use: ``requested``, or
    ⌊cores / processes⌋ (at least 1); with a warning when processes × threads > cores."""
    share = max(1, cores // processes)
    threads = requested or share
    if processes * threads <= cores:
        return Plan(threads)
    turns = "they take turns, and each product waits for the slowest."
    if processes > cores:
        return Plan(threads, f"{processes} processes on {cores} cores: {turns} Start at most {cores}.")
    who = f"{processes} processes × {threads} threads" if processes > 1 else f"{threads} threads"
    return Plan(
        threads,
        f"{who} = {processes * threads} BLAS threads on {cores} cores: {turns} Set threads to {share} "
        "(--threads, FFNN_THREADS), or leave it automatic.",
    )


def for_products(threads: int, work: int, itemsize: int) -> int:
    """Of ``threads``, those a product of ``work`` multiply-adds (m·n·k) of ``itemsize`` bytes
    gains from: one per ``WORK_PER_THREAD_BYTES / itemsize`` of them, at least one."""
    return max(1, min(threads, work * itemsize // WORK_PER_THREAD_BYTES))


def for_fit(
    layers: Sequence[tuple[int, int]], rows: int, itemsize: int, threads: Any = None, processes: int = 1
) -> Plan:
    """The threads of a fit whose ``layers`` are (n_in, n_out) pairs and whose products have
    ``rows`` rows (a process's share of a batch), in ``itemsize``-byte floats: see the module's rule."""
    asked = requested(threads)
    find_pools()
    plan = per_process(cores(), processes, asked)
    available = plan.threads if asked else min(plan.threads, current() or plan.threads)
    work = rows * max(n_in * n_out for n_in, n_out in layers)
    return Plan(for_products(available, work, itemsize), plan.warning)


def for_serve() -> int:
    """The threads of ``ffnn serve``'s products: ``FFNN_THREADS``, else one per server worker."""
    asked = requested() or 1
    find_pools()
    return asked


# -- the pools ------------------------------------------------------------------------------------

_LOCK = threading.Lock()
_pools: list[Any] | None = None  # threadpoolctl's controllers of the loaded BLAS libraries (:func:`find_pools`)
_saved: dict[str, tuple[Any, int]] = {}  # library → (its controller, its size before the limits now in force)
_depth = 0  # limits now in force (fits in several threads of one process)
_applied = threading.local()  # .threads: the size the latest limited() block of each thread set


def find_pools() -> list[Any]:
    """The BLAS libraries loaded in this process now (NumPy's among them), looked for again: once
    per fit planned, as a library loaded since (SciPy's) would be missed (~0.1 ms)."""
    global _pools
    from threadpoolctl import ThreadpoolController

    pools = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    with _LOCK:
        _pools = pools
    return pools


def libraries() -> list[dict[str, Any]]:
    """The BLAS libraries loaded in this process, as threadpoolctl names them: ``name`` (its
    ``internal_api``: openblas, mkl, blis), ``version``, ``threading_layer`` (pthreads, openmp, …)
    and ``architecture`` (the CPU kernels it chose), each None where the library does not say."""
    return [{key: info.get(field) for key, field in _LIBRARY_FIELDS} for info in (pool.info() for pool in find_pools())]


_LIBRARY_FIELDS = (
    ("name", "internal_api"),
    ("version", "version"),
    ("threading_layer", "threading_layer"),
    ("architecture", "architecture"),
)


def applied() -> int | None:
    """The threads the latest :func:`limited` block entered in the calling thread set the BLAS to
    — a fit's products on NumPy's backend, which decides once and holds that size while it trains
    (None before any)."""
    return getattr(_applied, "threads", None)


def current() -> int | None:
    """The fewest threads any loaded BLAS may use (None where none is found): now, or, while a
    fit's limit is in force (in another thread), before it."""
    pools = _pools if _pools is not None else find_pools()
    with _LOCK:
        sizes = [_saved[p.filepath][1] if p.filepath in _saved else p.get_num_threads() for p in pools]
    return min((n for n in sizes if n), default=None)


@contextlib.contextmanager
def limited(threads: int) -> Iterator[None]:
    """The BLAS pools at ``threads`` threads inside the block, as they were before once the last
    block that was open ends (blocks may be open in several threads at once: the latest size holds)."""
    global _depth
    pools = _pools if _pools is not None else find_pools()
    with _LOCK:
        for pool in pools:
            _saved.setdefault(pool.filepath, (pool, pool.get_num_threads()))
            if pool.get_num_threads() != threads:
                pool.set_num_threads(threads)
        _depth += 1
    _applied.threads = threads
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if not _depth:
                for pool, size in _saved.values():
                    if size and pool.get_num_threads() != size:
                        pool.set_num_threads(size)
                _saved.clear()
