"""``ffnn sweep``: a grid of settings trained as ordinary run folders under one sweep folder, several
runs at a time, and one table of their results (``sweep.csv``).

    ffnn sweep --recipe nielsen-ch1 --grid eta=0.5,1,3 --grid hidden=30,100 --out sweeps/eta

**The plan** (:func:`plan`). Each point of the grid — the product of the ``--grid`` values, in the
order given — is one run, or ``repeat`` runs with the seeds ``seed``, ``seed + 1``, …. A run's
settings are resolved as ``ffnn train`` resolves them: defaults ← recipe ← ``--config`` file ← flags
← the point's values (and its seed). Grid keys are the settings' names as in ``config.toml``; every
value is checked by the settings table (``settings.check_value``) and every run's whole settings
resolved before anything runs. A run's folder is named by its point: ``eta=0.5_hidden=30``, with
``_seed=3`` when repeated (``run`` for a sweep without a grid).

**The runs** (:func:`run`). Each run is ``python -m ffnn train`` in a process of its own, its
settings passed as a TOML file, its BLAS threads limited through the environment
(``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``), so that processes never fight
over the cores. Locally, ``workers`` runs at a time (default: one per core, up to the runs to do),
each with cores ÷ workers threads, writing straight into the sweep folder. On a Dask cluster
(``scheduler``, the address of a ``dask.distributed`` scheduler) each run is a task: the worker
trains in a temporary folder of its own, with its machine's cores shared among the task threads of
the workers on it, and the task returns the folder's files, which this process writes into the
sweep folder — each file atomically, the summary last. A run to resume travels to the worker the
same way. No file system is shared, and no path of this machine is sent.

**Run again** (the same command and ``--out``), a sweep skips the runs that ended (finished or
diverged) — their folders untouched —, resumes the interrupted ones from their newest checkpoint
(``ffnn train --resume``) and starts again those that have none. A folder holding a run of other
settings is refused, before anything runs.

**The table** (:func:`table`). One row per point: its grid values, status, the best and final test
accuracy (validation too when the runs hold a validation split; a regression's MSE and R² instead),
epochs and seconds; with repeats, the mean and the sample standard deviation over the point's
finished runs. Rows are sorted by a score, best first; the runs' scores are read through
:func:`ffnn.runs.read`. ``sweep.csv`` is rewritten each time a run ends.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import hashlib
import io
import itertools
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ffnn import checkpoint, environment, runs, threads
from ffnn import settings as settings_table
from ffnn._files import atomic_open
from ffnn._validation import printable
from ffnn._version import __version__
from ffnn.config import RunConfig, configure
from ffnn.errors import EXIT_INTERRUPTED, EXIT_USAGE, ExtraNotInstalledError, FFNNError, RunFolderError, SettingError
from ffnn.run import run_tag

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: two sweeps in one folder are not refused
    fcntl = None  # type: ignore[assignment]

TABLE = "sweep.csv"
# the BLAS threads of a run's process: ffnn's own variable, and those the BLAS libraries read as they load
THREAD_VARIABLES = (threads.VARIABLE, "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
ACCURACIES = ("best_test_accuracy", "final_test_accuracy", "best_validation_accuracy", "final_validation_accuracy")
REGRESSION_SCORES = ("test_r2", "test_mse")
SORTS = (*ACCURACIES, *REGRESSION_SCORES, "seconds")  # --sort's choices
_LOWER_IS_BETTER = ("test_mse", "seconds")
_SAFE = re.compile(r"[^A-Za-z0-9._,=+-]")  # what a folder name keeps of a value as written


@dataclass(frozen=True)
class Run:
    """One run of a sweep: its point (grid keys and values, in the grid's order), its seed, its
    folder's name and its settings, resolved and checked."""

    point: tuple[tuple[str, Any], ...]
    seed: int
    name: str
    config: RunConfig
    settings: dict[str, Any]  # what it sets above its recipe: the --config file, flags, point and seed


@dataclass(frozen=True)
class Plan:
    """A sweep's runs, point by point (each point's ``repeat`` runs together), and its recipe."""

    runs: list[Run]
    keys: tuple[str, ...]
    repeat: int
    recipe: str | None


# -- the plan ------------------------------------------------------------------------------------


def parse_grid(texts: Sequence[str]) -> dict[str, list[Any]]:
    """``["eta=0.5,1,3", "hidden=30,100"]`` as ``{"eta": [0.5, 1.0, 3.0], "hidden": ["30", "100"]}``,
    each value checked by its setting's rule. Values are separated by commas, or by semicolons
    where a value holds commas itself (``hidden=64,32;128``); ``sizes`` values always by semicolons."""
    grid: dict[str, list[Any]] = {}
    for text in texts:
        key, sep, values = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SettingError(f"--grid takes KEY=VALUE,VALUE,… (a setting's name as in config.toml); got {text!r}.")
        setting = settings_table.BY_NAME.get(key)
        if setting is None:
            near = difflib.get_close_matches(key.replace("-", "_"), settings_table.BY_NAME, n=1, cutoff=0.6)
            hint = f"did you mean {near[0]}? " if near else ""
            raise SettingError(
                f"--grid {key}: unknown setting {key!r}; {hint}grid keys are the settings' names as in config.toml: "
                f"{', '.join(settings_table.BY_NAME)}."
            )
        if key in grid:
            raise SettingError(f"--grid {key} is given twice: list all its values in one --grid {key}=….")
        separator = ";" if ";" in values or isinstance(setting.default, list) else ","
        words = [w.strip() for w in values.split(separator)]
        if not any(words) or (len(words) > 1 and not all(words)):
            raise SettingError(f"--grid {key}: an empty value in {values!r}; separate values by {separator!r}.")
        checked = [settings_table.check_value(setting, _typed(setting, w), f"--grid {key}") for w in words]
        twice = [v for v, n in Counter(map(value_text, checked)).items() if n > 1]
        if twice:
            raise SettingError(f"--grid {key} lists {twice[0]} twice; list each value once.")
        grid[key] = checked
    return grid


def _typed(setting: settings_table.Setting, word: str) -> Any:
    """A value as the command line writes it, as its setting's type where it reads as one (else
    the text, which the setting's rule refuses with its own message)."""
    kind = type(setting.default)
    with contextlib.suppress(ValueError):
        if kind is bool:
            return {"true": True, "false": False}.get(word.lower(), word)
        if kind is int:
            return int(word)
        if kind is float:
            return float(word)
        if kind is list:
            return [int(w) for w in word.split(",")]
    if kind is int:  # 1.5 for an integer: the rule says "an integer"
        with contextlib.suppress(ValueError):
            return float(word)
    return word


def value_text(value: Any) -> str:
    """A setting's value as the tables (``ffnn sweep``'s, ``ffnn runs``') and the folder names write
    it: 0.5, 3, true, 784,30,10."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.12g}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def plan(
    recipe: str | None, file: str | None, flags: Mapping[str, Any], grid: Mapping[str, list[Any]], repeat: int = 1
) -> Plan:
    """Every run of the sweep, its settings resolved and checked whole (defaults ← recipe ← file ←
    flags ← the point's values and seed): a mistake in any point is refused before anything runs."""
    if repeat < 1:
        raise SettingError(f"--repeat must be an integer >= 1; got {repeat}.")
    twice = [k for k in grid if k in flags]
    if twice:
        spelled = settings_table.flag(twice[0])
        raise SettingError(f"{spelled} and --grid {twice[0]} both give {twice[0]}: drop one of them.")
    if repeat > 1 and "seed" in grid:
        raise SettingError("--repeat runs each point with the seeds seed, seed + 1, …: drop --grid seed, or --repeat.")
    first_seed = configure(recipe, file, flags).seed
    own = settings_table.read(file) if file else {}
    planned = []
    for values in itertools.product(*grid.values()):
        point = tuple(zip(grid, values))
        for i in range(repeat):
            given = {**flags, **dict(point), **({"seed": first_seed + i} if repeat > 1 else {})}
            config = configure(recipe, file, given)
            parts = [f"{k}={value_text(v)}" for k, v in point] + [f"seed={config.seed}"] * (repeat > 1)
            name = _folder_name("_".join(parts) or "run")
            planned.append(Run(point, config.seed, name, config, {**own, **given}))
    return Plan(planned, tuple(grid), repeat, recipe)


def _folder_name(text: str) -> str:
    """``text`` as a folder name: kept where it is plain, else its other characters replaced and a
    digest of the whole appended (so that two points never share a folder)."""
    safe = _SAFE.sub("_", text)[:150]
    if safe == text:
        return text
    return f"{safe}~{hashlib.sha256(text.encode()).hexdigest()[:8]}"


# -- running it ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """How a run's process ended: its exit status (None: not started), the last line it wrote to stderr."""

    status: int | None
    message: str = ""


@dataclass
class Result:
    """What :func:`run` did: the table's header and rows (sorted), the failures (folder name →
    how its process ended) and whether Ctrl-C stopped it."""

    header: list[str]
    rows: list[list[Any]]
    failures: dict[str, Outcome] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def status(self) -> int:
        """The sweep's exit status: 0 when every run ended; 130 after Ctrl-C; else the first failure's."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        codes = [outcome.status or 0 for outcome in self.failures.values()]
        return next((128 - c if c < 0 else c for c in codes), 0)  # killed by signal k: 128 + k, as a shell says


def run(
    planned: Plan,
    out: Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    sort: str | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> Result:
    """Train the runs of ``planned`` that have not ended into ``out`` (``workers`` at a time here,
    or on the Dask cluster at ``scheduler``), writing ``out/sweep.csv`` as each ends; ``say``
    hears one line per run. Folders and the sort key are checked before anything runs."""
    if workers is not None and workers < 1:
        raise SettingError(f"--workers must be an integer >= 1; got {workers}.")
    if workers is not None and scheduler:
        raise SettingError("--workers is for runs on this machine; on a Dask cluster each worker thread takes one run")
    sort = sort or _default_sort(planned)
    _check_sort(planned, sort)
    _check_out(out)
    with _sweep_lock(out):
        found = {r.name: _read(out / r.name) for r in planned.runs}
        actions = {r.name: _action(r, found[r.name]) for r in planned.runs}  # refuses foreign or busy folders
        todo = [r for r in planned.runs if actions[r.name] != "skip"]
        result = Result([], [])

        def write_table() -> None:
            result.header, result.rows = table(planned, found, sort, result.failures)
            write_csv(out / TABLE, result.header, result.rows)

        write_table()
        skipped = len(planned.runs) - len(todo)
        if skipped:
            say(f"{skipped} of {len(planned.runs)} runs already ended (finished or diverged): skipped")
        resumed = [r.name for r in todo if actions[r.name] == "resume"]
        if resumed:
            say(f"Resuming from their newest checkpoint: {', '.join(resumed)}")
        done = 0

        def ended(r: Run, outcome: Outcome) -> None:
            nonlocal done
            done += 1
            found[r.name] = _read(out / r.name)
            if outcome.status not in (0, 1, EXIT_INTERRUPTED, None):  # 1: diverged, an end like any
                result.failures[r.name] = outcome
            say(f"[{done}/{len(todo)}] {r.name}: {_said(found[r.name], outcome)}")
            write_table()

        try:
            with _interruptible():
                if scheduler:
                    _on_cluster(scheduler, todo, actions, out, planned.recipe, ended)
                else:
                    _here(todo, actions, out, planned.recipe, workers, ended, say)
        except KeyboardInterrupt:
            result.interrupted = True
        write_table()
    return result


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt inside the block, even where it was ignored (a
    command started in the background by a shell), as ``ffnn train`` heeds it; from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _default_sort(planned: Plan) -> str:
    """The score a table is sorted by unless told: the best test accuracy, or R² when every run is a regression."""
    return "test_r2" if all(r.config.regression for r in planned.runs) else "best_test_accuracy"


def _check_sort(planned: Plan, sort: str) -> None:
    columns = _score_columns(planned)
    if sort not in columns:
        raise SettingError(
            f"--sort {sort}: these runs have no such score; choose one of "
            f"{', '.join(c for c in SORTS if c in columns)}."
        )


def _check_out(out: Path) -> None:
    """``out`` must be a new or empty folder, or a sweep folder (it has sweep.csv)."""
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out} is a file, not a folder; choose another --out.")
    if out.is_dir() and any(out.iterdir()) and not (out / TABLE).is_file():
        raise RunFolderError(f"{out} is not empty and holds no {TABLE}: it is no sweep folder; choose another --out.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot write the sweep folder {out}: {e.strerror or e}; choose another with --out") from e


@contextlib.contextmanager
def _sweep_lock(out: Path) -> Iterator[None]:
    """Refuse a second sweep in ``out`` while this one runs (a lock on the folder, dropped at exit)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderError(f"another ffnn sweep is running in {out}; wait for it to end") from None
        yield
    finally:
        os.close(fd)


def _read(folder: Path) -> runs.RunSummary | None:
    return runs.read(folder) if folder.is_dir() and any(folder.iterdir()) else None


def _action(r: Run, found: runs.RunSummary | None) -> str:
    """What the run needs, its folder ``found`` as it is: ``start`` (no folder yet), ``skip`` (it
    ended), ``resume`` (from its newest checkpoint) or ``restart`` (stopped before its first
    checkpoint). A folder of another run, one being trained, or one whose settings cannot be
    read is refused."""
    if found is None:
        return "start"
    if found.config is None:
        raise RunFolderError(f"{found.folder} cannot be resumed: {found.problem} Remove it, and run the sweep again.")
    if found.status == "running":
        raise RunFolderError(f"{found.folder} is being trained by another process; wait for it to end")
    differences = _differences(found.config, r.config)
    if differences:
        raise RunFolderError(
            f"{found.folder} holds a run with other settings than this sweep's ({'; '.join(differences)}); "
            "choose another --out, or remove that folder."
        )
    if found.status in ("finished", "diverged"):
        return "skip"
    return "resume" if checkpoint.latest(found.folder / "checkpoints") is not None else "restart"


def _differences(stored: RunConfig, planned: RunConfig) -> list[str]:
    """How a folder's recorded settings differ from those the sweep planned for it, in words
    ("epochs 5 there, 6 here"); none when they decide the same numbers (``run.run_tag``). ``ffnn
    train`` completed them from the data (``build.resolve_sizes``): ``hidden`` became the whole
    ``sizes``, a regression's output activation ``identity``; those are taken as recorded where
    the recorded hidden layers are the planned ones."""
    planned = runs.completed(planned, stored)
    if run_tag(planned) == run_tag(stored):
        return []
    there, here = stored.table(), planned.table()
    return [
        f"{key} {value_text(there.get(key, '—'))} there, {value_text(here.get(key, '—'))} here"
        for key in dict.fromkeys([*there, *here])
        if there.get(key) != here.get(key)
    ]


def _said(found: runs.RunSummary | None, outcome: Outcome) -> str:
    """How a run ended, in a few words."""
    if found is None or outcome.status not in (0, 1, EXIT_INTERRUPTED):
        status = found.status if found is not None else "failed"
        return f"{status} (exit {outcome.status}: {outcome.message})" if outcome.message else status
    if found.status != "finished":
        return found.status
    if found.regression:
        return f"finished, test R² {_shown(found.test_r2, '.4f')}, MSE {_shown(found.test_mse, '.4g')}"
    best = found.best_test_accuracy
    return f"finished, best test accuracy {_shown(best and 100 * best, '.2f')} % ({_shown(found.seconds, '.1f')} s)"


def _shown(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _arguments(action: str, folder: str, settings_file: str, recipe: str | None) -> list[str]:
    """The ``ffnn train`` arguments of a run: resumed, or started (``restart``: again, emptying its
    folder) from its settings file."""
    if action == "resume":
        return ["train", "--resume", folder, "--quiet", "--no-plots"]
    named = ["--recipe", recipe] if recipe else []
    again = ["--overwrite"] if action == "restart" else []
    return ["train", *named, "--config", settings_file, "--out", folder, *again, "--quiet", "--no-plots"]


def train_process(arguments: Sequence[str], blas_threads: int, command: str | None) -> Outcome:
    """``python -m ffnn ARGUMENTS`` with ``blas_threads`` BLAS threads, recording the sweep's
    ``command`` as its own (``environment.command``); its exit status and last stderr line."""
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(blas_threads)), environment.SWEEP: command or ""}
    done = subprocess.run(
        [sys.executable, "-m", "ffnn", *arguments], env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    lines = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
    message = lines[-1].removeprefix("ffnn: error: ") if lines else ""
    message = message or (f"killed by signal {-done.returncode}" if done.returncode < 0 else "")
    return Outcome(done.returncode, message)


def _here(
    todo: list[Run],
    actions: Mapping[str, str],
    out: Path,
    recipe: str | None,
    workers: int | None,
    ended: Callable[[Run, Outcome], None],
    say: Callable[[str], None],
) -> None:
    """The runs as processes on this machine, ``workers`` at a time, each in its folder under ``out``.
    Ctrl-C reaches every run (they share the terminal's process group): each saves its last complete
    epoch; no run starts after it."""
    if not todo:
        return
    cores = threads.cores()
    workers = workers or min(len(todo), cores)
    share = threads.per_process(cores, workers, None).threads
    for asked in sorted({r.config.threads for r in todo if r.config.threads}):  # --threads, or a grid of them
        warning = threads.per_process(cores, workers, asked).warning
        if warning:
            warnings.warn(f"{workers} runs at a time: {warning}", stacklevel=2)
    own = "" if any(r.config.threads for r in todo) else f", {share} BLAS thread{'s' * (share > 1)} each"
    say(f"{len(todo)} runs to train, {workers} at a time{own}")
    stopping = threading.Event()

    def one(r: Run) -> Outcome:
        if stopping.is_set():
            return Outcome(None)
        with tempfile.TemporaryDirectory(prefix="ffnn-sweep-") as tmp:
            settings_file = Path(tmp) / "settings.toml"
            settings_table.write(settings_file, r.settings)
            arguments = _arguments(actions[r.name], str(out / r.name), str(settings_file), recipe)
            return train_process(arguments, r.config.threads or share, environment.command())

    with ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(one, r): r for r in todo}
        reported = set()
        try:
            for future in as_completed(futures):
                reported.add(future)
                ended(futures[future], future.result())
        except KeyboardInterrupt:
            stopping.set()  # the runs not started return at once; those running stop at the Ctrl-C they heard
            say("Stopping: the runs in progress save their last complete epoch; the same command resumes them.")
            for future, r in futures.items():
                if future not in reported and (outcome := future.result()).status is not None:
                    ended(r, outcome)
            raise


# -- on a Dask cluster ---------------------------------------------------------------------------


def _on_cluster(
    address: str,
    todo: list[Run],
    actions: Mapping[str, str],
    out: Path,
    recipe: str | None,
    ended: Callable[[Run, Outcome], None],
) -> None:
    """The runs as tasks of the Dask cluster at ``address``; each returns its run folder's files,
    written here into ``out``. Ctrl-C cancels the runs not started; those running finish on their
    workers, their results dropped (their folders here stay as they were)."""
    try:
        from dask.distributed import Client
        from dask.distributed import as_completed as completed
    except ImportError:
        raise ExtraNotInstalledError(
            "--scheduler runs the sweep on a Dask cluster, which needs dask.distributed: pip install 'ffnn[sweep]'"
        ) from None
    try:
        client = Client(address, timeout="30s")
    except (OSError, TimeoutError, ValueError) as e:
        raise FFNNError(f"--scheduler {address}: cannot reach a Dask scheduler there ({e}).") from None
    with client:
        shares = worker_threads(client)
        futures = {}
        for r in todo:
            files = _files_of(out / r.name) if actions[r.name] == "resume" else {}
            settings_text = settings_table.to_toml(r.settings)
            share = {a: r.config.threads or n for a, n in shares.items()}
            arguments = (settings_text, recipe, files, share, __version__, environment.command())
            key = f"ffnn-sweep-{r.name}-{uuid.uuid4().hex}"  # never an earlier sweep's task, still running
            task = client.submit(train_remote, *arguments, pure=False, key=key)
            futures[task] = r
        try:
            for future in completed(futures):
                r = futures[future]
                try:
                    status, message, files = future.result()
                except Exception as e:  # the task itself failed on its worker (the worker lost, ffnn not there)
                    status, message, files = EXIT_USAGE, f"on its Dask worker: {type(e).__name__}: {e}", {}
                if files:
                    receive(out / r.name, files)
                ended(r, Outcome(status, message))
        except KeyboardInterrupt:
            client.cancel(list(futures))
            raise


def worker_threads(client: Any) -> dict[str, int]:
    """BLAS threads for a run on each worker of ``client``'s cluster (by address): its machine's
    cores shared among the task threads of all the workers on that machine (at least one)."""
    facts: dict[str, tuple[str, int, int]] = client.run(_worker_facts)
    on_machine = Counter[str]()
    for machine, _, nthreads in facts.values():
        on_machine[machine] += nthreads
    return {address: max(1, cores // on_machine[machine]) for address, (machine, cores, _) in facts.items()}


def _worker_facts(dask_worker: Any) -> tuple[str, int, int]:
    """A Dask worker's machine (its host name), that machine's cores and the worker's task threads."""
    return socket.gethostname(), threads.cores(), int(dask_worker.state.nthreads)


def train_remote(
    settings_text: str,
    recipe: str | None,
    files: Mapping[str, bytes],
    shares: Mapping[str, int],
    version: str,
    command: str | None,
) -> tuple[int | None, str, dict[str, bytes]]:
    """A Dask task: one run trained in a temporary folder of this worker (resumed from ``files``,
    the run folder's, when given; else started from ``settings_text``), with this worker's share
    of its machine's cores as BLAS threads. Returns the exit status, the last stderr line and the
    run folder's files (relative path → contents); the temporary folder is removed. A worker with
    an ffnn other than the client's ``version`` trains nothing: its numbers could differ. The run
    records the sweep's ``command`` as its own."""
    from dask.distributed import get_worker

    if version != __version__:
        return EXIT_USAGE, f"this worker has ffnn {__version__}, the client ffnn {version}: install the same", {}
    with tempfile.TemporaryDirectory(prefix="ffnn-sweep-") as tmp:
        folder, settings_file = Path(tmp) / "run", Path(tmp) / "settings.toml"
        settings_file.write_text(settings_text, encoding="utf-8")
        if files:
            receive(folder, files)
        arguments = _arguments("resume" if files else "start", str(folder), str(settings_file), recipe)
        outcome = train_process(arguments, shares.get(get_worker().address, 1), command)
        return outcome.status, outcome.message, _files_of(folder) if folder.is_dir() else {}


def _files_of(folder: Path) -> dict[str, bytes]:
    """A run folder's files by relative path (the remains of an interrupted write left out)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not (p.name.startswith(".") and p.name.endswith(".tmp"))
    }


def receive(folder: Path, files: Mapping[str, bytes]) -> None:
    """Make ``folder`` hold exactly ``files`` (relative path → contents), as a worker's run left
    them: each written atomically, summary.json last (so the run reads as ended only once whole),
    then the files it no longer has (older checkpoints) removed. Paths that leave the folder are refused."""
    for name in files:
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise RunFolderError(f"a run folder came back holding {name!r}, a path outside it; nothing was written.")
    for name in sorted(files, key=lambda n: n == "summary.json"):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(target) as f:
            f.write(files[name])
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(folder).as_posix() not in files:
            path.unlink()


# -- the table -----------------------------------------------------------------------------------


def _score_columns(planned: Plan) -> list[str]:
    """The scores the runs have: accuracies (test; validation when a run holds a validation
    split) for classification, R² and MSE for regression; then epochs and seconds."""
    configs = [r.config for r in planned.runs]
    columns = []
    if not all(c.regression for c in configs):
        validation = any(c.validation for c in configs if not c.regression)
        columns += [a for a in ACCURACIES if validation or "validation" not in a]
    if any(c.regression for c in configs):
        columns += list(REGRESSION_SCORES)
    return [*columns, "epochs", "seconds"]


def table(
    planned: Plan,
    found: Mapping[str, runs.RunSummary | None],
    sort: str,
    failures: Mapping[str, Outcome] | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """The sweep's table: its header and one row per point, sorted by ``sort`` best first (rows
    without that score last, in the grid's order). A row holds the point's values, its status and
    its scores (None where not measured) and its folder; with repeats, each score's mean and
    sample standard deviation over the point's finished runs, and how many finished."""
    failures = failures or {}
    scores = _score_columns(planned)
    repeated = planned.repeat > 1
    header = [*planned.keys]
    if repeated:
        header += ["status", "finished"] + [f"{s}_{stat}" for s in scores for stat in ("mean", "std")]
    else:
        header += ["status", *scores, "folder"]
    rows = []
    for point_runs in _by_point(planned):
        row: list[Any] = [value_text(v) for _, v in point_runs[0].point]
        statuses = [_status(found.get(r.name), r.name in failures) for r in point_runs]
        ended = [f for r in point_runs if (f := found.get(r.name)) is not None and f.status == "finished"]
        if repeated:
            counts = Counter(statuses)
            row += [statuses[0] if len(counts) == 1 else ", ".join(f"{n} {s}" for s, n in counts.items()), len(ended)]
            for column in scores:
                values = [v for f in ended if (v := getattr(f, column)) is not None]
                row += [
                    statistics.fmean(values) if values else None,
                    statistics.stdev(values) if len(values) > 1 else None,
                ]
        else:
            summary = found.get(point_runs[0].name)
            row += [statuses[0]] + [None if summary is None else getattr(summary, c) for c in scores]
            row.append(point_runs[0].name)
        rows.append(row)
    at = header.index(f"{sort}_mean" if repeated else sort)
    known = [r for r in rows if r[at] is not None]
    known.sort(key=lambda r: r[at], reverse=sort not in _LOWER_IS_BETTER)
    return header, known + [r for r in rows if r[at] is None]


def _by_point(planned: Plan) -> list[list[Run]]:
    return [list(group) for _, group in itertools.groupby(planned.runs, key=lambda r: r.point)]


def _status(found: runs.RunSummary | None, failed: bool) -> str:
    if found is not None:
        return found.status
    return "failed" if failed else "not started"


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """The table as CSV, atomically: numbers in full (``repr``), an empty cell where there is none."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else repr(v) if isinstance(v, float) else v for v in row] for row in rows)
    with atomic_open(path) as f:
        f.write(text.getvalue().encode())


def formatted(header: list[str], rows: list[list[Any]], width: int | None = None) -> str:
    """The table as aligned text (:func:`aligned`, ``width`` too): accuracies in %, R² to 4 places,
    MSE and seconds to 4 digits; a repeated score as mean ± std."""
    names, cells = [], []
    for i, name in enumerate(header):
        if name.endswith("_std"):
            continue
        paired = name.endswith("_mean")
        base = name.removesuffix("_mean")
        names.append(base.replace("_accuracy", " %").replace("_", " "))
        column = []
        for row in rows:
            value, spread = row[i], row[i + 1] if paired else None
            text = "—" if value is None else _number(base, value) if isinstance(value, float) else str(value)
            column.append(f"{text} ± {_number(base, spread)}" if spread is not None else text)
        cells.append(column)
    return aligned(names, cells, width)


def aligned(names: list[str], columns: list[list[str]], width: int | None = None) -> str:
    """Columns of text under their names, left-aligned, two spaces apart. With ``width``, the last
    column's longer cells are cut, ending in "…", so that each line fits in ``width`` characters
    (where the other columns and the last one's name leave room). Every cell is shown as
    ``printable`` writes it: a folder's name or a file's text cannot move the cursor or colour
    the terminal."""
    names, columns = [printable(n) for n in names], [[printable(c) for c in column] for column in columns]
    widths = [max([len(n), *(len(c) for c in column)]) for n, column in zip(names, columns)]
    if width is not None and columns:
        room = width - sum(w + 2 for w in widths[:-1])
        widths[-1] = min(widths[-1], max(len(names[-1]), room))
        columns = [*columns[:-1], [c if len(c) <= widths[-1] else c[: widths[-1] - 1] + "…" for c in columns[-1]]]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths)).rstrip()]
    rows = len(columns[0]) if columns else 0
    lines += ["  ".join(c[i].ljust(w) for c, w in zip(columns, widths)).rstrip() for i in range(rows)]
    return "\n".join(lines)


def _number(column: str, value: float) -> str:
    if column.endswith("accuracy"):
        return f"{100 * value:.2f}"
    if column == "test_r2":
        return f"{value:.4f}"
    if column == "epochs":
        return f"{value:.3g}"
    return f"{value:.4g}"
