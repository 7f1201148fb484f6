"""Schedules, the book's halving rule, dropout, max-norm, early stopping, augmentation."""

import math

import numpy as np
import pytest

import ffnn
from ffnn import optimizers, schedules
from ffnn.backprop import Workspace, backpropagate
from ffnn.callbacks import Callback, EarlyStopping
from ffnn.data.augment import Augment, shift_images


def test_schedules_values():
    assert [schedules.constant(0.1)(t) for t in (0, 1000)] == [0.1, 0.1]
    assert [schedules.step_decay(1.0, 0.5, 10)(t) for t in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    assert schedules.exponential(1.0, 0.1, 100)(50) == pytest.approx(math.sqrt(0.1))
    cos = schedules.cosine(1.0, total_steps=110, warmup_steps=10)
    assert [cos(t) for t in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert cos(60) == pytest.approx(0.5) and cos(110) == pytest.approx(0.0) and cos(500) == pytest.approx(0.0)


def test_the_schedule_type_is_declared_once():
    assert optimizers.Schedule is schedules.Schedule


def test_the_books_halving_rule_on_a_scripted_curve():
    """patience 2: halve after 2 epochs without a new best; stop when η has fallen to η₀/128."""
    rule = schedules.HalveOnPlateau(1.0, patience=2)
    curve = [0.90, 0.91, 0.91, 0.905, 0.92] + [0.90] * 20
    stops = []
    for accuracy in curve:  # as fit would: stop at the first True
        stops.append(rule.observe(accuracy))
        if stops[-1]:
            break
    assert rule.history[:5] == [1.0, 1.0, 1.0, 1.0, 0.5]  # halved after epochs 2 and 3 brought nothing
    assert rule.history[5:17] == [0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625, 0.0625, 0.03125, 0.03125,
                                  0.015625, 0.015625]  # fmt: skip
    assert stops.index(True) == 16 and rule.value == 1 / 128  # the 7th halving, after epoch 16
    assert rule(12345) == rule.value


def test_halving_rule_needs_validation_data():
    with pytest.raises(ValueError, match="needs validation data"):
        schedules.HalveOnPlateau(0.5).observe(None)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: schedules.cosine(0.1, total_steps=10, warmup_steps=10), r"'warmup_steps' \(10\) must be smaller"),
        (lambda: schedules.step_decay(0.1, 0.5, 0), r"'every' parameter must be an integer >= 1"),
        (lambda: schedules.constant(-1.0), r"'learning_rate' parameter must be a number > 0.0"),
        (lambda: ffnn.Network([3, 4, 2], dropout=1.0), r"'dropout' parameter must be in \[0, 1\). Got 1.0"),
        (lambda: ffnn.Network([3, 4, 2], input_dropout=-0.1), r"'input_dropout' parameter must be in \[0, 1\)"),
        (lambda: ffnn.Network([3, 4, 4, 2], dropout=[0.5]), r"one rate per hidden layer \(2\)"),
        (lambda: Augment(rotation=-5), r"'rotation' parameter must be a number >= 0"),
        (lambda: EarlyStopping(0), r"'patience' parameter must be an integer >= 1"),
    ],
)
def test_bad_settings(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_fit_refuses_eta_with_an_optimizer_and_bad_max_norm(rng):
    net = ffnn.Network([2, 3], seed=0)
    X, y = rng.standard_normal((4, 2)), np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match="give it the learning rate and weight decay"):
        ffnn.fit(net, X, y, 1, 2, eta=0.1, optimizer=optimizers.adam(0.01))
    with pytest.raises(ValueError, match=r"'max_norm' parameter must be a number > 0.0. Got -1.0"):
        ffnn.fit(net, X, y, 1, 2, eta=0.1, max_norm=-1.0)


def test_dropout_preserves_the_expected_activation(rng):
    """Inverted dropout: E[mask] = 1, so the masked activation's mean equals the activation's.
    Over 200,000 draws of p = 0.5 the mean mask has standard deviation 0.0022; 0.01 is 4.5σ."""
    ws = Workspace([4, 1000, 2], 200, np.dtype(np.float64))
    masks = ws.draw_masks([0.0, 0.5], 200, rng)
    assert masks[0] is None
    assert set(np.unique(masks[1])) == {0.0, 2.0}
    assert abs(masks[1].mean() - 1.0) < 0.01


def test_dropout_is_off_outside_training(rng):
    net = ffnn.Network([5, 50, 3], "relu", cost="cross_entropy", dropout=0.5, input_dropout=0.2, seed=0)
    plain = ffnn.Network([5, 50, 3], "relu", cost="cross_entropy", seed=0)
    X = rng.standard_normal((20, 5))
    np.testing.assert_array_equal(net.feedforward(X), plain.feedforward(X))
    np.testing.assert_array_equal(net.predict(X), net.predict(X))


