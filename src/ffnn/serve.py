"""``ffnn serve MODEL``: a page to draw a digit and watch the network think, and its JSON API.

Two parts, each chosen for what it does well:

- **Flask** builds the application: routing, the request-size limit, the test client.
- **waitress** serves it: a production WSGI server in pure Python (Linux, macOS and Windows alike,
  no C compiler, no dependencies) whose asynchronous front end reads every request *in full*
  before handing it to a fixed pool of worker threads. A slow or half-sent client therefore holds
  a socket, never a thread; connections are capped, idle ones closed after a timeout, and bodies
  and headers limited before they reach Flask. (Werkzeug's development server started a thread per
  connection and never timed one out; gunicorn forks processes and does not run on Windows; an
  ASGI server would need an asynchronous rewrite of an application that is a few synchronous
  routes.)

API (the page uses it too):

- ``GET /api/model`` → ``{"sizes": [...], "activations": [...], "cost": ...}``
- ``POST /api/predict`` with either
  ``{"image": 28×28 nested list of floats in [0, 1]}`` (JSON, at most 256 KiB; white digit on black,
  as in MNIST), or a PNG body (``Content-Type: image/png``; any colours, at most 2048×2048 pixels —
  refused from its header, before decoding — turned into MNIST's form: inverted if light, fitted
  into 20×20, centred by centre of mass). Answer: ``{"label": int, "probabilities": [10 floats],
  "activations": [[...] per hidden layer], "input": the 28×28 image the network saw}``.

Every answer is JSON (never NaN) and no request gets a 500: malformed requests get
``{"error": "..."}`` with status 400, 413 (too large), 415 (wrong type), 421 (a ``Host`` this server
does not answer to), 422 (the model's outputs overflow for this image) or 503 (busy: retry). Only
a body over the size limit is refused by waitress itself, before the application, in plain text.

Safety: bound to 127.0.0.1 by default. The ``Host`` header must name the bound address or
localhost, so a page elsewhere cannot reach the server through DNS rebinding; every answer carries
``X-Content-Type-Options``, a Content-Security-Policy, ``X-Frame-Options`` and ``Referrer-Policy``.
There is no authentication: another address than loopback is warned about on stderr.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import importlib
import io
import ipaddress
import json
import logging
import re
import socket
import sys
import threading
from importlib import resources
from typing import Any

import numpy as np

from ffnn.errors import ExtraNotInstalledError, ParameterError
from ffnn.images import mnist_like
from ffnn.network import Network

MAX_BODY = 2 * 1024 * 1024  # bytes, any request (waitress refuses more before reading it)
MAX_JSON_BODY = 256 * 1024  # bytes: a 28×28 image needs ~20 kB; parsing 256 kB costs at most a few MB
MAX_PNG_PIXELS = 2048 * 2048  # width × height from the PNG header; decoded, at most 4 bytes a pixel
REDUCED_SIDE = 1024  # a decoded image is shrunk (box filter) to at most this many pixels a side
WORKERS = 4  # waitress's worker threads: requests answered at once
HEAVY_AT_ONCE = 2  # PNG decodes at once (each up to ~30 MB); the others wait for a turn ...
HEAVY_WAIT = 10.0  # ... this many seconds at most, then get 503
CONNECTION_LIMIT = 100  # open connections; more wait in the listen backlog
CHANNEL_TIMEOUT = 15.0  # seconds a connection may stay silent (half-sent requests included)
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class RequestError(ValueError):
    """A request the API refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# -- the answer --------------------------------------------------------------------------------


def predict(network: Network, image: np.ndarray) -> dict[str, Any]:
    """The answer for one 28×28 image in [0, 1]: label, output probabilities, hidden activations."""
    with np.errstate(all="ignore"):  # an overflow is caught below, as non-finite values
        *hidden, output = network.layer_outputs(image.reshape(1, -1))  # one pass: every layer's activations
        probabilities = network.as_probabilities(output)[0]
    if not (np.isfinite(probabilities).all() and all(np.isfinite(a).all() for a in hidden)):
        raise RequestError(
            "the model's activations overflow for this image (they are not finite numbers), so it has no answer; "
            "its weights are too large for its dtype",
            422,
        )
    return {
        "label": int(np.argmax(probabilities)),
        "probabilities": [round(float(p), 6) for p in probabilities],
        "activations": [[round(float(v), 5) for v in a[0]] for a in hidden],
        "input": [[round(float(v), 4) for v in row] for row in image.reshape(28, 28)],
    }


# -- requests to images ------------------------------------------------------------------------


