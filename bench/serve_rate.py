"""``ffnn serve``: answers per second to 4 clients drawing at once, with the default BLAS threads
and with ``FFNN_THREADS`` at every core (how ``ffnn serve`` ran before issue 22: the BLAS's own
default).

A model of ``--sizes`` (random weights, softmax outputs; [784, 800, 10] by default) is saved to a
temporary folder and served by ``python -m ffnn serve`` on a free port; ``--clients`` threads
(4) each send ``POST /api/predict`` with a 28×28 JSON image over one kept-alive connection, as
fast as the answers come, for ``--seconds`` (10) after a second of warm-up. The table gives the
answers (status 200) per second for each setting of the threads, ``--repeats`` times in turn
(the median).

Usage: ``python bench/serve_rate.py [--seconds 10] [--clients 4] [--sizes 784,800,10]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="784,800,10")
    args = parser.parse_args()

    import numpy as np

    import ffnn

    sizes = [int(s) for s in args.sizes.split(",")]
    cores = os.cpu_count() or 1
    settings = {"default": None, f"FFNN_THREADS={cores} (as before)": str(cores)}
    print(f"# ffnn {ffnn.__version__}, NumPy {np.__version__}, {cores} cores, model {sizes}, {args.clients} clients")
    results: dict[str, list[float]] = {name: [] for name in settings}
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "model.npz"
        ffnn.save(ffnn.Network(sizes, cost="cross_entropy", seed=0), model)
        for _ in range(args.repeats):
            for name, threads in settings.items():
                results[name].append(answers_per_second(model, threads, args.clients, args.seconds))
    print("\n| BLAS threads | answers per second (median) | each run |")
    print("|---|---|---|")
    for name, rates in results.items():
        print(f"| {name} | {statistics.median(rates):.0f} | {', '.join(f'{r:.0f}' for r in rates)} |")


def answers_per_second(model: Path, threads: str | None, clients: int, seconds: float) -> float:
    """The answers per second ``ffnn serve model`` gives ``clients`` clients, with FFNN_THREADS=``threads``."""
    env = {k: v for k, v in os.environ.items() if k not in ("FFNN_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    if threads is not None:
        env["FFNN_THREADS"] = threads
    server = subprocess.Popen(
        [sys.executable, "-m", "ffnn", "serve", str(model), "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "Draw a digit at http://127.0.0.1:PORT/  (Ctrl-C to stop)"
        port = int(line.split("http://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        body = json.dumps({"image": [[0.5] * 28] * 28})
        counts = [0] * clients
        start_counting, stop = threading.Event(), threading.Event()

        def client(i: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while not stop.is_set():
                connection.request("POST", "/api/predict", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status == 200 and start_counting.is_set():
                    counts[i] += 1
            connection.close()

        workers = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for w in workers:
            w.start()
        time.sleep(1.0)  # warm-up
        start_counting.set()
        started = time.perf_counter()
        time.sleep(seconds)
        total, elapsed = sum(counts), time.perf_counter() - started
        stop.set()
        for w in workers:
            w.join()
        return total / elapsed
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
