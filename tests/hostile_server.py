"""A hostile web server on 127.0.0.1 for the tests: answers scripted byte by byte.

``HostileServer`` answers the paths given to ``route()`` with a behaviour (a
function writing to the socket: a decompression bomb, a trickle, an endless
body ...) and every other path from a sample site's ``handle()``, so a real
sync can run against it with a few poisoned pages among ordinary ones.
``hits`` records (time, path) of every request.
"""

from __future__ import annotations

import functools
import gzip
import re
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Behaviour = Callable[[BaseHTTPRequestHandler], None]


@functools.lru_cache(maxsize=8)
def bomb(decoded_size: int, layers: int = 1) -> bytes:
    """Zeros of ``decoded_size`` bytes, gzipped ``layers`` times (each layer compresses the one inside).

    The inner layer uses zlib's fastest level (about 1.5 s per GiB here); the
    outer layers shrink its regular output to a few kilobytes.
    """
    z = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 22)
    parts = []
    left = decoded_size
    while left > 0:
        piece = chunk[: min(len(chunk), left)]
        parts.append(z.compress(piece))
        left -= len(piece)
    parts.append(z.flush())
    data = b"".join(parts)
    for _ in range(layers - 1):
        data = gzip.compress(data, 9)
    return data


def send(status: int, body: bytes = b"", headers: dict | None = None, *, length: bool = True) -> Behaviour:
    """Answer ``status`` with ``body`` as it is (any Content-Encoding header is only a claim)."""

    def behave(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if length:
            h.send_header("Content-Length", str(len(body)))
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()

    return behave


def trickle(piece: bytes = b"<p>x</p>", every: float = 2.0, *, stop: threading.Event,
            headers: dict | None = None) -> Behaviour:
    """Answer 200 at once, then send ``piece`` every ``every`` seconds until ``stop`` is set or the client goes."""

    def behave(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        try:
            h.wfile.write(b"<!DOCTYPE html><html><body>")
            h.wfile.flush()
            while not stop.wait(every):
                h.wfile.write(piece)
                h.wfile.flush()
        except OSError:
            pass

    return behave


def silent(*, stop: threading.Event) -> Behaviour:
    """Read the request, then say nothing until ``stop`` is set."""

    def behave(h: BaseHTTPRequestHandler) -> None:
        stop.wait()
        h.close_connection = True

    return behave


class HostileServer:
    """See the module docstring.  ``fallback`` is an unstarted ``FakeSite`` (or None: 404 elsewhere)."""

    def __init__(self, fallback=None, *, tls: ssl.SSLContext | None = None):
        self.fallback = fallback
        self.hits: list[tuple[float, str]] = []
        self._routes: list[tuple[re.Pattern, Behaviour]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                with outer._lock:
                    outer.hits.append((time.monotonic(), self.path))
                    behaviour = next((b for rx, b in outer._routes if rx.search(self.path)), None)
                try:
                    if behaviour is not None:
                        behaviour(self)
                    else:
                        outer._from_fallback(self)
                except OSError:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        if fallback is not None:
            fallback.port = self.port  # its pages and redirects then point here
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def route(self, pattern: str, behaviour: Behaviour) -> None:
        with self._lock:
            self._routes.insert(0, (re.compile(pattern), behaviour))

    def clear_routes(self) -> None:
        """Serve everything from the sample site again (the site mended)."""
        with self._lock:
            self._routes.clear()

    def hits_for(self, pattern: str) -> list[tuple[float, str]]:
        rx = re.compile(pattern)
        with self._lock:
            return [h for h in self.hits if rx.search(h[1])]

    def _from_fallback(self, h: BaseHTTPRequestHandler) -> None:
        if self.fallback is None:
            return send(404, b"not here", {"Content-Type": "text/plain"})(h)
        resp = self.fallback.handle("GET", h.path)
        headers = {}
        if resp.content_type and resp.body:
            headers["Content-Type"] = resp.content_type
        for k, v in resp.headers or []:
            headers[k] = v
        send(resp.status, resp.body, headers)(h)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
