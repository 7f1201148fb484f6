"""Run folders (issue 12): one run per folder, resume only what belongs to it, nothing lost and
nothing left behind; checkpoints by time; Ctrl-C always exits 130."""

import hashlib
import json
import os
import re
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest

import ffnn
from ffnn import checkpoint, run
from ffnn.callbacks import Callback
from ffnn.config import configure
from ffnn.errors import RunFolderError
from ffnn.evaluate import evaluate

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

XOR = ["--dataset", "xor", "--sizes", "2,4,2", "--cost", "cross_entropy", "--batch-size", "4", "--eta", "2.0"]


def ffnn_cmd(*args, env=None):
    command = [sys.executable, "-m", "ffnn", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def snapshot(folder):
    """Every file under ``folder`` with the SHA-256 of its bytes: to show that nothing changed."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_same_parameters(a_path, b_path):
    a, b = ffnn.load(a_path), ffnn.load(b_path)
    assert a.sizes == b.sizes
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q)


def settings(**flags):
    values = {"dataset": "xor", "sizes": [2, 4, 2], "cost": "cross_entropy", "batch_size": 4, "eta": 2.0}
    return configure(None, None, {**values, **flags})


class StopAfter(Callback):
    """Stops training normally after epoch ``epoch`` (as early stopping would)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, network, history):
        return history.epoch[-1] == self.epoch


def test_a_second_run_into_a_used_folder_is_refused_and_the_folder_untouched(tmp_path):
    out = tmp_path / "R"
    assert ffnn_cmd("train", *XOR, "--epochs", 6, "--seed", 1, "--out", out, "--quiet").returncode == 0
    before = snapshot(out)
    done = ffnn_cmd("train", *XOR, "--epochs", 3, "--seed", 2, "--out", out, "--quiet")
    assert done.returncode == 2
    assert done.stderr.startswith(f"ffnn: error: {out} is not empty (checkpoints, config.toml, ")
    assert f"ffnn train --resume {out}, replace it with --overwrite, or choose another --out" in done.stderr
    assert snapshot(out) == before


def test_overwrite_empties_a_run_folder_first(tmp_path):
    out = tmp_path / "R"
    assert ffnn_cmd("train", *XOR, "--epochs", 6, "--seed", 1, "--out", out, "--quiet").returncode == 0
    assert (out / "learning_curves.png").is_file() and (out / "checkpoints" / "checkpoint-00005.npz").is_file()
    done = ffnn_cmd("train", *XOR, "--epochs", 3, "--seed", 2, "--out", out, "--quiet", "--no-plots", "--overwrite")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "config.toml", "metrics.csv", "model.npz",
                                                     "summary.json"]  # fmt: skip
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-00002.npz"]
    assert json.loads((out / "summary.json").read_text())["epochs_completed"] == 3
    assert "epochs = 3\n" in (out / "config.toml").read_text()


def test_overwrite_never_empties_a_folder_that_is_not_a_run_folder(tmp_path):
    (tmp_path / "thesis.tex").write_text("three years of work")
    done = ffnn_cmd("train", *XOR, "--epochs", 2, "--out", tmp_path, "--quiet", "--overwrite")
    assert done.returncode == 2
    assert f"{tmp_path} is not a run folder (no config.toml), so --overwrite will not empty it" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_a_failed_start_leaves_nothing_behind(tmp_path):
    """Labels that do not fit the output layer: refused before any file is written."""
    data = tmp_path / "data.csv"
    data.write_text("0.1,0.2,0\n0.3,0.4,1\n0.5,0.6,2\n0.7,0.8,1\n")
    new, empty = tmp_path / "new", tmp_path / "empty"
    empty.mkdir()
    for out in (new, empty):
        done = ffnn_cmd("train", "--dataset", data, "--sizes", "2,3,2", "--epochs", 2, "--out", out, "--quiet")
        assert done.returncode == 2
        assert "class labels must lie in [0, 2)" in done.stderr
    assert not new.exists() and list(empty.iterdir()) == []


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    run.train(settings(epochs=6, seed=1), one, quiet=True, callbacks=[StopAfter(2)])
    run.train(settings(epochs=6, seed=2), two, quiet=True, callbacks=[StopAfter(3)])
    (two / "checkpoints" / "checkpoint-00003.npz").replace(one / "checkpoints" / "checkpoint-00003.npz")
    before = snapshot(one)
    done = ffnn_cmd("train", "--resume", one, "--quiet")
    assert done.returncode == 2
    assert "checkpoint-00003.npz belongs to another run: it was written with settings other than those of " in (
        done.stderr
    )
    assert snapshot(one) == before


