"""Issue 20: one typed run configuration, built once from the settings table and read by attribute."""

import ast
import dataclasses
from pathlib import Path

import pytest

import ffnn
from ffnn import recipes, run
from ffnn import settings as table
from ffnn.config import RunConfig, configure, of_values

SRC = Path(ffnn.__file__).parent
OWNERS = {"settings.py", "config.py"}  # the modules that turn files and flags into a configuration
# serialization checks a model file's own record of a run's settings (metadata.config), below the run layer
RECORD_CHECK = ("serialization.py", "metadata_problem")
SETTINGS_LIKE = {"settings", "config", "table", "s", "cfg", "values", "flags", "own", "options"}


def test_the_config_declares_every_setting_with_its_type():
    fields = {f.name: f.type for f in dataclasses.fields(RunConfig)}
    assert list(fields) == [s.name for s in table.SETTINGS]
    kinds = {int: "int", float: "float", str: "str", bool: "bool", list: "tuple[int, ...]"}
    assert {name: kinds[type(table.BY_NAME[name].default)] for name in fields} == fields


@pytest.mark.parametrize("recipe", recipes.names())
def test_a_recipes_config_gives_back_the_resolved_table_key_for_key(recipe):
    """config.toml, model files and the checkpoints' run tags are made of the table: it is the one
    ``settings.resolve`` gives, keys, values and order."""
    resolved = table.resolve(table.Layer(recipes.settings(recipe), table.in_recipe(recipe), unused="drop"))
    config = configure(recipe)
    assert list(config.table().items()) == list(resolved.items())
    assert RunConfig.of_table(config.table()) == config
    assert run.run_tag(config) == run.run_tag(RunConfig.of_table(resolved))


def test_what_the_settings_imply_is_read_as_properties(tmp_path):
    sgd = of_values({"dataset": "xor", "sizes": [2, 3, 2]})
    assert sgd.plain_sgd and not sgd.uses("momentum") and "momentum" not in sgd.table()
    adam = of_values({"optimizer": "adam", "eta": 0.01})
    assert not adam.plain_sgd and "lmbda" not in adam.table()
    assert of_values({"optimizer": "nesterov"}).uses("momentum")
    own = of_values({"dataset": str(tmp_path / "d.csv"), "task": "regression", "label_column": 2})
    assert own.own_file and own.csv and own.regression and own.label == 2
    assert not sgd.own_file and not sgd.regression and sgd.label is None
    assert of_values({"hidden": "8,4"}).hidden_sizes == [8, 4] and sgd.hidden_sizes == []


def test_a_config_is_frozen_and_replace_checks_the_change():
    config = configure()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3  # type: ignore[misc]
    assert config.replace(epochs=3).epochs == 3 and config.epochs == 30
    with pytest.raises(ffnn.SettingError, match=r"^epochs must be an integer >= 1; got 0\.$"):
        config.replace(epochs=0)


def test_a_models_recorded_settings_read_as_that_run_used_them():
    """A model of an older ffnn lacks settings (test_fraction); a newer one may hold unknown ones."""
    config = RunConfig.of_table({"dataset": "iris.csv", "seed": 4, "no_such_setting_yet": 1})
    assert config.dataset == "iris.csv" and config.seed == 4 and config.test_fraction == 0.0


def string_reads(path: Path) -> list[str]:
    """Every read of a setting by its name as a string — ``s["eta"]``, ``config.get("seed")`` — in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    exempt = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef) and (path.name, f.name) == RECORD_CHECK
        for n in ast.walk(f)
    }
    found = []
    for n in ast.walk(tree):
        if id(n) in exempt:
            continue
        if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Load) and isinstance(n.slice, ast.Constant):
            key, target = n.slice.value, n.value
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "get" and n.args:
            key, target = getattr(n.args[0], "value", None), n.func.value
        else:
            continue
        if key in table.BY_NAME and ast.unparse(target).split(".")[-1] in SETTINGS_LIKE:
            found.append(f"{path.name}:{n.lineno} {ast.unparse(n)}")
    return found


def test_no_module_but_the_configurations_owners_reads_a_setting_by_its_name():
    reads = sorted({read for path in SRC.rglob("*.py") if path.name not in OWNERS for read in string_reads(path)})
    assert reads == []


def test_the_scan_finds_a_read_by_string_key(tmp_path):
    """The check above can fail: a module that reads ``settings["eta"]`` is found."""
    module = tmp_path / "probe.py"
    module.write_text(
        'def f(settings, config, header):\n    return settings["eta"], config.get("seed"), header["seed"]\n'
    )
    assert string_reads(module) == ["probe.py:2 settings['eta']", "probe.py:2 config.get('seed')"]
