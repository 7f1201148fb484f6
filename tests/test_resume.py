"""Checkpoints and exact resume: a resumed run equals an uninterrupted one, bit for bit."""

import errno
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import ffnn
from ffnn import checkpoint, optimizers, schedules
from ffnn.callbacks import Callback, EarlyStopping
from ffnn.data.augment import Augment

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.random((240, 784)).astype(np.float32)
    return X, rng.integers(0, 10, 240)


def setting(kind):
    """(network, fit keyword arguments, stateful callbacks) of one training configuration."""
    dropout = 0.3 if "dropout" in kind else 0.0
    net = ffnn.Network([784, 24, 10], "relu", cost="cross_entropy", init="he", dropout=dropout, seed=1)
    callbacks = []
    kwargs = {
        "sgd": {"eta": 0.1},
        "sgd-l2": {"eta": 0.1, "lmbda": 2.0},
        "nesterov-cosine": {"optimizer": optimizers.sgd(schedules.cosine(0.1, 40, 5), momentum=0.9, nesterov=True)},
        "rmsprop-step": {"optimizer": optimizers.rmsprop(schedules.step_decay(1e-3, 0.5, 10))},
        "momentum-exponential": {"optimizer": optimizers.sgd(schedules.exponential(0.1, 0.5, 20), momentum=0.9)},
        "adam-dropout-augment": {"optimizer": optimizers.adam(1e-3), "augment": Augment(elastic_alpha=6)},
        "adamw-clip-maxnorm": {"optimizer": optimizers.adamw(1e-3, weight_decay=0.1, clip_norm=1.0), "max_norm": 2.0},
    }.get(kind)
    if kind == "halving-early-stopping":
        rule = schedules.HalveOnPlateau(0.2, patience=1)
        kwargs = {"optimizer": optimizers.sgd(rule, momentum=0.5)}
        callbacks = [rule, EarlyStopping(patience=4)]
    return net, kwargs, callbacks


class StopAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, network, history):
        return history.epoch[-1] == self.epoch


KINDS = [
    "sgd",
    "sgd-l2",
    "nesterov-cosine",
    "momentum-exponential",
    "rmsprop-step",
    "adam-dropout-augment",
    "adamw-clip-maxnorm",
    "halving-early-stopping",
]


@pytest.mark.parametrize("kind", KINDS)
def test_resume_is_bit_identical(kind, data, tmp_path):
    X, y = data
    common = {
        "epochs": 5,
        "batch_size": 32,
        "seed": 7,
        "validation_data": (X[:40], y[:40]),
        "test_data": (X[:20], y[:20]),
    }
    reference_net, kwargs, callbacks = setting(kind)
    reference = ffnn.fit(reference_net, X, y, callbacks=callbacks, **common, **kwargs)

    net, kwargs, callbacks = setting(kind)
    ffnn.fit(net, X, y, callbacks=[*callbacks, StopAfter(1), checkpoint.Checkpointer(tmp_path)], **common, **kwargs)
    state = checkpoint.load(checkpoint.latest(tmp_path))
    assert state["epoch"] == 1
    resumed_net, kwargs, callbacks = setting(kind)  # a fresh process would build exactly this
    resumed = ffnn.fit(
        resumed_net, X, y, callbacks=[*callbacks, checkpoint.Checkpointer(tmp_path)], resume=state, **common, **kwargs
    )

    assert resumed.epoch == reference.epoch
    assert resumed.train_cost == reference.train_cost
    assert resumed.validation_accuracy == reference.validation_accuracy
    for p, q in zip(reference_net.parameters(), resumed_net.parameters()):
        np.testing.assert_array_equal(p, q)


def test_checkpointer_keeps_the_newest_and_writes_every_n(data, tmp_path):
    X, y = data
    net = ffnn.Network([784, 8, 10], seed=0)
    ffnn.fit(net, X, y, 7, 60, eta=0.5, callbacks=[checkpoint.Checkpointer(tmp_path, every=3, keep=2)])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-00005.npz",
        "checkpoint-00006.npz",
    ]  # 2, 5 and the last
    state = checkpoint.load(tmp_path / "checkpoint-00006.npz")
    assert state["epoch"] == 6 and len(state["history"]["epoch"]) == 7
    for p, q in zip(net.parameters(), state["parameters"]):
        np.testing.assert_array_equal(p, q)
    assert checkpoint.latest(tmp_path / "none") is None


