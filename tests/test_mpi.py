"""Data-parallel training over MPI (ffnn.distributed), run by the mpiexec of the `mpi` extra's MPICH.

Two ranks against one process with the same global batch: the Python API on toy cases (plain SGD
with L2, dropout with augmentation, Adam with sample weights; uneven and empty slices) and the
command on a short MNIST run: equal weights up to rounding, rank 0 alone writes, a dead rank
ends the job, and a killed or interrupted job resumes exactly."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ffnn
import mpi_fit  # the cases, shared with the ranks (tests/ is on the path, as for conftest)
from blobs import write_blobs
from ffnn import checkpoint, cli
from ffnn.cli import main

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

pytest.importorskip("mpi4py", reason="the mpi extra (mpi4py, mpich) is not installed")
HERE = Path(__file__).parent
MPIEXEC = str(Path(sys.executable).with_name("mpiexec"))  # the mpich wheel's, beside the interpreter
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}
# the ranks import the ffnn under test, whatever their working folder
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(Path(ffnn.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]),
}


def mpiexec(k, *args, cwd):
    return subprocess.run([MPIEXEC, "-n", str(k), sys.executable, *map(str, args)], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def start(k, *args, cwd):
    """An mpiexec job in its own process group (to kill all of it), its output in cwd/job.out."""
    with open(Path(cwd) / "job.out", "w") as out:  # the job keeps its own copy of the descriptor
        return subprocess.Popen([MPIEXEC, "-n", str(k), sys.executable, *map(str, args)], cwd=cwd, env=ENV,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def wait_for(condition, timeout=60.0):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "the job did not get there in time"
        time.sleep(0.01)


def rank_pids(root):
    """{rank: pid} of the MPI ranks below the process ``root`` (Linux: /proc)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            try:
                environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            found.update({int(v[9:]): child for v in environ if v.startswith(b"PMI_RANK=")})
    return found


