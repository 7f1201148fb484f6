"""``ffnn runs`` and ``ffnn runs compare`` (issue 24) on run folders made by real training, in this
process: every status listed — a damaged folder with its problem, never a traceback —, the JSON's
numbers those of the runs, the settings that differ, the figure written; and what each run's
summary records for reproducing it (``ffnn.environment``). A real ``ffnn train`` process's
command line: tests/test_listing_cli.py."""

import contextlib
import datetime
import json
import os
import platform
import shutil
import sys

import numpy as np
import pytest

import ffnn
from ffnn import environment, listing, run, runs, threads
from ffnn.cli import main
from ffnn.config import configure
from ffnn.errors import TrainingDivergedError
from test_runs import MOONS, CtrlCAt

STATUS_AT = {"finished": 1000, "interrupted": 2000, "diverged": 3000, "damaged": 4000, "sweep/eta=0.5": 5000}


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def aged(folder, seconds):
    """Give the run's files the modification time ``seconds`` (since the epoch): the listing's order."""
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (seconds, seconds))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """runs/ holding a finished, an interrupted, a diverged and a damaged run, a sweep folder's run
    (from a recipe), a folder that holds no run and a hidden one that does."""
    root = tmp_path_factory.mktemp("listing") / "runs"
    run.train({**MOONS, "epochs": 4, "validation": 100}, root / "finished", quiet=True)
    run.train({**MOONS, "epochs": 10}, root / "interrupted", quiet=True, callbacks=[CtrlCAt(3)])
    with pytest.raises(TrainingDivergedError):
        run.train({**MOONS, "eta": 1e6, "epochs": 3}, root / "diverged", quiet=True)
    run.train({**MOONS, "epochs": 2}, root / "damaged", quiet=True)
    (root / "damaged" / "summary.json").write_text('{"interrupted": false, "epo')
    xor = configure("xor", None, {"epochs": 20, "eta": 0.5})
    run.train(xor, root / "sweep" / "eta=0.5", recipe="xor", quiet=True)
    (root / "sweep" / "sweep.csv").write_text("eta,status\n0.5,finished\n")
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("try eta=3")
    shutil.copytree(root / "finished", root / ".trash" / "old")
    for name, seconds in STATUS_AT.items():
        aged(root / name, seconds)
    return root


def test_ffnn_runs_lists_every_status_newest_last(folder, capsys):
    code, out, err = cli(capsys, "runs", folder)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == [
        "run", "recipe/data", "status", "best", "%", "final", "%", "epochs", "seconds", "ffnn", "settings",
    ]  # fmt: skip
    rows = [line.split() for line in lines[1:6]]
    assert [r[0] for r in rows] == list(STATUS_AT)  # oldest first: the newest run is last, nearest the prompt
    assert [r[2] for r in rows] == ["finished", "interrupted", "diverged", "damaged", "finished"]
    summary = json.loads((folder / "finished" / "summary.json").read_text())
    best, final = 100 * summary["best_test"]["accuracy"], 100 * summary["final_test_accuracy"]
    assert rows[0][1:8] == ["moons", "finished", f"{best:.2f}", f"{final:.2f}", "4", f"{summary['wall_seconds']:.4g}",
                            ffnn.__version__]  # fmt: skip
    assert rows[0][8:] == [  # in the settings table's order; the data set is in its own column
        "validation=100", "sizes=2,8,2", "activation=relu", "output_activation=identity", "epochs=4", "eta=0.2",
    ]  # fmt: skip
    assert rows[1][5] == "3" and rows[1][7] == ffnn.__version__  # Ctrl-C in its 4th epoch: 3 completed
    # diverged in its first epoch: no scores, no summary; the version from config.toml's first line
    assert rows[2][3:8] == ["—", "—", "0", "—", ffnn.__version__]
    assert rows[3][1:8] == ["moons", "damaged", "—", "—", "—", "—", ffnn.__version__]
    assert rows[4][:3] == ["sweep/eta=0.5", "xor", "finished"] and rows[4][-2:] == ["epochs=20", "eta=0.5"]
    assert (
        lines[6].startswith("damaged is damaged: ") and "summary.json: not a summary written by ffnn train" in lines[6]
    )
    assert len(lines) == 7 and "Traceback" not in out


