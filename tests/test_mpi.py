"""Data-parallel training over MPI (ffnn.distributed), run by the mpiexec of the `mpi` extra's MPICH.

Two ranks against one process with the same global batch: the Python API on toy cases (plain SGD
with L2, dropout with augmentation, Adam with sample weights; uneven and empty slices) and the
command on a short MNIST run: equal weights up to rounding, rank 0 alone writes, a dead rank
ends the job, and a killed or interrupted job resumes exactly. Ranks that cannot start together
— one's settings, data or flags fail, or they differ — end at once with one message, and a
stopped rank is ended by the others' watchdog. No test waits on a clock: a job that hangs fails
its test after SAFETY seconds."""

import json
import os
import pty
import re
import select
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
from ffnn.data import mnist

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

pytest.importorskip("mpi4py", reason="the mpi extra (mpi4py, mpich) is not installed")
HERE = Path(__file__).parent
MPIEXEC = str(Path(sys.executable).with_name("mpiexec"))  # the mpich wheel's, beside the interpreter
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}
SAFETY = 120  # seconds: a job that has not ended by then hangs (the test fails); nothing waits on a clock
# the ranks import the ffnn under test, whatever their working folder
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(Path(ffnn.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]),
}


def mpiexec(k, *args, cwd):
    return subprocess.run([MPIEXEC, "-n", str(k), sys.executable, *map(str, args)], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=SAFETY)  # fmt: skip


def mpmd(*ranks, cwd, envs=None):
    """One job whose rank r runs ``ffnn *ranks[r]`` (``mpiexec -n 1 … : -n 1 …``) with the
    variables ``envs[r]``, each line of a rank's output labelled ``[r]`` by hydra."""
    command = [MPIEXEC, "-prepend-rank"]
    for r, args in enumerate(ranks):
        env = [x for name, value in (envs[r] if envs else {}).items() for x in ("-env", name, str(value))]
        command += [*([":"] if r else []), "-n", "1", *env, sys.executable, "-m", "ffnn", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=SAFETY)


def lines(done):
    """The job's output, stdout then stderr, as its non-blank lines. (hydra labels each write: the
    newline that print writes apart from its text gets a label of its own at the end of the line.)"""
    return [re.sub(r"\[\d+\] $", "", line) for line in (done.stdout + done.stderr).splitlines() if line.strip()]


