"""Epoch time of data-parallel training against the number of processes K, for the networks of
``bench/epoch_time.py`` (60,000 random examples, sigmoid layers, quadratic cost, plain SGD,
float32), next to the model

    T(K) = T(1) / K + steps × t_allreduce(4P bytes),        steps = ⌈60000 / batch⌉,

P the network's parameter count and t_allreduce measured here on a buffer of that size.

Usage: ``python bench/scaling.py`` for K = 1, ``mpiexec -n K python bench/scaling.py --t1 T,T,…``
for K ranks (T(1) of each configuration, from the K = 1 run, for the model's column and the
ratio T(K) / T(1)). Each rank takes its share of the cores as BLAS threads by itself
(``ffnn.threads``: ⌊cores / K⌋). Rank 0 prints the table.
``python bench/scaling.py --data-parallel-path`` trains one process through the data-parallel
step (stored gradient, flat buffer, the collectives over one rank): its cost per step beside
the fused single-process step.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

import ffnn
from epoch_time import CONFIGS, ETA, N_EXAMPLES
from ffnn.distributed import world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="epochs per configuration (the median is kept)")
    parser.add_argument("--t1", default=None, help="comma-separated K = 1 epoch times, one per configuration")
    parser.add_argument(
        "--data-parallel-path",
        action="store_true",
        help="with one process: train through the data-parallel step all the same (its own cost per step)",
    )
    args = parser.parse_args()
    comm = world()
    if comm is None and args.data_parallel_path:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    k = 1 if comm is None else comm.Get_size()
    t1 = [float(t) for t in args.t1.split(",")] if args.t1 else [None] * len(CONFIGS)
    rng = np.random.default_rng(0)
    X = rng.random((N_EXAMPLES, 784), dtype=np.float32)
    y = rng.integers(0, 10, N_EXAMPLES)
    rows = []
    for (sizes, batch), single in zip(CONFIGS, t1):
        net = ffnn.Network(sizes, seed=0, dtype="float32")
        times = [
            ffnn.fit(net, X, y, epochs=1, batch_size=batch, eta=ETA, seed=r, comm=comm).seconds[0]
            for r in range(args.repeats + 1)
        ]
        epoch = statistics.median(times[1:])  # the first warms up
        params = sum(p.size for p in net.parameters())
        steps = -(-N_EXAMPLES // batch)
        reduce = reduction_seconds(comm, params + 1) if comm is not None else 0.0
        model = None if single is None else single / k + steps * reduce
        rows.append((sizes, batch, params, steps, reduce, epoch, model))
    if comm is None or comm.Get_rank() == 0:
        print(f"# K = {k}")
        print(
            "| sizes | batch | parameters | steps | µs per Allreduce | epoch s (measured) | epoch s (model) "
            "| measured / K = 1 |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for (sizes, batch, params, steps, reduce, epoch, model), single in zip(rows, t1):
            shown = "—" if model is None else f"{model:.2f}"
            ratio = "—" if single is None else f"**{epoch / single:.2f}**"
            print(
                f"| {sizes} | {batch} | {params:,} | {steps:,} | {1e6 * reduce:.0f} | {epoch:.2f} | {shown} | {ratio} |"
            )


def reduction_seconds(comm, n: int) -> float:
    """One training step's Allreduce (n float32 values: the gradient and the cost), as
    ``bench/allreduce.py`` times it (imported here: it needs mpi4py, which K = 1 does without)."""
    from allreduce import allreduce_seconds

    return allreduce_seconds(comm, 4 * n, repeats=200)


if __name__ == "__main__":
    main()
