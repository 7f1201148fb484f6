"""The playground's engine and API (Flask's test client): checks, determinism, one step against
the per-example reference, the deep preset's vanishing gradient, and the event stream."""

import base64
import copy
import dataclasses
import json
import time

import numpy as np
import pytest

import ffnn
from ffnn import Network, playground, serve, settings
from ffnn.callbacks import gradient_sizes
from ffnn.experiment import FIELDS, PRESETS, Config, Experiment, check_config
from ffnn.optimizers import get_optimizer
from ffnn.playground import Session, Sessions, create_app
from ffnn.reference import ReferenceNetwork
from ffnn.server import RequestError
from ffnn.steps import SGDStep
from waiting import wait_until


@pytest.fixture
def api():
    app, sessions = create_app()
    yield app.test_client(), sessions
    sessions.close()


def post(client, url, body=None):
    response = client.post(url, data=None if body is None else json.dumps(body))
    return response.status_code, response.get_json()


def messages(feed):
    """The feed's parts as one reader first sees them: {event name: parsed data}."""
    text = next(feed.events(min_interval=0)).decode()
    return {
        block.split("\n")[0].removeprefix("event: "): json.loads(block.split("\n", 1)[1].removeprefix("data: "))
        for block in text.strip().split("\n\n")
    }


# -- configs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"dataset": "iris"}, "'dataset' must be one of 'spirals', 'circles', 'moons', 'xor', 'four'; got 'iris'"),
        ({"points": 3}, "'points' must be an integer in [4, 2000]; got 3"),
        ({"points": 2001}, "'points' must be an integer in [4, 2000]"),
        ({"points": 10.5}, "'points' must be an integer"),
        ({"noise": 0.51}, "'noise' must be a number in [0, 0.5]; got 0.51"),
        ({"noise": "a lot"}, "'noise' must be a number in [0, 0.5]"),
        ({"hidden": [8] * 9}, "'hidden' must be a list of at most 8 layer sizes"),
        ({"hidden": [8, 17]}, "each 'hidden' layer size must be an integer in [1, 16]; got 17"),
        ({"hidden": [0]}, "each 'hidden' layer size must be an integer in [1, 16]; got 0"),
        ({"hidden": 8}, "'hidden' must be a list"),
        ({"activation": "softmax"}, "'activation' must be one of 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'identity'"),
        ({"cost": "hinge"}, "'cost' must be one of 'quadratic', 'cross_entropy', 'binary_cross_entropy'; got 'hinge'"),
        ({"init": "zeros"}, "'init' must be one of 'small_uniform', 'normal', 'scaled_normal', 'glorot', 'he'"),
        (
            {"optimizer": "lbfgs"},
            "'optimizer' must be one of 'sgd', 'momentum', 'nesterov', 'rmsprop', 'adam', 'adamw'",
        ),
        ({"learning_rate": 0}, "'learning_rate' must be a number in (0, 10]; got 0"),
        ({"learning_rate": 10.5}, "'learning_rate' must be a number in (0, 10]"),
        ({"batch_size": 0}, "'batch_size' must be an integer in [1, 1000]; got 0"),
        ({"batch_size": 201}, "'batch_size' must be an integer in [1, 200] (the training points: half of points)"),
        ({"dataset": "four", "batch_size": 5}, "'batch_size' must be an integer in [1, 4] (the training points: all"),
        ({"seed": -1}, "'seed' must be an integer in [0, 4294967295]; got -1"),
        ({"seed": True}, "'seed' must be an integer"),
        ({"depth": 3}, "unknown config field 'depth'; the fields are dataset, points, noise, hidden,"),
        ([1, 2], "the config must be a JSON object"),
    ],
)
def test_each_bad_field_is_a_400_naming_it_and_what_it_allows(api, body, words):
    client, sessions = api
    status, answer = post(client, "/api/sessions", body)
    assert status == 400 and words in answer["error"]
    assert len(sessions) == 0
    sid = post(client, "/api/sessions")[1]["id"]
    status, answer = post(client, f"/api/sessions/{sid}/reset", body)  # a reset is checked alike
    assert status == 400 and words in answer["error"]


