"""Recipes: package-data files, each naming only what it changes, resolved to today's settings."""

import fnmatch
import sys
from importlib import resources
from pathlib import Path

import pytest

import ffnn
from ffnn import recipes
from ffnn import settings as table
from ffnn.errors import SettingError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

# Every recipe's fully resolved settings (defaults ← its bases ← it), in listing order, as the
# TOML-in-Python recipes of ffnn 0.1.0 gave them before the recipes became files. Only two names
# changed since: recipes seed-000 and seed-000-fixed are source-000 and source-000-fixed, and the
# initialiser seed000 is small_uniform (the same function).
RESOLVED = {
    "nielsen-ch1": {
        "dataset": "mnist",
        "validation": 10000,
        "sizes": [784, 30, 10],
        "activation": "sigmoid",
        "output_activation": "",
        "cost": "quadratic",
        "init": "normal",
        "dtype": "float32",
        "epochs": 30,
        "batch_size": 10,
        "eta": 3.0,
        "lmbda": 0.0,
        "seed": 2,
        "batches_per_epoch": 0,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "constant",
        "warmup_epochs": 0,
        "clip_norm": 0.0,
        "dropout": 0.0,
        "input_dropout": 0.0,
        "max_norm": 0.0,
        "patience": 0,
        "augment": "",
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
    },
    "nielsen-ch1-100": {
        "dataset": "mnist",
        "validation": 10000,
        "sizes": [784, 100, 10],
        "activation": "sigmoid",
        "output_activation": "",
        "cost": "quadratic",
        "init": "normal",
        "dtype": "float32",
        "epochs": 30,
        "batch_size": 10,
        "eta": 3.0,
        "lmbda": 0.0,
        "seed": 0,
        "batches_per_epoch": 0,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "constant",
        "warmup_epochs": 0,
        "clip_norm": 0.0,
        "dropout": 0.0,
        "input_dropout": 0.0,
        "max_norm": 0.0,
        "patience": 0,
        "augment": "",
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
    },
    "nielsen-ch3": {
        "dataset": "mnist",
        "validation": 10000,
        "sizes": [784, 100, 10],
        "activation": "sigmoid",
        "output_activation": "",
        "cost": "binary_cross_entropy",
        "init": "scaled_normal",
        "dtype": "float32",
        "epochs": 60,
        "batch_size": 10,
        "eta": 0.5,
        "lmbda": 5.0,
        "seed": 0,
        "batches_per_epoch": 0,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "constant",
        "warmup_epochs": 0,
        "clip_norm": 0.0,
        "dropout": 0.0,
        "input_dropout": 0.0,
        "max_norm": 0.0,
        "patience": 0,
        "augment": "",
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
    },
    "source-000": {
        "dataset": "mnist",
        "validation": 0,
        "sizes": [784, 392, 196, 10],
        "activation": "sigmoid",
        "output_activation": "",
        "cost": "quadratic",
        "init": "small_uniform",
        "dtype": "float32",
        "epochs": 200,
        "batch_size": 32,
        "eta": 0.003,
        "lmbda": 0.0,
        "seed": 0,
        "batches_per_epoch": 1,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "constant",
        "warmup_epochs": 0,
        "clip_norm": 0.0,
        "dropout": 0.0,
        "input_dropout": 0.0,
        "max_norm": 0.0,
        "patience": 0,
        "augment": "",
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
    },
    "source-000-fixed": {
        "dataset": "mnist",
        "validation": 10000,
        "sizes": [784, 392, 196, 10],
        "activation": "sigmoid",
        "output_activation": "",
        "cost": "quadratic",
        "init": "scaled_normal",
        "dtype": "float32",
        "epochs": 10,
        "batch_size": 32,
        "eta": 3.0,
        "lmbda": 0.0,
        "seed": 0,
        "batches_per_epoch": 0,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "constant",
        "warmup_epochs": 0,
        "clip_norm": 0.0,
        "dropout": 0.0,
        "input_dropout": 0.0,
        "max_norm": 0.0,
        "patience": 0,
        "augment": "",
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
    },
    "mlp-best": {
        "dataset": "mnist",
        "validation": 0,
        "sizes": [784, 1024, 1024, 10],
        "activation": "relu",
        "output_activation": "",
        "cost": "cross_entropy",
        "init": "he",
        "dtype": "float32",
        "epochs": 150,
        "batch_size": 128,
        "eta": 0.05,
        "lmbda": 0.0,
        "seed": 0,
        "batches_per_epoch": 0,
        "optimizer": "nesterov",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "cosine",
        "warmup_epochs": 1,
        "clip_norm": 0.0,
        "dropout": 0.5,
        "input_dropout": 0.2,
        "max_norm": 3.5,
        "patience": 0,
        "augment": "",
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
    },
    "mlp-augmented": {
        "dataset": "mnist",
        "validation": 0,
        "sizes": [784, 800, 800, 10],
        "activation": "relu",
        "output_activation": "",
        "cost": "cross_entropy",
        "init": "he",
        "dtype": "float32",
        "epochs": 300,
        "batch_size": 128,
        "eta": 0.05,
        "lmbda": 0.0,
        "seed": 0,
        "batches_per_epoch": 0,
        "optimizer": "nesterov",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "cosine",
        "warmup_epochs": 1,
        "clip_norm": 0.0,
        "dropout": 0.5,
        "input_dropout": 0.2,
        "max_norm": 3.5,
        "patience": 0,
        "augment": "elastic",
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
    },
    "vanishing-gradient": {
        "dataset": "mnist",
        "validation": 0,
        "sizes": [784, 30, 30, 30, 30, 10],
        "activation": "sigmoid",
        "output_activation": "",
        "cost": "quadratic",
        "init": "normal",
        "dtype": "float32",
        "epochs": 5,
        "batch_size": 10,
        "eta": 0.1,
        "lmbda": 0.0,
        "seed": 0,
        "batches_per_epoch": 0,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "constant",
        "warmup_epochs": 0,
        "clip_norm": 0.0,
        "dropout": 0.0,
        "input_dropout": 0.0,
        "max_norm": 0.0,
        "patience": 0,
        "augment": "",
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
    },
    "vanishing-gradient-relu": {
        "dataset": "mnist",
        "validation": 0,
        "sizes": [784, 30, 30, 30, 30, 10],
        "activation": "relu",
        "output_activation": "",
        "cost": "cross_entropy",
        "init": "he",
        "dtype": "float32",
        "epochs": 5,
        "batch_size": 10,
        "eta": 0.1,
        "lmbda": 0.0,
        "seed": 0,
        "batches_per_epoch": 0,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "constant",
        "warmup_epochs": 0,
        "clip_norm": 0.0,
        "dropout": 0.0,
        "input_dropout": 0.0,
        "max_norm": 0.0,
        "patience": 0,
        "augment": "",
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
    },
    "punnen-toy": {
        "dataset": "punnen",
        "validation": 0,
        "sizes": [3, 4, 1],
        "activation": "sigmoid",
        "output_activation": "",
        "cost": "quadratic",
        "init": "normal",
        "dtype": "float32",
        "epochs": 1000,
        "batch_size": 4,
        "eta": 4.0,
        "lmbda": 0.0,
        "seed": 0,
        "batches_per_epoch": 0,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "constant",
        "warmup_epochs": 0,
        "clip_norm": 0.0,
        "dropout": 0.0,
        "input_dropout": 0.0,
        "max_norm": 0.0,
        "patience": 0,
        "augment": "",
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
    },
    "xor": {
        "dataset": "xor",
        "validation": 0,
        "sizes": [2, 4, 2],
        "activation": "sigmoid",
        "output_activation": "",
        "cost": "cross_entropy",
        "init": "normal",
        "dtype": "float32",
        "epochs": 500,
        "batch_size": 4,
        "eta": 2.0,
        "lmbda": 0.0,
        "seed": 0,
        "batches_per_epoch": 0,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "constant",
        "warmup_epochs": 0,
        "clip_norm": 0.0,
        "dropout": 0.0,
        "input_dropout": 0.0,
        "max_norm": 0.0,
        "patience": 0,
        "augment": "",
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
    },
}


