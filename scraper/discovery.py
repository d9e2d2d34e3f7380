"""Discovery: walk the site's listings and yield every request they show, once.

Listings stop at 500 results (20 pages of 25; page 21 answers 404), so a body,
user or query with more requests is cut into date slices through ``/list``
(``request_date_after`` / ``request_date_before``), and a slice that is still
full is cut again.  Slices match on *event* dates (sent, follow-up, response,
annotation), so one request can appear in several slices: ``walk`` yields each
``url_title`` only once.

A re-sync can stop early: an authority's own listing (``/body/<slug>``) is
sorted by the time its shown event was last described, newest first, so
anything that happened to a request (a reply, a follow-up, an annotation, a new
status) lifts it to the top.  Once a whole page shows only requests unchanged
since the previous complete walk, every later page is unchanged too.  The
caller decides that (``page_is_old``); ``/list`` and user pages sort by event
creation time, which a new status does not move, so they are always walked in
full.

Pure of DuckDB and of HTTP: pages come from a ``fetch_listing(url)`` callable.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from urllib.parse import quote, urlencode

from scraper.errors import InvalidInput, ListingUnreadable, TargetNotFound
from scraper.pages.listing import PAGE_SIZE, ListingItem, ListingPage
from scraper.records import ParseFailure

log = logging.getLogger(__name__)

EARLIEST = date(2007, 1, 1)  # before any Alaveteli site held a request
KINDS = ("authority", "user", "query")

FetchListing = Callable[[str], Awaitable["ListingPage | ParseFailure | None"]]


@dataclass(frozen=True, slots=True)
class Target:
    """What to discover: an authority slug, a user slug or a /list query text."""

    kind: str  # 'authority' | 'user' | 'query'
    value: str
    since: date | None = None
    until: date | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown target kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if not self.value or not str(self.value).strip():
            raise InvalidInput(f"the {self.kind} to collect is empty; give a slug or query text", subject=self.kind)
        if self.since and self.until and self.since > self.until:
            raise InvalidInput(f"the start date {self.since} is after the end date {self.until}; swap them",
                               subject="dates")

    @property
    def xapian_query(self) -> str:
        """The /list query that selects this target's requests."""
        if self.kind == "authority":
            return f"requested_from:{self.value}"
        if self.kind == "user":
            return f"requested_by:{self.value}"
        return self.value


def _date_param(d: date) -> str:
    return d.strftime("%Y/%m/%d")


def listing_url(site: str, target: Target, page: int, date_after: date | None = None, date_before: date | None = None) -> str:
    """The URL of one listing page.

    Without dates an authority or user is listed on its own page
    (``/body/<slug>``, ``/user/<slug>``); a query, and every date slice, goes
    through ``/list`` with the parameters written as the site writes them in its
    pagination links: keys sorted, ``/`` as ``%2F``, ``commit=Search``.
    Page 1 carries no ``page`` parameter.
    """
    if page < 1:
        raise ValueError(f"page numbers start at 1, not {page}")
    sliced = date_after is not None or date_before is not None
    if not sliced and target.kind in ("authority", "user"):
        prefix = "body" if target.kind == "authority" else "user"
        url = f"{site}/{prefix}/{quote(target.value, safe='')}"
        return url if page == 1 else f"{url}?page={page}"
    params = {"commit": "Search", "query": target.xapian_query}
    if page > 1:
        params["page"] = str(page)
    if date_after is not None:
        params["request_date_after"] = _date_param(date_after)
    if date_before is not None:
        params["request_date_before"] = _date_param(date_before)
    return f"{site}/list?" + urlencode(sorted(params.items()))


def split_range(lo: date, hi: date, parts: int) -> list[tuple[date, date]]:
    """Cut ``lo..hi`` (inclusive) into up to ``parts`` contiguous, non-empty day ranges."""
    days = (hi - lo).days + 1
    parts = max(1, min(parts, days))
    out = []
    start = lo
    for i in range(parts):
        length = days * (i + 1) // parts - days * i // parts
        end = start + timedelta(days=length - 1)
        out.append((start, end))
        start = end + timedelta(days=1)
    return out