def test_a_run_folder_named_is_listed_alone(folder, capsys):
    code, out, _ = cli(capsys, "runs", folder / "interrupted")
    assert code == 0 and len(out.splitlines()) == 2
    assert out.splitlines()[1].split()[:3] == ["interrupted", "moons", "interrupted"]


def test_the_json_holds_each_run_with_stable_keys_and_numbers_as_numbers(folder, capsys):
    code, out, _ = cli(capsys, "runs", folder, "--json")
    assert code == 0
    found = json.loads(out)
    assert [r["name"] for r in found] == list(STATUS_AT)
    assert all(list(r) == list(found[0]) for r in found)  # the same keys, in the same order
    by_name = {r["name"]: r for r in found}
    finished = by_name["finished"]
    summary = json.loads((folder / "finished" / "summary.json").read_text())
    assert finished["status"] == "finished" and finished["problem"] is None and finished["recipe"] is None
    assert (finished["dataset"], finished["task"], finished["epochs"]) == ("moons", "classification", 4)
    assert finished["best_test_accuracy"] == summary["best_test"]["accuracy"]
    assert finished["best_test_epoch"] == summary["best_test"]["epoch"]
    assert finished["final_validation_accuracy"] == summary["final_validation_accuracy"]
    assert finished["seconds"] == summary["wall_seconds"] and finished["test_mse"] is None
    assert finished["changed"] == {
        "dataset": "moons", "sizes": [2, 8, 2], "activation": "relu", "output_activation": "identity", "epochs": 4,
        "validation": 100, "eta": 0.2,
    }  # fmt: skip
    assert finished["environment"] == summary["environment"] and finished["ffnn_version"] == ffnn.__version__
    assert datetime.datetime.fromisoformat(finished["updated"]).timestamp() == STATUS_AT["finished"]
    interrupted = by_name["interrupted"]
    assert interrupted["status"] == "interrupted" and interrupted["epochs"] == 3
    assert isinstance(interrupted["final_test_accuracy"], float)
    assert by_name["diverged"]["status"] == "diverged" and by_name["diverged"]["best_test_accuracy"] is None
    damaged = by_name["damaged"]
    assert damaged["status"] == "damaged" and "summary.json: not a summary written by ffnn train" in damaged["problem"]
    assert damaged["epochs"] is None and damaged["best_test_accuracy"] is None
    swept = by_name["sweep/eta=0.5"]
    assert swept["recipe"] == "xor" and swept["changed"] == {"epochs": 20, "eta": 0.5}
    assert (
        swept["final_test_accuracy"]
        == json.loads((folder / "sweep/eta=0.5/summary.json").read_text())["final_test_accuracy"]
    )


def test_a_folder_with_no_runs_says_so_and_a_missing_one_is_refused(tmp_path, capsys, monkeypatch):
    (tmp_path / "empty").mkdir()
    assert cli(capsys, "runs", tmp_path / "empty") == (
        0, f"No runs in {tmp_path / 'empty'}: none of its folders holds what ffnn train writes (config.toml, "
        "metrics.csv, …).\n", "",
    )  # fmt: skip
    assert cli(capsys, "runs", tmp_path / "empty", "--json") == (0, "[]\n", "")
    code, out, err = cli(capsys, "runs", tmp_path / "nowhere")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"ffnn: error: {tmp_path / 'nowhere'} does not exist: name the folder that holds your runs")
    monkeypatch.chdir(tmp_path)  # the default, runs/, is looked for where ffnn runs
    code, _, err = cli(capsys, "runs")
    assert code == 2 and err.startswith("ffnn: error: runs does not exist")


def test_a_run_folder_that_lost_its_config_is_listed_as_damaged(folder, tmp_path, capsys):
    shutil.copytree(folder / "finished", tmp_path / "runs" / "lost")
    (tmp_path / "runs" / "lost" / "config.toml").unlink()
    code, out, _ = cli(capsys, "runs", tmp_path / "runs")
    assert code == 0 and out.splitlines()[1].split()[:3] == ["lost", "—", "damaged"]
    assert "lost is damaged: " in out and "is not a run folder (no config.toml)" in out


