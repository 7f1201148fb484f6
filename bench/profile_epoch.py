"""Where one ffnn epoch's time goes, by function (cProfile), for one benchmark configuration.

The matrix products run inside ``backprop.forward_layer`` (forward), ``backprop.backpropagate``
(BP2, output layer) and ``SGDStep.__call__`` (BP4 fused with the update); compare their share with
the "products alone" column of ``epoch_time.py``.

Usage: ``python bench/profile_epoch.py [--sizes 784,800,10] [--batch 128]``
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="784,800,10")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    import numpy as np

    import ffnn

    rng = np.random.default_rng(0)
    X = rng.random((60_000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60_000)
    net = ffnn.Network([int(s) for s in args.sizes.split(",")], seed=0)
    ffnn.fit(net, X, y, epochs=1, batch_size=args.batch, eta=0.5)  # warm-up
    profile = cProfile.Profile()
    profile.runcall(ffnn.fit, net, X, y, epochs=1, batch_size=args.batch, eta=0.5)
    pstats.Stats(profile).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
