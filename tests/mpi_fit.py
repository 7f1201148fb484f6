"""Training cases for test_mpi.py, run by ``mpiexec -n K python tests/mpi_fit.py OUT`` (each rank
trains every case with ``fit(comm=MPI.COMM_WORLD)`` — or, for a ``stepped`` case, steps the loop
itself with the strategy ``DataParallel(MPI.COMM_WORLD)`` — and writes its parameters to
OUT/rank-R.npz) and imported by the test for the single-process runs of the same cases."""

import sys
from pathlib import Path

import numpy as np

import ffnn
from ffnn.distributed import strategy_for
from ffnn.training import Trainer

N = 205  # with batches of 17 the last batch has 1 row: one rank's slice of it is empty


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 8))
    return X, rng.integers(0, 3, N), rng.uniform(0.0, 2.0, N)


def jitter(X, rng):
    """An augmentation that draws from the shared generator: X + 0.1 N(0, 1)."""
    return X + 0.1 * rng.standard_normal(X.shape)


CASES = {  # name: (network keywords, fit keywords); every case on float64 and on float32
    "sgd-l2": ({}, {"eta": 0.5, "lmbda": 0.3}),
    "dropout-augment": ({"dropout": 0.3, "input_dropout": 0.1}, {"eta": 0.5, "augment": jitter}),
    "adam-weights": ({}, {"optimizer": "adam", "weights": True}),
    "stepped-dropout-weights": ({"dropout": 0.3}, {"eta": 0.5, "lmbda": 0.3, "weights": True, "stepped": True}),
    "no-biases": ({"bias": False}, {"eta": 0.5, "lmbda": 0.3}),  # issue 23's layers
    "summed-cost-weights": (
        {"reduction": "sum"},
        {"eta": 0.02, "lmbda": 0.3, "weights": True},
    ),  # each rank's sum, summed
}


def train(name, dtype, comm=None):
    """Case ``name`` trained from seed 1 for 3 epochs of batches of 17; its network and history."""
    net_kw, fit_kw = CASES[name]
    X, y, w = data()
    fit_kw = dict(fit_kw)
    if fit_kw.pop("optimizer", None):
        fit_kw["optimizer"] = ffnn.optimizers.adam(0.01)
    sample_weight = w if fit_kw.pop("weights", False) else None
    net = ffnn.Network([8, 16, 3], cost="cross_entropy", dtype=dtype, seed=1, **net_kw)
    if fit_kw.pop("stepped", False):  # the loop, one mini-batch at a time, with the strategy
        strategy = strategy_for(comm)  # DataParallel(comm), or SingleProcess() without one
        trainer = Trainer(net, X, y, epochs=3, batch_size=17, seed=5, test_data=(X, y),
                          sample_weight=sample_weight, strategy=strategy, **fit_kw)  # fmt: skip
        while not trainer.done:
            trainer.step()
        return net, trainer.history
    history = ffnn.fit(
        net, X, y, epochs=3, batch_size=17, seed=5, test_data=(X, y), sample_weight=sample_weight, comm=comm, **fit_kw
    )
    return net, history


if __name__ == "__main__":
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    arrays = {}
    for name in CASES:
        for dtype in ("float64", "float32"):
            net, history = train(name, dtype, comm)
            for i, p in enumerate(net.parameters()):
                arrays[f"{name}/{dtype}/{i}"] = p
            arrays[f"{name}/{dtype}/cost"] = np.array(history.train_cost)
    np.savez(Path(sys.argv[1]) / f"rank-{comm.Get_rank()}.npz", **arrays)
