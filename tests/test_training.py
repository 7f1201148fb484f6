"""fit: history, progress output, callbacks, divergence."""

import io
import re
import time

import numpy as np
import pytest

import ffnn
from ffnn.callbacks import Callback, ProgressBar
from ffnn.data import toy


def data(rng, n=60):
    X = rng.standard_normal((n, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def test_history_records_each_epoch(rng):
    X, y = data(rng)
    net = ffnn.Network([4, 6, 2], cost="cross_entropy", seed=0)
    h = ffnn.fit(net, X, y, epochs=5, batch_size=10, eta=0.5, test_data=(X[:20], y[:20]), seed=0)
    assert h.epoch == [0, 1, 2, 3, 4]
    assert len(h.train_cost) == len(h.test_accuracy) == len(h.test_cost) == len(h.seconds) == 5
    assert h.train_cost[-1] < h.train_cost[0]
    assert h.test_accuracy[-1] == pytest.approx(net.accuracy(X[:20], y[:20]))
    assert h.test_cost[-1] == pytest.approx(net.cost(X[:20], y[:20]))
    assert all(s > 0 for s in h.seconds)


def test_verbose_prints_the_sources_epoch_line(rng, capsys):
    X, y = data(rng)
    net = ffnn.Network([4, 3, 2], seed=0)
    h = ffnn.fit(net, X, y, epochs=2, batch_size=10, eta=1.0, test_data=(X, y), verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Epoch {e}: {c} / 60" for e, c in zip(h.epoch, h.test_correct)]
    ffnn.fit(net, X, y, epochs=1, batch_size=10, eta=1.0, verbose=True)
    assert capsys.readouterr().out == "Epoch 0 complete\n"


def test_callback_can_stop_training(rng):
    X, y = data(rng)

    class StopAfterTwo(Callback):
        def on_epoch_end(self, network, history):
            return len(history.epoch) == 2

    h = ffnn.fit(ffnn.Network([4, 3, 2], seed=0), X, y, epochs=10, batch_size=10, eta=1.0, callbacks=[StopAfterTwo()])
    assert h.epoch == [0, 1]


def test_zero_epochs_changes_nothing(rng):
    X, y = data(rng)
    net = ffnn.Network([4, 3, 2], seed=0)
    before = net.weights[0].copy()
    assert ffnn.fit(net, X, y, epochs=0, batch_size=10, eta=1.0).epoch == []
    np.testing.assert_array_equal(before, net.weights[0])


def test_l2_shrinks_weights(rng):
    X, y = data(rng)
    plain = ffnn.Network([4, 8, 2], seed=0)
    decayed = ffnn.Network([4, 8, 2], seed=0)
    ffnn.fit(plain, X, y, epochs=20, batch_size=10, eta=0.5, seed=0)
    ffnn.fit(decayed, X, y, epochs=20, batch_size=10, eta=0.5, lmbda=5.0, seed=0)
    assert np.linalg.norm(decayed.weights[0]) < 0.8 * np.linalg.norm(plain.weights[0])


def test_divergence_names_epoch_and_batch_and_keeps_last_good_weights():
    X, y = toy.xor()
    net = ffnn.Network([2, 16, 2], "relu", "identity", seed=0)
    ffnn.fit(net, X, y, epochs=1, batch_size=2, eta=0.01, seed=0)
    good = [p.copy() for p in net.parameters()]
    with pytest.raises(
        ffnn.TrainingDivergedError,
        match=r"Training diverged in epoch \d+, batch \d+: the cost is (nan|inf).*try a smaller eta \(it is 1e\+30\)",
    ):
        ffnn.fit(net, X, y, epochs=3, batch_size=2, eta=1e30, seed=0)
    for p, q in zip(good, net.parameters()):
        np.testing.assert_array_equal(p, q)
    assert np.isfinite(net.feedforward(X)).all()


def test_verbose_with_validation_data_only_prints_the_validation_accuracy(capsys):
    X, y = toy.xor()
    net = ffnn.Network([2, 4, 2], cost="cross_entropy", seed=0)
    ffnn.fit(net, X, y, epochs=2, batch_size=4, eta=2.0, validation_data=(X, y), verbose=True, seed=0)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["Epoch 0", "Epoch 1"]
    assert all(re.fullmatch(r"Epoch \d: validation accuracy \d+\.\d\d %", line) for line in lines), lines


def test_the_progress_bar_shows_rate_and_time_left_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    class Slow(Callback):  # 40 batches of 15 ms: long enough for the bar to redraw
        def on_batch_end(self, network, epoch, batch):
            time.sleep(0.015)
            return False

    stream = Terminal()
    X, y = toy.spirals(n=400, classes=2, seed=0)
    net = ffnn.Network([2, 8, 2], cost="cross_entropy", seed=0)
    ffnn.fit(net, X, y, epochs=1, batch_size=10, eta=0.1, callbacks=[Slow(), ProgressBar(40, stream)], seed=0)
    shown = stream.getvalue()
    assert "epoch 0:" in shown and re.search(r"\d+/40 \[00:00<00:00, +\d+\.\d+batch/s\]", shown), shown
    quiet = io.StringIO()  # not a terminal: no bar
    ffnn.fit(net, X, y, epochs=1, batch_size=10, eta=0.1, callbacks=[ProgressBar(40, quiet)], seed=0)
    assert quiet.getvalue() == ""