def test_the_settings_column_is_cut_to_fit_the_terminal(folder):
    found = listing.listed(folder)
    whole = listing.text(found).splitlines()
    assert max(len(line) for line in whole[:6]) > 100
    fitted = listing.text(found, width=100).splitlines()
    assert [len(line) <= 100 for line in fitted[:6]] == [True] * 6
    assert fitted[1].endswith("…") and fitted[1][:-1] in whole[1] and fitted[6] == whole[6]  # the problem, whole


def test_compare_prints_only_the_settings_that_differ_and_writes_one_figure(tmp_path, capsys, monkeypatch):
    run.train({**MOONS, "epochs": 3}, tmp_path / "slow", quiet=True)
    run.train({**MOONS, "epochs": 3, "eta": 0.5, "seed": 1}, tmp_path / "fast", quiet=True)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "runs", "compare", "slow", "fast")
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "setting  slow  fast",
        "eta      0.2   0.5",
        "seed     0     1",
        "Learning curves: compare.png",
    ]
    figure = (tmp_path / "compare.png").read_bytes()
    assert figure.startswith(b"\x89PNG\r\n\x1a\n") and len(figure) > 10_000
    code, out, _ = cli(capsys, "runs", "compare", "slow", "fast", "--out", "curves.svg")
    assert code == 0 and out.endswith("Learning curves: curves.svg\n")
    assert b"<svg" in (tmp_path / "curves.svg").read_bytes()[:1000]


def test_the_compared_curves_are_the_runs_metrics(tmp_path):
    run.train({**MOONS, "epochs": 3}, tmp_path / "a", quiet=True)
    run.train({**MOONS, "epochs": 5, "validation": 100}, tmp_path / "b", quiet=True)
    from ffnn.callbacks.metrics_log import read_metrics
    from ffnn.plotting import plot_compared

    curves = {name: read_metrics(tmp_path / name / "metrics.csv") for name in ("a", "b")}
    cost_ax, held_ax = plot_compared(curves).axes
    assert [line.get_label() for line in cost_ax.get_lines()] == ["a", "b"]
    assert [line.get_label() for line in held_ax.get_lines()] == ["a", "b", "b (validation)"]
    assert list(cost_ax.get_lines()[1].get_ydata()) == curves["b"]["train_cost"]
    assert list(held_ax.get_lines()[2].get_ydata()) == [100 * v for v in curves["b"]["validation_accuracy"]]
    assert held_ax.get_lines()[2].get_linestyle() == "--"
    assert (
        cost_ax.get_lines()[0].get_color() == held_ax.get_lines()[0].get_color() != cost_ax.get_lines()[1].get_color()
    )


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["finished"], "compare needs two runs or more; got 1"),
        (["finished", "damaged"], "damaged is damaged, so it cannot be compared: "),
        (["finished", "nowhere"], "nowhere does not exist; name run folders"),
        (["finished", "notes"], "notes is not a run folder"),
        (["finished", "finished"], "finished is named twice; name each run once."),
    ],
)
def test_compare_refuses_in_one_line(folder, capsys, names, message, tmp_path):
    code, out, err = cli(capsys, "runs", "compare", *(folder / n for n in names), "--out", tmp_path / "c.png")
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("c.txt", "{out}: name a figure file ending in one of ."),
        ("c.pgf", "{out}: name a figure file ending in one of ."),  # LaTeX code: it needs a TeX install
        ("missing/c.png", "{out}: there is no folder {parent} to write it into; make it first."),
        ("folder.png", "{out} is a folder: name the figure file to write"),
    ],
)
def test_compare_refuses_a_figure_it_cannot_write_before_printing_anything(folder, capsys, tmp_path, name, message):
    (tmp_path / "folder.png").mkdir()
    out = tmp_path / name
    code, printed, err = cli(capsys, "runs", "compare", folder / "finished", folder / "interrupted", "--out", out)
    assert code == 2 and printed == "" and len(err.splitlines()) == 1
    assert err.startswith("ffnn: error: --out " + message.format(out=out, parent=out.parent))
    assert ", .pgf" not in err and not (tmp_path / "missing").exists()  # not offered


