"""`ffnn train --serve`'s parts without a browser: the feed, the live view, the page's server."""

import csv
import threading
import time

import numpy as np
import pytest

import ffnn
from ffnn.callbacks import GradientNorms, MetricsLog
from ffnn.feed import Feed
from ffnn.live import LiveView
from ffnn.serve import LivePage
from ffnn.server import RequestError, Streams, base_app
from waiting import wait_until

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)


def parse(message: bytes) -> list[tuple[str, object]]:
    """The (event, data) pairs of a server-sent-events message."""
    import json

    events = []
    for block in message.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


# -- the feed ------------------------------------------------------------------------------------


def test_a_reader_first_gets_everything_then_only_the_changes_coalesced():
    feed = Feed()
    feed.set("status", {"state": "training"})
    feed.append("rows", 1)
    feed.append("rows", 2)
    reader = feed.events(min_interval=0, heartbeat=0.05)
    assert parse(next(reader)) == [("status", {"state": "training"}), ("rows", {"from": 0, "items": [1, 2]})]
    for k in range(100):  # a hundred values meanwhile: the reader gets the last one only
        feed.set("progress", k)
    feed.append("rows", 3)
    assert parse(next(reader)) == [("progress", 99), ("rows", {"from": 2, "items": [3]})]
    assert next(reader) == b": keep-alive\n\n"  # nothing new within the heartbeat
    feed.replace("rows", [7])
    assert parse(next(reader)) == [("rows", {"from": 0, "items": [7]})]
    feed.close()
    assert next(reader) == b": keep-alive\n\n"
    with pytest.raises(StopIteration):
        next(reader)


def test_a_late_reader_gets_the_whole_state_and_the_writer_never_waits():
    feed = Feed()
    stalled = feed.events(min_interval=0)  # a reader that never reads again
    next(stalled)
    writer = threading.Thread(target=lambda: [feed.append("rows", k) for k in range(20_000)], daemon=True)
    writer.start()
    writer.join(timeout=120)  # a safety net only: a writer held back by the reader would never finish
    assert not writer.is_alive()  # no reader holds the writer back
    late = feed.events(min_interval=0)
    ((name, data),) = parse(next(late))
    assert name == "rows" and data == {"from": 0, "items": list(range(20_000))}


def test_nan_is_refused_before_it_reaches_a_page():
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        Feed().set("cost", float("nan"))


def test_readers_wake_as_soon_as_something_is_published():
    feed = Feed()
    reader = feed.events(min_interval=0, heartbeat=3600)
    next(reader)
    got = []
    waiting = threading.Thread(target=lambda: got.append(next(reader)), daemon=True)
    waiting.start()
    threading.Timer(0.2, feed.set, ("status", "finished")).start()  # published while the reader waits
    waiting.join(timeout=120)  # a safety net only: without the wake-up it would wait for the heartbeat, an hour
    assert [parse(message) for message in got] == [[("status", "finished")]]


# -- the live view -------------------------------------------------------------------------------


@pytest.fixture
def digits():
    rng = np.random.default_rng(5)
    X = rng.random((300, 16))
    y = (X[:, :8].sum(axis=1) > X[:, 8:].sum(axis=1)).astype(np.int64) + 2 * (X[:, 0] > 0.5)
    return X[:200], y[:200], X[200:], y[200:]


def train(digits, callbacks):
    X, y, X_test, y_test = digits
    net = ffnn.Network([16, 12, 4], activation="sigmoid", output_activation="softmax", cost="cross_entropy", seed=1)
    history = ffnn.fit(
        net, X, y, epochs=4, batch_size=10, eta=0.5, test_data=(X_test, y_test), seed=2, callbacks=callbacks
    )
    return net, history


def last_items(feed, name):
    """The latest value of every part, lists whole (what a page that opens now receives)."""
    return dict(parse(next(feed.events(min_interval=0))))[name]


