"""Network: shapes, a hand-worked SGD step, learning the sources' toy problems, determinism, errors."""

import numpy as np
import pytest

import ffnn
from ffnn.data import toy


def test_parameter_shapes_follow_the_sources():
    net = ffnn.Network([784, 30, 10], seed=0)
    assert [w.shape for w in net.weights] == [(30, 784), (10, 30)]
    assert [b.shape for b in net.biases] == [(30,), (10,)]
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net.num_layers == 3
    assert "sizes=[784, 30, 10]" in repr(net)


def test_output_activation_defaults_to_the_costs_match():
    assert ffnn.Network([2, 3, 4], cost="cross_entropy").activations[-1].name == "softmax"
    assert ffnn.Network([2, 3, 4], "relu", cost="binary_cross_entropy").activations[-1].name == "sigmoid"
    net = ffnn.Network([2, 3, 4], "tanh")
    assert [a.name for a in net.activations] == ["tanh", "tanh"]
    net = ffnn.Network([2, 3, 3, 4], ["relu", "tanh", "identity"])
    assert [a.name for a in net.activations] == ["relu", "tanh", "identity"]


def test_one_sgd_step_on_a_2_2_1_network_worked_by_hand():
    """x = (1, 0.5), y = 1, η = 2; the numbers below were worked out with pen-and-paper formulas:
    z¹ = (0.7, 1.1), a¹ = (0.668188, 0.750260), z² = 1.967940, a² = 0.877390,
    δ² = (a² − y) σ'(z²) = −0.0131900649, δ¹ = w²ᵀ δ² ⊙ σ'(z¹) = (−0.0020470850, −0.0019771367).
    """
    net = ffnn.Network([2, 2, 1], dtype="float64")
    net.weights = [np.array([[0.1, 0.2], [0.3, 0.4]]), np.array([[0.7, 0.8]])]
    net.biases = [np.array([0.5, 0.6]), np.array([0.9])]
    X, y = np.array([[1.0, 0.5]]), np.array([[1.0]])
    assert net.cost(X, y) == pytest.approx(0.0075166519528627, abs=1e-15)
    nabla_b, _ = net.backprop(X, y)
    assert nabla_b[1][0] == pytest.approx(-0.013190064885668637, abs=1e-15)
    np.testing.assert_allclose(nabla_b[0], [-0.002047085029306896, -0.0019771366950813705], atol=1e-15)
    ffnn.fit(net, X, y, epochs=1, batch_size=1, eta=2.0)
    np.testing.assert_allclose(net.weights[1], [[0.717626880141, 0.819791958948]], atol=1e-12)
    np.testing.assert_allclose(net.biases[1], [0.926380129771], atol=1e-12)
    np.testing.assert_allclose(
        net.weights[0], [[0.104094170059, 0.202047085029], [0.303954273390, 0.401977136695]], atol=1e-12
    )
    np.testing.assert_allclose(net.biases[0], [0.504094170059, 0.603954273390], atol=1e-12)


def test_learns_source002s_four_examples():
    """Source 002: 3-4-1 sigmoid net, quadratic cost, full batch, 1,000 iterations at lr 1 on the
    *summed* gradient — which is η = 4 on ffnn's mean gradient."""
    X, y = toy.punnen()
    net = ffnn.Network([3, 4, 1], seed=1)
    ffnn.fit(net, X, y.astype(float), epochs=1000, batch_size=4, eta=4.0, seed=0)
    out = net.feedforward(X).ravel()
    assert np.all(np.abs(out - y) < 0.1), out
    np.testing.assert_array_equal(net.predict(X), y)


def test_learns_xor():
    X, y = toy.xor()
    net = ffnn.Network([2, 4, 2], cost="cross_entropy", seed=0)
    ffnn.fit(net, X, y, epochs=500, batch_size=4, eta=2.0, seed=0)
    out = net.feedforward(X)
    assert np.all(np.abs(out - np.eye(2)[y]) < 0.1), out
    assert net.accuracy(X, y) == 1.0


