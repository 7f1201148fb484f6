"""The web server behind ffnn's pages (``ffnn serve``, ``ffnn train --serve``, ``ffnn playground``):
one application shape, one server configuration, one set of safety rules, one way to push updates.

Two parts, each chosen for what it does well:

- **Flask** builds the application: routing, the request-size limit, the test client.
- **waitress** serves it: a production WSGI server in pure Python (Linux, macOS and Windows alike,
  no C compiler, no dependencies) whose asynchronous front end reads every request *in full*
  before handing it to a fixed pool of worker threads. A slow or half-sent client therefore holds
  a socket, never a thread. Connections are capped, and at the cap a new one closes the one silent
  longest that is not being answered (:func:`_make_room`), so half-sent clients cannot keep others
  out; idle ones are closed after a timeout, and bodies and headers limited before they reach
  Flask. (Werkzeug's development server started a thread per connection and never timed one out;
  gunicorn forks processes and does not run on Windows; an ASGI server would need an asynchronous
  rewrite of an application that is a few synchronous routes.)

**Updates are pushed as server-sent events** (``text/event-stream``; :mod:`ffnn.feed`), not over a
WebSocket: the updates flow one way, from the training to the page, and the page's few commands
are ordinary POST requests. Server-sent events are plain HTTP — the browser's ``EventSource``
reconnects by itself, and waitress streams them with no extra dependency — while a WebSocket
would need another server library and its own framing and keep-alive. Each open stream holds one
of ``STREAMS`` threads set aside for streams (more are refused with 503), so the ``WORKERS``
threads that answer requests are never taken by listeners.

Every answer is JSON (never NaN) and no request gets a 500: malformed requests get
``{"error": "..."}`` with a 4xx status — 400, 404, 405, 409 (not now: the run is still training),
413 (too large), 415 (wrong type), 421 (a ``Host`` this server does not answer to), 422 — or 503
(busy: retry). Only a body over the size limit is refused by waitress itself, before the
application, in plain text.

Safety: bound to 127.0.0.1 by default. The ``Host`` header must name the bound address or
localhost, so a page elsewhere cannot reach the server through DNS rebinding; every answer carries
``X-Content-Type-Options``, a Content-Security-Policy (a page's inline script and style allowed by
hash, never ``unsafe-inline``), ``X-Frame-Options`` and ``Referrer-Policy``. There is no
authentication: another address than loopback is warned about on stderr.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import importlib
import ipaddress
import json
import logging
import re
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from ffnn.errors import ExtraNotInstalledError, ParameterError
from ffnn.feed import Feed

MAX_BODY = 2 * 1024 * 1024  # bytes, any request (waitress refuses more before reading it)
IN_MEMORY_BODY = 64 * 1024  # bytes of a body kept in memory while it arrives; a larger one goes to a temporary
# file, so CONNECTION_LIMIT half-sent bodies hold ~16 MB, not 128 (waitress's default: 512 KiB each)
WORKERS = 4  # waitress's worker threads that answer requests
STREAMS = 32  # open event streams at most (each holds a thread of its own); more get 503
CONNECTION_LIMIT = 256  # open connections (fewer where the open-file limit is low); at the limit a new one
# closes the one silent longest that is not being answered, and waits only when every one is being answered
CHANNEL_TIMEOUT = 15.0  # seconds a connection may stay silent (half-sent requests included)
HEARTBEAT = 5.0  # seconds between keep-alive comments on a silent event stream (< CHANNEL_TIMEOUT)
OUTPUT_BUFFER = 256 * 1024  # bytes a connection buffers: sent ones until then (waitress keeps them), and a
# slow reader's unsent ones before its stream waits (never the training)
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class RequestError(ValueError):
    """A request the API refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def require_extras(command: str) -> None:
    """ExtraNotInstalledError unless Flask, waitress and Pillow (the ``serve`` extra) import."""
    for module, package in (("flask", "Flask"), ("waitress", "waitress"), ("PIL", "Pillow")):
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ExtraNotInstalledError(
                f"{command} needs {package}, which is not installed: install ffnn[serve] (pip install 'ffnn[serve]')"
            ) from e


# -- the application ---------------------------------------------------------------------------


def json_answer(body: Any, status: int = 200) -> Any:
    """A JSON response (NaN and inf refused: they are not JSON)."""
    from flask import Response

    return Response(json.dumps(body, allow_nan=False), status, mimetype="application/json")