def parse_json(body: bytes) -> Any:
    """The JSON document ``body``, or RequestError (too large, malformed, nested too deeply)."""
    if len(body) > MAX_JSON_BODY:
        raise RequestError(f"the JSON body is larger than {MAX_JSON_BODY:,} bytes; a 28×28 image needs far less", 413)
    try:
        return json.loads(body)
    except RecursionError:
        raise RequestError('the JSON body is nested too deeply; send {"image": 28 rows of 28 numbers}') from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, an integer of more than 4300 digits
        raise RequestError("the body is not valid JSON") from None


def image_from_json(payload: Any) -> np.ndarray:
    """``{"image": 28×28 nested list of numbers in [0, 1]}`` as an array, or RequestError."""
    if not isinstance(payload, dict) or "image" not in payload:
        raise RequestError('the JSON body must be an object with an "image" field (28×28 numbers in [0, 1])')
    rows = payload["image"]
    if not isinstance(rows, list) or len(rows) != 28 or not all(isinstance(r, list) and len(r) == 28 for r in rows):
        raise RequestError('"image" must be a list of 28 rows of 28 numbers')
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for r in rows for v in r):
        raise RequestError('"image" must hold numbers only')
    out_of_range = RequestError('"image" values must be finite and in [0, 1] (white digit on black)')
    try:
        image = np.array(rows, dtype=np.float64)
    except OverflowError:  # an integer beyond float64, such as 10**400
        raise out_of_range from None
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise out_of_range
    return image


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


# -- the application ---------------------------------------------------------------------------


def allowed_hosts(host: str) -> tuple[frozenset[str], bool]:
    """The names a ``Host`` header may give for a server bound to ``host``, and whether any IP
    address is also fine (a server on every interface). Names are lower case, without port or
    brackets. DNS rebinding needs a name that the attacker controls; an address needs none."""
    bound = host.strip("[]").lower()
    if bound in ("", "0.0.0.0", "::"):
        return LOOPBACK_NAMES | {socket.gethostname().lower(), socket.getfqdn().lower()}, True
    return LOOPBACK_NAMES | {bound}, False


def host_name(header: str) -> str:
    """The name in a ``Host`` header: lower case, without port, brackets or a final dot."""
    header = header.strip().lower()
    name = header[1:].partition("]")[0] if header.startswith("[") else header.rpartition(":")[0] or header
    return name if header.startswith("[") else name.rstrip(".")


