"""``ffnn playground``: pick a 2-D data set and a network in the browser and watch ffnn's own
backpropagation train it, live. The training runs here (:mod:`ffnn.experiment`); the page draws.

A session is one tab's experiment, with a thread that trains while it plays and a
:class:`ffnn.feed.Feed` the page reads as server-sent events. Its parts (JSON):

- ``session``: the config in force and the network's sizes (once per reset);
- ``points``: the training and test points and the box the regions cover (once per reset);
- ``frame`` (at most ``FRAMES_PER_SECOND`` a second while playing, and after every command):
  :meth:`ffnn.experiment.Experiment.frame` — step, epoch, costs, accuracies, decision regions,
  gradient sizes, weights and biases;
- the list ``curve``: {step, train, test} cost per frame; past ``MAX_CURVE`` points every second
  one is dropped (the list is replaced), so it stays bounded however long the run;
- ``status``: ``{"state": "paused" | "playing" | "diverged", "message": ...}``.

The API (JSON bodies and answers; every refusal ``{"error": ...}`` with a 4xx status):

- ``GET /api/options`` → the fields, each with its choices or range (from its setting in
  ``ffnn.experiment.FIELDS``), the defaults and the limits; ``GET /api/presets`` →
  ``{"presets": [{"name", "config"}]}``;
- ``POST /api/sessions`` with a config (any fields; the rest default) → ``{"id", "config", ...}``;
  503 when ``MAX_SESSIONS`` are open;
- ``GET /api/sessions/ID/events``: the feed;
- ``POST /api/sessions/ID/play | pause | step | reset`` (reset: with changed fields, if any);
  ``step`` while playing is 409; ``DELETE /api/sessions/ID``. An unknown ID is 404;
- ``POST /api/sessions/ID/speed`` with ``{"steps_per_second": s}``: while playing, one step every
  1/s seconds, s in [1, ``MAX_SPEED``], or as fast as it goes with ``null`` (the default); it holds
  across resets, and a change (or a Pause) takes effect at once, not after the wait in progress;
- ``POST /api/sessions/ID/explain`` with ``{"point": i}`` (paused; 409 while playing) → one step
  of backpropagation of training point i through the network as it is now, every number in it
  (:meth:`ffnn.experiment.Experiment.explain`: ``ffnn explain``'s JSON and what the page adds).

A session nobody watches (no open stream) and nobody asks anything for ``IDLE_SECONDS`` is
dropped, its thread with it. The server and its safety rules are :mod:`ffnn.server`'s.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from ffnn.errors import ParameterError
from ffnn.experiment import FIELDS, MAX_LAYERS, PRESETS, Config, Experiment, check_config
from ffnn.feed import Feed
from ffnn.server import (
    RequestError,
    Streams,
    add_page,
    address,
    base_app,
    json_answer,
    make_server,
    parse_json,
    require_extras,
    run_until_interrupted,
    warn_if_public,
)
from ffnn.settings import Setting, check_value

FRAMES_PER_SECOND = 15
MAX_CURVE = 1000  # cost-curve points kept; past it, every second one is dropped
MAX_SESSIONS = 8
IDLE_SECONDS = 120.0
MAX_CONFIG_BODY = 16 * 1024  # bytes
MAX_SPEED = 1000  # steps a second, the fastest paced speed; faster is ``null``, as fast as it goes
SPEED = Setting("steps_per_second", 1.0, "steps a second while playing", low=1, high=MAX_SPEED, at_most=True)


class Session:
    """One tab's experiment: plays in a thread of its own, publishes to ``feed`` (module docstring)."""

    def __init__(self, config: Config) -> None:
        self.feed = Feed()
        self.watchers = 0  # open event streams
        self.last_seen = time.monotonic()
        self._lock = threading.Lock()  # the experiment: one step or one change at a time
        self._control = threading.RLock()  # the commands (play, pause, step, reset, close): one at a time
        self._closed = False
        self._playing = threading.Event()
        self._pace = threading.Condition()  # wakes a training thread waiting for its next step's time
        self.speed: float | None = None  # steps a second while playing; None: as fast as it goes
        self._thread: threading.Thread | None = None
        self._curve_step = -1  # the step of the cost curve's last point
        self._framed = 0.0
        self._start(config)

    @property
    def config(self) -> Config:
        return self.experiment.config

    @property
    def playing(self) -> bool:
        return self._playing.is_set()

    def play(self) -> None:
        """Train in a background thread, at :attr:`speed`, until :meth:`pause`."""
        with self._control:
            if self._closed:  # a play that raced a DELETE: no thread nobody could stop
                raise RequestError("this session was closed; reload the page", 404)
            if self._thread is not None and self._thread.is_alive():
                return
            self._playing.set()
            self.feed.set("status", {"state": "playing"})
            thread = threading.Thread(target=self._train, name="ffnn-playground", daemon=True)
            thread.start()
            self._thread = thread

    def pause(self) -> None:
        """Stop the thread (after its current step) and publish where it stopped."""
        with self._control:
            self._stop()
            with self._lock:
                if self._publish():
                    self.feed.set("status", {"state": "paused"})

    def step(self) -> None:
        """One mini-batch (only while paused)."""
        with self._control:
            if self.playing:
                raise RequestError("the session is playing: pause it before taking single steps", 409)
            with self._lock:
                self.experiment.step()
                self._publish()

    def explain(self, point: Any) -> dict[str, Any]:
        """One step of backpropagation of training point ``point``, explained (only while paused)."""
        with self._control:
            if self.playing:
                raise RequestError("the session is playing: pause it before explaining a step", 409)
            with self._lock:
                try:
                    return self.experiment.explain(point)
                except ParameterError as e:
                    raise RequestError(str(e)) from None

    def set_speed(self, speed: float | None) -> None:
        """Play at ``speed`` steps a second (None: as fast as it goes), from the next step on: a
        training thread waiting for its step's time wakes and waits for the new time instead."""
        with self._pace:
            self.speed = speed
            self._pace.notify_all()

    def reset(self, config: Config) -> None:
        """Stop, and start again from ``config`` (paused)."""
        with self._control:
            self._stop()
            with self._lock:
                self._start(config)

    def close(self) -> None:
        """Stop the thread and end the page's stream."""
        with self._control:
            self._closed = True
            self._stop()
            self.feed.close()

    def watched(self, stream: Iterable[bytes]) -> Iterator[bytes]:
        """``stream``, counted in :attr:`watchers` while it is open."""
        with self._lock:
            self.watchers += 1
        try:
            yield from stream
        finally:
            with self._lock:
                self.watchers -= 1
            self.last_seen = time.monotonic()

    def _stop(self) -> None:
        with self._pace:
            self._playing.clear()
            self._pace.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _start(self, config: Config) -> None:
        self.experiment = Experiment(config)
        self.feed.set("session", {"config": config.as_json(), "sizes": self.experiment.network.sizes})
        self.feed.set("points", self.experiment.points())
        self._curve_step = -1
        self.feed.replace("curve", [])
        self._publish()
        self.feed.set("status", {"state": "paused"})

    def _train(self) -> None:
        began = -math.inf  # when the last step began
        while self._wait_for_turn(began):
            began = time.monotonic()
            with self._lock:
                self.experiment.step()
                if time.monotonic() - self._framed >= 1.0 / FRAMES_PER_SECOND and not self._publish():
                    self._playing.clear()
            time.sleep(0)  # let the server's threads have the GIL between steps

    def _wait_for_turn(self, began: float) -> bool:
        """Wait until the next step is due, 1/:attr:`speed` seconds after the last ``began`` (at
        once at full speed), on a condition that a Pause or a change of speed wakes; whether to
        take it (False: the session was paused)."""
        with self._pace:
            while self._playing.is_set():
                wait = 0.0 if self.speed is None else began + 1.0 / self.speed - time.monotonic()
                if wait <= 0:
                    return True
                self._pace.wait(wait)
        return False

    def _publish(self) -> bool:
        """Publish a frame and a cost-curve point; False (and status ``diverged``) if the numbers
        are no longer finite."""
        self._framed = time.monotonic()
        frame = self.experiment.frame()
        if frame is None:
            self._playing.clear()
            advice = self.experiment.advice
            message = f"training diverged at step {self.experiment.steps} (the numbers overflowed): {advice}, and Reset"
            self.feed.set("status", {"state": "diverged", "message": message})
            return False
        self.feed.set("frame", frame)
        if frame["step"] == self._curve_step:
            return True  # a frame again (after Pause): the curve has this step
        self._curve_step = frame["step"]
        self.feed.append(
            "curve", {"step": frame["step"], "train": frame["train_cost"], "test": frame["test_cost"]}, MAX_CURVE
        )
        return True