def test_compare_without_matplotlib_prints_the_table_and_what_to_install(folder, capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as where the plots extra is not installed
    code, out, err = cli(
        capsys, "runs", "compare", folder / "finished", folder / "interrupted", "--out", tmp_path / "c.png"
    )
    assert code == 2 and out.splitlines()[0].split() == ["setting", "finished", "interrupted"]
    assert err == "ffnn: error: the figure of ffnn runs compare needs matplotlib: pip install 'ffnn[plots]'\n"
    assert not (tmp_path / "c.png").exists()


def test_the_summary_records_what_reproducing_the_run_needs(tmp_path, rng):
    result = run.train({"dataset": "xor", "sizes": [2, 4, 2], "epochs": 3}, tmp_path / "xor", quiet=True)
    recorded = json.loads((tmp_path / "xor" / "summary.json").read_text())["environment"]
    assert recorded == result.summary["environment"]
    assert (recorded["ffnn"], recorded["python"], recorded["numpy"]) == (
        ffnn.__version__, platform.python_version(), np.__version__,
    )  # fmt: skip
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    assert recorded["blas"] == [
        {"name": i["internal_api"], "version": i["version"], "threading_layer": i["threading_layer"],
         "architecture": i["architecture"]}
        for i in blas
    ]  # fmt: skip
    assert (
        recorded["blas"] and recorded["gemm"] in ("openblas", "numpy") and recorded["platform"] == platform.platform()
    )
    assert recorded["threads"] == 1  # a 2-4-2 network's products gain nothing from a second thread
    assert recorded["command"] is None  # started from Python: no command line repeats it
    assert runs.read(tmp_path / "xor").environment == recorded

    # products big enough for two threads (64 rows × 256 × 256 × 4 bytes = 2 × 2²³), two asked for: two recorded
    X = rng.standard_normal((128, 256))
    np.savez(tmp_path / "wide.npz", X=X, y=(X[:, 0] > 0).astype(int))
    wide = {"dataset": str(tmp_path / "wide.npz"), "hidden": "256", "batch_size": 64, "epochs": 1, "threads": 2}
    with pytest.warns(UserWarning, match="cores") if threads.cores() < 2 else contextlib.nullcontext():
        result = run.train(wide, tmp_path / "wide", quiet=True)
    assert result.summary["environment"]["threads"] == 2


def test_the_command_line_is_recorded_when_this_process_is_ffnn():
    main_file = os.path.join(os.path.dirname(ffnn.__file__), "__main__.py")
    assert environment.command(["/opt/venv/bin/ffnn", "train", "--out", "runs/my run"]) == (
        "ffnn train --out 'runs/my run'"
    )
    assert environment.command([main_file, "train", "--recipe", "xor"]) == "ffnn train --recipe xor"
    assert environment.command(["/usr/bin/python3", "train.py"]) is None
    assert environment.command([]) is None


@pytest.mark.parametrize(
    ("recipe", "given", "changed"),
    [
        (None, {"optimizer": "momentum"}, {"optimizer": "momentum"}),  # momentum at its default: no change
        (None, {"optimizer": "momentum", "momentum": 0.5}, {"optimizer": "momentum", "momentum": 0.5}),
        ("xor", {"eta": 0.5, "seed": 3}, {"eta": 0.5, "seed": 3}),
        ("xor", {}, {}),
        ("nielsen-ch1", {"hidden": "100"}, {"sizes": [784, 100, 10]}),  # as ffnn train completes it
    ],
)
def test_a_run_differs_from_its_recipe_in_the_settings_it_changed(recipe, given, changed, tmp_path):
    config = configure(recipe, None, given)
    if config.hidden:  # ffnn train makes hidden into the whole sizes (build.resolve_sizes)
        config = config.replace(sizes=[784, *config.hidden_sizes, 10], hidden="")
    assert runs.RunSummary(tmp_path, "finished", config=config, recipe=recipe).changed() == changed
    unknown = runs.RunSummary(tmp_path, "finished", config=config, recipe="a-recipe-of-a-newer-ffnn")
    assert unknown.changed() == runs.RunSummary(tmp_path, "finished", config=config).changed()  # against the defaults


def test_a_regression_is_listed_with_its_r2_and_mse(tmp_path, capsys, rng):
    x = rng.uniform(-1, 1, 200)
    (tmp_path / "line.csv").write_text("x,y\n" + "".join(f"{a},{2 * a}\n" for a in x))
    run.train(
        {"dataset": str(tmp_path / "line.csv"), "task": "regression", "hidden": "8", "epochs": 3, "eta": 0.05},
        tmp_path / "runs" / "line",
        quiet=True,
    )
    summary = json.loads((tmp_path / "runs" / "line" / "summary.json").read_text())
    code, out, _ = cli(capsys, "runs", tmp_path / "runs")
    header, row = out.splitlines()
    assert code == 0 and header.split()[3:7] == ["test", "r2", "test", "mse"]
    assert row.split()[:9] == [
        "line", "line.csv", "finished", f"{summary['test_r2']:.4f}", f"{summary['test_mse']:.4g}", "3",
        f"{summary['wall_seconds']:.4g}", ffnn.__version__, "task=regression",
    ]  # fmt: skip


def test_runs_of_the_same_settings_compare_in_one_line(folder, tmp_path, capsys):
    shutil.copytree(folder / "finished", tmp_path / "again")
    code, out, _ = cli(capsys, "runs", "compare", folder / "finished", tmp_path / "again", "--out", tmp_path / "c.pdf")
    assert code == 0 and out.splitlines() == [
        "The 2 runs have the same settings.",
        f"Learning curves: {tmp_path / 'c.pdf'}",
    ]
    assert (tmp_path / "c.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["runs", "a", "b"], "ffnn runs lists one folder; got a b (to compare runs: ffnn runs compare RUN RUN …)"),
        (["runs", "--out", "c.png"], "--out names compare's figure: ffnn runs compare RUN RUN … --out FILE"),
        (
            ["runs", "compare", "a", "b", "--json"],
            "--json goes with the list (ffnn runs FOLDER --json), not with compare",
        ),
    ],
)
def test_a_mistaken_runs_command_is_refused_in_one_line(capsys, argv, message):
    assert cli(capsys, *argv) == (2, "", f"ffnn: error: {message}\n")


