"""Optimisers: one step recomputed from its formula, 10 steps against torch.optim, convergence."""

import numpy as np
import pytest

from ffnn import optimizers as opt_


def step(opt, grads, params, state=None):
    state = opt.init(params) if state is None else state
    updates, state = opt.update(grads, state, params)
    return [p + u for p, u in zip(params, updates)], state


@pytest.fixture
def problem(rng):
    return [rng.standard_normal((3, 4)), rng.standard_normal(3)], [rng.standard_normal((3, 4)), rng.standard_normal(3)]


def test_one_step_of_each_from_its_formula(problem):
    (w, b), (gw, gb) = problem
    eta, mu, lam = 0.1, 0.9, 0.01
    new, _ = step(opt_.sgd(eta), [gw, gb], [w, b])
    np.testing.assert_allclose(new[0], w - eta * gw, rtol=0, atol=1e-15)
    new, state = step(opt_.sgd(eta, momentum=mu), [gw, gb], [w, b])  # v = g on the first step
    new, _ = step(opt_.sgd(eta, momentum=mu), [gw, gb], new, state)  # v = μ g + g
    np.testing.assert_allclose(new[0], w - eta * gw - eta * (mu * gw + gw), atol=1e-15)
    new, _ = step(opt_.sgd(eta, momentum=mu, nesterov=True), [gw, gb], [w, b])  # u = g + μ v, v = g
    np.testing.assert_allclose(new[0], w - eta * (gw + mu * gw), atol=1e-15)
    new, _ = step(opt_.sgd(eta, weight_decay=lam), [gw, gb], [w, b])  # biases not decayed
    np.testing.assert_allclose(new[0], w - eta * (gw + lam * w), atol=1e-15)
    np.testing.assert_allclose(new[1], b - eta * gb, atol=1e-15)
    new, _ = step(opt_.rmsprop(eta, decay=0.9, eps=1e-8), [gw, gb], [w, b])
    np.testing.assert_allclose(new[0], w - eta * gw / (np.sqrt(0.1 * gw**2) + 1e-8), atol=1e-14)
    new, _ = step(opt_.adam(eta), [gw, gb], [w, b])  # first step: m̂ = g, ŝ = g² → u = −η g/(|g| + ε)
    np.testing.assert_allclose(new[0], w - eta * gw / (np.abs(gw) + 1e-8), atol=1e-14)
    new, _ = step(opt_.adamw(eta, weight_decay=lam), [gw, gb], [w, b])
    np.testing.assert_allclose(new[0], w - eta * (gw / (np.abs(gw) + 1e-8) + lam * w), atol=1e-14)
    norm = np.sqrt((gw**2).sum() + (gb**2).sum())
    new, _ = step(opt_.sgd(1.0, clip_norm=norm / 2), [gw, gb], [w, b])
    np.testing.assert_allclose(new[0], w - gw / 2, atol=1e-14)
    new, _ = step(opt_.sgd(1.0, clip_norm=norm * 2), [gw, gb], [w, b])  # under the limit: untouched
    np.testing.assert_allclose(new[0], w - gw, atol=1e-15)


def test_schedule_as_learning_rate(problem):
    (w, b), (gw, gb) = problem
    opt = opt_.sgd(lambda t: 0.5**t)
    params, state = step(opt, [gw, gb], [w, b])
    params, state = step(opt, [gw, gb], params, state)
    np.testing.assert_allclose(params[0], w - 1.0 * gw - 0.5 * gw, atol=1e-15)


CASES = [
    ("sgd", lambda: opt_.sgd(0.1), lambda t, ps: t.optim.SGD(ps, lr=0.1)),
    ("momentum", lambda: opt_.sgd(0.1, momentum=0.9), lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9)),
    (
        "nesterov+l2",
        lambda: opt_.sgd(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda t, ps: t.optim.SGD(
            [{"params": ps[:1], "weight_decay": 0.01}, {"params": ps[1:]}], lr=0.1, momentum=0.9, nesterov=True
        ),
    ),
    ("rmsprop", lambda: opt_.rmsprop(0.01, decay=0.9), lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-8)),
    ("adam", lambda: opt_.adam(0.01), lambda t, ps: t.optim.Adam(ps, lr=0.01)),
    (
        "adam+l2",
        lambda: opt_.adam(0.01, weight_decay=0.1),
        lambda t, ps: t.optim.Adam([{"params": ps[:1], "weight_decay": 0.1}, {"params": ps[1:]}], lr=0.01),
    ),
    (
        "adamw",
        lambda: opt_.adamw(0.01, weight_decay=0.1),
        lambda t, ps: t.optim.AdamW(
            [{"params": ps[:1], "weight_decay": 0.1}, {"params": ps[1:], "weight_decay": 0.0}], lr=0.01
        ),
    ),
]