def parse_json(body: bytes, limit: int, example: str) -> Any:
    """The JSON document ``body``, or RequestError: larger than ``limit`` bytes (413), nested too
    deeply or malformed (400), each message showing ``example``, what the route expects."""
    if len(body) > limit:
        raise RequestError(f"the JSON body is larger than {limit:,} bytes; {example} needs far less", 413)
    try:
        return json.loads(body)
    except RecursionError:
        raise RequestError(f"the JSON body is nested too deeply; send {example}") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, an integer of more than 4300 digits
        raise RequestError(f"the body is not valid JSON; send {example}") from None


def base_app(host: str) -> Any:
    """A Flask application with the rules every ffnn page shares: the ``Host`` check, JSON errors,
    security headers. Routes are added by the caller (:func:`add_page`, ``@app.get``, ...)."""
    from flask import Flask, Response, request
    from werkzeug.exceptions import HTTPException

    app = Flask("ffnn")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    names, any_address = allowed_hosts(host)

    @app.before_request
    def check_host() -> Any:
        name = host_name(request.headers.get("Host", "localhost"))
        if name not in names and not (any_address and _is_address(name)):
            raise RequestError(
                f"this server answers to {', '.join(sorted(names))} only, not {name!r}: open it by one of those names",
                421,
            )
        if request.method == "OPTIONS":  # no cross-origin requests are allowed, so no preflight is answered
            raise RequestError("this server answers no OPTIONS (cross-origin) requests", 405)
        if request.method not in ("GET", "HEAD") and not same_origin(request.headers):
            raise RequestError("requests from another web site's page are refused: use this server's own page", 403)
        return None

    @app.get("/favicon.ico")
    def no_icon() -> Any:  # browsers ask for one; "none" rather than a 404 in the console
        return Response(status=204)

    @app.errorhandler(RequestError)
    def refused(error: RequestError) -> Any:
        response = json_answer({"error": str(error)}, error.status)
        if error.status == 503:
            response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        message = f"the body is larger than {MAX_BODY:,} bytes" if error.code == 413 else error.description
        return json_answer({"error": message}, error.code or 500)

    @app.errorhandler(Exception)
    def bug(error: Exception) -> Any:  # pragma: no cover - a bug in ffnn; logged with its traceback
        app.logger.exception("ffnn: internal error in the web server")
        message = f"internal error in ffnn's server ({type(error).__name__}); please report it"
        return json_answer({"error": message}, 500)

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    return app


def add_page(app: Any, path: str, file: str, *, framed: bool = False, frames: bool = False) -> None:
    """Serve ``ffnn/web/<file>`` at ``path`` with a policy allowing its own inline script and style.
    ``framed``: other pages of this server may show it in a frame; ``frames``: it shows them."""
    from flask import Response

    page = resources.files("ffnn.web").joinpath(file).read_text(encoding="utf-8")
    policy = content_security_policy(page, framed=framed, frames=frames)

    def show() -> Any:
        response = Response(page, 200, mimetype="text/html")
        response.headers["Content-Security-Policy"] = policy
        if framed:
            response.headers["X-Frame-Options"] = "SAMEORIGIN"
        return response

    app.add_url_rule(path, f"page:{file}", show, methods=["GET"])


def content_security_policy(page: str, *, framed: bool = False, frames: bool = False) -> str:
    """A policy for the page: its own inline script and style (by hash), requests to itself only."""

    def hashes(tag: str) -> str:
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in found)

    ancestors = "'self'" if framed else "'none'"
    return (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; connect-src 'self'; "
        f"img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
        + ("; frame-src 'self'" if frames else "")
    )


