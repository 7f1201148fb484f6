"""ONNX export: the checker passes, and onnxruntime computes what ffnn computes, for every activation."""

import json
import os
import shutil
import stat
import subprocess
import sys
import types

import numpy as np
import pytest

import ffnn
from ffnn.activations import LeakyReLU
from ffnn.errors import ExtraNotInstalledError, ParameterError, ParameterTypeError
from ffnn.export import OPSET, build_onnx, to_onnx

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

if os.environ.get("CI"):  # CI installs the test extra, which has both: never skip there
    import onnx
    import onnxruntime as ort
else:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-5  # max abs difference allowed between onnxruntime (float32) and ffnn
# Weights ~ N(0, 1/n_in), so units are not saturated: where tanh or σ round several outputs to 1.0,
# the label is a tie that two float implementations may break differently (onnxruntime's tanh is
# an approximation clamped at |z| = 9, NumPy's is not).
INIT = "scaled_normal"
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_onnx(path, X):
    values, labels = session(path).run(None, {"input": np.asarray(X, dtype=np.float32)})
    return values, labels


def ffnn_values(net, X):
    return net.predict_proba(X) if net.gives_probabilities else net.feedforward(X)


def check_parity(net, X, tmp_path, name="model.onnx"):
    """Export ``net``, run it on ``X`` with onnxruntime; return the max abs difference from ffnn."""
    path = tmp_path / name
    to_onnx(net, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    values, labels = run_onnx(path, X)
    expected = ffnn_values(net, X)
    assert values.dtype == np.float32 and values.shape == expected.shape
    assert labels.dtype == np.int64 and labels.shape == (len(X),)
    np.testing.assert_array_equal(labels, net.predict(X))
    difference = float(np.abs(values - expected).max())
    assert difference <= TOLERANCE
    return difference


def activation(name, slope=0.01):
    return LeakyReLU(slope) if name == "leaky_relu" else name


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(
    ("output", "cost", "n_out"),
    [
        ("softmax", "cross_entropy", 4),
        ("sigmoid", "binary_cross_entropy", 3),
        ("sigmoid", "quadratic", 1),
        ("identity", "quadratic", 2),
        ("tanh", "quadratic", 3),
        ("relu", "quadratic", 3),
        ("leaky_relu", "quadratic", 3),
    ],
)
def test_every_activation_as_hidden_and_output_agrees_with_ffnn(hidden, output, cost, n_out, tmp_path, rng):
    net = ffnn.Network(
        [5, 9, 7, n_out],
        activation=activation(hidden),
        output_activation=activation(output),
        cost=cost,
        init=INIT,
        seed=3,
    )
    X = 2.0 * rng.standard_normal((64, 5))
    check_parity(net, X, tmp_path)


@pytest.mark.parametrize("slope", [0.01, 0.1, 0.3, 0.9])
def test_leaky_relu_slopes(slope, tmp_path, rng):
    net = ffnn.Network([6, 10, 10, 3], activation=LeakyReLU(slope), output_activation=LeakyReLU(slope), seed=1)
    check_parity(net, rng.standard_normal((50, 6)), tmp_path)
    nodes = [n for n in onnx.load(str(tmp_path / "model.onnx")).graph.node if n.op_type == "LeakyRelu"]
    assert len(nodes) == 3 and all(n.attribute[0].f == pytest.approx(slope) for n in nodes)


def test_graph_is_one_gemm_with_trans_b_per_layer(tmp_path):
    net = ffnn.Network([4, 6, 5, 3], activation=["relu", "tanh", "softmax"], cost="cross_entropy", seed=0)
    to_onnx(net, tmp_path / "m.onnx")
    model = onnx.load(str(tmp_path / "m.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["Gemm", "Relu", "Gemm", "Tanh", "Gemm", "Softmax", "Identity", "ArgMax"]
    assert all(a.name == "transB" and a.i == 1 for n in model.graph.node if n.op_type == "Gemm" for a in n.attribute)
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    np.testing.assert_array_equal(weights["w1"], net.weights[0])  # ffnn's (n_out, n_in), as it is
    assert [o.version for o in model.opset_import] == [OPSET] and OPSET == 13
    assert model.ir_version == 7
    (inp,) = model.graph.input
    assert inp.name == "input" and inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["N", 4]
    assert [o.name for o in model.graph.output] == ["probabilities", "label"]


def test_metadata_names_version_sizes_activations_cost_and_classes(tmp_path):
    net = ffnn.Network([3, 4, 2], activation=LeakyReLU(0.2), output_activation="softmax", cost="cross_entropy")
    to_onnx(net, tmp_path / "m.onnx", class_names=["cat", "dog"])
    model = onnx.load(str(tmp_path / "m.onnx"))
    props = {p.key: p.value for p in model.metadata_props}
    assert props["ffnn_version"] == ffnn.__version__ == model.producer_version
    assert json.loads(props["sizes"]) == [3, 4, 2]
    assert json.loads(props["activations"]) == [{"name": "leaky_relu", "slope": 0.2}, {"name": "softmax"}]
    assert props["cost"] == "cross_entropy" and props["dtype"] == "float32"
    assert json.loads(props["class_names"]) == ["cat", "dog"]
    assert f"opset {OPSET}" in model.doc_string and "float32" in model.doc_string
    to_onnx(net, tmp_path / "plain.onnx")
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "plain.onnx")).metadata_props}
    assert json.loads(props["class_names"]) == ["0", "1"]


