"""Polite, bounded, fault-tolerant GET of one URL: ``Fetcher.fetch`` → ``FetchResult``.

What a fetch does, in order:

* refuses URLs off the site's host, plain-http URLs of an https site, and URLs
  robots.txt disallows (nothing sent);
* waits for its slot from the shared ``RateLimiter`` before *every* attempt;
* sends conditional headers (If-None-Match / If-Modified-Since) when given;
* reads the raw body and decodes it itself (``scraper.encodings``): no
  encoding, or one gzip or deflate layer, never more than the byte cap —
  counted on the *decoded* bytes as they arrive;
* bounds time: every answer must keep up a minimum average throughput once a
  grace period has passed, and one fetch (all attempts and redirects) may spend
  at most ``deadline`` seconds on the network (rate-limiter and back-off waits
  are not counted);
* retries timeouts, dropped connections, truncated or damaged bodies, answers
  below the minimum throughput, 429 and 500/502/503/504 with exponential
  back-off and full jitter, honouring Retry-After;
* follows same-host redirects itself (off-site ones and https→http downgrades
  are reported, not followed);
* raises ``ChallengeDetected`` on a bot challenge — never retried, never evaded.

Failures that retrying could not cure come back as data: ``FetchResult.error``
(one line) and ``FetchResult.failure`` (its kind, a ``Failure``); the fetcher
never raises for them.  ``Fetcher.stop()`` cancels waits and transfers at once
(``scraper.errors.Stopped``).

``/robots.txt`` is always read only up to ``ROBOTS_MAX_BYTES`` (500 KiB, and
one byte more so that ``Robots`` can tell the file went on): a longer file
comes back cut with ``truncated=True`` rather than refused, so its first rules
still count (RFC 9309 §2.5).
"""

from __future__ import annotations

import asyncio
import functools
import io
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from urllib.parse import urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
)

from scraper.encodings import (
    BodyDecoder,
    CorruptBody,
    OverCap,
    UnsupportedEncoding,
    encoding_of,
)
from scraper.errors import ChallengeDetected, RobotsUnavailable, Stopped
from scraper.politeness import ROBOTS_MAX_BYTES, RateLimiter, Robots, parse_retry_after
from scraper.stop import StopSwitch
from scraper.urls import absolute_url, downgrades, same_host

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_GRACE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MIN_THROUGHPUT",
    "ChallengeDetected",
    "Failure",
    "FetchResult",
    "Fetcher",
    "Stopped",
    "challenge_reason",
    "load_robots",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHALLENGE_STATUSES = frozenset({403, 429, 503})

DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # decoded bytes of one page
DEFAULT_GRACE = 30.0  # seconds an answer may take before its throughput is judged
DEFAULT_MIN_THROUGHPUT = 10 * 1024.0  # bytes per second on the wire, averaged from the attempt's start
DEFAULT_DEADLINE = 600.0  # seconds on the network for one fetch, attempts and redirects together

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


class Failure(StrEnum):
    """Why a fetch ended without an answer (``FetchResult.failure``)."""

    REFUSED = "refused"  # off the site, plain http on an https site, or disallowed by robots.txt: nothing sent
    REDIRECT = "redirect"  # a redirect not followed: off-site, a downgrade, disallowed, a loop, no Location
    TOO_LARGE = "too_large"  # the decoded body passed the byte cap: nothing kept
    ENCODING = "encoding"  # a Content-Encoding not decoded (stacked, br, unknown): nothing kept
    TOO_SLOW = "too_slow"  # under the minimum throughput, on every attempt
    DEADLINE = "deadline"  # the fetch's time on the network ran out
    HTTP = "http"  # 429 or 5xx on every attempt, or a Retry-After beyond the limit
    NETWORK = "network"  # timeouts, dropped connections, truncated or damaged bodies on every attempt


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
    failure: Failure | None = None  # the kind of ``error``
    truncated: bool = False  # only for robots.txt: the body is its first ROBOTS_MAX_BYTES + 1 bytes

    @property
    def ok(self) -> bool:
        """A 2xx answer with a body, or a 304."""
        return self.error is None and (self.not_modified or 200 <= self.status < 300)


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

    def __init__(self, reason: str, status: int = 0, headers: dict | None = None, retry_after: float | None = None,
                 failure: Failure = Failure.NETWORK):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.headers = headers or {}
        self.retry_after = retry_after
        self.failure = failure