def test_resuming_a_complete_run_writes_its_result_again_and_trains_nothing(tmp_path):
    out = tmp_path / "R"
    assert ffnn_cmd("train", *XOR, "--epochs", 3, "--out", out, "--quiet", "--no-plots").returncode == 0
    trained = ffnn.load(out / "model.npz").parameters()
    (out / "model.npz").unlink()  # as if killed after its last checkpoint, before its model
    done = ffnn_cmd("train", "--resume", out, "--no-plots")
    assert done.returncode == 0, done.stderr
    assert (
        f"The run in {out} is complete; writing its model and summary again from checkpoint-00002.npz." in done.stdout
    )
    assert not any(re.match(r" *\d+ +\d", line) for line in done.stdout.splitlines())  # no epoch row: none trained
    for a, b in zip(trained, ffnn.load(out / "model.npz").parameters()):
        np.testing.assert_array_equal(a, b)


def test_resume_refuses_a_checkpoint_of_an_epoch_outside_the_run(tmp_path):
    out = tmp_path / "R"
    assert ffnn_cmd("train", *XOR, "--epochs", 3, "--out", out, "--quiet", "--no-plots").returncode == 0
    path = out / "checkpoints" / "checkpoint-00002.npz"
    checkpoint.save(path, {**checkpoint.load(path), "epoch": 10**6})
    before = snapshot(out)
    done = ffnn_cmd("train", "--resume", out, "--quiet")
    assert done.returncode == 2
    assert done.stderr.startswith(f"ffnn: error: {path}") and "epoch 1000000" in done.stderr
    assert snapshot(out) == before


def test_a_damaged_newest_checkpoint_gives_way_to_the_one_before(tmp_path):
    """Resuming from the older checkpoint still reproduces the uninterrupted run bit for bit, and
    temporary files that a kill left behind are cleared."""
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run.train(settings(epochs=6, checkpoint_every=1, keep_checkpoints=3), whole, quiet=True)
    run.train(settings(epochs=6, checkpoint_every=1, keep_checkpoints=3), cut, quiet=True, callbacks=[StopAfter(3)])
    newest = cut / "checkpoints" / "checkpoint-00003.npz"
    newest.write_bytes(newest.read_bytes()[:200])  # a crash in the middle of the write
    (cut / "checkpoints" / ".checkpoint-00004.npz.a1b2.tmp").write_bytes(b"half")
    (cut / ".model.npz.c3d4.tmp").write_bytes(b"half")
    done = ffnn_cmd("train", "--resume", cut, "--quiet", "--no-plots")
    assert done.returncode == 0, done.stderr
    assert f"ffnn: warning: {newest}: not a readable ffnn checkpoint" in done.stderr
    assert "Resuming from an earlier checkpoint, checkpoint-00002.npz." in done.stderr
    assert not list(cut.glob(".*.tmp")) and not list((cut / "checkpoints").glob(".*.tmp"))
    assert_same_parameters(whole / "model.npz", cut / "model.npz")


def test_checkpoints_by_time_write_at_the_end_and_on_ctrl_c(tmp_path):
    """By default a checkpoint is written when 60 s have passed — and always at the end and when
    Ctrl-C stops a run, from the state kept after the last complete epoch: resuming that is exact."""
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run.train(settings(epochs=8, optimizer="adam", eta=0.01), whole, quiet=True)
    assert [p.name for p in (whole / "checkpoints").iterdir()] == ["checkpoint-00007.npz"]

    class CtrlC(Callback):  # Ctrl-C in the middle of epoch 4
        def on_batch_end(self, network, epoch, batch):
            if epoch == 4:
                os.kill(os.getpid(), signal.SIGINT)
            return False

    result = run.train(settings(epochs=8, optimizer="adam", eta=0.01), cut, quiet=True, callbacks=[CtrlC()])
    assert result.interrupted and result.history.epoch == [0, 1, 2, 3]
    assert checkpoint.latest(cut / "checkpoints").name == "checkpoint-00003.npz"
    assert ffnn_cmd("train", "--resume", cut, "--quiet", "--no-plots").returncode == 0
    assert_same_parameters(whole / "model.npz", cut / "model.npz")


def test_ctrl_c_between_two_epochs_is_an_interruption_too(tmp_path):
    class CtrlCAtEpochEnd(Callback):
        def on_epoch_end(self, network, history):
            if history.epoch[-1] == 1:
                os.kill(os.getpid(), signal.SIGINT)
            return False

    result = run.train(settings(epochs=8), tmp_path / "R", quiet=True, callbacks=[CtrlCAtEpochEnd()])
    assert result.interrupted and result.history.epoch == [0, 1]
    assert json.loads((tmp_path / "R" / "summary.json").read_text())["interrupted"] is True


