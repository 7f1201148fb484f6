"""Figures from a small real run: each PNG exists, has its size, is not blank, plots the right data."""

import json
import subprocess
import sys

import numpy as np
import pytest

import ffnn
from ffnn import plotting
from ffnn.callbacks import GradientNorms
from ffnn.metrics import confusion_matrix

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

pytest.importorskip("matplotlib")


def png(path):
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=float)


@pytest.fixture(scope="module")
def mnist_subset():
    from ffnn.data import load_mnist

    try:
        (X, y), (X_test, y_test) = load_mnist()
    except ffnn.DataUnavailableError as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"real MNIST unavailable: {e}")
    return X[:3000], y[:3000], X_test[:1000], y_test[:1000]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, mnist_subset):
    """A real (small) MNIST run through `ffnn train`, figures included."""
    X, y, X_test, y_test = mnist_subset
    folder = tmp_path_factory.mktemp("run")
    np.savez(folder / "mnist-small.npz", X=X, y=y, X_test=X_test, y_test=y_test)
    args = ["train", "--dataset", folder / "mnist-small.npz", "--sizes", "784,30,10", "--epochs", 3, "--eta", 3.0]
    done = subprocess.run(
        [sys.executable, "-m", "ffnn", *map(str, args), "--out", folder / "run", "--svg"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "Figures: learning_curves.png" in done.stdout
    return folder / "run"


EXPECTED = {  # name: (width, height) in pixels at 100 dpi
    "learning_curves": (1100, 450),
    "gradient_norms": (800, 500),
    "confusion_matrix": (700, 600),
    "misclassified": (800, 900),
    "first_layer_weights": (700, 600),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_figure_exists_has_its_size_and_is_not_blank(run_dir, name):
    pixels = png(run_dir / f"{name}.png")
    assert pixels.shape == EXPECTED[name][::-1]
    assert pixels.std() > 10  # not a blank page
    assert (run_dir / f"{name}.svg").read_text().startswith("<?xml")


def test_learning_curves_plot_the_recorded_metrics(run_dir):
    metrics = plotting.read_metrics(run_dir / "metrics.csv")
    fig = plotting.plot_learning_curves(metrics)
    cost_ax, acc_ax = fig.axes
    np.testing.assert_allclose(cost_ax.lines[0].get_ydata(), metrics["train_cost"])
    assert [line.get_label() for line in acc_ax.lines] == ["training", "test"]
    np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), 100 * np.array(metrics["test_accuracy"]))
    assert acc_ax.get_ylabel() == "accuracy (%)" and cost_ax.get_xlabel() == "epoch"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert metrics["test_accuracy"][-1] == pytest.approx(summary["final_test_accuracy"])


def test_confusion_matrix_figure_counts_every_example(run_dir, mnist_subset):
    _, _, X_test, y_test = mnist_subset
    net = ffnn.load(run_dir / "model.npz")
    confusion = confusion_matrix(y_test, net.predict(X_test), 10)
    fig = plotting.plot_confusion(confusion)
    counts = [int(t.get_text()) for t in fig.axes[0].texts]
    assert len(counts) == 100 and sum(counts) == len(y_test) == 1000
    assert f"{100 * net.accuracy(X_test, y_test):.2f} % correct of 1000" in fig.axes[0].get_title()


def test_misclassified_grid_shows_mistakes_only(mnist_subset, run_dir):
    _, _, X_test, y_test = mnist_subset
    net = ffnn.load(run_dir / "model.npz")
    predicted = net.predict(X_test)
    outputs = net.feedforward(X_test)
    rows = np.arange(len(y_test))
    fig = plotting.plot_misclassified(X_test, y_test, predicted, outputs[rows, predicted] - outputs[rows, y_test], n=9)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 9
    for title in titles:
        true, guess = title.split("\n")[0].removeprefix("true ").split(" → ")
        assert true != guess


def test_decision_regions_for_2d_data(tmp_path):
    X, y = ffnn.data.toy.moons(n=200, seed=0)
    net = ffnn.Network([2, 16, 2], "tanh", cost="cross_entropy", seed=0)
    ffnn.fit(net, X, y, 30, 10, eta=0.3, seed=0)
    fig = plotting.plot_decision_regions(net, X, y, resolution=50)
    plotting.save(fig, tmp_path / "regions", ("png",))
    pixels = png(tmp_path / "regions.png")
    assert pixels.shape == (600, 650) and pixels.std() > 10
    assert f"{100 * net.accuracy(X, y):.1f} %" in fig.axes[0].get_title()


def test_drawing_a_figure_leaves_the_callers_backend_alone(tmp_path):
    """A notebook's inline backend (or any the caller chose) survives a call: the figures are drawn
    on their own canvas, and the caller's pyplot figures still show (issue 23's notebooks)."""
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        fig = plotting.plot_confusion(np.array([[3, 1], [0, 4]]))
        assert matplotlib.get_backend() == "svg"
        assert plotting.save(fig, tmp_path / "confusion", ("png",))[0].stat().st_size > 1000
    finally:
        matplotlib.use(before)


def test_plot_command_needs_a_run_folder(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ffnn", "plot", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "is not a run folder" in done.stderr


def test_vanishing_gradient_in_a_deep_sigmoid_network_and_not_with_relu(mnist_subset):
    """784-30-30-30-30-10 on 3,000 real MNIST images: the first layer's weights get gradients at
    least 10× smaller than the last layer's with sigmoids (quadratic cost, N(0,1) weights), at the
    start and after an epoch; with ReLU, He weights and softmax + cross-entropy they do not."""
    X, y, _, _ = mnist_subset
    ratios = {}
    for name, act, cost, init in (
        ("sigmoid", "sigmoid", "quadratic", "normal"),
        ("relu", "relu", "cross_entropy", "he"),
    ):
        net = ffnn.Network([784, 30, 30, 30, 30, 10], act, cost=cost, init=init, seed=0)
        h = ffnn.fit(net, X, y, 2, 10, eta=0.1, seed=0, callbacks=[GradientNorms(X[:500], y[:500])])
        ratios[name] = [last / first for first, last in zip(h.extra["grad_norm_1"], h.extra["grad_norm_5"])]
    assert all(r >= 10 for r in ratios["sigmoid"]), ratios
    assert all(r < 10 for r in ratios["relu"]), ratios
