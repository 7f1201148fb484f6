"""What a fresh interpreter sees: what ``import ffnn`` loads (and does not), the BLAS chosen by the
environment, and the torch backend from the command line. Each test starts a Python process, so
this file is in the slow tier; the in-process math of the same modules (test_reference, test_layout,
test_blas, test_backends) runs in ``make check``."""

import os
import subprocess
import sys

import numpy as np
import pytest

import ffnn
from ffnn import _blas

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)


def test_the_oracle_stays_out_of_the_public_namespace():
    """``import ffnn`` neither imports nor exports it: ``ffnn.reference`` is imported by name."""
    assert "reference" not in ffnn.__all__
    code = "import sys, ffnn; print('ffnn.reference' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "False\n"


def test_importing_ffnn_loads_no_optional_part():
    """`import ffnn` stays light: no extra, and none of the layers above the API (BLAS: test_blas)."""
    optional = (
        "matplotlib",
        "flask",
        "mpi4py",
        "PIL",
        "torch",
        "cupy",
        "array_api_compat",
        "array_api_strict",
        "onnx",
        "sklearn",
        "ffnn.sklearn",
        "ffnn.cli",
        "ffnn.run",
        "ffnn.reference",
        "ffnn.serve",
        "ffnn.server",
        "ffnn.live",
        "ffnn.experiment",
        "ffnn.playground",
    )
    code = f"import sys, ffnn; print([m for m in {optional!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_ffnn_does_no_blas_work():
    """The library is looked up and self-tested on the first gemm_at_b, not at import."""
    code = (
        "import ffnn, ffnn._blas as b; print(b._GEMM is None); "
        "import numpy as np; b.gemm_at_b(1.0, np.ones((2, 2)), np.ones((2, 2)), 0.0, np.ones((2, 2))); "
        "print(b._GEMM is None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_backend_is_openblas_on_numpy_wheels_and_can_be_turned_off():
    if not _blas._candidate_libraries():
        pytest.skip("this NumPy build bundles no OpenBLAS; the NumPy fallback is in use")
    assert _blas.backend() == "openblas"
    code = "import ffnn._blas as b; print(b.backend())"
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


def ffnn_cmd(*args):
    return subprocess.run([sys.executable, "-m", "ffnn", *map(str, args)], capture_output=True, text=True)


def test_cli_trains_with_torch_and_refuses_an_unknown_backend(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    args = ["train", "--dataset", "xor", "--sizes", "2,4,1", "--epochs", 3, "--batch-size", 4, "--eta", 2.0]
    done = ffnn_cmd(*args, "--backend", "torch", "--device", "cpu", "--quiet", "--no-plots", "--out", tmp_path / "t")
    assert done.returncode == 0, done.stderr
    assert 'backend = "torch"' in (tmp_path / "t" / "config.toml").read_text()
    model = ffnn.load(tmp_path / "t" / "model.npz")  # a NumPy network now
    numpy_run = ffnn_cmd(*args, "--quiet", "--no-plots", "--out", tmp_path / "n")
    assert numpy_run.returncode == 0, numpy_run.stderr
    for p, q in zip(model.parameters(), ffnn.load(tmp_path / "n" / "model.npz").parameters()):
        np.testing.assert_allclose(p, q, rtol=0, atol=1e-5)  # float32, the same run
    done = ffnn_cmd(*args, "--backend", "nope", "--out", tmp_path / "x")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--backend" in done.stderr and "'array_api_strict'" in done.stderr
    done = ffnn_cmd(*args, "--device", "cuda", "--out", tmp_path / "y")  # numpy has no device
    assert done.returncode == 2 and "--device" in done.stderr and done.stderr.count("\n") == 1