def test_bad_checkpoint_files(tmp_path, data):
    X, y = data
    net = ffnn.Network([784, 8, 10], seed=0)
    ffnn.fit(net, X, y, 1, 60, eta=0.5, callbacks=[checkpoint.Checkpointer(tmp_path)])
    good = tmp_path / "checkpoint-00000.npz"
    with np.load(good) as archive:
        arrays = dict(archive)
    header = json.loads(arrays["header"].tobytes())
    header["format_version"] = 9
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ffnn.ModelFileError, match=r"checkpoint format 9 .* reads format 2. Upgrade ffnn"):
        checkpoint.load(tmp_path / "future.npz")
    ffnn.save(net, tmp_path / "model.npz")
    with pytest.raises(ffnn.ModelFileError, match="not an ffnn checkpoint"):
        checkpoint.load(tmp_path / "model.npz")
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:300])
    with pytest.raises(ffnn.ModelFileError, match="not a readable ffnn checkpoint"):
        checkpoint.load(tmp_path / "cut.npz")


def test_resume_refuses_a_different_network(tmp_path, data):
    X, y = data
    ffnn.fit(ffnn.Network([784, 8, 10], seed=0), X, y, 1, 60, eta=0.5, callbacks=[checkpoint.Checkpointer(tmp_path)])
    state = checkpoint.load(checkpoint.latest(tmp_path))
    with pytest.raises(ValueError, match="do not fit this network"):
        ffnn.fit(ffnn.Network([784, 9, 10], seed=0), X, y, 2, 60, eta=0.5, resume=state)


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, data, monkeypatch):
    X, y = data
    net = ffnn.Network([784, 8, 10], seed=0)
    ffnn.fit(net, X, y, 1, 60, eta=0.5, callbacks=[checkpoint.Checkpointer(tmp_path)])
    before = (tmp_path / "checkpoint-00000.npz").read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.np, "savez", disk_full)
    state = checkpoint.load(tmp_path / "checkpoint-00000.npz")
    with pytest.raises(OSError, match="No space left on device"):
        ffnn.fit(net, X, y, 3, 60, eta=0.5, callbacks=[checkpoint.Checkpointer(tmp_path)], resume=state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-00000.npz"]  # no partial file
    assert (tmp_path / "checkpoint-00000.npz").read_bytes() == before


def ffnn_cmd(*args):
    return subprocess.run([sys.executable, "-m", "ffnn", *map(str, args)], capture_output=True, text=True)


def test_unwritable_run_folder_fails_before_training(tmp_path):
    (tmp_path / "file").write_text("x")
    done = ffnn_cmd("train", "--recipe", "xor", "--out", tmp_path / "file" / "run")
    assert done.returncode == 2
    assert done.stderr.startswith(f"ffnn: error: cannot write the run folder {tmp_path / 'file' / 'run'}: ")
    assert "epoch" not in done.stdout  # nothing was trained


def test_resume_flag_errors(tmp_path):
    done = ffnn_cmd("train", "--resume", tmp_path, "--epochs", 3, "--eta", 0.1, "--threads", 1)
    assert done.returncode == 2 and "it takes no other settings but --epochs N" in done.stderr
    session = (
        "--backend, --device, --checkpoint-every, --checkpoint-seconds, --keep-checkpoints, --mpi-timeout, --threads"
    )
    assert done.stderr.endswith(f"where it runs and how it is saved ({session}); got --eta\n")
    done = ffnn_cmd("train", "--resume", tmp_path)
    assert done.returncode == 2 and f"{tmp_path} is not a run folder (no config.toml)" in done.stderr
    done = ffnn_cmd("train", "--dataset", "xor", "--epochs", 3, "--replan-schedule")
    assert done.returncode == 2
    assert (
        done.stderr
        == "ffnn: error: --replan-schedule goes with --resume RUN --epochs N (a run trained on to N epochs)\n"
    )


def test_resume_with_epochs_trains_a_finished_run_on(tmp_path):
    out = tmp_path / "R"
    base = ["--dataset", "moons", "--sizes", "2,4,2", "--quiet", "--no-plots"]
    assert ffnn_cmd("train", *base, "--epochs", 2, "--out", out).returncode == 0
    done = ffnn_cmd("train", "--resume", out, "--epochs", 3, "--no-plots")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Resuming {out} after epoch 1, to 3 epochs (checkpoint-00001.npz)\n")
    assert json.loads((out / "summary.json").read_text())["epochs_completed"] == 3
    done = ffnn_cmd("train", "--resume", out, "--epochs", 4, "--mpi-timeout", 30, "--quiet", "--no-plots")
    assert done.returncode == 0, done.stderr  # how long a rank waits: the session's to choose
    assert "mpi_timeout = 30.0" in (out / "config.toml").read_text().splitlines()
    for more in ([], ["--replan-schedule"]):  # in the words it was given, not "give --epochs N"
        done = ffnn_cmd("train", "--resume", out, "--epochs", 0, *more)
        assert (done.returncode, done.stderr) == (2, "ffnn: error: --epochs must be an integer >= 1; got 0.\n")


def test_an_extension_that_cannot_write_its_config_says_what_to_do(tmp_path):
    """A full disk as the longer run's config.toml is written: the message says to run the same
    command again (not to choose another --out, which --resume does not take)."""
    out = tmp_path / "R"
    assert ffnn_cmd("train", "--dataset", "moons", "--sizes", "2,4,2", "--epochs", 2, "--quiet", "--no-plots",
                    "--out", out).returncode == 0  # fmt: skip
    code = (
        "import sys, ffnn.settings as settings, ffnn.cli as cli\n"
        "def full(*args, **kwargs): raise OSError(28, 'No space left on device')\n"
        "settings.write = full\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, "train", "--resume", out, "--epochs", "3", "--quiet"],
                          capture_output=True, text=True)  # fmt: skip
    assert (done.returncode, done.stderr) == (
        2, f"ffnn: error: cannot write the run folder {out}: No space left on device; make room or make it "
        "writable, then run the same command again\n",
    )  # fmt: skip


def test_divergence_stops_keeps_the_last_good_model_and_exits_1(tmp_path):
    out = tmp_path / "run"
    settings = "--dataset moons --sizes 2,32,2 --activation relu --output-activation identity --epochs 5 --eta 1e6"
    done = ffnn_cmd("train", *settings.split(), "--out", out, "--quiet")
    assert done.returncode == 1
    assert "ffnn: error: Training diverged in epoch 0, batch" in done.stderr and "try a smaller eta" in done.stderr
    assert f"The last good model is in {out / 'model.npz'}." in done.stderr and "RuntimeWarning" not in done.stderr
    net = ffnn.load(out / "model.npz")
    assert all(np.isfinite(p).all() for p in net.parameters())
    assert net.metadata["summary"] == {"diverged": True}


def corrupt(good, path, change):
    """A copy of the checkpoint ``good`` at ``path`` whose encoded state tree went through ``change``."""
    with np.load(good) as archive:
        arrays = dict(archive)
    header = json.loads(arrays["header"].tobytes())
    change(header["state"]["__dict__"])
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def adam_checkpoint(tmp_path, data):
    """The checkpoint after epoch 1 of a 3-epoch Adam run, and how to resume it."""
    X, y = data

    def resume(state, epochs=3):
        net = ffnn.Network([784, 8, 10], seed=0)
        before = [p.copy() for p in net.parameters()]
        try:
            return ffnn.fit(net, X, y, epochs, 60, optimizer=optimizers.adam(1e-3), seed=0, resume=state)
        finally:
            assert all(np.array_equal(p, q) for p, q in zip(before, net.parameters())) or state is good_state

    net = ffnn.Network([784, 8, 10], seed=0)
    ffnn.fit(net, X, y, 2, 60, optimizer=optimizers.adam(1e-3), seed=0, callbacks=[checkpoint.Checkpointer(tmp_path)])
    good = tmp_path / "checkpoint-00001.npz"
    good_state = checkpoint.load(good)
    assert resume(good_state).epoch == [0, 1, 2]
    return good, resume


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            lambda s: s["rng"]["__dict__"]["state"]["__dict__"].update(state="x"),
            r"'rng' is not a valid PCG64 state \(TypeError: ",
        ),
        (
            lambda s: s["rng"]["__dict__"].update(bit_generator="os.system"),
            r"'rng' must be the state of one of NumPy's",
        ),
        (
            lambda s: s["parameters"].__setitem__(0, [[0.5] * 784] * 8),
            r"parameters\[0\] must be a float weight matrix, got list",
        ),
        (lambda s: s["parameters"].pop(), r"'parameters' must be a list of weight and bias arrays, two per layer"),
        (lambda s: s.update(epoch=10**6), r"it says epoch 1000000, but its history ends at epoch 1"),
        (lambda s: s.update(epoch=-1), r"'epoch' must be an integer >= 0, got -1"),
        (
            lambda s: s["history"]["__dict__"]["train_cost"].append(1.0),
            r"history 'train_cost' must list one number \(or null\) per epoch \(2\)",
        ),
        (
            lambda s: s["history"]["__dict__"].update(nonsense=[]),
            r"'history' must hold History's fields, got \['nonsense'\]",
        ),
        (  # issue 21: the optimizer's arrays, checked against the checkpoint's own parameters
            lambda s: s["optimizer"]["__tuple__"][0]["__tuple__"][1].pop(),
            r"optimizer\[0\]\[1\] must list one array per parameter \(4\), got 3",
        ),
        (
            lambda s: s["optimizer"]["__tuple__"][0]["__tuple__"][2].__setitem__(0, {"__array__": "a1"}),
            r"optimizer\[0\]\[2\]\[0\] must be a float32 array of shape \(8, 784\), got float32 \(8,\)",
        ),
        (
            lambda s: s["parameters"].__setitem__(2, {"__array__": "a0"}),
            r"parameters\[2\] must have 8 columns \(the outputs of parameters\[0\]\), got the shape \(8, 784\)",
        ),
        (
            lambda s: s["parameters"].__setitem__(1, {"__array__": "a3"}),
            r"parameters\[1\] must have the shape \(8,\) \(a bias per row of parameters\[0\]\), got \(10,\)",
        ),
    ],
)
def test_a_corrupt_checkpoint_is_refused_when_loaded(change, says, adam_checkpoint, tmp_path):
    """Issue 12, item 7: a bad rng state, a list in parameters: tracebacks; epoch=10**6: exit 0, nothing trained."""
    good, _ = adam_checkpoint
    path = corrupt(good, tmp_path / "bad.npz", change)
    with pytest.raises(ffnn.ModelFileError, match=says) as info:
        checkpoint.load(path)
    assert str(info.value).startswith(f"{path}: the checkpoint is corrupt: ")
    assert str(info.value).endswith(". Resume from another checkpoint.")


