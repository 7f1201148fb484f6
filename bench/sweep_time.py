"""``ffnn sweep`` of 8 runs: one run at a time, two at a time, and on a Dask LocalCluster of two
worker processes (one thread each), in one process, each into a fresh sweep folder.

The grid is eta = 0.5, 1, 2, 3 × hidden = 30, 100 of a recipe (default nielsen-ch1: MNIST,
784-h-10 sigmoid, SGD batch 10), for a few epochs. Each line is the wall time of the whole
``ffnn sweep`` command (its start, the 8 runs' processes, the table), as a user waits for it; the
cluster is started before its clock starts and its start-up is reported apart. The runs' own
training seconds (their summaries' sum) show what the processes spent on top. A line also checks
that the three sweeps found the same accuracies.

Usage:

    python bench/sweep_time.py [--recipe nielsen-ch1] [--epochs 3] [--repeats 1]
    python bench/sweep_time.py --short        # moons, 3 epochs: a check that it runs, in seconds

Extra ``ffnn sweep`` arguments after ``--`` go to every sweep (``-- --batch-size 32``).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = ["--grid", "eta=0.5,1,2,3", "--grid", "hidden=30,100"]
SHORT = ["--dataset", "moons"]


def sweep(arguments: list[str], out: Path) -> tuple[float, list[dict[str, str]]]:
    """Wall seconds of one ``ffnn sweep`` into ``out``, and its table's rows."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ffnn", "sweep", *arguments, "--out", str(out)], capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"ffnn sweep failed ({done.returncode}): {done.stderr.strip()}")
    with open(out / "sweep.csv", newline="") as f:
        return seconds, list(csv.DictReader(f))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="nielsen-ch1")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1, help="sweeps of each kind; the median is reported")
    parser.add_argument("--short", action="store_true", help="moons instead of the recipe: a quick check")
    parser.add_argument("extra", nargs="*", help="more ffnn sweep arguments (after --)")
    args = parser.parse_args()
    base = [*(SHORT if args.short else ["--recipe", args.recipe]), "--epochs", str(args.epochs), *GRID, *args.extra]

    from dask.distributed import LocalCluster

    import ffnn
    from ffnn import threads

    cores = threads.cores()
    print(f"# ffnn {ffnn.__version__}, Python {platform.python_version()}, {platform.machine()}, {cores} cores")
    print(f"# ffnn sweep {' '.join(base)}  (8 runs; median of {args.repeats})\n")
    started = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    cluster_start = time.perf_counter() - started
    kinds = {
        "1 worker": (["--workers", "1"], cores),
        "2 workers": (["--workers", "2"], max(1, cores // 2)),
        "Dask LocalCluster, 2 workers × 1 thread": (["--scheduler", cluster.scheduler_address], max(1, cores // 2)),
    }
    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix="sweep-time-") as tmp:
            for repeat in range(args.repeats):
                for i, (kind, (how, _)) in enumerate(kinds.items()):
                    seconds, rows = sweep([*base, *how], Path(tmp) / f"{repeat}-{i}")
                    results.setdefault(kind, []).append((seconds, rows))
    finally:
        cluster.close()
    first = None
    print("| how | BLAS threads per run | wall s | runs' training s | speed-up over 1 worker |")
    print("|---|---:|---:|---:|---:|")
    for kind, (_, blas) in kinds.items():
        wall = statistics.median(s for s, _ in results[kind])
        trained = statistics.median(sum(float(r["seconds"] or 0) for r in rows) for _, rows in results[kind])
        first = first or wall
        print(f"| {kind} | {blas} | {wall:.1f} | {trained:.1f} | {first / wall:.2f} |")
    print(f"\nThe cluster's start (not counted above): {cluster_start:.1f} s")
    scores = {
        kind: sorted((r["eta"], r["hidden"], r["best_test_accuracy"]) for r in runs[0][1])
        for kind, runs in results.items()
    }
    same = len({tuple(v) for v in scores.values()}) == 1
    print(f"Same best accuracies in the three sweeps: {'yes' if same else 'NO'}")
    if os.environ.get("OPENBLAS_NUM_THREADS"):
        print(
            f"(OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']} in this environment: ffnn sweep sets its own)"
        )


if __name__ == "__main__":
    main()
