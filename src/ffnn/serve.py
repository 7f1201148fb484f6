"""``ffnn serve MODEL``: a page to draw a digit and watch the network think, and its JSON API.

Built on Flask: a mature, small, well-kept framework whose built-in request-size limit, JSON
handling and test client cover everything this one-page local tool needs, with no build step.
The server is Werkzeug's threaded one, bound to 127.0.0.1 by default — meant for one person on
their own machine; put a production WSGI server in front before exposing it.

API (the page uses it too):

- ``GET /api/model`` → ``{"sizes": [...], "activations": [...], "cost": ...}``
- ``POST /api/predict`` with either
  ``{"image": 28×28 nested list of floats in [0, 1]}`` (JSON; white digit on black, as in MNIST),
  or a PNG body (``Content-Type: image/png``; any size and colours — it is turned into MNIST's
  form: inverted if light, fitted into 20×20, centred by centre of mass). Answer:
  ``{"label": int, "probabilities": [10 floats], "activations": [[...] per hidden layer],
  "input": the 28×28 image the network saw}``.
  Bad requests get a JSON ``{"error": "..."}`` with status 400 (malformed), 413 (too large) or
  415 (wrong type) — never a 500.
"""

from __future__ import annotations

import io
import logging
from importlib import resources
from typing import Any

import numpy as np

from ffnn.errors import ParameterError
from ffnn.images import MAX_PIXELS, mnist_like
from ffnn.network import Network

MAX_BODY = 2 * 1024 * 1024  # bytes


class RequestError(ValueError):
    """A request the API refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def predict(network: Network, image: np.ndarray) -> dict[str, Any]:
    """The answer for one 28×28 image in [0, 1]: label, output probabilities, hidden activations."""
    *hidden, output = network.layer_outputs(image.reshape(1, -1))  # one pass: every layer's activations
    probabilities = network.as_probabilities(output)[0]
    return {
        "label": int(np.argmax(probabilities)),
        "probabilities": [round(float(p), 6) for p in probabilities],
        "activations": [[round(float(v), 5) for v in a[0]] for a in hidden],
        "input": [[round(float(v), 4) for v in row] for row in image.reshape(28, 28)],
    }


def image_from_json(payload: Any) -> np.ndarray:
    """``{"image": 28×28 nested list of numbers in [0, 1]}`` as an array, or RequestError."""
    if not isinstance(payload, dict) or "image" not in payload:
        raise RequestError('the JSON body must be an object with an "image" field (28×28 numbers in [0, 1])')
    rows = payload["image"]
    if not isinstance(rows, list) or len(rows) != 28 or not all(isinstance(r, list) and len(r) == 28 for r in rows):
        raise RequestError('"image" must be a list of 28 rows of 28 numbers')
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for r in rows for v in r):
        raise RequestError('"image" must hold numbers only')
    image = np.array(rows, dtype=np.float64)
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise RequestError('"image" values must be finite and in [0, 1] (white digit on black)')
    return image


def image_from_png(body: bytes) -> np.ndarray:
    """A PNG drawing turned into MNIST's 28×28 form, or RequestError."""
    from PIL import Image, UnidentifiedImageError

    if not body.startswith(b"\x89PNG\r\n\x1a\n"):
        raise RequestError("the body is not a PNG image")
    try:
        with Image.open(io.BytesIO(body)) as png:
            if png.width * png.height > MAX_PIXELS:
                raise RequestError(f"the image is {png.width}×{png.height}; at most {MAX_PIXELS:,} pixels", 413)
            png.load()
            rgba = png.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise RequestError(f"the PNG cannot be decoded ({e})") from e
    background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))  # transparent counts as the black of MNIST
    grey = np.asarray(Image.alpha_composite(background, rgba).convert("L"), dtype=np.float64) / 255.0
    return mnist_like(grey)


def create_app(network: Network) -> Any:
    """The Flask application serving the page and the API for ``network`` (784 inputs)."""
    from flask import Flask, jsonify, request
    from werkzeug.exceptions import HTTPException

    if network.sizes[0] != 784:
        raise ParameterError(
            f"ffnn serve needs a model with 784 inputs (28×28 images); this one has {network.sizes[0]}."
        )
    if not network.gives_probabilities:
        raise ParameterError(
            "ffnn serve needs a model with a softmax or sigmoid output layer; "
            f"this one's is {network.activations[-1].name!r}."
        )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    page = resources.files("ffnn.web").joinpath("index.html").read_text(encoding="utf-8")

    @app.get("/")
    def index() -> Any:
        return page, 200, {"Content-Type": "text/html; charset=utf-8"}

    @app.get("/api/model")
    def model() -> Any:
        return jsonify(
            sizes=network.sizes, activations=[a.name for a in network.activations], cost=network.cost_function.name
        )

    @app.post("/api/predict")
    def predict_route() -> Any:
        kind = (request.mimetype or "").lower()
        if kind == "application/json":
            payload = request.get_json(silent=True)
            if payload is None:
                raise RequestError("the body is not valid JSON")
            image = image_from_json(payload)
        elif kind in ("image/png", "application/octet-stream"):
            image = image_from_png(request.get_data())
        else:
            raise RequestError(f"send application/json or image/png, not {kind or 'no content type'}", 415)
        return jsonify(predict(network, image))

    @app.errorhandler(RequestError)
    def bad_request(error: RequestError) -> Any:
        return jsonify(error=str(error)), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        message = f"the body is larger than {MAX_BODY:,} bytes" if error.code == 413 else error.description
        return jsonify(error=message), error.code

    return app


def serve(network: Network, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the page until interrupted."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server(host, port, create_app(network), threaded=True)
    shown = f"[{host}]" if ":" in host else host
    print(f"Draw a digit at http://{shown}:{server.server_port}/  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
