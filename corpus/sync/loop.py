"""The fetch loop: queued threads fetched one after another, parsed in the parse thread, handed to the writer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

from corpus import frontier
from corpus.errors import HeldByReader
from corpus.pipeline import Failure, RawThread, ThreadOutcome, outcome_of
from corpus.progress import Reporter
from corpus.sync.archive import THREADS, ArchiveFallback
from corpus.sync.batches import Batches
from corpus.sync.control import Control
from corpus.sync.discover import Discovery
from corpus.sync.fetching import InHand, fetch_html, fetch_json, wants_json
from corpus.sync.options import SyncOptions
from corpus.sync.reader import ReaderWait
from corpus.sync.summary import SyncSummary
from corpus.writer import Writer, WriteResult
from scraper.errors import Stopped
from scraper.fetch import ChallengeDetected, Fetcher

FLUSH_EVERY = 25  # threads per batch transaction (while one is written, fetching goes on up to twice as many)
FLUSH_SECONDS = 2.0  # ... or this long since the last batch, whichever first


class FetchLoop:
    """Takes queued threads, fetches each (from the archive when the site refuses them) and parses it."""

    def __init__(self, options: SyncOptions, writer: Writer, hand: InHand, batches: Batches, reader: ReaderWait,
                 control: Control, summary: SyncSummary, reporter: Reporter, parse_pool: ThreadPoolExecutor):
        self.opts = options
        self.site = options.site
        self.writer = writer
        self.hand = hand
        self.batches = batches
        self.reader = reader
        self.control = control
        self.summary = summary
        self.rep = reporter
        self.parse_pool = parse_pool
        self.parsing: set[asyncio.Task[None]] = set()
        self.fallback: ArchiveFallback | None = None  # --archive, once it is open

    async def settle(self) -> None:
        """Wait for the parsing in progress."""
        if self.parsing:
            await asyncio.gather(*list(self.parsing), return_exceptions=True)

    async def run(self, fetcher: Fetcher, discovery: Discovery) -> None:
        """Fetch queued threads one after another; batches are written in the background.

        While a reader holds the file the loop fetches what it has in hand;
        with nothing left in hand it waits, at most ``reader_wait`` seconds
        (then ``HeldByReader``).
        """
        refill: asyncio.Task[WriteResult] | None = None
        writing: asyncio.Task[WriteResult] | None = None
        idle_since: float | None = None  # nothing in hand, and a reader holds the file
        try:
            while not self.control.stopping:
                if self.hand.low() and (refill is None or refill.done()):
                    if refill is not None:
                        refill.result()  # surface a failed batch
                    refill = asyncio.create_task(self.batches.write(take=True))
                q = self.hand.next()
                if q is None:
                    assert refill is not None
                    got = await refill
                    if not got.taken and not self.hand.work:
                        if got.held:
                            idle_since = idle_since or time.monotonic()
                            if time.monotonic() - idle_since >= self.opts.reader_wait:
                                raise self.writer.gave_up(idle_since)
                        elif discovery.done and not self.writer.pending.discovered:
                            break
                        self.control.wake.clear()
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(self.control.wake.wait(), timeout=0.5)
                    continue
                idle_since = None
                try:
                    raw = await self._fetch_thread(fetcher, q)
                except Stopped:
                    self.hand.release([q.url])  # stays queued (a thread page without its JSON: fetched again whole)
                    break
                if isinstance(raw, ThreadOutcome):  # decided without parsing (from the archive)
                    self._hand_over(raw)
                else:
                    task = asyncio.create_task(self._parse(raw))
                    self.parsing.add(task)
                    task.add_done_callback(self.parsing.discard)
                due = len(self.writer.pending.outcomes) >= FLUSH_EVERY \
                    or time.monotonic() - self.writer.last_write > FLUSH_SECONDS
                if due and writing is not None and not writing.done() \
                        and len(self.writer.pending.outcomes) >= 2 * FLUSH_EVERY:
                    # the writer is behind: wait for it rather than pile threads up in memory
                    await asyncio.wait([writing])
                if due and (writing is None or writing.done()):
                    if writing is not None:
                        writing.result()
                    writing = asyncio.create_task(self.batches.write())
        finally:
            for t in (refill, writing):
                if t is not None and not t.done():
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.shield(t)
            self.hand.drop_unfetched()  # taken but not fetched: they stay queued in the database
        for t in (refill, writing):
            if t is not None and t.done() and not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]

    async def _fetch_thread(self, fetcher: Fetcher, q) -> RawThread | ThreadOutcome:
        """One queued thread: from the live site, or from the archive when the site refused thread pages."""
        fallback = self.fallback
        if fallback is not None and fallback.refuses(THREADS):
            self.hand.validators.pop(q.url, None)
            return await fallback.thread(q)
        live = getattr(fetcher, "live", fetcher)
        try:
            raw = await fetch_html(live, q, self.site, self.hand.validators.pop(q.url, (None, None)))
        except ChallengeDetected as exc:
            if fallback is None or not fallback.usable():
                self.hand.release([q.url])
                with contextlib.suppress(HeldByReader):  # unwritten, it stays queued: the same to a rerun
                    await self.reader.call(frontier.mark_blocked, [q.url])
                raise
            fallback.refused_by_site(THREADS, exc)
            return await fallback.thread(q)
        if wants_json(raw):
            try:
                await fetch_json(live, raw)
            except ChallengeDetected as exc:
                if fallback is None or not fallback.usable():
                    await self._parse(raw)  # keep the page in hand (loaded from its HTML alone), then stop
                    raise
                # The live page is kept, loaded from its HTML alone: an archived JSON is never mixed with it.
                fallback.refused_by_site(THREADS, exc)
        return raw

    def _hand_over(self, outcome: ThreadOutcome) -> None:
        self.summary.count_parsed(outcome)
        if outcome.kind == "failed" and outcome.failure is not None:
            self.rep.log("not_archived", f"{outcome.url}: {outcome.failure.message}", level="warning", url=outcome.url)
        self.writer.add(outcome)
        self.batches.show()

    async def _parse(self, raw: RawThread) -> None:
        """Parse one thread in the parse thread and hand the outcome to the writer."""
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(self.parse_pool, outcome_of, raw)
        except Exception as exc:  # a parser bug must not lose the page or stop the run
            outcome = ThreadOutcome(kind="failed", url=raw.url, site=raw.site, origin=raw.origin,
                                    url_title=raw.url_title, signature=raw.signature, queued=True,
                                    failure=Failure("internal", f"internal error while parsing: {exc!r}"))
        self.summary.count_parsed(outcome)
        if outcome.kind == "parse_failed" and outcome.failure is not None:
            self.rep.log("parse_failed", f"not understood, page kept: {outcome.url} ({outcome.failure.kind}: "
                         f"{outcome.failure.message})", level="warning", url=outcome.url)
        if outcome.json_problem:
            self.rep.log("bad_json", f"JSON not used, loaded from the page alone: {outcome.url} "
                         f"({outcome.json_problem})", level="warning", url=outcome.url)
        self.writer.add(outcome)
        self.batches.show()
