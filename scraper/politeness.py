"""Politeness settings in one place: robots.txt, the rate ceiling, Retry-After.

* ``Robots`` reads robots.txt with protego, which understands the ``*``
  wildcards WhatDoTheyKnow's file is written with.
* ``RateLimiter`` spaces the *starts* of requests to a host by at least
  ``max(1/rate, crawl_delay)`` seconds — retries included.
* ``effective_rate`` caps the rate for public sites.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from protego import Protego

from corpus.errors import EXIT_FAILURES, CorpusError, UsageError
from scraper.http import TOOL_NAME
from scraper.urls import absolute_url, is_local_site

MAX_PUBLIC_RATE = 5.0  # requests per second, ceiling for any non-local site
DEFAULT_RATE = 0.5


class RobotsUnavailable(CorpusError):
    """robots.txt answered 5xx or could not be reached: we do not crawl blind."""

    exit_code = EXIT_FAILURES


class Robots:
    """The site's robots.txt rules for our User-Agent token (``foi-corpus``)."""

    def __init__(self, site: str, parser: Protego | None, text: str = ""):
        self.site = site
        self._parser = parser
        self.text = text

    @classmethod
    def parse(cls, site: str, text: str) -> "Robots":
        return cls(site, Protego.parse(text), text)

    @classmethod
    def allow_all(cls, site: str) -> "Robots":
        """Rules for a site with no robots.txt (404): everything is allowed."""
        return cls(site, None, "")

    @classmethod
    def from_response(cls, site: str, status: int, text: str | None) -> "Robots":
        """Interpret the answer to ``GET /robots.txt``.

        200 → its rules; 4xx (404, 410, 401, 403 …) → no rules, allow all (RFC 9309 §2.3.1.3);
        5xx or anything else → ``RobotsUnavailable`` (retry later, do not crawl).
        """
        if 200 <= status < 300:
            return cls.parse(site, text or "")
        if 400 <= status < 500 and status != 429:
            return cls.allow_all(site)
        raise RobotsUnavailable(
            f"{site}/robots.txt answered {status}, so its rules are unknown; nothing was crawled — try again later",
        )

    def allowed(self, url: str) -> bool:
        """May we fetch ``url`` (absolute, or relative to the site)?"""
        if self._parser is None:
            return True
        return self._parser.can_fetch(absolute_url(self.site, url), TOOL_NAME)

    @property
    def crawl_delay(self) -> float | None:
        if self._parser is None:
            return None
        delay = self._parser.crawl_delay(TOOL_NAME)
        return float(delay) if delay is not None else None


class RateLimiter:
    """Spaces the starts of requests to one host by ``max(1/rate, crawl_delay)`` seconds.

    Use ``async with limiter:`` or ``await limiter.wait()`` right before sending
    each request (each attempt of a retry too).  Safe to share between tasks:
    slots are handed out one at a time, in order.  ``penalise(seconds)`` pushes
    the next slot out, e.g. for a Retry-After.

    ``clock`` and ``sleep`` are injectable so tests can run on a fake clock.
    """

    def __init__(
        self,
        rate: float,
        crawl_delay: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        if not rate or rate <= 0 or math.isnan(rate):
            raise UsageError(f"rate {rate!r} must be a positive number of requests per second, e.g. 0.5")
        self.rate = float(rate)
        self._crawl_delay = crawl_delay
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None  # earliest start of the next request
        self._lock = asyncio.Lock()
        self.waited = 0.0  # total seconds spent waiting (for reports)

    @property
    def crawl_delay(self) -> float | None:
        return self._crawl_delay

    @crawl_delay.setter
    def crawl_delay(self, value: float | None) -> None:
        self._crawl_delay = value

    @property
    def interval(self) -> float:
        return max(1.0 / self.rate, self._crawl_delay or 0.0)

    async def wait(self) -> None:
        """Return when the next request may start, and book that start."""
        async with self._lock:
            now = self._clock()
            if self._next is not None:
                while now < self._next:
                    pause = self._next - now
                    self.waited += pause
                    await self._sleep(pause)
                    now = self._clock()
            self._next = now + self.interval

    def penalise(self, seconds: float) -> None:
        """Let no request start for ``seconds`` from now (Retry-After, back-off)."""
        if seconds <= 0:
            return
        until = self._clock() + seconds
        if self._next is None or until > self._next:
            self._next = until

    async def __aenter__(self) -> "RateLimiter":
        await self.wait()
        return self

    async def __aexit__(self, *exc) -> None:
        return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date.

    A date in the past gives 0.0; anything unreadable gives None.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        seconds = float(text)
        if math.isfinite(seconds):
            return max(0.0, seconds)
        return None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def effective_rate(site: str, rate: float) -> tuple[float, str | None]:
    """The rate actually used, and a warning when the requested one was capped.

    A rate ≤ 0 is a usage error.  Public sites are capped at ``MAX_PUBLIC_RATE``;
    loopback sites (the bundled sample site, a local mirror) are exempt.
    """
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise UsageError(f"--rate {rate!r} is not a number; give requests per second, e.g. --rate 0.5")
    if math.isnan(rate) or rate <= 0:
        raise UsageError(f"--rate {rate:g} must be above 0; give requests per second, e.g. --rate 0.5")
    if is_local_site(site):
        return rate, None
    if rate > MAX_PUBLIC_RATE:
        return MAX_PUBLIC_RATE, (
            f"--rate {rate:g} is above the {MAX_PUBLIC_RATE:g} req/s ceiling for public sites; using {MAX_PUBLIC_RATE:g}"
        )
    return rate, None
