"""Checkpoint files across versions: format 1 (callback states by class name) still loads, and
run folders written by ffnn 0.1 (``tests/data/ffnn-0.1``) resume bit for bit."""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import ffnn
from ffnn import checkpoint, optimizers, run, schedules, settings
from ffnn.callbacks import EarlyStopping

FFNN_0_1 = Path(__file__).parent / "data" / "ffnn-0.1"
RUNS_0_1 = [
    "sgd-l2",
    "sgd-step-clip",
    "momentum",
    "nesterov-l2",
    "rmsprop-cosine",
    "adam-exponential",
    "adamw-clip",
    "momentum-halving-stopping",
]


def write_format_1(path, state):
    """A checkpoint as ffnn 0.1 wrote it: format_version 1, callbacks as [class name, state] pairs."""
    arrays = {}
    tree = checkpoint._encode(state, arrays)
    header = {"format": "ffnn-checkpoint", "format_version": 1, "ffnn_version": "0.1.0", "state": tree}
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    path.write_bytes(buffer.getvalue())


def test_a_format_1_checkpoint_resumes_exactly(tmp_path, rng):
    X, y = rng.standard_normal((120, 4)), rng.integers(0, 3, 120)
    data = {"validation_data": (X[:40], y[:40]), "seed": 1}

    def callbacks():
        rule = schedules.HalveOnPlateau(0.3, patience=1)
        return rule, [rule, EarlyStopping(patience=3)]

    rule, hooks = callbacks()
    whole = ffnn.Network([4, 6, 3], seed=0)
    ffnn.fit(whole, X, y, 6, 20, optimizer=optimizers.sgd(rule, momentum=0.5), callbacks=hooks, **data)

    rule, hooks = callbacks()
    first = ffnn.Network([4, 6, 3], seed=0)
    ffnn.fit(first, X, y, 6, 20, optimizer=optimizers.sgd(rule, momentum=0.5),
             callbacks=[*hooks, checkpoint.Checkpointer(tmp_path, every=1, keep=10)], **data)  # fmt: skip
    state = checkpoint.load(tmp_path / "checkpoint-00002.npz")
    old = {**state, "callbacks": [["HalveOnPlateau", state["callbacks"]["halve_on_plateau"]],
                                  ["EarlyStopping", state["callbacks"]["early_stopping"]]]}  # fmt: skip
    write_format_1(tmp_path / "old.npz", old)

    loaded = checkpoint.load(tmp_path / "old.npz")
    assert sorted(loaded["callbacks"]) == ["early_stopping", "halve_on_plateau"]
    rule, hooks = callbacks()
    resumed = ffnn.Network([4, 6, 3], seed=0)
    ffnn.fit(resumed, X, y, 6, 20, optimizer=optimizers.sgd(rule, momentum=0.5), callbacks=hooks, resume=loaded,
             **data)  # fmt: skip
    for a, b in zip(whole.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", RUNS_0_1)
def test_a_run_folder_of_ffnn_0_1_resumes_bit_for_bit(name, tmp_path):
    """Its checkpoint after epoch 1, resumed by this ffnn, ends with the parameters of the run that
    ffnn 0.1 trained without a stop (see tests/data/ffnn-0.1/README.md)."""
    folder = shutil.copytree(FFNN_0_1 / name, tmp_path / name, ignore=shutil.ignore_patterns("final.npz"))
    with np.load(folder / "checkpoints" / "checkpoint-00001.npz") as archive:
        header = json.loads(archive["header"].tobytes())
    assert (header["format_version"], header["ffnn_version"]) == (2, "0.1.0")
    run.resume(folder, quiet=True)
    resumed = ffnn.load(folder / "model.npz").parameters()
    with np.load(FFNN_0_1 / name / "final.npz") as final:
        expected = [final[f"arr_{i}"] for i in range(len(final.files))]
    assert len(resumed) == len(expected) == 4
    for got, want in zip(resumed, expected):
        assert got.dtype == want.dtype == np.float64
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", RUNS_0_1)
def test_checkpoints_are_stored_as_ffnn_0_1_stored_them(name, tmp_path):
    """The same run today writes the checkpoint 0.1 wrote (tests/data/ffnn-0.1), but for the time taken."""
    run.train(settings.read(FFNN_0_1 / name / "config.toml"), tmp_path / "run", quiet=True)
    today, old = (folder / "checkpoints" / "checkpoint-00001.npz" for folder in (tmp_path / "run", FFNN_0_1 / name))
    with np.load(today) as new_archive, np.load(old) as old_archive:
        new, kept = dict(new_archive), dict(old_archive)
    headers = [json.loads(arrays.pop("header").tobytes()) for arrays in (new, kept)]
    for header in headers:
        header.pop("ffnn_version")
        header["state"]["__dict__"]["history"]["__dict__"].pop("seconds")
    assert headers[0] == headers[1] and headers[0]["format_version"] == checkpoint.FORMAT_VERSION == 2
    assert new.keys() == kept.keys()
    for key in new:
        assert new[key].dtype == kept[key].dtype
        np.testing.assert_array_equal(new[key], kept[key])


@pytest.mark.parametrize(
    ("change", "says", "load_says"),
    [
        (lambda m, s: m.__setitem__(0, m[0].astype(np.float32)), r"optimizer\[0\]\[1\]\[0\] must be a float64 array "
         r"of shape \(6, 4\), got float32 \(6, 4\) \(AdamState.m\)",
         r"optimizer\[0\]\[1\]\[0\] must be a float64 array of shape \(6, 4\), got float32 \(6, 4\)\. Resume"),
        (lambda m, s: s[1].__setitem__(0, np.nan), r"optimizer\[0\]\[2\]\[1\] contains NaN or inf \(AdamState.s\)",
         r"optimizer\[0\]\[2\]\[1\] contains NaN or inf\. Resume"),
        (lambda m, s: m.append(m[0]), r"optimizer\[0\]\[1\] must be a list of 4, got a list of 5 \(AdamState.m\)",
         r"optimizer\[0\]\[1\] must list one array per parameter \(4\), got 5\. Resume"),
    ],
)  # fmt: skip
def test_a_named_state_is_checked_field_by_field(change, says, load_says, tmp_path, rng):
    """A state handed to fit is checked against the run by TrainingState.restore, naming the field;
    one read from a file is refused by checkpoint.load already (issue 21: so resume passes it over)."""
    X, y = rng.standard_normal((60, 4)), rng.integers(0, 3, 60)
    net = ffnn.Network([4, 6, 3], seed=0, dtype="float64")
    ffnn.fit(net, X, y, 2, 20, optimizer=optimizers.adam(1e-3), seed=1, callbacks=[checkpoint.Checkpointer(tmp_path)])
    state = checkpoint.load(tmp_path / "checkpoint-00001.npz")
    _, m, s = state["optimizer"][0]
    change(m, s)
    with pytest.raises(ffnn.ParameterError, match=says):
        ffnn.fit(ffnn.Network([4, 6, 3], seed=0, dtype="float64"), X, y, 3, 20, optimizer=optimizers.adam(1e-3),
                 seed=1, resume=state)  # fmt: skip
    checkpoint.save(tmp_path / "bad.npz", state)
    with pytest.raises(ffnn.ModelFileError, match=r"bad.npz: the checkpoint is corrupt: " + load_says):
        checkpoint.load(tmp_path / "bad.npz")
