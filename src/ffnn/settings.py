"""Run settings: one table declares each setting once — its type, default, range, and which
optimizer or schedule uses it — and every check follows from the table.

Settings come in layers, defaults ← recipe ← TOML file ← command-line flags, each layer naming a
key as its user wrote it (``--eta``, ``eta in run.toml``, ``eta in recipe mlp-best``), so a
message points at the right place. :func:`resolve` merges the layers and refuses

- an unknown key, a value of the wrong type, or one outside its range or choices;
- a setting the chosen optimizer or schedule would silently ignore (``--optimizer sgd
  --momentum 0.5``), when a user gave it (a recipe's ignored settings are dropped);
- a combination that cannot run (early stopping without a validation split, ``lmbda`` beside
  ``weight_decay``, image distortions for inputs that are not 28×28 images).

The resolved table holds only the settings in force; ``ffnn train`` writes it to the run folder
as ``config.toml``, and passing that file back with ``--config`` repeats the run.
"""

from __future__ import annotations

import json
import numbers
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ffnn._files import atomic_open
from ffnn._validation import is_finite_number
from ffnn.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from ffnn.backends import BACKENDS
from ffnn.costs import COSTS, REDUCTIONS
from ffnn.data import named
from ffnn.distributed import WATCHDOG_SECONDS
from ffnn.errors import SettingError
from ffnn.initializers import FORMER_NAMES, INITIALIZERS
from ffnn.optimizers import OPTIMIZERS
from ffnn.schedules import SCHEDULES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Table = dict[str, Any]


def _own_file(s: Mapping[str, Any]) -> bool:
    """Whether the run's data set is the user's own file (.csv or .npz)."""
    return named.is_file(str(s["dataset"]))


def _plain_sgd(s: Mapping[str, Any]) -> bool:
    return bool(
        s["optimizer"] == "sgd" and s["schedule"] == "constant" and not s["clip_norm"] and not s["weight_decay"]
    )