class Sessions:
    """The open sessions, at most ``limit``; one idle for ``idle`` seconds is dropped (see the
    module docstring) by a thread that looks every few seconds."""

    def __init__(self, limit: int = MAX_SESSIONS, idle: float = IDLE_SECONDS) -> None:
        self.limit, self.idle = limit, idle
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._drop_idle_ones, name="ffnn-playground-idle", daemon=True).start()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, config: Config) -> tuple[str, Session]:
        self.drop_idle()
        with self._lock:
            if len(self._sessions) >= self.limit:
                raise RequestError(
                    f"{self.limit} playground sessions are open, the most this server keeps; close a playground tab "
                    f"(an idle one is dropped after {self.idle:.0f} s) and try again",
                    503,
                )
            sid = secrets.token_urlsafe(16)
            self._sessions[sid] = session = Session(config)
        return sid, session

    def get(self, sid: str) -> Session:
        session = self._sessions.get(sid)
        if session is None:
            raise RequestError(f"no playground session {sid!r} (closed, or dropped after being idle): reload", 404)
        session.last_seen = time.monotonic()
        return session

    def delete(self, sid: str) -> None:
        self.get(sid)
        with self._lock:
            session = self._sessions.pop(sid, None)
        if session is not None:
            session.close()

    def drop_idle(self) -> None:
        """Close the sessions with no open stream and no request for ``idle`` seconds."""
        now = time.monotonic()
        with self._lock:
            idle = [sid for sid, s in self._sessions.items() if not s.watchers and now - s.last_seen > self.idle]
            dropped = [self._sessions.pop(sid) for sid in idle]
        for session in dropped:
            session.close()

    def close(self) -> None:
        """Close every session (the server is stopping)."""
        self._closed.set()
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close()

    def _drop_idle_ones(self) -> None:
        while not self._closed.wait(min(5.0, self.idle / 4)):
            self.drop_idle()


