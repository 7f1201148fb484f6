"""Backends (ffnn.backends): every installed array library trains the same numbers as NumPy.

Random draws come from NumPy's generator on the host on every backend, so in float64 the only
differences are the libraries' rounding: the weights must agree to 1e-10 after several epochs.
``array_api_strict`` has nothing beyond the array API standard, so a NumPy-only call left in the
math fails there. No test needs a GPU.
"""

import importlib.util
import sys

import numpy as np
import pytest

import ffnn
from ffnn import backends, checkpoint, schedules
from ffnn.callbacks import Callback, EarlyStopping
from ffnn.errors import ExtraNotInstalledError, ParameterError
from ffnn.optimizers import get_optimizer


def installed(*modules):
    return all(importlib.util.find_spec(m) is not None for m in modules)


OTHERS = [  # the backends besides NumPy that run here (CI: both, on the CPU)
    pytest.param(name, marks=pytest.mark.skipif(not installed(name, "array_api_compat"), reason=f"no {name}"))
    for name in ("array_api_strict", "torch")
]
TIGHT = 1e-10  # float64, a few epochs


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((240, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)
    return X, y


def host(net):
    return [net.backend.to_numpy(p) for p in net.parameters()]


def largest_difference(a, b):
    return max(float(np.max(np.abs(p - q))) for p, q in zip(host(a), host(b)))


def trained(backend, X, y, network=None, **fit):
    net = ffnn.Network(
        [6, 9, 7, 3], **{"dtype": "float64", "seed": 3, "dropout": 0.25, "input_dropout": 0.1, **(network or {})},
        backend=backend,
    )  # fmt: skip
    ffnn.fit(net, X, y, epochs=4, batch_size=16, seed=11, **fit)
    return net


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize(
    "fit",
    [
        {"eta": 0.5, "lmbda": 0.3, "max_norm": 1.2},  # plain SGD: the fused GEMM's other form, the book's L2
        {"optimizer": get_optimizer("momentum", 0.1, momentum=0.8), "max_norm": 1.5},
        {"optimizer": get_optimizer("adam", 0.01, weight_decay=1e-3, clip_norm=0.5)},
        {"optimizer": get_optimizer("nesterov", schedules.cosine(0.2, total_steps=60, warmup_steps=5))},
        {"optimizer": get_optimizer("rmsprop", schedules.step_decay(0.01, 0.5, every=10))},
        {"optimizer": get_optimizer("adamw", schedules.exponential(0.01, 0.5, steps=30))},
    ],
    ids=["sgd-l2-maxnorm", "momentum-maxnorm", "adam-clip", "nesterov-cosine", "rmsprop-step", "adamw-exponential"],
)
def test_training_gives_numpys_weights(backend, fit, data):
    X, y = data
    reference, net = trained("numpy", X, y, **fit), trained(backend, X, y, **fit)
    assert net.backend.name == backend and type(net.weights[0]) is not np.ndarray
    difference = largest_difference(reference, net)
    assert difference <= TIGHT, difference
    untrained = ffnn.Network([6, 9, 7, 3], dtype="float64", seed=3)  # the same start, not trained
    assert largest_difference(reference, untrained) > 0.1  # it trained


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize(
    ("activation", "output", "cost"),
    [
        ("sigmoid", None, "quadratic"),
        ("tanh", "softmax", "cross_entropy"),
        ("relu", "sigmoid", "binary_cross_entropy"),
        ("leaky_relu", "identity", "quadratic"),
        ("identity", "softmax", "quadratic"),  # softmax's Jacobian through the general BP1
        ("sigmoid", "sigmoid", "quadratic"),
    ],
)
def test_every_activation_and_cost_backpropagates_as_numpy(backend, activation, output, cost, data):
    X, y = data
    nets = [
        ffnn.Network([6, 5, 4, 3], activation, output, cost, dtype="float64", seed=1, backend=b)
        for b in ("numpy", backend)
    ]
    weights = np.random.default_rng(2).random(len(X))
    (b0, w0), (b1, w1) = (net.backprop(X[:50], y[:50], sample_weight=weights[:50]) for net in nets)
    assert all(type(g) is np.ndarray for g in [*b1, *w1])  # results come back as NumPy
    for g, h in zip([*b0, *w0], [*b1, *w1]):
        np.testing.assert_allclose(h, g, rtol=0, atol=1e-14)
    assert nets[0].score(X, y) == pytest.approx(nets[1].score(X, y), abs=1e-13)
    np.testing.assert_array_equal(nets[0].predict(X), nets[1].predict(X))


@pytest.mark.parametrize("backend", OTHERS)
def test_sample_weights_and_augmentation_run_on_the_backend(backend, data):
    X, y = data
    weights = np.random.default_rng(8).random(len(X))

    def jitter(batch, rng):
        assert type(batch) is np.ndarray  # augmentations see NumPy, on every backend
        return batch + 0.05 * rng.standard_normal(batch.shape)

    fit = {"eta": 0.3, "sample_weight": weights, "augment": jitter}
    assert largest_difference(trained("numpy", X, y, **fit), trained(backend, X, y, **fit)) <= TIGHT


def test_float32_trains_on_torch(data):
    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    X, y = data
    fit = {"optimizer": get_optimizer("adam", 0.01), "max_norm": 2.0}
    reference = trained("numpy", X, y, network={"dtype": "float32"}, **fit)
    net = trained("torch", X, y, network={"dtype": "float32"}, **fit)
    assert str(net.weights[0].dtype) == "torch.float32"
    assert 0 < largest_difference(reference, net) <= 1e-4  # float32 rounding, not another result
    assert (net.predict(X) == reference.predict(X)).mean() >= 0.98


def test_model_files_are_backend_free(data, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    X, y = data
    net = trained("torch", X, y, eta=0.5)
    net.standardization = (X.mean(axis=0), X.std(axis=0))
    ffnn.save(net, tmp_path / "model.npz")
    on_numpy = ffnn.load(tmp_path / "model.npz")
    assert on_numpy.backend is backends.NUMPY and type(on_numpy.weights[0]) is np.ndarray
    for p, q in zip(host(net), on_numpy.parameters()):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(on_numpy.predict(X), net.predict(X))
    assert len(np.unique(net.predict(X))) > 1  # labels worth comparing
    back = ffnn.load(tmp_path / "model.npz", backend="torch")
    assert type(back.weights[0]).__module__ == "torch" and back.backend.device == "cpu"
    np.testing.assert_allclose(back.predict_proba(X), on_numpy.predict_proba(X), rtol=0, atol=1e-14)


class StopAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, network, history):
        return history.epoch[-1] == self.epoch


@pytest.mark.parametrize("first", ["torch", "numpy"])  # resumed on torch from a torch and from a NumPy checkpoint
def test_resume_on_torch_equals_an_uninterrupted_run(first, data, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    X, y = data

    def run(backend, callbacks, resume=None):
        net = ffnn.Network([6, 9, 3], dtype="float64", seed=3, dropout=0.2, backend=backend)
        fit = {"epochs": 5, "batch_size": 16, "seed": 2, "validation_data": (X[:60], y[:60])}
        history = ffnn.fit(
            net, X, y, optimizer=get_optimizer("adam", 0.02), max_norm=2.0, resume=resume,
            callbacks=[EarlyStopping(patience=4), *callbacks], **fit,
        )  # fmt: skip
        return net, history

    whole, whole_history = run("torch", [])
    run(first, [StopAfter(1), checkpoint.Checkpointer(tmp_path)])
    state = checkpoint.load(checkpoint.latest(tmp_path))
    assert state["epoch"] == 1 and all(type(m) is np.ndarray for m in state["optimizer"][0][1])  # Adam's moments
    resumed, history = run("torch", [], resume=state)
    assert history.epoch == whole_history.epoch == [0, 1, 2, 3, 4]
    assert history.train_cost == pytest.approx(whole_history.train_cost, rel=1e-12)
    tolerance = 0.0 if first == "torch" else TIGHT  # the same library all along: bit for bit
    assert largest_difference(whole, resumed) <= tolerance


def test_unknown_and_missing_backends_say_what_to_do(monkeypatch):
    with pytest.raises(ParameterError, match=r"'backend' parameter must be one of \['numpy', 'torch', 'cupy', "):
        ffnn.Network([2, 2], backend="nope")
    monkeypatch.setitem(sys.modules, "cupy", None)  # as if CuPy were not installed
    with pytest.raises(ExtraNotInstalledError, match=r"needs the cupy package: pip install 'ffnn\[cupy\]'"):
        ffnn.Network([2, 2], backend="cupy")
    with pytest.raises(ParameterError, match="'device' parameter is for the torch backend"):
        ffnn.Network([2, 2], device="cuda")
    if installed("torch", "array_api_compat"):
        with pytest.raises(ParameterError, match="must be a torch device"):
            ffnn.Network([2, 2], backend="torch", device="abacus")


def test_numpy_keeps_its_own_path():
    """NumPy arrays get NumPy itself (out= buffers, the ctypes GEMM), never a wrapper."""
    assert backends.namespace(np.zeros(2)) is np
    assert backends.NUMPY.gemm_at_b is ffnn._blas.gemm_at_b
    net = ffnn.Network([3, 2])
    assert net.backend is backends.get_backend("numpy") and type(net.weights[0]) is np.ndarray


def test_host_copies_keep_named_states_named():
    """An optimizer's state is a NamedTuple (ffnn.optimizers): copied to the host and back it stays one."""
    from ffnn.backends import get_backend
    from ffnn.optimizers import AdamState, TraceState

    numpy = get_backend("numpy")
    adam = AdamState(3, [np.ones(2)], [np.zeros(2)])
    back = numpy.from_host(numpy.to_host(adam))
    assert isinstance(back, AdamState) and back.t == 3
    np.testing.assert_array_equal(back.m[0], np.ones(2))
    trace = numpy.to_host(TraceState([np.full(3, 0.5)]))
    assert isinstance(trace, TraceState) and trace.v[0].tolist() == [0.5, 0.5, 0.5]


def test_a_device_whose_arrays_hold_no_values_is_refused():
    """Issue 21: ``--backend torch --device meta`` built the network and failed in training (exit 70)."""
    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    with pytest.raises(
        ParameterError,
        match=r"^The 'torch' backend cannot make an array on device 'meta' and read it back here "
        r"\(NotImplementedError: .*\); use cpu, or cuda on a GPU\.$",
    ):
        ffnn.Network([2, 3, 1], backend="torch", device="meta")
    assert backends.get_backend("torch", "cpu").on_host and backends.NUMPY.on_host  # memory checked on the host