@dataclass(frozen=True)
class Setting:
    """One setting: its default (whose type is the setting's type), its rule and who uses it.

    ``low``/``high`` bound a number (``low`` included unless ``above``; ``high`` excluded unless
    ``at_most``);
    ``choices`` lists the names allowed (``former`` maps old names to them); ``used`` says when
    the setting is in force, ``used_by`` says the same in words for messages.
    """

    name: str
    default: Any
    help: str
    low: float | None = None
    above: bool = False
    high: float | None = None
    at_most: bool = False
    choices: tuple[str, ...] = ()
    used: Callable[[Mapping[str, Any]], bool] | None = None
    used_by: str = ""
    decided_by: tuple[str, ...] = ()  # the settings whose values ``used`` reads
    former: Mapping[str, str] = field(default_factory=dict)  # names once allowed, read as their successors

    def rule(self) -> str:
        """The rule in words: 'an integer >= 1', 'a number in [0, 1)', 'one of a, b'."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        kinds = {
            int: "an integer",
            float: "a number",
            str: "a name",
            list: "a list of integers",
            tuple: f"a tuple of positive integers (at most {MAX_NEURONS} each)",  # the estimators' hidden_layer_sizes
            bool: "true or false",
        }
        kind = kinds[type(self.default)]
        spec = ".0f" if type(self.default) is int else "g"  # an integer's bounds in full: 4294967295, not 4.29497e+09
        if self.low is not None and self.high is not None:
            low, high = f"{self.low:{spec}}", f"{self.high:{spec}}"
            return f"{kind} in {'(' if self.above else '['}{low}, {high}{']' if self.at_most else ')'}"
        if self.low is not None:
            return f"{kind} {'>' if self.above else '>='} {self.low:{spec}}"
        return kind


SETTINGS = (
    Setting(
        "dataset",
        "mnist",
        "mnist | fashion-mnist | xor | punnen | spirals | moons | circles | quadrants | PATH (.npz/.csv/.tsv)",
    ),
    Setting("validation", 0, "the last k training examples held out for validation", low=0),
    Setting(
        "test",
        "",
        "a .csv/.tsv/.npz file whose examples are the test split, labelled by the dataset's classes ('' = none)",
        used=_own_file,
        used_by="a .csv, .tsv or .npz dataset",
        decided_by=("dataset",),
    ),
    Setting(
        "task",
        "classification",
        "what the label column holds: class labels, or real-valued targets (identity output, quadratic cost)",
        choices=("classification", "regression"),
        used=_own_file,
        used_by="a .csv, .tsv or .npz dataset",
        decided_by=("dataset",),
    ),
    Setting(
        "label_column",
        "",
        "the label column of a .csv or .tsv dataset: a header name or a column index ('' = the last)",
        used=lambda s: named.is_csv(str(s["dataset"])),
        used_by="a .csv or .tsv dataset",
        decided_by=("dataset",),
    ),
    Setting(
        "test_fraction",
        0.2,
        "share of each class held out as the test split of a file without one (0 = none); not with --test",
        low=0.0,
        high=1.0,
        used=_own_file,
        used_by="a .csv, .tsv or .npz dataset",
        decided_by=("dataset",),
    ),
    Setting("sizes", [784, 30, 10], "neurons per layer, input first (comma-separated on the command line)"),
    Setting(
        "hidden",
        "",
        "hidden layer sizes, e.g. 64,32: the input and output sizes come from the data ('' = use sizes)",
    ),
    Setting("standardize", False, "feed each input as (x − mean) / std of the training split (kept in the model)"),
    Setting("activation", "sigmoid", "the hidden layers' activation", choices=HIDDEN_ACTIVATIONS),
    Setting(
        "output_activation",
        "",
        "the output layer's ('' = the cost's matching one, else the hidden one)",
        choices=("", *ACTIVATIONS),
    ),
    Setting("cost", "quadratic", "the cost function", choices=tuple(COSTS)),
    Setting(
        "reduction",
        "mean",
        "a batch's cost: the mean of its examples' costs (the book's), or their sum (source 002's ½ Σ ‖a − y‖²)",
        choices=REDUCTIONS,
    ),
    Setting("init", "normal", "the weight initialiser", choices=tuple(INITIALIZERS), former=FORMER_NAMES),
    Setting("biases", True, "whether the layers have biases b^l (false: z^l = w^l a^{l−1}, as source 002's network)"),
    Setting("dtype", "float32", "floating-point type of parameters and data", choices=("float32", "float64")),
    Setting("backend", "numpy", "the array library that trains the network (see docs/backends.md)", choices=BACKENDS),
    Setting(
        "device",
        "cpu",
        "the torch backend's device: cpu, cuda, cuda:1, …",
        used=lambda s: s["backend"] == "torch",
        used_by="backend = 'torch'",
        decided_by=("backend",),
    ),
    Setting("epochs", 30, "passes over the training set", low=1),
    Setting("batch_size", 10, "examples per mini-batch", low=1),
    Setting("eta", 3.0, "the learning rate η (of plain SGD or of the optimizer)", low=0.0, above=True),
    Setting(
        "lmbda",
        0.0,
        "plain SGD's L2 strength λ (the book's; the decay is 1 − ηλ/n)",
        low=0.0,
        used=_plain_sgd,
        used_by="plain SGD (optimizer 'sgd', schedule 'constant', no clip_norm, no weight_decay)",
        decided_by=("optimizer", "schedule", "clip_norm", "weight_decay"),
    ),
    Setting("seed", 0, "random seed of the weights, shuffling, dropout and augmentation", low=0),
    Setting("batches_per_epoch", 0, "0 = every batch; k = only the first k of each shuffled epoch", low=0),
    Setting("optimizer", "sgd", "the update rule", choices=tuple(OPTIMIZERS)),
    Setting(
        "momentum",
        0.9,
        "the momentum μ",
        low=0.0,
        high=1.0,
        used=lambda s: s["optimizer"] in ("momentum", "nesterov"),
        used_by="optimizer 'momentum' or 'nesterov'",
        decided_by=("optimizer",),
    ),
    Setting("weight_decay", 0.0, "the optimizer's L2 strength (adamw: decoupled)", low=0.0),
    Setting("clip_norm", 0.0, "clip the gradient's global norm to this (0 = off)", low=0.0),
    Setting("schedule", "constant", "how η changes over the run", choices=SCHEDULES),
    Setting(
        "warmup_epochs",
        0,
        "epochs of linear warm-up before the cosine decay",
        low=0,
        used=lambda s: s["schedule"] == "cosine",
        used_by="schedule 'cosine'",
        decided_by=("schedule",),
    ),
    Setting(
        "step_factor",
        0.1,
        "the factor η is multiplied by at each step of the step schedule",
        low=0.0,
        above=True,
        used=lambda s: s["schedule"] == "step",
        used_by="schedule 'step'",
        decided_by=("schedule",),
    ),
    Setting(
        "step_every",
        0,
        "epochs between the steps of the step schedule (0 = a third of the run)",
        low=0,
        used=lambda s: s["schedule"] == "step",
        used_by="schedule 'step'",
        decided_by=("schedule",),
    ),
    Setting(
        "exponential_final",
        0.01,
        "the fraction of η the exponential schedule reaches at the end",
        low=0.0,
        above=True,
        used=lambda s: s["schedule"] == "exponential",
        used_by="schedule 'exponential'",
        decided_by=("schedule",),
    ),
    Setting(
        "plateau_patience",
        10,
        "epochs without a better validation accuracy before η is halved",
        low=1,
        used=lambda s: s["schedule"] == "halve-on-plateau",
        used_by="schedule 'halve-on-plateau'",
        decided_by=("schedule",),
    ),
    Setting("dropout", 0.0, "inverted dropout rate of the hidden layers", low=0.0, high=1.0),
    Setting("input_dropout", 0.0, "inverted dropout rate of the inputs", low=0.0, high=1.0),
    Setting("max_norm", 0.0, "max-norm bound on each neuron's incoming weights (0 = off)", low=0.0),
    Setting("patience", 0, "early stopping: epochs without a better validation accuracy (0 = off)", low=0),
    Setting("augment", "", "distort 28×28 training images on the fly", choices=("", "affine", "elastic")),
    Setting("checkpoint_every", 0, "write the whole training state every N epochs (0 = by time)", low=0),
    Setting(
        "checkpoint_seconds",
        60.0,
        "write it after an epoch when this long has passed since the last (and at the end)",
        low=0.0,
        used=lambda s: s["checkpoint_every"] == 0,
        used_by="checkpoint_every = 0",
        decided_by=("checkpoint_every",),
    ),
    Setting("keep_checkpoints", 2, "how many of the newest checkpoints to keep", low=1),
    Setting(
        "mpi_timeout",
        WATCHDOG_SECONDS,
        "under mpiexec: seconds a rank waits for the others in one collective before it ends the job, naming itself",
        low=0.0,
        above=True,
    ),
    Setting(
        "threads",
        0,
        "BLAS threads of the matrix products (0 = automatic: the cores, shared among MPI processes; FFNN_THREADS)",
        low=0,
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}
MAX_NEURONS = 2**31 - 1  # a layer's size at most (sizes, hidden): a larger one is no network a machine holds
DEFAULTS: Table = {s.name: s.default for s in SETTINGS}


@dataclass(frozen=True)
class Layer:
    """Settings from one place, with how that place spells a key (for messages), and what becomes
    of a setting it gives that the run would ignore (``unused``): ``"refuse"`` it (the user's own
    words: flags, Python arguments), ``"refuse-changed"`` (a file: refused only when it changes
    the default, so that files listing every setting still read) or ``"drop"`` it (a recipe, whose
    settings a user's choice of optimizer may make moot)."""

    values: Mapping[str, Any]
    spell: Callable[[str], str]
    unused: str = "refuse"

    def refuses(self, changed: bool) -> bool:
        """Whether a setting this layer gave is refused when the run would ignore it (``changed``: from its default)."""
        return self.unused == "refuse" or (self.unused == "refuse-changed" and changed)


def flag(key: str) -> str:
    """How the command line spells a setting: ``--batch-size``; a switch that is on by default,
    by the flag that turns it off: ``--no-biases``."""
    setting = BY_NAME.get(key)
    return ("--no-" if setting is not None and setting.default is True else "--") + key.replace("_", "-")


def in_file(path: str | os.PathLike[str]) -> Callable[[str], str]:
    return lambda key: f"{key} in {path}"


def in_recipe(name: str) -> Callable[[str], str]:
    return lambda key: f"{key} in recipe {name}"


def as_written(key: str) -> str:
    """How Python code spells a setting: its name."""
    return key


def check(values: Mapping[str, Any], spell: Callable[[str], str] = as_written) -> Table:
    """``values`` with every key known and every value of its setting's type and rule (ints count as floats)."""
    out = {}
    for key, value in values.items():
        setting = BY_NAME.get(key)
        if setting is None:
            raise SettingError(f"{spell(key)}: unknown setting {key!r}; known: {', '.join(BY_NAME)}.")
        out[key] = check_value(setting, value, spell(key))
    return out


def check_value(setting: Setting, value: Any, where: str) -> Any:
    """``value`` if it is of ``setting``'s type and within its rule (an int counts as a float),
    else SettingError: "{where} must be {rule}; got {value!r}." Every face checks a setting here."""
    kind = type(setting.default)
    if kind is bool:
        if not isinstance(value, bool):
            raise SettingError(f"{where} must be true or false; got {value!r}.")
        return value
    if setting.name == "hidden":
        return _hidden(value, where)
    if setting.name == "label_column" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a TOML file may give the index as a number
    if kind in (int, float) and not is_finite_number(value):
        raise SettingError(f"{where} must be {setting.rule()}; got {_shown(value)}.")
    if kind is int and isinstance(value, numbers.Integral):  # NumPy's integers too (np.arange in a grid)
        value = int(value)
    elif kind is float:
        value = float(value)
    if kind is list:
        ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ok = ok and len(value) >= 2 and all(1 <= v <= MAX_NEURONS for v in value)
        if not ok:
            raise SettingError(
                f"{where} must be a list of at least 2 positive integers (at most {MAX_NEURONS} each), like "
                f"[784,30,10]; got {_shown(value)}."
            )
        return value
    if kind is tuple:
        ok = isinstance(value, tuple) and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and 1 <= int(v) <= MAX_NEURONS for v in value
        )
        if not ok:
            raise SettingError(f"{where} must be {setting.rule()}; got {_shown(value)}.")
        return tuple(int(v) for v in value)
    value = setting.former.get(value, value) if isinstance(value, str) else value
    in_range = isinstance(value, kind) and not isinstance(value, bool)
    if in_range and setting.choices:
        in_range = value in setting.choices
    elif in_range and kind in (int, float):
        low, high = setting.low, setting.high
        in_range = low is None or (value > low if setting.above else value >= low)
        in_range = in_range and (high is None or (value <= high if setting.at_most else value < high))
    if not in_range:
        raise SettingError(f"{where} must be {setting.rule()}; got {_shown(value)}.")
    return value


