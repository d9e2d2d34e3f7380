"""A polite client for a Wayback-compatible archive: CDX lookup and raw (``id_``) replay.

``WaybackArchive`` reads captures of an Alaveteli site's pages from the
Internet Archive's Wayback Machine or from a pywb archive (see
``scraper.archive.cdx`` for the two dialects).  It is built on the scraper's
own ``Fetcher`` and ``RateLimiter`` — one of each for the archive's host,
separate from the site's — so everything the live fetcher does holds here
too: byte and time bounds, retries with back-off, ``Retry-After``, the same
User-Agent with the operator's contact, no cookies, one connection.

Towards the archive specifically:

* **its own robots.txt** is read first and obeyed (a 4xx means no rules; a
  5xx or no answer means the archive is not used this run);
* **its own rate**: ``DEFAULT_ARCHIVE_RATE`` (one request every 3 s) for CDX
  queries and replays together, and never above ``MAX_PUBLIC_ARCHIVE_RATE``
  (24 a minute) for an archive off this machine.  Sources: the Internet
  Archive's CDX and timemap endpoints now share one limit, 24 requests a
  minute per client (the EDGI ``wayback`` library's 0.5.1 release notes,
  June 2026, which set its default to that "to match the actual hard limits
  now set on Wayback Machine servers"; earlier, Internet Archive staff gave
  60 a minute averaged over 5 minutes, and said an IP that keeps on after
  429s is blocked at the firewall for an hour: EDGI ``wayback`` issues 153 and
  137).  Arquivo.pt publishes 250 a minute for its CDX API (its APIs wiki page),
  so the same default is conservative there too;
* a 429 without ``Retry-After`` holds every request back for a minute, and
  answers that keep failing (three lookups in a row) or a bot challenge from
  the archive end its use for the run (``ArchiveUnavailable``);
* **reading only**: GET requests to the CDX API and to ``id_`` replays; never
  "save page now" or anything else that makes the archive record.

Privacy first: a lookup reads the latest captures newest first and stops at
the first that says the page was removed (404/410, or a 403 that is not a
bot challenge, as Alaveteli answers for a hidden request).  An older copy is
never used in place of a removal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TypedDict

import httpx

from scraper.archive.captures import (
    GONE_STATUSES,
    WITHHELD_STATUS,
    Capture,
    Skipped,
    SkipReason,
    UrlKind,
    classify_url,
    judge,
)
from scraper.archive.cdx import ArchiveEndpoint, CdxPage, CdxRow, CdxUnreadable, parse_cdx
from scraper.archive.warc import DEFAULT_CAPS
from scraper.errors import ChallengeDetected, InvalidInput, RobotsUnavailable, SiteError
from scraper.fetch import Failure, Fetcher, load_robots
from scraper.http import make_client
from scraper.politeness import RateLimiter, Robots, parse_retry_after
from scraper.urls import is_local_site

__all__ = [
    "DEFAULT_ARCHIVE_RATE",
    "MAX_PUBLIC_ARCHIVE_RATE",
    "ArchiveUnavailable",
    "WaybackArchive",
    "archive_rate",
]

DEFAULT_ARCHIVE_RATE = 1 / 3  # requests per second: 20 a minute, CDX queries and replays together
MAX_PUBLIC_ARCHIVE_RATE = 0.4  # 24 a minute: the Internet Archive's CDX limit per client
PAUSE_AFTER_429 = 60.0  # seconds every request waits after a 429 that gave no Retry-After
MAX_ERRORS_IN_A_ROW = 3  # failed lookups in a row before the archive is given up for the run
MAX_REPLAYS_PER_LOOKUP = 3  # captures replayed for one URL before giving up on it

_ARCHIVE_ORIG = "x-archive-orig-"
_REPLAY_HEADERS = frozenset({"memento-datetime", "link", "content-location"})


class ArchiveUnavailable(SiteError):
    """The archive cannot be used this run (robots.txt unreadable, a bot challenge, errors in a row ...)."""


def archive_rate(base: str, rate: float | None) -> tuple[float, str | None]:
    """The rate used for an archive, and a warning when the one asked for was capped.

    ``None`` means ``DEFAULT_ARCHIVE_RATE``.  An archive on this machine
    (127.0.0.0/8, ::1, localhost) takes any positive rate.
    """
    if rate is None:
        return DEFAULT_ARCHIVE_RATE, None
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise InvalidInput(f"archive rate {rate!r} is not a number of requests per second, e.g. 0.3",
                           subject="archive_rate") from None
    if not rate > 0:
        raise InvalidInput(f"archive rate {rate:g} must be above 0, e.g. 0.3", subject="archive_rate")
    if is_local_site(base) or rate <= MAX_PUBLIC_ARCHIVE_RATE:
        return rate, None
    return MAX_PUBLIC_ARCHIVE_RATE, (
        f"an archive rate of {rate:g} req/s is above the {MAX_PUBLIC_ARCHIVE_RATE:g} req/s ceiling for public "
        f"archives (24 a minute); using {MAX_PUBLIC_ARCHIVE_RATE:g}"
    )


@dataclass(slots=True)
class PrefixListing:
    """What the archive's index lists under a URL prefix."""

    rows: list[CdxRow]  # the latest 200 capture of each URL found
    complete: bool  # False when the listing was cut (the query limit or page budget ran out)
    queries: int = 0