class _Run:
    """What one listing walk learnt, read after its generator is exhausted."""

    __slots__ = ("full", "total", "pages", "broken")

    def __init__(self) -> None:
        self.full = False
        self.broken = False  # a page could not be read: the rest of this listing was skipped
        self.total: int | None = None
        self.pages = 0


@dataclass(slots=True)
class WalkOutcome:
    """How a walk ended, filled in as it goes (read it after the generator is exhausted)."""

    complete: bool = False  # reached the end of every listing (or stopped early on an unchanged page)
    stopped_early: bool = False
    pages: int = 0  # listing pages read


PageIsOld = Callable[[list[ListingItem]], Awaitable[bool]]


def target_not_found(site: str, target: Target) -> TargetNotFound:
    """The error for a target whose first listing page the site answered with 404 (or 410)."""
    if target.kind == "authority":
        message = (f"no authority {target.value!r} on {site} (the site answered 404); "
                   "check the slug in the body's URL, e.g. /body/<slug>")
    elif target.kind == "user":
        message = (f"no user {target.value!r} on {site} (the site answered 404); "
                   "check the slug in the user's URL, e.g. /user/<slug>")
    else:
        message = f"{site}/list answered 404 for the query {target.value!r}; check the query text"
    return TargetNotFound(message, kind=target.kind, value=target.value)


