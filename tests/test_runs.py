"""Run folders read back (issue 22 for ffnn sweep, issue 24 for ffnn runs): one reader, every
status — finished, interrupted, diverged, running, damaged — and never a traceback."""

import json
import os
import signal

import pytest

from ffnn import run, runs
from ffnn.callbacks import Callback
from ffnn.callbacks.metrics_log import read_metrics
from ffnn.errors import RunFolderError, TrainingDivergedError

MOONS = {"dataset": "moons", "hidden": "8", "activation": "relu", "output_activation": "identity", "eta": 0.2}


class CtrlCAt(Callback):
    """Ctrl-C, as a terminal sends it, during the first batch of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, network, epoch, batch):
        if (epoch, batch) == (self.epoch, 0):
            os.kill(os.getpid(), signal.SIGINT)
        return False


@pytest.fixture
def finished(tmp_path):
    folder = tmp_path / "finished"
    run.train({**MOONS, "epochs": 4, "validation": 100}, folder, quiet=True)
    return folder


def test_a_finished_run_is_read_from_its_summary(finished):
    found = runs.read(finished)
    summary = json.loads((finished / "summary.json").read_text())
    assert found.status == "finished" and found.problem == ""
    assert found.epochs == 4 and found.config.eta == 0.2 and found.config.sizes == (2, 8, 2)
    assert found.final_test_accuracy == summary["final_test_accuracy"]
    assert (found.best_test_accuracy, found.best_test_epoch) == tuple(summary["best_test"].values())
    assert (found.best_validation_accuracy, found.best_validation_epoch) == tuple(summary["best_validation"].values())
    assert found.final_validation_accuracy == summary["final_validation_accuracy"]
    assert found.seconds == summary["wall_seconds"] and found.ffnn_version == summary["ffnn_version"]
    assert found.test_mse is None and not found.regression


def test_a_run_stopped_by_ctrl_c_is_interrupted_with_the_epochs_it_completed(tmp_path):
    folder = tmp_path / "stopped"
    run.train({**MOONS, "epochs": 10}, folder, quiet=True, callbacks=[CtrlCAt(3)])
    found = runs.read(folder)
    metrics = read_metrics(folder / "metrics.csv")
    assert json.loads((folder / "summary.json").read_text())["interrupted"] is True
    assert found.status == "interrupted" and found.epochs == 3
    assert found.final_test_accuracy == metrics["test_accuracy"][-1]
    assert found.best_test_accuracy == max(metrics["test_accuracy"])


def test_a_killed_run_reads_as_interrupted_from_its_metrics(finished):
    """Killed between its last checkpoint and its summary: no summary.json, no process holding it."""
    (finished / "summary.json").unlink()
    (finished / "model.npz").unlink()
    found = runs.read(finished)
    metrics = read_metrics(finished / "metrics.csv")
    assert found.status == "interrupted" and found.epochs == 4
    assert found.final_test_accuracy == metrics["test_accuracy"][-1]
    assert found.seconds == sum(metrics["seconds"])


def test_a_diverged_run_is_read_from_its_last_good_model(tmp_path):
    folder = tmp_path / "diverged"
    with pytest.raises(TrainingDivergedError):
        run.train({**MOONS, "eta": 1e6, "epochs": 3}, folder, quiet=True)
    found = runs.read(folder)
    assert found.status == "diverged" and found.epochs == 0 and found.best_test_accuracy is None


class StatusSeen(Callback):
    """What the reader says of the run's folder while it trains (at each epoch's end)."""

    def __init__(self, folder):
        self.folder, self.seen = folder, []

    def on_epoch_end(self, network, history):
        self.seen.append(runs.read(self.folder).status)
        return False


def test_ffnn_train_and_resume_hold_the_folder_while_they_train(tmp_path):
    folder = tmp_path / "run"
    seen = StatusSeen(folder)
    run.train({**MOONS, "epochs": 4, "checkpoint_every": 1}, folder, quiet=True, callbacks=[CtrlCAt(2), seen])
    assert seen.seen == ["running", "running"] and runs.read(folder).status == "interrupted"
    seen.seen.clear()
    run.resume(folder, quiet=True, callbacks=[seen])
    assert seen.seen == ["running", "running"] and runs.read(folder).status == "finished"


def test_a_run_being_trained_is_running_and_cannot_be_trained_twice(finished):
    with runs.training(finished):
        assert runs.is_running(finished) and runs.read(finished).status == "running"
        with pytest.raises(RunFolderError, match="is being trained by another process"), runs.training(finished):
            pass
    assert not runs.is_running(finished) and runs.read(finished).status == "finished"


@pytest.mark.parametrize(
    ("file", "content", "problem"),
    [
        ("summary.json", b'{"interrupted": false, "epo', "summary.json: not a summary written by ffnn train"),
        ("summary.json", b"[1, 2]", "summary.json: not a summary written by ffnn train (a JSON list)"),
        ("summary.json", b'{"interrupted": false, "final_test_accuracy": "high"}', "final_test_accuracy is not a"),
        ("summary.json", b'{"interrupted": false, "best_test": 3}', "best_test is not a table (3)"),
        ("config.toml", b"eta = = 3", "config.toml: not valid TOML"),
        ("config.toml", b"eta = -3.0", "eta in"),
    ],
)
def test_a_damaged_file_makes_the_run_damaged_never_a_traceback(finished, file, content, problem):
    (finished / file).write_bytes(content)
    found = runs.read(finished)
    assert found.status == "damaged" and problem in found.problem and "\n" not in found.problem


def test_damaged_metrics_or_model_of_a_run_that_did_not_finish(finished):
    (finished / "summary.json").unlink()
    (finished / "model.npz").write_bytes(b"not a zip")
    assert runs.read(finished).status == "damaged"
    (finished / "model.npz").unlink()
    (finished / "metrics.csv").write_text("epoch,test_accuracy\n0,high\n")
    found = runs.read(finished)
    assert found.status == "damaged" and "metrics.csv: not a metrics file" in found.problem


def test_a_folder_without_config_is_no_run(tmp_path):
    found = runs.read(tmp_path)
    assert found.status == "damaged" and "not a run folder (no config.toml)" in found.problem and found.config is None


def test_a_run_that_diverged_keeps_the_epochs_before_it_in_its_metrics(tmp_path):
    """η grows by 1e60 over the run: the cost becomes NaN in epoch 19. The 19 epochs before it are
    written to metrics.csv when the run stops (not only every 2 s), so they are listed."""
    settings = {
        "dataset": "moons", "sizes": [2, 8, 2], "optimizer": "momentum", "eta": 0.5, "schedule": "exponential",
        "exponential_final": 1e60, "epochs": 30, "validation": 0,
    }  # fmt: skip
    with pytest.raises(TrainingDivergedError, match="diverged in epoch 19"):
        run.train(settings, tmp_path / "R", quiet=True)
    assert read_metrics(tmp_path / "R" / "metrics.csv")["epoch"] == list(range(19))
    found = runs.read(tmp_path / "R")
    assert (found.status, found.epochs) == ("diverged", 19)
