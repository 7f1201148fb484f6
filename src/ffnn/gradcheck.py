"""Gradients by central differences, to check backpropagation against.

For every parameter θ (each w^l_jk and b^l_j), the fourth-order central difference

    ∂C/∂θ ≈ (8 (C(θ + ε) − C(θ − ε)) − (C(θ + 2ε) − C(θ − 2ε))) / 12ε,

whose truncation error is O(ε⁴). With ε = 1e-4 in float64 that is ~1e-17 and the rounding error
~1e-12, so even the small gradients of saturated units are checked tightly (the two-point
(C(θ + ε) − C(θ − ε)) / 2ε needs ε ≈ 1e-6 and then loses ~1e-10 to rounding). Agreement is
measured by the relative error ‖g_backprop − g_numeric‖ / (‖g_backprop‖ + ‖g_numeric‖), about
1e-11 for a correct float64 backprop and of order 1 for a wrong one. Across a kink (ReLU at 0)
no finite difference is valid: keep inputs whose z lie within 2ε of a kink out of a check.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ffnn._validation import as_inputs, as_sample_weight, as_targets
from ffnn.backends import NUMPY
from ffnn.network import Network


def as_float64(network: Network) -> Network:
    """A float64 NumPy copy of ``network``, whatever its backend (finite differences in float32 are
    too coarse to check)."""
    net = copy.deepcopy(network)
    net.dtype, net.backend = np.dtype(np.float64), NUMPY
    net.weights = [network.backend.to_numpy(w).astype(np.float64) for w in network.weights]
    net.biases = [network.backend.to_numpy(b).astype(np.float64) for b in network.biases]
    return net


def numerical_gradient(
    network: Network, X: Any, y: Any, eps: float = 1e-4, sample_weight: Any = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(nabla_b, nabla_w) of the network's cost (its mean or sum, weighted by ``sample_weight``) by
    fourth-order central differences, in float64. A network without biases has no ∂C/∂b: zeros, as
    its backpropagation reports."""
    net = as_float64(network)
    X = as_inputs(X, net.sizes[0], net.dtype)
    Y = as_targets(y, len(X), net.sizes[-1], net.dtype)
    w = as_sample_weight(sample_weight, len(X), net.dtype)
    nabla_b = [_differentiate(net, b, X, Y, eps, w) if net.bias else np.zeros_like(b) for b in net.biases]
    nabla_w = [_differentiate(net, p, X, Y, eps, w) for p in net.weights]
    return nabla_b, nabla_w


def _differentiate(
    net: Network, param: np.ndarray, X: np.ndarray, Y: np.ndarray, eps: float, w: np.ndarray | None
) -> np.ndarray:
    grad = np.empty_like(param)
    flat, out = param.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        costs = []
        for step in (2, 1, -1, -2):
            flat[i] = original + step * eps
            costs.append(net.cost(X, Y, w))
        flat[i] = original
        out[i] = (8 * (costs[1] - costs[2]) - (costs[0] - costs[3])) / (12 * eps)
    return grad


def relative_error(a: Any, b: Any) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖) over arrays or lists of arrays (0 when both are zero)."""
    a_flat = np.concatenate([np.ravel(x) for x in (a if isinstance(a, (list, tuple)) else [a])])
    b_flat = np.concatenate([np.ravel(x) for x in (b if isinstance(b, (list, tuple)) else [b])])
    denominator = np.linalg.norm(a_flat) + np.linalg.norm(b_flat)
    return 0.0 if denominator == 0 else float(np.linalg.norm(a_flat - b_flat) / denominator)


def check_gradients(network: Network, X: Any, y: Any, eps: float = 1e-4, sample_weight: Any = None) -> float:
    """The relative error between backpropagation's gradient and central differences, in float64
    (of the cost weighted by ``sample_weight``, if given)."""
    net = as_float64(network)
    nabla_b, nabla_w = net.backprop(X, y, sample_weight)
    num_b, num_w = numerical_gradient(net, X, y, eps, sample_weight)
    return relative_error(nabla_b + nabla_w, num_b + num_w)
