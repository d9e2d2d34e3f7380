"""Bot challenges through the Fetcher: raised at once, never retried; a thread quoting the words is no challenge."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from scraper.challenges import challenge_reason
from scraper.fetch import ChallengeDetected, Fetcher
from scraper.http import make_client
from scraper.politeness import RateLimiter, Robots
from tests.scraper.scripted import SITE, Script, run


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
    # the scraper knows no exit codes or commands: the CLI maps the error (tests/test_cli_errors.py)
    assert not hasattr(info.value, "exit_code") and "bot challenge" in str(info.value)


def test_request_thread_quoting_challenge_words_is_not_a_challenge():
    body = "<html><body><p>They said cf-chl and challenge-platform in the letter.</p></body></html>"
    result, *_ = run({"/page": [httpx.Response(200, text=body)]})
    assert result.status == 200 and result.body == body.encode()


def test_hidden_request_403_is_an_answer_not_a_challenge():
    body = "<html><head><title>Request has been removed - WhatDoTheyKnow</title></head><body><h1>Request has been removed</h1></body></html>"
    result, *_ = run({"/page": [httpx.Response(403, text=body)]})
    assert result.status == 403 and result.attempts == 1 and result.error is None


# --- challenge_reason on its own (pure) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "status, headers, body, expected",
    [
        (418, {}, None, "status 418"),
        (403, {"cf-mitigated": "Challenge"}, None, "cf-mitigated: challenge"),
        (503, {}, b"<p>cf-chl</p>", "challenge page ('cf-chl' in the body)"),
        (200, {}, b"<p>cf-chl</p>", None),  # on a 200 only unmistakable markers count
        (200, {}, b"<TITLE>Just a moment...</TITLE>", "challenge page ('<title>just a moment...</title>' in the body)"),
        (503, {}, b"x" * 65536 + b"cf-chl", None),  # only the first 64 KiB are looked at
        (403, {}, None, None),
    ],
)
def test_challenge_reason(status, headers, body, expected):
    assert challenge_reason(status, headers, body) == expected
