"""c ← β c + α aᵀ b: the BLAS path (NumPy's bundled OpenBLAS) and the NumPy fallback agree."""

import os
import subprocess
import sys

import numpy as np
import pytest

from ffnn import _blas


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.0), (-0.5, 1.0), (2.0, 0.9), (-1e-3, 0.0)])
def test_gemm_at_b_matches_numpy(dtype, alpha, beta, rng):
    a = rng.standard_normal((9, 5)).astype(dtype)
    b = rng.standard_normal((9, 7)).astype(dtype)
    c = rng.standard_normal((5, 7)).astype(dtype)
    expected = beta * c.astype(np.float64) + alpha * (a.T.astype(np.float64) @ b)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for gemm in (_blas.gemm_at_b, _blas._numpy_gemm_at_b):
        out = c.copy()
        assert gemm(alpha, a, b, beta, out) is out
        np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


def test_beta_zero_ignores_old_contents(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    c = np.full((3, 2), np.nan)
    np.testing.assert_allclose(_blas.gemm_at_b(1.0, a, b, 0.0, c), a.T @ b)


def test_row_views_and_odd_layouts(rng):
    """Batch views a[:m] (the last, short batch) go through BLAS; non-contiguous arrays fall back."""
    buf_a, buf_b = rng.standard_normal((10, 4)), rng.standard_normal((10, 6))
    c = np.zeros((4, 6))
    np.testing.assert_allclose(_blas.gemm_at_b(1.0, buf_a[:7], buf_b[:7], 0.0, c), buf_a[:7].T @ buf_b[:7])
    c_f = np.asfortranarray(np.ones((4, 6)))
    np.testing.assert_allclose(_blas.gemm_at_b(1.0, buf_a, buf_b, 1.0, c_f), 1.0 + buf_a.T @ buf_b)
    mixed = np.zeros((4, 6), np.float32)
    np.testing.assert_allclose(_blas.gemm_at_b(1.0, buf_a, buf_b, 0.0, mixed), buf_a.T @ buf_b, rtol=1e-5)


def test_backend_is_openblas_on_numpy_wheels_and_can_be_turned_off():
    if not _blas._candidate_libraries():
        pytest.skip("this NumPy build bundles no OpenBLAS; the NumPy fallback is in use")
    assert _blas.BACKEND == "openblas"
    code = "import ffnn._blas as b; print(b.BACKEND)"
    env = {**os.environ, "FFNN_BLAS": "numpy"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "numpy"


def test_training_agrees_across_backends():
    """The same fit through BLAS and through the NumPy fallback: equal to float64 rounding."""
    code = (
        "import numpy as np, ffnn; rng = np.random.default_rng(0); X = rng.standard_normal((40, 5)); "
        "y = rng.integers(0, 3, 40); net = ffnn.Network([5, 6, 3], dtype='float64', seed=0); "
        "ffnn.fit(net, X, y, epochs=3, batch_size=7, eta=0.5, lmbda=0.1, seed=0); print(float(net.weights[0].sum()))"
    )
    results = []
    for backend in ("", "numpy"):
        env = {**os.environ, "FFNN_BLAS": backend}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        results.append(float(out.stdout))
    assert results[0] == pytest.approx(results[1], abs=1e-12)
