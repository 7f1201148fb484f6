"""Settings: one table, checked once; TOML round trip; refused combinations; batches_per_epoch."""

import numpy as np
import pytest

import ffnn
from ffnn import settings as table
from ffnn.callbacks import Callback
from ffnn.errors import SettingError


def flags(**values):
    return table.Layer(values, table.flag)


def test_toml_round_trip(tmp_path):
    settings = table.resolve(flags(sizes=[784, 100, 10], eta=0.5, dataset="mnist", lmbda=5))
    table.write(tmp_path / "c.toml", settings, "a comment")
    assert (tmp_path / "c.toml").read_text().startswith("# a comment\n")
    assert table.read(tmp_path / "c.toml") == settings
    assert settings["lmbda"] == 5.0 and isinstance(settings["lmbda"], float)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("epochz = 3\n", r"epochz in .*c.toml: unknown setting 'epochz'; known: dataset, validation"),
        ("epochs = 'three'\n", r"epochs in .*c.toml must be an integer >= 1; got 'three'"),
        ("sizes = [784, 'x']\n", r"sizes in .*c.toml must be a list of at least 2 positive integers"),
        ("eta = true\n", r"eta in .*c.toml must be a number > 0; got True"),
        ("epochs = \n", r"not valid TOML"),
    ],
)
def test_bad_config_files(text, match, tmp_path):
    (tmp_path / "c.toml").write_text(text)
    with pytest.raises(SettingError, match=match):
        table.read(tmp_path / "c.toml")


def test_unreadable_config():
    with pytest.raises(SettingError, match="cannot be read"):
        table.read("/no/such/file.toml")


def test_batches_per_epoch_trains_on_that_many_batches(rng):
    X, y = rng.standard_normal((100, 3)), rng.integers(0, 2, 100)
    seen = []

    class Count(Callback):
        def on_batch_end(self, network, epoch, batch):
            seen.append((epoch, batch))
            return False

    ffnn.fit(
        ffnn.Network([3, 2], seed=0), X, y, epochs=3, batch_size=10, eta=0.1, callbacks=[Count()], batches_per_epoch=1
    )
    assert seen == [(0, 0), (1, 0), (2, 0)]
    assert np.isfinite(X).all()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        # each setting named as the user wrote it: the flag, with its rule and the value received
        ({"optimizer": "adam", "eta": -1.0}, r"^--eta must be a number > 0; got -1.0\.$"),
        ({"momentum": 1.5, "optimizer": "nesterov"}, r"^--momentum must be a number in \[0, 1\); got 1.5\.$"),
        ({"dropout": 1.0}, r"^--dropout must be a number in \[0, 1\); got 1.0\.$"),
        (
            {"optimizer": "adamm"},
            r"^--optimizer must be one of 'sgd', 'momentum', 'nesterov', 'rmsprop', 'adam', 'adamw'",
        ),
        ({"batch_size": 0}, r"^--batch-size must be an integer >= 1; got 0\.$"),
        ({"sizes": [784]}, r"^--sizes must be a list of at least 2 positive integers"),
        # settings the chosen optimizer or schedule would silently ignore: typed, so refused even at the default
        ({"optimizer": "adam", "momentum": 0.9}, r"^--momentum = 0.9 would be ignored"),
        # issue 12, item 11: each of these was a traceback or a wrong name
        ({"augment": "foo"}, r"^--augment must be one of '', 'affine', 'elastic'; got 'foo'\.$"),
        ({"clip_norm": -1.0}, r"^--clip-norm must be a number >= 0; got -1.0\.$"),
        ({"validation": -1}, r"^--validation must be an integer >= 0; got -1\.$"),
        ({"warmup_epochs": -1, "schedule": "cosine"}, r"^--warmup-epochs must be an integer >= 0; got -1\.$"),
        ({"epochs": 0}, r"^--epochs must be an integer >= 1; got 0\.$"),
        (
            {"augment": "affine", "sizes": [2, 4, 2]},
            r"^--augment = 'affine' distorts 28×28 images, but this network "
            r"has 2 inputs",
        ),
        (
            {"optimizer": "sgd", "momentum": 0.5},
            r"^--momentum = 0.5 would be ignored: it is used only by optimizer "
            r"'momentum' or 'nesterov', and this run has --optimizer = 'sgd'\.",
        ),
        (
            {"optimizer": "adam", "lmbda": 5.0},
            r"^--lmbda = 5.0 would be ignored: it is used only by plain SGD .*"
            r"--optimizer = 'adam'",
        ),
        ({"weight_decay": 1e-4, "lmbda": 5.0}, r"^--lmbda = 5.0 would be ignored: .*--weight-decay = 0.0001"),
        ({"schedule": "constant", "warmup_epochs": 2}, r"^--warmup-epochs = 2 would be ignored: .*schedule 'cosine'"),
        (
            {"step_factor": 0.5},
            r"^--step-factor = 0.5 would be ignored: it is used only by schedule 'step', "
            r"and this run has schedule = 'constant'",
        ),
        ({"schedule": "cosine", "plateau_patience": 3}, r"^--plateau-patience = 3 would be ignored"),
        # combinations that cannot run
        (
            {"patience": 5},
            r"^--patience = 5 watches the validation accuracy, but there is no validation split: "
            r"set --validation",
        ),
        ({"schedule": "halve-on-plateau", "optimizer": "momentum"}, r"^--schedule = 'halve-on-plateau' watches"),
    ],
)
def test_each_refused_setting_is_named_as_written(values, message):
    with pytest.raises(SettingError, match=message):
        table.resolve(flags(**values))


