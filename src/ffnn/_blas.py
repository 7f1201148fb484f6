"""The one BLAS call NumPy does not expose: C ← β C + α Aᵀ B (GEMM with its α and β).

Plain SGD with BP4 is exactly such a product: w^l ← (1 − ηλ/n) w^l − η (δ^l)ᵀ a^{l−1} (δ already
carries the 1/m of the batch mean). Computed in one GEMM, the gradient is never written out and
the weights are read and written once per batch instead of three times — on a 784×800 layer that
is most of the work an epoch does besides the products themselves.

NumPy's wheels bundle OpenBLAS and export its CBLAS interface with 64-bit integers (symbols
``scipy_cblas_sgemm64_`` / ``cblas_sgemm64_``). On its first call :func:`gemm_at_b` looks for
them and checks, once, that they agree with ``numpy.matmul``; importing ffnn does none of this.
When found, C-contiguous operands go to that GEMM through ctypes. Everything else (other NumPy
builds, other strides, ``FFNN_BLAS=numpy`` in the environment at the first call) gets the same
result from NumPy. Both paths check the operands' shapes and dtypes first: BLAS is handed raw
pointers and would read past a wrong-sized array instead of failing.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
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


def gemm_at_b_portable(alpha: float, a: Any, b: Any, beta: float, c: Any) -> Any:
    """The same product through the arrays' own operators: NumPy's fallback, and the GEMM of every
    other array library (``ffnn.backends``), which checks the shapes itself (no raw pointers)."""
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


def _blas_gemm_at_b(
    gemm: Callable[..., None], alpha: float, a: np.ndarray, b: np.ndarray, beta: float, c: np.ndarray
) -> np.ndarray:
    """The same through CBLAS, for operands that :func:`_blas_can_take` accepts."""
    (k, m), n = a.shape, b.shape[1]
    # Row-major C (m×n) = op(A) (m×k) · B (k×n) with op(A) = Aᵀ, A stored k×m.
    gemm(_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k, alpha, a.ctypes.data, m, b.ctypes.data, n, beta, c.ctypes.data, n)
    return c


def _blas_can_take(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> bool:
    """Operands laid out as the call above reads them: dense rows, c writeable and apart from a, b."""
    return (
        all(x.flags.c_contiguous and x.flags.aligned for x in (a, b, c))
        and c.flags.writeable
        and not np.may_share_memory(c, a)
        and not np.may_share_memory(c, b)
    )


def _self_test(gemms: dict[str, Callable[..., None]]) -> bool:
    """The BLAS path agrees with NumPy on a small product with both α and β in play."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a, b, c = rng.standard_normal((7, 5)), rng.standard_normal((7, 3)), rng.standard_normal((5, 3))
        expected = 0.5 * c - 2.0 * (a.T @ b)
        gemm = gemms[np.dtype(dtype).char]
        got = _blas_gemm_at_b(gemm, -2.0, a.astype(dtype), b.astype(dtype), 0.5, c.astype(dtype))
        if not np.allclose(got, expected, rtol=1e-5, atol=1e-5):
            return False
    return True


def _find_gemms() -> dict[str, Callable[..., None]]:
    """{"f": sgemm, "d": dgemm} from NumPy's OpenBLAS, self-tested; {} for the NumPy fallback."""
    if os.environ.get("FFNN_BLAS", "").lower() == "numpy":
        return {}
    single, double = _load("s", ctypes.c_float), _load("d", ctypes.c_double)
    if single is None or double is None:
        return {}
    gemms = {"f": single, "d": double}
    return gemms if _self_test(gemms) else {}


_GEMM: dict[str, Callable[..., None]] | None = None  # None until the first call of gemm_at_b
_GEMM_LOCK = threading.Lock()


def _gemms() -> dict[str, Callable[..., None]]:
    """The BLAS routines, found and self-tested once, on first use."""
    global _GEMM
    if _GEMM is None:
        with _GEMM_LOCK:
            if _GEMM is None:
                _GEMM = _find_gemms()
    return _GEMM


def backend() -> str:
    """``"openblas"`` when :func:`gemm_at_b` calls NumPy's bundled OpenBLAS, else ``"numpy"``."""
    return "openblas" if _gemms() else "numpy"


def _check_operands(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    """a (k, m), b (k, n), c (m, n), one dtype, float32 or float64; ValueError naming what came."""
    arrays = {"a": a, "b": b, "c": c}
    for name, x in arrays.items():
        if not isinstance(x, np.ndarray):
            raise TypeError(f"gemm_at_b needs NumPy arrays for a, b and c; got {type(x).__name__} for '{name}'.")
    if a.ndim != 2 or b.ndim != 2:
        rule = "a and b must be 2-D"
    elif a.shape[0] != b.shape[0]:
        rule = "a (k, m) and b (k, n) must have the same number of rows k"
    elif c.shape != (a.shape[1], b.shape[1]):
        rule = f"c must have shape (m, n) = {(a.shape[1], b.shape[1])}"
    elif not a.dtype == b.dtype == c.dtype or a.dtype not in (np.float32, np.float64):
        rule = "a, b and c must have one dtype, float32 or float64"
    else:
        return
    got = ", ".join(f"{name} {x.shape} {x.dtype}" for name, x in arrays.items())
    raise ValueError(f"gemm_at_b computes c ← β c + α aᵀ b: {rule}. Got {got}; pass matching arrays.")


def gemm_at_b(alpha: float, a: np.ndarray, b: np.ndarray, beta: float, c: np.ndarray) -> np.ndarray:
    """c ← β c + α aᵀ b in place, for a (k, m), b (k, n), c (m, n) of one float dtype; returns c.

    With β = 0 the old contents of c are ignored (as in BLAS, even NaNs). Operands of other
    shapes or dtypes raise ``ValueError`` before c is touched.
    """
    _check_operands(a, b, c)
    gemm = _gemms().get(c.dtype.char)
    if gemm is not None and _blas_can_take(a, b, c):
        return _blas_gemm_at_b(gemm, alpha, a, b, beta, c)
    gemm_at_b_portable(alpha, a, b, beta, c)
    return c
