"""Training steps: how one mini-batch's gradient becomes a change of the parameters.

The training loop talks to a step through one protocol, :class:`Step`:

1. ``backpropagate(network, ws, m, apply=step)`` calls ``step(i, delta, a_prev)`` for each layer
   i, last first, with the BP3/BP4 factors δ^l and a^{l−1} (``ffnn.backprop``);
2. then the loop calls ``step.finish()``;
3. ``state_dict()`` / ``load_state_dict()`` carry what the step remembers across batches, for
   checkpoints.

:class:`SGDStep` is the sources' rule, applied as each layer's factors arrive (one GEMM per
layer, the gradient never stored); :class:`OptimizerStep` stores the gradients and lets an
:class:`ffnn.optimizers.Optimizer` turn them into updates in ``finish``.
"""

from __future__ import annotations

from typing import Any

from ffnn.backends import NUMPY, Backend
from ffnn.backprop import Workspace
from ffnn.optimizers import Optimizer


class Step:
    """The protocol between the training loop and an update rule (see the module docstring)."""

    advice: str = "try a smaller learning rate"  # said when training diverges

    def __call__(self, i: int, delta: Any, a_prev: Any) -> None:
        """Receive layer i's factors: ∂C/∂b^l = Σ_batch δ^l, ∂C/∂w^l = (δ^l)ᵀ a^{l−1}."""
        raise NotImplementedError

    def finish(self) -> None:
        """Called once per batch, after every layer's factors were received."""

    def state_dict(self) -> Any:
        """What the step remembers across batches (None: nothing)."""
        return None

    def load_state_dict(self, state: Any) -> None:
        """Restore what :meth:`state_dict` returned."""


class SGDStep(Step):
    """Plain SGD applied layer by layer as backprop produces each layer's factors:

        w^l ← decay · w^l − η (δ^l)ᵀ a^{l−1},      b^l ← b^l − η Σ_batch δ^l,

    with decay = 1 − ηλ/n (the book's L2 term, n the training set's size) and δ^l already
    divided by the batch size. The weight update is a single GEMM (``backend.gemm_at_b``: with
    NumPy, ``ffnn._blas.gemm_at_b``). With a workspace ``keep``, ∂C/∂w^l and ∂C/∂b^l are also
    stored in it (``Workspace.store_gradient``), for whoever watches the gradient's size; the
    update is the same. ``biases`` None: the network has none (``bias=False``), only w^l moves.
    """

    def __init__(
        self,
        weights: list[Any],
        biases: list[Any] | None,
        eta: float,
        decay: float,
        backend: Backend = NUMPY,
        keep: Workspace | None = None,
    ) -> None:
        self.weights, self.biases = weights, biases
        self.eta, self.decay = eta, decay
        self.advice = f"try a smaller eta (it is {eta})"
        self._sum, self._gemm = backend.xp.sum, backend.gemm_at_b
        self._bias_step = [] if biases is None else [backend.copy(b) for b in biases]
        self._keep = None if keep is None else keep.store_gradient

    def __call__(self, i: int, delta: Any, a_prev: Any) -> None:
        if self._keep is not None:
            self._keep(i, delta, a_prev)
        if self.biases is not None:
            step = self._sum(delta, axis=0, out=self._bias_step[i])
            step *= self.eta
            self.biases[i] -= step
        self._gemm(-self.eta, delta, a_prev, self.decay, self.weights[i])


class OptimizerStep(Step):
    """A step of an :class:`ffnn.optimizers.Optimizer`: backprop stores ∂C/∂w^l and ∂C/∂b^l in the
    workspace, then ``finish`` asks the optimiser for the updates u and applies p ← p + u."""

    def __init__(self, params: list[Any], ws: Workspace, optimizer: Optimizer) -> None:
        self.params = params
        self.grads = ws.gradients()
        self.optimizer = optimizer
        self.advice = f"try a smaller learning rate for the {optimizer.name} optimizer"
        self.state = optimizer.init(self.params)
        self._store = ws.store_gradient

    def __call__(self, i: int, delta: Any, a_prev: Any) -> None:
        self._store(i, delta, a_prev)

    def finish(self) -> None:
        updates, self.state = self.optimizer.update(self.grads, self.state, self.params)
        for p, u in zip(self.params, updates):
            p += u

    def state_dict(self) -> Any:
        return self.state

    def load_state_dict(self, state: Any) -> None:
        self.state = state