def train(seed, data_seed=0):
    rng = np.random.default_rng(data_seed)
    X, y = rng.standard_normal((64, 5)), rng.integers(0, 3, 64)
    net = ffnn.Network([5, 7, 3], seed=seed)
    ffnn.fit(net, X, y, epochs=3, batch_size=8, eta=0.5, seed=seed)
    return net


def test_same_seed_gives_bit_identical_weights():
    a, b = train(42), train(42)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q)


def test_different_seeds_give_different_weights():
    a, b = train(1), train(2)
    assert not np.array_equal(a.weights[0], b.weights[0])


def test_predict_accuracy_and_evaluate_agree(rng):
    net = ffnn.Network([4, 5, 3], seed=0)
    X, y = rng.standard_normal((50, 4)), rng.integers(0, 3, 50)
    predicted = net.predict(X)
    assert predicted.shape == (50,)
    assert net.accuracy(X, y) == pytest.approx(np.mean(predicted == y))
    assert net.accuracy(X, np.eye(3)[y]) == net.accuracy(X, y)  # one-hot targets work too


def test_single_output_network_takes_target_values(rng):
    net = ffnn.Network([2, 3, 1], cost="binary_cross_entropy", seed=0)
    X = rng.standard_normal((6, 2))
    assert net.feedforward(X).shape == (6, 1)
    assert set(net.predict(X)) <= {0, 1}
    assert net.cost(X, np.array([0, 1, 0, 1, 1, 0])) > 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_feedforward_stays_finite_for_huge_inputs(dtype):
    for out in ["sigmoid", "softmax"]:
        cost = "cross_entropy" if out == "softmax" else "quadratic"
        net = ffnn.Network([2, 3], output_activation=out, cost=cost, dtype=dtype, seed=0)
        net.weights[0][...] = 1.0
        X = np.array([[1e4, 1e4], [-1e4, -1e4], [1e4, -1e4]])
        assert np.isfinite(net.feedforward(X)).all()
        assert np.isfinite(net.cost(X, np.array([0, 1, 2])))


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sizes": [3]}, r"'sizes' parameter must be a list of at least 2 positive integers.*Got \[3\]"),
        ({"sizes": [3, 0, 2]}, r"'sizes'.*Got \[3, 0, 2\]"),
        ({"sizes": [3, -1]}, r"'sizes'.*Got \[3, -1\]"),
        ({"sizes": 5}, r"'sizes'.*Got 5"),
        (
            {"sizes": [2, 2], "activation": "swish"},
            r"'activation' parameter must be one of \['identity', 'leaky_relu'.*Got 'swish'",
        ),
        ({"sizes": [2, 2], "output_activation": "bogus"}, r"'output_activation' parameter must be one of"),
        (
            {"sizes": [2, 2], "cost": "hinge"},
            r"'cost' parameter must be one of \['binary_cross_entropy', 'cross_entropy', 'quadratic'\]",
        ),
        (
            {"sizes": [2, 2], "init": "xavier"},
            r"'init' parameter must be one of \['glorot', 'he', 'legacy_uniform', 'normal', 'scaled_normal', "
            r"'small_uniform'\]",
        ),
        ({"sizes": [2, 2], "dtype": "float16"}, r"'dtype' parameter must be one of \['float32', 'float64'\]"),
        ({"sizes": [2, 2], "seed": -3}, r"'seed' parameter must be None or a non-negative integer"),
        ({"sizes": [2, 3, 2], "activation": ["relu"]}, r"one activation per layer \(2 for these sizes\)"),
        ({"sizes": [2, 3, 2], "activation": "softmax"}, r"'softmax' is an output activation"),
        (
            {"sizes": [2, 2], "output_activation": "relu", "cost": "cross_entropy"},
            r"needs output activations in \(0, 1\)",
        ),
    ],
)
def test_bad_construction_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ffnn.Network(**kwargs)


