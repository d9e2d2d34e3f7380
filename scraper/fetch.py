"""Polite, fault-tolerant GET of one URL: ``Fetcher.fetch`` → ``FetchResult``.

What a fetch does, in order:

* refuses URLs off the site's host and URLs robots.txt disallows (nothing sent);
* waits for its slot from the shared ``RateLimiter`` before *every* attempt;
* sends conditional headers (If-None-Match / If-Modified-Since) when given;
* streams the body, stopping past ``max_bytes``;
* retries timeouts, dropped connections, truncated bodies, 429 and 500/502/503/504
  with exponential back-off and full jitter, honouring Retry-After;
* follows same-host redirects itself (off-site ones are reported, not followed);
* raises ``ChallengeDetected`` on a bot challenge — never retried, never evaded.

Failures that retrying could not cure come back as ``FetchResult.error``; the
fetcher never raises for them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from corpus.errors import BlockedByChallenge
from scraper.politeness import RateLimiter, Robots, RobotsUnavailable, parse_retry_after
from scraper.urls import absolute_url, same_host

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHALLENGE_STATUSES = frozenset({403, 429, 503})

# Markers of a bot-challenge / anti-automation interstitial (Cloudflare and alike).
_CHALLENGE_BODY_MARKERS = (
    b"<title>just a moment...</title>",
    b"cf-chl",
    b"challenge-platform",
    b"attention required! | cloudflare",
    b"cf-browser-verification",
)
# On a 200 only unmistakable markers count: a request thread may quote odd words.
_CHALLENGE_200_MARKERS = (
    b"<title>just a moment...</title>",
    b"/cdn-cgi/challenge-platform/",
    b"<title>attention required! | cloudflare</title>",
)

OnRequest = Callable[[str, str, int | None], None]


@dataclass
class FetchResult:
    """What happened to one URL.  ``status`` is 0 when no response was received."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    not_modified: bool = False
    attempts: int = 0
    error: str | None = None  # final failure reason after retries (None: we have an answer)
    challenge: bool = False
    elapsed: float = 0.0
    retry_after: float | None = None  # seconds the site asked us to wait, when it did

    @property
    def ok(self) -> bool:
        """A 2xx answer with a body, or a 304."""
        return self.error is None and (self.not_modified or 200 <= self.status < 300)


class ChallengeDetected(BlockedByChallenge):
    """The site answered with a bot challenge: stop asking (exit code 3)."""

    def __init__(self, url: str, status: int, reason: str):
        self.url = url
        self.status = status
        self.reason = reason
        super().__init__(
            f"the site answered {url} with a bot challenge ({reason}, HTTP {status}); stopped asking. "
            "The queue is kept: try again later, or load pages saved from a browser with `corpus import` (or try `corpus demo`)"
        )


def challenge_reason(status: int, headers: dict[str, str], body_head: bytes | None) -> str | None:
    """Why this response is a bot challenge, or None.  Pure; headers have lower-case keys."""
    if status == 418:
        return "status 418"
    mitigated = headers.get("cf-mitigated", "").lower()
    if mitigated and "challenge" in mitigated:
        return f"cf-mitigated: {mitigated}"
    if body_head:
        head = body_head[:65536].lower()
        markers = _CHALLENGE_BODY_MARKERS if status in CHALLENGE_STATUSES else _CHALLENGE_200_MARKERS
        for marker in markers:
            if marker in head:
                return f"challenge page ({marker.decode()!r} in the body)"
    return None


