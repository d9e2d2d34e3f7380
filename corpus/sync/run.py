"""One sync run: the choreography of discovery, fetching, parsing and the writer."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import duckdb

from corpus import db, frontier
from corpus.attachments.sync import AttachmentOptions, sync_attachments
from corpus.errors import HeldByReader, UsageError
from corpus.progress import Reporter
from corpus.sync.archive import ArchiveFallback, FallbackFetcher, removed_slugs_check
from corpus.sync.authorities import load_authorities
from corpus.sync.batches import Batches
from corpus.sync.control import Control
from corpus.sync.derived import DerivedTables
from corpus.sync.discover import Discovery
from corpus.sync.fetching import InHand
from corpus.sync.loop import FetchLoop
from corpus.sync.options import SyncOptions
from corpus.sync.reader import ReaderWait
from corpus.sync.record import begin_run
from corpus.sync.site import open_site
from corpus.sync.summary import SyncSummary
from corpus.writer import BATCH_MEMORY_LIMIT, FinishedRun, Hold, Writer
from scraper.archive.wayback import ArchiveUnavailable
from scraper.errors import Stopped
from scraper.fetch import ChallengeDetected, Fetcher
from scraper.http import make_client
from scraper.politeness import RateLimiter

MAX_BYTES = 20 * 1024 * 1024
HTTP_TIMEOUT = 30.0  # seconds without an answer before an attempt counts as timed out
DERIVE_MEMORY_LIMIT = "96MB"  # DuckDB's cap while the derived tables are rebuilt


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
                             hold=Hold(self.summary.run_id),
                             after_write=lambda con, result: self.derived.with_the_first_batch(con, result))
        self.parse_pool = ThreadPoolExecutor(1, thread_name_prefix="corpus-parse")
        self.control = Control()
        self.hand = InHand(options.site, options.limit)
        self.reader = ReaderWait(self.writer, reporter, options.db_path)
        self.derived = DerivedTables(self.writer, reporter, self.reader, memory_limit=DERIVE_MEMORY_LIMIT)
        self.batches = Batches(options, self.writer, self.hand, self.summary, reporter, self.reader, self.derived,
                               self.control)
        self.loop = FetchLoop(options, self.writer, self.hand, self.batches, self.reader, self.control, self.summary,
                              reporter, self.parse_pool)
        self.limiter: RateLimiter | None = None
        self.fetcher: Fetcher | None = None
        self.started = time.monotonic()
        self.net_started: float | None = None
        self.fallback: ArchiveFallback | None = None  # --archive

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
            self.reader.gave_up(self.summary, exc)
            return self._finish()
        except BaseException:
            self.close()
            raise
        merged = self.writer.take_spool_result()
        if pending:
            if merged is not None:
                self.batches.count_spool(merged)
            return None
        if merged is None:
            self.close()
            raise UsageError("nothing to sync: give --authority, --user, --request or --query "
                             "(the queue of earlier runs is empty)")
        self.batches.count_spool(merged)
        try:
            self.writer.call(self.derived.derive, wait=self.opts.reader_wait)
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
        installed = self.control.install_signals(self._stop_at_once)
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
                        await self.reader.call(_removed_slugs, self.site, wait=self.opts.reader_wait)
                        if self.opts.db_path.exists() else ())
                    fetcher = FallbackFetcher(live_fetcher, self.fallback,  # type: ignore[assignment]
                                              lambda url: False)
                assert fetcher is not None
                discovery = Discovery(self.opts, fetcher, self.writer, self.summary, self.rep, self.control,
                                      self.parse_pool, self.batches.write, self._discovered_enough)
                # Everything above only read the network; from here on the database is written.
                await discovery.check_targets()
                explicit = await discovery.explicit()
                self.derived.run_started_at, requeued, new = await self.reader.call(
                    begin_run, self.opts, self.summary, robots_page, explicit, wait=self.opts.reader_wait)
                recorded = True
                self.batches.enqueued_new += new
                if requeued:
                    self.rep.log("refresh", f"--refresh: {requeued} known threads queued again")
                if self.opts.fetch_authorities and not self.control.stopping:
                    await load_authorities(fetcher, self.writer, self.site, self.rep, wait=self.opts.reader_wait)
                producer = asyncio.create_task(discovery.produce())
                try:
                    await self.loop.run(fetcher, discovery)
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
                            await self.reader.call(_removed_slugs, self.site, wait=self.opts.reader_wait))
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
            self.control.remove_signals(installed)
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
        self.fallback = self.loop.fallback = fallback

    def _stop_at_once(self) -> None:
        """The first Ctrl-C / SIGTERM: end rate-limiter waits (an hour's Crawl-delay), back-off sleeps, transfers
        and an attachment's extraction at once (before the site is open, only the limiter exists: it shares the
        fetcher's switch)."""
        if self.fetcher is not None:
            self.fetcher.stop("interrupted")
        elif self.limiter is not None:
            self.limiter.stop("interrupted")
        if self.fallback is not None:
            self.fallback.stop("interrupted")  # the archive's waits and transfers too
        self.rep.log("interrupt", "Interrupted: saving what is in hand; Ctrl-C again to stop at once.",
                     level="warning")

    def _on_request(self, method: str, url: str, status: int | None) -> None:
        self.summary.requests_made += 1
        self.rep.request_made()

    def _discovered_enough(self) -> bool:
        return self.opts.limit is not None and self.batches.enqueued_new >= self.opts.limit \
            and not self.writer.pending.discovered

    # ------------------------------------------------------------------ the end of a run

    async def _drain(self, wait: float) -> None:
        """Wait for parsing in progress, then write everything in hand (and the spool), waiting up to ``wait``
        seconds for a reader to let go of the file (then ``HeldByReader``)."""
        await self.loop.settle()
        await self.batches.drain(wait)

    async def _held_too_long(self, exc: HeldByReader, recorded: bool) -> None:
        """A reader kept the file past ``reader_wait``: everything in hand goes to the spool, and the run ends."""
        await self.loop.settle()
        self.reader.gave_up(self.summary, exc, "blocked" if self.control.blocked is not None
                            else "interrupted" if self.control.interrupted else "spooled")
        self._finish()
        if recorded:
            self.writer.pending.runs[:] = [FinishedRun(
                self.summary.run_id or "", self.summary.outcome, datetime.now(timezone.utc), self.summary.as_json(),
                rebuild_since=None if self.derived.at_end else self.derived.since())]
        await self.writer.spool_pending_async()
        self.summary.spooled = self.writer.spool.threads()

    async def _close_run(self, *, wait: float, derive: bool = True) -> None:
        """Write what is in hand, bring the derived tables up to date, and record the run's end.

        While a reader holds the file each step waits up to ``wait`` seconds
        (then ``HeldByReader``: the caller spools what is left).
        """
        await self._drain(wait)
        if derive:
            await self.derived.at_the_end(wait=wait)
        self._finish()
        self.writer.finish_run(FinishedRun(self.summary.run_id or "", self.summary.outcome,
                                           datetime.now(timezone.utc), self.summary.as_json()))
        await self._drain(wait)


def _removed_slugs(con: duckdb.DuckDBPyConnection, site: str) -> list[str]:
    """Requests the live site reported removed or hidden: never looked up in an archive."""
    return [r[0] for r in con.execute(
        "SELECT url_title FROM requests WHERE site = ? AND removed UNION "
        "SELECT url_title FROM frontier WHERE site = ? AND state = 'removed' AND url_title IS NOT NULL",
        [site, site]).fetchall()]