def _shown(value: Any) -> str:
    """``value`` as a message shows it: its repr, an integer of many digits cut short."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}… ({len(text)} characters)"


def _hidden(value: Any, where: str) -> str:
    """``hidden`` as written ("64,32", or "" for none given), each size a positive integer."""
    if isinstance(value, list):  # a TOML file may write the list itself
        value = ",".join(str(v) for v in value)
    ok = isinstance(value, str)
    if ok and value.strip():
        try:
            ok = all(1 <= int(v) <= MAX_NEURONS for v in value.split(","))
        except ValueError:
            ok = False
    if not ok:
        raise SettingError(
            f"{where} must list the hidden layers' sizes, positive integers (at most {MAX_NEURONS} each) like 64,32; "
            f"got {_shown(value)}."
        )
    return ",".join(str(int(v)) for v in value.split(",")) if value.strip() else ""


def hidden_sizes(settings: Mapping[str, Any]) -> list[int]:
    """The hidden layers' sizes ``hidden`` gives ([] when it is empty)."""
    text = settings.get("hidden", "")
    return [int(v) for v in text.split(",")] if text else []


def resolve(*layers: Layer) -> Table:
    """The defaults overridden by each layer in turn (later layers win), checked whole.

    Returns only the settings in force: one that the chosen optimizer or schedule does not use
    is refused or dropped as the layer that gave it says (:class:`Layer`).
    """
    settings = dict(DEFAULTS)
    given: dict[str, Layer] = {}
    for layer in layers:
        settings.update(check(layer.values, layer.spell))
        given.update({key: layer for key in layer.values})
    for setting in SETTINGS:
        if setting.used is None or setting.used(settings):
            continue
        source = given.get(setting.name)
        changed = settings[setting.name] != setting.default
        if source is not None and source.refuses(changed):
            raise SettingError(
                f"{source.spell(setting.name)} = {settings[setting.name]!r} would be ignored: it is used only by "
                f"{setting.used_by}, and this run has {_choice_of(setting, settings, given)}. "
                f"Drop it, or choose a setting that uses it."
            )
        del settings[setting.name]
    _check_combinations(settings, given, layers[-1].spell if layers else as_written)
    return settings


