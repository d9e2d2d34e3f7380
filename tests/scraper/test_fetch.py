"""Fetcher behaviour against scripted responses (MockTransport) and a real loopback server."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from scraper.fetch import ChallengeDetected, Fetcher, FetchResult, load_robots
from scraper.http import make_client
from scraper.politeness import RateLimiter, Robots, RobotsUnavailable

SITE = "https://www.example.org"
ROBOTS = "User-agent: *\nDisallow: */feed/*\nDisallow: *?*update_status=1*\n"


class Script:
    """Answers each path from a list of responses (the last one repeats); records requests."""

    def __init__(self, routes: dict[str, list]):
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answers = self.routes.get(request.url.path)
        if not answers:
            return httpx.Response(404, text="not here")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


class Sleeps:
    """A fake clock: sleeping records the pause and moves time on, instantly."""

    def __init__(self):
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


def test_plain_200():
    result, script, sleeps, calls = run({"/page": [httpx.Response(200, text="hello", headers={"ETag": 'W/"abc"'})]})
    assert isinstance(result, FetchResult)
    assert (result.status, result.body, result.attempts, result.error) == (200, b"hello", 1, None)
    assert result.headers["etag"] == 'W/"abc"' and result.ok
    assert result.url == result.final_url == f"{SITE}/page"
    assert calls == [("GET", f"{SITE}/page", 200)] and sleeps.calls == []


def test_5xx_burst_is_survived_with_growing_backoff():
    routes = {"/page": [httpx.Response(500), httpx.Response(502), httpx.Response(503), httpx.Response(504), httpx.Response(200, text="ok")]}
    result, script, sleeps, calls = run(routes, backoff_max=100.0)
    assert result.status == 200 and result.body == b"ok" and result.attempts == 5 and result.error is None
    assert [c[2] for c in calls] == [500, 502, 503, 504, 200]
    # full jitter: each wait lies in [0, base * 2**(n-1)]
    assert len(sleeps.calls) == 4
    for n, wait in enumerate(sleeps.calls, start=1):
        assert 0 <= wait <= 0.01 * 2 ** (n - 1)


def test_gives_up_after_max_attempts_with_error():
    result, script, sleeps, calls = run({"/page": [httpx.Response(503)]}, max_attempts=3)
    assert result.status == 503 and result.attempts == 3 and len(script.requests) == 3
    assert result.error == "HTTP 503 (gave up after 3 attempts)" and not result.ok


def test_429_retry_after_seconds_honoured():
    routes = {"/page": [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, text="ok")]}
    result, script, sleeps, calls = run(routes)
    assert result.status == 200 and result.attempts == 2
    assert sleeps.calls[0] == 7.0
    assert sleeps.now >= 7.0  # the limiter held the next start back too


def test_retry_after_http_date_honoured():
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    routes = {"/page": [httpx.Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)}), httpx.Response(200)]}
    result, script, sleeps, calls = run(routes)
    assert result.status == 200 and result.attempts == 2
    assert 27 <= sleeps.calls[0] <= 30


def test_retry_after_beyond_cap_ends_attempts_for_that_url():
    routes = {"/page": [httpx.Response(429, headers={"Retry-After": "7200"}), httpx.Response(200)]}
    result, script, sleeps, calls = run(routes, retry_after_max=3600)
    assert result.status == 429 and result.attempts == 1 and len(script.requests) == 1
    assert "7200 s" in result.error and "retry after" in result.error
    assert result.retry_after == 7200.0 and sleeps.calls == []


def test_429_without_retry_after_backs_off():
    result, script, sleeps, calls = run({"/page": [httpx.Response(429), httpx.Response(200)]})
    assert result.status == 200 and result.attempts == 2 and 0 <= sleeps.calls[0] <= 0.01


def test_timeouts_and_connection_errors_are_retried():
    routes = {
        "/page": [
            httpx.ReadTimeout("slow"),
            httpx.ConnectError("refused"),
            httpx.RemoteProtocolError("peer closed connection"),
            httpx.Response(200, text="ok"),
        ]
    }
    result, script, sleeps, calls = run(routes)
    assert result.status == 200 and result.attempts == 4
    assert [c[2] for c in calls] == [None, None, None, 200]


def test_persistent_timeout_reported():
    result, script, sleeps, calls = run({"/page": [httpx.ConnectTimeout("no")]}, max_attempts=2)
    assert result.status == 0 and result.attempts == 2 and result.error.startswith("timed out")


def test_404_and_410_not_retried():
    for status in (404, 410):
        result, script, sleeps, calls = run({"/page": [httpx.Response(status, text="gone")]})
        assert result.status == status and result.attempts == 1 and result.error is None and result.body == b"gone"


def test_hidden_request_403_is_an_answer_not_a_challenge():
    body = "<html><head><title>Request has been removed - WhatDoTheyKnow</title></head><body><h1>Request has been removed</h1></body></html>"
    result, *_ = run({"/page": [httpx.Response(403, text=body)]})
    assert result.status == 403 and result.attempts == 1 and result.error is None


def test_conditional_headers_and_304():
    result, script, sleeps, calls = run(
        {"/page": [httpx.Response(304, headers={"ETag": 'W/"abc"'})]},
        fetch_kwargs={"etag": 'W/"abc"', "last_modified": "Wed, 21 Oct 2015 07:28:00 GMT"},
    )
    sent = script.requests[0].headers
    assert sent["if-none-match"] == 'W/"abc"' and sent["if-modified-since"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert result.not_modified and result.body is None and result.status == 304 and result.ok


def test_no_conditional_headers_without_validators():
    result, script, *_ = run({"/page": [httpx.Response(200)]})
    assert "if-none-match" not in script.requests[0].headers


def test_same_host_redirect_followed():
    routes = {
        "/request/123": [httpx.Response(301, headers={"Location": f"{SITE}/request/psl_schemes"})],
        "/request/psl_schemes": [httpx.Response(200, text="thread")],
    }
    result, script, *_ = run(routes, url="/request/123")
    assert result.status == 200 and result.body == b"thread" and result.attempts == 2
    assert result.url == f"{SITE}/request/123" and result.final_url == f"{SITE}/request/psl_schemes"


def test_off_site_redirect_not_followed():
    routes = {"/page": [httpx.Response(302, headers={"Location": "https://evil.example/page"})]}
    result, script, *_ = run(routes)
    assert result.status == 302 and "redirect to another host" in result.error
    assert script.paths() == ["/page"]


def test_redirect_into_disallowed_path_not_followed():
    routes = {"/page": [httpx.Response(302, headers={"Location": "/request/x?update_status=1"})]}
    result, script, *_ = run(routes)
    assert "disallowed by robots.txt" in result.error and script.paths() == ["/page"]


def test_redirect_loop_stops():
    routes = {"/a": [httpx.Response(302, headers={"Location": "/b"})], "/b": [httpx.Response(302, headers={"Location": "/a"})]}
    result, script, *_ = run(routes, url="/a", max_redirects=4)
    assert "too many redirects" in result.error and len(script.requests) == 5


def test_robots_disallowed_never_sent():
    result, script, sleeps, calls = run({"/feed/body/x": [httpx.Response(200)]}, url="/feed/body/x")
    assert result.error == "disallowed by robots.txt" and result.attempts == 0 and script.requests == [] and calls == []


def test_off_site_url_never_sent():
    result, script, *_ = run({"/page": [httpx.Response(200)]}, url="https://evil.example/page")
    assert "refused" in result.error and script.requests == []


def test_size_cap_from_content_length_and_from_stream():
    result, *_ = run({"/page": [httpx.Response(200, content=b"x" * 5000)]}, max_bytes=1000)
    assert result.error == "page larger than the 0.000953674 MB cap; not stored" and result.body is None

    async def chunks():
        for _ in range(10):
            yield b"y" * 500

    result, *_ = run({"/page": [httpx.Response(200, content=chunks())]}, max_bytes=2048)
    assert result.body is None and "cap" in result.error and result.attempts == 1


@pytest.mark.parametrize(
    "response, reason",
    [
        (httpx.Response(403, headers={"cf-mitigated": "challenge"}, text="x"), "cf-mitigated"),
        (httpx.Response(503, text="<html><head><title>Just a moment...</title></head><body></body></html>"), "Just a moment"),
        (httpx.Response(403, text="<html><title>Attention Required! | Cloudflare</title></html>"), "attention required"),
        (httpx.Response(403, text='<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1"></script>'), "challenge-platform"),
        (httpx.Response(200, text="<html><head><title>Just a moment...</title></head></html>"), "just a moment"),
        (httpx.Response(418, text="I'm a teapot"), "418"),
    ],
)
def test_challenge_raises_and_is_not_retried(response, reason):
    script = Script({"/page": [response]})

    async def go():
        client = make_client(SITE, None, transport=httpx.MockTransport(script))
        fetcher = Fetcher(client, Robots.allow_all(SITE), RateLimiter(10_000), site=SITE, backoff_base=0.001)
        async with client:
            await fetcher.fetch("/page")

    with pytest.raises(ChallengeDetected) as info:
        asyncio.run(go())
    assert len(script.requests) == 1
    assert info.value.url == f"{SITE}/page" and info.value.status == response.status_code
    assert reason.lower() in info.value.reason.lower()
    assert info.value.exit_code == 3 and "corpus import" in str(info.value)


def test_request_thread_quoting_challenge_words_is_not_a_challenge():
    body = "<html><body><p>They said cf-chl and challenge-platform in the letter.</p></body></html>"
    result, *_ = run({"/page": [httpx.Response(200, text=body)]})
    assert result.status == 200 and result.body == body.encode()


def test_load_robots_variants():
    async def load(routes):
        script = Script(routes)
        limiter = RateLimiter(10_000)
        async with make_client(SITE, None, transport=httpx.MockTransport(script)) as client:
            robots, _ = await load_robots(client, SITE, limiter, backoff_base=0.001)
        return robots, limiter, script

    robots, limiter, _ = asyncio.run(load({"/robots.txt": [httpx.Response(200, text=ROBOTS + "Crawl-delay: 4\n")]}))
    assert not robots.allowed("/feed/x") and robots.allowed("/list") and limiter.interval == 4.0
    robots, _, _ = asyncio.run(load({}))  # 404
    assert robots.allowed("/feed/x")
    with pytest.raises(RobotsUnavailable):
        asyncio.run(load({"/robots.txt": [httpx.Response(503)]}))
    with pytest.raises(RobotsUnavailable):
        asyncio.run(load({"/robots.txt": [httpx.ConnectError("down")]}))


# --- real loopback server -------------------------------------------------------------------


class _Server:
    """A tiny HTTP server on 127.0.0.1 that records when each request arrived."""

    def __init__(self, behaviour):
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


def _send(handler, status, body=b"ok", headers=None, declared=None):
    handler.send_response(status)
    handler.send_header("Content-Length", str(declared if declared is not None else len(body)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def test_rate_ceiling_holds_on_a_real_server_including_retries():
    rate = 8.0

    def behaviour(handler, n):
        if n % 3 == 1:
            _send(handler, 503, b"busy")
        else:
            _send(handler, 200, b"fine")

    client_starts: list[float] = []

    async def on_send(request):
        client_starts.append(time.monotonic())

    with _Server(behaviour) as server:

        async def go():
            async with make_client(server.url, None) as client:
                client.event_hooks["request"] = [on_send]
                fetcher = Fetcher(client, Robots.allow_all(server.url), RateLimiter(rate), site=server.url, backoff_base=0.0001)
                results = await asyncio.gather(*(fetcher.fetch(f"/p{i}") for i in range(4)))
                return results

        results = asyncio.run(go())
    assert all(r.status == 200 for r in results)
    assert sum(r.attempts for r in results) == len(server.arrivals) >= 6  # retries happened
    client_gaps = [b - a for a, b in zip(client_starts, client_starts[1:])]
    assert min(client_gaps) >= 1 / rate
    # Measured at the server too.  Arrival times there carry the connection set-up
    # (first request) and thread-scheduling noise on a busy machine, so the check is
    # on the average spacing from the second arrival on; without the limiter the
    # spacing is around a millisecond.
    later = server.arrivals[1:]
    assert (later[-1] - later[0]) / (len(later) - 1) >= 0.9 / rate


def test_truncated_body_is_retried_on_a_real_server():
    def behaviour(handler, n):
        if n == 1:
            _send(handler, 200, b"only part of it", declared=1000)
            handler.close_connection = True
        else:
            _send(handler, 200, b"the whole page")

    with _Server(behaviour) as server:

        async def go():
            async with make_client(server.url, None) as client:
                fetcher = Fetcher(client, Robots.allow_all(server.url), RateLimiter(1000), site=server.url, backoff_base=0.0001)
                return await fetcher.fetch("/request/x")

        result = asyncio.run(go())
    assert result.status == 200 and result.body == b"the whole page" and result.attempts == 2


def test_read_timeout_on_a_real_server():
    def behaviour(handler, n):
        if n == 1:
            time.sleep(1.5)
        try:
            _send(handler, 200, b"late" if n == 1 else b"in time")
        except OSError:
            pass

    with _Server(behaviour) as server:

        async def go():
            async with make_client(server.url, None, timeout=0.5) as client:
                fetcher = Fetcher(client, Robots.allow_all(server.url), RateLimiter(1000), site=server.url, backoff_base=0.0001)
                return await fetcher.fetch("/slow")

        result = asyncio.run(go())
    assert result.status == 200 and result.body == b"in time" and result.attempts == 2