class _Retry(Exception):
    """A transient failure: try again after back-off."""

    def __init__(self, reason: str, status: int = 0, headers: dict | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.headers = headers or {}
        self.retry_after = retry_after


class _GiveUp(Exception):
    def __init__(self, reason: str, status: int, headers: dict, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.headers = headers
        self.retry_after = retry_after


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes | None
    error: str | None = None


class Fetcher:
    """GETs URLs of one site politely.  Share one Fetcher (and its limiter) per site.

    ``sleep`` and ``rng`` are injectable so tests can observe back-off without waiting.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        robots: Robots,
        limiter: RateLimiter,
        *,
        site: str,
        max_bytes: int = 20 * 1024 * 1024,
        max_attempts: int = 5,
        max_redirects: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 120.0,
        retry_after_max: float = 3600.0,
        on_request: OnRequest | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ):
        self.client = client
        self.robots = robots
        self.limiter = limiter
        self.site = site
        self.max_bytes = max_bytes
        self.max_attempts = max(1, max_attempts)
        self.max_redirects = max_redirects
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.on_request = on_request
        self._sleep = sleep
        self._rng = rng or random.Random()

    # -- public -----------------------------------------------------------------

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        started = time.monotonic()
        url = absolute_url(self.site, url)
        current = url
        attempts = 0
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified

        def result(status: int, resp_headers: dict, body: bytes | None = None, error: str | None = None, **kw) -> FetchResult:
            return FetchResult(
                url=url,
                final_url=current,
                status=status,
                headers=resp_headers,
                body=body,
                attempts=attempts,
                error=error,
                elapsed=time.monotonic() - started,
                **kw,
            )

        refusal = self._refusal(current)
        if refusal:
            return result(0, {}, error=refusal)

        for hop in range(self.max_redirects + 1):
            try:
                answer, used = await self._with_retries(current, headers)
                attempts += used
            except _GiveUp as exc:
                attempts += exc.used  # type: ignore[attr-defined]
                return result(exc.status, exc.headers, error=exc.reason, retry_after=exc.retry_after)

            if answer.error:
                return result(answer.status, answer.headers, error=answer.error)
            if answer.status in REDIRECT_STATUSES:
                location = answer.headers.get("location")
                if not location:
                    return result(answer.status, answer.headers, error=f"redirect ({answer.status}) without a Location header")
                target = absolute_url(current, location)
                if not same_host(self.site, target):
                    return result(answer.status, answer.headers, error=f"redirect to another host ({target}); not followed")
                if not self.robots.allowed(target):
                    return result(answer.status, answer.headers, error=f"redirect to {target}, which is disallowed by robots.txt")
                if hop == self.max_redirects:
                    return result(
                        answer.status, answer.headers, error=f"too many redirects (stopped after {self.max_redirects}; a redirect loop?)"
                    )
                current = target
                continue
            if answer.status == 304:
                return result(304, answer.headers, body=None, not_modified=True)
            return result(answer.status, answer.headers, body=answer.body)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- internals ----------------------------------------------------------------

    def _refusal(self, url: str) -> str | None:
        if not same_host(self.site, url):
            return f"not on {self.site}; refused"
        if not self.robots.allowed(url):
            return "disallowed by robots.txt"
        return None

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (state.attempt_number - 1)))
        backoff = self._rng.uniform(0, ceiling)
        if isinstance(exc, _Retry) and exc.retry_after is not None:
            return exc.retry_after
        return backoff

    async def _with_retries(self, url: str, headers: dict[str, str]) -> tuple[_Answer, int]:
        used = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    used += 1
                    answer = await self._attempt(url, headers)
            return answer, used
        except _Retry as exc:
            return _Answer(
                exc.status,
                exc.headers,
                None,
                error=f"{exc.reason} (gave up after {used} attempt{'s' if used != 1 else ''})",
            ), used
        except _GiveUp as exc:
            exc.used = used  # type: ignore[attr-defined]
            raise

    def _notify(self, url: str, status: int | None) -> None:
        if self.on_request is not None:
            self.on_request("GET", url, status)

    async def _attempt(self, url: str, headers: dict[str, str]) -> _Answer:
        await self.limiter.wait()
        try:
            async with self.client.stream("GET", url, headers=headers) as resp:
                status = resp.status_code
                resp_headers = dict(resp.headers.items())
                self._notify(url, status)
                reason = challenge_reason(status, resp_headers, None)
                if reason:
                    raise ChallengeDetected(url, status, reason)
                if status in REDIRECT_STATUSES or status == 304:
                    return _Answer(status, resp_headers, None)
                declared = resp_headers.get("content-length")
                declared_len = int(declared) if declared and declared.isdigit() else None
                if declared_len is not None and declared_len > self.max_bytes:
                    return _Answer(status, resp_headers, None, error=self._too_large())
                body = bytearray()
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        return _Answer(status, resp_headers, None, error=self._too_large())
                if declared_len is not None:
                    encoded = resp_headers.get("content-encoding", "identity").lower() not in ("", "identity")
                    received = resp.num_bytes_downloaded if encoded else len(body)
                    if (received or not encoded) and received != declared_len:
                        raise _Retry(f"truncated body ({received} of {declared_len} bytes)", status, resp_headers)
                data = bytes(body)
                reason = challenge_reason(status, resp_headers, data)
                if reason:
                    raise ChallengeDetected(url, status, reason)
                if status in RETRY_STATUSES:
                    retry_after = parse_retry_after(resp_headers.get("retry-after"))
                    if retry_after is not None:
                        if retry_after > self.retry_after_max:
                            when = datetime.now(timezone.utc) + timedelta(seconds=retry_after)
                            raise _GiveUp(
                                f"HTTP {status}: the site asked us to wait {retry_after:.0f} s (Retry-After); "
                                f"retry after {when:%Y-%m-%d %H:%M} UTC",
                                status,
                                resp_headers,
                                retry_after,
                            )
                        self.limiter.penalise(retry_after)
                    raise _Retry(f"HTTP {status}", status, resp_headers, retry_after)
                return _Answer(status, resp_headers, data)
        except httpx.TimeoutException as exc:
            self._notify(url, None)
            raise _Retry(f"timed out ({type(exc).__name__})") from exc
        except httpx.RemoteProtocolError as exc:
            self._notify(url, None)
            raise _Retry(f"connection dropped or body truncated ({exc})") from exc
        except (httpx.NetworkError, httpx.DecodingError) as exc:
            self._notify(url, None)
            raise _Retry(f"connection error ({type(exc).__name__}: {exc})") from exc

    def _too_large(self) -> str:
        cap = self.max_bytes / (1024 * 1024)
        return f"page larger than the {cap:g} MB cap; not stored"


async def load_robots(
    client: httpx.AsyncClient,
    site: str,
    limiter: RateLimiter,
    **fetcher_options,
) -> tuple[Robots, FetchResult]:
    """Fetch and read ``/robots.txt`` through the limiter; apply its Crawl-delay to the limiter.

    Returns the rules and the answer (a caller may keep it).  404 (any 4xx but
    429) → allow all.  No answer, or 5xx / 429 after at most three attempts →
    ``RobotsUnavailable``.  A challenge → ``ChallengeDetected``.
    ``fetcher_options`` go to the ``Fetcher`` (e.g. ``on_request``, ``backoff_base``).
    """
    fetcher_options["max_attempts"] = min(3, fetcher_options.get("max_attempts", 3))
    fetcher = Fetcher(client, Robots.allow_all(site), limiter, site=site, **fetcher_options)
    res = await fetcher.fetch("/robots.txt")
    if res.error and (res.status == 0 or not 400 <= res.status < 500):
        hint = "check the site address or try again later" if res.status == 0 else "try again later"
        raise RobotsUnavailable(f"{site}/robots.txt could not be read ({res.error}); nothing was crawled — {hint}")
    robots = Robots.from_response(site, res.status, (res.body or b"").decode("utf-8", errors="replace"))
    if robots.crawl_delay:
        limiter.crawl_delay = robots.crawl_delay
    return robots, res
