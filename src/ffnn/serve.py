"""The pages of a model: ``ffnn serve MODEL`` (draw a digit and watch the network think) and
``ffnn train --serve`` (watch a run learn, then draw for the model it trained).

The drawing page's API (the page uses it too):

- ``GET /api/model`` → ``{"sizes": [...], "activations": [...], "cost": ...}``
- ``POST /api/predict`` with either
  ``{"image": 28×28 nested list of floats in [0, 1]}`` (JSON, at most 256 KiB; white digit on black,
  as in MNIST), or a PNG body (``Content-Type: image/png``; any colours, at most 2048×2048 pixels —
  refused from its header, before decoding — turned into MNIST's form: inverted if light, fitted
  into 20×20, centred by centre of mass). Answer: ``{"label": int, "probabilities": [10 floats],
  "activations": [[...] per hidden layer], "input": the 28×28 image the network saw}``.

The live page (``train --serve``) reads ``GET /api/events``, the run's :class:`ffnn.feed.Feed` as
server-sent events (parts: :mod:`ffnn.live`, and ``summary`` at the end); its drawing pad is the
page above, at ``/draw``, shown in a frame once training has ended (``/api/predict`` answers 409
until then). The server, its limits and its safety rules are :mod:`ffnn.server`'s.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ffnn import threads
from ffnn._validation import is_finite_number
from ffnn.errors import NonFiniteOutputError, ParameterError
from ffnn.feed import Feed
from ffnn.images import mnist_like
from ffnn.network import Network
from ffnn.outputs import PROBABILITY_OUTPUTS, labels_of, require_finite
from ffnn.serialization import read_header
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
    run_in_background,
    run_until_interrupted,
    stop,
    warn_if_public,
)

MAX_JSON_BODY = 256 * 1024  # bytes: a 28×28 image needs ~20 kB; parsing 256 kB costs at most a few MB
IMAGE_EXAMPLE = '{"image": 28 rows of 28 numbers}'
MAX_PNG_PIXELS = 2048 * 2048  # width × height from the PNG header; decoded, at most 4 bytes a pixel
REDUCED_SIDE = 1024  # a decoded image is shrunk (box filter) to at most this many pixels a side
HEAVY_AT_ONCE = 2  # PNG decodes at once (each up to ~30 MB); the others wait for a turn ...
HEAVY_WAIT = 10.0  # ... this many seconds at most, then get 503


# -- the answer --------------------------------------------------------------------------------


def predict(network: Network, image: np.ndarray) -> dict[str, Any]:
    """The answer for one 28×28 image in [0, 1]: label, output probabilities, hidden activations
    (``ffnn.outputs``' rules, as every face: activations that overflow are refused with 422)."""
    with np.errstate(all="ignore"):  # an overflow is refused below, as non-finite values
        *hidden, output = network.layer_outputs(image.reshape(1, -1))  # one pass: every layer's activations
    try:
        require_finite(*hidden, output)
    except NonFiniteOutputError as e:
        raise RequestError(str(e), 422) from None
    probabilities = network.as_probabilities(output)[0]
    return {
        "label": int(labels_of(output)[0]),
        "probabilities": [round(float(p), 6) for p in probabilities],
        "activations": [[round(float(v), 5) for v in a[0]] for a in hidden],
        "input": [[round(float(v), 4) for v in row] for row in image.reshape(28, 28)],
    }


# -- requests to images ------------------------------------------------------------------------


def image_from_json(payload: Any) -> np.ndarray:
    """``{"image": 28×28 nested list of numbers in [0, 1]}`` as an array, or RequestError; each
    value a finite number as :func:`ffnn._validation.is_finite_number` tests it (an integer of 400
    digits is not one)."""
    if not isinstance(payload, dict) or "image" not in payload:
        raise RequestError('the JSON body must be an object with an "image" field (28×28 numbers in [0, 1])')
    rows = payload["image"]
    if not isinstance(rows, list) or len(rows) != 28 or not all(isinstance(r, list) and len(r) == 28 for r in rows):
        raise RequestError('"image" must be a list of 28 rows of 28 numbers')
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for r in rows for v in r):
        raise RequestError('"image" must hold numbers only')
    if not all(is_finite_number(v) and 0 <= v <= 1 for r in rows for v in r):
        raise RequestError('"image" values must be finite and in [0, 1] (white digit on black)')
    return np.array(rows, dtype=np.float64)


