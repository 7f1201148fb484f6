"""Configurations: TOML round trip, validation, batches_per_epoch."""

import numpy as np
import pytest

import ffnn
from ffnn import config
from ffnn.config import ConfigError


def test_toml_round_trip(tmp_path):
    settings = config.resolve({"sizes": [784, 100, 10], "eta": 0.5, "dataset": "mnist", "lmbda": 5})
    config.write(tmp_path / "c.toml", settings, "a comment")
    assert (tmp_path / "c.toml").read_text().startswith("# a comment\n")
    assert config.read(tmp_path / "c.toml") == settings


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("epochz = 3\n", r"unknown setting 'epochz'; known: dataset, validation"),
        ("epochs = 'three'\n", r"setting 'epochs' must be int; got 'three'"),
        ("sizes = [784, 'x']\n", r"setting 'sizes' must be a list of integers"),
        ("eta = true\n", r"setting 'eta' must be float; got True"),
        ("epochs = \n", r"not valid TOML"),
    ],
)
def test_bad_config_files(text, match, tmp_path):
    (tmp_path / "c.toml").write_text(text)
    with pytest.raises(ConfigError, match=match):
        config.read(tmp_path / "c.toml")


def test_unreadable_config():
    with pytest.raises(ConfigError, match="cannot be read"):
        config.read("/no/such/file.toml")


def test_batches_per_epoch_trains_on_that_many_batches(rng):
    X, y = rng.standard_normal((100, 3)), rng.integers(0, 2, 100)
    seen = []

    class Count:
        def on_batch_end(self, network, epoch, batch):
            seen.append((epoch, batch))

        def on_epoch_end(self, network, history):
            return False

    ffnn.Network([3, 2], seed=0).fit(X, y, epochs=3, batch_size=10, eta=0.1, callbacks=[Count()], batches_per_epoch=1)
    assert seen == [(0, 0), (1, 0), (2, 0)]
    assert np.isfinite(X).all()
