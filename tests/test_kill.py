"""kill -9 a training run, 20 times: the newest checkpoint always loads and resuming reproduces
the uninterrupted run's final parameters bit for bit. Half the kills land while a checkpoint is
half written: those runs go through slow_checkpoints.py, which holds the second checkpoint half
written until the process is killed."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ffnn
from blobs import write_blobs
from ffnn import checkpoint

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

FFNN = [sys.executable, "-m", "ffnn"]
PAUSE = 600  # seconds the second checkpoint stays half written under slow_checkpoints.py: until killed
SLOW_CHECKPOINTS = [sys.executable, str(Path(__file__).with_name("slow_checkpoints.py")), str(PAUSE)]


def train_args(data, out):
    settings = "--sizes 64,96,3 --cost cross_entropy --optimizer adam --eta 0.002 --schedule cosine --dropout 0.2"
    settings += " --epochs 8 --batch-size 16 --seed 3 --checkpoint-every 1 --quiet --no-plots"
    return ["train", "--dataset", str(data), "--out", str(out), *settings.split()]


def half_written(checkpoints):
    """The size in bytes of a checkpoint's temporary file; 0 while there is none."""
    for tmp in checkpoints.glob(".checkpoint-*.tmp"):
        try:
            return tmp.stat().st_size
        except FileNotFoundError:  # renamed into place between glob and stat
            pass
    return 0


def wait_for(condition, timeout=300.0):  # a safety net only
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise TimeoutError("the training process did not get there in time")
        time.sleep(0.005)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill")
    write_blobs(folder / "data.npz", 6000, 1000)
    done = subprocess.run(
        [*FFNN, *train_args(folder / "data.npz", folder / "reference")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return folder, ffnn.load(folder / "reference" / "model.npz").parameters()


@pytest.mark.parametrize("attempt", range(20))
def test_kill_9_then_resume(attempt, setup):
    folder, reference = setup
    out = folder / f"run{attempt}"
    during_write = attempt % 2 == 1
    command = SLOW_CHECKPOINTS if during_write else FFNN
    proc = subprocess.Popen(
        [*command, *train_args(folder / "data.npz", out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    checkpoints = out / "checkpoints"
    wait_for(lambda: checkpoint.latest(checkpoints) is not None or proc.poll() is not None)
    if during_write:  # kill while the next checkpoint's temporary file is half written
        wait_for(lambda: half_written(checkpoints) > 0 or proc.poll() is not None)
    else:  # kill at a random moment of the epochs that follow
        time.sleep(np.random.default_rng(attempt).uniform(0.0, 0.6))
    proc.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate()

    newest = checkpoint.latest(checkpoints)
    if during_write:  # the kill landed in the window: the process died with half a file on disk
        assert proc.returncode == -signal.SIGKILL, stderr.decode()
        assert 0 < half_written(checkpoints) < newest.stat().st_size
    state = checkpoint.load(newest)  # loads, whatever the moment of the kill
    assert state["epoch"] >= 0

    done = subprocess.run([sys.executable, "-m", "ffnn", "train", "--resume", str(out), "--quiet", "--no-plots"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for p, q in zip(reference, ffnn.load(out / "model.npz").parameters()):
        np.testing.assert_array_equal(p, q)