def resolved(values):
    """A recipe's settings over the defaults, checked as the user's own words (strict)."""
    return table.resolve(table.Layer(values, table.in_recipe("under test")))


def test_every_recipe_resolves_to_the_settings_it_had_before_it_became_a_file():
    """The settings in force are the same; those the recipe's optimizer or schedule does not use
    (plain SGD's lmbda beside an optimizer, momentum beside plain SGD, warm-up beside a constant
    rate) are no longer carried, and each of them had its default value."""
    newer = {"source-002"}  # issue 23: a recipe ffnn 0.1.0 did not have
    assert [name for name in recipes.names() if name not in newer] == list(RESOLVED)  # the book's order
    how_saved = {"checkpoint_every", "checkpoint_seconds", "keep_checkpoints"}  # not what is trained: issue 12
    how_saved |= {
        "hidden",
        "standardize",
    }  # issue 13's own-data settings, at their defaults ("", false) in every recipe
    how_saved |= {"backend"}  # issue 15: which library trains ("numpy" in every recipe), not what
    how_saved |= {"mpi_timeout"}  # issue 21: how long an MPI rank waits for the others, not what
    how_saved |= {"threads"}  # issue 22: on how many threads, not what
    for name, pinned in RESOLVED.items():  # made checkpoints by time (every 60 s) the default
        expected = {k: v for k, v in pinned.items() if k not in how_saved}
        in_force = {k: v for k, v in resolved(recipes.settings(name)).items() if k not in how_saved}
        added = {k: in_force.pop(k) for k in ("reduction", "biases")}  # issue 23's options, at their defaults
        assert added == {k: table.DEFAULTS[k] for k in added}, name
        assert in_force == {k: v for k, v in expected.items() if k in in_force}, name
        dropped = expected.keys() - in_force.keys()
        assert dropped <= {"lmbda", "momentum", "warmup_epochs"}, name
        assert {k: expected[k] for k in dropped} == {k: table.DEFAULTS[k] for k in dropped}, name


