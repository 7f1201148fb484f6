"""`ffnn serve`: the JSON API through Flask's test client, the page in a real headless Chromium."""

import io
import shutil
import threading

import numpy as np
import pytest

import ffnn
from ffnn.serve import MAX_BODY, create_app


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
        ({"data": b"hello", "content_type": "text/plain"}, 415, "send application/json or image/png"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(client, kwargs, status, message):
    answer = client.post("/api/predict", **kwargs)
    assert answer.status_code == status
    assert message in answer.get_json()["error"]


def test_other_routes(client, model):
    assert client.get("/api/predict").status_code == 405
    assert client.get("/api/model").get_json()["sizes"] == [784, 16, 10]
    page = client.get("/")
    assert page.status_code == 200 and b'<canvas id="pad"' in page.data
    with pytest.raises(ValueError, match="784 inputs"):
        create_app(ffnn.Network([2, 3]))


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (make test installs it)")
def test_the_page_in_a_real_browser(model, tmp_path):
    """Draw strokes on the canvas; a prediction and ten bars appear; Clear resets them."""
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, create_app(model[0]), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            )
            page = browser.new_page(viewport={"width": 1300, "height": 800})
            page.goto(url)
            assert page.inner_text("#label") == "–"
            box = page.locator("#pad").bounding_box()
            x = box["x"] + box["width"] / 2
            page.mouse.move(x, box["y"] + 40)
            page.mouse.down()
            for step in range(1, 21):  # a vertical stroke: a "1"
                page.mouse.move(x, box["y"] + 40 + 10 * step)
            page.mouse.up()
            page.wait_for_function("document.getElementById('label').dataset.label !== ''", timeout=10_000)
            assert page.inner_text("#label") == "1"
            heights = page.eval_on_selector_all(".fill", "els => els.map(e => parseFloat(e.style.height) || 0)")
            assert len(heights) == 10 and heights[1] > 50 and sum(heights) == pytest.approx(100, abs=1)
            assert page.locator(".unit").count() == 16
            page.screenshot(path=str(tmp_path / "drawn.png"))
            page.click("#clear")
            assert page.inner_text("#label") == "–"
            heights = page.eval_on_selector_all(".fill", "els => els.map(e => parseFloat(e.style.height) || 0)")
            assert heights == [0] * 10
            page.screenshot(path=str(tmp_path / "cleared.png"))
            browser.close()
        assert (tmp_path / "drawn.png").stat().st_size > 10_000
    finally:
        server.shutdown()
        thread.join()