def is_regression(settings: Mapping[str, Any]) -> bool:
    """Whether a run fits real-valued targets (``task = 'regression'``) rather than classes."""
    return bool(settings.get("task") == "regression")


# Settings that a run of an older ffnn did not record (its config.toml or model file lacks them),
# with the value that run used where it is not the default.
_BEFORE_RECORDED = {"test_fraction": 0.0}


def of_run(config: Mapping[str, Any]) -> Table:
    """A run's recorded settings (its config.toml, or a model's ``metadata["config"]``) with those it
    lacks — not in force, or not yet known to the ffnn that wrote it — at the value that run used."""
    return {**DEFAULTS, **_BEFORE_RECORDED, **config}


def in_force(settings: Mapping[str, Any], name: str) -> bool:
    """Whether setting ``name`` is used by the run ``settings`` describe."""
    used = BY_NAME[name].used
    return used is None or used({**DEFAULTS, **settings})


def _choice_of(setting: Setting, settings: Table, given: Mapping[str, Layer]) -> str:
    """The choices that make ``setting`` unused, named as written: "--optimizer 'adam'"."""
    names = setting.decided_by
    return ", ".join(f"{given[k].spell(k) if k in given else k} = {settings[k]!r}" for k in names)


def _check_combinations(settings: Table, given: Mapping[str, Layer], spell: Callable[[str], str]) -> None:
    def name(key: str) -> str:
        return given[key].spell(key) if key in given else spell(key)

    if settings["augment"] and settings["sizes"][0] != 28 * 28:
        raise SettingError(
            f"{name('augment')} = {settings['augment']!r} distorts 28×28 images, but this network has "
            f"{settings['sizes'][0]} inputs: drop {name('augment')} for this data set."
        )
    if settings["hidden"] and "sizes" in given and given["sizes"].unused != "drop":
        raise SettingError(
            f"{name('sizes')} and {name('hidden')} both give the layers: use {name('hidden')} alone (the input and "
            f"output sizes then come from the data), or {name('sizes')} alone."
        )
    if settings["standardize"] and settings["augment"]:
        raise SettingError(
            f"{name('augment')} distorts images, which {name('standardize')} has already shifted: drop one of them."
        )
    if is_regression(settings) and settings["cost"] != "quadratic":
        raise SettingError(
            f"{name('task')} = 'regression' fits real-valued targets with the quadratic cost; "
            f"{name('cost')} = {settings['cost']!r} is for classes. Drop {name('cost')}."
        )
    if settings.get("test") and not named.is_file(str(settings["test"])):
        raise SettingError(f"{name('test')} must be a .csv, .tsv or .npz file; got {settings['test']!r}.")
    fraction = given.get("test_fraction")  # a test file is the test split: a fraction to hold out would be ignored
    changed = settings.get("test_fraction") != BY_NAME["test_fraction"].default
    if settings.get("test") and fraction is not None and fraction.refuses(changed):
        raise SettingError(
            f"{name('test')} = {settings['test']!r} is the test split, so {name('test_fraction')} = "
            f"{settings['test_fraction']!r} would be ignored: drop one of them."
        )
    watchers = {"patience": settings["patience"] > 0, "schedule": settings["schedule"] == "halve-on-plateau"}
    if not settings["validation"]:
        for key, wanted in watchers.items():
            if wanted:
                raise SettingError(
                    f"{name(key)} = {settings[key]!r} watches the validation accuracy, but there is no validation "
                    f"split: set {name('validation')} to the number of training examples to hold out (e.g. 10000)."
                )


