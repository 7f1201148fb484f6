"""Issue 19: each decision that every face must agree on has one home, and the faces agree.

The label of an output row (``ffnn.outputs``), what makes a model valid (``serialization.model_problem``,
for save and load alike), what outputs that are not finite get, and which epoch is best (``ffnn.monitor``).
"""

import json
import subprocess
import sys

import numpy as np
import pytest

import ffnn
from ffnn import callbacks, run, schedules
from ffnn.activations import LeakyReLU
from ffnn.config import configure
from ffnn.errors import ModelFileError, NonFiniteOutputError, ParameterError
from ffnn.monitor import best_epoch, improves
from ffnn.state import History

onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("flask")

from ffnn.export import build_onnx  # noqa: E402
from ffnn.serve import create_app  # noqa: E402
from ffnn.sklearn import FFNNClassifier  # noqa: E402

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)


def ffnn_cmd(*args):
    return subprocess.run([sys.executable, "-m", "ffnn", *map(str, args)], capture_output=True, text=True)


def onnx_label(network, X):
    session = onnxruntime.InferenceSession(build_onnx(network).SerializeToString())
    return session.run(["label"], {"input": np.asarray(X, dtype=np.float32)})[0]


def served_label(network, image):
    answer = create_app(network).test_client().post("/api/predict", json={"image": image.tolist()})
    assert answer.status_code == 200, answer.data
    return answer.get_json()["label"]


def cli_labels(network, X, tmp_path):
    ffnn.save(network, tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", X)
    done = ffnn_cmd("predict", tmp_path / "m.npz", tmp_path / "x.npy", "--json")
    assert done.returncode == 0, done.stderr
    return [r["label"] for r in json.loads(done.stdout)]  # the class index, or the model's class name


# -- the label of an output row ---------------------------------------------------------------------


def test_a_single_sigmoid_output_of_one_half_is_class_1_on_every_face(tmp_path):
    """a^L = σ(0) = ½ exactly: Network.predict, ffnn predict, serve and the ONNX graph all say 1
    (serve said 0: it took the argmax of (1 − a, a), whose tie goes to the first column)."""
    net = ffnn.Network([784, 1], "sigmoid", seed=0)
    net.weights[0][:] = 0.0
    net.biases[0][:] = 0.0
    image = np.full((28, 28), 0.5)
    X = image.reshape(1, -1)
    assert net.feedforward(X)[0, 0] == 0.5
    assert net.predict(X).tolist() == [1]
    assert served_label(net, image) == 1
    assert cli_labels(net, X, tmp_path) == [1]
    assert onnx_label(net, X).tolist() == [1]


def test_equal_outputs_give_the_first_class_on_every_face(tmp_path, rng):
    """A tie between outputs goes to the first, as NumPy's argmax: the estimator, the network, the
    command line, serve and ONNX agree."""
    X = rng.standard_normal((40, 784))
    y = np.array(["cat", "dog"] * 20)
    clf = FFNNClassifier(hidden_layer_sizes=(), max_iter=1, random_state=0).fit(X, y)
    net = clf.network_
    net.weights[0][:] = 0.0
    net.biases[0][:] = 0.0  # both softmax outputs ½
    image = np.full((28, 28), 0.25)
    assert clf.predict(image.reshape(1, -1)).tolist() == ["cat"]
    assert net.predict(image.reshape(1, -1)).tolist() == [0]
    assert served_label(net, image) == 0
    assert cli_labels(net, image.reshape(1, -1), tmp_path) == ["cat"]  # the estimator's network names its classes
    assert onnx_label(net, image.reshape(1, -1)).tolist() == [0]


# -- what saves always loads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: ffnn.Network([3, 4, 2], seed=1),
        lambda: ffnn.Network([3, 5, 1], "tanh", cost="binary_cross_entropy", dtype="float64", seed=2),
        lambda: ffnn.Network([3, 4, 4, 3], [LeakyReLU(0.05), "relu", "softmax"], cost="cross_entropy", seed=3),
        lambda: ffnn.Network([3, 6, 2], "relu", output_activation="identity", dropout=0.3, input_dropout=0.1, seed=4),
    ],
)
@pytest.mark.parametrize("extras", ["none", "classes", "standardization", "both"])
def test_every_model_save_accepts_loads_back_equal(tmp_path, make, extras):
    net = make()
    if extras in ("classes", "both"):
        net.classes = [f"class {i}" for i in range(max(2, net.sizes[-1]))]
    if extras in ("standardization", "both"):
        net.standardization = (np.linspace(-1, 1, 3), np.array([1e-30, 1.0, 1e30]))
    net.metadata = {"config": {"dataset": "xor", "seed": 7}, "note": [1, 2.5, "x"]}
    ffnn.save(net, tmp_path / "m.npz")
    back = ffnn.load(tmp_path / "m.npz")
    assert back.sizes == net.sizes and back.dtype == net.dtype and back.dropout == net.dropout
    assert [repr(a) for a in back.activations] == [repr(a) for a in net.activations]
    assert back.classes == net.classes and back.metadata == net.metadata
    for p, q in zip(back.parameters(), net.parameters()):
        np.testing.assert_array_equal(p, q)
    if net.standardization is None:
        assert back.standardization is None
    else:
        for p, q in zip(back.standardization, net.standardization):
            np.testing.assert_array_equal(p, q)


