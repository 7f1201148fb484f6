"""Initialisers: shapes, the stated distributions, determinism per seed."""

import numpy as np
import pytest

import ffnn
from ffnn import initializers
from ffnn.initializers import get_initializer


@pytest.mark.parametrize("name", sorted(initializers.INITIALIZERS))
def test_shapes_and_determinism(name):
    init = get_initializer(name)
    w, b = init(30, 20, initializers.generator(name, 1))
    assert w.shape == (20, 30) and b.shape == (20,)
    w2, b2 = init(30, 20, initializers.generator(name, 1))
    np.testing.assert_array_equal(w, w2)
    np.testing.assert_array_equal(b, b2)


def test_distributions():
    rng = np.random.default_rng(0)
    n_in, n_out = 400, 500  # 200,000 weights: sample moments within ~1 %
    w, b = initializers.small_uniform(n_in, n_out, rng)
    assert w.min() >= 0 and w.max() < 0.01 and w.mean() == pytest.approx(0.005, rel=0.01)
    w, b = initializers.normal(n_in, n_out, rng)
    assert w.std() == pytest.approx(1.0, rel=0.01) and abs(w.mean()) < 0.01
    w, b = initializers.scaled_normal(n_in, n_out, rng)
    assert w.std() == pytest.approx(1 / np.sqrt(n_in), rel=0.01) and b.std() == pytest.approx(1.0, rel=0.1)
    w, b = initializers.glorot(n_in, n_out, rng)
    r = np.sqrt(6 / (n_in + n_out))
    assert -r <= w.min() and w.max() <= r and w.std() == pytest.approx(r / np.sqrt(3), rel=0.01)
    assert not b.any()
    w, b = initializers.he(n_in, n_out, rng)
    assert w.std() == pytest.approx(np.sqrt(2 / n_in), rel=0.01) and not b.any()
    w, b = initializers.legacy_uniform(n_in, n_out, initializers.generator("legacy_uniform", 0))
    assert w.min() >= 0 and w.max() < 1 and w.mean() == pytest.approx(0.5, rel=0.01) and not b.any()


def test_unknown_name():
    with pytest.raises(ValueError, match=r"'init' parameter must be one of .*Got 'lecun'"):
        get_initializer("lecun")


def test_the_former_name_seed000_still_loads_but_is_offered_nowhere(tmp_path):
    """Model files, checkpoints and config.toml written before the rename say init = "seed000"."""
    assert get_initializer("seed000") is initializers.small_uniform
    ffnn.save(ffnn.Network([3, 2], init="seed000", seed=0), tmp_path / "old.npz")
    old, new = ffnn.load(tmp_path / "old.npz"), ffnn.Network([3, 2], init="small_uniform", seed=0)
    np.testing.assert_array_equal(old.weights[0], new.weights[0])
    assert "seed000" not in initializers.INITIALIZERS
    names = r"\['glorot', 'he', 'legacy_uniform', 'normal', 'scaled_normal', 'small_uniform'\]"
    with pytest.raises(ValueError, match=names + r"\. Got 'x'"):
        get_initializer("x")
