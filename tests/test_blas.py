"""c ← β c + α aᵀ b: the BLAS path (NumPy's bundled OpenBLAS) and the NumPy fallback agree."""

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
    for gemm in (_blas.gemm_at_b, _blas.gemm_at_b_portable):
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


@pytest.fixture(params=["openblas", "numpy"])
def backend(request, monkeypatch):
    """Each path in turn: the lazy set-up runs again under FFNN_BLAS unset or FFNN_BLAS=numpy."""
    if request.param == "openblas":
        if not _blas._candidate_libraries():
            pytest.skip("this NumPy build bundles no OpenBLAS; the NumPy fallback is in use")
        monkeypatch.delenv("FFNN_BLAS", raising=False)
    else:
        monkeypatch.setenv("FFNN_BLAS", "numpy")
    monkeypatch.setattr(_blas, "_GEMM", None)
    assert _blas.backend() == request.param
    return request.param


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "c_shape", "rule"),
    [
        ((5, 3), (4, 7), (3, 7), r"same number of rows k\. Got a \(5, 3\) float64, b \(4, 7\) float64, c \(3, 7\)"),
        ((5, 3), (5, 7), (7, 3), r"c must have shape \(m, n\) = \(3, 7\)\. Got a \(5, 3\) .* c \(7, 3\) float64"),
        ((5, 3), (5, 7), (3, 8), r"c must have shape \(m, n\) = \(3, 7\)\. Got .* c \(3, 8\)"),
        ((15,), (5, 7), (3, 7), r"a and b must be 2-D\. Got a \(15,\) float64"),
    ],
)
def test_mismatched_shapes_are_refused_on_both_paths(backend, a_shape, b_shape, c_shape, rule, rng):
    a, b, c = rng.standard_normal(a_shape), rng.standard_normal(b_shape), rng.standard_normal(c_shape)
    before = c.copy()
    with pytest.raises(ValueError, match=r"^gemm_at_b computes c ← β c \+ α aᵀ b: .*" + rule):
        _blas.gemm_at_b(1.0, a, b, 0.5, c)
    np.testing.assert_array_equal(c, before)


@pytest.mark.parametrize(
    ("dtypes", "got"),
    [
        (("float64", "float64", "float32"), r"a \(4, 3\) float64, b \(4, 2\) float64, c \(3, 2\) float32"),
        (("float32", "float64", "float32"), r"a \(4, 3\) float32, b \(4, 2\) float64"),
        (("int64", "int64", "int64"), r"a \(4, 3\) int64"),
        (("float16", "float16", "float16"), r"a \(4, 3\) float16"),
    ],
)
def test_dtypes_other_than_one_float32_or_float64_are_refused(backend, dtypes, got, rng):
    a, b, c = (np.ones(shape, dtype) for shape, dtype in zip([(4, 3), (4, 2), (3, 2)], dtypes))
    with pytest.raises(ValueError, match=r"must have one dtype, float32 or float64\. Got " + got):
        _blas.gemm_at_b(1.0, a, b, 0.0, c)
    np.testing.assert_array_equal(c, 1)


def layouts(rng, dtype):
    """(a, b, c's buffer, the view of it that is c), k = 6, m = 4, n = 5, in layouts BLAS cannot take."""
    k, m, n = 6, 4, 5

    def normal(*shape):
        return rng.standard_normal(shape).astype(dtype)

    def whole(x):
        return x

    return {
        "a columns strided": (normal(k, 2 * m)[:, ::2], normal(k, n), normal(m, n), whole),
        "a rows strided": (normal(2 * k, m)[::2], normal(k, n), normal(m, n), whole),
        "a rows reversed": (normal(k, m)[::-1], normal(k, n), normal(m, n), whole),
        "a Fortran order": (np.asfortranarray(normal(k, m)), normal(k, n), normal(m, n), whole),
        "b transposed view": (normal(k, m), normal(n, k).T, normal(m, n), whole),
        "c Fortran order": (normal(k, m), normal(k, n), np.asfortranarray(normal(m, n)), whole),
        "c transposed view": (normal(k, m), normal(k, n), normal(n, m), lambda x: x.T),
        "c columns strided": (normal(k, m), normal(k, n), normal(m, 2 * n), lambda x: x[:, ::2]),
        "c rows strided": (normal(k, m), normal(k, n), normal(2 * m, n), lambda x: x[1::2]),
        "a unaligned": (unaligned(normal(k, m)), normal(k, n), normal(m, n), whole),
    }


def unaligned(x):
    """A C-contiguous copy of x whose data starts one byte past an aligned address."""
    raw = np.zeros(x.nbytes + 1, np.uint8)
    out = raw[1:].view(x.dtype).reshape(x.shape)
    out[...] = x
    assert not out.flags.aligned and out.flags.c_contiguous
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.0), (-0.7, 0.3)])
def test_other_layouts_give_numpys_result_and_write_only_c(backend, dtype, alpha, beta, rng):
    for name, (a, b, buffer, view) in layouts(rng, dtype).items():
        c = view(buffer)
        product = alpha * (a.T @ b)
        expected = buffer.copy()  # c's new values in c's place, the rest of its buffer unchanged
        view(expected)[...] = beta * c + product if beta else product
        assert _blas.gemm_at_b(alpha, a, b, beta, c) is c, name
        np.testing.assert_array_equal(buffer, expected, err_msg=name)


def test_c_sharing_memory_with_a_gets_numpys_result(backend, rng):
    """BLAS would overwrite a while still reading it (wrong from 16×16 up); NumPy reads it first."""
    a, b = rng.standard_normal((16, 16)), rng.standard_normal((16, 16))
    expected = 0.5 * a + -2.0 * (a.T @ b)
    np.testing.assert_array_equal(_blas.gemm_at_b(-2.0, a, b, 0.5, a), expected)


def test_read_only_c_is_left_to_numpy_which_refuses_it(backend, rng):
    a, b, c = rng.standard_normal((5, 3)), rng.standard_normal((5, 2)), rng.standard_normal((3, 2))
    before = c.copy()
    c.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _blas.gemm_at_b(1.0, a, b, 0.0, c)
    np.testing.assert_array_equal(c, before)


@pytest.mark.parametrize(("k", "m", "n"), [(0, 3, 4), (3, 0, 4), (3, 4, 0)])
def test_empty_dimensions(backend, k, m, n, rng):
    """k = 0 leaves c ← β c; m = 0 or n = 0 leaves nothing to compute."""
    a, b, c = rng.standard_normal((k, m)), rng.standard_normal((k, n)), rng.standard_normal((m, n))
    expected = 0.5 * c
    np.testing.assert_array_equal(_blas.gemm_at_b(-2.0, a, b, 0.5, c), expected)


def test_non_arrays_are_refused(rng):
    with pytest.raises(TypeError, match="gemm_at_b needs NumPy arrays for a, b and c; got list for 'a'"):
        _blas.gemm_at_b(1.0, [[1.0]], np.ones((1, 1)), 0.0, np.ones((1, 1)))
