"""The workspace and backpropagate check what they are given, cheaply, before any buffer is read."""

import numpy as np
import pytest

import ffnn
from ffnn.backprop import Workspace, backpropagate


def test_a_batch_that_does_not_fit_the_workspace_is_refused(rng):
    net = ffnn.Network([3, 4, 2], dtype="float64", seed=0)
    ws = Workspace(net.sizes, 4, net.dtype)
    X, Y = rng.standard_normal((10, 3)), np.eye(2)[rng.integers(0, 2, 10)]
    with pytest.raises(ffnn.ParameterError, match=r"Batch rows must lie in \[0, 10\); got 0\.\.10\."):
        ws.load(X, Y, np.array([0, 10]))  # clipped to row 9 before: a silent wrong row
    with pytest.raises(ffnn.ParameterError, match=r"A batch of 5 rows .* \(at most 4 rows of 3 inputs and 2 targets\)"):
        ws.load(X, Y, np.arange(5))
    with pytest.raises(ffnn.ParameterError, match=r"A batch of 2 rows of X \(10, 5\)"):
        ws.load(rng.standard_normal((10, 5)), Y, np.arange(2))
    m = ws.load(X, Y, np.arange(4))
    with pytest.raises(ffnn.ParameterError, match=r"backpropagate: a batch of 10 rows .* made for 4 rows"):
        backpropagate(net, ws, 10)  # the gradient came out scaled by 1/10 for 4 rows before
    other = ffnn.Network([3, 5, 2], dtype="float64", seed=0)
    with pytest.raises(
        ffnn.ParameterError, match=r"weights \[\(5, 3\), \(2, 5\)\] do not fit .* \[\(4, 3\), \(2, 4\)\]"
    ):
        backpropagate(other, ws, m)


def test_the_checked_batch_gives_the_networks_own_gradient(rng):
    net = ffnn.Network([3, 4, 2], dtype="float64", seed=0)
    X, y = rng.standard_normal((4, 3)), rng.integers(0, 2, 4)
    ws = Workspace(net.sizes, 4, net.dtype)
    backpropagate(net, ws, ws.load(X, np.eye(2)[y], np.arange(4)))
    nabla_b, nabla_w = net.backprop(X, y)
    np.testing.assert_array_equal(ws.nabla_w[0], nabla_w[0])
    np.testing.assert_array_equal(ws.nabla_b[1], nabla_b[1])
