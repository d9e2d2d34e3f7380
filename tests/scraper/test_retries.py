"""Retrying through the Fetcher: 429 and 5xx, Retry-After, timeouts and dropped connections, back-off."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx

from tests.scraper.scripted import run


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
