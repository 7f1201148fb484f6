"""`ffnn serve`: the JSON API through Flask's test client, the page in a real headless Chromium.

The real server (waitress, through the command line) is tested in test_serve_server.py, memory in
test_serve_memory.py.
"""

import base64
import hashlib
import io
import json
import re
import shutil

import numpy as np
import pytest

import ffnn
from ffnn.serve import MAX_JSON_BODY, create_app
from ffnn.server import MAX_BODY

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)


@pytest.fixture(scope="module")
def model():
    """A small MNIST-shaped classifier that tells a vertical bar ("1") from a ring ("0")."""
    rng = np.random.default_rng(0)
    ones, zeros = np.zeros((200, 28, 28)), np.zeros((200, 28, 28))
    for i in range(200):
        c = 14 + rng.integers(-2, 3)
        ones[i, 4:24, c - 1 : c + 1] = 1.0
        yy, xx = np.indices((28, 28))
        r = np.hypot(yy - 14 - rng.integers(-2, 3), xx - 14)
        zeros[i][(r > 6) & (r < 9)] = 1.0
    X = np.concatenate([zeros, ones]).reshape(400, 784)
    y = np.repeat([0, 1], 200)
    net = ffnn.Network([784, 16, 10], "relu", cost="cross_entropy", init="he", seed=0)
    ffnn.fit(net, X, y, 10, 20, eta=0.1, seed=0)
    assert net.accuracy(X, y) == 1.0
    return net, X


@pytest.fixture
def client(model):
    return create_app(model[0]).test_client()


def png_bytes(image):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((image * 255).astype(np.uint8), "L").save(buffer, "PNG")
    return buffer.getvalue()


def big_number_image():
    """A 28×28 JSON image whose first cell is 10**400: beyond float64 (OverflowError)."""
    rows = [[0] * 28 for _ in range(28)]
    rows[0][0] = 10**400
    return json.dumps({"image": rows}).encode()


def test_json_requests_get_the_right_labels(client, model):
    _, X = model
    for index, label in ((0, 0), (399, 1)):
        answer = client.post("/api/predict", json={"image": X[index].reshape(28, 28).tolist()})
        assert answer.status_code == 200
        body = answer.get_json()
        assert body["label"] == label
        assert len(body["probabilities"]) == 10 and abs(sum(body["probabilities"]) - 1) < 1e-4
        assert [len(layer) for layer in body["activations"]] == [16]
        assert np.array(body["input"]).shape == (28, 28)