def test_the_live_view_publishes_what_metrics_csv_holds_and_changes_no_number(digits, tmp_path):
    feed = Feed()
    X, y, X_test, y_test = digits
    view = LiveView(feed, (X[:50], y[:50]), (X_test, y_test), batches=20, n_train=200, gradient_interval=0)
    watched, history = train(digits, [GradientNorms(X[:50], y[:50]), view, MetricsLog(tmp_path / "m.csv")])
    alone, _ = train(digits, [])
    for a, b in zip(watched.parameters(), alone.parameters()):
        np.testing.assert_array_equal(a, b)  # watching does not change the training

    rows = last_items(feed, "epochs")["items"]
    with open(tmp_path / "m.csv") as f:
        table = list(csv.DictReader(f))
    assert len(rows) == len(table) == 4
    for row, line in zip(rows, table):
        assert set(row) == set(line)
        for name, value in row.items():
            assert (value is None and line[name] == "") or float(line[name]) == value  # the same numbers, exactly

    samples = last_items(feed, "gradient_history")["items"]
    assert len(samples) == 1 + 4 * 20  # the untrained network, then every mini-batch (interval 0)
    assert samples[0]["epoch"] == 0 and samples[20]["epoch"] == 1.0
    for epoch in range(4):  # at each epoch's start, the same RMS as GradientNorms on the same probe
        np.testing.assert_allclose(
            samples[20 * epoch]["rms"], [history.extra[f"grad_norm_{l}"][epoch] for l in (1, 2)], rtol=1e-12
        )

    confusion = last_items(feed, "confusion")
    matrix = np.array(confusion["matrix"])
    assert confusion["epoch"] == 3 and matrix.shape == (4, 4) and matrix.sum() == 100
    assert np.trace(matrix) == round(history.test_accuracy[-1] * 100)

    weights = last_items(feed, "weights")
    assert (weights["units"], weights["inputs"], weights["side"]) == (12, 16, 4)  # 16 inputs: 4×4 images
    import base64

    pixels = np.frombuffer(base64.b64decode(weights["pixels"]), np.uint8).reshape(12, 16).astype(float)
    w = watched.weights[0]
    np.testing.assert_allclose((pixels - 127.5) / 127.5, w / np.abs(w).max(axis=1, keepdims=True), atol=1 / 255)

    progress = last_items(feed, "progress")
    assert progress["epoch"] == 3 and progress["batch"] == progress["batches"] == 20
    assert last_items(feed, "status") == {"state": "finished"}
    assert last_items(feed, "run")["sizes"] == [16, 12, 4]


def test_gradient_samples_stay_bounded(digits, monkeypatch):
    import ffnn.live

    monkeypatch.setattr(ffnn.live, "MAX_GRADIENT_SAMPLES", 10)
    feed = Feed()
    X, y, _, _ = digits
    view = LiveView(feed, (X[:50], y[:50]), None, batches=20, n_train=200, gradient_interval=1e-9)
    train(digits, [view])
    samples = last_items(feed, "gradient_history")["items"]
    assert 5 <= len(samples) <= 10 and view.gradient_interval >= 2e-9  # thinned, and sampled less often
    epochs = [s["epoch"] for s in samples]
    assert epochs == sorted(epochs) and epochs[0] == 0


# -- the page's server ---------------------------------------------------------------------------


def test_the_drawing_pad_answers_only_once_training_has_ended(tmp_path):
    page = LivePage(Feed(), "127.0.0.1", 0)
    try:
        client = page.app.test_client()
        answer = client.get("/api/model")
        assert answer.status_code == 409 and "still training" in answer.get_json()["error"]
        page.finish(ffnn.Network([4, 3]))  # not a drawing model
        assert "cannot be drawn for" in client.get("/api/model").get_json()["error"]
        page.finish(ffnn.Network([784, 10, 10], output_activation="softmax", cost="cross_entropy"))
        assert client.get("/api/model").get_json()["sizes"] == [784, 10, 10]
        image = {"image": [[0.0] * 28 for _ in range(28)]}
        assert client.post("/api/predict", json=image).status_code == 200
        draw, live = client.get("/draw"), client.get("/")
        assert (
            draw.headers["X-Frame-Options"] == "SAMEORIGIN"
            and "frame-ancestors 'self'" in draw.headers["Content-Security-Policy"]
        )
        assert (
            live.headers["X-Frame-Options"] == "DENY" and "frame-src 'self'" in live.headers["Content-Security-Policy"]
        )
        assert b'data-testid="epochs"' in live.data
    finally:
        page.close()


