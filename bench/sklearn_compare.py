"""FFNNClassifier's defaults against MLPClassifier's defaults, side by side in one process.

On scikit-learn's bundled tabular data sets (digits, wine, breast cancer), each model inside a
``Pipeline(StandardScaler(), model)``: 5-fold cross-validated accuracy (scikit-learn's default
folds: stratified, not shuffled) and the time of the 5 fits and scorings. Both get
``random_state=0`` and nothing else; the contenders alternate per data set. MLPClassifier's
"did not converge" warnings are silenced (it stops at max_iter=200 on some folds).

Usage: ``python bench/sklearn_compare.py [--threads 1] [--params "dict(learning_rate=0.01)"]``
(``--params``: keyword arguments added to FFNNClassifier, for trying other defaults).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--params", default="{}", help="a Python dict of FFNNClassifier parameters to change")
    args = parser.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))

    import numpy as np
    import sklearn
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_val_score
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import ffnn
    from ffnn.sklearn import FFNNClassifier

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    params = eval(args.params, {"dict": dict})  # a trusted command-line argument
    print(f"# ffnn {ffnn.__version__}, scikit-learn {sklearn.__version__}, NumPy {np.__version__}, ", end="")
    print(f"Python {platform.python_version()}, {platform.machine()}, threads={args.threads}")
    if params:
        print(f"# FFNNClassifier parameters changed: {params}")
    print("\n| data set | n × features, classes | ffnn accuracy | MLP accuracy | ffnn fit s | MLP fit s | time ratio |")
    print("|---|---|---|---|---|---|---|")
    data = {"digits": load_digits, "wine": load_wine, "breast cancer": load_breast_cancer}
    for name, loader in data.items():
        X, y = loader(return_X_y=True)
        results = {}
        for label, model in (
            ("ffnn", FFNNClassifier(random_state=0, **params)),
            ("mlp", MLPClassifier(random_state=0)),
        ):
            start = time.perf_counter()
            scores = cross_val_score(make_pipeline(StandardScaler(), model), X, y, cv=5)
            results[label] = (scores.mean(), time.perf_counter() - start)
        (acc_f, t_f), (acc_m, t_m) = results["ffnn"], results["mlp"]
        shape = f"{X.shape[0]} × {X.shape[1]}, {len(np.unique(y))}"
        print(f"| {name} | {shape} | {acc_f:.4f} | {acc_m:.4f} | {t_f:.2f} | {t_m:.2f} | **{t_f / t_m:.2f}** |")


if __name__ == "__main__":
    main()