def test_png_drawings_are_preprocessed_like_mnist(client):
    page = np.ones((200, 150))  # a dark vertical stroke on white paper, off-centre and large
    page[20:180, 100:112] = 0.0
    answer = client.post("/api/predict", data=png_bytes(page), content_type="image/png")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["label"] == 1
    seen = np.array(body["input"])
    rows = np.flatnonzero(seen.max(axis=1) > 0.05)
    assert rows[-1] - rows[0] + 1 == 20  # fitted into 20 pixels, and centred
    assert abs((np.indices((28, 28))[1] * seen).sum() / seen.sum() - 13.5) < 0.5


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"json": {"image": [[0.0] * 28] * 27}}, 400, "list of 28 rows of 28 numbers"),
        ({"json": {"image": [[0.0] * 27] * 28}}, 400, "list of 28 rows of 28 numbers"),
        ({"json": {"image": [["a"] * 28] * 28}}, 400, "numbers only"),
        ({"json": {"image": [[2.0] * 28] * 28}}, 400, r"in [0, 1]"),
        ({"json": {"pixels": []}}, 400, 'an object with an "image" field'),
        ({"json": [1, 2, 3]}, 400, 'an object with an "image" field'),
        ({"data": b"{not json", "content_type": "application/json"}, 400, "not valid JSON"),
        ({"data": b"GIF89a....", "content_type": "image/png"}, 400, "not a PNG image"),
        ({"data": b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "content_type": "image/png"}, 400, "cannot be decoded"),
        ({"data": b"x" * (MAX_BODY + 1), "content_type": "image/png"}, 413, "larger than"),
        ({"data": b" " * (MAX_JSON_BODY + 1), "content_type": "application/json"}, 413, "JSON body is larger"),
        ({"data": b"[" * 50_000, "content_type": "application/json"}, 400, "nested too deeply"),
        ({"data": b"\xff\xfe{}", "content_type": "application/json"}, 400, "not valid JSON"),
        ({"data": b"[" + b"9" * 5000 + b"]", "content_type": "application/json"}, 400, "not valid JSON"),
        ({"data": big_number_image(), "content_type": "application/json"}, 400, "finite and in [0, 1]"),
        ({"data": png_bytes(np.zeros((2049, 2048))), "content_type": "image/png"}, 413, "at most 4,194,304"),
        ({"data": b"hello", "content_type": "text/plain"}, 415, "send application/json or image/png"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(client, kwargs, status, message):
    answer = client.post("/api/predict", **kwargs)
    assert answer.status_code == status
    assert message in strict_json(answer.data)["error"]


def strict_json(data):
    """``data`` parsed as standard JSON: NaN and Infinity, which json.dumps writes by default, refused."""

    def refuse(constant):
        raise AssertionError(f"not valid JSON: {constant}")

    return json.loads(data, parse_constant=refuse)


def test_random_damage_to_a_png_never_gets_a_500(client, model):
    """300 PNGs with random bytes overwritten, cut or inserted: each gets 200 or 400, in JSON."""
    rng = np.random.default_rng(0)
    good = bytearray(png_bytes(model[1][0].reshape(28, 28)))
    statuses = set()
    for _ in range(300):
        damaged = bytearray(good)
        for _ in range(rng.integers(1, 4)):
            at = int(rng.integers(8, len(damaged)))
            kind = rng.integers(3)
            if kind == 0:
                damaged[at] = int(rng.integers(256))
            elif kind == 1:
                damaged = damaged[:at]
            else:
                damaged[at:at] = rng.bytes(int(rng.integers(1, 9)))
        answer = client.post("/api/predict", data=bytes(damaged), content_type="image/png")
        statuses.add(answer.status_code)
        strict_json(answer.data)
    assert statuses <= {200, 400} and 400 in statuses


def test_a_model_without_probability_outputs_is_refused_before_serving():
    """An identity output layer gives no probabilities (they could sum to 0: NaN): refused at start."""
    with pytest.raises(ffnn.errors.ParameterError, match=r"softmax or sigmoid output layer.*'identity'"):
        create_app(ffnn.Network([784, 8, 10], "relu", output_activation="identity"))


@pytest.mark.parametrize(("w1", "w2"), [(1e30, -1e30), (1e36, 1.0)])  # outputs NaN; hidden activations inf
def test_activations_that_overflow_get_422_in_valid_json(w1, w2):
    """Finite but huge weights overflow float32 to inf and NaN: a JSON error, not NaN in the answer."""
    net = ffnn.Network([784, 8, 10], "relu", cost="cross_entropy", seed=0)
    net.weights[0][:] = w1
    net.weights[1][:] = w2
    answer = create_app(net).test_client().post("/api/predict", json={"image": [[1.0] * 28] * 28})
    assert answer.status_code == 422
    assert "not finite" in strict_json(answer.data)["error"]


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("localhost:8000", 200),
        ("127.0.0.1:8000", 200),
        ("[::1]:8000", 200),
        ("LOCALHOST.", 200),
        ("evil.example", 421),
        ("evil.example:8000", 421),
        ("127.0.0.1.evil.example", 421),
        ("192.168.1.7:8000", 421),
    ],
)
def test_the_host_header_must_name_this_server(client, host, status):
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 is refused."""
    answer = client.get("/api/model", headers={"Host": host})
    assert answer.status_code == status
    if status == 421:
        assert "answers to 127.0.0.1, ::1, localhost only" in strict_json(answer.data)["error"]
        assert client.post("/api/predict", json={}, headers={"Host": host}).status_code == 421


def test_a_server_on_every_interface_answers_to_addresses_but_not_to_other_names(model):
    client = create_app(model[0], host="0.0.0.0").test_client()
    assert client.get("/api/model", headers={"Host": "192.168.1.7:8000"}).status_code == 200
    assert client.get("/api/model", headers={"Host": "[fe80::1]:8000"}).status_code == 200
    assert client.get("/api/model", headers={"Host": "evil.example"}).status_code == 421


def test_every_answer_has_the_security_headers(client):
    for answer in (client.get("/"), client.get("/api/model"), client.post("/api/predict", json={}), client.get("/x")):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert client.get("/api/model").headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_the_page_policy_allows_its_own_script_and_style_only(client):
    answer = client.get("/")
    policy = dict(p.strip().split(" ", 1) for p in answer.headers["Content-Security-Policy"].split(";"))
    page = answer.get_data(as_text=True)
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        (inline,) = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert policy[directive] == f"'sha256-{digest}'"
    assert policy["default-src"] == "'none'" and policy["connect-src"] == "'self'"
    assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]
    assert " style=" not in page  # inline style attributes would be blocked


def test_other_routes(client, model):
    assert client.get("/api/predict").status_code == 405
    assert client.get("/api/model").get_json()["sizes"] == [784, 16, 10]
    page = client.get("/")
    assert page.status_code == 200 and b'<canvas id="pad"' in page.data
    with pytest.raises(ValueError, match="784 inputs"):
        create_app(ffnn.Network([2, 3]))


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def draw_a_one(page, pad):
    """A vertical stroke down the middle of the drawing pad ``pad`` (a locator): a "1"."""
    box = pad.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 40)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x, box["y"] + 40 + 10 * step)
    page.mouse.up()


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (make test installs it)")
def test_the_page_in_a_real_browser(model, tmp_path):
    """Through `ffnn serve` itself (waitress, every header): draw strokes on the canvas; a prediction
    and ten bars appear; Clear resets them; the Content-Security-Policy blocks nothing the page does."""
    from playwright.sync_api import sync_playwright

    from test_serve_server import running_server

    ffnn.save(model[0], tmp_path / "model.npz")
    console = []
    with running_server(tmp_path / "model.npz") as server, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 800})
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.goto(f"http://{server.host}:{server.port}/")
        assert page.inner_text("#label") == "–"
        draw_a_one(page, page.locator("#pad"))
        page.wait_for_function("document.getElementById('label').dataset.label !== ''", timeout=120_000)
        assert page.inner_text("#label") == "1"
        heights = page.eval_on_selector_all(".fill", "els => els.map(e => parseFloat(e.style.height) || 0)")
        assert len(heights) == 10 and heights[1] > 50 and sum(heights) == pytest.approx(100, abs=1)
        assert page.locator(".unit").count() == 16
        colours = page.eval_on_selector_all(".unit", "els => els.map(e => e.style.background)")
        assert any(c.startswith("rgba(224, 102, 58") for c in colours)  # set through the DOM: allowed by the CSP
        page.screenshot(path=str(tmp_path / "drawn.png"))
        page.click("#clear")
        assert page.inner_text("#label") == "–"
        heights = page.eval_on_selector_all(".fill", "els => els.map(e => parseFloat(e.style.height) || 0)")
        assert heights == [0] * 10
        page.screenshot(path=str(tmp_path / "cleared.png"))
        browser.close()
    assert (tmp_path / "drawn.png").stat().st_size > 10_000
    assert [m for m in console if "Content Security Policy" in m or m.startswith("error")] == []