def test_a_network_with_nan_weights_is_refused_at_save_and_nothing_is_written(tmp_path):
    net = ffnn.Network([2, 3, 2], seed=0)
    net.weights[1][0, 0] = np.nan
    with pytest.raises(ParameterError, match=r"cannot be saved.*array 'w2' contains NaN or inf"):
        ffnn.save(net, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_class_names_of_the_wrong_count_are_refused_when_set():
    net = ffnn.Network([2, 3, 3], seed=0)
    for bad in (["a", "b"], ["a", "b", "c", "d"], ["a", "a", "b"]):
        with pytest.raises(ParameterError, match=r"'classes' must list 3 distinct class names"):
            net.classes = bad
    assert net.classes is None
    single = ffnn.Network([2, 1], seed=0)  # one output neuron: its two classes 0 and 1
    single.classes = ["no", "yes"]
    assert single.classes == ["no", "yes"]


def test_a_std_that_the_dtype_cannot_hold_is_refused_when_set_and_in_a_file(tmp_path):
    """A std of 1e-300 is 0 in float32 (the inputs would be divided by zero): refused when set; a
    file that holds one is refused by load with the same rule; float64 holds it, and it round-trips."""
    net = ffnn.Network([2, 3, 2], seed=0)
    with pytest.raises(ParameterError, match=r"input 1 \(mean 0, std 1e-300\) is beyond the range of float32"):
        net.standardization = ([0.0, 0.0], [1.0, 1e-300])
    assert net.standardization is None
    wide = ffnn.Network([2, 3, 2], dtype="float64", seed=0)
    wide.standardization = ([0.0, 0.0], [1.0, 1e-300])
    ffnn.save(wide, tmp_path / "wide.npz")
    assert ffnn.load(tmp_path / "wide.npz").standardization[1][1] == 1e-300
    with np.load(tmp_path / "wide.npz") as archive:  # the same header on a float32 model
        arrays = {k: (v.astype(np.float32) if k != "header" else v) for k, v in archive.items()}
    header = json.loads(arrays["header"].tobytes())
    header["dtype"] = "float32"
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(tmp_path / "narrow.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"header is malformed: .*beyond the range of float32"):
        ffnn.load(tmp_path / "narrow.npz")


# -- outputs that are not finite -------------------------------------------------------------------


def overflowing(tmp_path):
    """A model whose outputs overflow float32 for every input of ones: its file and such an input file."""
    net = ffnn.Network([4, 3, 3], "relu", cost="cross_entropy", seed=0)
    net.weights[0][:] = 1e30
    net.weights[1][:] = [[1e30] * 3, [-1e30] * 3, [1.0] * 3]
    ffnn.save(net, tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", np.ones((2, 4)))
    np.savez(tmp_path / "data.npz", X=np.ones((6, 4)), y=np.array([0, 1, 2, 0, 1, 2]))
    return net


def test_the_python_api_refuses_outputs_that_are_not_finite(tmp_path):
    net = overflowing(tmp_path)
    with np.errstate(all="ignore"):
        assert not np.isfinite(net.feedforward(np.ones((1, 4)))).all()  # the raw math shows them
    for method in (net.predict, net.predict_proba, net.outputs):
        with pytest.raises(NonFiniteOutputError, match=r"overflow its dtype \(float32\) for input row 0"):
            method(np.ones((2, 4)))


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_predict_refuses_outputs_that_are_not_finite(tmp_path, json_flag):
    overflowing(tmp_path)
    done = ffnn_cmd("predict", tmp_path / "m.npz", tmp_path / "x.npy", *json_flag)
    assert done.returncode == 2
    assert done.stdout == ""  # no NaN printed as a result, no bare NaN as JSON
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"ffnn: error: {tmp_path / 'm.npz'}: the network's activations overflow")
    assert "not finite" in line


def test_evaluate_refuses_outputs_that_are_not_finite(tmp_path):
    overflowing(tmp_path)
    done = ffnn_cmd("evaluate", tmp_path / "m.npz", "--dataset", tmp_path / "data.npz")
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"ffnn: error: {tmp_path / 'm.npz'}: the network's activations overflow")


def test_export_refuses_outputs_that_are_not_finite_and_writes_nothing(tmp_path):
    overflowing(tmp_path)
    done = ffnn_cmd("export", tmp_path / "m.npz", tmp_path / "m.onnx")
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"ffnn: error: {tmp_path / 'm.npz'}: cannot export it: in float32")
    assert "not finite" in line
    assert not (tmp_path / "m.onnx").exists()


