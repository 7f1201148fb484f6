"""One training epoch, ffnn against PyTorch on the CPU, side by side in one process.

Each configuration trains on 60,000 random 784-feature examples with random labels (no
download): sigmoid layers, the quadratic cost C = 1/2n Σ‖a − y‖², plain mini-batch SGD, float32,
the same thread count for both. Epochs alternate between the two (ffnn, torch, ffnn, torch, ...)
and the medians are compared. Alongside, it measures

- the machine's float32 matrix-product throughput (GFLOP/s of a large square product),
- for each configuration, the GEMM peak at its own shapes: the GFLOP/s of plain float32 products
  of the sizes one batch computes (forward, BP4 and BP2 of every layer, each ``matmul(a, b,
  out=c)`` on row-major operands as stored, the same threads), best of 3 — ffnn's epoch GFLOP/s
  is given as a share of it, the goal being ≥ 85 % on [784, 800, 10] batch 128 with two threads;
- for each configuration, the time of the epoch's matrix products alone — the same calls on the
  same shapes — so the rest of an epoch (element-wise work, gathers, Python) shows as the gap.

ffnn runs with its own thread rule (``ffnn.threads``: at most ``--threads``, one for a network
too small to gain from more); PyTorch with ``--threads``.

Usage: ``python bench/epoch_time.py [--threads 2] [--repeats 5] [--configs 0,3]``
(``make bench`` installs PyTorch and runs it). ``--backend torch --device cuda`` or
``--backend cupy`` trains ffnn on that backend (``ffnn.backends``) and PyTorch on the same device;
the throughput and "products alone" columns stay NumPy's, on the CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

CONFIGS = [  # (sizes, batch size)
    ([784, 30, 10], 10),
    ([784, 100, 10], 32),
    ([784, 100, 10], 128),
    ([784, 392, 196, 10], 32),
    ([784, 800, 10], 128),
]
N_EXAMPLES = 60_000
ETA = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="epochs per contender and configuration")
    parser.add_argument("--configs", default=None, help="comma-separated indices into the list of configurations")
    parser.add_argument("--backend", default="numpy", help="ffnn's backend: numpy, torch, cupy, array_api_strict")
    parser.add_argument("--device", default=None, help="the torch backend's device (cpu, cuda); PyTorch's too")
    args = parser.parse_args()
    # Thread counts must be fixed before NumPy's BLAS starts; the user's own settings win.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))

    import numpy as np
    import torch

    import ffnn

    torch.set_num_threads(args.threads)
    chosen = CONFIGS if args.configs is None else [CONFIGS[int(i)] for i in args.configs.split(",")]
    rng = np.random.default_rng(0)
    X = rng.random((N_EXAMPLES, 784), dtype=np.float32)
    y = rng.integers(0, 10, N_EXAMPLES)
    peak = matmul_peak(np)

    versions = f"ffnn {ffnn.__version__}, NumPy {np.__version__}, PyTorch {torch.__version__}"
    print(f"# {versions}, Python {platform.python_version()}")
    print(
        f"# {platform.processor() or platform.machine()}, threads={args.threads}, "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )
    print(f"# float32 matrix-product throughput (NumPy, 2048³): {peak:.0f} GFLOP/s")
    torch_device = args.device or ("cuda" if args.backend == "cupy" else "cpu")  # PyTorch where ffnn's arrays are
    print(f"# ffnn backend: {args.backend}, device: {args.device or 'default'}; PyTorch on {torch_device}\n")
    columns = ["sizes", "batch", "ffnn s/epoch", "PyTorch s/epoch", "ratio ffnn/PyTorch", "ffnn GFLOP/s (% of peak)"]
    columns += ["GEMM peak at these shapes GFLOP/s", "ffnn % of it", "products alone s"]
    print("| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    for sizes, batch in chosen:
        ffnn_times, torch_times = [], []
        net = ffnn.Network(sizes, seed=0, backend=args.backend, device=args.device)
        model, optimizer, X_t, Y_t = torch_setup(torch, sizes, X, y, torch_device)
        for r in range(args.repeats + 1):  # the first round warms both up and is dropped
            t_ffnn = ffnn.fit(net, X, y, epochs=1, batch_size=batch, eta=ETA, seed=r).seconds[0]
            t_torch = torch_epoch(torch, model, optimizer, X_t, Y_t, batch, seed=r)
            if r:
                ffnn_times.append(t_ffnn)
                torch_times.append(t_torch)
        f, t = statistics.median(ffnn_times), statistics.median(torch_times)
        flops = epoch_flops(sizes, N_EXAMPLES)
        products = products_alone(np, sizes, batch)
        shape_peak = gemm_peak(np, sizes, batch)
        rate = flops / f / 1e9
        print(
            f"| {sizes} | {batch} | {f:.3f} | {t:.3f} | **{f / t:.2f}** | {rate:.0f} ({100 * rate / peak:.0f} %) | "
            f"{shape_peak:.0f} | **{100 * rate / shape_peak:.0f} %** | {products:.3f} |",
            flush=True,
        )


def matmul_peak(np, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an n×n×n float32 product, best of ``repeats``."""
    a = np.ones((n, n), np.float32)
    out = np.empty_like(a)
    best = min(timed(lambda: np.matmul(a, a, out=out)) for _ in range(repeats + 1))
    return 2 * n**3 / best / 1e9