def test_names_that_are_no_plain_text_are_escaped_in_the_table_and_valid_in_the_json(folder, tmp_path, capsys):
    """A folder named with a terminal's escape sequence cannot colour the table; one whose name is
    not UTF-8 (a lone surrogate in Python) is shown escaped, and the JSON stays UTF-8 for any reader."""
    root = tmp_path / "runs"
    shutil.copytree(folder / "finished", root / "red\x1b[31m")
    shutil.copytree(folder / "damaged", root / os.fsdecode(b"caf\xe9"))
    code, out, err = cli(capsys, "runs", root)
    assert code == 0 and err == "" and "\x1b" not in out
    names = sorted(line.split()[0] for line in out.splitlines()[1:3])
    assert names == ["caf\\udce9", "red\\x1b[31m"]
    assert "caf\\udce9 is damaged: " in out
    code, out, err = cli(capsys, "runs", root, "--json")
    out.encode("utf-8")  # no lone surrogate: strict UTF-8
    assert code == 0 and "\\ud" not in out
    found = {r["name"]: r for r in json.loads(out)}
    assert sorted(found) == ["caf\\xe9", "red\x1b[31m"]  # JSON escapes the control character itself
    assert found["caf\\xe9"]["folder"] == str(root / "caf\\xe9") and "caf\\xe9" in found["caf\\xe9"]["problem"]


def csv_with(folder, column, value):
    """metrics.csv with ``column`` of its first row set to ``value`` (as text)."""
    lines = (folder / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index(column)] = value
    (folder / "metrics.csv").write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")


def summary_with(folder, text):
    (folder / "summary.json").write_text(text)