class _Where(TypedDict):
    """Where a replayed capture came from: the fields every ``Skipped`` for it carries."""

    url: str
    source: str
    record_id: str | None
    captured_at: datetime | None
    kind: UrlKind


def _replayed_headers(headers: dict[str, str]) -> dict[str, str]:
    """The captured answer's own headers: the Internet Archive prefixes them with ``x-archive-orig-``."""
    original = {k[len(_ARCHIVE_ORIG):]: v for k, v in headers.items() if k.startswith(_ARCHIVE_ORIG)}
    if original:
        if "content-type" in headers:
            original.setdefault("content-type", headers["content-type"])
        return original
    return {k: v for k, v in headers.items() if k not in _REPLAY_HEADERS}


class WaybackArchive:
    """Captures of ``site``'s pages from one Wayback-compatible archive.  Use ``async with``.

    ``transport`` lets tests plug an ``httpx`` transport in; ``fetcher_options``
    go to the ``Fetcher`` (bounds, attempts, back-off); ``on_request`` sees
    every request as the site's fetcher reports them.  ``stats`` counts CDX
    queries, replays and outcomes.
    """

    def __init__(
        self,
        endpoint: ArchiveEndpoint,
        *,
        site: str,
        contact: str | None,
        rate: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        fetcher_options: dict | None = None,
        on_request: Callable[[str, str, int | None], None] | None = None,
    ):
        self.endpoint = endpoint
        self.site = site
        self.contact = contact
        self.rate, self.rate_warning = archive_rate(endpoint.host_site, rate)
        self._transport = transport
        self._options = {"max_attempts": 3, **(fetcher_options or {})}
        self._on_request = on_request
        self.stats: Counter[str] = Counter()
        self._client: httpx.AsyncClient | None = None
        self._fetcher: Fetcher | None = None
        self.limiter = RateLimiter(self.rate)
        self._errors_in_a_row = 0
        self.unavailable: str | None = None  # why the archive was given up, once it was

    # -- life -------------------------------------------------------------------------

    async def __aenter__(self) -> WaybackArchive:
        await self.open()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def open(self) -> None:
        """Read the archive's robots.txt.  Raises ``ArchiveUnavailable`` when it cannot be read."""
        host = self.endpoint.host_site
        self._client = make_client(host, self.contact, transport=self._transport)
        self._client.event_hooks = {"request": [], "response": [self._answered]}
        try:
            robots, _ = await load_robots(self._client, host, self.limiter, on_request=self._heard,
                                          **{k: v for k, v in self._options.items() if k != "max_attempts"})
        except (RobotsUnavailable, ChallengeDetected) as exc:
            await self.close()
            raise self._give_up(f"its robots.txt could not be read ({exc})") from None
        self._fetcher = Fetcher(self._client, robots, self.limiter, site=host, on_request=self._heard,
                                **self._options)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def stop(self, reason: str = "stopped") -> None:
        """Cancel every wait and transfer to the archive now."""
        self.limiter.stop(reason)

    @property
    def robots(self) -> Robots | None:
        return self._fetcher.robots if self._fetcher is not None else None

    # -- lookups ------------------------------------------------------------------------

    async def captures_of(self, url: str) -> list[CdxRow]:
        """The latest captures of exactly ``url`` the index lists (any status), newest first."""
        page = await self._cdx(self.endpoint.lookup_url(url))
        return sorted(page.rows, key=lambda r: r.timestamp, reverse=True)

    async def lookup(self, url: str) -> Capture | Skipped:
        """The latest usable capture of ``url``, or why there is none.

        Captures are read newest first.  A 404/410 — or a 403 that is not a bot
        challenge — ends the lookup: the page had been removed, and an older
        copy is not used in its place (``SkipReason.GONE``).  Redirects, server
        errors and captured challenge pages are passed over for older captures.
        Raises ``ArchiveUnavailable`` when the archive can no longer be used.
        """
        kind = classify_url(self.site, url)
        try:
            rows = await self.captures_of(url)
        except _LookupFailed as exc:
            return Skipped(SkipReason.ARCHIVE_ERROR, exc.reason, url=url, source=self.endpoint.name, kind=kind)
        passed: Counter[str] = Counter()
        replays = 0
        for row in rows:
            if row.status in GONE_STATUSES:
                return Skipped(SkipReason.GONE,
                               f"the archive's latest capture that says anything ({row.timestamp}) is HTTP "
                               f"{row.status}: the page had been removed, so no older copy is used",
                               url=url, source=self.endpoint.name, captured_at=row.captured_at, kind=kind)
            usable = row.status in (200, WITHHELD_STATUS) or (row.is_revisit and row.status in (None, 200))
            if not usable:
                passed[f"HTTP {row.status}" if row.status else "no status"] += 1
                continue
            if replays >= MAX_REPLAYS_PER_LOOKUP:
                passed["not tried"] += 1
                continue
            replays += 1
            got = await self.fetch_capture(row, kind)
            if isinstance(got, Capture):
                return got
            if got.reason is SkipReason.GONE:
                got.detail += "; no older copy is used"
                return got
            if got.reason in (SkipReason.CHALLENGE, SkipReason.STATUS):
                passed[str(got.reason)] += 1
                continue
            return got
        if not rows:
            detail = "the archive holds no capture of this URL"
        else:
            detail = (f"none of the archive's {len(rows)} latest captures is usable ("
                      + ", ".join(f"{n} {why}" for why, n in sorted(passed.items())) + ")")
        return Skipped(SkipReason.NOT_ARCHIVED, detail, url=url, source=self.endpoint.name, kind=kind)

    async def fetch_capture(self, row: CdxRow, kind: UrlKind | None = None) -> Capture | Skipped:
        """The raw capture ``row`` names (``id_`` replay), judged as a file's record would be."""
        kind = kind or classify_url(self.site, row.url)
        replay = self.endpoint.replay_url(row.timestamp, row.url)
        where: _Where = {"url": row.url, "source": replay, "record_id": row.digest, "captured_at": row.captured_at,
                         "kind": kind}
        fetcher = self._ready()
        self.stats["replays"] += 1
        cap = DEFAULT_CAPS.get(kind, DEFAULT_CAPS[UrlKind.REQUEST_PAGE])
        try:
            res = await fetcher.fetch(replay, max_bytes=cap)
        except ChallengeDetected as exc:
            return Skipped(SkipReason.CHALLENGE, f"the archived copy is a bot challenge ({exc.reason})", **where)
        if res.error:
            if res.failure is Failure.TOO_LARGE:
                return Skipped(SkipReason.TOO_LARGE, res.error, **where)
            self._failed(f"replay failed: {res.error}")
            return Skipped(SkipReason.ARCHIVE_ERROR, f"the archive did not replay the capture: {res.error}", **where)
        headers = _replayed_headers(res.headers)
        if "memento-datetime" not in res.headers and res.status != 200:
            self._failed(f"replay answered HTTP {res.status}")
            return Skipped(SkipReason.ARCHIVE_ERROR, f"the archive answered HTTP {res.status} instead of the capture",
                           **where)
        self._errors_in_a_row = 0
        captured_at = row.captured_at
        memento = res.headers.get("memento-datetime")
        if memento:
            try:
                captured_at = parsedate_to_datetime(memento)
            except (TypeError, ValueError):
                pass
        where["captured_at"] = captured_at
        problem = judge(res.status, headers, res.body)
        if problem is not None:
            return Skipped(problem[0], problem[1], **where)
        return Capture(url=row.url, kind=kind, captured_at=captured_at, status=res.status, headers=headers,
                       body=res.body or b"", source=replay, record_id=row.digest)

    async def list_prefix(self, prefix: str, *, per_query: int = 1000, max_queries: int = 20) -> PrefixListing:
        """The URLs the index holds 200 captures of under ``prefix``, one row each (the latest seen).

        The Internet Archive is read page by page with its resumption key, up to
        ``max_queries`` queries; pywb answers one query, cut at ``per_query``
        rows.  ``complete`` says whether the index was read to its end.
        """
        latest: dict[str, CdxRow] = {}
        resume: str | None = None
        queries = 0
        complete = False
        while queries < max_queries:
            queries += 1
            page = await self._cdx(self.endpoint.prefix_url(prefix, per_query, resume))
            for row in page.rows:
                if row.status not in (None, 200):
                    continue
                known = latest.get(row.url)
                if known is None or row.timestamp > known.timestamp:
                    latest[row.url] = row
            resume = page.resume_key
            if resume is None:
                complete = len(page.rows) < per_query or self.endpoint.dialect.value == "ia"
                break
        return PrefixListing(rows=sorted(latest.values(), key=lambda r: r.url), complete=complete, queries=queries)

    # -- internals ----------------------------------------------------------------------

    def _ready(self) -> Fetcher:
        if self.unavailable is not None:
            raise ArchiveUnavailable(self.unavailable)
        if self._fetcher is None:
            raise RuntimeError("WaybackArchive.open() was not called (use `async with`)")
        return self._fetcher

    async def _answered(self, response: httpx.Response) -> None:
        if response.status_code == 429 and parse_retry_after(response.headers.get("retry-after")) is None:
            # The archive asked us to slow down without saying how long: hold everything back a while.
            # (A Retry-After is obeyed by the fetcher itself.)
            self.limiter.penalise(PAUSE_AFTER_429)

    def _heard(self, method: str, url: str, status: int | None) -> None:
        self.stats["requests"] += 1
        if self._on_request is not None:
            self._on_request(method, url, status)

    def _give_up(self, why: str) -> ArchiveUnavailable:
        self.unavailable = f"the archive {self.endpoint.name} is not used for the rest of this run: {why}"
        return ArchiveUnavailable(self.unavailable)

    def _failed(self, why: str) -> None:
        self._errors_in_a_row += 1
        if self._errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
            raise self._give_up(f"{self._errors_in_a_row} requests in a row failed (the last: {why})")

    async def _cdx(self, query: str) -> CdxPage:
        fetcher = self._ready()
        self.stats["cdx_queries"] += 1
        try:
            res = await fetcher.fetch(query)
        except ChallengeDetected as exc:
            self.stop("bot challenge")
            raise self._give_up(f"it answered with a bot challenge ({exc.reason})") from None
        if res.error:
            if res.failure is Failure.REFUSED:
                raise self._give_up(f"its CDX API cannot be asked ({res.error})")
            self._failed(res.error)
            raise _LookupFailed(f"the archive's index could not be read: {res.error}")
        if res.status == 404:
            raise self._give_up(f"{self.endpoint.cdx_endpoint} answered 404: no CDX API there (check --archive)")
        if res.status != 200:
            self._failed(f"HTTP {res.status}")
            raise _LookupFailed(f"the archive's index answered HTTP {res.status}")
        try:
            page = parse_cdx(res.body or b"")
        except CdxUnreadable as exc:
            self._failed(str(exc))
            raise _LookupFailed(f"the archive's index answer could not be read: {exc}") from None
        self._errors_in_a_row = 0
        return page


class _LookupFailed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
