"""Scripted answers for the fetch tests: MockTransport scripts, a fake clock, a recording loopback server."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from scraper.fetch import Fetcher
from scraper.http import make_client
from scraper.politeness import RateLimiter, Robots

SITE = "https://www.example.org"
ROBOTS = "User-agent: *\nDisallow: */feed/*\nDisallow: *?*update_status=1*\n"


class RawStream(httpx.AsyncByteStream):
    """A response body handed over as raw bytes off the wire, as a real connection does."""

    def __init__(self, data: bytes, chunk: int = 65536):
        self.data = data
        self.chunk = chunk

    async def __aiter__(self):
        for i in range(0, len(self.data), self.chunk):
            yield self.data[i : i + self.chunk]


def raw(status: int, body: bytes = b"", headers: dict | None = None) -> httpx.Response:
    """A scripted answer whose body is not decoded by httpx (a Content-Encoding is sent as given)."""
    headers = {"Content-Length": str(len(body)), **(headers or {})}
    return httpx.Response(status, headers=headers, stream=RawStream(body))


def fresh(answer: httpx.Response) -> httpx.Response:
    """A scripted answer as a new streaming response (httpx preloads plain ones, and a stream reads once)."""
    if isinstance(answer.stream, RawStream):
        return httpx.Response(answer.status_code, headers=answer.headers, stream=RawStream(answer.stream.data))
    if hasattr(answer, "_content"):
        return httpx.Response(answer.status_code, headers=answer.headers, stream=RawStream(answer.content))
    return answer


class Script:
    """Answers each path from a list of responses (the last one repeats); records requests."""

    def __init__(self, routes: dict[str, list]):
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answers = self.routes.get(request.url.path)
        if not answers:
            return fresh(httpx.Response(404, text="not here"))
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return fresh(answer)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


class Sleeps:
    """A fake clock: sleeping records the pause and moves time on, instantly."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds


def run(routes, url="/page", *, robots_text=ROBOTS, fetch_kwargs=None, **options):
    script = Script(routes)
    sleeps = Sleeps()
    calls = []

    async def go():
        client = make_client(SITE, "me@example.org", transport=httpx.MockTransport(script))
        fetcher = Fetcher(
            client,
            Robots.parse(SITE, robots_text),
            RateLimiter(10_000, clock=sleeps.clock, sleep=sleeps),
            site=SITE,
            backoff_base=0.01,
            sleep=sleeps,
            rng=random.Random(1),
            on_request=lambda method, u, status: calls.append((method, u, status)),
            **options,
        )
        try:
            return await fetcher.fetch(url, **(fetch_kwargs or {}))
        finally:
            await client.aclose()

    result = asyncio.run(go())
    return result, script, sleeps, calls


# --- real loopback server ---------------------------------------------------------------------------


class RecordingServer:
    """A tiny HTTP server on 127.0.0.1 that records when each request arrived."""

    def __init__(self, behaviour: Callable[[BaseHTTPRequestHandler, int], None]) -> None:
        self.arrivals: list[float] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.arrivals.append(time.monotonic())
                outer.paths.append(self.path)
                behaviour(self, len(outer.paths))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(handler, status, body=b"ok", headers=None, declared=None):
    handler.send_response(status)
    handler.send_header("Content-Length", str(declared if declared is not None else len(body)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()