@pytest.mark.parametrize(("name", "ours", "theirs"), CASES, ids=[c[0] for c in CASES])
def test_ten_steps_match_torch_optim(name, ours, theirs, rng):
    torch = pytest.importorskip("torch")
    params = [rng.standard_normal((3, 4)), rng.standard_normal(3)]
    tensors = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    reference = theirs(torch, tensors)
    opt = ours()
    state = opt.init(params)
    for _ in range(10):
        grads = [rng.standard_normal(p.shape) for p in params]
        updates, state = opt.update(grads, state, params)
        params = [p + u for p, u in zip(params, updates)]
        for t, g in zip(tensors, grads):
            t.grad = torch.tensor(g, dtype=torch.float64)
        reference.step()
    for p, t in zip(params, tensors):
        assert np.abs(p - t.detach().numpy()).max() < 1e-6


def run(opt, grad, x0, steps):
    x = [np.array(x0, dtype=float)]
    state = opt.init(x)
    for _ in range(steps):
        updates, state = opt.update([grad(x[0])], state, x)
        x = [x[0] + updates[0]]
    return x[0]


C = np.arange(1.0, 11.0)
OPTIMISERS = {
    "sgd": (lambda: opt_.sgd(0.05), lambda: opt_.sgd(2e-3), 40_000),
    "momentum": (lambda: opt_.sgd(0.01, momentum=0.9), lambda: opt_.sgd(5e-4, momentum=0.9), 20_000),
    "nesterov": (
        lambda: opt_.sgd(0.01, momentum=0.9, nesterov=True),
        lambda: opt_.sgd(5e-4, momentum=0.9, nesterov=True),
        20_000,
    ),
    "rmsprop": (lambda: opt_.rmsprop(0.01), lambda: opt_.rmsprop(1e-3), 20_000),
    "adam": (lambda: opt_.adam(0.05), lambda: opt_.adam(0.02), 10_000),
    "adamw": (lambda: opt_.adamw(0.05, weight_decay=0.0), lambda: opt_.adamw(0.02, weight_decay=0.0), 10_000),
}


@pytest.mark.parametrize("name", sorted(OPTIMISERS))
def test_converges_on_a_parabola_and_on_rosenbrock(name):
    parabola, rosen, steps = OPTIMISERS[name]
    x = run(parabola(), lambda x: 2 * C * x, np.ones(10), 2000)
    assert np.abs(x).max() < 1e-2, x  # f(x) = Σ c_i x_i², minimum at 0

    def rosenbrock_grad(p):
        x, y = p
        return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])

    p = run(rosen(), rosenbrock_grad, [-1.2, 1.0], steps)
    assert np.abs(p - 1.0).max() < 2e-2, p  # minimum at (1, 1)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: opt_.get_optimizer("adagrad", 0.1),
            r"'optimizer' parameter must be one of \['adam', 'adamw', 'momentum', 'nesterov', 'rmsprop', 'sgd'\]. "
            r"Got 'adagrad'",
        ),
        (lambda: opt_.sgd(-0.1), r"'learning_rate' parameter must be a number > 0.0. Got -0.1"),
        (lambda: opt_.sgd(0.1, momentum=1.5), r"'momentum' parameter must be in \[0, 1\). Got 1.5"),
        (lambda: opt_.adam(0.1, b2=1.0), r"'b2' parameter must be in \[0, 1\)"),
        (lambda: opt_.sgd(0.1, weight_decay=-1.0), r"'weight_decay' parameter must be a number >= 0.0"),
        (lambda: opt_.sgd(0.1, clip_norm=0.0), r"'max_norm' parameter must be a number > 0.0. Got 0.0"),
    ],
)
def test_bad_optimiser_settings(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_each_state_is_named_by_its_symbols(problem):
    """Each transform keeps a named state; one step from zero fills it as its rule says."""
    params, grads = problem
    b1, b2, rho, mu = 0.9, 0.999, 0.99, 0.9
    _, (adam, rate) = step(opt_.adam(0.1, b1, b2), grads, params)
    assert (type(adam), adam._fields, type(rate), rate) == (
        opt_.AdamState,
        ("t", "m", "s"),
        opt_.LearningRateState,
        (1,),
    )
    assert adam.t == 1
    for m, s, g in zip(adam.m, adam.s, grads):
        np.testing.assert_array_equal(m, (1 - b1) * g)
        np.testing.assert_array_equal(s, (1 - b2) * g * g)
    _, (rms, _) = step(opt_.rmsprop(0.1, rho), grads, params)
    _, (trace, _) = step(opt_.sgd(0.1, momentum=mu), grads, params)
    assert (rms._fields, trace._fields) == (("s",), ("v",))
    for s, v, g in zip(rms.s, trace.v, grads):
        np.testing.assert_array_equal(s, (1 - rho) * g * g)
        np.testing.assert_array_equal(v, g)
    clip, _, decay, _ = opt_.adamw(0.1, clip_norm=1.0).init(params)
    assert clip is None and decay is None  # stateless transforms keep None


def test_each_named_optimiser_is_called_by_its_name():
    """What messages and the explanation say: a divergence with momentum advises "a smaller
    learning rate for the momentum optimizer" (it said "sgd")."""
    for name in opt_.OPTIMIZERS:
        assert opt_.get_optimizer(name, 0.1).name == name