@pytest.mark.parametrize(
    ("change", "epochs", "says"),
    [
        (lambda s: s.update(optimizer=None), 3, r"optimizer must be a tuple of 2, got None; resume with the optimizer"),
        (
            lambda s: s["optimizer"]["__tuple__"][0]["__tuple__"].__setitem__(0, -5),
            3,
            r"optimizer\[0\]\[0\] must be an integer >= 0, got -5",
        ),
        (
            lambda s: None,
            1,
            r"it was saved after epoch 1, but this run has 1 epochs \(0–0\); it belongs to another run",
        ),
        (
            lambda s: s["optimizer"]["__tuple__"].__setitem__(1, -1),
            3,
            r"optimizer\[1\] must be an integer >= 0, got -1 \(LearningRateState.t\)",
        ),
    ],
)
def test_a_checkpoint_that_does_not_fit_the_run_is_refused_before_anything_changes(
    change, epochs, says, adam_checkpoint, tmp_path
):
    good, resume = adam_checkpoint
    path = corrupt(good, tmp_path / "bad.npz", change)
    state = checkpoint.load(path)
    with pytest.raises(ffnn.ParameterError, match=says) as info:
        resume(state, epochs)
    assert str(info.value).startswith(f"{path}: the checkpoint does not fit this run: ")