def test_unusual_pairing_warns():
    with pytest.warns(UserWarning, match="legal but unusual"):
        ffnn.Network([2, 3], output_activation="softmax", cost="binary_cross_entropy")


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (np.zeros((4, 3)), np.zeros(4, int), ValueError, r"'X' must have shape \(n_samples, 2\).*Got shape \(4, 3\)"),
        (np.zeros(2), np.zeros(1, int), ValueError, r"Got shape \(2,\) instead \(reshape a single example"),
        (np.array([[0.0, np.nan]]), np.zeros(1, int), ValueError, r"'X' must be finite, but row 0 contains NaN or inf"),
        (np.array([[0.0, np.inf]]), np.zeros(1, int), ValueError, r"'X' must be finite"),
        (np.array([["a", "b"]]), np.zeros(1, int), TypeError, r"'X' must be a numeric array"),
        (np.zeros((3, 2)), np.array([0, 3, 1]), ValueError, r"class labels must lie in \[0, 3\).*Got 3 at index 1"),
        (np.zeros((3, 2)), np.array([0, -1, 1]), ValueError, r"Got -1 at index 1"),
        (
            np.zeros((3, 2)),
            np.zeros(4, int),
            ValueError,
            r"'y' must have one entry per example \(3\). Got shape \(4,\)",
        ),
        (np.zeros((3, 2)), np.zeros((3, 4)), ValueError, r"targets of shape \(3, 3\). Got shape \(3, 4\)"),
        (np.zeros((3, 2)), np.array([0.5, 1.0, 2.0]), TypeError, r"must hold integer class labels"),
        (np.zeros((1, 2)), np.array([[0.0, np.nan, 1.0]]), ValueError, r"'y' must be finite"),
    ],
)
def test_bad_data_is_refused_before_training(X, y, error, match):
    net = ffnn.Network([2, 4, 3], seed=0)
    before = [p.copy() for p in net.parameters()]
    with pytest.raises(error, match=match):
        ffnn.fit(net, X, y, epochs=1, batch_size=2, eta=1.0)
    for p, q in zip(before, net.parameters()):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"eta": 0.0}, r"'eta' parameter must be a number > 0.0. Got 0.0"),
        ({"eta": -1.0}, r"'eta' parameter must be a number > 0.0. Got -1.0"),
        ({"eta": float("nan")}, r"'eta' parameter must be a number > 0.0. Got nan"),
        ({"batch_size": 0}, r"'batch_size' parameter must be an integer >= 1. Got 0"),
        ({"epochs": -1}, r"'epochs' parameter must be an integer >= 0. Got -1"),
        ({"epochs": 2.5}, r"'epochs' parameter must be an integer >= 0. Got 2.5"),
        ({"lmbda": -0.1}, r"'lmbda' parameter must be a number >= 0.0. Got -0.1"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs, match):
    net = ffnn.Network([2, 3], seed=0)
    args = {"epochs": 1, "batch_size": 2, "eta": 1.0, **kwargs}
    before = net.weights[0].copy()
    with pytest.raises(ValueError, match=match):
        ffnn.fit(net, np.zeros((4, 2)), np.zeros(4, int), **args)
    np.testing.assert_array_equal(before, net.weights[0])


def test_bad_test_data_is_refused_before_training():
    net = ffnn.Network([2, 3], seed=0)
    with pytest.raises(ValueError, match=r"'test_data\[1\]' class labels must lie in \[0, 3\)"):
        ffnn.fit(net, np.zeros((4, 2)), np.zeros(4, int), 1, 2, 1.0, test_data=(np.zeros((2, 2)), np.array([0, 7])))


def test_cross_entropy_targets_must_be_probability_rows():
    net = ffnn.Network([2, 3], cost="cross_entropy", seed=0)
    X = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"probability rows summing to 1. Row 1 sums to 1.5"):
        net.backprop(X, np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]. Got values in \[-1, 2\]"):
        net.cost(X, np.array([[2.0, -1.0, 0.0], [1.0, 0.0, 0.0]]))
    net.backprop(X, np.array([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]]))  # soft labels are fine
    bce = ffnn.Network([2, 3], cost="binary_cross_entropy", seed=0)
    with pytest.raises(ValueError, match=r"'binary_cross_entropy' cost must lie in \[0, 1\]"):
        ffnn.fit(bce, X, np.full((2, 3), 1.5), epochs=1, batch_size=1, eta=1.0)


