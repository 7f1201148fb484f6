"""Optimisers as pairs of pure functions, composed from small transforms (the optax design).

An optimiser is ``init(params) → state`` and ``update(grads, state, params) → (updates, state)``;
the caller applies ``p ← p + u`` for each parameter. ``params`` and ``grads`` are lists of arrays
in the order of ``Network.parameters()`` (w¹, b¹, w², b², …). Weight decay touches only arrays
with two or more dimensions — the weights, not the biases, as in the book's L2.

Each transform states its rule; g is the gradient coming in, u what goes out, t the step (from 1):

- ``scale_by_learning_rate(η)``      u = −η_t g       (η a number or a schedule of the step)
- ``trace(μ, nesterov)``              v ← μ v + g;  u = v, or u = g + μ v (Nesterov)
- ``scale_by_rms(ρ, ε)``              s ← ρ s + (1 − ρ) g²;  u = g / (√s + ε)
- ``scale_by_adam(β₁, β₂, ε)``        m ← β₁ m + (1 − β₁) g;  s ← β₂ s + (1 − β₂) g²;
                                      u = m̂ / (√ŝ + ε),  m̂ = m / (1 − β₁ᵗ), ŝ = s / (1 − β₂ᵗ)
- ``add_decayed_weights(λ)``          u = g + λ w   (before the rest: L2; after: decoupled)
- ``clip_by_global_norm(c)``          u = g · min(1, c / ‖g‖),  ‖g‖ over all parameters

A transform that remembers something keeps it in a named state whose fields are the symbols above
(:class:`LearningRateState`, :class:`TraceState`, :class:`RMSState`, :class:`AdamState`; a
stateless one keeps None, a chain the tuple of its transforms' states).

The named optimisers are chains of them; their results match ``torch.optim`` step for step. Each
carries its ``formula``: the rule it applies to every parameter θ (each w^l and b^l) in those
symbols, with its constants' values (what ``ffnn explain`` shows beside the step it takes).
They call the namespace of the parameters' arrays (``ffnn.backends.namespace``), so they run on
every backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ffnn._validation import check_number
from ffnn.backends import namespace
from ffnn.errors import ParameterError

Params = list[Any]
Schedule = Callable[[int], float]  # η_t as a function of the step t (ffnn.schedules makes them)
LearningRate = float | Schedule


class LearningRateState(NamedTuple):
    """``scale_by_learning_rate``'s state: ``t``, the steps taken so far (η_t is taken at this t)."""

    t: int


class TraceState(NamedTuple):
    """``trace``'s state: the velocity ``v`` ← μ v + g, one array per parameter."""

    v: Params


class RMSState(NamedTuple):
    """``scale_by_rms``'s state: the mean square ``s`` ← ρ s + (1 − ρ) g², one array per parameter."""

    s: Params


class AdamState(NamedTuple):
    """``scale_by_adam``'s state: ``t``, the steps taken; the moments ``m`` ← β₁ m + (1 − β₁) g and
    ``s`` ← β₂ s + (1 − β₂) g², one array per parameter each (bias-corrected when used)."""

    t: int
    m: Params
    s: Params


@dataclass(frozen=True)
class Optimizer:
    """``init(params) → state``, ``update(grads, state, params) → (updates, state)``; ``formula``:
    the rule in the sources' symbols (the named optimisers give theirs)."""

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params], tuple[Params, Any]]
    name: str = "optimizer"
    formula: str = ""


def chain(*transforms: Optimizer, name: str = "chain", formula: str = "") -> Optimizer:
    """Apply ``transforms`` in order, each to the output of the one before."""

    def init(params: Params) -> Any:
        return tuple(t.init(params) for t in transforms)

    def update(grads: Params, state: Any, params: Params) -> tuple[Params, Any]:
        new_state = []
        for t, s in zip(transforms, state):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)

    return Optimizer(init, update, name, formula)


def _zeros(params: Params) -> Params:
    """One zero array per parameter, of its shape, dtype and backend."""
    return [namespace(p).zeros_like(p) for p in params]


def _stateless(fn: Callable[[Params, Params], Params], name: str) -> Optimizer:
    return Optimizer(lambda params: None, lambda g, s, p: (fn(g, p), s), name)


def scale_by_learning_rate(learning_rate: LearningRate) -> Optimizer:
    """u = −η_t g, with η_t = ``learning_rate(t)`` for a schedule (t counts steps from 0)."""
    if not callable(learning_rate):
        check_number(learning_rate, "learning_rate", low=0.0)

    def update(grads: Params, state: LearningRateState, params: Params) -> tuple[Params, LearningRateState]:
        eta = learning_rate(state.t) if callable(learning_rate) else learning_rate
        return [-eta * g for g in grads], LearningRateState(state.t + 1)

    return Optimizer(lambda params: LearningRateState(0), update, "learning_rate")


