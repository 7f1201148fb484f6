"""The one BLAS call NumPy does not expose: C ← β C + α Aᵀ B (GEMM with its α and β).

Plain SGD with BP4 is exactly such a product: w^l ← (1 − ηλ/n) w^l − η (δ^l)ᵀ a^{l−1} (δ already
carries the 1/m of the batch mean). Computed in one GEMM, the gradient is never written out and
the weights are read and written once per batch instead of three times — on a 784×800 layer that
is most of the work an epoch does besides the products themselves.

NumPy's wheels bundle OpenBLAS and export its CBLAS interface with 64-bit integers (symbols
``scipy_cblas_sgemm64_`` / ``cblas_sgemm64_``). When one is found, :func:`gemm_at_b` calls it
through ctypes — after checking, once, that it agrees with ``numpy.matmul``. Anywhere else (other
NumPy builds, non-NumPy arrays, ``FFNN_BLAS=numpy`` in the environment) it computes the same
result with NumPy.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Callable
from typing import Any

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_SYMBOLS = ("scipy_cblas_{}gemm64_", "cblas_{}gemm64_")


def _candidate_libraries() -> list[str]:
    """Shared libraries bundled with NumPy whose name says OpenBLAS (wheels: numpy.libs, .dylibs)."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    patterns = [
        os.path.join(root, "numpy.libs", "*openblas*"),
        os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*"),
    ]
    return sorted(path for pattern in patterns for path in glob.glob(pattern))


def _load(prefix: str, ctype: type) -> Callable[..., None] | None:
    """The CBLAS ``?gemm`` with 64-bit integers from NumPy's OpenBLAS, or None."""
    for path in _candidate_libraries():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in _SYMBOLS:
            function = getattr(library, symbol.format(prefix), None)
            if function is not None:
                i32, i64, ptr = ctypes.c_int, ctypes.c_int64, ctypes.c_void_p
                function.argtypes = [i32, i32, i32, i64, i64, i64, ctype, ptr, i64, ptr, i64, ctype, ptr, i64]
                function.restype = None
                return function  # type: ignore[no-any-return]
    return None


def _numpy_gemm_at_b(alpha: float, a: Any, b: Any, beta: float, c: Any) -> Any:
    product = a.T @ b
    if alpha != 1.0:
        product *= alpha
    if beta == 0.0:
        c[...] = product
        return c
    if beta != 1.0:
        c *= beta
    c += product
    return c


def _blas_gemm_at_b(alpha: float, a: np.ndarray, b: np.ndarray, beta: float, c: np.ndarray) -> np.ndarray:
    gemm = _GEMM.get(c.dtype.char)
    usable = (
        a.dtype == b.dtype == c.dtype
        and a.flags.c_contiguous
        and b.flags.c_contiguous
        and c.flags.c_contiguous
        and c.flags.writeable
    )
    if gemm is None or not usable:
        _numpy_gemm_at_b(alpha, a, b, beta, c)
        return c
    (k, m), n = a.shape, b.shape[1]
    # Row-major C (m×n) = op(A) (m×k) · B (k×n) with op(A) = Aᵀ, A stored k×m.
    gemm(_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k, alpha, a.ctypes.data, m, b.ctypes.data, n, beta, c.ctypes.data, n)
    return c


def _self_test() -> bool:
    """The BLAS path agrees with NumPy on a small product with both α and β in play."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a, b, c = rng.standard_normal((7, 5)), rng.standard_normal((7, 3)), rng.standard_normal((5, 3))
        expected = 0.5 * c - 2.0 * (a.T @ b)
        got = _blas_gemm_at_b(-2.0, a.astype(dtype), b.astype(dtype), 0.5, c.astype(dtype))
        if not np.allclose(got, expected, rtol=1e-5, atol=1e-5):
            return False
    return True


_GEMM: dict[str, Callable[..., None] | None] = {}
BACKEND = "numpy"
if os.environ.get("FFNN_BLAS", "").lower() != "numpy":
    _GEMM = {"f": _load("s", ctypes.c_float), "d": _load("d", ctypes.c_double)}
    if all(_GEMM.values()) and _self_test():
        BACKEND = "openblas"
    else:
        _GEMM = {}


def gemm_at_b(alpha: float, a: Any, b: Any, beta: float, c: Any) -> Any:
    """c ← β c + α aᵀ b in place, for a (k, m), b (k, n), c (m, n); returns c.

    With β = 0 the old contents of c are ignored (as in BLAS, even NaNs).
    """
    if BACKEND == "openblas" and isinstance(c, np.ndarray):
        return _blas_gemm_at_b(alpha, a, b, beta, c)
    return _numpy_gemm_at_b(alpha, a, b, beta, c)
