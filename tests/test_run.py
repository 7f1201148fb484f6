"""The run layer: settings → network, optimizer, schedule and callbacks, wired as the settings say."""

import math

import numpy as np
import pytest

import ffnn
from ffnn import build, recipes, run, schedules
from ffnn import settings as table
from ffnn.callbacks import EarlyStopping
from ffnn.config import configure
from ffnn.data import toy
from ffnn.data.augment import Augment


def resolved(recipe=None, **flags):
    return configure(recipe, None, flags)


def first_update(optimizer, steps=1):
    """The update an optimizer makes of a gradient of ones, after ``steps`` such steps."""
    params, grads = [np.zeros((2, 2))], [np.ones((2, 2))]
    state = optimizer.init(params)
    for _ in range(steps):
        updates, state = optimizer.update(grads, state, params)
    return float(updates[0][0, 0])


def test_nielsen_ch1_is_plain_sgd_on_the_fused_path():
    settings = resolved("nielsen-ch1")
    net = build.build_network(settings)
    assert net.sizes == [784, 30, 10] and [a.name for a in net.activations] == ["sigmoid", "sigmoid"]
    assert (net.cost_function.name, net.init, net.dtype.name) == ("quadratic", "normal", "float32")
    kwargs, callbacks = build.build_training(settings, 50_000)
    assert kwargs == {
        "epochs": 30, "batch_size": 10, "seed": 2, "batches_per_epoch": None, "max_norm": None,
        "eta": 3.0, "lmbda": 0.0,
    }  # fmt: skip
    assert callbacks == []


def test_mlp_best_is_nesterov_with_warm_up_and_cosine_over_the_run():
    settings = resolved("mlp-best")
    net = build.build_network(settings)
    assert net.sizes == [784, 1024, 1024, 10]
    assert [a.name for a in net.activations] == ["relu", "relu", "softmax"]
    assert (net.cost_function.name, net.init, net.dropout) == ("cross_entropy", "he", [0.2, 0.5, 0.5])
    kwargs, callbacks = build.build_training(settings, 60_000)
    optimizer = kwargs.pop("optimizer")
    assert kwargs == {"epochs": 150, "batch_size": 128, "seed": 0, "batches_per_epoch": None, "max_norm": 3.5}
    assert callbacks == [] and optimizer.name == "nesterov"
    per_epoch = math.ceil(60_000 / 128)  # 469 steps an epoch; warm-up 1 epoch; cosine to 0 at 150 epochs
    # Nesterov's first step on a gradient g = 1: v = g, u = −η₀ (g + 0.9 v) with η₀ = 0.05 / 469 (warm-up).
    assert first_update(optimizer) == pytest.approx(-0.05 / per_epoch * 1.9, rel=1e-12)
    cosine = schedules.cosine(0.05, 150 * per_epoch, per_epoch)
    assert cosine(per_epoch) == pytest.approx(0.05) and cosine(150 * per_epoch) == pytest.approx(0.0, abs=1e-15)


def test_mlp_augmented_distorts_its_batches():
    kwargs, _ = build.build_training(resolved("mlp-augmented"), 60_000)
    augment = kwargs["augment"]
    assert isinstance(augment, Augment)
    assert (augment.shift, augment.rotation, augment.scale) == (2.0, 10.0, 0.1)
    assert (augment.alpha, augment.sigma) == (8.0, 4.0)


@pytest.mark.parametrize("name", recipes.names())
def test_every_recipe_wires_up(name):
    settings = resolved(name)
    net = build.build_network(settings)
    kwargs, _ = build.build_training(settings, 1000)
    assert net.sizes == list(settings.sizes) and kwargs["epochs"] == settings.epochs
    assert ("optimizer" in kwargs) != ("eta" in kwargs)


def test_the_step_schedule_steps_every_step_every_epochs():
    settings = resolved(optimizer="sgd", schedule="step", step_every=2, step_factor=0.5, eta=0.1, epochs=6)
    kwargs, _ = build.build_training(settings, 100)  # batch 10: 10 steps an epoch, so a step every 20
    optimizer = kwargs["optimizer"]
    assert first_update(optimizer, 20) == pytest.approx(-0.1)
    assert first_update(optimizer, 21) == pytest.approx(-0.05)
    default = build.build_training(resolved(optimizer="sgd", schedule="step", eta=0.1, epochs=6), 100)[0]["optimizer"]
    assert first_update(default, 21) == pytest.approx(-0.01)  # 0 = a third of the run: 60 steps / 3


def test_the_exponential_schedule_ends_at_its_final_fraction():
    settings = resolved(optimizer="adam", schedule="exponential", exponential_final=0.25, eta=0.1, epochs=2)
    rate = build.build_training(settings, 100)[0]["optimizer"]
    # Adam's first step moves by η_0 exactly (m̂/√ŝ = 1 for a constant gradient); at step 20 η = 0.1 · 0.25
    assert first_update(rate, 1) == pytest.approx(-0.1, rel=1e-6)
    assert first_update(rate, 21) == pytest.approx(-0.025, rel=1e-6)


def plateau_run(**flags):
    """A run whose validation accuracy never improves (η too small to change a prediction)."""
    X, y = toy.moons(n=300, seed=0)
    settings = resolved(
        dataset="moons", validation=100, sizes=[2, 4, 2], optimizer="momentum", eta=1e-9, epochs=40, batch_size=50,
        **flags,
    )  # fmt: skip
    kwargs, callbacks = build.build_training(settings, 200)
    net = build.build_network(settings)
    history = ffnn.fit(net, X[:200], y[:200], validation_data=(X[200:], y[200:]), callbacks=callbacks, **kwargs)
    return history, callbacks


def test_the_books_halving_rule_runs_to_its_end_without_early_stopping():
    """plateau_patience alone: η is halved after each epoch without progress, and training stops
    when η reaches η₀/128 — 7 halvings, epochs 0–7 — not at the first halving."""
    history, (rule,) = plateau_run(schedule="halve-on-plateau", plateau_patience=1)
    assert isinstance(rule, schedules.HalveOnPlateau) and rule.patience == 1
    assert history.epoch == list(range(8))
    assert rule.value == pytest.approx(1e-9 / 128)


def test_early_stopping_and_the_halving_rule_keep_their_own_patience():
    history, callbacks = plateau_run(schedule="halve-on-plateau", plateau_patience=1, patience=5)
    stopping, rule = callbacks
    assert isinstance(stopping, EarlyStopping) and stopping.patience == 5
    assert history.epoch == list(range(6))  # early stopping: 5 epochs after the best (epoch 0)
    assert rule.value == pytest.approx(1e-9 / 32)  # halved after each of epochs 1–5


def test_settings_not_in_force_are_not_written_to_the_run_folder(tmp_path):
    settings = resolved(dataset="xor", sizes=[2, 3, 2], cost="cross_entropy", epochs=2, batch_size=4, eta=1.0)
    result = run.train(settings, tmp_path / "run", quiet=True)
    written = table.read(tmp_path / "run" / "config.toml")
    assert written == settings.table() and "momentum" not in written and written["lmbda"] == 0.0
    assert result.summary["epochs_completed"] == 2 and (tmp_path / "run" / "model.npz").is_file()
    assert ffnn.load(tmp_path / "run" / "model.npz").metadata["config"] == settings.table()
