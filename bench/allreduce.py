"""How long one in-place ``Allreduce`` (sum) of a float32 buffer takes, from 1 KB to 32 MB — the
cost data-parallel training (``ffnn.distributed``) adds to every step.

Usage: ``mpiexec -n 2 python bench/allreduce.py [--repeats 50]`` (the mpiexec of the ``mpi``
extra); rank 0 prints a table: bytes, float32 count, median µs per call, GB/s of buffer.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from mpi4py import MPI

SIZES = [2**k for k in range(10, 26, 1)]  # bytes: 1 KB to 32 MB


def allreduce_seconds(comm: MPI.Comm, n_bytes: int, repeats: int) -> float:
    """The median time of an in-place Allreduce of n_bytes of float32, after warming up."""
    buf = np.ones(n_bytes // 4, np.float32)
    times = []
    for r in range(repeats + 3):
        comm.Barrier()
        start = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf)
        if r >= 3:
            times.append(time.perf_counter() - start)
    return float(comm.allreduce(statistics.median(times), op=MPI.MAX))  # the slowest rank's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    rows = [(n, allreduce_seconds(comm, n, args.repeats)) for n in SIZES]
    if comm.Get_rank() == 0:
        print(f"# {comm.Get_size()} ranks, {MPI.Get_library_version().splitlines()[0]}")
        print("| bytes | float32 values | µs per Allreduce | GB/s |")
        print("|---:|---:|---:|---:|")
        for n, s in rows:
            print(f"| {n:,} | {n // 4:,} | {1e6 * s:.1f} | {n / s / 1e9:.2f} |")


if __name__ == "__main__":
    main()
