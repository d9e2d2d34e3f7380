"""Retrying through the Fetcher: 429 and 5xx, Retry-After, timeouts and dropped connections, back-off."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from scraper.results import Answer, Failure
from scraper.retries import GiveUp, Retry, RetryPolicy, status_retry
from tests.scraper.scripted import Sleeps, run


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


# --- the policy on its own --------------------------------------------------------------------------------


def run_policy(outcomes: list, max_attempts: int = 5) -> tuple[tuple[Answer, int], Sleeps]:
    """``RetryPolicy.run`` over calls that raise or return ``outcomes`` in turn (base 1 s, ceiling 120 s)."""
    sleeps = Sleeps()

    async def once() -> Answer:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    policy = RetryPolicy(max_attempts, 1.0, 120.0, sleeps, random.Random(1))
    return asyncio.run(policy.run(once)), sleeps


def test_policy_tries_until_an_answer_waiting_full_jitter_or_the_retry_after():
    (answer, used), sleeps = run_policy([Retry("first"), Retry("second", retry_after=3.0), Answer(200, {}, b"ok")])
    assert answer.body == b"ok" and used == 3
    assert len(sleeps.calls) == 2 and 0 <= sleeps.calls[0] <= 1.0 and sleeps.calls[1] == 3.0


def test_policy_reports_the_last_reason_once_the_attempts_run_out():
    (answer, used), sleeps = run_policy([Retry("HTTP 503", 503, {"x": "y"}, failure=Failure.HTTP)] * 2, max_attempts=2)
    assert used == 2 and len(sleeps.calls) == 1
    assert (answer.status, answer.headers, answer.body) == (503, {"x": "y"}, None)
    assert answer.error == "HTTP 503 (gave up after 2 attempts)" and answer.failure == Failure.HTTP


def test_policy_passes_a_give_up_on_with_the_attempts_made():
    with pytest.raises(GiveUp) as info:
        run_policy([Retry("first"), GiveUp("out of time", 0, {}, Failure.DEADLINE), Answer(200, {}, b"never")])
    assert info.value.used == 2 and info.value.failure == Failure.DEADLINE


def test_status_retry_honours_a_retry_after_within_the_limit() -> None:
    penalties: list[float] = []
    exc = status_retry(503, {"retry-after": "7"}, retry_after_max=3600, penalise=penalties.append)
    assert isinstance(exc, Retry) and exc.reason == "HTTP 503" and exc.failure == Failure.HTTP
    assert exc.retry_after == 7.0 and penalties == [7.0]


def test_status_retry_gives_up_on_a_retry_after_beyond_the_limit() -> None:
    penalties: list[float] = []
    exc = status_retry(429, {"retry-after": "7200"}, retry_after_max=3600, penalise=penalties.append)
    assert isinstance(exc, GiveUp) and exc.status == 429 and exc.retry_after == 7200.0 and penalties == []
    assert exc.reason.startswith("HTTP 429: the site asked us to wait 7200 s (Retry-After); retry after ")


def test_status_retry_without_retry_after_leaves_the_wait_to_back_off() -> None:
    penalties: list[float] = []
    exc = status_retry(500, {}, retry_after_max=3600, penalise=penalties.append)
    assert isinstance(exc, Retry) and exc.retry_after is None and exc.status == 500 and penalties == []