def test_backprop_through_dropout_matches_central_differences(rng):
    """With the mask fixed (same rng seed each time), the cost is a smooth function of the
    parameters; backprop's gradient must match its finite differences."""
    net = ffnn.Network(
        [4, 6, 5, 3], "tanh", cost="cross_entropy", dtype="float64", dropout=[0.5, 0.3], input_dropout=0.25, seed=1
    )
    X, y = rng.standard_normal((7, 4)), rng.integers(0, 3, 7)
    ws = Workspace(net.sizes, 7, net.dtype)

    def cost():
        m = ws.load(X, np.eye(3)[y], np.arange(7))
        return backpropagate(net, ws, m, rng=np.random.default_rng(99))

    cost()
    analytic = [g.copy() for g in ws.gradients()]
    eps = 1e-6
    for p, g in zip(net.parameters(), analytic):
        for idx in [(0,) * p.ndim, tuple(s - 1 for s in p.shape)]:
            original = p[idx]
            p[idx] = original + eps
            plus = cost()
            p[idx] = original - eps
            minus = cost()
            p[idx] = original
            assert (plus - minus) / (2 * eps) == pytest.approx(g[idx], rel=1e-6, abs=1e-9)


def test_max_norm_bounds_every_neurons_weights(rng):
    net = ffnn.Network([10, 30, 3], "relu", cost="cross_entropy", seed=0)
    X, y = rng.standard_normal((200, 10)), rng.integers(0, 3, 200)
    ffnn.fit(net, X, y, 5, 10, optimizer=optimizers.sgd(0.5, momentum=0.9), max_norm=0.5, seed=0)
    for w in net.weights:
        assert np.linalg.norm(w, axis=1).max() <= 0.5 * (1 + 1e-6)
    assert max(np.linalg.norm(w, axis=1).max() for w in net.weights) > 0.49  # the bound was active


def test_early_stopping_restores_the_best_epochs_weights(rng):
    X, y = rng.standard_normal((300, 6)), rng.integers(0, 3, 300)  # noise labels: overfits, validation wanders
    snapshots = []

    class Snapshot(Callback):
        def on_epoch_end(self, network, history):
            snapshots.append([p.copy() for p in network.parameters()])

    stopper = EarlyStopping(patience=3)
    net = ffnn.Network([6, 40, 3], "relu", cost="cross_entropy", seed=0)
    h = ffnn.fit(
        net,
        X[:200],
        y[:200],
        50,
        10,
        eta=0.5,
        validation_data=(X[200:], y[200:]),
        callbacks=[Snapshot(), stopper],
        seed=0,
    )
    best = int(np.argmax(h.validation_accuracy))
    assert stopper.best_epoch == best and len(h.epoch) == best + 4 < 50
    for p, q in zip(net.parameters(), snapshots[best]):
        np.testing.assert_array_equal(p, q)
    assert net.accuracy(X[200:], y[200:]) == pytest.approx(max(h.validation_accuracy))


def centre_of_mass(images):
    images = images.reshape(-1, 28, 28)
    ys, xs = np.indices((28, 28))
    mass = images.sum(axis=(1, 2))
    return (images * ys).sum(axis=(1, 2)) / mass, (images * xs).sum(axis=(1, 2)) / mass


@pytest.mark.parametrize(("dy", "dx"), [(1, 0), (0, -3), (2, 2)])
def test_a_shift_of_k_pixels_moves_the_centre_of_mass_by_k(dy, dx):
    images = np.zeros((3, 28, 28), np.float32)
    images[0, 10:18, 12:15] = 1.0
    images[1, 5:9, 9:20] = 0.5
    images[2, 12:16, 12:16] = np.arange(16, dtype=np.float32).reshape(4, 4) / 16
    before, after = centre_of_mass(images), centre_of_mass(shift_images(images, dy, dx))
    np.testing.assert_allclose(after[0] - before[0], dy, atol=1e-5)
    np.testing.assert_allclose(after[1] - before[1], dx, atol=1e-5)


def test_augmentation_shapes_and_determinism(rng):
    X = rng.random((16, 784)).astype(np.float32)
    augment = Augment(shift=2, rotation=15, scale=0.1, elastic_alpha=8)
    a = augment(X, np.random.default_rng(5))
    b = augment(X, np.random.default_rng(5))
    c = augment(X, np.random.default_rng(6))
    assert a.shape == X.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, X)
    assert a.min() >= 0.0 and a.max() <= 1.0
    still = Augment(shift=0, rotation=0, scale=0)(X, rng)
    np.testing.assert_allclose(still, X, atol=1e-6)  # the identity map samples every pixel exactly


def test_fit_with_augmentation_and_dropout_is_reproducible(rng):
    X, y = rng.random((64, 784)).astype(np.float32), rng.integers(0, 10, 64)

    def train():
        net = ffnn.Network([784, 20, 10], "relu", cost="cross_entropy", dropout=0.3, seed=0)
        ffnn.fit(net, X, y, 2, 16, optimizer=optimizers.adam(1e-3), augment=Augment(elastic_alpha=6), seed=3)
        return net

    for p, q in zip(train().parameters(), train().parameters()):
        np.testing.assert_array_equal(p, q)