def test_export_names_a_parameter_beyond_float32(tmp_path):
    net = ffnn.Network([4, 3, 2], dtype="float64", seed=0)
    net.biases[0][1] = 1e300
    ffnn.save(net, tmp_path / "m.npz")
    done = ffnn_cmd("export", tmp_path / "m.npz", tmp_path / "m.onnx")
    assert done.returncode == 2
    assert f"{tmp_path / 'm.npz'}: 'b1' holds values beyond float32's range (±3.4e+38)" in done.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_serve_refuses_outputs_that_are_not_finite_with_422():
    net = ffnn.Network([784, 3, 3], "relu", cost="cross_entropy", seed=0)
    net.weights[0][:] = 1e30
    net.weights[1][:] = [[1e30] * 3, [-1e30] * 3, [1.0] * 3]
    answer = create_app(net).test_client().post("/api/predict", json={"image": [[1.0] * 28] * 28})
    assert answer.status_code == 422
    assert "the network's activations overflow its dtype (float32)" in answer.get_json()["error"]


def test_finite_inputs_beyond_the_dtype_are_named_as_such():
    net = ffnn.Network([2, 3, 2], seed=0)
    with pytest.raises(ParameterError, match=r"'X' row 1 holds 1e\+300, beyond float32's range \(±3.4e\+38\)"):
        net.predict([[0.0, 1.0], [1e300, 0.0]])
    with pytest.raises(ParameterError, match=r"'X' must be finite, but row 0 contains NaN or inf"):
        net.predict([[np.inf, 1.0]])
    assert ffnn.Network([2, 3, 2], dtype="float64", seed=0).predict([[1e300, 0.0]]).shape == (1,)


# -- which epoch is best -----------------------------------------------------------------------------


def test_the_best_epoch_is_the_earliest_of_equal_ones_everywhere():
    """Early stopping, the halving rule and the run summary read one rule (ffnn.monitor): ties keep
    the first epoch (the summary took the last: max over (value, epoch) pairs)."""
    accuracies = [0.5, 0.75, 0.75, 0.625, 0.75]
    history = History()
    net = ffnn.Network([2, 2], seed=0)
    stopper = callbacks.EarlyStopping(patience=10, restore_best=False)
    halving = schedules.HalveOnPlateau(1.0, patience=10)
    for epoch, value in enumerate(accuracies):
        history.epoch.append(epoch)
        history.validation_accuracy.append(value)
        stopper.on_epoch_end(net, history)
        halving.on_epoch_end(net, history)
    history.test_accuracy = list(accuracies)
    history.train_cost = [1.0] * len(accuracies)
    summary = run._summary(history, configure(), None, 0.0)
    assert stopper.best_epoch == 1 and halving.best == 0.75 and halving.waited == 3
    assert summary["best_validation"] == summary["best_test"] == {"accuracy": 0.75, "epoch": 1}
    assert best_epoch(accuracies, range(5)) == (0.75, 1)
    assert best_epoch([3.0, 2.0, 2.0, None], range(4), mode="min") == (2.0, 1)
    assert improves(0.8, 0.75, min_delta=0.01) and not improves(0.755, 0.75, min_delta=0.01)
    assert not improves(float("nan"), 0.5) and improves(0.1, None)