def options() -> dict[str, Any]:
    """The fields the page builds its controls from (:func:`control`), defaults, limits."""
    fields = {name: control(setting) for name, setting in FIELDS.items()}
    return {
        "fields": fields,
        "defaults": Config().as_json(),
        "max_layers": MAX_LAYERS,
        "max_sessions": MAX_SESSIONS,
        "speed": control(SPEED),
    }


def control(setting: Setting) -> dict[str, Any]:
    """What the page needs of a field's setting: ``{"choices"}``, or a number's ``low`` and ``high``,
    whether it is an ``integer``, whether ``low`` is excluded (``open_low``), and the rule in words
    (``allowed``)."""
    if setting.choices:
        return {"choices": list(setting.choices)}
    return {
        "low": setting.low,
        "high": setting.high,
        "integer": type(setting.default) is int,
        "open_low": setting.above,
        "allowed": setting.rule(),
    }


def parse_config(body: bytes, base: Config | None = None) -> Config:
    """The config a request's JSON body gives (an empty body: ``base`` unchanged), or RequestError."""
    if len(body) <= MAX_CONFIG_BODY and not body.strip():
        return base or Config()
    raw = parse_json(body, MAX_CONFIG_BODY, 'a config object such as {"dataset": "moons"}')
    try:
        return check_config(raw, base)
    except ParameterError as e:
        raise RequestError(str(e)) from None