def test_a_file_and_a_recipe_are_named_as_such(tmp_path):
    (tmp_path / "run.toml").write_text("optimizer = 'sgd'\nmomentum = 0.5\n")
    with pytest.raises(SettingError, match=r"^momentum in .*run.toml = 0.5 would be ignored"):
        table.resolve(table.Layer(table.read(tmp_path / "run.toml"), table.in_file(tmp_path / "run.toml")))
    # a file that lists every setting, as older run folders' config.toml do, reads: defaults are not changes
    (tmp_path / "old.toml").write_text("optimizer = 'sgd'\nmomentum = 0.9\nwarmup_epochs = 0\n")
    old = table.Layer(table.read(tmp_path / "old.toml"), table.in_file(tmp_path / "old.toml"), "refuse-changed")
    assert "momentum" not in table.resolve(old)
    with pytest.raises(SettingError, match=r"^eta in recipe xor must be a number > 0; got 0.0\.$"):
        table.resolve(table.Layer({"eta": 0.0}, table.in_recipe("xor"), unused="drop"))


def test_what_a_recipe_sets_for_another_optimizer_is_dropped_not_refused():
    """--optimizer adam over recipe mlp-best: the recipe's Nesterov momentum no longer applies."""
    recipe = table.Layer({"optimizer": "nesterov", "momentum": 0.95}, table.in_recipe("r"), unused="drop")
    settings = table.resolve(recipe, flags(optimizer="adam"))
    assert settings["optimizer"] == "adam" and "momentum" not in settings and "lmbda" not in settings
    with pytest.raises(SettingError, match=r"^--momentum = 0.95 would be ignored"):
        table.resolve(flags(optimizer="nesterov"), flags(momentum=0.95, optimizer="adam"))


def test_only_the_settings_in_force_are_kept():
    plain = table.resolve(flags())
    assert "lmbda" in plain and "momentum" not in plain and "warmup_epochs" not in plain
    cosine = table.resolve(flags(optimizer="nesterov", schedule="cosine", warmup_epochs=2))
    assert (cosine["momentum"], cosine["warmup_epochs"]) == (0.9, 2) and "lmbda" not in cosine
    step = table.resolve(flags(optimizer="adam", schedule="step", step_every=4, step_factor=0.5))
    assert (step["step_every"], step["step_factor"]) == (4, 0.5) and "exponential_final" not in step


def test_the_former_name_of_an_initialiser_is_read_as_the_new_one(tmp_path):
    """Run folders written before the rename say init = "seed000"; they still resolve (to small_uniform)."""
    (tmp_path / "config.toml").write_text('init = "seed000"\n')
    assert table.read(tmp_path / "config.toml")["init"] == "small_uniform"
    with pytest.raises(SettingError, match=r"^--init must be one of 'small_uniform', 'normal'"):
        table.resolve(flags(init="seed001"))


def test_a_config_written_before_the_patience_split_reads_as_it_ran(tmp_path):
    """Before plateau_patience, `patience` drove both early stopping and the halving rule."""
    (tmp_path / "config.toml").write_text("validation = 100\nschedule = 'halve-on-plateau'\npatience = 3\n")
    assert table.read(tmp_path / "config.toml")["plateau_patience"] == 3
    (tmp_path / "new.toml").write_text(
        "validation = 100\nschedule = 'halve-on-plateau'\npatience = 3\nplateau_patience = 5\n"
    )
    assert table.read(tmp_path / "new.toml")["plateau_patience"] == 5


def test_checkpoint_seconds_is_in_force_only_by_time():
    assert table.resolve(flags())["checkpoint_seconds"] == 60.0
    with pytest.raises(SettingError, match=r"^--checkpoint-seconds = 5.0 would be ignored: .*--checkpoint-every = 2"):
        table.resolve(flags(checkpoint_every=2, checkpoint_seconds=5.0))