def test_figures_that_cannot_be_written_do_not_fail_a_saved_run(tmp_path):
    code = (
        "import sys, ffnn.plotting as plotting, ffnn.cli as cli\n"
        "def full(*args, **kwargs): raise OSError(28, 'No space left on device')\n"
        "plotting.plot_run = full\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    out = tmp_path / "R"
    done = subprocess.run(
        [sys.executable, "-c", code, "train", *XOR, "--epochs", "2", "--out", str(out), "--quiet"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        "ffnn: warning: figures not drawn ([Errno 28] No space left on device); the model and summary are saved."
        in (done.stderr)
    )
    assert (out / "model.npz").is_file() and (out / "summary.json").is_file()


def test_evaluate_takes_a_run_folder(tmp_path):
    out = tmp_path / "R"
    assert ffnn_cmd("train", *XOR, "--epochs", 3, "--out", out, "--quiet", "--no-plots").returncode == 0
    by_folder, by_file = ffnn_cmd("evaluate", out), ffnn_cmd("evaluate", out / "model.npz")
    assert by_folder.returncode == 0 and by_folder.stdout.splitlines()[1:] == by_file.stdout.splitlines()[1:]


def test_data_info_of_a_missing_set_is_a_usage_error(tmp_path):
    done = ffnn_cmd("data", "info", "mnist", "--path", tmp_path)
    assert done.returncode == 2
    assert "train-images-idx3-ubyte is missing; fetch the data set with: ffnn data fetch mnist" in done.stderr


def test_the_run_layer_checks_what_python_callers_give_it(tmp_path):
    with pytest.raises(ffnn.SettingError, match=r"^epochs must be an integer >= 1; got 0\.$"):
        run.train({"dataset": "xor", "sizes": [2, 2], "epochs": 0}, tmp_path / "unused")
    assert not (tmp_path / "unused").exists()
    result = run.train({"dataset": "xor", "sizes": [2, 3, 2], "epochs": 2}, tmp_path / "R", quiet=True)
    assert result.summary["epochs_completed"] == 2  # the rest from the defaults
    with pytest.raises(
        ffnn.ParameterError, match=r"The 'split' parameter must be one of \['test', 'train', 'validation'\]"
    ):
        evaluate(tmp_path / "R", split="val")


def test_run_folder_error_is_an_ffnn_error():
    assert issubclass(RunFolderError, ffnn.FFNNError)


def test_a_full_disk_names_the_file_that_could_not_be_written(tmp_path):
    """A file-size limit (what a full disk or a quota does to a write): the one line names the file."""

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, 16_000))

    out = tmp_path / "R"
    done = subprocess.run(
        [sys.executable, "-m", "ffnn", "train", *XOR, "--sizes", "2,2000,2", "--epochs", "2", "--out", str(out),
         "--quiet", "--no-plots"],
        capture_output=True, text=True, preexec_fn=limit,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert re.fullmatch(rf"ffnn: error: \[Errno 27\] cannot write {re.escape(str(out))}/\S+\.npz: File too large\n",
                        done.stderr), done.stderr  # fmt: skip


def test_a_run_that_early_stopping_ended_is_complete_and_resumes_to_the_same_result(tmp_path):
    out = tmp_path / "R"
    base = ["--dataset", "moons", "--sizes", "2,4,2", "--cost", "cross_entropy", "--eta", "1e-9", "--epochs", 40]
    done = ffnn_cmd("train", *base, "--validation", 100, "--patience", 2, "--out", out, "--quiet", "--no-plots")
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_completed"] == 3  # η too small to change a prediction: stopped after 2 more epochs
    trained = ffnn.load(out / "model.npz").parameters()
    (out / "model.npz").unlink()
    done = ffnn_cmd("train", "--resume", out, "--no-plots")
    assert done.returncode == 0, done.stderr
    assert "is complete; writing its model and summary again" in done.stdout
    assert json.loads((out / "summary.json").read_text())["epochs_completed"] == 3  # not one epoch more
    again = ffnn.load(out / "model.npz").parameters()
    assert len(again) == len(trained)
    for a, b in zip(trained, again):
        np.testing.assert_array_equal(a, b)


class CtrlCAtEpochEnd(Callback):
    """Sends this process Ctrl-C while epoch ``epoch`` ends, before the run's own Ctrl-C watcher
    looks: the stop falls between two epochs, not inside a batch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, network, history):
        if history.epoch[-1] == self.epoch:
            signal.raise_signal(signal.SIGINT)
        return False


def test_ctrl_c_between_two_epochs_leaves_a_run_to_resume_not_a_finished_one(tmp_path):
    """The stop at an epoch's end is still Ctrl-C: its checkpoint is not marked finished, so
    --resume trains the epochs left, to the same model as a run never stopped."""
    whole = run.train(settings(epochs=4, checkpoint_every=1), tmp_path / "whole", quiet=True)
    stopped = run.train(
        settings(epochs=4, checkpoint_every=1), tmp_path / "R", quiet=True, callbacks=[CtrlCAtEpochEnd(1)]
    )
    assert stopped.interrupted and stopped.history.epoch == [0, 1]
    newest = checkpoint.load(checkpoint.latest(tmp_path / "R" / "checkpoints"))
    assert newest["epoch"] == 1 and newest.get("finished") is not True
    again = run.resume(tmp_path / "R", quiet=True)
    assert again.history.epoch == [0, 1, 2, 3]
    for a, b in zip(again.network.parameters(), whole.network.parameters()):
        np.testing.assert_array_equal(a, b)