def test_the_run_settings_fields_keep_their_rules_with_the_playgrounds_caps():
    """learning_rate is the setting eta (above 0) capped at 10; the choices are the settings'; an
    old init name reads as the one that replaced it, as it does for ``ffnn train``."""
    eta, learning_rate = settings.BY_NAME["eta"], FIELDS["learning_rate"]
    assert (learning_rate.low, learning_rate.above) == (eta.low, eta.above) == (0.0, True)
    assert (learning_rate.high, learning_rate.at_most, eta.high) == (10.0, True, None)
    for name in ("activation", "cost", "init", "optimizer"):
        assert FIELDS[name].choices == settings.BY_NAME[name].choices
    assert check_config({"init": "seed000"}).init == "small_uniform"
    assert check_config({"learning_rate": 2, "points": 40}) == Config(learning_rate=2.0, points=40)


HUGE = "1" + "0" * 400  # 10**400 as JSON text: an integer beyond float64's range


def test_a_number_beyond_float64_is_a_400_in_the_playground_as_in_serve(api):
    """The same 400-digit integer: a 400 naming the field and its rule on both pages (the
    playground answered 500, an OverflowError), checked by ``is_finite_number`` in each."""
    client, sessions = api
    for field, rule in [("learning_rate", "a number in (0, 10]"), ("points", "an integer in [4, 2000]")]:
        answer = client.post("/api/sessions", data=f'{{"{field}": {HUGE}}}')
        assert answer.status_code == 400
        assert answer.get_json() == {"error": f"'{field}' must be {rule}; got 10000000000000000000… (401 characters)."}
    assert len(sessions) == 0
    rows = [f"[{HUGE}{',0' * 27}]"] + ["[0" + ",0" * 27 + "]"] * 27
    drawing = serve.create_app(Network([784, 10], seed=0)).test_client()
    answer = drawing.post("/api/predict", data=f'{{"image": [{",".join(rows)}]}}', content_type="application/json")
    assert answer.status_code == 400
    assert answer.get_json() == {"error": '"image" values must be finite and in [0, 1] (white digit on black)'}


def test_malformed_requests_and_unknown_sessions(api):
    client, _ = api
    response = client.post("/api/sessions", data=b"{not json")
    assert response.status_code == 400 and "not valid JSON" in response.get_json()["error"]
    response = client.post("/api/sessions", data=b" " * (playground.MAX_CONFIG_BODY + 1))
    assert response.status_code == 413
    for method, url in [("POST", "/api/sessions/nope/play"), ("GET", "/api/sessions/nope/events"),
                        ("DELETE", "/api/sessions/nope"), ("POST", "/api/sessions/nope/reset")]:  # fmt: skip
        response = client.open(url, method=method)
        assert response.status_code == 404 and "no playground session 'nope'" in response.get_json()["error"]
    sid = post(client, "/api/sessions")[1]["id"]
    assert post(client, f"/api/sessions/{sid}/jump") == (
        404,
        {"error": "no command 'jump': the commands are play, pause, step, reset, speed and explain"},
    )
    assert client.get(f"/api/sessions/{sid}/play").status_code == 405
    assert client.delete(f"/api/sessions/{sid}").get_json() == {"id": sid, "deleted": True}
    assert post(client, f"/api/sessions/{sid}/play")[0] == 404


def test_the_ninth_session_gets_503_and_ids_are_unguessable(api):
    client, _ = api
    ids = [post(client, "/api/sessions", {"points": 20})[1]["id"] for _ in range(8)]
    assert len(set(ids)) == 8 and all(len(sid) >= 20 for sid in ids)
    response = client.post("/api/sessions", data="{}")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "8 playground sessions are open" in response.get_json()["error"]
    client.delete(f"/api/sessions/{ids[0]}")
    assert post(client, "/api/sessions")[0] == 201


