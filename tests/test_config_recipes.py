"""Configurations and recipes: TOML round trip, validation, every recipe well-formed."""

import numpy as np
import pytest

import ffnn
from ffnn import config, recipes
from ffnn.config import ConfigError


def test_toml_round_trip(tmp_path):
    settings = config.resolve({"sizes": [784, 100, 10], "eta": 0.5, "dataset": "mnist", "lmbda": 5})
    config.write(tmp_path / "c.toml", settings, "a comment")
    assert (tmp_path / "c.toml").read_text().startswith("# a comment\n")
    assert config.read(tmp_path / "c.toml") == settings


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("epochz = 3\n", r"unknown setting 'epochz'; known: dataset, validation"),
        ("epochs = 'three'\n", r"setting 'epochs' must be int; got 'three'"),
        ("sizes = [784, 'x']\n", r"setting 'sizes' must be a list of integers"),
        ("eta = true\n", r"setting 'eta' must be float; got True"),
        ("epochs = \n", r"not valid TOML"),
    ],
)
def test_bad_config_files(text, match, tmp_path):
    (tmp_path / "c.toml").write_text(text)
    with pytest.raises(ConfigError, match=match):
        config.read(tmp_path / "c.toml")


def test_unreadable_config():
    with pytest.raises(ConfigError, match="cannot be read"):
        config.read("/no/such/file.toml")


@pytest.mark.parametrize("name", recipes.names())
def test_every_recipe_is_complete_and_builds_its_network(name):
    info = recipes.info(name)
    assert info["name"] == name
    assert len(info["description"]) > 40 and info["expected"]
    settings = config.resolve(recipes.settings(name))
    net = ffnn.Network(
        settings["sizes"],
        settings["activation"],
        settings["output_activation"] or None,
        settings["cost"],
        settings["init"],
    )
    assert net.sizes == settings["sizes"]
    assert recipes.text(name).startswith(f'name = "{name}"')


def test_required_recipes_are_there():
    assert {"nielsen-ch1", "nielsen-ch1-100", "nielsen-ch3", "seed-000", "seed-000-fixed", "punnen-toy", "xor"} <= set(
        recipes.names()
    )
    s = recipes.settings("nielsen-ch1")
    assert (s["sizes"], s["eta"], s["batch_size"], s["epochs"], s["init"]) == ([784, 30, 10], 3.0, 10, 30, "normal")
    s = recipes.settings("seed-000")
    assert (s["init"], s["eta"], s["batch_size"], s["epochs"], s["batches_per_epoch"]) == ("seed000", 0.003, 32, 200, 1)
    with pytest.raises(ConfigError, match="unknown recipe 'nope'"):
        recipes.text("nope")


def test_a_recipe_that_extends_another_overrides_only_what_it_names():
    best, augmented = recipes.settings("mlp-best"), recipes.settings("mlp-augmented")
    changed = {k for k in best.keys() | augmented.keys() if best.get(k) != augmented.get(k)}
    assert changed == {"sizes", "epochs", "augment"}
    assert (augmented["sizes"], augmented["epochs"], augmented["augment"]) == ([784, 800, 800, 10], 300, "elastic")
    assert (augmented["dropout"], augmented["input_dropout"], augmented["max_norm"]) == (0.5, 0.2, 3.5)
    assert recipes.info("mlp-augmented")["extends"] == "mlp-best"


def test_batches_per_epoch_trains_on_that_many_batches(rng):
    X, y = rng.standard_normal((100, 3)), rng.integers(0, 2, 100)
    seen = []

    class Count:
        def on_batch_end(self, network, epoch, batch):
            seen.append((epoch, batch))

        def on_epoch_end(self, network, history):
            return False

    ffnn.fit(ffnn.Network([3, 2], seed=0), X, y, epochs=3, batch_size=10, eta=0.1, callbacks=[Count()], batches_per_epoch=1)
    assert seen == [(0, 0), (1, 0), (2, 0)]
    assert np.isfinite(X).all()
