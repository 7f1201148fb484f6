"""Checkpoint files across versions: format 1 (callback states by class name) still loads."""

import io
import json

import numpy as np

import ffnn
from ffnn import checkpoint, optimizers, schedules
from ffnn.callbacks import EarlyStopping


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
