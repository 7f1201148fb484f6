"""Issue 22: inside a joblib worker (loky, as GridSearchCV(n_jobs=…) starts them), a fit keeps the
BLAS limit joblib gave the worker — a real worker process, seen through threadpoolctl."""

import pytest

pytestmark = pytest.mark.slow

joblib = pytest.importorskip("joblib")


def test_a_fit_in_a_joblib_worker_keeps_the_workers_limit():
    def fit_in_worker():
        """(BLAS threads before, during and after a fit whose products would take every core)."""
        import numpy as np
        from threadpoolctl import threadpool_info

        import ffnn
        from ffnn.callbacks import Callback

        def blas():
            return min(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")

        class Seen(Callback):
            def on_batch_end(self, network, epoch, batch):
                self.during = blas()
                return False

        rng = np.random.default_rng(0)
        X, y = rng.random((256, 784)), rng.integers(0, 10, 256)
        before, seen = blas(), Seen()
        ffnn.fit(ffnn.Network([784, 800, 10], seed=0), X, y, 1, 128, eta=0.1, callbacks=[seen])
        return before, seen.during, blas()

    cores = joblib.cpu_count()
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        results = joblib.Parallel(n_jobs=2)(joblib.delayed(fit_in_worker)() for _ in range(2))
    assert results == [(1, 1, 1)] * 2, f"on {cores} cores"
