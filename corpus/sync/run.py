"""One sync run: the choreography of discovery, fetching, parsing and the writer."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import duckdb

from corpus import db, frontier
from corpus.attachments.sync import AttachmentOptions, sync_attachments
from corpus.derive import rebuild
from corpus.errors import HeldByReader, UsageError
from corpus.pipeline import Failure, RawThread, ThreadOutcome, outcome_of
from corpus.progress import Reporter
from corpus.sync.archive import THREADS, ArchiveFallback, FallbackFetcher, removed_slugs_check
from corpus.sync.authorities import load_authorities
from corpus.sync.control import Control
from corpus.sync.discover import Discovery
from corpus.sync.fetching import InHand, fetch_html, fetch_json, wants_json
from corpus.sync.options import SyncOptions
from corpus.sync.record import begin_run
from corpus.sync.site import open_site
from corpus.sync.summary import SyncSummary
from corpus.writer import (
    BATCH_MEMORY_LIMIT,
    POLL_SECONDS,
    FinishedRun,
    Hold,
    Writer,
    WriteResult,
    out_of_memory,
    trim_heap,
)
from scraper.archive.wayback import ArchiveUnavailable
from scraper.errors import Stopped
from scraper.fetch import ChallengeDetected, Fetcher
from scraper.http import make_client
from scraper.politeness import RateLimiter

FLUSH_EVERY = 25  # threads per batch transaction (while one is written, fetching goes on up to twice as many)
FLUSH_SECONDS = 2.0  # ... or this long since the last batch, whichever first
MAX_BYTES = 20 * 1024 * 1024
HTTP_TIMEOUT = 30.0  # seconds without an answer before an attempt counts as timed out
DERIVE_MEMORY_LIMIT = "160MB"  # DuckDB's cap while the derived tables are rebuilt
DERIVE_EVERY = 600.0  # seconds: a long sync brings the derived tables up to date this often (and at its end)
DERIVE_CHUNK = 1000  # requests rebuilt at a time: the rebuild's memory does not grow with the run
HELD_NOTICE_EVERY = 60.0  # seconds between "still waiting" lines while a reader keeps the file


class _WithoutPandas:
    """An import finder that says pandas is not installed (see :func:`leave_pandas_out`)."""

    def find_spec(self, name: str, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (left out of this process)", name=name)
        return None


def leave_pandas_out() -> None:
    """For a process that does nothing but sync (the command line): keep pandas from being imported.

    pyarrow imports pandas, when it is installed, on its first conversion of
    Python values, and that costs about 75 MB of memory; a sync never uses it.
    So it is made to look absent, unless something has imported it already.
    Not for library use: a notebook may want pandas later.
    """
    if "pandas" not in sys.modules and not any(isinstance(f, _WithoutPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _WithoutPandas())


def run_sync(options: SyncOptions, *, reporter: Reporter | None = None) -> SyncSummary:
    """Collect threads into ``options.db_path``; returns the summary (its ``exit_code`` for the CLI).

    Raises ``UsageError`` (nothing written) for bad options, ``DatabaseLocked``
    when another sync holds the database, ``SpoolRefused`` when the spool beside
    the database belongs to another database.  ``reporter`` shows progress and
    log lines; by default nothing is written to the terminal.
    """
    reporter = reporter or Reporter.silent()
    for w in options.warnings:
        reporter.log("rate_capped", w, level="warning")
    with db.SyncLock(options.db_path):
        run = SyncRun(options, reporter)
        if not options.has_targets and not options.fetch_authorities and not options.refresh:
            summary = run.without_targets()
            if summary is not None:
                return summary
        summary = run.execute()
    if summary.message and summary.outcome in ("blocked", "interrupted", "spooled"):
        reporter.log(summary.outcome, summary.message, level="error" if summary.outcome == "blocked" else "warning")
    return summary


class SyncRun:
    """Opens the site, starts discovery beside the fetch loop, feeds the writer, and records the run."""

    def __init__(self, options: SyncOptions, reporter: Reporter):
        self.opts = options
        self.site = options.site
        self.rep = reporter
        self.summary = SyncSummary(run_id=uuid.uuid4().hex[:12], warnings=list(options.warnings))
        assert self.summary.run_id is not None
        self.writer = Writer(options.db_path, site=options.site, memory_limit=BATCH_MEMORY_LIMIT,
                             hold=Hold(self.summary.run_id), after_write=self._derived_from_the_first_batch)
        self.parse_pool = ThreadPoolExecutor(1, thread_name_prefix="corpus-parse")
        self.control = Control()
        self.hand = InHand(options.site, options.limit)
        self.parsing: set[asyncio.Task[None]] = set()
        self.limiter: RateLimiter | None = None
        self.fetcher: Fetcher | None = None
        self.enqueued_new = 0  # URLs new to the frontier this run (for --limit)
        self.started = time.monotonic()
        self.net_started: float | None = None
        self.run_started_at: datetime | None = None  # wall clock, set when the run is recorded
        self.derived: bool | None = None  # whether the derived tables exist (None: not looked yet)
        self.last_derive = time.monotonic()
        self.held_notice: float | None = None  # when the last "waiting for a reader" line was written
        self.derived_at_end = False
        self.fallback: ArchiveFallback | None = None  # --archive
        self.written = 0  # thread outcomes written this run
        self.total = 0  # threads of this run: written + queued, as of the last batch (the bar's stable total)

    # ------------------------------------------------------------------ entry points

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

    def without_targets(self) -> SyncSummary | None:
        """``corpus sync`` with no targets: the queue of earlier runs, after the spool is written.

        Returns the summary when there is nothing to fetch but the spool was
        written, None when queued threads remain (the run goes on as usual);
        raises ``UsageError`` when there is nothing at all to do.
        """
        if not self.opts.db_path.exists() and not self.writer.spool.files():
            self.close()
            raise UsageError("nothing to sync: give --authority, --user, --request or --query "
                             "(the queue of earlier runs is empty)")
        try:
            pending = self.writer.call(frontier.pending, self.site, wait=self.opts.reader_wait)
        except HeldByReader as exc:
            self.close()
            return self._gave_up_before_starting(exc)
        except BaseException:
            self.close()
            raise
        merged = self.writer.take_spool_result()
        if pending:
            if merged is not None:
                self._count_spool(merged)
            return None
        if merged is None:
            self.close()
            raise UsageError("nothing to sync: give --authority, --user, --request or --query "
                             "(the queue of earlier runs is empty)")
        self._count_spool(merged)
        try:
            self.writer.call(self._derive, wait=self.opts.reader_wait)
        except Exception as exc:  # the threads are written; the derived tables can be rebuilt later
            self.rep.log("derive_failed", f"derived tables were not rebuilt ({str(exc).splitlines()[0]}); "
                         "run `corpus reparse`", level="warning")
        finally:
            self.close()
        self.summary.message = "Nothing was queued; the threads held in the spool by an earlier run are written."
        return self._finish()

    def close(self) -> None:
        self.writer.close()
        self.parse_pool.shutdown(wait=True)

    def _finish(self) -> SyncSummary:
        now = time.monotonic()
        return self.summary.finish(now - self.started, now - (self.net_started or self.started))

    # ------------------------------------------------------------------ the run

    async def _main(self) -> None:
        self.limiter = RateLimiter(self.opts.rate)
        installed = self._install_signals()
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
                    robots, robots_page = await open_site(client, self.site, self.limiter, self.rep,
                                                          self._on_request, opts)
                    live_fetcher = self.fetcher = Fetcher(client, robots, self.limiter, site=self.site,
                                                          on_request=self._on_request, **opts)
                fetcher = live_fetcher
                if self.fallback is not None:
                    self.fallback.withheld = removed_slugs_check(
                        await self._call(_removed_slugs, self.site, wait=self.opts.reader_wait)
                        if self.opts.db_path.exists() else ())
                    fetcher = FallbackFetcher(live_fetcher, self.fallback,  # type: ignore[assignment]
                                              lambda url: False)
                assert fetcher is not None
                discovery = Discovery(self.opts, fetcher, self.writer, self.summary, self.rep, self.control,
                                      self.parse_pool, self._write, self._discovered_enough)
                # Everything above only read the network; from here on the database is written.
                await discovery.check_targets()
                explicit = await discovery.explicit()
                self.run_started_at, requeued, new = await self._call(
                    begin_run, self.opts, self.summary, robots_page, explicit, wait=self.opts.reader_wait)
                recorded = True
                self.enqueued_new += new
                if requeued:
                    self.rep.log("refresh", f"--refresh: {requeued} known threads queued again")
                if self.opts.fetch_authorities and not self.control.stopping:
                    await load_authorities(fetcher, self.writer, self.site, self.rep, wait=self.opts.reader_wait)
                producer = asyncio.create_task(discovery.produce())
                try:
                    await self._fetch_loop(fetcher, discovery)
                finally:
                    producer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await producer
                if self.control.error is not None:
                    raise self.control.error
                # once interrupted, a reader holding the file is not waited for: what is in hand goes to the spool
                await self._drain(0.0 if self.control.interrupted else self.opts.reader_wait)
                if self.opts.attachments != "none" and not self.control.stopping:
                    if self.fallback is not None:  # removals learnt this run count too
                        self.fallback.withheld = removed_slugs_check(
                            await self._call(_removed_slugs, self.site, wait=self.opts.reader_wait))
                    stats = await sync_attachments(
                        fetcher, self.opts.db_path, self.site, AttachmentOptions(mode=self.opts.attachments),
                        con_factory=functools.partial(self.writer.transaction_when_free, self.opts.reader_wait))
                    self.summary.attachments = stats.as_dict()
        except ChallengeDetected as exc:
            self.control.block(exc)
        except Stopped:
            self.control.interrupt()  # the first Ctrl-C / SIGTERM cancelled a wait or a transfer
        except ArchiveUnavailable as exc:
            if not recorded:
                raise
            self.summary.message = str(exc)
            self.control.fail(exc)  # what is in hand is written, and the run recorded, below
        except HeldByReader as exc:
            await self._held_too_long(exc, recorded)
            return
        except asyncio.CancelledError:  # the second Ctrl-C: what is in hand is written once, or spooled
            self.summary.outcome = "interrupted"
            if recorded:
                with contextlib.suppress(BaseException):
                    await self._close_run(wait=0.0, derive=False)
            return
        except BaseException as exc:
            if recorded:
                self.summary.outcome = "failed"
                self.summary.message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                with contextlib.suppress(Exception):
                    await self._close_run(wait=0.0, derive=False)
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
            try:
                await self._close_run(wait=0.0 if self.control.interrupted else self.opts.reader_wait)
            except HeldByReader as exc:
                await self._held_too_long(exc, recorded)
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
            # ends rate-limiter waits (an hour's Crawl-delay), back-off sleeps, transfers and an attachment's
            # extraction at once (before the site is open, only the limiter exists: it shares the fetcher's switch)
            if self.fetcher is not None:
                self.fetcher.stop("interrupted")
            elif self.limiter is not None:
                self.limiter.stop("interrupted")
            if self.fallback is not None:
                self.fallback.stop("interrupted")  # the archive's waits and transfers too
            self.rep.log("interrupt", "Interrupted: saving what is in hand; Ctrl-C again to stop at once.",
                         level="warning")

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
        # The total moves only when a batch says how many are queued (it grows as discovery finds more),
        # not with every thread done, so the ETA holds still.
        self.rep.show(done, max(self.total, done) or None, f"discovered {s.discovered} · fetched {s.fetched} · failed "
                      f"{s.failed} · {s.requests_made} requests")

    # ------------------------------------------------------------------ fetching and parsing

    async def _fetch_loop(self, fetcher: Fetcher, discovery: Discovery) -> None:
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
                    refill = asyncio.create_task(self._write(take=True))
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
                with contextlib.suppress(HeldByReader):  # unwritten, it stays queued: the same to a rerun
                    await self._call(frontier.mark_blocked, [q.url])
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
        if result.held:
            self._say_held()
            return result
        self._say_free()
        if result.spool is not None:
            self._count_spool(result.spool)
        self.hand.release([o.url for o in result.outcomes])
        self.hand.receive(result)
        self._count(result)
        if result.outcomes and self.derived and time.monotonic() - self.last_derive >= DERIVE_EVERY:
            with contextlib.suppress(HeldByReader):  # a reader came back in between: the next batch tries again
                await self._rebuild_derived(wait=0.0)
        return result

    def _count(self, result: WriteResult) -> None:
        self.summary.count_written(result)
        self.enqueued_new += result.enqueued_new
        self.written += len(result.outcomes)
        if result.pending is not None:
            self.total = self.written + result.pending
            if self.opts.limit is not None:  # queued threads beyond --limit wait for a later run
                self.total = min(self.total, max(self.written, self.opts.limit))
        for o in result.isolated:
            self.rep.log("load_error", f"not stored, page kept: {o.url} ({o.failure.message if o.failure else ''})",
                         level="warning", url=o.url)
        reasons = {o.url: o.failure.message for o in result.outcomes if o.failure is not None}
        for url in result.failed_for_good:
            self.rep.log("failed", f"failed for good: {url} ({reasons.get(url)})", level="warning", url=url)
        self._show()

    def _count_spool(self, result: WriteResult) -> None:
        """Threads written from the spool: held by this run while a reader had the file, or left by an earlier run."""
        self.hand.release([o.url for o in result.outcomes])
        self._count(result)
        self.summary.from_spool += len(result.outcomes)
        self.rep.log("spool_written", f"wrote {len(result.outcomes)} threads held in "
                     f"{self.writer.spool.path.name}/", url=str(self.writer.spool.path))

    async def _call(self, fn, *args, wait: float = 0.0, **kwargs):
        """A database job that must be done now; while a reader holds the file, waits up to ``wait`` seconds."""
        started_held = self.writer.held
        try:
            return await self.writer.call_async(fn, *args, wait=wait, **kwargs)
        finally:
            if self.writer.held:
                self._say_held()
            elif started_held:
                self._say_free()

    async def _drain(self, wait: float) -> None:
        """Wait for parsing in progress, then write everything in hand (and the spool).

        While a reader holds the file this tries again for up to ``wait``
        seconds, then raises ``HeldByReader``.
        """
        if self.parsing:
            await asyncio.gather(*list(self.parsing), return_exceptions=True)
        started = time.monotonic()
        while True:
            result = await self._write()
            if not result.held and not self.writer.pending and not self.writer.spool.files():
                return
            if result.held and (self.control.interrupted or time.monotonic() - started >= wait):
                raise self.writer.gave_up(started)  # (a first Ctrl-C or SIGTERM ends this wait too)
            await asyncio.sleep(POLL_SECONDS if result.held else 0)

    # ------------------------------------------------------------------ a reader holds the file

    def _say_held(self) -> None:
        now = time.monotonic()
        if self.held_notice is not None and now - self.held_notice < HELD_NOTICE_EVERY:
            return
        first = self.held_notice is None
        self.held_notice = now
        pid = self.writer.held_by
        who = f"PID {pid}" if pid else "another process"
        memory, spooled = len(self.writer.pending.outcomes), self.writer.spooled
        if first:
            self.rep.log("waiting_for_reader", f"waiting for {who} (a reader) to close {self.opts.db_path.name}: "
                         "fetching goes on, and finished threads are held until the file is free "
                         f"({memory} in memory, {spooled} in {self.writer.spool.path.name}/)", level="warning",
                         pid=pid)
        else:
            self.rep.log("waiting_for_reader", f"still waiting for {who} (a reader) to close "
                         f"{self.opts.db_path.name} after {self.writer.held_for():.0f} s: {memory} threads held in "
                         f"memory, {spooled} in {self.writer.spool.path.name}/", level="warning", pid=pid)

    def _say_free(self) -> None:
        if self.held_notice is None:
            return
        self.held_notice = None
        self.rep.log("reader_gone", f"{self.opts.db_path.name} is free again: writing what was held",
                     level="warning")

    async def _held_too_long(self, exc: HeldByReader, recorded: bool) -> None:
        """A reader kept the file past ``reader_wait``: everything in hand goes to the spool, and the run ends."""
        if self.parsing:
            await asyncio.gather(*list(self.parsing), return_exceptions=True)
        if self.control.blocked is not None:
            self.summary.outcome = "blocked"
        elif self.control.interrupted:
            self.summary.outcome = "interrupted"
        else:
            self.summary.outcome = "spooled"
        self.summary.held_by = exc.pid
        self.summary.reader_wait = exc.waited
        self.summary.spool_path = str(self.writer.spool.path)
        self.summary.spooled = self.writer.spool.threads() + len(self.writer.pending.outcomes)
        self._finish()
        if recorded:
            self.writer.pending.runs[:] = [FinishedRun(
                self.summary.run_id or "", self.summary.outcome, datetime.now(timezone.utc), self.summary.as_json(),
                rebuild_since=None if self.derived_at_end else self._derive_since())]
        await self.writer.spool_pending_async()
        self.summary.spooled = self.writer.spool.threads()

    def _gave_up_before_starting(self, exc: HeldByReader) -> SyncSummary:
        self.summary.outcome = "spooled"
        self.summary.spooled = self.writer.spool.threads()
        self.summary.held_by = exc.pid
        self.summary.reader_wait = exc.waited
        self.summary.spool_path = str(self.writer.spool.path)
        return self._finish()

    # ------------------------------------------------------------------ the end of a run, derived tables

    async def _close_run(self, *, wait: float, derive: bool = True) -> None:
        """Write what is in hand, bring the derived tables up to date, and record the run's end.

        While a reader holds the file each step waits up to ``wait`` seconds
        (then ``HeldByReader``: the caller spools what is left).
        """
        await self._drain(wait)
        if derive:
            await self._rebuild_derived(wait=wait)
            self.derived_at_end = True
        self._finish()
        self.writer.finish_run(FinishedRun(self.summary.run_id or "", self.summary.outcome,
                                           datetime.now(timezone.utc), self.summary.as_json()))
        await self._drain(wait)

    def _derive_since(self) -> datetime | None:
        """Threads written by this run were fetched after it started; those from an earlier run's spool, earlier."""
        times = [t for t in (self.run_started_at, self.writer.merged_since) if t is not None]
        return min(times) if times else None

    def _derive(self, con: duckdb.DuckDBPyConnection) -> None:
        # Only the requests this run touched (and those a new day makes overdue) are rebuilt:
        # the cost follows the run, not the size of the corpus.
        rebuild(con, since=self._derive_since(), chunk=DERIVE_CHUNK, progress=self.rep.progress)
        self.last_derive = time.monotonic()

    def _derived_from_the_first_batch(self, con: duckdb.DuckDBPyConnection, result: WriteResult) -> None:
        """Inside the first batch's transaction: create the derived tables if the file has none yet.

        So a first sync's readers can query them from its first batch on (they
        cover what is written, and are brought up to date every
        ``DERIVE_EVERY`` seconds and at the end).  Tried once per run.
        """
        if self.derived is not None or not result.outcomes:
            return
        if db.table_exists(con, "request_timeline") and db.table_exists(con, "refusal_citations"):
            self.derived = True
            return
        try:
            self._derive(con)
        except BaseException as exc:
            if not out_of_memory(exc):  # (out of memory: the batch is written again uncapped, and this with it)
                self.derived = False  # the batch is written without it; the end of the run tries again
                self.rep.log("derive_failed", "the derived tables could not be created with the first batch "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); the end of the "
                             "run builds them", level="warning")
            raise
        self.derived = True

    async def _rebuild_derived(self, *, wait: float) -> None:
        """Rebuild the derived tables with DuckDB's memory capped (every thread is read: the cap keeps the
        process from growing with the corpus); uncapped if the cap is too small."""
        trim_heap()
        try:
            await self._call(self._derive, memory_limit=DERIVE_MEMORY_LIMIT, wait=wait)
        except HeldByReader:
            raise
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