@pytest.mark.parametrize("name", recipes.names())
def test_every_recipe_is_complete_and_builds_its_network(name):
    info = recipes.info(name)
    assert info["name"] == name
    assert len(info["description"]) > 40 and info["expected"]
    settings = resolved(recipes.settings(name))
    net = ffnn.Network(
        settings["sizes"],
        settings["activation"],
        settings["output_activation"] or None,
        settings["cost"],
        settings["init"],
    )
    assert net.sizes == settings["sizes"]
    assert recipes.text(name).startswith(f'name = "{name}"')


@pytest.mark.parametrize("name", recipes.names())
def test_every_recipe_names_only_the_settings_it_changes(name):
    info = recipes.info(name)
    base = {**table.DEFAULTS, **resolved(recipes.settings(info["extends"]) if "extends" in info else {})}
    own = {k: v for k, v in info.items() if k in table.DEFAULTS}
    assert own, "a recipe that changes nothing is a second name for its base"
    assert {k: v for k, v in own.items() if base[k] == v} == {}


def test_the_files_are_the_listed_recipes_and_are_package_data():
    folder = resources.files("ffnn.recipes")
    files = {p.name for p in folder.iterdir() if p.name.endswith(".toml")}
    assert files == {f"{name}.toml" for name in recipes.names()}
    for name in recipes.names():
        assert recipes.text(name) == folder.joinpath(f"{name}.toml").read_text(encoding="utf-8")
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["ffnn"]
    assert any(fnmatch.fnmatch("recipes/xor.toml", g) for g in globs)  # installed with the wheel


def test_required_recipes_are_there():
    assert {
        "nielsen-ch1",
        "nielsen-ch1-100",
        "nielsen-ch3",
        "source-000",
        "source-000-fixed",
        "punnen-toy",
        "source-002",
        "xor",
    } <= set(recipes.names())
    s = recipes.settings("nielsen-ch1")
    assert (s["validation"], s["seed"]) == (10000, 2)
    s = resolved(s)
    assert (s["sizes"], s["eta"], s["batch_size"], s["epochs"], s["init"]) == ([784, 30, 10], 3.0, 10, 30, "normal")
    s = recipes.settings("source-000")
    assert (s["init"], s["eta"], s["batch_size"], s["epochs"], s["batches_per_epoch"]) == (
        "small_uniform",
        0.003,
        32,
        200,
        1,
    )
    with pytest.raises(SettingError, match="unknown recipe 'nope'"):
        recipes.text("nope")


def test_a_recipe_that_extends_another_overrides_only_what_it_names():
    best, augmented = recipes.settings("mlp-best"), recipes.settings("mlp-augmented")
    changed = {k for k in best.keys() | augmented.keys() if best.get(k) != augmented.get(k)}
    assert changed == {"sizes", "epochs", "augment"}
    assert (augmented["sizes"], augmented["epochs"], augmented["augment"]) == ([784, 800, 800, 10], 300, "elastic")
    assert (augmented["dropout"], augmented["input_dropout"], augmented["max_norm"]) == (0.5, 0.2, 3.5)
    assert recipes.info("mlp-augmented")["extends"] == "mlp-best"


def test_extends_chains_resolve_from_the_far_end():
    """nielsen-ch3 ← nielsen-ch1-100 ← nielsen-ch1: each link overrides what it names."""
    assert recipes.info("nielsen-ch3")["extends"] == "nielsen-ch1-100"
    assert recipes.info("nielsen-ch1-100")["extends"] == "nielsen-ch1"
    s = recipes.settings("nielsen-ch3")
    assert (s["validation"], s["sizes"], s["seed"], s["cost"]) == (10000, [784, 100, 10], 0, "binary_cross_entropy")


@pytest.fixture
def made_up_recipes(tmp_path, monkeypatch):
    """Recipe files a → b → c, c → a (a cycle) and d → e (no such recipe), in a folder of their own."""
    for name, base in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "e")]:
        (tmp_path / f"{name}.toml").write_text(f'name = "{name}"\nextends = "{base}"\nepochs = 1\n')
    monkeypatch.setattr(recipes, "_FOLDER", tmp_path)
    monkeypatch.setattr(recipes, "_ORDER", ("a", "b", "c", "d"))


@pytest.mark.usefixtures("made_up_recipes")
def test_a_cycle_of_extends_is_refused_in_one_line():
    message = r"^recipe c: 'extends' makes a cycle \(a -> b -> c -> a\); one of them"
    with pytest.raises(SettingError, match=message) as e:
        recipes.settings("a")
    assert "\n" not in str(e.value)


@pytest.mark.usefixtures("made_up_recipes")
def test_extending_an_unknown_recipe_is_refused_in_one_line():
    with pytest.raises(
        SettingError, match=r"^recipe d: 'extends' must name another recipe; got 'e'; known: a, b, c, d\.$"
    ):
        recipes.settings("d")