def test_idle_sessions_are_dropped_with_their_thread_but_not_watched_ones():
    sessions = Sessions(idle=0.05)
    try:
        _, idle = sessions.create(Config(points=20))
        watched_id, watched = sessions.create(Config(points=20))
        idle.play()
        stream = watched.watched(watched.feed.events(min_interval=0))
        next(stream)  # the stream is open
        time.sleep(0.1)
        sessions.drop_idle()
        assert len(sessions) == 1 and sessions.get(watched_id) is watched
        assert not idle.playing and idle.feed.closed and idle._thread is None
        stream.close()
        time.sleep(0.1)
        sessions.drop_idle()
        assert len(sessions) == 0
    finally:
        sessions.close()


def test_options_and_presets_describe_every_field(api):
    client, _ = api
    options = client.get("/api/options").get_json()
    assert set(options["fields"]) == {f.name for f in dataclasses.fields(Config)}
    assert options["fields"]["learning_rate"] == {
        "low": 0.0, "high": 10.0, "integer": False, "open_low": True, "allowed": "a number in (0, 10]",
    }  # fmt: skip
    assert options["defaults"] == Config().as_json() and options["max_layers"] == 8
    presets = client.get("/api/presets").get_json()["presets"]
    assert [p["name"] for p in presets] == list(PRESETS)
    for p in presets:  # each preset is a config the checks accept as it is
        assert check_config(p["config"]).as_json() == p["config"]


# -- the numbers -----------------------------------------------------------------------------


def test_the_same_config_gives_the_same_numbers_and_another_seed_others():
    def run(config):
        experiment = Experiment(config)
        costs = [experiment.step() for _ in range(60)]
        return costs, experiment.network.weights

    config = Config(dataset="moons", points=100, optimizer="adam", learning_rate=0.01)
    (costs, weights), (again, weights_again) = run(config), run(config)
    assert costs == again
    for w, w2 in zip(weights, weights_again):
        np.testing.assert_array_equal(w, w2)
    assert run(dataclasses.replace(config, seed=1))[0] != costs


@pytest.mark.parametrize("config", [PRESETS["four-example toy (source 002)"],
    Config(dataset="moons", points=40, hidden=(5, 3), activation="tanh", cost="cross_entropy", batch_size=20,
           learning_rate=0.7)])  # fmt: skip
