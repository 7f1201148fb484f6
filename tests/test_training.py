"""fit: history, progress output, callbacks, divergence; the loop it runs, one mini-batch at a time."""

import io
import re
import time

import numpy as np
import pytest

import ffnn
from ffnn.callbacks import Callback, ProgressBar
from ffnn.data import toy
from ffnn.distributed import SingleProcess
from ffnn.steps import SGDStep
from ffnn.training import Trainer


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
    assert "epoch 0:" in shown and re.search(r"\d+/40 \[\d\d:\d\d<\d\d:\d\d, +\d+\.\d+batch/s\]", shown), shown
    quiet = io.StringIO()  # not a terminal: no bar
    ffnn.fit(net, X, y, epochs=1, batch_size=10, eta=0.1, callbacks=[ProgressBar(40, quiet)], seed=0)
    assert quiet.getvalue() == ""


# -- the loop, one mini-batch at a time (ffnn.training.Trainer) ---------------------------------


def jitter(X, rng):
    """An augmentation drawing from the loop's generator."""
    return X + 0.1 * rng.standard_normal(X.shape)


class Ends(Callback):
    """Counts the epochs and the ends it is told of."""

    def __init__(self):
        self.epochs, self.ends = 0, 0

    def on_epoch_end(self, network, history):
        self.epochs += 1
        return False

    def on_train_end(self, network, history):
        self.ends += 1


@pytest.mark.parametrize("optimizer", [None, "adam"])
def test_stepping_the_loop_to_its_end_is_fit(rng, optimizer):
    """Trainer.step until done, with dropout, augmentation, max-norm, sample weights and held-out
    data: the same parameters, history and callback calls as fit, bit for bit; then no more steps."""
    X, y = data(rng, n=67)
    weights = rng.uniform(0.0, 2.0, len(X))
    rule = {"eta": 0.5, "lmbda": 0.1} if optimizer is None else {"optimizer": ffnn.optimizers.adam(0.01)}
    kw = dict(epochs=3, batch_size=10, seed=4, augment=jitter, max_norm=2.0, sample_weight=weights,
              test_data=(X[:20], y[:20]), **rule)  # fmt: skip
    fitted, stepped = (ffnn.Network([4, 9, 2], cost="cross_entropy", dropout=0.2, seed=0) for _ in range(2))
    history = ffnn.fit(fitted, X, y, callbacks=[fit_ends := Ends()], strategy=SingleProcess(), **kw)
    trainer = Trainer(stepped, X, y, callbacks=[step_ends := Ends()], **kw)
    costs = []
    while not trainer.done:
        costs.append(trainer.step())
    assert len(costs) == 3 * 7 and trainer.epoch == 3
    for p, q in zip(fitted.parameters(), stepped.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)
    assert trainer.history.train_cost == history.train_cost == [float(np.mean(costs[i : i + 7])) for i in (0, 7, 14)]
    assert trainer.history.test_cost == history.test_cost
    assert (step_ends.epochs, step_ends.ends) == (fit_ends.epochs, fit_ends.ends) == (3, 1)
    with pytest.raises(ffnn.errors.ParameterError, match="Training has ended: there is no next mini-batch"):
        trainer.step()


def test_without_the_finite_check_the_loop_steps_on_through_divergence():
    X, y = toy.xor()
    net = ffnn.Network([2, 16, 2], "relu", "identity", seed=0)
    trainer = Trainer(net, X, y, epochs=5, batch_size=2, eta=1e30, seed=0, check_finite=False)
    with np.errstate(all="ignore"):
        costs = [trainer.step() for _ in range(10)]  # what fit stops with TrainingDivergedError
    assert not np.isfinite(costs[-1]) and trainer.done and len(trainer.history.epoch) == 5
    assert not all(np.isfinite(p).all() for p in net.parameters())  # left as they are, for the caller to see


def test_the_fused_sgd_step_keeps_the_gradient_when_asked_and_steps_the_same(rng):
    X, y = data(rng, n=10)
    nabla_b, nabla_w = ffnn.Network([4, 3, 2], seed=0).backprop(X, y)
    kept, unkept = (Trainer(ffnn.Network([4, 3, 2], seed=0), X, y, epochs=1, batch_size=10, eta=0.5, shuffle=False,
                            keep_gradients=keep) for keep in (True, False))  # fmt: skip
    kept.step()
    unkept.step()
    assert isinstance(kept.update, SGDStep) and isinstance(unkept.update, SGDStep)
    for ours, theirs in zip(kept.ws.nabla_w + kept.ws.nabla_b, nabla_w + nabla_b, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    for p, q in zip(kept.network.parameters(), unkept.network.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)


def test_fit_takes_a_comm_or_a_strategy_not_both(rng):
    X, y = data(rng)
    with pytest.raises(ffnn.errors.ParameterError, match="Give fit a 'comm' or a 'strategy', not both"):
        ffnn.fit(ffnn.Network([4, 3, 2]), X, y, epochs=1, batch_size=10, eta=0.1, comm=object(),
                 strategy=SingleProcess())  # fmt: skip


def test_a_history_shows_as_one_short_line():
    """A REPL shows ``ffnn.fit(...)``'s value: one line with the epochs and the last scores, not
    every per-epoch list (the README's tour used to print a screenful)."""
    rng = np.random.default_rng(0)
    X = rng.random((50, 2))
    y = (X[:, 0] > X[:, 1]).astype(int)
    history = ffnn.fit(
        ffnn.Network([2, 4, 2], seed=0), X, y, epochs=30, batch_size=10, eta=1.0, test_data=(X, y), seed=0
    )
    text = repr(history)
    assert "\n" not in text and len(text) < 120
    assert text.startswith("History(30 epochs, train_cost ")
    assert f"test_accuracy {history.test_accuracy[-1]:.4f}" in text
    assert repr(ffnn.state.History()) == "History(no epochs)"