def image_from_png(body: bytes) -> np.ndarray:
    """A PNG drawing turned into MNIST's 28×28 form, or RequestError.

    The size is checked from the header before any pixel is decoded; the decoded image is made
    grey (transparent counts as MNIST's black) and shrunk to at most ``REDUCED_SIDE`` pixels a
    side in 8 bits, before it becomes floats. Peak memory: about 7 bytes a pixel (28 MB for
    2048×2048 in RGBA; a 4096×4096 image cost 320 MB before these limits).
    """
    from PIL import Image

    if not body.startswith(b"\x89PNG\r\n\x1a\n"):
        raise RequestError("the body is not a PNG image")
    try:
        png = Image.open(io.BytesIO(body), formats=["PNG"])
    except Exception as e:  # Pillow reports a malformed header with several exception types
        raise RequestError(f"the PNG cannot be decoded ({e})") from None
    with png:
        if png.width * png.height > MAX_PNG_PIXELS:
            raise RequestError(
                f"the image is {png.width}×{png.height} pixels; at most {MAX_PNG_PIXELS:,} (2048×2048): scale it down",
                413,
            )
        try:
            png.load()
            grey = _grey_on_black(png)
        except Exception as e:  # a corrupt stream: Pillow's decoders raise OSError, SyntaxError, zlib.error, ...
            raise RequestError(f"the PNG cannot be decoded ({e})") from None
    factor = -(-max(grey.size) // REDUCED_SIDE)
    if factor > 1:
        grey = grey.reduce(factor)
    return mnist_like(np.asarray(grey, dtype=np.float64) / 255.0)


def _grey_on_black(png: Any) -> Any:
    """An 8-bit grey ("L") copy of a decoded image, its transparent parts black."""
    from PIL import ImageChops

    if png.mode == "I" or png.mode.startswith("I;16"):  # 16-bit grey: scaled to 8 bits, not clipped
        return png.point(lambda v: v / 257).convert("L")
    if png.mode in ("RGBA", "LA", "PA") or "transparency" in png.info:
        rgba = png if png.mode == "RGBA" else png.convert("RGBA")
        return ImageChops.multiply(rgba.convert("L"), rgba.getchannel("A"))  # L·α/255: composited on black
    return png.convert("L")


def check_network(network: Network) -> None:
    """Refuse, before serving, a model the page cannot show (:func:`can_draw`), saying why."""
    problem = _drawing_problem(network.sizes[0], network.activations[-1].name)
    if problem:
        raise ParameterError(problem)


def check_model_file(path: str | os.PathLike[str]) -> None:
    """Refuse a model file the page cannot show from its header, before its arrays are read (a
    gigabyte model of the wrong width was read whole, then refused); :func:`check_network`'s rule."""
    header = read_header(path)
    problem = _drawing_problem(header["sizes"][0], header["activations"][-1]["name"])
    if problem:
        raise ParameterError(f"{path}: {problem}")


def can_draw(network: Network) -> bool:
    """Whether the drawing page can show ``network``: 784 inputs and probability outputs."""
    return not _drawing_problem(network.sizes[0], network.activations[-1].name)


def _drawing_problem(n_in: int, output: str) -> str:
    """Why the drawing page cannot show a model of ``n_in`` inputs and this ``output`` activation, or ""."""
    if n_in != 784:
        return f"ffnn serve needs a model with 784 inputs (28×28 images); this one has {n_in}."
    if output not in PROBABILITY_OUTPUTS:
        return (
            "ffnn serve needs a model with a softmax or sigmoid output layer (its outputs are shown as "
            f"probabilities); this one's is {output!r}."
        )
    return ""


# -- the drawing page --------------------------------------------------------------------------


def add_drawing(app: Any, network: Callable[[], Network]) -> None:
    """The drawing API on ``app``, for the model ``network()`` returns (it raises RequestError
    while there is none yet)."""
    from flask import request

    heavy = threading.BoundedSemaphore(HEAVY_AT_ONCE)

    def model() -> Any:
        net = network()
        activations = [a.name for a in net.activations]
        return json_answer({"sizes": net.sizes, "activations": activations, "cost": net.cost_function.name})

    def predict_route() -> Any:
        net = network()
        kind = (request.mimetype or "").lower()
        if kind == "application/json":
            image = image_from_json(parse_json(request.get_data(), MAX_JSON_BODY, IMAGE_EXAMPLE))
        elif kind in ("image/png", "application/octet-stream"):
            if not heavy.acquire(timeout=HEAVY_WAIT):
                raise RequestError("the server is busy decoding other images; try again in a moment", 503)
            try:
                image = image_from_png(request.get_data())
            finally:
                heavy.release()
        else:
            raise RequestError(f"send application/json or image/png, not {kind or 'no content type'}", 415)
        return json_answer(predict(net, image))

    app.add_url_rule("/api/model", "model", model, methods=["GET"])
    app.add_url_rule("/api/predict", "predict", predict_route, methods=["POST"])


def create_app(network: Network, host: str = "127.0.0.1") -> Any:
    """The application of ``ffnn serve``: the drawing page and its API for ``network`` (784 inputs,
    probability outputs) on a server bound to ``host``."""
    check_network(network)
    require_extras("ffnn serve")
    app = base_app(host)
    add_page(app, "/", "index.html")
    add_drawing(app, lambda: network)
    return app


def serve(network: Network, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the drawing page until interrupted (Ctrl-C), each answer's products on one BLAS
    thread (``FFNN_THREADS`` may give more): the server's workers answer side by side."""
    blas_threads = threads.for_serve()
    server = make_server(create_app(network, host), host, port)
    warn_if_public(host, "ffnn serve")
    print(f"Draw a digit at {address(server)}  (Ctrl-C to stop)", flush=True)
    with threads.limited(blas_threads):
        run_until_interrupted(server)


# -- the live page -----------------------------------------------------------------------------


class LivePage:
    """The page of a run in training (``ffnn train --serve``): serves ``feed`` from a background
    thread while the main thread trains; :meth:`finish` hands it the trained model for drawing."""

    def __init__(self, feed: Feed, host: str = "127.0.0.1", port: int = 8000) -> None:
        require_extras("ffnn train --serve")
        self.feed, self.streams = feed, Streams()
        self.network: Network | None = None  # the trained model, once training has ended
        self.finished = False
        app = base_app(host)
        add_page(app, "/", "live.html", frames=True)
        add_page(app, "/draw", "index.html", framed=True)
        add_drawing(app, self._trained)

        app.add_url_rule("/api/events", "events", lambda: self.streams.open(self.feed), methods=["GET"])

        self.app = app
        self.server = make_server(app, host, port, streams=self.streams.limit)
        self.url = address(self.server)
        warn_if_public(host, "ffnn train --serve")
        self._thread = run_in_background(self.server)

    def _trained(self) -> Network:
        if self.network is not None:
            return self.network
        if self.finished:
            raise RequestError(
                "this run's model cannot be drawn for: that needs 784 inputs and probability outputs", 409
            )
        raise RequestError("the run is still training: the drawing pad opens when it ends", 409)

    def finish(self, network: Network) -> None:
        """Training ended: offer the drawing pad for ``network`` if it can be drawn for."""
        self.network, self.finished = (network if can_draw(network) else None), True
        self.feed.set("drawing", {"available": self.network is not None})

    def close(self) -> None:
        """End the streams (each sends what it has first), then the server."""
        self.feed.close()
        self.streams.wait_closed(timeout=2.0)
        stop(self.server)
        self._thread.join(timeout=5)

    def wait(self) -> None:
        """Keep serving until Ctrl-C (the training is over; pages stay open)."""
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()