def test_one_step_is_the_per_example_reference_update(config):
    """Batch = every training point, plain SGD: one step must equal source 003's update_mini_batch."""
    experiment = Experiment(dataclasses.replace(config, optimizer="sgd"))
    net = experiment.network
    names = [a.name for a in net.activations]
    oracle = ReferenceNetwork(net.sizes, names, config.cost, [w.copy() for w in net.weights],
                              [b.copy() for b in net.biases])  # fmt: skip
    examples = [(x.reshape(-1, 1), np.eye(2)[k].reshape(-1, 1)) for x, k in zip(experiment.X, experiment.y)]
    assert len(examples) == config.batch_size  # the whole training set is one mini-batch
    oracle.update_mini_batch(examples, config.learning_rate)
    experiment.step()
    for ours, theirs in zip(net.weights + net.biases, oracle.weights + [b.ravel() for b in oracle.biases]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert not np.allclose(net.weights[0], Experiment(config).network.weights[0])  # the step changed them


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize(("steps", "fit_kw"), [(1, {"epochs": 1, "batches_per_epoch": 1}), (11, {"epochs": 1}),
                                               (22, {"epochs": 2})])  # fmt: skip
def test_playground_steps_are_fits_mini_batches_bit_for_bit(optimizer, steps, fit_kw):
    """k steps of the playground, and ffnn.fit over the same k mini-batches (same network, data,
    batch size and seed, float64): every weight and bias identical, and so each epoch's cost."""
    config = Config(dataset="moons", points=110, hidden=(6, 5), batch_size=5, optimizer=optimizer, learning_rate=0.3)
    experiment = Experiment(config)
    net = copy.deepcopy(experiment.network)  # the same initial parameters, before any step
    costs = [experiment.step() for _ in range(steps)]  # 55 training points: 11 batches an epoch
    rule = {"eta": 0.3} if optimizer == "sgd" else {"optimizer": get_optimizer("adam", 0.3)}
    history = ffnn.fit(net, experiment.X, experiment.y, batch_size=5, seed=config.seed, **rule, **fit_kw)
    assert net.dtype == np.float64
    for ours, theirs in zip(experiment.network.parameters(), net.parameters(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    per_epoch = min(steps, 11)
    assert [float(np.mean(costs[i : i + per_epoch])) for i in range(0, steps, per_epoch)] == history.train_cost
    assert not np.array_equal(net.weights[0], Experiment(config).network.weights[0])  # they trained


def test_playground_sgd_is_the_fused_step_and_keeps_the_mini_batchs_gradient():
    experiment = Experiment(Config(dataset="moons", points=40, batch_size=20, optimizer="sgd"))
    assert isinstance(experiment.trainer.update, SGDStep)
    before = copy.deepcopy(experiment.network)
    experiment.step()
    rows = experiment.order[:20]
    nabla_b, nabla_w = before.backprop(experiment.X[rows], experiment.y[rows])
    kept = experiment.trainer.ws
    for ours, theirs in zip(kept.nabla_w + kept.nabla_b, nabla_w + nabla_b, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def first_layer_gradient(config):
    experiment = Experiment(config)
    experiment.step()
    return experiment.gradient_sizes()[0]


def test_the_deep_preset_shows_the_vanishing_gradient():
    """8 sigmoid layers of 8: the first layer's gradient is far below ReLU's, on every seed tried."""
    sigmoid, relu = PRESETS["deep sigmoid (stops learning)"], PRESETS["deep ReLU (keeps learning)"]
    assert dataclasses.replace(sigmoid, activation="relu") == relu  # only the activation differs
    ratio = first_layer_gradient(relu) / first_layer_gradient(sigmoid)
    assert ratio > 1000  # measured: 3.77e4 with the preset's seed 0, and at least 273 over seeds 0–99
    ratios = [first_layer_gradient(dataclasses.replace(relu, seed=s)) /
              first_layer_gradient(dataclasses.replace(sigmoid, seed=s)) for s in range(1, 11)]  # fmt: skip
    assert min(ratios) >= 10


@pytest.mark.parametrize(("config", "steps", "fraction"), [
    (PRESETS["spirals"], 300, 0.5),
    (Config(dataset="xor", points=200, hidden=(8,), optimizer="adam", learning_rate=0.03), 300, 0.5),
    (PRESETS["four-example toy (source 002)"], 400, 0.2),
    (PRESETS["deep ReLU (keeps learning)"], 1500, 0.5),
])  # fmt: skip
def test_the_cost_falls(config, steps, fraction):
    experiment = Experiment(config)
    before = experiment.frame()
    for _ in range(steps):
        experiment.step()
    after = experiment.frame()
    assert after["train_cost"] < fraction * before["train_cost"]
    assert after["train_accuracy"] > 0.9 and after["step"] == steps


def test_a_frame_holds_what_the_page_draws():
    experiment = Experiment(Config(dataset="circles", points=200, hidden=(8,), batch_size=50, learning_rate=1.0))
    assert experiment.frame()["gradients"] is None  # no mini-batch yet
    experiment.step()
    before = copy.deepcopy(experiment.network)  # the network the second mini-batch was backpropagated through
    rows = experiment.order[50:100]
    experiment.step()
    frame = experiment.frame()
    assert (frame["step"], frame["epoch"]) == (2, 1)  # 100 training points, batches of 50
    assert [np.shape(w) for w in frame["weights"]] == [(8, 2), (2, 8)] and len(frame["biases"]) == 2
    expected = gradient_sizes(before, experiment.X[rows], experiment.y[rows])  # the last mini-batch's, anew
    assert frame["gradients"] == pytest.approx(expected, rel=1e-10)
    x0, x1, y0, y1 = experiment.box
    assert x0 < experiment.X[:, 0].min() and x1 > experiment.X[:, 0].max()
    assert y0 < experiment.X[:, 1].min() and y1 > experiment.X[:, 1].max()
    for _ in range(400):
        experiment.step()
    regions = np.frombuffer(base64.b64decode(experiment.frame()["regions"]), np.uint8).reshape(60, 60)
    assert regions[25:35, 25:35].mean() > 200 and regions[:5, :5].mean() < 50  # inner circle: class 1


# -- sessions and their stream ---------------------------------------------------------------


def test_play_pause_step_and_reset_through_the_api(api):
    client, sessions = api
    status, created = post(client, "/api/sessions", {"dataset": "moons", "points": 200})
    sid = created["id"]
    assert status == 201 and created["step"] == 0 and not created["playing"]
    assert post(client, f"/api/sessions/{sid}/step")[1]["step"] == 1
    assert post(client, f"/api/sessions/{sid}/play")[1]["playing"]
    assert post(client, f"/api/sessions/{sid}/step") == (
        409,
        {"error": "the session is playing: pause it before taking single steps"},
    )
    wait_until(lambda: sessions.get(sid).experiment.steps > 50)  # playing: steps go on by themselves
    paused = post(client, f"/api/sessions/{sid}/pause")[1]
    assert not paused["playing"] and paused["step"] > 50
    time.sleep(0.1)
    assert post(client, f"/api/sessions/{sid}/step")[1]["step"] == paused["step"] + 1  # stopped while paused
    status, reset = post(client, f"/api/sessions/{sid}/reset", {"activation": "relu"})
    assert (reset["step"], reset["config"]["activation"], reset["config"]["dataset"]) == (0, "relu", "moons")


def test_the_stream_delivers_frames_points_and_a_bounded_curve(api, monkeypatch):
    client, _ = api
    monkeypatch.setattr(playground, "MAX_CURVE", 8)
    sid = post(client, "/api/sessions", {"dataset": "moons", "points": 100})[1]["id"]
    for _ in range(20):
        post(client, f"/api/sessions/{sid}/step")
    response = client.get(f"/api/sessions/{sid}/events")
    assert response.mimetype == "text/event-stream"
    stream = iter(response.response)
    assert next(stream) == b"retry: 2000\n\n"
    text = next(stream).decode()
    response.close()
    parts = {b.split("\n")[0][7:]: json.loads(b.split("\n", 1)[1][6:]) for b in text.strip().split("\n\n")}
    assert parts["frame"]["step"] == 20 and parts["status"] == {"state": "paused"}
    assert len(parts["points"]["train"]) == 50 and len(parts["points"]["test"]) == 50
    assert parts["session"]["sizes"] == [2, 8, 8, 2]
    steps = [p["step"] for p in parts["curve"]["items"]]
    assert len(steps) <= 8 and steps == sorted(steps) and steps[-1] == 20  # halved, newest kept


def test_a_diverging_run_stops_and_says_what_to_do():
    session = Session(Config(dataset="moons", points=200, activation="identity", init="normal",
                             hidden=(16, 16, 16), learning_rate=10.0))  # fmt: skip
    try:
        session.play()
        wait_until(lambda: not session.playing)
        parts = messages(session.feed)
        assert parts["status"]["state"] == "diverged" and "try a smaller learning rate" in parts["status"]["message"]
        assert not session.playing
    finally:
        session.close()


def test_playing_publishes_at_most_the_frame_rate():
    session = Session(Config(dataset="moons", points=200))
    try:
        start = time.monotonic()
        session.play()
        wait_until(lambda: len(messages(session.feed)["curve"]["items"]) >= 10)
        session.pause()
        seconds = time.monotonic() - start  # at least as long as it played, however busy the machine
        curve = messages(session.feed)["curve"]["items"]  # one point per frame
        assert 10 <= len(curve) <= playground.FRAMES_PER_SECOND * seconds + 3  # + the first, the pause's
        assert curve[-1]["step"] > 20 * len(curve)  # far more steps than frames
    finally:
        session.close()


def test_commands_racing_on_one_session_neither_fail_nor_hang():
    """Play against pause, and play against close, from two threads at once, 200 times: each
    command ends within seconds, none raises, and no training thread is left behind (the race
    gave "cannot join thread before it is started" — a 500 — and pauses that waited forever)."""
    import threading

    errors = []

    def run(command):
        try:
            command()
        except RequestError as e:  # a play after close is refused, as meant: 404
            if e.status != 404:
                errors.append(repr(e))
        except Exception as e:  # every other failure is collected, none hidden
            errors.append(repr(e))

    for other in ("pause", "close"):
        session = Session(check_config({"dataset": "moons", "points": 200}))
        for _ in range(200):
            pair = [threading.Thread(target=run, args=(c,)) for c in (session.play, getattr(session, other))]
            for thread in pair:
                thread.start()
            for thread in pair:
                thread.join(timeout=120)  # a safety net only
            assert not any(thread.is_alive() for thread in pair), f"play against {other} hangs"
            session.pause()
        session.close()
    assert errors == []
    time.sleep(0.2)
    assert not any(t.name == "ffnn-playground" for t in threading.enumerate())  # every training thread ended


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://evil.example"}, 403),  # another site's page: refused before anything happens
        ({"Origin": "http://127.0.0.1:9999"}, 403),  # another port is another origin
        ({"Origin": "null"}, 403),  # a sandboxed or file page
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}, 201),  # its own page
        ({}, 201),  # no page at all: curl, Python
    ],
)
def test_another_web_sites_page_cannot_drive_the_server(api, headers, status):
    client, sessions = api
    answer = client.post("/api/sessions", data="{}", content_type="text/plain", headers=headers)
    assert answer.status_code == status
    if status == 403:
        assert "another web site" in answer.get_json()["error"] and len(sessions) == 0


