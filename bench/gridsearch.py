"""GridSearchCV over FFNNClassifier against the same search over MLPClassifier, at n_jobs=1 and -1.

The 5,000 × 40, 4-class problem of ``bench/contention.py`` (in ``--dtype``, float32 by default),
one hidden layer of each of two sizes (50 and 100 ReLU units), 3 folds, 30 epochs per fit
(neither stops early); each library's defaults otherwise (Adam, batches of 200) and each with
its default threads — ffnn's decides for itself (``ffnn.threads``), inside joblib's workers too.
The contenders alternate; the table gives the median wall time of ``--repeats`` searches, after
a first round (dropped) in which joblib starts its workers and each library is imported in them.
``--load K`` runs the searches beside K processes multiplying 1024² float32 matrices (two BLAS
threads each), as ``bench/contention.py`` does.

Usage: ``python bench/gridsearch.py [--repeats 3] [--dtype float32] [--load 0]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

from contention import start_load

GRID = {"hidden_layer_sizes": [(50,), (100,)]}
EPOCHS = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--load", type=int, default=0, help="processes multiplying 1024² matrices meanwhile")
    args = parser.parse_args()

    import numpy as np
    import sklearn
    from sklearn.datasets import make_classification
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPClassifier

    import ffnn
    from ffnn.sklearn import FFNNClassifier

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    X, y = make_classification(n_samples=5000, n_features=40, n_informative=20, n_classes=4, random_state=0)
    X = X.astype(args.dtype)
    models = {
        "ffnn": FFNNClassifier(max_iter=EPOCHS, tol=None, random_state=0),
        "mlp": MLPClassifier(max_iter=EPOCHS, tol=0.0, n_iter_no_change=EPOCHS + 1, random_state=0),
    }
    print(f"# ffnn {ffnn.__version__}, scikit-learn {sklearn.__version__}, NumPy {np.__version__}, ", end="")
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, {args.dtype}, {args.load} loading processes")
    print(f"# grid {GRID}, 3 folds, {EPOCHS} epochs; medians of {args.repeats}\n")
    print("| n_jobs | ffnn s | MLPClassifier s | ratio | ffnn best score | MLP best score |")
    print("|---|---|---|---|---|---|")
    loads = start_load(args.load, 2)
    try:
        for n_jobs in (1, -1):
            seconds: dict[str, list[float]] = {name: [] for name in models}
            scores = {}
            for r in range(args.repeats + 1):  # the first round starts joblib's workers for both, and is dropped
                for name, model in models.items():
                    search = GridSearchCV(model, GRID, cv=3, n_jobs=n_jobs)
                    start = time.perf_counter()
                    search.fit(X, y)
                    if r:
                        seconds[name].append(time.perf_counter() - start)
                    scores[name] = search.best_score_
            f, m = statistics.median(seconds["ffnn"]), statistics.median(seconds["mlp"])
            print(
                f"| {n_jobs} | {f:.2f} | {m:.2f} | **{f / m:.2f}** | {scores['ffnn']:.3f} | {scores['mlp']:.3f} |",
                flush=True,
            )
    finally:
        for p in loads:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