def start(k, *args, cwd):
    """An mpiexec job in its own process group (to kill all of it), its output in cwd/job.out."""
    with open(Path(cwd) / "job.out", "w") as out:  # the job keeps its own copy of the descriptor
        return subprocess.Popen([MPIEXEC, "-n", str(k), sys.executable, *map(str, args)], cwd=cwd, env=ENV,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def wait_for(condition, timeout=SAFETY):
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
    done = mpiexec(2, script, cwd=tmp_path)  # ends, or fails the test after SAFETY seconds
    assert done.returncode == 70  # ffnn's bug, as the command line would say: a RuntimeError
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


def test_a_killed_rank_ends_the_job(toy):
    folder, _ = toy
    job = start(2, "-m", "ffnn", *toy_args(folder, folder / "rank-killed", epochs=1000), cwd=folder)
    try:
        wait_for(lambda: checkpoint.latest(folder / "rank-killed" / "checkpoints") is not None)
        os.kill(rank_pids(job.pid)[1], signal.SIGKILL)
        assert job.wait(timeout=SAFETY) == 9  # hydra ends the job with the killed rank's signal
    finally:
        end(job)
    output = (folder / "job.out").read_text()
    assert "BAD TERMINATION" in output and "Killed (signal 9)" in output


def end(job):
    """Kill what is left of a job that a failing test leaves running."""
    if job.poll() is None:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()


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


def test_a_run_trained_on_to_more_epochs_by_the_job_is_the_longer_run_and_a_write_rank_0_fails_ends_it(toy):
    """``--resume RUN --epochs N`` under mpiexec: rank 0 alone makes the folder the longer run's,
    and when it cannot (here summary.json is a folder, which it cannot remove) every rank ends
    with its message at once — rank 1 does not wait for an epoch that never starts. Once it can,
    the job gives the 6-epoch run of the fixture, to the bit."""
    folder, reference = toy
    out = folder / "extended"
    assert mpiexec(2, "-m", "ffnn", *toy_args(folder, out, epochs=3), cwd=folder).returncode == 0
    (out / "summary.json").unlink()
    (out / "summary.json").mkdir()
    (out / "summary.json" / "in-the-way").touch()
    extend = ["-m", "ffnn", "train", "--resume", out, "--epochs", "6", "--quiet", "--no-plots"]
    done = mpiexec(2, *extend, cwd=folder)
    assert done.returncode == 2
    [line] = lines(done)
    assert line.startswith("ffnn: error: ") and "summary.json" in line
    (out / "summary.json" / "in-the-way").unlink()
    (out / "summary.json").rmdir()
    done = mpiexec(2, *extend, cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    for p, q in zip(reference, ffnn.load(out / "model.npz").parameters(), strict=True):
        np.testing.assert_array_equal(p, q)


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


# -- starting together: a rank that cannot start, ranks that differ, a rank that stalls ----------

TINY = "--sizes 64,8,3 --epochs 2 --batch-size 16 --seed 3 --quiet --no-plots"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small data file, another of the same shapes, and a CSV one of whose rows lacks a field."""
    folder = tmp_path_factory.mktemp("tiny")
    write_blobs(folder / "data.npz", 600, 100)
    with np.load(folder / "data.npz") as arrays:
        other = {name: a for name, a in arrays.items()}
    other["X"] = other["X"][::-1].copy()  # the same shapes, other rows
    np.savez(folder / "other.npz", **other)
    rows = [",".join(f"{v:.3f}" for v in x) + f",{y}" for x, y in zip(other["X"][:50], other["y"][:50])]
    rows[20] = rows[20].rsplit(",", 2)[0]  # two fields short
    (folder / "ragged.csv").write_text("\n".join(rows) + "\n")
    return folder


def tiny_args(folder, dataset, out, *more):
    return ["train", "--dataset", folder / dataset, "--out", out, *TINY.split(), *more]


def said_by_one_process(*args):
    """The error line that ``ffnn train *args`` prints without MPI, and its exit status."""
    done = subprocess.run([sys.executable, "-m", "ffnn", *map(str, args)], env=ENV, capture_output=True, text=True,
                          timeout=SAFETY)  # fmt: skip
    return done.stderr.strip(), done.returncode


@pytest.mark.parametrize(
    "case",
    ["no data file on rank 1", "no data file on rank 0", "a ragged CSV on rank 1", "a bad value on rank 1",
     "a bad flag on rank 0"],
)  # fmt: skip
def test_a_rank_that_cannot_start_ends_the_job_at_once_saying_so_once(tiny, tmp_path, case):
    ok = tiny_args(tiny, "data.npz", tmp_path / "out")
    bad = {
        "no data file": tiny_args(tiny, "missing.npz", tmp_path / "out"),
        "a ragged CSV": tiny_args(tiny, "ragged.csv", tmp_path / "out"),
        "a bad value": [*ok, "--eta", "-1"],
        "a bad flag": [*ok, "--epochs", "x"],
    }[case.rsplit(" on ", 1)[0]]
    rank = int(case[-1])
    done = mpmd(*((bad, ok) if rank == 0 else (ok, bad)), cwd=tiny)  # hung forever before (SAFETY: the test fails)
    line, status = said_by_one_process(*bad)
    assert status == 2 and line.startswith("ffnn: error: ")
    assert done.returncode == status  # every rank ends with the command line's status
    assert lines(done) == [f"[0] ffnn: error: rank {rank} of 2: {line.removeprefix('ffnn: error: ')}"]  # once, rank 0
    assert not (tmp_path / "out").exists()


def test_ranks_that_all_fail_alike_say_it_as_one_process_does(tiny, tmp_path):
    args = tiny_args(tiny, "missing.npz", tmp_path / "out")
    done = mpmd(args, args, cwd=tiny)
    line, status = said_by_one_process(*args)
    assert (done.returncode, lines(done)) == (status, [f"[0] {line}"]) == (2, [f"[0] {line}"])


def test_a_truncated_idx_file_on_one_rank_ends_the_job(tmp_path):
    real = mnist.data_folder(mnist.MNIST)
    if not all((real / f).is_file() for f in mnist.MNIST.files):
        pytest.skip(f"MNIST is not unpacked in {real} (ffnn data fetch mnist)")
    cut = tmp_path / "cut" / "mnist"
    cut.mkdir(parents=True)
    for f in mnist.MNIST.files:
        (cut / f).symlink_to(real / f)
    labels = next(f for f in mnist.MNIST.files if f.startswith("t10k-labels"))
    (cut / labels).unlink()
    (cut / labels).write_bytes((real / labels).read_bytes()[:5000])
    args = ["train", "--dataset", "mnist", "--sizes", "784,10,10", "--epochs", "1", "--batches-per-epoch", "2",
            "--quiet", "--no-plots", "--out", tmp_path / "out"]  # fmt: skip
    done = mpmd(args, args, cwd=tmp_path, envs=[{}, {"FFNN_DATA": tmp_path / "cut"}])
    assert done.returncode == 2
    [line] = lines(done)
    assert line.startswith(f"[0] ffnn: error: rank 1 of 2: {cut / labels}: the header declares shape (10000,)")
    assert "truncated" in line


@pytest.mark.parametrize(
    ("rank_1", "difference"),
    [
        (["--sizes", "64,9,3"], "sizes: [64, 8, 3] on rank 0, [64, 9, 3] on rank 1."),
        (["--seed", "4"], "seed: 3 on rank 0, 4 on rank 1."),
        (
            ["--optimizer", "adam", "--eta", "0.01"],  # plain SGD's lmbda is no setting of Adam's
            "eta: 3.0 on rank 0, 0.01 on rank 1; lmbda: 0.0 on rank 0, none on rank 1; "
            "optimizer: 'sgd' on rank 0, 'adam' on rank 1.",
        ),
    ],
)
def test_ranks_started_with_other_settings_are_refused_in_one_line(tiny, tmp_path, rank_1, difference):
    out = tmp_path / "out"
    done = mpmd(tiny_args(tiny, "data.npz", out), tiny_args(tiny, "data.npz", out, *rank_1), cwd=tiny)
    assert done.returncode == 2  # before: --sizes ended in exit status 70 from inside MPI, --seed trained
    [line] = lines(done)
    assert line.startswith(f"[0] ffnn: error: the 2 ranks were started differently — {difference}")
    assert line.endswith(". Start every rank with the same settings and the same data.")
    assert not (tmp_path / "out").exists()


def test_ranks_given_other_data_are_refused_naming_its_digests(tiny, tmp_path):
    done = mpmd(tiny_args(tiny, "data.npz", tmp_path / "out"), tiny_args(tiny, "other.npz", tmp_path / "out"), cwd=tiny)
    assert done.returncode == 2
    [line] = lines(done)
    digests = [ffnn.distributed.digest(a for s in ("X", "y", "X_test", "y_test") for a in [np.load(tiny / f)[s]])
               for f in ("data.npz", "other.npz")]  # fmt: skip
    shapes = "training 500×64, test 100×64"
    assert f"— data: {shapes}, digest {digests[0]} on rank 0, {shapes}, digest {digests[1]} on rank 1." in line


def test_a_stopped_rank_is_ended_by_the_watchdog_of_the_one_waiting_for_it(tiny, tmp_path):
    args = tiny_args(tiny, "data.npz", tmp_path / "out", "--epochs", "100000", "--checkpoint-every", "1")
    job = start(2, "-m", "ffnn", *args, "--mpi-timeout", "5", cwd=tmp_path)
    try:
        wait_for(lambda: checkpoint.latest(tmp_path / "out" / "checkpoints") is not None)  # training
        os.kill(rank_pids(job.pid)[1], signal.SIGSTOP)  # rank 1 stops where it is; rank 0 waits for it
        assert job.wait(timeout=SAFETY) == 2  # before: it waited forever
    finally:
        end(job)
    [said] = [line for line in (tmp_path / "job.out").read_text().splitlines() if line.startswith("ffnn:")]
    waited = re.fullmatch(
        r"ffnn: error: rank 0 of 2 waited (\d+) s for rank 1 to (sum the gradients|agree whether to stop); ending "
        r"the whole job\. A rank stopped, hung or is far slower than this one; if it is only slower, give "
        r"--mpi-timeout \(now 5 s\) more\.",
        said,
    )
    assert waited is not None, said
    assert int(waited[1]) >= 5


def test_rank_0_draws_the_progress_bar_where_mpiexec_writes_to_a_terminal(tiny, tmp_path):
    args = ["train", "--dataset", tiny / "data.npz", *TINY.replace("--quiet ", "").split()]
    screen, terminal = pty.openpty()  # mpiexec's stderr: a terminal, as in a shell
    command = [MPIEXEC, "-prepend-rank", "-n", "2", sys.executable, "-m", "ffnn", *args, "--out", tmp_path / "shown"]
    with open(tmp_path / "stdout", "w") as stdout:
        job = subprocess.Popen(command, cwd=tiny, env=ENV, stdout=stdout, stderr=terminal)
    os.close(terminal)
    shown = b""
    try:
        while True:  # what the terminal shows, until the job closes it
            if select.select([screen], [], [], SAFETY)[0] == []:
                raise AssertionError("the job did not end")
            try:
                chunk = os.read(screen, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        assert job.wait(timeout=SAFETY) == 0
    finally:
        os.close(screen)
        end(job)
    stderr = shown.decode()
    assert "epoch 0:" in stderr and "epoch 1:" in stderr and "/32 [" in stderr and "batch/s]" in stderr  # 500 / 16
    printed = (tmp_path / "stdout").read_text() + stderr
    assert "[1]" not in printed  # the other rank prints nothing
    # in a file, as from one process, no bar
    filed = [*args, "--out", tmp_path / "filed"]
    done = mpmd(filed, filed, cwd=tiny)
    assert done.returncode == 0
    assert "batch/s" not in done.stdout + done.stderr and "[1]" not in done.stdout + done.stderr
    assert done.stdout.count("[0] Final test accuracy") == 1
