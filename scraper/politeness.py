"""Politeness settings in one place: robots.txt, the rate ceiling, Retry-After.

* ``Robots`` reads robots.txt with protego, which understands the ``*``
  wildcards WhatDoTheyKnow's file is written with.  Only the first
  ``ROBOTS_MAX_BYTES`` (500 KiB) are read, as the major crawlers do; RFC 9309
  §2.5 lets a crawler ignore what lies past such a limit.
* ``RateLimiter`` spaces the *starts* of requests to a host by at least
  ``max(1/rate, crawl_delay)`` seconds — retries included, and the first request
  after robots.txt too.  ``stop()`` ends its waits at once.
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

from scraper.errors import InvalidInput, RobotsUnavailable
from scraper.http import TOOL_NAME
from scraper.stop import StopSwitch
from scraper.urls import absolute_url, is_local_site

__all__ = [
    "DEFAULT_RATE",
    "MAX_PUBLIC_RATE",
    "ROBOTS_MAX_BYTES",
    "RateLimiter",
    "Robots",
    "RobotsUnavailable",
    "effective_rate",
    "parse_retry_after",
]

MAX_PUBLIC_RATE = 5.0  # requests per second, ceiling for any non-local site
DEFAULT_RATE = 0.5
ROBOTS_MAX_BYTES = 500 * 1024  # robots.txt is read up to here (Google's limit; RFC 9309 asks for at least 500 KiB)


def _within_cap(text: str | bytes) -> tuple[str, bool]:
    """The part of a robots.txt to parse, and whether anything was cut.

    Past the cap the file is cut at the end of its last whole line, so a rule
    is never read half-written.
    """
    data = text.encode("utf-8", errors="replace") if isinstance(text, str) else bytes(text)
    if len(data) <= ROBOTS_MAX_BYTES:
        return (text if isinstance(text, str) else data.decode("utf-8", errors="replace")), False
    head = data[:ROBOTS_MAX_BYTES]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    head = head[: end + 1] if end >= 0 else b""
    return head.decode("utf-8", errors="replace"), True


class Robots:
    """The site's robots.txt rules for our User-Agent token (``foi-corpus``).

    ``truncated`` says the file was longer than ``ROBOTS_MAX_BYTES`` and only
    its whole lines within the cap were read.
    """

    def __init__(self, site: str, parser: Protego | None, text: str = "", *, truncated: bool = False):
        self.site = site
        self._parser = parser
        self.text = text
        self.truncated = truncated

    @classmethod
    def parse(cls, site: str, text: str | bytes) -> Robots:
        """Rules from a robots.txt body (bytes are read as UTF-8); only the first 500 KiB count."""
        kept, truncated = _within_cap(text)
        return cls(site, Protego.parse(kept), kept, truncated=truncated)

    @classmethod
    def allow_all(cls, site: str) -> Robots:
        """Rules for a site with no robots.txt (404): everything is allowed."""
        return cls(site, None, "")

    @classmethod
    def from_response(cls, site: str, status: int, text: str | bytes | None) -> Robots:
        """Interpret the answer to ``GET /robots.txt``.

        200 → its rules (the first 500 KiB); 4xx (404, 410, 401, 403 …) → no
        rules, allow all (RFC 9309 §2.3.1.3); 5xx or anything else →
        ``RobotsUnavailable`` (retry later, do not crawl).
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
    the next slot out, e.g. for a Retry-After.  The spacing is counted from the
    start of the last request, so a Crawl-delay learnt from robots.txt holds back
    the very next request too.

    ``stop()`` ends every wait at once: waiting tasks (and the transfers of any
    ``Fetcher`` sharing this limiter) raise ``scraper.errors.Stopped``, and so
    does every later ``wait()``.  Plain task cancellation works as well and
    leaves the limiter as it was (no slot is booked).

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
            raise InvalidInput(f"rate {rate!r} must be a positive number of requests per second, e.g. 0.5", subject="rate")
        self.rate = float(rate)
        self._crawl_delay = crawl_delay
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None  # start of the last request
        self._not_before: float | None = None  # set by penalise()
        self._lock = asyncio.Lock()
        self.waited = 0.0  # total seconds spent waiting (for reports)
        self.stop_switch = StopSwitch()

    @property
    def crawl_delay(self) -> float | None:
        return self._crawl_delay

    @crawl_delay.setter
    def crawl_delay(self, value: float | None) -> None:
        self._crawl_delay = value

    @property
    def interval(self) -> float:
        return max(1.0 / self.rate, self._crawl_delay or 0.0)

    def next_start(self) -> float | None:
        """The earliest clock time the next request may start (None: at once)."""
        times = [t for t in (self._not_before, None if self._last is None else self._last + self.interval) if t is not None]
        return max(times) if times else None

    async def wait(self) -> None:
        """Return when the next request may start, and book that start (``Stopped`` after ``stop()``)."""
        with self.stop_switch.guard():
            async with self._lock:
                now = self._clock()
                while (start := self.next_start()) is not None and now < start:
                    pause = start - now
                    self.waited += pause
                    await self._sleep(pause)
                    now = self._clock()
                self._last = now

    def penalise(self, seconds: float) -> None:
        """Let no request start for ``seconds`` from now (Retry-After, back-off)."""
        if seconds <= 0:
            return
        until = self._clock() + seconds
        if self._not_before is None or until > self._not_before:
            self._not_before = until

    def stop(self, reason: str = "stopped") -> None:
        """End every wait for this site now, and refuse later ones (see the class docstring)."""
        self.stop_switch.stop(reason)

    @property
    def stopped(self) -> bool:
        return self.stop_switch.stopped

    async def __aenter__(self) -> RateLimiter:
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

    A rate that is not a number above 0 raises ``InvalidInput``.  Public sites
    are capped at ``MAX_PUBLIC_RATE``; sites on this machine
    (``urls.is_local_site``: 127.0.0.0/8, ::1 and localhost — the bundled
    sample site, a local mirror) are exempt.
    """
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise InvalidInput(f"rate {rate!r} is not a number; give requests per second, e.g. 0.5", subject="rate") from None
    if math.isnan(rate) or rate <= 0:
        raise InvalidInput(f"rate {rate:g} must be above 0; give requests per second, e.g. 0.5", subject="rate")
    if is_local_site(site):
        return rate, None
    if rate > MAX_PUBLIC_RATE:
        return MAX_PUBLIC_RATE, (
            f"a rate of {rate:g} req/s is above the {MAX_PUBLIC_RATE:g} req/s ceiling for public sites; "
            f"using {MAX_PUBLIC_RATE:g}"
        )
    return rate, None