def test_single_sigmoid_output_gives_two_columns_and_half_threshold(tmp_path):
    net = ffnn.Network([2, 3, 1], activation="tanh", output_activation="sigmoid", seed=0)
    net.weights[-1][...] = 0.0
    net.biases[-1][...] = 0.0  # every output exactly ½: the label is 1, as ffnn's a ≥ ½ says
    X = np.zeros((3, 2))
    to_onnx(net, tmp_path / "m.onnx")
    values, labels = run_onnx(tmp_path / "m.onnx", X)
    np.testing.assert_array_equal(values, np.full((3, 2), 0.5, dtype=np.float32))
    np.testing.assert_array_equal(labels, net.predict(X))
    assert labels.tolist() == [1, 1, 1]


def test_saturated_sigmoid_outputs_keep_ffnns_floor(tmp_path):
    """ffnn's σ never falls below its floor, so several saturated sigmoid outputs still normalise."""
    net = ffnn.Network([2, 3], activation="sigmoid", seed=0)
    net.weights[0][...] = 0.0
    net.biases[0][...] = [-500.0, -300.0, -200.0]
    X = np.zeros((2, 2))
    to_onnx(net, tmp_path / "m.onnx")
    values, labels = run_onnx(tmp_path / "m.onnx", X)
    assert np.isfinite(values).all()
    np.testing.assert_allclose(values, net.predict_proba(X), atol=TOLERANCE)
    np.testing.assert_array_equal(labels, net.predict(X))


def test_float64_network_is_exported_in_float32(tmp_path, rng):
    net = ffnn.Network([8, 12, 4], activation="tanh", cost="cross_entropy", dtype="float64", seed=5)
    check_parity(net, rng.standard_normal((40, 8)), tmp_path)
    model = onnx.load(str(tmp_path / "model.onnx"))
    assert {t.data_type for t in model.graph.initializer if t.name.startswith(("w", "b"))} == {onnx.TensorProto.FLOAT}
    assert {p.key: p.value for p in model.metadata_props}["dtype"] == "float64"


@pytest.mark.parametrize("n", [1, 7, 1000])
def test_batch_size_is_dynamic(n, tmp_path, rng):
    net = ffnn.Network([10, 16, 5], activation="relu", cost="cross_entropy", seed=2)
    check_parity(net, rng.standard_normal((n, 10)), tmp_path)


def test_standardization_in_the_graph(tmp_path, rng):
    net = ffnn.Network([3, 5, 2], activation="relu", cost="cross_entropy", seed=4)
    mean, std = np.array([10.0, -2.0, 0.5]), np.array([3.0, 0.5, 2.0])
    X = mean + std * rng.standard_normal((30, 3))
    to_onnx(net, tmp_path / "m.onnx", standardize=(mean, std))
    values, labels = run_onnx(tmp_path / "m.onnx", X)
    np.testing.assert_allclose(values, net.predict_proba((X - mean) / std), atol=TOLERANCE)
    np.testing.assert_array_equal(labels, net.predict((X - mean) / std))
    with pytest.raises(ParameterError, match=r"'standardize' parameter's mean and std must each have 3 values"):
        to_onnx(net, tmp_path / "bad.onnx", standardize=([0.0], [1.0]))
    with pytest.raises(ParameterError, match=r"a finite std > 0"):
        to_onnx(net, tmp_path / "bad.onnx", standardize=(mean, [1.0, 0.0, 1.0]))


