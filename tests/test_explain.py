"""ffnn explain: every number of one step of backpropagation, against the sources' per-example
algorithm (ffnn.reference, 1e-12 in float64) and finite differences; its JSON; source 002's
network number for number; no biases, the legacy initialiser and the summed cost as options."""

import copy
import json
import warnings

import numpy as np
import pytest

import ffnn
import test_reference  # tests/ is on the path, as for conftest
from ffnn import optimizers, reference
from ffnn.data import toy
from ffnn.explain import explain, render
from ffnn.gradcheck import numerical_gradient, relative_error

# hidden activation, output activation, cost: the reference tests' pairs, and what makes every
# activation appear as an output too
PAIRS = [*test_reference.PAIRS, ("tanh", "tanh", "quadratic"), ("leaky_relu", "relu", "quadratic"),
         ("tanh", "sigmoid", "cross_entropy")]  # fmt: skip
SHAPES = [[3, 4, 2], [5, 4, 3, 2]]


def network(sizes, hidden, output, cost, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the unmatched pairs' warning
        return ffnn.Network(sizes, hidden, output, cost, dtype="float64", seed=12, **kw)


def data(sizes, m, rng):
    X = rng.standard_normal((m, sizes[0]))
    Y = rng.dirichlet(np.ones(sizes[-1]), m) * 0.9 + 0.1 / sizes[-1]  # probability rows in (0, 1)
    return X, Y


def forward_columns(ref, x):
    """[(z^l, a^l)] of one example, column vectors, as the reference algorithm computes them."""
    out, a = [], x
    for b, w, (sigma, _) in zip(ref.biases, ref.weights, ref.activations):
        z = np.dot(w, a) + b
        a = sigma(z)
        out.append((z, a))
    return out


@pytest.mark.parametrize("sizes", SHAPES)
@pytest.mark.parametrize(("hidden", "output", "cost"), PAIRS)
@pytest.mark.parametrize(("reduction", "bias"), [("mean", True), ("sum", False)])
def test_every_number_equals_the_per_example_reference(sizes, hidden, output, cost, reduction, bias, rng):
    net = network(sizes, hidden, output, cost, reduction=reduction, bias=bias)
    m, eta = 5, 0.7
    X, Y = data(sizes, m, rng)
    e = explain(net, X, Y, eta=eta)
    ref = reference.ReferenceNetwork(
        sizes, [a.name for a in net.activations], cost, weights=[w.copy() for w in net.weights],
        biases=[b.copy() for b in net.biases],
    )  # fmt: skip
    scale = 1.0 / m if reduction == "mean" else 1.0
    sums_b = [np.zeros(len(b)) for b in net.biases]
    sums_w = [np.zeros_like(w) for w in net.weights]
    cost_total = 0.0
    for i, (x, y) in enumerate(zip(X, Y)):
        x, y = x.reshape(-1, 1), y.reshape(-1, 1)
        nabla_b, nabla_w = ref.backprop(x, y)  # BP3's ∂C_x/∂b^l is δ^l_x
        for s, (z, a), d in zip(e.layers, forward_columns(ref, x), nabla_b):
            np.testing.assert_allclose(s.z[i], z.ravel(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(s.a[i], a.ravel(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(s.delta[i], d.ravel(), rtol=1e-12, atol=1e-12)
        sums_b = [t + d.ravel() for t, d in zip(sums_b, nabla_b)]
        sums_w = [t + d for t, d in zip(sums_w, nabla_w)]
        cost_total += ref.cost(ref.feedforward(x), y)
    assert e.cost == pytest.approx(cost_total * scale, rel=1e-12)
    ref.update_mini_batch(list(zip(X.reshape(m, -1, 1), Y.reshape(m, -1, 1))), eta * m * scale)
    for s, gb, gw, w_new, b_new in zip(e.layers, sums_b, sums_w, ref.weights, ref.biases):
        np.testing.assert_allclose(s.grad_w, gw * scale, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(s.w_new, w_new, rtol=1e-12, atol=1e-12)
        if bias:
            np.testing.assert_allclose(s.grad_b, gb * scale, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(s.b_new, b_new.ravel(), rtol=1e-12, atol=1e-12)
        else:
            assert s.b is None and s.grad_b is None and s.b_new is None
    assert max(np.abs(s.grad_w).max() for s in e.layers) > 1e-4  # not a comparison of zeros


@pytest.mark.parametrize(("hidden", "output", "cost"), PAIRS)
def test_the_gradient_equals_finite_differences(hidden, output, cost, rng):
    for reduction in ("mean", "sum"):
        net = network([4, 5, 3], hidden, output, cost, reduction=reduction)
        X, Y = data([4, 5, 3], 6, rng)
        e = explain(net, X, Y, eta=1.0)
        num_b, num_w = numerical_gradient(net, X, Y)
        error = relative_error([s.grad_w for s in e.layers] + [s.grad_b for s in e.layers], num_w + num_b)
        assert error < 1e-8, (reduction, error)


def test_one_example_is_the_batch_of_one_and_the_network_is_unchanged(rng):
    net = network([3, 4, 2], "sigmoid", "softmax", "cross_entropy")
    before = [w.copy() for w in net.weights]
    X, y = rng.standard_normal((4, 3)), np.array([1, 0, 1, 1])
    one, row = explain(net, X[2], y[2], eta=0.5), explain(net, X[2:3], y[2:3], eta=0.5)
    assert one.as_dict() == row.as_dict()
    assert one.y.tolist() == [[0.0, 1.0]]  # the label, one-hot
    assert all(np.array_equal(w, b) for w, b in zip(net.weights, before))


def test_the_gradient_and_step_are_ffnns_own_training_step(rng):
    """Under plain SGD with L2 and under each optimizer, w_new is what one step of ffnn.fit makes."""
    X, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    for name, kwargs in [("sgd", {"eta": 0.8, "lmbda": 0.3}), *((o, {}) for o in optimizers.OPTIMIZERS)]:
        net = network([3, 5, 2], "tanh", "softmax", "cross_entropy")
        trained = copy.deepcopy(net)
        if name == "sgd" and kwargs:
            e = explain(net, X, y, eta=0.8, lmbda=0.3, n_train=6)
            ffnn.fit(trained, X, y, epochs=1, batch_size=6, shuffle=False, **kwargs)
            assert e.formula == "w ← (1 − ηλ/n) w − η ∂C/∂w; b ← b − η ∂C/∂b (η = 0.8, 1 − ηλ/n = 0.96)"
        else:
            optimizer = optimizers.get_optimizer(name, 0.05)
            e = explain(net, X, y, eta=0.05, optimizer=optimizer)
            ffnn.fit(
                trained, X, y, epochs=1, batch_size=6, shuffle=False, optimizer=optimizers.get_optimizer(name, 0.05)
            )
            assert e.formula == optimizer.formula and "η = 0.05" in e.formula
        for s, w, b in zip(e.layers, trained.weights, trained.biases):
            np.testing.assert_array_equal(s.w_new, w)
            np.testing.assert_array_equal(s.b_new, b)
            assert not np.array_equal(s.w_new, s.w)
    momentum = optimizers.get_optimizer("momentum", 0.05)
    assert momentum.formula == "g = ∂C/∂θ; v ← μ v + g; θ ← θ − η v (μ = 0.9, η = 0.05)"


def test_the_json_holds_every_quantity_at_full_precision(rng):
    net = network([3, 4, 2], "sigmoid", "sigmoid", "quadratic")
    X, Y = data([3, 4, 2], 3, rng)
    e = explain(net, X, Y, eta=2.0, sample_weight=[1.0, 2.0, 0.5])
    d = json.loads(json.dumps(e.as_dict()))
    assert set(d) == {"sizes", "cost", "gradient", "eta", "optimizer", "input", "layers", "output"}
    assert d["sizes"] == [3, 4, 2] and d["eta"] == 2.0
    assert d["cost"] == {"name": "quadratic", "reduction": "mean", "value": e.cost}
    assert d["gradient"] == "weighted mean over the 3 examples"
    assert d["optimizer"] == {"name": "sgd", "formula": "w ← w − η ∂C/∂w; b ← b − η ∂C/∂b (η = 2)"}
    assert d["input"]["a0"] == X.tolist() and d["input"]["y"] == Y.tolist()
    assert d["input"]["sample_weight"] == [0.5, 1.0, 0.25]  # as ffnn counts them: the largest 1
    keys = {"l", "activation", "w", "b", "z", "a", "delta", "dC/db", "dC/dw", "w_new", "b_new"}
    for l, (layer, s) in enumerate(zip(d["layers"], e.layers), start=1):
        assert set(layer) == keys and layer["l"] == l
        for key, value in [("w", s.w), ("b", s.b), ("z", s.z), ("a", s.a), ("delta", s.delta), ("dC/db", s.grad_b),
                           ("dC/dw", s.grad_w), ("w_new", s.w_new), ("b_new", s.b_new)]:  # fmt: skip
            assert np.array_equal(np.array(layer[key]), value), key  # every bit of every float64
        assert np.array(layer["z"]).shape == (3, net.sizes[l])  # one row per example
    assert d["output"] == e.layers[-1].a.tolist()
    # the weighted mean's gradient: Σ_x w_x ∂C_x / Σ w
    single = [explain(net, X[i], Y[i], eta=2.0).layers[0].grad_w for i in range(3)]
    np.testing.assert_allclose(e.layers[0].grad_w, (single[0] + 2 * single[1] + 0.5 * single[2]) / 3.5, rtol=1e-12)


def test_bad_arguments_are_refused_in_one_line(rng):
    net = network([3, 4, 2], "sigmoid", "sigmoid", "quadratic")
    X, Y = data([3, 4, 2], 2, rng)
    with pytest.raises(ffnn.ParameterError, match="'eta'"):
        explain(net, X, Y)
    with pytest.raises(ffnn.ParameterError, match="give 'n_train'"):
        explain(net, X, Y, eta=1.0, lmbda=0.1)
    with pytest.raises(ffnn.ParameterError, match="'lmbda' is for plain SGD"):
        explain(net, X, Y, optimizer=optimizers.adam(0.1), lmbda=0.1)
    with pytest.raises(ffnn.ParameterError, match="There is no neuron 3:1"):
        render(explain(net, X, Y, eta=1.0), neuron=(3, 1))


# -- source 002 --------------------------------------------------------------------------------


def source_002():
    """Source 002's own code, as printed (its weights from np.random.seed(1)), with what it prints."""
    state = np.random.RandomState(1)
    weight1, weight2 = state.random_sample((3, 4)), state.random_sample((4, 1))
    return weight1, weight2


def test_legacy_uniform_draws_source_002s_weights():
    weight1, weight2 = source_002()
    net = ffnn.Network([3, 4, 1], init="legacy_uniform", seed=1, bias=False, dtype="float64")
    np.testing.assert_array_equal(net.weights[0], weight1.T)  # ffnn's (n_out, n_in): the transpose
    np.testing.assert_array_equal(net.weights[1], weight2.T)
    assert [b.tolist() for b in net.biases] == [[0.0] * 4, [0.0]]
    with pytest.raises(ffnn.ParameterError, match=r"must be in \[0, 2\*\*32\)"):
        ffnn.Network([3, 4, 1], init="legacy_uniform", seed=2**32)


def test_source_002_number_for_number(capsys):
    """`ffnn explain --recipe source-002` shows the source's initial outputs; 1,000 steps of the
    recipe give its trained outputs and 0.925 for [1, 0, 1]."""
    from ffnn import explaining

    done = explaining.explained(explaining.subject("source-002"))
    assert np.round(done.explanation.output.ravel(), 3).tolist() == [0.758, 0.771, 0.791, 0.801]
    assert done.explanation.reduction == "sum" and not done.explanation.bias
    from test_cli import in_process

    status, out, _ = in_process(capsys, "explain", "--recipe", "source-002")
    assert status == 0
    assert "OUTPUT   a^L to 3 decimals   #0: 0.758;  #1: 0.771;  #2: 0.791;  #3: 0.801" in out
    assert "b¹: none (no biases)" in out and "C = Σ_x C_x, C_x = ½ ‖a^L − y‖²" in out

    net = explaining.subject("source-002").network
    X, y = toy.punnen()
    ffnn.fit(net, X, y, epochs=1000, batch_size=4, eta=1.0, shuffle=False)
    assert np.round(net.feedforward(X).ravel(), 3).tolist() == [0.028, 0.925, 0.925, 0.090]
    assert round(float(net.feedforward([[1, 0, 1]])[0, 0]), 3) == 0.925


def test_source_002_trained_by_the_command_line(tmp_path, capsys):
    from test_cli import in_process

    status, _, _ = in_process(capsys, "train", "--recipe", "source-002", "--out", tmp_path / "run", "--quiet",
                              "--no-plots")  # fmt: skip
    assert status == 0
    model = tmp_path / "run" / "model.npz"
    status, out, _ = in_process(capsys, "explain", model, "--input", "1,0,1", "--target", "1", "--format", "json")
    assert status == 0
    d = json.loads(out)
    assert round(d["output"][0][0], 3) == 0.925 and d["layers"][0]["b"] is None
    status, out, _ = in_process(capsys, "explain", model, "--format", "json")  # its run's batch: the four
    assert np.round(np.ravel(json.loads(out)["output"]), 3).tolist() == [0.028, 0.925, 0.925, 0.090]


# -- the options: no biases, the summed cost -------------------------------------------------------


def test_a_network_without_biases_trains_saves_loads_and_exports(tmp_path, rng):
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    for name in optimizers.OPTIMIZERS:
        net = ffnn.Network([3, 4, 2], "tanh", cost="cross_entropy", bias=False, seed=1)
        ffnn.fit(net, X, y, epochs=2, batch_size=5, optimizer=optimizers.get_optimizer(name, 0.1))
        assert all(not b.any() for b in net.biases), name  # b ≡ 0: no update rule moves it
    ffnn.fit(net, X, y, epochs=2, batch_size=5, eta=0.5, lmbda=0.1)
    assert all(not b.any() for b in net.biases)
    ffnn.save(net, tmp_path / "m.npz")
    archive = np.load(tmp_path / "m.npz")
    assert sorted(archive.files) == ["header", "w1", "w2"]
    header = ffnn.serialization.read_header(tmp_path / "m.npz")
    assert header["bias"] is False and header["format_version"] == 3
    back = ffnn.load(tmp_path / "m.npz")
    assert not back.bias and repr(back) == repr(net)
    np.testing.assert_array_equal(back.feedforward(X), net.feedforward(X))
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    ffnn.export.to_onnx(back, tmp_path / "m.onnx")
    model = onnx.load(str(tmp_path / "m.onnx"))
    assert [len(n.input) for n in model.graph.node if n.op_type == "Gemm"] == [2, 2]  # no bias inputs
    probabilities, labels = ReferenceEvaluator(model).run(None, {"input": X.astype(np.float32)})
    np.testing.assert_allclose(probabilities, back.predict_proba(X), atol=1e-6)
    assert labels.tolist() == back.predict(X).tolist()


def test_nonzero_biases_for_a_network_without_them_are_refused():
    w, b = np.ones((2, 3)), np.array([0.0, 1.0])
    with pytest.raises(ffnn.ParameterError, match="nonzero biases to a network without biases"):
        ffnn.Network([3, 2], bias=False, parameters=[(w, b)])
    with pytest.raises(ffnn.ParameterTypeError, match="'bias' parameter must be True or False"):
        ffnn.Network([3, 2], bias="no")


def test_the_summed_cost_is_the_sum_and_its_gradient_m_times_the_means(rng):
    X, Y = data([3, 4, 2], 5, rng)
    mean = network([3, 4, 2], "sigmoid", "sigmoid", "quadratic")
    summed = network([3, 4, 2], "sigmoid", "sigmoid", "quadratic", reduction="sum")
    assert summed.cost(X, Y) == pytest.approx(5 * mean.cost(X, Y), rel=1e-14)
    weights = [1, 1, 2, 0, 1]  # counted as w_x / max w
    assert summed.cost(X, Y, weights) == pytest.approx(
        sum(summed.cost(X[i : i + 1], Y[i : i + 1]) * w / 2 for i, w in enumerate(weights)), rel=1e-14
    )
    (b_mean, w_mean), (b_sum, w_sum) = mean.backprop(X, Y), summed.backprop(X, Y)
    for a, b in zip(b_mean + w_mean, b_sum + w_sum):
        np.testing.assert_allclose(b, 5 * a, rtol=1e-13)
    assert ffnn.gradcheck.check_gradients(summed, X, Y, sample_weight=[1, 1, 2, 0, 1]) < 1e-8
    with pytest.raises(ffnn.ParameterError, match="'reduction' parameter must be one of"):
        ffnn.Network([3, 2], reduction="total")


def test_the_options_are_ordinary_settings(tmp_path):
    from ffnn import settings
    from ffnn.build import build_network
    from ffnn.config import of_values

    net = build_network(of_values({"sizes": [3, 4, 1], "biases": False, "reduction": "sum", "init": "legacy_uniform"}))
    assert not net.bias and net.cost_function.reduction == "sum" and net.init == "legacy_uniform"
    with pytest.raises(ffnn.SettingError, match="reduction must be one of 'mean', 'sum'"):
        settings.check({"reduction": "max"})
    with pytest.raises(ffnn.SettingError, match="biases must be true or false"):
        settings.check({"biases": "no"})
    assert settings.flag("biases") == "--no-biases" and settings.flag("standardize") == "--standardize"


# -- the command line and the rendering ----------------------------------------------------------


def test_xor_explained_whole_and_one_neuron(capsys):
    from test_cli import in_process

    status, out, _ = in_process(capsys, "explain", "--recipe", "xor")
    assert status == 0
    for line in ["FORWARD PASS", "BP1  δ² = a² − y", "BP2  δ¹ = ((w²)ᵀ δ²) ⊙ sigmoid'(z¹)",
                 "BP3  ∂C/∂b¹ = (1/m) Σ_x δ¹_x", "BP4  ∂C/∂w² = (1/m) Σ_x δ²_x (a¹_x)ᵀ",
                 "UPDATE   w ← w − η ∂C/∂w; b ← b − η ∂C/∂b (η = 2)"]:  # fmt: skip
        assert line in out
    status, one, _ = in_process(capsys, "explain", "--recipe", "xor", "--neuron", "1:3", "--index", "2")
    rows = [line.split()[0] for line in one.splitlines() if line.startswith("    j=")]
    assert status == 0 and rows and set(rows) == {"j=3"} and "layer 2" not in one
    status, plain, _ = in_process(capsys, "explain", "--recipe", "xor", "--no-biases", "--reduction", "sum")
    assert status == 0 and "b¹: none (no biases)" in plain and "BP3  ∂C/∂b²: none (no biases)" in plain
    assert "BP4  ∂C/∂w² = Σ_x δ²_x (a¹_x)ᵀ" in plain and "UPDATE   w ← w − η ∂C/∂w (η = 2)" in plain
    status, md, _ = in_process(capsys, "explain", "--recipe", "xor", "--format", "markdown", "--optimizer", "adam",
                               "--eta", "0.01")  # fmt: skip
    assert status == 0 and "| #0 |" in md and "adam: g = ∂C/∂θ; t ← t + 1" in md


def test_a_wide_network_is_summarised(rng):
    net = ffnn.Network([20, 15, 3], seed=0, dtype="float64")
    X, y = rng.standard_normal((2, 20)), np.array([0, 2])
    e = explain(net, X, y, eta=1.0)
    text = render(e)
    w = e.layers[0].w
    j, k = np.unravel_index(np.argmax(np.abs(w)), w.shape)
    assert (
        f"w¹ (row j: neuron j of layer 1; column k: neuron k of layer 0): 15 × 20, norm {np.linalg.norm(w):.6g}" in text
    )
    assert f"largest: [j={j + 1}, k={k + 1}] {w[j, k]:.6g}" in text
    assert "a² = sigmoid(z²)\n" in text  # small enough: whole


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--index", "9"], "--index must be from 0 to 3"),
        (["--input", "1,0"], "--input and --target go together"),
        (["--index", "1", "--batch", "2"], "choose the examples one way"),
        (["--neuron", "2:5"], "There is no neuron 2:5"),
        (["--neuron", "x"], "expected LAYER:NEURON like 1:3"),
        (["--format", "json", "--neuron", "1:1"], "the JSON holds every neuron"),
        (["--input", "1,0,1", "--target", "1"], "'X' must have shape (n_samples, 2)"),
    ],
)
def test_mistakes_exit_2_in_one_line(args, message, capsys):
    from test_cli import in_process

    status, out, err = in_process(capsys, "explain", "--recipe", "xor", *args)
    assert status == 2 and out == "" and message in err and err.count("\n") == 1


def test_a_models_network_is_its_own(tmp_path, capsys):
    from test_cli import in_process

    net = ffnn.Network([2, 3, 2], seed=0)
    ffnn.save(net, tmp_path / "m.npz")
    status, _, err = in_process(capsys, "explain", tmp_path / "m.npz", "--sizes", "2,5,2")
    assert status == 2 and "the model's network is its own; --sizes describes a recipe's" in err
    status, out, _ = in_process(capsys, "explain", tmp_path / "m.npz", "--dataset", "xor", "--index", "3")
    assert status == 0 and "training example #3 of the xor data" in out
    status, out, err = in_process(capsys, "explain", tmp_path / "m.npz")  # took MNIST, the default: a shape error
    assert (status, out) == (2, "") and err == (
        f"ffnn: error: {tmp_path / 'm.npz'}: the model does not say which data it was trained on (its metadata "
        "holds no run settings, which ffnn train writes): name it with --dataset NAME or FILE, or give an example "
        "with --input and --target.\n"
    )
    # one example given as numbers needs no data set (it loaded MNIST, and titled the example "of the mnist data")
    status, out, _ = in_process(capsys, "explain", tmp_path / "m.npz", "--input", "0,1", "--target", "1")
    assert status == 0 and out.startswith(f"ffnn explain: {tmp_path / 'm.npz'}, the example given\n")
    status, out, err = in_process(
        capsys, "explain", tmp_path / "m.npz", "--input", "0,1", "--target", "1", "--lmbda", 1
    )
    assert (status, out) == (2, "") and err.endswith("n being the training set's size: name the data with --dataset.\n")
