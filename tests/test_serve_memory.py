"""`ffnn serve`: memory per PNG request, measured in a subprocess, and heavy requests bounded."""

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import ffnn
from ffnn import serve
from waiting import wait_until

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

MEASURE = """
import io, json, sys
from PIL import Image
import ffnn
from ffnn.serve import create_app

def kib(field):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field + ":"))

client = create_app(ffnn.Network([784, 16, 10], "relu", cost="cross_entropy", seed=0)).test_client()
small = io.BytesIO()
Image.new("RGBA", (280, 280), "white").save(small, "PNG")
client.post("/api/predict", data=small.getvalue(), content_type="image/png")  # every import and path, warmed up
body = open(sys.argv[1], "rb").read()
before = kib("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # restart the peak (VmHWM) from the current size
answer = client.post("/api/predict", data=body, content_type="image/png")
print(json.dumps([answer.status_code, (kib("VmHWM") - before) / 1024, answer.get_json()]))
"""


def drawing(side, mode, ink=True):
    """A PNG of ``side``² pixels: a light disc (a "0") on black, or black only; small once deflated."""
    from PIL import Image, ImageDraw

    image = Image.new(mode, (side, side))
    if ink:
        ImageDraw.Draw(image).ellipse((side // 4, side // 8, 3 * side // 4, 7 * side // 8), fill="white")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def peak_of_one_request(path):
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="peak RSS is read from Linux's /proc")
@pytest.mark.parametrize(
    ("side", "mode", "ink", "status", "bound_mb"),
    [
        (4096, "L", False, 413, 4),  # 16 KB, refused from its header: measured 0 MB (before: 320 MB)
        (2048, "RGBA", True, 200, 48),  # the budget, 4 bytes a pixel decoded: measured 28 MB (before: 92 MB)
        (2048, "L", True, 200, 32),  # measured 15 MB
    ],
)
def test_a_png_costs_memory_in_proportion_to_the_budget_not_to_its_claim(tmp_path, side, mode, ink, status, bound_mb):
    """Peak RSS of one PNG request, in a fresh process, over its size just before: a 16 KB PNG
    claiming 4096×4096 pixels is refused (413) before decoding; one at the 2048×2048 budget is
    answered within the stated bound. With at most HEAVY_AT_ONCE (2) decodes at once, a server
    needs at most ~100 MB for images whatever the number of clients (before: ~300 MB each)."""
    path = tmp_path / "drawing.png"
    path.write_bytes(drawing(side, mode, ink))
    assert path.stat().st_size < 30_000
    code, peak_mb, body = peak_of_one_request(path)
    assert code == status
    if status == 413:
        assert f"{side}×{side}" in body["error"] and "at most 4,194,304" in body["error"]
    else:
        assert body["label"] in range(10) and np.array(body["input"]).max() == 1.0
    assert peak_mb < bound_mb


@pytest.fixture
def slow_decodes(monkeypatch):
    """Every PNG decode holds its slot until HEAVY_AT_ONCE decodes are under way together (they pass
    ``state["gate"]``, a barrier, together) or, where a test puts an Event there, until it is set;
    the most decodes seen at once is recorded. Events, not sleeps: the same on a busy machine."""
    state = {"now": 0, "most": 0, "gate": threading.Barrier(serve.HEAVY_AT_ONCE)}
    lock = threading.Lock()
    mnist_like = serve.mnist_like

    def slow(image):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        state["gate"].wait(120)  # a safety net only
        with lock:
            state["now"] -= 1
        return mnist_like(image)

    monkeypatch.setattr(serve, "mnist_like", slow)
    return state


def post_at_once(app, n, meanwhile=lambda answers: None):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((100, 100), np.uint8), "L").save(buffer, "PNG")
    answers = [None] * n

    def post(i):
        answers[i] = app.test_client().post("/api/predict", data=buffer.getvalue(), content_type="image/png")

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    meanwhile(answers)
    for t in threads:
        t.join()
    return answers


def test_concurrent_png_decodes_are_bounded_and_the_others_wait(slow_decodes, monkeypatch):
    monkeypatch.setattr(serve, "HEAVY_WAIT", 600)  # the others wait as long as it takes, here
    app = serve.create_app(ffnn.Network([784, 8, 10], "relu", cost="cross_entropy", seed=0))
    answers = post_at_once(app, 8)
    assert [a.status_code for a in answers] == [200] * 8
    assert slow_decodes["most"] == serve.HEAVY_AT_ONCE == 2


def test_a_png_that_waits_too_long_gets_503_with_a_json_error(slow_decodes, monkeypatch):
    monkeypatch.setattr(serve, "HEAVY_WAIT", 0.05)
    app = serve.create_app(ffnn.Network([784, 8, 10], "relu", cost="cross_entropy", seed=0))
    slow_decodes["gate"] = threading.Event()  # the decodes hold their slots until the others have given up

    def release_once_the_others_are_refused(answers):
        wait_until(lambda: sum(a is not None for a in answers) == 6 - serve.HEAVY_AT_ONCE)
        slow_decodes["gate"].set()

    answers = post_at_once(app, 6, release_once_the_others_are_refused)
    busy = [a for a in answers if a.status_code == 503]
    assert len(busy) == 6 - serve.HEAVY_AT_ONCE and {a.status_code for a in answers} == {200, 503}
    assert all("busy" in a.get_json()["error"] and a.headers["Retry-After"] == "1" for a in busy)
    assert slow_decodes["most"] == 2


def test_serve_refuses_a_model_of_the_wrong_width_from_its_header(tmp_path):
    """Issue 21: ``ffnn serve`` read a 1 GiB model whole (25 s, 4.1 GB) before refusing it for its
    16384 inputs, which its header shows. With the size limit raised, so that only that check can
    refuse it, it is refused from the header: a fresh process peaks under 100 MB."""
    from test_memory import MODEL_PEAK_MB, cli, peak, write_model_bomb

    path = tmp_path / "wide.npz"
    write_model_bomb(path)
    env = {**os.environ, "FFNN_MAX_DATA_BYTES": "4G"}
    message, mb = peak(cli(["serve", path, "--port", "0"]), env)
    assert (
        message
        == f"2 ffnn: error: {path}: ffnn serve needs a model with 784 inputs (28×28 images); this one has 16384."
    )
    assert mb < MODEL_PEAK_MB, f"peak {mb:.0f} MB"


def test_serve_refuses_a_model_without_probabilities_from_its_header(tmp_path):
    ffnn.save(ffnn.Network([784, 4, 3], "relu", output_activation="identity", seed=0), tmp_path / "r.npz")
    with pytest.raises(ffnn.ParameterError) as info:
        serve.check_model_file(tmp_path / "r.npz")
    assert str(info.value) == (
        f"{tmp_path / 'r.npz'}: ffnn serve needs a model with a softmax or sigmoid output layer (its outputs are "
        "shown as probabilities); this one's is 'identity'."
    )