# -- the Python API: fit(comm=) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit")
    done = mpiexec(2, HERE / "mpi_fit.py", out, cwd=out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""  # fit prints nothing unless asked
    return [np.load(out / f"rank-{r}.npz") for r in range(2)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(mpi_fit.CASES))
def test_two_ranks_train_as_one_process_with_the_same_global_batch(two_ranks, case, dtype):
    net, history = mpi_fit.train(case, dtype)
    params = net.parameters()
    for r, ranked in enumerate(two_ranks):
        got = [ranked[f"{case}/{dtype}/{i}"] for i in range(len(params))]
        if r:  # every rank ends with rank 0's parameters, bit for bit
            for p, q in zip(got, [two_ranks[0][f"{case}/{dtype}/{i}"] for i in range(len(params))]):
                np.testing.assert_array_equal(p, q)
        assert max(float(np.abs(p - q).max()) for p, q in zip(got, params)) <= TOLERANCE[dtype]
        assert got[0].dtype == dtype
        np.testing.assert_allclose(ranked[f"{case}/{dtype}/cost"], history.train_cost, rtol=10 * TOLERANCE[dtype])
    assert not np.allclose(params[0], ffnn.Network([8, 16, 3], seed=1, dtype=dtype).weights[0], atol=1e-2)  # it trained


def test_without_a_launcher_training_never_imports_mpi4py(tmp_path):
    code = (
        "import sys, numpy as np, ffnn\n"
        "X = np.random.default_rng(0).standard_normal((40, 3)); y = (X[:, 0] > 0).astype(int)\n"
        "ffnn.fit(ffnn.Network([3, 4, 2]), X, y, epochs=1, batch_size=8, eta=0.1)\n"
        "print(ffnn.distributed.launched(), 'mpi4py' in sys.modules)"
    )
    clean = {k: v for k, v in ENV.items() if k not in ("PMI_RANK", "PMI_SIZE")}
    done = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[0] == "(0, 1) False"


def test_a_rank_that_fails_ends_the_job_with_its_error(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(
        "import numpy as np, ffnn\nfrom mpi4py import MPI\n"
        "class Fail(ffnn.Callback):\n"
        "    def on_batch_end(self, network, epoch, batch):\n"
        "        if MPI.COMM_WORLD.rank == 1 and batch == 3:\n            raise RuntimeError('disk on fire')\n"
        "        return False\n"
        "X = np.random.default_rng(0).standard_normal((400, 4)); y = (X[:, 0] > 0).astype(int)\n"
        "ffnn.fit(ffnn.Network([4, 8, 2]), X, y, epochs=1000, batch_size=10, eta=0.1, callbacks=[Fail()],"
        " comm=MPI.COMM_WORLD)\n"
    )
    started = time.time()
    done = mpiexec(2, script, cwd=tmp_path)
    assert time.time() - started < 20
    assert done.returncode != 0
    assert "ffnn: rank 1 of 2 stopped (RuntimeError: disk on fire); ending the whole job." in done.stderr


# -- the command: mpiexec -n 2 ffnn train -------------------------------------------------------


def mnist_args(out, dtype):
    settings = (
        "--dataset mnist --sizes 784,30,10 --cost cross_entropy --epochs 2 --batch-size 25 --batches-per-epoch 30"
    )
    return [
        "train",
        *settings.split(),
        "--eta",
        "0.5",
        "--lmbda",
        "1.0",
        "--dtype",
        dtype,
        "--seed",
        "7",
        "--out",
        str(out),
    ]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mpiexec_ffnn_train_equals_one_process_and_only_rank_0_writes(tmp_path, dtype, capsys):
    assert main([*mnist_args(tmp_path / "one", dtype), "--quiet", "--no-plots"]) == 0
    log = tmp_path / "writes"
    done = mpiexec(2, HERE / "mpi_cli.py", log, *mnist_args(tmp_path / "two", dtype), "--no-plots", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr

    one, two = (ffnn.load(tmp_path / name / "model.npz") for name in ("one", "two"))
    assert max(float(np.abs(p - q).max()) for p, q in zip(one.parameters(), two.parameters())) <= TOLERANCE[dtype]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["epochs_completed"] == 2 and summary["final_test_accuracy"] > 0.4  # chance: 0.1
    # rank 0 printed the table and the result once; rank 1 wrote and printed nothing
    assert done.stdout.count("train cost") == 1 and done.stdout.count("Final test accuracy") == 1
    assert (log.with_suffix(".1").read_text()) == ""
    written = log.with_suffix(".0").read_text().split("\n")
    assert any(w.endswith("model.npz") for w in written) and any("checkpoint-" in w for w in written)


# -- stopping: a dead rank, Ctrl-C, kill -9 of the job, and resuming ------------------------------


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A toy data file and the uninterrupted 2-rank run the stopped runs must come back to."""
    folder = tmp_path_factory.mktemp("toy")
    write_blobs(folder / "data.npz", 3000, 500)
    done = mpiexec(2, "-m", "ffnn", *toy_args(folder, folder / "reference"), cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder, ffnn.load(folder / "reference" / "model.npz").parameters()


def toy_args(folder, out, epochs=6):
    settings = f"--sizes 64,64,3 --cost cross_entropy --optimizer adam --eta 0.002 --dropout 0.2 --epochs {epochs}"
    settings += " --batch-size 16 --seed 3 --checkpoint-every 1 --quiet --no-plots"
    return ["train", "--dataset", str(folder / "data.npz"), "--out", str(out), *settings.split()]


def resume_and_compare(folder, out, reference):
    done = mpiexec(2, "-m", "ffnn", "train", "--resume", out, "--quiet", "--no-plots", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    for p, q in zip(reference, ffnn.load(out / "model.npz").parameters()):
        np.testing.assert_array_equal(p, q)


def test_a_killed_rank_ends_the_job_within_seconds(toy):
    folder, _ = toy
    job = start(2, "-m", "ffnn", *toy_args(folder, folder / "rank-killed", epochs=1000), cwd=folder)
    wait_for(lambda: checkpoint.latest(folder / "rank-killed" / "checkpoints") is not None)
    os.kill(rank_pids(job.pid)[1], signal.SIGKILL)
    killed = time.time()
    job.wait(timeout=30)
    assert time.time() - killed < 10
    assert job.returncode != 0
    output = (folder / "job.out").read_text()
    assert "BAD TERMINATION" in output and "Killed (signal 9)" in output


@pytest.mark.parametrize("how", ["kill -9 of the job", "Ctrl-C"])
def test_a_stopped_job_resumes_exactly(toy, how):
    folder, reference = toy
    out = folder / how.split()[0]
    job = start(2, "-m", "ffnn", *toy_args(folder, out), cwd=folder)
    wait_for(lambda: checkpoint.latest(out / "checkpoints") is not None)
    if how == "Ctrl-C":  # mpiexec passes it to every rank: they stop at the same batch, rank 0 saves
        job.send_signal(signal.SIGINT)
        assert job.wait(timeout=30) == 130
        assert (folder / "job.out").read_text().count("Interrupted: saved the model of epoch") == 1
    else:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=30)
    assert checkpoint.load(checkpoint.latest(out / "checkpoints"))["epoch"] < 5
    resume_and_compare(folder, out, reference)


def test_a_job_ended_by_one_rank_exits_as_the_command_line_would():
    """The status MPI_Abort ends the job with: 130 for Ctrl-C, 2 for the user's files, data or
    settings, 70 for a bug — never 1, which means "training diverged"."""
    from ffnn.distributed import abort_status
    from ffnn.errors import DataFormatError

    assert abort_status(KeyboardInterrupt()) == 130
    assert abort_status(OSError(28, "No space left on device")) == 2
    assert abort_status(DataFormatError("bad labels")) == 2
    assert abort_status(ZeroDivisionError()) == 70
    assert (cli.EXIT_INTERRUPTED, cli.EXIT_USAGE, cli.EXIT_BUG) == (130, 2, 70)  # the command line's own