def trace(momentum: float, nesterov: bool = False) -> Optimizer:
    """v ← μ v + g;  u = v (heavy ball), or u = g + μ v (Nesterov)."""
    if not 0.0 <= momentum < 1.0:
        raise ParameterError(f"The 'momentum' parameter must be in [0, 1). Got {momentum!r} instead.")

    def update(grads: Params, state: TraceState, params: Params) -> tuple[Params, TraceState]:
        velocity = [momentum * v + g for v, g in zip(state.v, grads)]
        out = [g + momentum * v for g, v in zip(grads, velocity)] if nesterov else velocity
        return out, TraceState(velocity)

    return Optimizer(lambda params: TraceState(_zeros(params)), update, "trace")


def scale_by_rms(decay: float = 0.99, eps: float = 1e-8) -> Optimizer:
    """s ← ρ s + (1 − ρ) g²;  u = g / (√s + ε)."""
    _check_decay(decay, "decay")

    def update(grads: Params, state: RMSState, params: Params) -> tuple[Params, RMSState]:
        mean_square = [decay * s + (1.0 - decay) * g * g for s, g in zip(state.s, grads)]
        return [g / (namespace(s).sqrt(s) + eps) for g, s in zip(grads, mean_square)], RMSState(mean_square)

    return Optimizer(lambda params: RMSState(_zeros(params)), update, "rms")


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """u = m̂ / (√ŝ + ε), m̂ = m / (1 − β₁ᵗ), ŝ = s / (1 − β₂ᵗ): Adam's bias-corrected moments (:class:`AdamState`)."""
    _check_decay(b1, "b1")
    _check_decay(b2, "b2")

    def init(params: Params) -> AdamState:
        return AdamState(0, _zeros(params), _zeros(params))

    def update(grads: Params, state: AdamState, params: Params) -> tuple[Params, AdamState]:
        t = state.t + 1
        m = [b1 * mi + (1.0 - b1) * g for mi, g in zip(state.m, grads)]
        s = [b2 * si + (1.0 - b2) * g * g for si, g in zip(state.s, grads)]
        c1, c2 = 1.0 - b1**t, 1.0 - b2**t
        return [(mi / c1) / (namespace(si).sqrt(si / c2) + eps) for mi, si in zip(m, s)], AdamState(t, m, s)

    return Optimizer(init, update, "adam")


def add_decayed_weights(weight_decay: float) -> Optimizer:
    """u = g + λ w for the weights (arrays of 2+ dimensions); biases pass through."""
    check_number(weight_decay, "weight_decay", low=0.0, strict=False)
    return _stateless(
        lambda grads, params: [g + weight_decay * p if p.ndim >= 2 else g for g, p in zip(grads, params)],
        "weight_decay",
    )


def clip_by_global_norm(max_norm: float) -> Optimizer:
    """u = g · min(1, c / ‖g‖), ‖g‖ the Euclidean norm of all the gradients together."""
    check_number(max_norm, "max_norm", low=0.0)

    def clip(grads: Params, params: Params) -> Params:
        norm = math.sqrt(sum(float(namespace(g).sum(g * g)) for g in grads))
        return grads if norm <= max_norm else [g * (max_norm / norm) for g in grads]

    return _stateless(clip, "clip_by_global_norm")


def _check_decay(value: float, name: str) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
        raise ParameterError(f"The '{name}' parameter must be in [0, 1). Got {value!r} instead.")


def _with_clip(transforms: Sequence[Optimizer], clip_norm: float | None) -> list[Optimizer]:
    return [clip_by_global_norm(clip_norm), *transforms] if clip_norm is not None else list(transforms)


def _formula(
    rule: str, learning_rate: LearningRate, weight_decay: float, clip_norm: float | None, **constants: float
) -> str:
    """A named optimiser's rule for each parameter θ, g = ∂C/∂θ, after the gradient's clipping and
    coupled L2 (if any), with its constants' values: "g = ∂C/∂θ; v ← μ v + g; θ ← θ − η v (μ = 0.9, η = 0.5)"."""
    steps = ["g = ∂C/∂θ"]
    if clip_norm is not None:
        steps.append("g ← g · min(1, c / ‖g‖), ‖g‖ over all parameters")
        constants["c"] = clip_norm
    if weight_decay:
        steps.append("g ← g + λ w for the weights")
        constants["λ"] = weight_decay
    eta = "η_t (a schedule of the step t)" if callable(learning_rate) else f"η = {learning_rate:g}"
    values = ", ".join([*(f"{k} = {v:g}" for k, v in constants.items()), eta])
    return f"{'; '.join([*steps, rule])} ({values})"