def test_no_preflight_is_answered(api):
    client, _ = api
    answer = client.options("/api/sessions")
    assert answer.status_code == 405 and "OPTIONS" in answer.get_json()["error"]


# -- the speed -------------------------------------------------------------------------------


def test_the_speed_is_checked_and_holds_across_resets(api):
    client, _ = api
    assert client.get("/api/options").get_json()["speed"] == {
        "low": 1, "high": 1000, "integer": False, "open_low": False, "allowed": "a number in [1, 1000]",
    }  # fmt: skip
    status, created = post(client, "/api/sessions", {"points": 20})
    sid = created["id"]
    assert created["steps_per_second"] is None  # as fast as it goes
    assert post(client, f"/api/sessions/{sid}/speed", {"steps_per_second": 5})[1]["steps_per_second"] == 5.0
    assert post(client, f"/api/sessions/{sid}/reset", {"points": 40})[1]["steps_per_second"] == 5.0
    assert post(client, f"/api/sessions/{sid}/speed", {"steps_per_second": None})[1]["steps_per_second"] is None
    rule = "'steps_per_second' (null: as fast as it goes) must be a number in [1, 1000]"
    for body, words in [
        ({"steps_per_second": 0.5}, f"{rule}; got 0.5."),
        ({"steps_per_second": 1001}, f"{rule}; got 1001."),
        ({"steps_per_second": "fast"}, f"{rule}; got 'fast'."),
        ({"steps_per_second": True}, f"{rule}; got True."),
        ({}, 'send {"steps_per_second": 5} (or null: as fast as it goes)'),
        ({"steps_per_second": 5, "then": 1}, 'send {"steps_per_second": 5}'),
        ([5], 'send {"steps_per_second": 5}'),
    ]:
        status, answer = post(client, f"/api/sessions/{sid}/speed", body)
        assert (status, answer["error"][: len(words)]) == (400, words)
    assert client.post(f"/api/sessions/{sid}/speed", data=b"").status_code == 400  # no body: not JSON


