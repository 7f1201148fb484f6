"""metrics.csv, declared once: what MetricsLog writes, read_metrics reads back, value for value."""

import numpy as np
import pytest

import ffnn
from ffnn.callbacks import GradientNorms, MetricsLog, metrics_columns
from ffnn.callbacks.metrics_log import read_metrics
from ffnn.errors import DataFormatError


def test_what_the_log_writes_reads_back_exactly(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.random((60, 4))
    y = (X[:, 0] > X[:, 1]).astype(np.int64)
    net = ffnn.Network([4, 5, 2], seed=1)
    probe = GradientNorms(X[:10], y[:10])
    history = ffnn.fit(
        net, X[:40], y[:40], epochs=3, batch_size=10, eta=0.5, test_data=(X[40:], y[40:]), seed=2,
        callbacks=[probe, MetricsLog(tmp_path / "metrics.csv")],
    )  # fmt: skip
    names, columns = metrics_columns(history)
    assert names[: len(MetricsLog.COLUMNS)] == list(MetricsLog.COLUMNS)
    assert names[len(MetricsLog.COLUMNS) :] == ["grad_norm_1", "grad_norm_2"]
    read = read_metrics(tmp_path / "metrics.csv")
    assert list(read) == names
    assert read["validation_accuracy"] == [None, None, None]  # not measured: an empty cell, None again
    for name, values in zip(names, columns):
        assert read[name] == [None if v is None else float(v) for v in values]  # the same numbers, exactly


def test_a_missing_or_damaged_file_is_named(tmp_path):
    with pytest.raises(DataFormatError, match=r"metrics.csv: no such file; is this a run folder"):
        read_metrics(tmp_path / "metrics.csv")
    (tmp_path / "metrics.csv").write_text("epoch,train_cost\n0,cheap\n")
    with pytest.raises(DataFormatError, match=r"not a metrics file of numbers written by ffnn train"):
        read_metrics(tmp_path / "metrics.csv")
    (tmp_path / "metrics.csv").write_text("")
    assert read_metrics(tmp_path / "metrics.csv") == {}