class Streams:
    """At most ``limit`` event streams open at once: each holds a server thread while it lasts."""

    def __init__(self, limit: int = STREAMS) -> None:
        self._open = threading.Condition()
        self.count = 0  # streams open now
        self.limit = limit

    def open(self, feed: Feed, min_interval: float = 0.1) -> Any:
        """A ``text/event-stream`` response streaming ``feed``; 503 when every slot is taken."""
        from flask import Response

        with self._open:
            if self.count >= self.limit:
                raise RequestError(f"{self.limit} pages are already listening; close one and reload", 503)
            self.count += 1

        def stream() -> Iterator[bytes]:
            yield b"retry: 2000\n\n"  # the browser reconnects after 2 s if the stream breaks
            yield from feed.events(min_interval=min_interval, heartbeat=HEARTBEAT)

        released = threading.Event()

        def release() -> None:  # the server closes every response, streamed or not: the slot comes back once
            with self._open:
                if not released.is_set():
                    released.set()
                    self.count -= 1
                    self._open.notify_all()

        response = Response(stream(), 200, mimetype="text/event-stream")
        response.call_on_close(release)
        response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must not hold events back
        return response

    def wait_closed(self, timeout: float) -> bool:
        """Wait until no stream is open (their feeds closed), at most ``timeout`` seconds."""
        with self._open:
            return self._open.wait_for(lambda: self.count == 0, timeout)


def same_origin(headers: Any) -> bool:
    """Whether a request that changes something comes from this server's own pages (or from no
    page at all, as from curl or Python). A browser names the page's origin (``Origin``) and how it
    relates to the server (``Sec-Fetch-Site``) on every cross-origin POST, form posts and
    ``text/plain`` bodies included, which need no preflight: without this check any web site the
    user visits could drive a server on 127.0.0.1 blindly."""
    if headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = headers.get("Origin")
    return origin is None or urlsplit(origin).netloc.lower() == headers.get("Host", "").lower()


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


# -- the server --------------------------------------------------------------------------------


def make_server(app: Any, host: str = "127.0.0.1", port: int = 8000, streams: int = 0) -> Any:
    """A waitress server for ``app``, listening but not yet running (``.run()``, ``.close()``), with
    ``WORKERS`` threads for requests and ``streams`` more for event streams.

    Port 0 picks a free port (:func:`address`). A port in use or an address not of this machine is
    a ParameterError saying what to do.
    """
    if not (isinstance(port, int) and 0 <= port <= 65535):
        raise ParameterError(f"port must be an integer from 0 to 65535 (0: any free port); got {port!r}")
    from waitress import create_server  # type: ignore[import-untyped]

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth": requests waiting, as meant
    sockets: dict[int, Any] = {}  # waitress's map of open sockets, to close them if listening fails
    try:
        server = create_server(
            app,
            sockets,
            host=host,
            port=port,
            threads=WORKERS + streams,
            connection_limit=_connection_limit(),
            channel_timeout=CHANNEL_TIMEOUT,
            cleanup_interval=max(0.5, CHANNEL_TIMEOUT / 3),
            max_request_body_size=MAX_BODY,
            max_request_header_size=64 * 1024,
            inbuf_overflow=IN_MEMORY_BODY,
            outbuf_high_watermark=OUTPUT_BUFFER,
            asyncore_use_poll=True,
            ident="ffnn",
        )
    except (OSError, ValueError) as e:  # waitress: ValueError for a name that does not resolve
        for dispatcher in list(sockets.values()):  # the half-made server, its trigger, and its idle workers
            if hasattr(dispatcher, "task_dispatcher"):
                dispatcher.task_dispatcher.shutdown()
            dispatcher.close()
        raise ParameterError(_cannot_listen(e, host, port)) from None
    for listener in [server, *getattr(server, "map", {}).values()]:  # one, or one per address of a name
        if hasattr(listener, "active_channels"):
            _close_stalled_readers(listener)
            _make_room(listener)
    return server