def test_a_paced_session_takes_at_least_a_step_time_between_steps_and_pauses_between_them():
    """At s steps a second, n steps take at least (n − 1)/s seconds however fast the machine (one-sided:
    a busy machine is only slower); a Pause stops it between two steps, and the speed holds."""
    session = Session(Config(dataset="moons", points=40))
    try:
        session.set_speed(20.0)
        start = time.monotonic()
        session.play()
        wait_until(lambda: session.experiment.steps >= 11)
        assert time.monotonic() - start >= 10 / 20  # unpaced, 11 steps took about 5 ms
        session.pause()
        stopped = session.experiment.steps
        assert not session.playing and session._thread is None
        time.sleep(0.2)
        assert session.experiment.steps == stopped
        session.set_speed(5.0)  # a new speed while paused: the next Play keeps it
        start, before = time.monotonic(), session.experiment.steps
        session.play()
        wait_until(lambda: session.experiment.steps >= before + 3)
        assert time.monotonic() - start >= 2 / 5
    finally:
        session.close()


# -- explain mode ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        PRESETS["four-example toy (source 002)"],  # quadratic cost, sigmoid output: BP1 through σ'
        Config(dataset="moons", points=40, hidden=(3, 2), optimizer="adam", learning_rate=0.05),  # softmax, adam
    ],
)
def test_explain_is_ffnn_explain_of_the_sessions_network_and_point(api, config):
    """After 3 mini-batches through the API, POST explain {"point": 2}: the explanation is
    ffnn.explain.explain's for the same network (the same config and steps, rebuilt here), the
    same point and the same update rule, number for number; σ'(z) is each activation's; the
    session's network is not changed by it."""
    from ffnn.activations import get_activation
    from ffnn.explain import explain

    client, sessions = api
    sid = post(client, "/api/sessions", config.as_json())[1]["id"]
    for _ in range(3):
        post(client, f"/api/sessions/{sid}/step")
    status, answer = post(client, f"/api/sessions/{sid}/explain", {"point": 2})
    assert status == 200 and answer["point"] == 2

    same = Experiment(config)
    for _ in range(3):
        same.step()
    optimizer = None if config.optimizer == "sgd" else get_optimizer(config.optimizer, config.learning_rate)
    expected = explain(same.network, same.X[2], same.y[2], eta=config.learning_rate, optimizer=optimizer)
    assert answer["explanation"] == json.loads(json.dumps(expected.as_dict()))
    assert answer["explanation"]["optimizer"]["name"] == config.optimizer
    for layer, sigma in zip(expected.layers, answer["sigma_prime"], strict=True):
        if layer.activation == "softmax":
            assert sigma is None
        else:
            assert sigma == get_activation(layer.activation).derivative(layer.a[0]).tolist()
    assert answer["fused_bp1"] == (config.cost == "cross_entropy")  # a − y, or (a − y) σ'(z) for quadratic

    kept = sessions.get(sid).experiment.network  # explained, not stepped
    for ours, theirs in zip(kept.parameters(), same.network.parameters(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_explain_refuses_what_is_not_a_training_point_and_a_playing_or_diverged_session(api):
    client, _ = api
    sid = post(client, "/api/sessions", {"points": 20})[1]["id"]  # 10 training points
    rule = "'point' (the index of a training point) must be an integer in [0, 9]"
    for body, words in [
        ({"point": 10}, f"{rule}; got 10."),
        ({"point": -1}, f"{rule}; got -1."),
        ({"point": 1.5}, f"{rule}; got 1.5."),
        ({"point": "3"}, f"{rule}; got '3'."),
        ({}, 'send {"point": 0}, the index of a training point'),
        ({"point": 1, "stage": 2}, 'send {"point": 0}'),
    ]:
        status, answer = post(client, f"/api/sessions/{sid}/explain", body)
        assert (status, answer["error"][: len(words)]) == (400, words)
    post(client, f"/api/sessions/{sid}/play")
    assert post(client, f"/api/sessions/{sid}/explain", {"point": 0}) == (
        409,
        {"error": "the session is playing: pause it before explaining a step"},
    )
    post(client, f"/api/sessions/{sid}/pause")
    assert post(client, f"/api/sessions/{sid}/explain", {"point": 0})[0] == 200


def test_explain_after_divergence_says_what_to_do(api):
    client, sessions = api
    config = {"dataset": "moons", "points": 200, "activation": "identity", "init": "normal",
              "hidden": [16, 16, 16], "learning_rate": 10.0}  # fmt: skip
    sid = post(client, "/api/sessions", config)[1]["id"]
    post(client, f"/api/sessions/{sid}/play")
    wait_until(lambda: not sessions.get(sid).playing)  # it diverged and stopped
    status, answer = post(client, f"/api/sessions/{sid}/explain", {"point": 0})
    assert status == 400
    assert answer["error"] == (
        "the network's numbers are not finite (training diverged): try a smaller learning rate (it is 10.0), and Reset"
    )