def summary_set(folder, key, value_text):
    summary = json.loads((folder / "summary.json").read_text())
    summary[key] = "@"
    summary_with(folder, json.dumps(summary).replace('"@"', value_text))


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda f: csv_with(f, "epoch", "nan"), "metrics.csv: epoch on line 2 is not a whole number >= 0 (nan)."),
        (lambda f: csv_with(f, "epoch", "-1"), "metrics.csv: epoch on line 2 is not a whole number >= 0 (-1.0)."),
        (lambda f: csv_with(f, "test_accuracy", "inf"), "test_accuracy on line 2 is not a fraction from 0 to 1 (inf)."),
        (lambda f: csv_with(f, "seconds", "1e999"), "seconds on line 2 is not a number of seconds >= 0 (inf)."),
        (lambda f: summary_set(f, "epochs_completed", "1" + "0" * 400), "epochs_completed is not a whole number >= 0"),
        (lambda f: summary_set(f, "epochs_completed", "2.5"), "epochs_completed is not a whole number >= 0 (2.5)."),
        (lambda f: summary_set(f, "final_test_accuracy", "5"), "final_test_accuracy is not a fraction from 0 to 1"),
        (lambda f: summary_set(f, "wall_seconds", "-3"), "wall_seconds is not a number of seconds >= 0 (-3)."),
        (lambda f: summary_with(f, "[" * 100_000 + "]" * 100_000), "summary.json: not a summary written by ffnn train"),
        (lambda f: (f / "config.toml").write_bytes(b"eta = 1\n\xff\xfe"), "config.toml: not valid TOML"),
        (lambda f: (f / "config.toml").write_text("sizes = " + "[" * 5000 + "]" * 5000), "config.toml: not valid TOML"),
        (lambda f: (f / "config.toml").write_text(""), "config.toml holds no run's settings"),
        (lambda f: (f / "model.npz").unlink(), "model.npz is missing: the run's summary says it finished"),
        (lambda f: (f / "model.npz").write_bytes((f / "model.npz").read_bytes()[:100]), "model.npz"),
    ],
    ids=["epoch-nan", "epoch-negative", "accuracy-inf", "seconds-overflow", "epochs-huge", "epochs-fraction",
         "accuracy-5", "seconds-negative", "summary-deep", "config-not-utf8", "config-deep", "config-empty",
         "model-missing", "model-truncated"],
)  # fmt: skip
def test_a_file_that_is_not_what_ffnn_writes_makes_the_run_damaged_never_a_traceback(
    folder, tmp_path, capsys, damage, problem
):
    """Each hostile file is caught where it is read: the run listed as damaged, saying what is
    wrong; the other runs listed as they are; the JSON strict (no NaN or Infinity)."""
    root = tmp_path / "runs"
    shutil.copytree(folder / "finished", root / "ok")
    shutil.copytree(folder / "finished", root / "bad")
    if "line 2" in problem:  # metrics.csv is read for a run that did not finish
        (root / "bad" / "summary.json").unlink()
    damage(root / "bad")
    found = runs.read(root / "bad")
    assert found.status == "damaged" and problem in found.problem and len(found.problem) < 400
    code, out, err = cli(capsys, "runs", root)
    assert (
        code == 0
        and err == ""
        and {line.split()[0]: line.split()[2] for line in out.splitlines()[1:3]}
        == {
            "ok": "finished",
            "bad": "damaged",
        }
    )
    code, out, _ = cli(capsys, "runs", root, "--json")
    json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))


def test_the_json_holds_no_number_json_cannot(folder, tmp_path, capsys):
    shutil.copytree(folder / "finished", tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    summary["environment"]["threads"] = float("nan")
    (tmp_path / "run" / "summary.json").write_text(json.dumps(summary))  # NaN, as Python writes it
    code, out, _ = cli(capsys, "runs", tmp_path / "run", "--json")
    found = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert code == 0 and found[0]["environment"]["threads"] is None


def test_a_run_named_by_dot_is_named_by_its_folder(folder, tmp_path, capsys, monkeypatch):
    shutil.copytree(folder / "finished", tmp_path / "a")
    shutil.copytree(folder / "interrupted", tmp_path / "b")
    monkeypatch.chdir(tmp_path / "a")
    code, out, _ = cli(capsys, "runs", "compare", ".", "../b", "--out", tmp_path / "c.png")
    assert code == 0 and out.splitlines()[0].split() == ["setting", "a", "b"]


def test_a_bad_limit_in_the_environment_is_one_error_not_every_run_damaged(folder, capsys, monkeypatch):
    monkeypatch.setenv("FFNN_MAX_DATA_BYTES", "bogus")
    code, out, err = cli(capsys, "runs", folder)
    assert (code, out) == (2, "") and err.startswith("ffnn: error: FFNN_MAX_DATA_BYTES must be a positive number")
    assert len(err.splitlines()) == 1