class _GiveUp(Exception):
    """A failure that ends the fetch without further attempts."""

    def __init__(self, reason: str, status: int, headers: dict, failure: Failure, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.headers = headers
        self.failure = failure
        self.retry_after = retry_after
        self.used = 0


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes | None
    error: str | None = None
    failure: Failure | None = None
    truncated: bool = False


@dataclass
class _Progress:
    """How far one attempt got: raw body bytes received, and whether the answer's status line came."""

    received: int = 0
    answered: bool = False


@dataclass
class _Budget:
    """One fetch's allowance of time on the network."""

    deadline: float
    spent: float = 0.0

    @property
    def left(self) -> float:
        return self.deadline - self.spent


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


class Fetcher:
    """GETs URLs of one site politely and within bounds.  Share one Fetcher (and its limiter) per site.

    Bounds (all per fetch, documented in the README's reliability section):

    * ``max_bytes`` — decoded body size; ``fetch(max_bytes=...)`` overrides it
      for one URL (attachments have their own cap);
    * ``grace`` and ``min_throughput`` — an attempt fails as too slow once
      ``grace`` seconds have passed with fewer than
      ``min_throughput × (elapsed − grace)`` bytes received on the wire;
    * ``deadline`` — seconds one fetch may spend on the network, attempts and
      redirects together (waits for the rate limiter and back-off excluded).

    ``stop()`` (or the limiter's) cancels every wait and transfer of this site:
    ``fetch`` raises ``scraper.errors.Stopped`` then, and for every later call.
    Cancelling the task that awaits ``fetch`` works too.

    ``sleep`` and ``rng`` are injectable so tests can observe back-off without waiting.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        robots: Robots,
        limiter: RateLimiter,
        *,
        site: str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_attempts: int = 5,
        max_redirects: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 120.0,
        retry_after_max: float = 3600.0,
        grace: float = DEFAULT_GRACE,
        min_throughput: float = DEFAULT_MIN_THROUGHPUT,
        deadline: float = DEFAULT_DEADLINE,
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
        self.grace = grace
        self.min_throughput = min_throughput
        self.deadline = deadline
        self.on_request = on_request
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._switch: StopSwitch = limiter.stop_switch

    # -- public -----------------------------------------------------------------

    def stop(self, reason: str = "stopped") -> None:
        """Cancel every wait and transfer of this site now; later fetches raise ``Stopped`` at once."""
        self._switch.stop(reason)

    @property
    def stopped(self) -> bool:
        return self._switch.stopped

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """GET ``url`` (absolute or relative to the site); see the module docstring.

        ``max_bytes`` caps the decoded body of this URL instead of the
        fetcher's default.  Raises only ``ChallengeDetected`` and ``Stopped``.
        """
        with self._switch.guard():
            return await self._fetch(url, etag, last_modified, max_bytes)

    # -- internals ----------------------------------------------------------------

    async def _fetch(self, url: str, etag: str | None, last_modified: str | None, max_bytes: int | None) -> FetchResult:
        started = time.monotonic()
        url = absolute_url(self.site, url)
        current = url
        attempts = 0
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        cap = self.max_bytes if max_bytes is None else max_bytes
        keep_head = urlsplit(url).path == "/robots.txt"
        if keep_head:
            # One byte past what is parsed, so ``Robots`` can tell that the file went on.
            cap = min(cap, ROBOTS_MAX_BYTES + 1)
        budget = _Budget(self.deadline)

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
            return result(0, {}, error=refusal, failure=Failure.REFUSED)

        for hop in range(self.max_redirects + 1):
            try:
                answer, used = await self._with_retries(current, headers, cap, keep_head, budget)
                attempts += used
            except _GiveUp as exc:
                attempts += exc.used
                return result(exc.status, exc.headers, error=exc.reason, retry_after=exc.retry_after, failure=exc.failure)

            if answer.error:
                return result(answer.status, answer.headers, error=answer.error, failure=answer.failure)
            if answer.status in REDIRECT_STATUSES:
                target, why = self._redirect(current, answer, last_hop=hop == self.max_redirects)
                if why is not None:
                    return result(answer.status, answer.headers, error=why, failure=Failure.REDIRECT)
                current = target
                continue
            if answer.status == 304:
                return result(304, answer.headers, body=None, not_modified=True)
            return result(answer.status, answer.headers, body=answer.body, truncated=answer.truncated)
        raise AssertionError("unreachable")  # pragma: no cover

    def _redirect(self, current: str, answer: _Answer, *, last_hop: bool) -> tuple[str, str | None]:
        """Where a redirect points, and why it is not followed (None: follow it)."""
        location = answer.headers.get("location")
        if not location:
            return current, f"redirect ({answer.status}) without a Location header"
        target = absolute_url(current, location)
        if downgrades(self.site, target):
            return target, f"redirect from https to plain http ({target}); not followed"
        if not self._on_site(target):
            return target, f"redirect to another host ({target}); not followed"
        if not self.robots.allowed(target):
            return target, f"redirect to {target}, which is disallowed by robots.txt"
        if last_hop:
            return target, f"too many redirects (stopped after {self.max_redirects}; a redirect loop?)"
        return target, None

    def _refusal(self, url: str) -> str | None:
        if downgrades(self.site, url):
            return f"plain http URL on the https site {self.site}; refused"
        if not self._on_site(url):
            return f"not on {self.site}; refused"
        if not self.robots.allowed(url):
            return "disallowed by robots.txt"
        return None

    def _on_site(self, url: str) -> bool:
        """On the site's host, as read by the URL parser here *and* by the one httpx sends with.

        The two readings could differ on a strange URL (a backslash, odd
        userinfo); the URL is used only when both name the site.
        """
        if not same_host(self.site, url):
            return False
        try:
            as_sent = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            return False
        return same_host(self.site, str(as_sent))

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (state.attempt_number - 1)))
        backoff = self._rng.uniform(0, ceiling)
        if isinstance(exc, _Retry) and exc.retry_after is not None:
            return exc.retry_after
        return backoff

    async def _with_retries(
        self, url: str, headers: dict[str, str], cap: int, keep_head: bool, budget: _Budget
    ) -> tuple[_Answer, int]:
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
                    answer = await self._attempt(url, headers, cap, keep_head, budget)
            return answer, used
        except _Retry as exc:
            return _Answer(
                exc.status,
                exc.headers,
                None,
                error=f"{exc.reason} (gave up after {used} attempt{'s' if used != 1 else ''})",
                failure=exc.failure,
            ), used
        except _GiveUp as exc:
            exc.used = used
            raise

    def _notify(self, url: str, status: int | None) -> None:
        if self.on_request is not None:
            self.on_request("GET", url, status)

    async def _attempt(self, url: str, headers: dict[str, str], cap: int, keep_head: bool, budget: _Budget) -> _Answer:
        if budget.left <= 0:
            raise self._out_of_time(budget)
        await self.limiter.wait()
        loop = asyncio.get_running_loop()
        began = loop.time()
        # Time on the network ends at the fetch's deadline, or earlier when the
        # answer falls below the minimum throughput: each byte received buys
        # 1/min_throughput seconds beyond the grace period.
        end_of_budget = began + budget.left
        progress = _Progress()

        def cutoff() -> float:
            if self.min_throughput <= 0:
                return end_of_budget
            return min(end_of_budget, began + self.grace + progress.received / self.min_throughput)

        try:
            async with asyncio.timeout_at(cutoff()) as timer:
                return await self._exchange(url, headers, cap, keep_head, progress, lambda: timer.reschedule(cutoff()))
        except TimeoutError:
            self._unanswered(url, progress)
            if loop.time() >= end_of_budget:
                raise self._out_of_time(budget) from None
            raise _Retry(
                f"too slow: {progress.received:,} bytes in {loop.time() - began:.0f} s, under the minimum of "
                f"{self.min_throughput:g} bytes/s after the first {self.grace:g} s",
                failure=Failure.TOO_SLOW,
            ) from None
        except httpx.TimeoutException as exc:
            self._unanswered(url, progress)
            raise _Retry(f"timed out ({type(exc).__name__})") from exc
        except httpx.RemoteProtocolError as exc:
            self._unanswered(url, progress)
            raise _Retry(f"connection dropped or body truncated ({exc})") from exc
        except httpx.NetworkError as exc:
            self._unanswered(url, progress)
            raise _Retry(f"connection error ({type(exc).__name__}: {exc})") from exc
        finally:
            budget.spent += loop.time() - began

    def _unanswered(self, url: str, progress: _Progress) -> None:
        """Report a request that got no status line (one that did was reported already)."""
        if not progress.answered:
            self._notify(url, None)

    async def _exchange(
        self, url: str, headers: dict[str, str], cap: int, keep_head: bool, progress: _Progress,
        progressed: Callable[[], None],
    ) -> _Answer:
        """One request and its answer, the body decoded within ``cap``; raises _Retry/_GiveUp/ChallengeDetected."""
        async with self.client.stream("GET", url, headers=headers) as resp:
            status = resp.status_code
            resp_headers = dict(resp.headers.items())
            progress.answered = True
            self._notify(url, status)
            reason = challenge_reason(status, resp_headers, None)
            if reason:
                raise ChallengeDetected(url, status, reason)
            if status in REDIRECT_STATUSES or status == 304:
                return _Answer(status, resp_headers, None)
            raw_encoding = resp_headers.get("content-encoding")
            try:
                decoder = BodyDecoder(encoding_of(raw_encoding))
            except UnsupportedEncoding as exc:
                return _Answer(status, resp_headers, None, error=f"{exc}; not stored", failure=Failure.ENCODING)
            declared = resp_headers.get("content-length")
            declared_len = int(declared) if declared and declared.isdigit() else None
            if (declared_len is not None and declared_len > cap and decoder.encoding == "identity"
                    and not keep_head):
                return self._too_large(status, resp_headers, cap)
            body = io.BytesIO()

            def take(decode: Callable[[int], bytes]) -> bool:
                """Keep what ``decode(room)`` gives; False once the cap is passed (what fitted is kept)."""
                try:
                    body.write(decode(cap - body.tell()))
                    return True
                except OverCap as over:
                    body.write(over.head)
                    return False

            within = True
            try:
                async for chunk in resp.aiter_raw():
                    progress.received += len(chunk)
                    progressed()
                    within = take(functools.partial(decoder.feed, chunk))
                    if not within:
                        break
                else:
                    within = take(decoder.finish)
            except CorruptBody as exc:
                raise _Retry(str(exc), status, resp_headers) from None
            if not within and not keep_head:
                return self._too_large(status, resp_headers, cap)
            if within and declared_len is not None and progress.received != declared_len:
                raise _Retry(f"truncated body ({progress.received} of {declared_len} bytes)", status, resp_headers)
            data = body.getvalue()
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
                            Failure.HTTP,
                            retry_after,
                        )
                    self.limiter.penalise(retry_after)
                raise _Retry(f"HTTP {status}", status, resp_headers, retry_after, failure=Failure.HTTP)
            return _Answer(status, resp_headers, data, truncated=not within)

    def _too_large(self, status: int, headers: dict[str, str], cap: int) -> _Answer:
        what = "page" if cap == self.max_bytes else "body"
        return _Answer(status, headers, None, error=f"{what} larger than the {_mb(cap)} cap; not stored",
                       failure=Failure.TOO_LARGE)

    def _out_of_time(self, budget: _Budget) -> _GiveUp:
        return _GiveUp(
            f"gave up after {budget.deadline:g} s on the network, the limit for one fetch", 0, {}, Failure.DEADLINE
        )


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
    robots = Robots.from_response(site, res.status, res.body)
    if robots.crawl_delay:
        limiter.crawl_delay = robots.crawl_delay
    return robots, res
