"""ffnn sweep's plan and table (issue 22), without starting a run: grid values checked by the
settings table, every mistake refused in one line before anything runs, each run's settings as
ffnn train resolves them, the table sorted best first. The runs themselves: tests/test_sweep.py."""

import os
import statistics
from pathlib import Path

import pytest

from ffnn import settings, sweep
from ffnn.cli import main
from ffnn.config import configure
from ffnn.errors import RunFolderError, SettingError
from ffnn.run import run_tag
from ffnn.runs import RunSummary


def test_grid_values_are_read_as_their_settings_types():
    grid = sweep.parse_grid(
        ["eta=0.5,1,3", "hidden=64,32;128", "sizes=2,8,2;2,4,4,2", "standardize=true,false", "epochs=2,5"]
    )
    assert grid == {
        "eta": [0.5, 1.0, 3.0],
        "hidden": ["64,32", "128"],
        "sizes": [[2, 8, 2], [2, 4, 4, 2]],
        "standardize": [True, False],
        "epochs": [2, 5],
    }
    assert sweep.parse_grid(["hidden=30,100"]) == {"hidden": ["30", "100"]}  # one layer each: the example


def test_the_plan_resolves_each_point_as_ffnn_train_would_and_names_its_folder():
    planned = sweep.plan("nielsen-ch1", None, {"epochs": 2}, sweep.parse_grid(["eta=0.5,3", "hidden=30,100"]), 2)
    assert [r.name for r in planned.runs] == [
        f"eta={eta}_hidden={hidden}_seed={seed}" for eta in ("0.5", "3") for hidden in (30, 100) for seed in (2, 3)
    ]  # the recipe's seed 2, then 3
    first = planned.runs[0]
    assert (first.config.eta, first.config.hidden, first.config.seed, first.config.epochs) == (0.5, "30", 2, 2)
    assert first.config.validation == 10000  # the recipe's
    for r in planned.runs:  # the settings file a run's process reads gives the same run
        assert r.config == configure("nielsen-ch1", None, r.settings)
        assert r.config == configure("nielsen-ch1", None, settings.check(r.settings))


def test_a_config_file_is_passed_on_whole(tmp_path):
    file = tmp_path / "run.toml"
    file.write_text('dataset = "moons"\nhidden = "8"\noptimizer = "momentum"\nmomentum = 0.5\n')
    planned = sweep.plan(None, str(file), {"epochs": 3}, sweep.parse_grid(["eta=0.1,0.2"]))
    assert [r.name for r in planned.runs] == ["eta=0.1", "eta=0.2"]
    assert planned.runs[1].settings == {
        "dataset": "moons", "hidden": "8", "optimizer": "momentum", "momentum": 0.5, "epochs": 3, "eta": 0.2,
    }  # fmt: skip
    assert run_tag(planned.runs[1].config) == run_tag(configure(None, str(file), {"epochs": 3, "eta": 0.2}))


def test_a_sweep_without_a_grid_is_one_run_or_its_repeats():
    assert [r.name for r in sweep.plan(None, None, {"dataset": "xor"}, {}).runs] == ["run"]
    assert [r.name for r in sweep.plan(None, None, {"seed": 7}, {}, 3).runs] == ["seed=7", "seed=8", "seed=9"]


