"""Write the ffnn 0.1 run folders kept as test data (see README.md here for the exact command).

Each run in ``RUNS`` (one per update rule of 0.1, with the schedules, transforms and callbacks
that give each part of its state a value) is trained to the end, float64, with a checkpoint after
every epoch. Kept of it, in ``<name>/``: the run's ``config.toml``, its checkpoint of epoch
``MID`` (``checkpoints/checkpoint-0000MID.npz``) and the final parameters of the uninterrupted
run (``final.npz``: ``arr_0``, ``arr_1``, … = w¹, b¹, w², b²). Resuming the folder must give those
parameters bit for bit (``tests/test_resume.py``).
"""

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from ffnn import run
from ffnn.serialization import load

HERE = Path(__file__).parent
MID = 1
XOR = {"dataset": "xor", "sizes": [2, 3, 1], "activation": "tanh", "cost": "quadratic", "batch_size": 2, "epochs": 4}
MOONS = {"dataset": "moons", "sizes": [2, 4, 2], "cost": "cross_entropy", "batch_size": 100, "validation": 200,
         "epochs": 6, "eta": 0.5, "init": "glorot"}  # fmt: skip
COMMON = {"dtype": "float64", "seed": 3, "checkpoint_every": 1, "keep_checkpoints": 10}
RUNS = {
    "sgd-l2": {**XOR, "eta": 0.5, "lmbda": 0.1},  # the fused step: no optimiser state
    "sgd-step-clip": {**XOR, "eta": 0.5, "schedule": "step", "step_every": 2, "clip_norm": 1.0},
    "momentum": {**XOR, "optimizer": "momentum", "eta": 0.1, "momentum": 0.8},
    "nesterov-l2": {**XOR, "optimizer": "nesterov", "eta": 0.1, "weight_decay": 0.01},
    "rmsprop-cosine": {**XOR, "optimizer": "rmsprop", "eta": 0.01, "schedule": "cosine", "warmup_epochs": 1},
    "adam-exponential": {**XOR, "optimizer": "adam", "eta": 0.05, "schedule": "exponential"},
    "adamw-clip": {**XOR, "optimizer": "adamw", "eta": 0.05, "weight_decay": 0.1, "clip_norm": 0.5},
    "momentum-halving-stopping": {
        **MOONS,
        "optimizer": "momentum",
        "schedule": "halve-on-plateau",
        "plateau_patience": 1,
        "patience": 2,
        "dropout": 0.2,
    },
}


def make(name: str, settings: dict[str, object], scratch: Path) -> None:
    """Train run ``name`` in ``scratch`` and keep its config, checkpoint ``MID`` and final parameters."""
    folder = scratch / name
    run.train({**COMMON, **settings}, folder, quiet=True)
    out = HERE / name
    shutil.rmtree(out, ignore_errors=True)
    (out / "checkpoints").mkdir(parents=True)
    np.savez(out / "final.npz", *load(folder / "model.npz").parameters())
    shutil.copy(folder / "config.toml", out / "config.toml")
    kept = f"checkpoints/checkpoint-{MID:05d}.npz"
    shutil.copy(folder / kept, out / kept)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        for name, settings in RUNS.items():
            make(name, settings, Path(scratch))
    sys.exit(0)
