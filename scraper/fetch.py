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

``Fetcher`` holds the order of things (refusal → attempts → redirects); the
parts live beside it: ``scraper.boundary`` (which URLs are sent, which
redirects followed), ``scraper.retries`` (what is tried again, the back-off),
``scraper.transfer`` (one request and its body, within the byte cap and the
time allowed), ``scraper.challenges`` (telling a bot challenge) and
``scraper.results`` (``FetchResult`` and ``Failure``, importable from here too).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx

from scraper.boundary import REDIRECT_STATUSES, redirect_target, refusal
from scraper.challenges import challenge_reason
from scraper.errors import ChallengeDetected, RobotsUnavailable, Stopped
from scraper.politeness import ROBOTS_MAX_BYTES, RateLimiter, Robots
from scraper.results import Answer, Failure, FetchResult
from scraper.retries import RETRY_STATUSES, GiveUp, RetryPolicy, status_retry
from scraper.stop import StopSwitch
from scraper.transfer import Budget, Transfer, out_of_time
from scraper.urls import absolute_url

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

DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # decoded bytes of one page
DEFAULT_GRACE = 30.0  # seconds an answer may take before its throughput is judged
DEFAULT_MIN_THROUGHPUT = 10 * 1024.0  # bytes per second on the wire, averaged from the attempt's start
DEFAULT_DEADLINE = 600.0  # seconds on the network for one fetch, attempts and redirects together

OnRequest = Callable[[str, str, int | None], None]


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
        headers = _conditional_headers(etag, last_modified)
        cap, keep_head = self._cap(url, max_bytes)
        budget = Budget(self.deadline)

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

        why_not = refusal(self.site, self.robots, current)
        if why_not:
            return result(0, {}, error=why_not, failure=Failure.REFUSED)

        for hop in range(self.max_redirects + 1):
            try:
                answer, used = await self._with_retries(current, headers, cap, keep_head, budget)
                attempts += used
            except GiveUp as exc:
                attempts += exc.used
                return result(exc.status, exc.headers, error=exc.reason, retry_after=exc.retry_after, failure=exc.failure)

            if answer.error:
                return result(answer.status, answer.headers, error=answer.error, failure=answer.failure)
            if answer.status in REDIRECT_STATUSES:
                target, why = redirect_target(self.site, self.robots, current, answer,
                                              last_hop=hop == self.max_redirects, max_redirects=self.max_redirects)
                if why is not None:
                    return result(answer.status, answer.headers, error=why, failure=Failure.REDIRECT)
                current = target
                continue
            if answer.status == 304:
                return result(304, answer.headers, body=None, not_modified=True)
            return result(answer.status, answer.headers, body=answer.body, truncated=answer.truncated)
        raise AssertionError("unreachable")  # pragma: no cover

    def _cap(self, url: str, max_bytes: int | None) -> tuple[int, bool]:
        """The decoded bytes ``url`` may bring, and whether what fits of a longer body is kept (robots.txt)."""
        cap = self.max_bytes if max_bytes is None else max_bytes
        keep_head = urlsplit(url).path == "/robots.txt"
        if keep_head:
            # One byte past what is parsed, so ``Robots`` can tell that the file went on.
            cap = min(cap, ROBOTS_MAX_BYTES + 1)
        return cap, keep_head

    async def _with_retries(
        self, url: str, headers: dict[str, str], cap: int, keep_head: bool, budget: Budget
    ) -> tuple[Answer, int]:
        policy = RetryPolicy(self.max_attempts, self.backoff_base, self.backoff_max, self._sleep, self._rng)
        return await policy.run(lambda: self._attempt(url, headers, cap, keep_head, budget))

    async def _attempt(self, url: str, headers: dict[str, str], cap: int, keep_head: bool, budget: Budget) -> Answer:
        """One try: a slot from the limiter, the transfer, and a 429 or 5xx answer turned into a retry."""
        if budget.left <= 0:
            raise out_of_time(budget)
        await self.limiter.wait()
        transfer = Transfer(self.client, url, headers, cap, self.max_bytes, keep_head,
                            notify=lambda status: self._notify(url, status))
        answer = await transfer.run(budget, grace=self.grace, min_throughput=self.min_throughput)
        if answer.error is None and answer.status in RETRY_STATUSES:
            raise status_retry(answer.status, answer.headers, retry_after_max=self.retry_after_max,
                               penalise=self.limiter.penalise)
        return answer

    def _notify(self, url: str, status: int | None) -> None:
        if self.on_request is not None:
            self.on_request("GET", url, status)


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


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