def _connection_limit() -> int:
    """``CONNECTION_LIMIT``, or a quarter of this process's open-file limit where that is lower
    (macOS's usual 256 files give 64): a connection may hold three files (its socket, and a large
    request body and a large answer spilled to temporary files), and a server out of files could
    accept no one."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return CONNECTION_LIMIT
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return CONNECTION_LIMIT if files == resource.RLIM_INFINITY else min(CONNECTION_LIMIT, files // 4)


def _make_room(listener: Any) -> None:
    """Keep ``listener`` accepting at the connection limit. Its loop asks it, before every wait on
    the sockets, whether to accept; when the open connections have reached the limit, that check
    shuts down the one silent longest among those not being answered (a half-sent request, an idle
    keep-alive connection) and waits one turn of the loop, so a new client gets in at once instead
    of waiting up to ``CHANNEL_TIMEOUT`` for waitress to time the silent ones out. A connection
    being answered (an event stream included) is never closed for room; when every one is,
    waitress stops accepting until one ends.

    The socket is shut down, not closed: it stays in the loop's map, wakes the loop (it reads as
    ended) and is closed by its own turn, as waitress closes every connection. Closed here, its
    number could be taken in the same turn by a new connection, which the poll's "no such socket"
    for the old one would then close. Only the loop's thread adds requests to a connection, so one
    found with none queued cannot get one before it ends."""
    readable = listener.readable

    def readable_with_room() -> bool:
        if len(listener._map) >= listener.adj.connection_limit:  # the count waitress checks: sockets in its map
            waiting = [c for c in listener.active_channels.values() if not c.requests and not c.total_outbufs_len]
            if waiting:
                with contextlib.suppress(OSError):  # already shut down (the same one, a turn ago), or reset
                    min(waiting, key=lambda channel: channel.last_activity).socket.shutdown(socket.SHUT_RDWR)
                return False
        return bool(readable())

    listener.readable = readable_with_room


def _close_stalled_readers(listener: Any) -> None:
    """Make waitress's periodic clean-up (in its loop's thread) also close a connection that is
    being answered but has taken none of its pending output for ``CHANNEL_TIMEOUT`` seconds: an
    event stream whose reader stopped reading. (Waitress times out idle connections only between
    requests, and a stream is one endless request: its thread would wait forever for room in the
    buffer.) A slow reader still taking data is kept; so is a quiet stream, which has nothing
    pending."""
    clean_up = listener.maintenance

    def maintenance(now: float) -> None:
        clean_up(now)
        cutoff = now - CHANNEL_TIMEOUT
        for channel in list(listener.active_channels.values()):
            if channel.requests and channel.total_outbufs_len and channel.last_activity < cutoff:
                channel.handle_close()  # now (its socket may never be writable again); the stream's thread ends

    listener.maintenance = maintenance


def _cannot_listen(error: OSError | ValueError, host: str, port: int) -> str:
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    if not isinstance(error, OSError) or isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: {host!r} is not an address of this machine; use 127.0.0.1 or 0.0.0.0"
    if error.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: port {port} is already in use (another ffnn server?); stop that program "
            "or choose another port with --port (0 picks a free one)"
        )
    if error.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need privileges); use --port 8000"
    return f"cannot listen on {where}: {error.strerror or error}"


def address(server: Any) -> str:
    """``http://host:port/`` of a listening server, as a browser on this machine opens it."""
    listening = getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]
    bound, port = listening[0][:2]
    if bound in ("0.0.0.0", "::"):  # every interface: loopback works in any browser
        bound = "127.0.0.1" if bound == "0.0.0.0" else "::1"
    return f"http://{f'[{bound}]' if ':' in bound else bound}:{port}/"


def warn_if_public(host: str, command: str) -> None:
    """A warning on stderr when ``host`` lets other machines in (there is no authentication)."""
    if not is_loopback(host):
        print(
            f"{command}: warning: {host} is not a loopback address, so other machines can reach this server, "
            "which has no authentication; --host 127.0.0.1 keeps it to this machine",
            file=sys.stderr,
            flush=True,
        )


def run_until_interrupted(server: Any, on_close: Callable[[], None] | None = None) -> None:
    """Serve until Ctrl-C, then stop; ``on_close()`` ends the event streams first.

    On Ctrl-C ``on_close`` runs at once, before waitress stops its threads: a stream still open
    would hold its thread past waitress's wait. (It may run twice; it must not mind.)"""

    def interrupted(signum: int, frame: Any) -> None:
        if on_close is not None:
            on_close()
        raise KeyboardInterrupt

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, interrupted) if in_main else None
    try:
        server.run()  # returns on Ctrl-C, after stopping the workers
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if on_close is not None:
            on_close()
        stop(server)


def stop(server: Any) -> None:
    """Stop a server: its worker threads first (each finishes its answer — end the event streams
    before), then its sockets, so that no worker writes to a closed one."""
    server.task_dispatcher.shutdown(timeout=5)
    server.close()


def run_in_background(server: Any) -> threading.Thread:
    """Serve from a daemon thread (the main thread trains); ``server.close()`` ends it."""
    thread = threading.Thread(target=_serve_quietly, args=(server,), name="ffnn-server", daemon=True)
    thread.start()
    return thread


def _serve_quietly(server: Any) -> None:
    with contextlib.suppress(OSError, ValueError):  # the sockets were closed under it: the program is ending
        server.run()


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