async def walk(
    site: str,
    target: Target,
    fetch_listing: FetchListing,
    *,
    max_pages: int = 20,
    today: date | None = None,
    on_warning: Callable[[str], None] | None = None,
    page_is_old: PageIsOld | None = None,
    outcome: WalkOutcome | None = None,
) -> AsyncIterator[ListingItem]:
    """Yield every request listed for ``target``, each ``url_title`` once.

    ``fetch_listing(url)`` must return the parsed page (``parse_listing``), a
    ``ParseFailure`` when the page could not be read, or **None when the site
    answered 404/410** (an unknown slug, or a page past the end).  It may raise
    (e.g. ``ChallengeDetected``); the walk does not catch that.

    * Authority / user: the first page of ``/body/<slug>`` or ``/user/<slug>`` is
      always fetched (a 404 there raises ``TargetNotFound`` naming the slug).  With no
      dates the native listing is walked; when it is full the walk switches to
      ``/list`` date slices of ``requested_from:`` / ``requested_by:``.
    * With ``since`` / ``until``, slices cover that range only, and items whose
      listed event falls outside it (by UTC date, as the site's filter) are dropped.
    * A full listing is one with more than ``max_pages`` pages (window or
      "About N" > 500), or whose page ``max_pages`` still has a next link or is full.
    * ``page_is_old(items)``, when given, is asked after each page of an
      authority's own listing (not date-sliced): True ends the whole walk after
      that page's items (the caller knows nothing below it changed).
    * ``outcome`` is filled in: ``complete`` only when every listing was read to
      its end (or the walk stopped early as above), never after a skipped page.

    A request seen twice on an authority's or user's own listing is yielded
    again if its entry changed (it moved up while the walk read further down).
    """
    today = today or date.today()
    since, until = target.since, target.until
    dated = since is not None or until is not None
    seen: dict[str, str] = {}
    result = outcome if outcome is not None else WalkOutcome()
    stop = {"early": False, "broken": False}

    def warn(message: str) -> None:
        if on_warning is not None:
            on_warning(message)
        else:
            log.warning(message)

    def keep(item: ListingItem, native: bool = False) -> bool:
        # A slice shows a request through its newest event *in the slice*, so only
        # on a native listing (one entry per request) does a new signature mean a change.
        known = seen.get(item.url_title)
        if known is not None and (not native or known == item.signature):
            return False
        if dated and item.event_time is not None:
            day = item.event_time.astimezone(timezone.utc).date()
            if (since and day < since) or (until and day > until):
                return False
        seen[item.url_title] = item.signature
        return True

    async def pages(
        first_url: str, run: _Run, *, first_of_walk: bool, stop_when_full: bool, may_stop: bool = False
    ) -> AsyncGenerator[ListingItem, None]:
        url: str | None = first_url
        number = 0
        page: ListingPage | ParseFailure | None = None
        while url is not None and number < max_pages:
            number += 1
            page = await fetch_listing(url)
            if page is None:
                if number == 1 and first_of_walk:
                    raise target_not_found(site, target)
                break  # past the end
            if isinstance(page, ParseFailure):
                if number == 1 and first_of_walk:
                    raise ListingUnreadable(f"could not read the listing {url} ({page.kind}: {page.message}); try again later")
                warn(f"skipped the rest of listing {url}: {page.kind}: {page.message}")
                run.broken = True
                stop["broken"] = True
                return
            run.pages = number
            result.pages += 1
            if number == 1:
                run.total = page.total
                if (page.total is not None and page.total > max_pages * PAGE_SIZE) or (
                    page.last_page is not None and page.last_page > max_pages
                ):
                    run.full = True
            old = may_stop and page_is_old is not None and bool(page.items) and await page_is_old(page.items)
            for item in page.items:
                yield item
            if old:
                stop["early"] = True
                return
            if run.full and stop_when_full:
                return
            url = page.next_url
        if number == max_pages and isinstance(page, ListingPage) and (page.next_url or len(page.items) >= PAGE_SIZE):
            run.full = True

    async def sliced(lo: date, hi: date, *, first_of_walk: bool = False) -> AsyncIterator[ListingItem]:
        run = _Run()
        can_split = lo < hi
        first = listing_url(site, target, 1, lo, hi)
        async for item in pages(first, run, first_of_walk=first_of_walk, stop_when_full=can_split):
            yield item
        if not run.full:
            return
        if not can_split:
            warn(
                f"the {target.kind} {target.value!r} lists more than {max_pages * PAGE_SIZE} requests with events on {lo}; "
                "the site shows only the first 500 of them"
            )
            return
        parts = 2
        if run.total:
            parts = max(2, math.ceil(run.total / (max_pages * PAGE_SIZE * 0.8)))
        for a, b in split_range(lo, hi, parts):
            async for item in sliced(a, b):
                yield item

    async def items() -> AsyncIterator[ListingItem]:
        lo = since or EARLIEST
        hi = until or today
        if lo > hi:
            return

        if target.kind in ("authority", "user"):
            run = _Run()
            # An early stop needs the authority's own listing read page by page, even when it is full.
            may_stop = page_is_old is not None and target.kind == "authority" and not dated
            native = pages(listing_url(site, target, 1), run, first_of_walk=True, stop_when_full=not may_stop,
                           may_stop=may_stop)
            if dated:
                # Only the first page: it proves the slug exists (404 otherwise).
                async for _item in native:
                    break
                await native.aclose()
                async for item in sliced(lo, hi):
                    if keep(item):
                        yield item
                return
            async for item in native:
                if keep(item, native=True):
                    yield item
            if run.full and not stop["early"]:
                async for item in sliced(lo, hi):
                    if keep(item):
                        yield item
            return

        # query
        if dated:
            async for item in sliced(lo, hi, first_of_walk=True):
                if keep(item):
                    yield item
            return
        run = _Run()
        async for item in pages(listing_url(site, target, 1), run, first_of_walk=True, stop_when_full=True):
            if keep(item):
                yield item
        if run.full:
            async for item in sliced(lo, hi):
                if keep(item):
                    yield item

    async for item in items():
        yield item
    # Reached only when the caller read the walk to its end.
    result.complete = not stop["broken"]
    result.stopped_early = stop["early"]