def test_an_estimator_with_network_and_classes(tmp_path, rng):
    net = ffnn.Network([4, 6, 3], activation="sigmoid", cost="cross_entropy", seed=0)
    estimator = types.SimpleNamespace(network_=net, classes_=np.array(["setosa", "versicolor", "virginica"]))
    X = rng.standard_normal((20, 4))
    to_onnx(estimator, tmp_path / "m.onnx")
    model = onnx.load(str(tmp_path / "m.onnx"))
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["class_names"]) == ["setosa", "versicolor", "virginica"]
    values, labels = run_onnx(tmp_path / "m.onnx", X)
    np.testing.assert_allclose(values, net.predict_proba(X), atol=TOLERANCE)
    np.testing.assert_array_equal(labels, net.predict(X))
    with pytest.raises(ParameterTypeError, match=r"'model' parameter must be an ffnn Network or a fitted estimator"):
        to_onnx(types.SimpleNamespace(), tmp_path / "x.onnx")
    with pytest.raises(ParameterError, match=r"'class_names' parameter must name the network's 3 classes"):
        to_onnx(net, tmp_path / "x.onnx", class_names=["a", "b"])
    assert not (tmp_path / "x.onnx").exists()


def _mnist_available():
    from ffnn.data import mnist

    folder = mnist.data_folder(mnist.MNIST)
    return all((folder / f).is_file() for f in mnist.MNIST.files) or shutil.which("npm") is not None


@pytest.mark.skipif(not _mnist_available(), reason="real MNIST needs the cache or npm (see test_mnist_real.py)")
def test_real_mnist_labels_identical_after_one_short_epoch(tmp_path):
    (X, y), (X_test, y_test) = ffnn.data.load_mnist()
    net = ffnn.Network([784, 100, 10], activation="relu", cost="cross_entropy", init="he", seed=0)
    ffnn.fit(net, X[:20_000], y[:20_000], epochs=1, batch_size=32, eta=0.1, seed=0)
    assert net.accuracy(X_test, y_test) > 0.85  # a trained model, not a random one
    difference = check_parity(net, X_test, tmp_path, "mnist.onnx")
    print(f"MNIST test set: max abs difference {difference:.3g}, labels identical on {len(X_test)} images")


def test_build_onnx_passes_the_full_checker():
    net = ffnn.Network([3, 4, 4, 1], activation=["relu", "leaky_relu", "sigmoid"], seed=0)
    onnx.checker.check_model(build_onnx(net), full_check=True)


