"""Training while other processes keep the BLAS busy: FFNNClassifier against MLPClassifier and PyTorch.

The problem of issue 22: 5,000 examples × 40 features, 4 classes (``make_classification``,
``random_state=0``), one hidden layer of 100 ReLU units, Adam, batches of 200 — each library's
defaults otherwise, and each computing in the data's dtype (float32 and float64 in turn). Beside
them, ``--load`` other processes (2 by default) multiply 1024×1024 float32 matrices in a loop
with ``--load-threads`` BLAS threads each (2). Each contender trains ``--epochs`` epochs
(neither stops early), ``--repeats`` times, in turn; the table gives the median milliseconds
per epoch (the fit's wall time ÷ epochs). Every contender runs with its library's default
threads, as a user would run it.

Before the table, the product at the heart of it, timed under the same load: a float32 200×40 by
40×100 product as ffnn's forward pass computes it (``matmul(a, w.T, out=z)``, w stored
(n_out, n_in)) and as MLPClassifier does (``a @ W``, W stored (n_in, n_out)), on 1 and on 2
BLAS threads (medians and means of 300: a stall shows in the mean first; ``--no-probe`` skips it).

Usage: ``python bench/contention.py [--epochs 20] [--repeats 3] [--dtypes float32,float64]``
(``--load 0``: a quiet machine, for comparison).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

LOAD = """
import os, sys
import numpy as np
a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
out = np.empty_like(a)
print("ready", flush=True)
while True:
    np.matmul(a, a, out=out)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--load", type=int, default=2, help="processes multiplying 1024² matrices meanwhile")
    parser.add_argument("--load-threads", type=int, default=2, help="BLAS threads of each of them")
    parser.add_argument("--no-probe", action="store_true", help="skip the single product's timings")
    args = parser.parse_args()

    import numpy as np
    import sklearn
    import torch
    from sklearn.datasets import make_classification
    from sklearn.exceptions import ConvergenceWarning

    import ffnn

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    X, y = make_classification(n_samples=5000, n_features=40, n_informative=20, n_classes=4, random_state=0)  # float64
    print(f"# ffnn {ffnn.__version__}, scikit-learn {sklearn.__version__}, PyTorch {torch.__version__}, ", end="")
    print(f"NumPy {np.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores")
    print(f"# {args.load} other processes × {args.load_threads} BLAS threads multiplying 1024² float32 matrices")
    print(f"# PyTorch threads: {torch.get_num_threads()}; load average before: {os.getloadavg()[0]:.1f}")
    loads = start_load(args.load, args.load_threads)
    try:
        if not args.no_probe:
            probe(np)
        print("\n| dtype | ffnn ms/epoch | MLPClassifier ms/epoch | PyTorch ms/epoch | ffnn / MLP | ffnn / PyTorch |")
        print("|---|---|---|---|---|---|")
        for dtype in args.dtypes.split(","):
            Xd = X.astype(dtype)
            times: dict[str, list[float]] = {"ffnn": [], "mlp": [], "torch": []}
            for r in range(args.repeats):
                times["ffnn"].append(ffnn_epoch(Xd, y, args.epochs, r))
                times["mlp"].append(mlp_epoch(Xd, y, args.epochs, r))
                times["torch"].append(torch_epoch(torch, Xd, y, args.epochs, r))
            f, m, t = (1000 * statistics.median(times[k]) for k in ("ffnn", "mlp", "torch"))
            print(f"| {dtype} | {f:.1f} | {m:.1f} | {t:.1f} | **{f / m:.2f}** | **{f / t:.2f}** |", flush=True)
    finally:
        for p in loads:
            p.kill()
            p.wait()
    print(f"\n# load average after: {os.getloadavg()[0]:.1f}")


def start_load(count: int, threads: int) -> list[subprocess.Popen[str]]:
    """``count`` processes multiplying matrices with ``threads`` BLAS threads each, once they all run."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    procs = [
        subprocess.Popen([sys.executable, "-c", LOAD], env=env, stdout=subprocess.PIPE, text=True) for _ in range(count)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    if procs:
        time.sleep(1.0)  # their first products under way
    return procs


def probe(np) -> None:
    """The median time of one 200×40 by 40×100 float32 product, each way, on 1 and 2 BLAS threads."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 40), dtype=np.float32)
    w = rng.standard_normal((100, 40), dtype=np.float32)  # ffnn's layout: (n_out, n_in)
    W = np.ascontiguousarray(w.T)  # MLPClassifier's: (n_in, n_out)
    z = np.empty((200, 100), np.float32)
    print("\n| 200×40 by 40×100 float32, µs: median (mean) of 300 | 1 thread | 2 threads |")
    print("|---|---|---|")
    for name, product in (
        ("ffnn's forward: matmul(a, w.T, out=z)", lambda: np.matmul(a, w.T, out=z)),
        ("np.dot(a, w.T)", lambda: np.dot(a, w.T)),
        ("MLPClassifier's: a @ W", lambda: a @ W),
    ):
        cells = []
        for threads in (1, 2):
            with threadpool_limits(threads, user_api="blas"):
                times = [1e6 * timed(product) for _ in range(300)]
            cells.append(f"{statistics.median(times):.0f} ({statistics.fmean(times):.0f})")
        print(f"| {name} | {cells[0]} | {cells[1]} |", flush=True)


def ffnn_epoch(X, y, epochs: int, seed: int) -> float:
    from ffnn.sklearn import FFNNClassifier

    model = FFNNClassifier(max_iter=epochs, tol=None, random_state=seed)
    return timed(lambda: model.fit(X, y)) / model.n_iter_


def mlp_epoch(X, y, epochs: int, seed: int) -> float:
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, random_state=seed)
    return timed(lambda: model.fit(X, y)) / model.n_iter_


def torch_epoch(torch, X, y, epochs: int, seed: int) -> float:
    """The idiomatic loop: shuffle, forward, cross-entropy, backward, Adam's step; in X's dtype."""
    torch.manual_seed(seed)
    dtype = {"float32": torch.float32, "float64": torch.float64}[X.dtype.name]
    model = torch.nn.Sequential(torch.nn.Linear(40, 100), torch.nn.ReLU(), torch.nn.Linear(100, 4)).to(dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    loss = torch.nn.CrossEntropyLoss()

    def fit() -> None:
        for _ in range(epochs):
            order = torch.randperm(len(Xt))
            for i in range(0, len(Xt), 200):
                idx = order[i : i + 200]
                optimizer.zero_grad()
                loss(model(Xt[idx]), yt[idx]).backward()
                optimizer.step()

    return timed(fit) / epochs


def timed(f) -> float:
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