def parse_speed(body: bytes) -> float | None:
    """The speed a request's JSON body ``{"steps_per_second": s}`` gives (null: as fast as it
    goes), checked against :data:`SPEED`, or RequestError."""
    example = '{"steps_per_second": 5} (or null: as fast as it goes)'
    raw = parse_json(body, MAX_CONFIG_BODY, example)
    if not isinstance(raw, dict) or set(raw) != {"steps_per_second"}:
        raise RequestError(f"send {example}")
    if raw["steps_per_second"] is None:
        return None
    try:
        return float(check_value(SPEED, raw["steps_per_second"], "'steps_per_second' (null: as fast as it goes)"))
    except ParameterError as e:
        raise RequestError(str(e)) from None


def describe(sid: str, session: Session) -> dict[str, Any]:
    return {
        "id": sid,
        "config": session.config.as_json(),
        "playing": session.playing,
        "step": session.experiment.steps,
        "steps_per_second": session.speed,
    }


def create_app(host: str = "127.0.0.1", sessions: Sessions | None = None) -> tuple[Any, Sessions]:
    """The playground's application on a server bound to ``host``, and its sessions."""
    require_extras("ffnn playground")  # before Flask is imported: say what to install
    from flask import request

    sessions = sessions or Sessions()
    streams = Streams(2 * MAX_SESSIONS)
    app = base_app(host)
    add_page(app, "/", "playground.html")

    def create() -> Any:
        sid, session = sessions.create(parse_config(request.get_data()))
        return json_answer(describe(sid, session), 201)

    def events(sid: str) -> Any:
        session = sessions.get(sid)
        response = streams.open(session.feed, min_interval=1.0 / FRAMES_PER_SECOND)
        response.response = session.watched(response.response)
        return response

    def command(sid: str, action: str) -> Any:
        session = sessions.get(sid)
        if action == "reset":
            session.reset(parse_config(request.get_data(), session.config))
        elif action == "speed":
            session.set_speed(parse_speed(request.get_data()))
        elif action == "explain":
            example = '{"point": 0}, the index of a training point'
            raw = parse_json(request.get_data(), MAX_CONFIG_BODY, example)
            if not isinstance(raw, dict) or set(raw) != {"point"}:
                raise RequestError(f"send {example}")
            return json_answer(session.explain(raw["point"]))
        elif action in ("play", "pause", "step"):
            getattr(session, action)()
        else:
            raise RequestError(
                f"no command {action!r}: the commands are play, pause, step, reset, speed and explain", 404
            )
        return json_answer(describe(sid, session))

    def delete(sid: str) -> Any:
        sessions.delete(sid)
        return json_answer({"id": sid, "deleted": True})

    def presets() -> Any:
        return json_answer({"presets": [{"name": name, "config": c.as_json()} for name, c in PRESETS.items()]})

    app.add_url_rule("/api/options", "options", lambda: json_answer(options()), methods=["GET"])
    app.add_url_rule("/api/presets", "presets", presets, methods=["GET"])
    app.add_url_rule("/api/sessions", "create", create, methods=["POST"])
    app.add_url_rule("/api/sessions/<sid>", "delete", delete, methods=["DELETE"])
    app.add_url_rule("/api/sessions/<sid>/events", "events", events, methods=["GET"])
    app.add_url_rule("/api/sessions/<sid>/<action>", "command", command, methods=["POST"])
    return app, sessions


def serve_playground(host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the playground until interrupted (Ctrl-C), then stop every session's thread."""
    app, sessions = create_app(host)
    server = make_server(app, host, port, streams=2 * MAX_SESSIONS)
    warn_if_public(host, "ffnn playground")
    print(f"Playground at {address(server)}  (Ctrl-C to stop)", flush=True)
    run_until_interrupted(server, on_close=sessions.close)