def test_missing_onnx_names_the_extra(tmp_path):
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'onnx' or name.startswith('onnx.'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "for m in [m for m in sys.modules if m == 'onnx' or m.startswith('onnx.')]: del sys.modules[m]\n"
        "import ffnn\n"
        "from ffnn.export import to_onnx\n"
        "from ffnn.errors import ExtraNotInstalledError\n"
        "try:\n"
        f"    to_onnx(ffnn.Network([2, 3, 2]), {str(tmp_path / 'm.onnx')!r})\n"
        "except ExtraNotInstalledError as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'ffnn[onnx]'" in done.stdout
    assert not (tmp_path / "m.onnx").exists()
    assert issubclass(ExtraNotInstalledError, ImportError)


def test_cli_export(tmp_path, rng):
    net = ffnn.Network([5, 8, 3], activation="tanh", cost="cross_entropy", seed=7)
    ffnn.save(net, tmp_path / "model.npz")
    done = subprocess.run(
        [sys.executable, "-m", "ffnn", "export", str(tmp_path / "model.npz"), str(tmp_path / "model.onnx")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"opset {OPSET}" in done.stdout and "'probabilities'" in done.stdout
    X = rng.standard_normal((9, 5))
    values, labels = run_onnx(tmp_path / "model.onnx", X)
    np.testing.assert_allclose(values, net.predict_proba(X), atol=TOLERANCE)
    np.testing.assert_array_equal(labels, net.predict(X))


def test_cli_export_errors_are_one_line_with_status_2(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    for model in (tmp_path / "bad.npz", tmp_path / "missing.npz"):
        done = subprocess.run(
            [sys.executable, "-m", "ffnn", "export", str(model), str(tmp_path / "out.onnx")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2
        assert done.stderr.startswith("ffnn: error: ") and done.stderr.count("\n") == 1
        assert not (tmp_path / "out.onnx").exists()


@pytest.mark.parametrize("activation", HIDDEN)
def test_both_fitted_estimators_export_what_they_predict(activation, tmp_path, rng):
    """FFNNClassifier (string classes) and FFNNRegressor (two targets), fitted, exported, and run
    by onnxruntime: its outputs equal the estimator's own answers."""
    from ffnn.sklearn import FFNNClassifier, FFNNRegressor

    X = rng.standard_normal((120, 5))
    names = np.array(["ant", "bee", "cat"])[rng.integers(0, 3, 120)]
    clf = FFNNClassifier(hidden_layer_sizes=(7,), activation=activation, max_iter=5, random_state=0).fit(X, names)
    to_onnx(clf, tmp_path / "clf.onnx")
    probabilities, labels = run_onnx(tmp_path / "clf.onnx", X)
    np.testing.assert_allclose(probabilities, clf.predict_proba(X), atol=TOLERANCE)
    np.testing.assert_array_equal(clf.classes_[labels], clf.predict(X))
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "clf.onnx")).metadata_props}
    assert json.loads(props["class_names"]) == ["ant", "bee", "cat"]

    targets = np.stack([X[:, 0] - X[:, 1], 0.5 * X[:, 2]], axis=1)
    reg = FFNNRegressor(hidden_layer_sizes=(7,), activation=activation, max_iter=5, random_state=0).fit(X, targets)
    to_onnx(reg, tmp_path / "reg.onnx")
    outputs, _ = run_onnx(tmp_path / "reg.onnx", X)
    assert onnx.load(str(tmp_path / "reg.onnx")).graph.output[0].name == "outputs"
    np.testing.assert_allclose(outputs, reg.predict(X), atol=TOLERANCE)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_file_written_is_the_model_build_onnx_gives(dtype, tmp_path, rng):
    """Issue 21: to_onnx writes each parameter's data straight from its array (build_onnx's model
    copies them in); read back, the file is that model, field for field and byte for byte."""
    net = ffnn.Network([6, 300, 2], activation=["tanh", "sigmoid"], cost="binary_cross_entropy", dtype=dtype, seed=3)
    net.standardization = (rng.standard_normal(6), rng.random(6) + 0.5)
    to_onnx(net, tmp_path / "m.onnx")
    model = build_onnx(net)
    assert onnx.load(str(tmp_path / "m.onnx")) == model
    assert (tmp_path / "m.onnx").read_bytes() == model.SerializeToString()  # the fields in protobuf's own order
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    np.testing.assert_array_equal(weights["w1"], net.weights[0].astype(np.float32))
    np.testing.assert_array_equal(weights["b2"], net.biases[1].astype(np.float32))


def test_cli_export_refuses_a_fifo_and_writes_through_a_link(tmp_path):
    """``ffnn export m.npz /dev/full`` (as root) turned the device into a file; a FIFO was replaced too."""
    ffnn.save(ffnn.Network([3, 4, 2], cost="cross_entropy", seed=0), tmp_path / "m.npz")
    os.mkfifo(tmp_path / "pipe")

    def export(out):
        command = [sys.executable, "-m", "ffnn", "export", str(tmp_path / "m.npz"), str(out)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    done = export(tmp_path / "pipe")
    assert done.returncode == 2
    assert done.stderr == (
        f"ffnn: error: cannot write {tmp_path / 'pipe'}: it is a FIFO (named pipe), not a regular file, and would "
        "be replaced by one; name a file's path\n"
    )
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode)
    (tmp_path / "latest.onnx").symlink_to("v1.onnx")
    assert export(tmp_path / "latest.onnx").returncode == 0
    assert (tmp_path / "latest.onnx").is_symlink() and (tmp_path / "v1.onnx").is_file()
    assert onnx.load(str(tmp_path / "latest.onnx")) == build_onnx(ffnn.load(tmp_path / "m.npz"))