def test_values_that_are_no_plain_name_get_a_digest():
    planned = sweep.plan(None, None, {"hidden": "4"}, sweep.parse_grid(["dataset=moons,data/my set.csv"]))
    names = [r.name for r in planned.runs]
    assert names[0] == "dataset=moons" and names[1].startswith("dataset=data_my_set.csv~") and len(names[1]) == 32


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--grid", "etaa=1,2"], "--grid etaa: unknown setting 'etaa'; did you mean eta? grid keys are the settings'"),
        (["--grid", "batch-size=5"], "did you mean batch_size?"),
        (["--grid", "eta=1,-2"], "--grid eta must be a number > 0; got -2.0."),
        (["--grid", "epochs=2,x"], "--grid epochs must be an integer >= 1; got 'x'."),
        (["--grid", "epochs=1.5"], "--grid epochs must be an integer >= 1; got 1.5."),
        (["--grid", "activation=sigmoid,softmax"], "--grid activation must be one of"),
        (["--grid", "eta"], "--grid takes KEY=VALUE,VALUE,…"),
        (["--grid", "eta=1,"], "--grid eta: an empty value in '1,'"),
        (["--grid", "eta=1,1.0"], "--grid eta lists 1 twice"),
        (["--grid", "eta=1", "--grid", "eta=2"], "--grid eta is given twice"),
        (["--eta", "2", "--grid", "eta=1,3"], "--eta and --grid eta both give eta: drop one of them."),
        (["--grid", "momentum=0.5,0.9"], "--momentum = 0.5 would be ignored"),  # the whole run is resolved first
        (["--repeat", "2", "--grid", "seed=1,2"], "--repeat runs each point with the seeds seed, seed + 1"),
        (["--repeat", "0"], "--repeat must be an integer >= 1; got 0."),
        (["--workers", "0"], "--workers must be an integer >= 1; got 0."),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers is for runs on this machine"),
        (["--sort", "test_r2"], "--sort test_r2: these runs have no such score; choose one of best_test_accuracy"),
    ],
)
def test_a_mistake_is_refused_in_one_line_before_anything_runs(tmp_path, capsys, arguments, message):
    out = tmp_path / "sweep"
    status = main(["sweep", "--dataset", "moons", "--hidden", "4", *arguments, "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("ffnn: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not out.exists()


def test_an_out_that_is_no_sweep_folder_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    planned = sweep.plan(None, None, {"dataset": "moons", "hidden": "4"}, sweep.parse_grid(["eta=1,2"]))
    with pytest.raises(RunFolderError, match=r"is not empty and holds no sweep\.csv: it is no sweep folder"):
        sweep.run(planned, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def summary(folder, status="finished", **scores):
    return RunSummary(Path(folder), status, epochs=3, seconds=1.0, **scores)


def test_the_table_is_sorted_best_first_and_runs_without_a_score_last():
    planned = sweep.plan(None, None, {"dataset": "moons", "hidden": "4"}, sweep.parse_grid(["eta=1,2,3,4"]))
    found = {
        "eta=1": summary("eta=1", best_test_accuracy=0.8, final_test_accuracy=0.7),
        "eta=2": summary("eta=2", "diverged"),
        "eta=3": summary("eta=3", best_test_accuracy=0.9, final_test_accuracy=0.9),
        "eta=4": None,
    }
    header, rows = sweep.table(planned, found, "best_test_accuracy")
    assert header == ["eta", "status", "best_test_accuracy", "final_test_accuracy", "epochs", "seconds", "folder"]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("3", "finished", 0.9), ("1", "finished", 0.8), ("2", "diverged", None), ("4", "not started", None),
    ]  # fmt: skip
    header, rows = sweep.table(planned, found, "final_test_accuracy", {"eta=4": sweep.Outcome(2, "ffnn: error: …")})
    assert [r[0] for r in rows] == ["3", "1", "2", "4"] and rows[-1][1] == "failed"


def test_a_repeated_point_gets_the_mean_and_sample_deviation_of_its_finished_runs():
    planned = sweep.plan(None, None, {"dataset": "moons", "hidden": "4"}, sweep.parse_grid(["eta=1,2"]), 3)
    accuracies = {"eta=1_seed=0": 0.8, "eta=1_seed=1": 0.85, "eta=1_seed=2": 0.9, "eta=2_seed=0": 0.95}
    found = {name: summary(name, best_test_accuracy=a) for name, a in accuracies.items()}
    found |= {"eta=2_seed=1": summary("eta=2_seed=1", "diverged"), "eta=2_seed=2": None}
    header, rows = sweep.table(planned, found, "best_test_accuracy")
    assert header[:5] == ["eta", "status", "finished", "best_test_accuracy_mean", "best_test_accuracy_std"]
    assert rows[0][:5] == ["2", "1 finished, 1 diverged, 1 not started", 1, 0.95, None]
    assert rows[1][:4] == ["1", "finished", 3, statistics.fmean([0.8, 0.85, 0.9])]
    assert rows[1][4] == pytest.approx(0.05, abs=1e-15)
    assert "95.00" in sweep.formatted(header, rows) and "85.00 ± 5.00" in sweep.formatted(header, rows)


def test_regression_runs_are_sorted_by_r2_and_mse_lowest_first(tmp_path):
    data = tmp_path / "points.csv"
    data.write_text("x,y\n" + "".join(f"{i},{2 * i}\n" for i in range(20)))
    planned = sweep.plan(None, None, {"dataset": str(data), "task": "regression", "hidden": "4"},
                         sweep.parse_grid(["eta=1,2"]))  # fmt: skip
    found = {"eta=1": summary("eta=1", test_r2=0.5, test_mse=2.0), "eta=2": summary("eta=2", test_r2=0.9, test_mse=3.0)}
    header, rows = sweep.table(planned, found, "test_r2")
    assert header == ["eta", "status", "test_r2", "test_mse", "epochs", "seconds", "folder"]
    assert [r[0] for r in rows] == ["2", "1"]
    assert [r[0] for r in sweep.table(planned, found, "test_mse")[1]] == ["1", "2"]
    with pytest.raises(SettingError, match="--sort best_test_accuracy: these runs have no such score"):
        sweep.run(planned, tmp_path / "sweep", sort="best_test_accuracy")


def test_a_returned_run_folder_is_written_whole_and_its_stale_files_removed(tmp_path):
    folder = tmp_path / "run"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "checkpoint-00001.npz").write_bytes(b"old")
    sweep.receive(folder, {"summary.json": b"{}", "checkpoints/checkpoint-00003.npz": b"new", "config.toml": b"x"})
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "checkpoints/checkpoint-00003.npz", "config.toml", "summary.json",
    ]  # fmt: skip
    assert (folder / "checkpoints" / "checkpoint-00003.npz").read_bytes() == b"new"
    for bad in ("../escape.txt", "/etc/passwd", "checkpoints/../../escape.txt"):
        with pytest.raises(RunFolderError, match="a path outside it; nothing was written"):
            sweep.receive(folder, {"config.toml": b"y", bad: b"z"})
    assert (folder / "config.toml").read_bytes() == b"x" and not (tmp_path / "escape.txt").exists()


def test_a_second_sweep_in_the_same_folder_is_refused_while_one_runs(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    planned = sweep.plan(None, None, {"dataset": "moons", "hidden": "4"}, sweep.parse_grid(["eta=1,2"]))
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a sweep running in tmp_path holds it
        with pytest.raises(RunFolderError, match=f"another ffnn sweep is running in {tmp_path}; wait for it to end"):
            sweep.run(planned, tmp_path)
    finally:
        os.close(fd)
    assert list(tmp_path.iterdir()) == []