def gemm_peak(np, sizes: list[int], batch: int, flops_per_round: float = 2e9) -> float:
    """GFLOP/s of plain float32 products of the shapes one batch computes — forward
    (batch, n_in) × (n_in, n_out), BP4 (n_out, batch) × (batch, n_in) and, for all but the first
    layer, BP2 (batch, n_out) × (n_out, n_in) — every operand row-major as stored (no transpose),
    repeated to about ``flops_per_round`` floating-point operations, best of 3."""
    rng = np.random.default_rng(2)
    products = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes = [(batch, n_in, n_out), (n_out, batch, n_in)] + ([(batch, n_out, n_in)] if l else [])
        for m, k, n in shapes:
            a, b = rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32)
            products.append((a, b, np.empty((m, n), np.float32)))
    per_batch = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b, _ in products)
    rounds = max(1, int(flops_per_round / per_batch))

    def run() -> None:
        for _ in range(rounds):
            for a, b, c in products:
                np.matmul(a, b, out=c)

    return rounds * per_batch / min(timed(run) for _ in range(3)) / 1e9


def epoch_flops(sizes: list[int], n: int) -> int:
    """Multiply-adds ×2 of one epoch: z = a wᵀ and ∂C/∂w = δᵀ a for every layer, δ w for all but the first."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    per_example = sum(2 * 2 * i * o for i, o in pairs) + sum(2 * i * o for i, o in pairs[1:])
    return per_example * n


def products_alone(np, sizes: list[int], batch: int) -> float:
    """Seconds for one epoch's matrix products alone, in the order and shapes backprop uses."""
    rng = np.random.default_rng(1)
    w = [rng.random((o, i), dtype=np.float32) for i, o in zip(sizes[:-1], sizes[1:])]
    a = [rng.random((batch, s), dtype=np.float32) for s in sizes]
    d = [np.empty((batch, s), np.float32) for s in sizes]
    g = [np.empty_like(x) for x in w]

    def epoch() -> None:
        for _ in range(N_EXAMPLES // batch):
            for l, wl in enumerate(w):
                np.matmul(a[l], wl.T, out=a[l + 1])
            for l in range(len(w), 0, -1):
                np.matmul(a[l].T, a[l - 1], out=g[l - 1])
                if l > 1:
                    np.matmul(a[l], w[l - 1], out=d[l - 1])

    return min(timed(epoch) for _ in range(3))


def torch_setup(torch, sizes, X, y, device):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=ETA)
    Y = torch.nn.functional.one_hot(torch.from_numpy(y), sizes[-1]).float()
    return model, optimizer, torch.from_numpy(X).to(device), Y.to(device)


def torch_epoch(torch, model, optimizer, X, Y, batch: int, seed: int) -> float:
    """One epoch the idiomatic PyTorch way: shuffle, gather, forward, loss, backward, step."""
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    order = torch.randperm(len(X), generator=generator).to(X.device)
    for i in range(0, len(X), batch):
        idx = order[i : i + batch]
        a = model(X[idx])
        loss = 0.5 * ((a - Y[idx]) ** 2).sum(dim=1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if X.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def timed(f) -> float:
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