def test_subnormal_errors_are_flushed_in_float32_only():
    from ffnn.backprop import Workspace

    tiny32 = np.finfo(np.float32).tiny
    ws = Workspace([3, 4], 2, np.dtype(np.float32))
    delta = np.array([[1e-3, tiny32 / 8, -tiny32 / 3, 0.0], [-2.5, tiny32, -tiny32, 1e-40]], np.float32)
    ws.flush_subnormals(delta)
    np.testing.assert_array_equal(delta, np.array([[1e-3, 0, 0, 0], [-2.5, tiny32, -tiny32, 0]], np.float32))
    ws64 = Workspace([3, 4], 2, np.dtype(np.float64))
    tiny_delta = np.array([[1e-310, 0, 0, 0]])
    np.testing.assert_array_equal(ws64.flush_subnormals(tiny_delta.copy()), tiny_delta)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"activation": None}, TypeError, r"'activation' parameter must be an activation's name \(one of \['identity'"),
        ({"activation": 3}, TypeError, r"'activation' parameter must be .* Got 3 instead"),
        ({"dropout": "0.5"}, TypeError, r"'dropout' parameter must be a rate in \[0, 1\) or a list .* Got '0.5'"),
        (
            {"dropout": np.float32(1.5)},
            ValueError,
            r"'dropout' parameter must be in \[0, 1\). Got np.float32\(1.5\)",
        ),
        ({"input_dropout": np.nan}, ValueError, r"'input_dropout' parameter must be in \[0, 1\). Got nan"),
    ],
)
def test_messages_name_the_parameter(kwargs, error, match):
    """Issue 12, item 12: activation=None said "'NoneType' object is not iterable"."""
    with pytest.raises(error, match=match) as info:
        ffnn.Network([2, 3, 1], **kwargs)
    assert isinstance(info.value, ffnn.FFNNError)


def test_numpy_scalars_are_numbers():
    """Issue 12, item 12: dropout=np.float32(0.5) was refused as "not iterable"."""
    assert ffnn.Network([2, 3, 1], dropout=np.float32(0.5), input_dropout=np.float64(0.25)).dropout == [0.25, 0.5]
    assert ffnn.Network([2, 3, 1], activation="leaky_relu").activations[0].slope == 0.01
    with pytest.raises(TypeError, match=r"'slope' parameter must be in \(0, 1\). Got '0.1' instead"):
        ffnn.activations.LeakyReLU("0.1")


@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), ("a", TypeError), (1.5, TypeError), (True, TypeError)])
def test_fit_checks_its_seed(seed, error):
    """Issue 12, item 12: fit(seed=-1) and seed='a' failed inside numpy.random.default_rng."""
    net = ffnn.Network([2, 3, 1], seed=0)
    before = [p.copy() for p in net.parameters()]
    with pytest.raises(error, match=rf"The 'seed' parameter must be None or a non-negative integer. Got {seed!r}"):
        ffnn.fit(net, np.zeros((4, 2)), np.zeros(4), 1, 2, eta=0.1, seed=seed)
    assert all(np.array_equal(p, q) for p, q in zip(before, net.parameters()))
    assert ffnn.fit(net, np.zeros((4, 2)), np.zeros(4), 1, 2, eta=0.1, seed=np.int64(3)).epoch == [0]


@pytest.mark.parametrize(
    ("X", "kind"), [(np.array([[1 + 1j, 0]]), "complex128"), (np.array([[1, 2]], dtype="m8[s]"), "timedelta64\\[s\\]")]
)
def test_complex_and_time_inputs_are_refused(X, kind):
    """Issue 12, item 9: complex inputs were cast to float (imaginary part dropped)."""
    net = ffnn.Network([2, 3, 2], seed=0)
    with pytest.raises(
        TypeError, match=rf"'X' must be a numeric array of real numbers .* Got an array of dtype {kind}"
    ):
        net.predict(X)
    with pytest.raises(TypeError, match=rf"'y' must be a numeric array of real numbers .* dtype {kind}"):
        net.score(np.zeros((1, 2)), X[0, :1])


