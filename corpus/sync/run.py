"""One sync run: the choreography of discovery, fetching, parsing and the writer."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import duckdb

from corpus import db, frontier
from corpus.attachments.sync import AttachmentOptions, sync_attachments
from corpus.derive import rebuild
from corpus.errors import UsageError
from corpus.pipeline import Failure, RawThread, ThreadOutcome, outcome_of
from corpus.progress import Reporter
from corpus.sync.archive import THREADS, ArchiveFallback, FallbackFetcher, removed_slugs_check
from corpus.sync.authorities import load_authorities
from corpus.sync.control import Control
from corpus.sync.discover import Discovery
from corpus.sync.fetching import InHand, fetch_html, fetch_json, wants_json
from corpus.sync.options import SyncOptions
from corpus.sync.record import begin_run, end_run
from corpus.sync.site import open_site
from corpus.sync.summary import SyncSummary
from corpus.writer import BATCH_MEMORY_LIMIT, Writer, WriteResult, out_of_memory, trim_heap
from scraper.archive.wayback import ArchiveUnavailable
from scraper.fetch import ChallengeDetected, Fetcher
from scraper.http import make_client
from scraper.politeness import RateLimiter

FLUSH_EVERY = 25  # threads per batch transaction
FLUSH_SECONDS = 2.0  # ... or this long since the last batch, whichever first
MAX_BYTES = 20 * 1024 * 1024
HTTP_TIMEOUT = 30.0  # seconds without an answer before an attempt counts as timed out
DERIVE_MEMORY_LIMIT = "160MB"  # DuckDB's cap while the derived tables are rebuilt at the end of a run


def run_sync(options: SyncOptions, *, reporter: Reporter | None = None) -> SyncSummary:
    """Collect threads into ``options.db_path``; returns the summary (its ``exit_code`` for the CLI).

    Raises ``UsageError`` (nothing written) for bad options, ``DatabaseLocked``
    when another sync holds the database.  ``reporter`` shows progress and log
    lines; by default nothing is written to the terminal.
    """
    reporter = reporter or Reporter.silent()
    for w in options.warnings:
        reporter.log("rate_capped", w, level="warning")
    with db.SyncLock(options.db_path):
        run = SyncRun(options, reporter)
        if not options.has_targets and not options.fetch_authorities and not options.refresh:
            if not options.db_path.exists() or not run.writer.call(frontier.pending, options.site):
                run.close()
                raise UsageError("nothing to sync: give --authority, --user, --request or --query "
                                 "(the queue of earlier runs is empty)")
        summary = run.execute()
    if summary.message and summary.outcome in ("blocked", "interrupted"):
        reporter.log(summary.outcome, summary.message, level="error" if summary.outcome == "blocked" else "warning")
    return summary


class SyncRun:
    """Opens the site, starts discovery beside the fetch loop, feeds the writer, and records the run."""

    def __init__(self, options: SyncOptions, reporter: Reporter):
        self.opts = options
        self.site = options.site
        self.rep = reporter
        self.summary = SyncSummary(run_id=uuid.uuid4().hex[:12], warnings=list(options.warnings))
        self.writer = Writer(options.db_path, site=options.site, memory_limit=BATCH_MEMORY_LIMIT)
        self.parse_pool = ThreadPoolExecutor(1, thread_name_prefix="corpus-parse")
        self.control = Control()
        self.hand = InHand(options.site, options.limit)
        self.parsing: set[asyncio.Task[None]] = set()
        self.enqueued_new = 0  # URLs new to the frontier this run (for --limit)
        self.started = time.monotonic()
        self.net_started: float | None = None
        self.run_started_at: datetime | None = None  # wall clock, set when the run is recorded
        self.fallback: ArchiveFallback | None = None  # --archive

    def execute(self) -> SyncSummary:
        self.rep.start(f"sync {self.site}")
        # The event loop must wake on time for each request slot even while the parse and
        # database threads run Python: let them hold the GIL for 1 ms at a time rather than 5 ms.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, 0.001))
        try:
            asyncio.run(self._main())
        except KeyboardInterrupt:  # a second Ctrl-C while saving: the last batch committed or rolled back whole
            self.summary.outcome = "interrupted"
        finally:
            sys.setswitchinterval(switch)
            self.rep.stop()
            self.close()
        return self._finish()

    def close(self) -> None:
        self.writer.close()
        self.parse_pool.shutdown(wait=True)

    def _finish(self) -> SyncSummary:
        now = time.monotonic()
        return self.summary.finish(now - self.started, now - (self.net_started or self.started))

    # ------------------------------------------------------------------ the run

    async def _main(self) -> None:
        installed = self._install_signals()
        limiter = RateLimiter(self.opts.rate)
        opts = {"max_bytes": MAX_BYTES, "max_attempts": 5, **self.opts.fetch_options}
        # fetch_options["timeout"] (seconds per response) configures the client, not the Fetcher.
        client = make_client(self.site, self.opts.contact, timeout=float(opts.pop("timeout", HTTP_TIMEOUT)))
        recorded = False
        try:
            async with client:
                self.net_started = time.monotonic()
                await self._open_archive(opts)
                live_fetcher: Fetcher | None = None
                robots_page = None
                if self.opts.source == "site":
                    robots, robots_page = await open_site(client, self.site, limiter, self.rep, self._on_request,
                                                          opts)
                    live_fetcher = Fetcher(client, robots, limiter, site=self.site, on_request=self._on_request,
                                           **opts)
                fetcher = live_fetcher
                if self.fallback is not None:
                    self.fallback.withheld = removed_slugs_check(
                        await self.writer.call_async(_removed_slugs, self.site) if self.opts.db_path.exists() else ())
                    fetcher = FallbackFetcher(live_fetcher, self.fallback,  # type: ignore[assignment]
                                              lambda url: False)
                assert fetcher is not None
                discovery = Discovery(self.opts, fetcher, self.writer, self.summary, self.rep, self.control,
                                      self.parse_pool, self._write, self._discovered_enough)
                # Everything above only read the network; from here on the database is written.
                await discovery.check_targets()
                explicit = await discovery.explicit()
                self.run_started_at, requeued, new = await self.writer.call_async(
                    begin_run, self.opts, self.summary, robots_page, explicit)
                recorded = True
                self.enqueued_new += new
                if requeued:
                    self.rep.log("refresh", f"--refresh: {requeued} known threads queued again")
                if self.opts.fetch_authorities and not self.control.stopping:
                    await load_authorities(fetcher, self.writer, self.site, self.rep)
                producer = asyncio.create_task(discovery.produce())
                try:
                    await self._fetch_loop(fetcher, discovery)
                finally:
                    producer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await producer
                await self._drain()
                if self.control.error is not None:
                    raise self.control.error
                if self.opts.attachments != "none" and not self.control.stopping:
                    if self.fallback is not None:  # removals learnt this run count too
                        self.fallback.withheld = removed_slugs_check(
                            await self.writer.call_async(_removed_slugs, self.site))
                    stats = await sync_attachments(fetcher, self.opts.db_path, self.site,
                                                   AttachmentOptions(mode=self.opts.attachments),
                                                   con_factory=self.writer.transaction)
                    self.summary.attachments = stats.as_dict()
        except ChallengeDetected as exc:
            self.control.block(exc)
            if recorded:
                await self._drain()
        except ArchiveUnavailable as exc:
            if not recorded:
                raise
            self.summary.message = str(exc)
            self.control.fail(exc)
            await self._drain()
        except asyncio.CancelledError:
            self.summary.outcome = "interrupted"
            if recorded:
                with contextlib.suppress(BaseException):
                    await self._drain()
                    await self._end_run()
            return
        except BaseException as exc:
            if recorded:
                self.summary.outcome = "failed"
                self.summary.message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                with contextlib.suppress(Exception):
                    await self._end_run()
            raise
        finally:
            if self.fallback is not None:
                await self.fallback.close()
                self.summary.archive = self.fallback.as_json()
                self.summary.archive_text = self.fallback.describe()
            loop = asyncio.get_running_loop()
            for sig in installed:
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
        self.summary.outcome = "blocked" if self.control.blocked else "interrupted" if self.control.interrupted \
            else "complete"
        if recorded:
            await self._rebuild_derived()
            await self._end_run()
        if self.control.blocked is not None:
            challenge = self.control.blocked
            self.summary.message = (
                f"The site answered {challenge.url} with a bot challenge ({challenge.reason}, HTTP "
                f"{challenge.status}), so the sync "
                f"stopped asking it at once. {self.summary.queued_left} threads remain queued and are kept: "
                "run the same command later to resume, or save the pages from a browser and load them with "
                "`corpus import PATH`."
            )

    async def _open_archive(self, opts: dict) -> None:
        """Open --archive (its robots.txt first).  An archive that cannot be used ends an archive-only run."""
        if self.opts.archive is None:
            return
        fetch_options = {k: v for k, v in opts.items() if k in ("backoff_base", "backoff_max", "max_bytes")}
        fallback = ArchiveFallback(self.opts.archive, site=self.site, contact=self.opts.contact,
                                   rate=self.opts.archive_rate, only=self.opts.source == "archive", reporter=self.rep,
                                   on_request=self._on_request, fetch_options=fetch_options)
        try:
            await fallback.open()
        except ArchiveUnavailable as exc:
            if self.opts.source == "archive":
                raise
            self.rep.log("archive_unavailable", f"{exc}; a bot challenge will stop the sync", level="warning")
            self.summary.warnings.append(str(exc))
            return
        self.fallback = fallback

    def _install_signals(self) -> list[signal.Signals]:
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()
        assert main_task is not None

        def on_signal() -> None:
            if self.control.interrupted:
                main_task.cancel()  # second Ctrl-C: stop waiting, keep what is committed
                return
            self.control.interrupt()
            self.rep.log("interrupt", "Interrupted: finishing the thread in hand and saving; Ctrl-C again to stop "
                         "at once.", level="warning")

        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal)
                installed.append(sig)
        return installed

    def _on_request(self, method: str, url: str, status: int | None) -> None:
        self.summary.requests_made += 1
        self.rep.request_made()

    def _discovered_enough(self) -> bool:
        return self.opts.limit is not None and self.enqueued_new >= self.opts.limit \
            and not self.writer.pending.discovered

    def _show(self) -> None:
        s = self.summary
        done = s.fetched + s.failed + s.removed
        self.rep.show(done, done + s.queued_left, f"discovered {s.discovered} · fetched {s.fetched} · failed "
                      f"{s.failed} · {s.requests_made} requests")

    # ------------------------------------------------------------------ fetching and parsing

    async def _fetch_loop(self, fetcher: Fetcher, discovery: Discovery) -> None:
        """Fetch queued threads one after another; batches are written in the background."""
        refill: asyncio.Task[WriteResult] | None = None
        writing: asyncio.Task[WriteResult] | None = None
        try:
            while not self.control.stopping:
                if self.hand.low() and (refill is None or refill.done()):
                    if refill is not None:
                        refill.result()  # surface a failed batch
                    refill = asyncio.create_task(self._write(take=True))
                q = self.hand.next()
                if q is None:
                    assert refill is not None
                    got = await refill
                    if not got.taken and not self.hand.work:
                        if discovery.done and not self.writer.pending.discovered:
                            break
                        self.control.wake.clear()
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(self.control.wake.wait(), timeout=0.5)
                    continue
                raw = await self._fetch_thread(fetcher, q)
                if isinstance(raw, ThreadOutcome):  # decided without parsing (from the archive)
                    self._hand_over(raw)
                else:
                    task = asyncio.create_task(self._parse(raw))
                    self.parsing.add(task)
                    task.add_done_callback(self.parsing.discard)
                due = len(self.writer.pending.outcomes) >= FLUSH_EVERY \
                    or time.monotonic() - self.writer.last_write > FLUSH_SECONDS
                if due and (writing is None or writing.done()):
                    if writing is not None:
                        writing.result()
                    writing = asyncio.create_task(self._write())
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
                await self.writer.call_async(frontier.mark_blocked, [q.url])
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
        self._show()

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
        self._show()

    # ------------------------------------------------------------------ writing

    async def _write(self, take: bool = False) -> WriteResult:
        """Write everything in hand as one batch; with ``take``, take more queued URLs in the same transaction."""
        result = await self.writer.write_async(self.hand.take() if take else None)
        self.hand.release([o.url for o in result.outcomes])
        self.hand.receive(result)
        self._count(result)
        return result

    def _count(self, result: WriteResult) -> None:
        self.summary.count_written(result)
        self.enqueued_new += result.enqueued_new
        for o in result.isolated:
            self.rep.log("load_error", f"not stored, page kept: {o.url} ({o.failure.message if o.failure else ''})",
                         level="warning", url=o.url)
        reasons = {o.url: o.failure.message for o in result.outcomes if o.failure is not None}
        for url in result.failed_for_good:
            self.rep.log("failed", f"failed for good: {url} ({reasons.get(url)})", level="warning", url=url)
        self._show()

    async def _drain(self) -> None:
        """Wait for parsing in progress, then write everything in hand."""
        if self.parsing:
            await asyncio.gather(*list(self.parsing), return_exceptions=True)
        await self._write()

    # ------------------------------------------------------------------ database jobs (database thread)

    async def _end_run(self) -> None:
        self._finish()
        await self.writer.call_async(end_run, self.site, self.summary)

    def _derive(self, con: duckdb.DuckDBPyConnection) -> None:
        # Only the requests this run touched (and those a new day makes overdue) are rebuilt:
        # the cost follows the run, not the size of the corpus.
        rebuild(con, since=self.run_started_at)

    async def _rebuild_derived(self) -> None:
        """Rebuild the derived tables with DuckDB's memory capped (every thread is read: the cap keeps the
        process from growing with the corpus); uncapped if the cap is too small."""
        trim_heap()
        try:
            await self.writer.call_async(self._derive, memory_limit=DERIVE_MEMORY_LIMIT)
        except Exception as exc:  # threads are committed; derived tables can be rebuilt later
            why = "out of memory" if out_of_memory(exc) else str(exc).splitlines()[0]
            self.rep.log("derive_failed", f"derived tables were not rebuilt ({why}); run `corpus reparse`",
                         level="warning")


def _removed_slugs(con: duckdb.DuckDBPyConnection, site: str) -> list[str]:
    """Requests the live site reported removed or hidden: never looked up in an archive."""
    return [r[0] for r in con.execute(
        "SELECT url_title FROM requests WHERE site = ? AND removed UNION "
        "SELECT url_title FROM frontier WHERE site = ? AND state = 'removed' AND url_title IS NOT NULL",
        [site, site]).fetchall()]