def test_resume_from_a_corrupt_checkpoint_is_one_line_exit_2(tmp_path):
    out = tmp_path / "run"
    done = ffnn_cmd("train", "--recipe", "xor", "--epochs", 2, "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    newest = checkpoint.latest(out / "checkpoints")
    corrupt(newest, newest, lambda s: s["rng"]["__dict__"].update(state=None))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    done = ffnn_cmd("train", "--resume", out)
    assert done.returncode == 2
    assert done.stderr.startswith(f"ffnn: error: {newest}: the checkpoint is corrupt: 'rng' is not a valid PCG64 state")
    assert len(done.stderr.splitlines()) == 1
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def _parameters(change):
    """A change to the state tree applying ``change(array)`` to each parameter array it names."""
    return lambda s, arrays: [
        arrays.__setitem__(p["__array__"], change(arrays[p["__array__"]])) for p in s["parameters"]
    ]


@pytest.mark.parametrize(
    ("optimizer", "change", "says"),
    [
        (
            "adam",
            lambda s, a: a.__setitem__(
                s["optimizer"]["__tuple__"][0]["__tuple__"][1][0]["__array__"], np.zeros((3, 3))
            ),
            r"the checkpoint is corrupt: optimizer\[0\]\[1\]\[0\] must be a float32 array of shape \(4, 2\), got "
            r"float64 \(3, 3\)\. Resume from another checkpoint\.",
        ),
        (
            "sgd",
            _parameters(lambda p: p.astype(np.float64)),
            r"the checkpoint is corrupt: its parameters are those of a network of sizes \[2, 4, 2\] in float64, not "
            r"of this run's \(\[2, 4, 2\] in float32\)\. Resume from another checkpoint\.",
        ),
        (
            "sgd",
            _parameters(lambda p: np.full_like(p, np.nan)),
            r"the checkpoint is corrupt: parameters\[0\] contains NaN or inf\. Resume from another checkpoint\.",
        ),
        ("adam", lambda s, a: s.pop("optimizer"), r"the checkpoint's state is incomplete: it lacks optimizer\."),
        (
            "sgd",
            _parameters(lambda p: np.zeros((5, *p.shape[1:]) if p.ndim == 2 and p.shape[1] == 2 else p.shape, p.dtype)),
            r"the checkpoint is corrupt: parameters\[1\] must have the shape \(5,\) \(a bias per row of "
            r"parameters\[0\]\)",
        ),
        (
            "sgd",
            _parameters(lambda p: np.zeros(tuple(5 if n == 4 else n for n in p.shape), p.dtype)),
            r"the checkpoint is corrupt: its parameters are those of a network of sizes \[2, 5, 2\] in float32, not "
            r"of this run's \(\[2, 4, 2\] in float32\)\.",
        ),
    ],
)
def test_resume_gives_way_to_the_checkpoint_before_a_malformed_newest(optimizer, change, says, tmp_path, capsys):
    """Issue 21: a newest checkpoint malformed in its optimizer or parameters stopped the resume
    (exit 2: "does not fit this run") instead of giving way to the one before, as the README says.
    The resumed run ends with the parameters of the run never stopped."""
    from ffnn import run
    from ffnn.config import configure

    flags = {"dataset": "xor", "sizes": [2, 4, 2], "optimizer": optimizer, "eta": 0.5, "epochs": 5, "seed": 3}
    config = configure(None, None, {**flags, "checkpoint_every": 1, "keep_checkpoints": 3})
    out = tmp_path / "run"
    run.train(config, out, quiet=True)
    never_stopped = [p.copy() for p in ffnn.load(out / "model.npz").parameters()]
    (out / "checkpoints" / "checkpoint-00004.npz").unlink()  # killed after epoch 3's checkpoint
    newest = out / "checkpoints" / "checkpoint-00003.npz"
    with np.load(newest) as archive:
        arrays = dict(archive)
    header = json.loads(arrays["header"].tobytes())
    change(header["state"]["__dict__"], arrays)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(newest, **arrays)
    capsys.readouterr()

    result = run.resume(out, quiet=True)

    warning = capsys.readouterr().err
    assert warning.startswith(f"ffnn: warning: {newest}: ") and warning.count("\n") == 1, warning
    assert re.search(says, warning), warning
    assert warning.endswith(" Resuming from an earlier checkpoint, checkpoint-00002.npz.\n")
    assert result.history.epoch == [0, 1, 2, 3, 4]
    for got, want in zip(ffnn.load(out / "model.npz").parameters(), never_stopped):
        np.testing.assert_array_equal(got, want)