def test_the_memory_a_network_needs_is_counted_before_allocating():
    """Issue 21: ``--hidden 1000000000`` died of a MemoryError (14.9 GiB, exit 70) or was killed."""
    from ffnn.network import memory_needed

    # [2, 10⁹, 1]: 4·10⁹ + 1 parameters; built: those in float32 and the first layer (3·10⁹ numbers) twice in float64
    assert memory_needed([2, 10**9, 1], np.dtype(np.float32)) == (4 * 10**9 + 1) * 4 + 2 * 3 * 10**9 * 8
    # trained on batches of 10: the parameters twice more, and a^l, δ^l of a batch: 10 · (2·(2 + 10⁹ + 1) − 2)
    assert memory_needed([2, 10**9, 1], np.dtype(np.float64), 10) == 2 * (4 * 10**9 + 1) * 8 + 10 * (2 * 10**9 + 4) * 8
    with pytest.raises(ffnn.ParameterError) as info:
        ffnn.Network([2, 10**12, 1])  # 29 TiB: no machine has it
    message = str(info.value)
    assert message.startswith(
        "A network of sizes [2, 1000000000000, 1] (4,000,000,000,001 parameters) needs about 59,604.6 GiB of memory, "
        "and this machine has "
    )
    assert message.endswith(" GiB available: give it smaller layers.")


def test_training_that_memory_cannot_hold_is_refused_before_its_buffers_are_made():
    """A 300,001-parameter network builds; its activations for mini-batches of 10⁶ rows (745 GiB) do not fit."""
    net = ffnn.Network([1, 100_000, 1], seed=0)
    before = [p.copy() for p in net.parameters()]
    X, y = np.zeros((10**6, 1), np.float32), np.zeros(10**6, np.float32)
    says = (
        r"^Training a network of sizes \[1, 100000, 1\] \(300,001 parameters\) on mini-batches of 1000000 needs "
        r"about 745\.1 GiB of memory, and this machine has .* GiB available: give it smaller layers, or train it on "
        r"smaller mini-batches\.$"
    )
    with pytest.raises(ffnn.ParameterError, match=says):
        ffnn.fit(net, X, y, epochs=1, batch_size=10**6, eta=0.1)
    for p, q in zip(before, net.parameters()):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize(
    ("dtype", "y", "match"),
    [
        (
            "float32",
            [1e300, 0.0],
            r"^'y' row 0 holds 1e\+300, beyond float32's range \(±3\.4e\+38\): rescale the targets",
        ),
        (
            "float32",
            [1.0, 1e30],
            r"^'y' row 1 holds a target of 1e\+30: the quadratic cost of such targets, ½ Σ y² = 5e\+59, is "
            r"beyond float32's range \(±3\.4e\+38\)\. Rescale the targets \(divide them by their std, say\), or use "
            r"float64\.$",
        ),
        ("float64", [1e200, 1.0], r"^'y' row 0 holds a target of 1e\+200: .* ½ Σ y² = inf, is beyond float64's range"),
    ],
)
def test_targets_beyond_the_dtype_are_named_not_reported_as_nan_or_divergence(dtype, y, match, recwarn):
    """Issue 21: 1e300 was "contains NaN or inf" with NumPy's RuntimeWarning; 1e30 "diverged, try a smaller eta"."""
    net = ffnn.Network([1, 3, 1], output_activation="identity", dtype=dtype, seed=0)
    with pytest.raises(ffnn.ParameterError, match=match):
        ffnn.fit(net, np.array([[0.1], [0.2]]), np.array(y), epochs=1, batch_size=2, eta=0.1)
    assert [str(w.message) for w in recwarn] == []  # no RuntimeWarning beside the message