# -- named optimisers ----------------------------------------------------------------------------


def sgd(
    learning_rate: LearningRate,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    clip_norm: float | None = None,
) -> Optimizer:
    """SGD (with momentum/Nesterov): w ← w − η (v or g + μ v), g including the L2 term λ w."""
    parts = [add_decayed_weights(weight_decay)] if weight_decay else []
    if momentum or nesterov:
        parts.append(trace(momentum, nesterov))
        rule = "v ← μ v + g; θ ← θ − η (g + μ v)" if nesterov else "v ← μ v + g; θ ← θ − η v"
        formula = _formula(rule, learning_rate, weight_decay, clip_norm, μ=momentum)
    else:
        formula = _formula("θ ← θ − η g", learning_rate, weight_decay, clip_norm)
    name = "nesterov" if nesterov else "momentum" if momentum else "sgd"  # the rule it follows (μ = 0: plain SGD)
    return chain(*_with_clip(parts, clip_norm), scale_by_learning_rate(learning_rate), name=name, formula=formula)


def rmsprop(
    learning_rate: LearningRate, decay: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
    clip_norm: float | None = None,
) -> Optimizer:  # fmt: skip
    """RMSprop: w ← w − η g / (√s + ε),  s ← ρ s + (1 − ρ) g²."""
    parts = [add_decayed_weights(weight_decay)] if weight_decay else []
    rule = "s ← ρ s + (1 − ρ) g²; θ ← θ − η g / (√s + ε)"
    return chain(
        *_with_clip([*parts, scale_by_rms(decay, eps)], clip_norm),
        scale_by_learning_rate(learning_rate),
        name="rmsprop",
        formula=_formula(rule, learning_rate, weight_decay, clip_norm, ρ=decay, ε=eps),
    )


def adam(
    learning_rate: LearningRate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
    clip_norm: float | None = None,
) -> Optimizer:  # fmt: skip
    """Adam (Kingma & Ba 2015); ``weight_decay`` is coupled L2, added to g before the moments."""
    parts = [add_decayed_weights(weight_decay)] if weight_decay else []
    return chain(
        *_with_clip([*parts, scale_by_adam(b1, b2, eps)], clip_norm),
        scale_by_learning_rate(learning_rate),
        name="adam",
        formula=_formula(
            _ADAM + "; θ ← θ − η m̂ / (√ŝ + ε)", learning_rate, weight_decay, clip_norm, β1=b1, β2=b2, ε=eps
        ),
    )


def adamw(
    learning_rate: LearningRate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.01,
    clip_norm: float | None = None,
) -> Optimizer:  # fmt: skip
    """AdamW (Loshchilov & Hutter 2019): w ← w − η (m̂/(√ŝ + ε) + λ w), the decay decoupled."""
    parts = _with_clip([scale_by_adam(b1, b2, eps)], clip_norm)
    rule = _ADAM + "; θ ← θ − η (m̂ / (√ŝ + ε) + λ w) (λ w for the weights only)"
    return chain(
        *parts,
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
        name="adamw",
        formula=_formula(rule, learning_rate, 0.0, clip_norm, β1=b1, β2=b2, ε=eps, λ=weight_decay),
    )


_ADAM = "t ← t + 1; m ← β1 m + (1 − β1) g; s ← β2 s + (1 − β2) g²; m̂ = m / (1 − β1^t); ŝ = s / (1 − β2^t)"


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": sgd,
    "momentum": lambda learning_rate, momentum=0.9, **kw: sgd(learning_rate, momentum=momentum, **kw),
    "nesterov": lambda learning_rate, momentum=0.9, **kw: sgd(learning_rate, momentum=momentum, nesterov=True, **kw),
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
}


def get_optimizer(name: str, learning_rate: LearningRate, **kwargs: Any) -> Optimizer:
    """A named optimiser (``sgd``, ``momentum``, ``nesterov``, ``rmsprop``, ``adam``, ``adamw``)."""
    if name not in OPTIMIZERS:
        raise ParameterError(f"The 'optimizer' parameter must be one of {sorted(OPTIMIZERS)}. Got {name!r} instead.")
    return OPTIMIZERS[name](learning_rate, **kwargs)
