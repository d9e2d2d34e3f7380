"""The discovery producer of a sync: which threads to fetch.

Explicit ``--request`` values go straight to the frontier (numeric ids follow
the site's redirect to their slug).  Each ``--authority`` / ``--user`` /
``--query`` is walked through the site's listings (``scraper.discovery``) and
every request found is offered to the frontier through the writer; a walk
read to its end is recorded with its last discoveries, so a later walk of the
same authority may stop at the first page that shows nothing new.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from datetime import datetime, timezone

from corpus import frontier, pagestore
from corpus.errors import UsageError
from corpus.frontier import FrontierItem
from corpus.progress import Reporter
from corpus.sync.control import Control
from corpus.sync.options import SyncOptions
from corpus.sync.summary import SyncSummary
from corpus.writer import FinishedWalk, Writer
from scraper.discovery import PageIsOld, Target, WalkOutcome, listing_url, target_not_found, walk
from scraper.fetch import ChallengeDetected, Fetcher
from scraper.pages.listing import ListingItem, ListingPage, parse_listing
from scraper.records import ParseFailure
from scraper.urls import request_url, url_title_from_href

OFFER_EVERY = 100  # discovered URLs written to the frontier at a time


class Discovery:
    def __init__(self, options: SyncOptions, fetcher: Fetcher, writer: Writer, summary: SyncSummary,
                 reporter: Reporter, control: Control, parse_pool: Executor,
                 flush: Callable[[], Awaitable[object]], enough: Callable[[], bool]):
        self.opts = options
        self.site = options.site
        self.fetcher = fetcher
        self.writer = writer
        self.summary = summary
        self.rep = reporter
        self.control = control
        self.parse_pool = parse_pool
        self.flush = flush  # write what is in hand
        self.enough = enough  # --limit reached by what is already queued
        self.done = False
        self._cache: dict[str, ListingPage | ParseFailure] = {}  # first listing pages, read before any write
        self._finished: dict[tuple, datetime] | None = None  # walks finished by earlier runs

    # ------------------------------------------------------------------ before anything is written

    async def check_targets(self) -> None:
        """Read the first listing page of each --authority / --user before the database is touched.

        An unknown slug (the site's 404) is then a usage error that leaves nothing
        written; the page read is kept for the walk, so it costs no extra request.
        """
        for kind, values in (("authority", self.opts.authorities), ("user", self.opts.users)):
            for value in values:
                target = Target(kind, value, self.opts.since, self.opts.until)
                url = listing_url(self.site, target, 1)
                page = await self.fetch_listing(url)
                if page is None:
                    raise target_not_found(self.site, target)
                self._cache[url] = page

    async def explicit(self) -> list[FrontierItem]:
        """The --request values as frontier items; numeric ids follow the site's redirect."""
        items = [FrontierItem(url=request_url(self.site, s), url_title=s, discovered_from="--request", priority=10,
                              force=True) for s in self.opts.slugs]
        for rid in self.opts.ids:
            res = await self.fetcher.fetch(f"/request/{rid}")
            slug = url_title_from_href(res.final_url) if res.final_url else None
            if res.status in (404, 410) or not slug or slug.isdigit():
                raise UsageError(f"request id {rid} was not found on {self.site}; check the number or give the slug")
            items.append(FrontierItem(url=request_url(self.site, slug), url_title=slug,
                                      discovered_from=f"--request {rid}", priority=10, force=True))
        self.summary.discovered += len(items)
        return items

    # ------------------------------------------------------------------ the producer

    async def produce(self) -> None:
        """Walk every target's listings; runs beside the fetch loop until done or told to stop."""
        wanted = [("authority", a) for a in self.opts.authorities] + [("user", u) for u in self.opts.users]
        if self.opts.query:
            wanted.append(("query", self.opts.query))
        try:
            for kind, value in wanted:
                if self.control.stopping or self.enough():
                    break
                await self._walk(Target(kind, value, self.opts.since, self.opts.until))
        except ChallengeDetected as exc:
            self.control.block(exc)
        except Exception as exc:
            self.control.fail(exc)
        finally:
            self.done = True
            self.control.wake.set()

    async def _walk(self, target: Target) -> None:
        self.rep.log("discover", f"walking the listings of {target.kind} {target.value}", target=target.value)
        started = datetime.now(timezone.utc)
        outcome = WalkOutcome()
        async for item in walk(self.site, target, self.fetch_listing, page_is_old=await self._page_is_old(target),
                               on_warning=lambda m: self.rep.log("discovery", m, level="warning"), outcome=outcome):
            if self.control.stopping:
                break
            if item.url_title:
                self._offer(target, item)
                if len(self.writer.pending.discovered) >= OFFER_EVERY:
                    await self.flush()
                if self.enough():
                    break
        if outcome.complete:
            # Written with the walk's last discoveries, in the same transaction.
            self.writer.finish_walk(FinishedWalk(target.kind, target.value, target.since, target.until, started,
                                                 outcome.pages, outcome.stopped_early))
            if outcome.stopped_early:
                self.rep.log("discover", f"{target.kind} {target.value}: page {outcome.pages} of its listing "
                             "shows nothing new since the last full walk; the rest is unchanged", target=target.value)

    def _offer(self, target: Target, item: ListingItem) -> None:
        self.writer.discover([FrontierItem(url=request_url(self.site, item.url_title), url_title=item.url_title,
                                           listing_signature=item.signature,
                                           discovered_from=f"{target.kind}:{target.value}")])
        self.summary.discovered += 1
        self.control.wake.set()

    async def _page_is_old(self, target: Target) -> PageIsOld | None:
        """``page_is_old`` for ``walk``, or None when this target's listing must be read in full.

        Only an authority's own listing (no --since/--until), and only after an
        earlier walk of the same target finished: a page is old when every
        request on it was already listed just so when that walk finished.  Never
        with --refresh.  (Why only authorities: ``scraper.discovery``.)
        """
        if self.opts.refresh or target.kind != "authority" or target.since or target.until:
            return None
        if self._finished is None:  # read once per run
            self._finished = await self.writer.call_async(frontier.complete_walks, self.site)
        last = self._finished.get((target.kind, target.value, target.since, target.until))
        if last is None:
            return None

        async def page_is_old(items: list[ListingItem]) -> bool:
            listed = [(request_url(self.site, i.url_title), i.signature) for i in items if i.url_title]
            if not listed:
                return False
            return await self.writer.call_async(frontier.changed_since, listed, last) == 0

        return page_is_old

    async def fetch_listing(self, url: str) -> ListingPage | ParseFailure | None:
        """A listing page parsed (its raw page kept), a ParseFailure when unreadable, None on the site's 404/410."""
        if url in self._cache:
            return self._cache.pop(url)
        res = await self.fetcher.fetch(url)
        if res.status in (404, 410):
            return None
        if res.error or res.body is None or res.status != 200:
            why = res.error or f"HTTP {res.status}"
            self.rep.log("listing_failed", f"could not read listing {url}: {why}", level="warning", url=url)
            return ParseFailure("error_page", f"could not fetch {url}: {why}")
        provenance = getattr(self.fetcher, "provenance_of", None)  # a listing from --archive says so
        self.writer.keep_pages([pagestore.make_page(url=res.final_url, site=self.site, kind="listing",
                                                    status=res.status, final_url=res.final_url, headers=res.headers,
                                                    body=res.body, **(provenance(url) if provenance else {}))])
        body, base = res.body, res.final_url
        return await asyncio.get_running_loop().run_in_executor(self.parse_pool, lambda: parse_listing(body, base_url=base))
