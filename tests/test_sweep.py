"""ffnn sweep (issue 22): a grid trained as run folders, several at a time, into one table; the
runs' own summaries in it; a sweep killed half-way and run again skips what ended and resumes what
did not, to the same numbers; and the same sweep on a Dask cluster of two worker processes, whose
run folders come back to this one's sweep folder. The plan and the table alone: test_sweep_plan.py."""

import csv
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys

import numpy as np
import pytest

import ffnn
from waiting import wait_until

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

# every run on one BLAS thread: a resumed run then equals one never stopped, bit for bit
RELU = ["--dataset", "moons", "--activation", "relu", "--output-activation", "identity", "--threads", "1"]
MOONS = [*RELU, "--checkpoint-every", "1"]  # so that a run can be resumed from its second-to-last epoch
GRID = ["--grid", "eta=0.05,0.2,1e6", "--grid", "hidden=4,8"]  # eta 1e6 diverges
HEADER = ["eta", "hidden", "status", "best_test_accuracy", "final_test_accuracy", "epochs", "seconds", "folder"]


def sweep_command(*arguments):
    return [sys.executable, "-m", "ffnn", "sweep", *map(str, arguments)]


def sweep(*arguments, cwd=None):
    done = subprocess.run(sweep_command(*arguments), capture_output=True, text=True, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done


def rows(out):
    with open(out / "sweep.csv", newline="") as f:
        reader = csv.reader(f)
        return next(reader), list(reader)


def without_seconds(table):
    header, body = table
    at = header.index("seconds")
    return [[v for i, v in enumerate(row) if i != at] for row in body]


def snapshot(folder):
    """Each file under ``folder``: its bytes and its modification time (to show it was not touched)."""
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """A 6-run sweep on this machine, two runs at a time: (its folder, what it printed, its command)."""
    out = tmp_path_factory.mktemp("local") / "sweep"
    arguments = [*MOONS, "--epochs", 4, *GRID, "--workers", 2, "--out", out]
    return out, sweep(*arguments).stdout, shlex.join(["ffnn", "sweep", *map(str, arguments)])


def test_every_point_runs_into_its_own_folder_and_the_table_holds_its_summary(local):
    out, printed, command = local
    header, body = rows(out)
    assert header == HEADER and len(body) == 6
    assert sorted((r[0], r[1]) for r in body) == sorted((e, h) for e in ("0.05", "0.2", "1000000") for h in "48")
    for eta, hidden, status, best, final, epochs, seconds, folder in body:
        run = out / folder
        assert folder == f"eta={eta}_hidden={hidden}" and (run / "config.toml").is_file()
        config = ffnn.load(run / "model.npz").metadata["config"]
        assert (config["eta"], config["sizes"]) == (float(eta), [2, int(hidden), 2])
        if eta == "1000000":  # diverged: the last good model, no scores; the sweep goes on
            assert status == "diverged" and (best, final, seconds) == ("", "", "") and epochs == "0"
            assert not (run / "summary.json").exists()
            continue
        summary = json.loads((run / "summary.json").read_text())
        assert status == "finished"
        assert float(best) == summary["best_test"]["accuracy"] and float(final) == summary["final_test_accuracy"]
        assert int(epochs) == summary["epochs_completed"] == 4 and float(seconds) == summary["wall_seconds"]
        assert summary["environment"]["command"] == command  # the sweep's: its run's own settings file is gone
    scores = [float(r[3]) for r in body[:4]]
    assert scores == sorted(scores, reverse=True) and [r[2] for r in body[4:]] == ["diverged", "diverged"]
    lines = printed.splitlines()
    at = lines.index("eta      hidden  status    best test %  final test %  epochs  seconds  folder")
    assert lines[at + 1].split()[:4] == [body[0][0], body[0][1], "finished", f"{100 * scores[0]:.2f}"]
    assert lines[at + 6].split()[:3] == [body[5][0], body[5][1], "diverged"]


def test_repeats_give_the_mean_and_deviation_of_the_runs_own_summaries(tmp_path):
    out = tmp_path / "repeat"
    printed = sweep(*MOONS, "--hidden", 8, "--epochs", 3, "--grid", "eta=0.05,0.2", "--repeat", 2, "--out", out).stdout
    header, body = rows(out)
    assert header == ["eta", "status", "finished"] + [
        f"{score}_{stat}"
        for score in ("best_test_accuracy", "final_test_accuracy", "epochs", "seconds")
        for stat in ("mean", "std")
    ]
    assert len(body) == 2
    for row in body:
        summaries = [json.loads((out / f"eta={row[0]}_seed={seed}" / "summary.json").read_text()) for seed in (0, 1)]
        assert [s["seed"] for s in summaries] == [0, 1] and row[1:3] == ["finished", "2"]
        best = [s["best_test"]["accuracy"] for s in summaries]
        final = [s["final_test_accuracy"] for s in summaries]
        assert float(row[3]) == statistics.fmean(best) and float(row[4]) == statistics.stdev(best)
        assert float(row[5]) == statistics.fmean(final) and float(row[6]) == statistics.stdev(final)
        assert float(row[9]) == statistics.fmean(s["wall_seconds"] for s in summaries)
        assert f"{100 * statistics.fmean(best):.2f} ± {100 * statistics.stdev(best):.2f}" in printed
    assert float(body[0][3]) >= float(body[1][3])


def test_a_regression_sweep_reports_r2_and_mse(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (200, 2))
    data = tmp_path / "plane.csv"
    np.savetxt(data, np.c_[x, x @ [1.0, -2.0]], delimiter=",", header="a,b,y", comments="")
    out = tmp_path / "regression"
    sweep("--dataset", data, "--task", "regression", "--hidden", 8, "--epochs", 5, "--threads", 1,
          "--grid", "eta=0.001,0.05", "--out", out)  # fmt: skip
    header, body = rows(out)
    assert header == ["eta", "status", "test_r2", "test_mse", "epochs", "seconds", "folder"]
    for eta, _, r2, mse, *_ in body:
        summary = json.loads((out / f"eta={eta}" / "summary.json").read_text())
        assert (float(r2), float(mse)) == (summary["test_r2"], summary["test_mse"])
    assert float(body[0][2]) > float(body[1][2])  # sorted by R², best first


def test_a_folder_of_other_settings_is_refused_and_nothing_touched(local):
    out, *_ = local
    before = snapshot(out)
    done = subprocess.run(sweep_command(*MOONS, "--epochs", 5, *GRID, "--out", out), capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert f"{out}/eta=0.05_hidden=4 holds a run with other settings than this sweep's (epochs 4 there, 5 here)" in (
        done.stderr
    )
    assert snapshot(out) == before


def test_a_sweep_killed_half_way_skips_what_ended_and_resumes_the_interrupted_run(tmp_path):
    settings = [*RELU, "--hidden", 8, "--batch-size", 100, "--epochs", 1000, "--checkpoint-every", 100]
    settings += ["--grid", "eta=0.05,0.1,0.2"]
    out, first, second = tmp_path / "killed", tmp_path / "killed" / "eta=0.05", tmp_path / "killed" / "eta=0.1"
    process = subprocess.Popen(
        sweep_command(*settings, "--workers", 1, "--out", out),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:

        def the_second_run_has_a_checkpoint():
            return (
                any((second / "checkpoints").glob("checkpoint-*.npz")) if (first / "summary.json").exists() else False
            )

        wait_until(the_second_run_has_a_checkpoint)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the sweep and the run it was training
        process.wait()
    assert not (second / "summary.json").exists(), "the second run ended before the kill: nothing to resume"
    assert not (out / "eta=0.2").exists()
    finished = snapshot(first)
    begun = (second / "config.toml").stat().st_mtime_ns

    done = sweep(*settings, "--workers", 1, "--out", out)
    assert "1 of 3 runs already ended (finished or diverged): skipped" in done.stdout
    assert snapshot(first) == finished  # skipped: not a byte, not a time changed
    assert (second / "config.toml").stat().st_mtime_ns == begun  # resumed in its folder, not started again
    assert json.loads((second / "summary.json").read_text())["epochs_completed"] == 1000

    reference = tmp_path / "uninterrupted"
    sweep(*settings, "--workers", 2, "--out", reference)
    assert without_seconds(rows(out)) == without_seconds(rows(reference))
    for a, b in zip(
        ffnn.load(second / "model.npz").parameters(), ffnn.load(reference / "eta=0.1" / "model.npz").parameters()
    ):
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_stops_every_run_at_its_last_epoch_and_starts_no_other(tmp_path):
    out = tmp_path / "stopped"
    settings = [*MOONS, "--hidden", 8, "--epochs", 300, "--grid", "eta=0.05,0.1,0.2,0.3", "--workers", 2]
    process = subprocess.Popen(
        sweep_command(*settings, "--out", out), stdout=subprocess.PIPE, text=True, start_new_session=True
    )

    def both_runs_are_under_way():
        return all(any((out / name / "checkpoints").glob("checkpoint-*.npz")) for name in ("eta=0.05", "eta=0.1"))

    wait_until(both_runs_are_under_way)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the sweep and its runs
    printed, _ = process.communicate()
    assert process.returncode == 130
    statuses = {row[-1]: row[1] for row in rows(out)[1]}
    assert statuses == {
        "eta=0.05": "interrupted", "eta=0.1": "interrupted", "eta=0.2": "not started", "eta=0.3": "not started",
    }  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["eta=0.05", "eta=0.1", "sweep.csv"]
    assert "Stopping: the runs in progress save their last complete epoch" in printed


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """Two Dask worker processes of one thread each, started here, with a working folder and a
    TMPDIR of their own (not this test's)."""
    distributed = pytest.importorskip("dask.distributed")
    workers = tmp_path / "workers"
    (workers / "tmp").mkdir(parents=True)
    monkeypatch.chdir(workers)  # the workers' working folder: a path sent to them would land here
    options = {"dashboard_address": None, "env": {"TMPDIR": str(workers / "tmp")}}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, **options) as running:
        yield running.scheduler_address, workers


def test_a_sweep_on_a_dask_cluster_brings_its_run_folders_back(local, cluster, tmp_path):
    address, workers = cluster
    client = tmp_path / "client"
    client.mkdir()
    done = sweep(*MOONS, "--epochs", 4, *GRID, "--scheduler", address, "--out", "sweep", cwd=client)
    out = client / "sweep"
    command = shlex.join(["ffnn", "sweep", *map(str, MOONS), "--epochs", "4", *GRID, "--scheduler", address])
    for summary in out.glob("*/summary.json"):  # not a path of the worker's
        assert json.loads(summary.read_text())["environment"]["command"] == f"{command} --out sweep"
    assert without_seconds(rows(out)) == without_seconds(rows(local[0]))  # the same numbers as on this machine
    assert sorted(p.name for p in workers.iterdir()) == ["tmp"] and not any((workers / "tmp").iterdir())
    assert "[6/6]" in done.stdout

    # a run killed after its second-to-last checkpoint: its folder travels to a worker and back
    run = out / "eta=0.2_hidden=8"
    before = json.loads((run / "summary.json").read_text())
    (run / "summary.json").unlink()
    (run / "model.npz").unlink()
    max((run / "checkpoints").glob("checkpoint-*.npz")).unlink()  # epoch 3's: epoch 2's is left
    done = sweep(*MOONS, "--epochs", 4, *GRID, "--scheduler", address, "--out", "sweep", cwd=client)
    assert "5 of 6 runs already ended" in done.stdout and "[1/1] eta=0.2_hidden=8: finished" in done.stdout
    after = json.loads((run / "summary.json").read_text())
    assert after["epoch_seconds"][:3] == before["epoch_seconds"][:3]  # epochs 0 to 2 came from the checkpoint
    assert after["epoch_seconds"][3] != before["epoch_seconds"][3]  # epoch 3 was trained again, on a worker
    assert without_seconds(rows(out)) == without_seconds(rows(local[0]))
    local_run = ffnn.load(local[0] / "eta=0.2_hidden=8" / "model.npz")
    for a, b in zip(ffnn.load(run / "model.npz").parameters(), local_run.parameters()):
        np.testing.assert_array_equal(a, b)