def test_event_streams_are_bounded():
    feed, streams = Feed(), Streams(limit=2)
    app = base_app("127.0.0.1")
    app.add_url_rule("/events", "events", lambda: streams.open(feed))
    with app.test_request_context():
        first, second = streams.open(feed), streams.open(feed)
        with pytest.raises(RequestError, match="2 pages are already listening") as refused:
            streams.open(feed)
        assert refused.value.status == 503
        iterator = iter(first.response)
        assert next(iterator) == b"retry: 2000\n\n"
        first.close()  # closing a stream gives its slot back (as when waitress closes it)
        iterator.close()
        third = streams.open(feed)
        for response in (second, third):
            response.close()
    client = app.test_client()
    answer = client.get("/events", buffered=False)
    assert answer.status_code == 200 and answer.mimetype == "text/event-stream"
    answer.close()


def test_a_reader_that_stops_reading_loses_its_stream_and_a_slow_one_keeps_it(monkeypatch):
    """Four connections ask for the event stream and never read; the feed publishes 100 KB a
    second. Each stalled connection's buffer fills, then nothing moves: after CHANNEL_TIMEOUT
    (1 s here) the server closes it and its slot comes back. A reader that keeps reading keeps
    its stream. (Waitress alone times out idle connections only between requests: the stalled
    streams held their slots, and their threads, for good.)"""
    import socket

    import ffnn.server

    monkeypatch.setattr(ffnn.server, "CHANNEL_TIMEOUT", 1.0)
    page = LivePage(Feed(), "127.0.0.1", 0)
    port = int(page.url.rsplit(":", 1)[1].strip("/"))
    request = f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    stalled = []
    for _ in range(4):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        s.sendall(request)
        stalled.append(s)
    reader = socket.create_connection(("127.0.0.1", port))
    reader.sendall(request)
    received, stop = [0], threading.Event()

    def read():
        while not stop.is_set() and (chunk := reader.recv(65536)):
            received[0] += len(chunk)

    threading.Thread(target=read, daemon=True).start()
    try:
        wait_until(lambda: page.streams.count == 5)  # each of the five connections has its stream
        for _ in range(1200):  # 100 KB a turn until the stalled ones are closed; 120 s: a safety net only
            page.feed.set("blob", "x" * 100_000)
            if page.streams.count <= 1:
                break
            time.sleep(0.1)
        assert page.streams.count == 1  # the four stalled ones closed, the reader kept
        before = received[0]
        page.feed.set("blob", "y" * 100_000)
        wait_until(lambda: received[0] > before)  # the reader still gets everything
        assert page.streams.count == 1
    finally:
        stop.set()
        for s in [*stalled, reader]:
            s.close()
        page.close()


def test_an_overflowing_held_out_cost_is_shown_as_missing_not_a_crash(digits):
    """A held-out cost can overflow to inf while the training's numbers stay finite; the page's
    row then has null there (JSON has no inf), and the run goes on."""
    feed = Feed()
    X, y, _, _ = digits
    view = LiveView(feed, (X[:50], y[:50]), None, batches=20, n_train=200)

    class Overflowing(ffnn.callbacks.Callback):
        def on_epoch_end(self, network, history):
            history.test_cost[-1] = float("inf")
            return False

    _, history = train(digits, [Overflowing(), view])
    rows = last_items(feed, "epochs")["items"]
    assert len(rows) == len(history.epoch) == 4 and all(r["test_cost"] is None for r in rows)
    assert all(r["train_cost"] == c for r, c in zip(rows, history.train_cost))