def read(path: str | os.PathLike[str]) -> Table:
    """The settings in a TOML file (a flat table of the keys of :data:`SETTINGS`), checked.

    Files written before ``plateau_patience`` existed let ``patience`` drive the halving rule
    too; such a file (halve-on-plateau, a patience, no plateau_patience) reads as it ran.
    """
    table = check(_read_table(path), in_file(path))
    if table.get("schedule") == "halve-on-plateau" and table.get("patience") and "plateau_patience" not in table:
        table["plateau_patience"] = table["patience"]
    return table


def _read_table(path: str | os.PathLike[str]) -> Table:
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as e:
        raise SettingError(f"{path}: cannot be read ({e.strerror or e}).") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SettingError(f"{path}: not valid TOML ({e}).") from e
    except RecursionError:
        raise SettingError(f"{path}: not valid TOML (nested too deeply to be settings).") from None
    return {k: v for k, v in table.items() if k not in ("name", "description", "expected")}


def to_toml(table: Mapping[str, Any], comment: str = "") -> str:
    """A flat table as TOML text (strings, numbers, booleans and lists of integers)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    for key, value in table.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float):
            text = repr(value)
        else:  # str, int, list[int]: JSON's spelling is TOML's
            text = json.dumps(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def write(path: Path, table: Mapping[str, Any], comment: str = "") -> None:
    """Write ``table`` to ``path`` as TOML, atomically."""
    with atomic_open(path) as f:
        f.write(to_toml(table, comment).encode())