def content_security_policy(page: str) -> str:
    """A policy for the page: its own inline script and style (by hash), requests to itself only."""

    def hashes(tag: str) -> str:
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in found)

    return (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def create_app(network: Network, host: str = "127.0.0.1") -> Any:
    """The Flask application serving the page and the API for ``network`` (784 inputs, probability
    outputs) on a server bound to ``host``."""
    check_network(network)
    require_extras()
    from flask import Flask, Response, request
    from werkzeug.exceptions import HTTPException

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    page = resources.files("ffnn.web").joinpath("index.html").read_text(encoding="utf-8")
    page_policy = content_security_policy(page)
    names, any_address = allowed_hosts(host)
    heavy = threading.BoundedSemaphore(HEAVY_AT_ONCE)

    def answer(body: Any, status: int = 200) -> Any:
        return Response(json.dumps(body, allow_nan=False), status, mimetype="application/json")

    @app.before_request
    def check_host() -> Any:
        name = host_name(request.headers.get("Host", "localhost"))
        if name not in names and not (any_address and _is_address(name)):
            raise RequestError(
                f"this server answers to {', '.join(sorted(names))} only, not {name!r}: open it by one of those names",
                421,
            )
        return None

    @app.get("/")
    def index() -> Any:
        response = Response(page, 200, mimetype="text/html")
        response.headers["Content-Security-Policy"] = page_policy
        return response

    @app.get("/favicon.ico")
    def no_icon() -> Any:  # browsers ask for one; "none" rather than a 404 in the console
        return Response(status=204)

    @app.get("/api/model")
    def model() -> Any:
        activations = [a.name for a in network.activations]
        return answer({"sizes": network.sizes, "activations": activations, "cost": network.cost_function.name})

    @app.post("/api/predict")
    def predict_route() -> Any:
        kind = (request.mimetype or "").lower()
        if kind == "application/json":
            image = image_from_json(parse_json(request.get_data()))
        elif kind in ("image/png", "application/octet-stream"):
            if not heavy.acquire(timeout=HEAVY_WAIT):
                raise RequestError("the server is busy decoding other images; try again in a moment", 503)
            try:
                image = image_from_png(request.get_data())
            finally:
                heavy.release()
        else:
            raise RequestError(f"send application/json or image/png, not {kind or 'no content type'}", 415)
        return answer(predict(network, image))

    @app.errorhandler(RequestError)
    def refused(error: RequestError) -> Any:
        response = answer({"error": str(error)}, error.status)
        if error.status == 503:
            response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        message = f"the body is larger than {MAX_BODY:,} bytes" if error.code == 413 else error.description
        return answer({"error": message}, error.code or 500)

    @app.errorhandler(Exception)
    def bug(error: Exception) -> Any:  # pragma: no cover - a bug in ffnn; logged with its traceback
        app.logger.exception("ffnn serve: internal error")
        return answer({"error": f"internal error in ffnn serve ({type(error).__name__}); please report it"}, 500)

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    return app


def check_network(network: Network) -> None:
    """Refuse, before serving, a model the page cannot show: 784 inputs and probability outputs."""
    if network.sizes[0] != 784:
        raise ParameterError(
            f"ffnn serve needs a model with 784 inputs (28×28 images); this one has {network.sizes[0]}."
        )
    if not network.gives_probabilities:
        raise ParameterError(
            "ffnn serve needs a model with a softmax or sigmoid output layer (its outputs are shown as "
            f"probabilities); this one's is {network.activations[-1].name!r}."
        )


def require_extras() -> None:
    """ExtraNotInstalledError unless Flask, waitress and Pillow (the ``serve`` extra) import."""
    for module, package in (("flask", "Flask"), ("waitress", "waitress"), ("PIL", "Pillow")):
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ExtraNotInstalledError(
                f"ffnn serve needs {package}, which is not installed: install ffnn[serve] (pip install 'ffnn[serve]')"
            ) from e


# -- the server --------------------------------------------------------------------------------


def make_server(network: Network, host: str = "127.0.0.1", port: int = 8000) -> Any:
    """A waitress server for ``network``, listening but not yet running (``.run()``, ``.close()``).

    Port 0 picks a free port (``.effective_port``, or ``.effective_listen`` for a name such as
    localhost that gives several addresses). A port in use or an address not of this machine is
    a ParameterError saying what to do.
    """
    if not (isinstance(port, int) and 0 <= port <= 65535):
        raise ParameterError(f"port must be an integer from 0 to 65535 (0: any free port); got {port!r}")
    app = create_app(network, host)
    from waitress import create_server  # type: ignore[import-untyped]

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth": requests waiting, as meant
    sockets: dict[int, Any] = {}  # waitress's map of open sockets, to close them if listening fails
    try:
        return create_server(
            app,
            sockets,
            host=host,
            port=port,
            threads=WORKERS,
            connection_limit=CONNECTION_LIMIT,
            channel_timeout=CHANNEL_TIMEOUT,
            cleanup_interval=max(0.5, CHANNEL_TIMEOUT / 3),
            max_request_body_size=MAX_BODY,
            max_request_header_size=64 * 1024,
            asyncore_use_poll=True,
            ident="ffnn",
        )
    except (OSError, ValueError) as e:  # waitress: ValueError for a name that does not resolve
        for dispatcher in list(sockets.values()):  # the half-made server, its trigger, and its idle workers
            if hasattr(dispatcher, "task_dispatcher"):
                dispatcher.task_dispatcher.shutdown()
            dispatcher.close()
        raise ParameterError(_cannot_listen(e, host, port)) from None


def _cannot_listen(error: OSError | ValueError, host: str, port: int) -> str:
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    if not isinstance(error, OSError) or isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: {host!r} is not an address of this machine; use 127.0.0.1 or 0.0.0.0"
    if error.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: port {port} is already in use (another ffnn serve?); stop that program "
            "or choose another port with --port (0 picks a free one)"
        )
    if error.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need privileges); use --port 8000"
    return f"cannot listen on {where}: {error.strerror or error}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address (or the name localhost) that only this machine can reach."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost" or host.lower().endswith(".localhost")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def serve(network: Network, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the page until interrupted (Ctrl-C)."""
    server = make_server(network, host, port)
    if not is_loopback(host):
        print(
            f"ffnn serve: warning: {host} is not a loopback address, so other machines can reach this server, "
            "which has no authentication; --host 127.0.0.1 keeps it to this machine",
            file=sys.stderr,
            flush=True,
        )
    listening = getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]
    bound, actual_port = listening[0][:2]
    if bound in ("0.0.0.0", "::"):  # every interface: loopback works in any browser
        bound = "127.0.0.1" if bound == "0.0.0.0" else "::1"
    shown = f"[{bound}]" if ":" in bound else bound
    print(f"Draw a digit at http://{shown}:{actual_port}/  (Ctrl-C to stop)", flush=True)
    try:
        server.run()  # returns on Ctrl-C, after stopping the workers
    finally:
        server.close()
