"""``corpus sync``: politely collect request threads from an Alaveteli site.

How a run goes:

1. Check the options (nothing is written if they are wrong), then take the
   database's sync lock for the whole run.
2. Fetch ``/robots.txt`` (stored as a page), honour its rules and Crawl-delay,
   and check the site looks like Alaveteli.
3. A *producer* walks the listings of each ``--authority`` / ``--user`` /
   ``--query`` and offers every request it finds to the frontier; explicit
   ``--request`` values go straight in.  Items whose listing signature has not
   changed since they were fetched are not queued again.
4. A *fetch loop* takes queued threads and GETs ``/request/<slug>`` (conditional
   on the stored ETag) and ``/request/<slug>.json``, one request at a time at
   the allowed rate.  Parsing runs in a worker thread while the next request
   waits for its slot.
5. Every few threads a *batch* is written in one transaction: raw pages,
   parsed threads, frontier states, parse failures and new discoveries.  The
   database is opened only for the batch, so readers can use it in between,
   and a crash never leaves half a thread.

A bot challenge stops the run at once (exit 3); Ctrl-C stops it cleanly
(exit 130); either way the queue is kept and the same command resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import signal
import sys
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from corpus import DEFAULT_SITE, db, frontier, pagestore
from corpus.attachments.sync import AttachmentOptions, sync_attachments
from corpus.errors import (
    EXIT_BLOCKED,
    EXIT_FAILURES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CorpusError,
    UsageError,
)
from corpus.frontier import FrontierItem, QueuedUrl
from corpus.progress import Reporter

FLUSH_EVERY = 25  # threads per batch transaction
FLUSH_SECONDS = 2.0  # ... or this long since the last batch, whichever first
TAKE_SIZE = 100  # queued URLs taken from the frontier at a time
MAX_BYTES = 20 * 1024 * 1024
HTTP_TIMEOUT = 30.0  # seconds without an answer before an attempt counts as timed out
BATCH_MEMORY_LIMIT = "64MB"  # DuckDB's cap while a batch is written (and checkpointed on close)
DERIVE_MEMORY_LIMIT = "160MB"  # DuckDB's cap while the derived tables are rebuilt at the end of a run


def _out_of_memory(exc: BaseException | None) -> bool:
    """Whether DuckDB ran out of memory somewhere in this exception's chain (clean-up errors can mask it)."""
    import duckdb

    while exc is not None:
        if isinstance(exc, duckdb.OutOfMemoryException):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


_LIBC = None  # glibc, when present (for malloc_trim)


def _trim_heap(collect: bool = True) -> None:
    """Hand freed heap pages back to the system (glibc only; a no-op elsewhere), after a garbage collection."""
    import ctypes
    import gc

    global _LIBC
    if collect:
        gc.collect()
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 (raises AttributeError off glibc)
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


# ============================================================================ summary


@dataclass
class SyncSummary:
    discovered: int = 0  # request URLs seen in listings or given with --request
    fetched: int = 0  # threads fetched with an answer (200 or 304)
    new_threads: int = 0
    updated_threads: int = 0
    unchanged: int = 0  # fetched but identical (304, or same content)
    failed: int = 0  # URLs that failed for good this run
    parse_failures: int = 0  # pages kept but not understood (see parse_failures)
    removed: int = 0  # 404/410/403-hidden: flagged removed, rows kept
    json_missing: int = 0  # threads loaded from their HTML alone
    new_messages: int = 0
    new_annotations: int = 0
    requests_made: int = 0
    elapsed: float = 0.0
    rate_achieved: float = 0.0
    queued_left: int = 0
    outcome: str = "complete"  # complete | interrupted | blocked | failed
    exit_code: int = EXIT_OK
    message: str | None = None
    warnings: list[str] = field(default_factory=list)
    run_id: str | None = None
    attachments: dict | None = None  # figures of the --attachments step, when it ran

    def describe(self) -> str:
        """One paragraph for people."""
        head = {
            "complete": "Sync complete.",
            "interrupted": "Sync interrupted; state saved.",
            "blocked": "Sync stopped: the site challenged us as a bot.",
            "failed": "Sync failed.",
        }.get(self.outcome, f"Sync {self.outcome}.")
        parts = [
            head,
            f"{self.discovered} threads discovered, {self.fetched} fetched "
            f"({self.new_threads} new, {self.updated_threads} updated, {self.unchanged} unchanged), "
            f"{self.new_messages} new messages, {self.new_annotations} new annotations;",
            f"{self.failed} failed, {self.parse_failures} not understood (pages kept), "
            f"{self.removed} removed from the site, {self.json_missing} without JSON.",
            f"{self.requests_made} requests in {self.elapsed:.1f} s ({self.rate_achieved:.2f} req/s).",
        ]
        if self.queued_left:
            parts.append(f"{self.queued_left} threads remain queued; run the same command again to resume.")
        if self.failed or self.parse_failures:
            parts.append("`corpus status` lists what failed.")
        if self.message:
            parts.append(self.message)
        return " ".join(parts)

    def as_json(self) -> dict:
        data = asdict(self)
        data["elapsed"] = round(self.elapsed, 3)
        data["rate_achieved"] = round(self.rate_achieved, 3)
        return data


# ============================================================================ options


@dataclass
class _Plan:
    db_path: Path
    site: str
    authorities: list[str]
    users: list[str]
    slugs: list[str]
    ids: list[int]
    query: str | None
    since: date | None
    until: date | None
    limit: int | None
    rate: float
    contact: str | None
    refresh: bool
    fetch_authorities: bool
    attachments: str
    attachments_hook: Any
    warnings: list[str]
    fetch_options: dict

    @property
    def has_targets(self) -> bool:
        return bool(self.authorities or self.users or self.slugs or self.ids or self.query)

    def command_line(self) -> str:
        """The command, for sync_runs (never the contact address)."""
        words = ["corpus", "sync", "--site", self.site]
        for a in self.authorities:
            words += ["--authority", a]
        for u in self.users:
            words += ["--user", u]
        for s in self.slugs:
            words += ["--request", s]
        for i in self.ids:
            words += ["--request", str(i)]
        if self.query:
            words += ["--query", self.query]
        if self.since:
            words += ["--since", self.since.isoformat()]
        if self.until:
            words += ["--until", self.until.isoformat()]
        if self.limit:
            words += ["--limit", str(self.limit)]
        words += ["--rate", f"{self.rate:g}"]
        if self.refresh:
            words.append("--refresh")
        if self.fetch_authorities:
            words.append("--authorities")
        if self.attachments != "none":
            words += ["--attachments", self.attachments]
        return " ".join(words)


def _clean_slugs(values, what: str) -> list[str]:
    out = []
    for v in values or ():
        v = str(v).strip().strip("/")
        if not v or "/" in v or "?" in v or "#" in v or " " in v:
            raise UsageError(f"{what} {v!r} is not a slug; give the name from the site's URL, e.g. /{what.lstrip('-')}/<slug>")
        out.append(v)
    return list(dict.fromkeys(out))


def _attachments_hook(mode: str) -> AttachmentOptions | None:
    if mode in (None, "none"):
        return None
    return AttachmentOptions(mode=mode)


def _env_float(name: str) -> float | None:
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"${name}={value!r} is not a number; unset it or give seconds, e.g. 0.01")


def _plan(
    *, db_path, site, authorities, users, requests, query, since, until, limit, rate, contact, refresh,
    fetch_authorities, attachments, fetch_options,
) -> _Plan:
    from scraper.http import user_agent
    from scraper.politeness import effective_rate
    from scraper.urls import is_local_site, normalise_site, request_ref

    site = normalise_site(site or DEFAULT_SITE)
    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}; swap them or drop one")
    if limit is not None and limit < 1:
        raise UsageError(f"--limit {limit} must be at least 1")
    rate, warning = effective_rate(site, rate)
    warnings = [warning] if warning else []
    contact = (contact or "").strip() or None
    if not is_local_site(site) and not contact:
        raise UsageError(
            f"syncing {site} needs a contact address for the User-Agent, so the site can reach you: "
            "pass --contact you@example.org or set CORPUS_CONTACT"
        )
    user_agent(contact)  # validates the contact
    slugs, ids = [], []
    for ref in requests or ():
        slug, rid = request_ref(site, ref)
        if slug:
            slugs.append(slug)
        elif rid is not None:
            ids.append(rid)
    query = (query or "").strip() or None
    options = dict(fetch_options or {})
    backoff = _env_float("CORPUS_BACKOFF_BASE")
    if backoff is not None:
        options.setdefault("backoff_base", backoff)
    return _Plan(
        db_path=Path(db_path),
        site=site,
        authorities=_clean_slugs(authorities, "--authority"),
        users=_clean_slugs(users, "--user"),
        slugs=list(dict.fromkeys(slugs)),
        ids=list(dict.fromkeys(ids)),
        query=query,
        since=since,
        until=until,
        limit=limit,
        rate=rate,
        contact=contact,
        refresh=bool(refresh),
        fetch_authorities=bool(fetch_authorities),
        attachments=attachments or "none",
        attachments_hook=_attachments_hook(attachments or "none"),
        warnings=warnings,
        fetch_options=options,
    )


# ============================================================================ entry point


def run_sync(
    *,
    db_path: str | Path,
    site: str = DEFAULT_SITE,
    authorities=(),
    users=(),
    requests=(),
    query: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int | None = None,
    rate: float = 0.5,
    contact: str | None = None,
    refresh: bool = False,
    fetch_authorities: bool = False,
    attachments: str = "none",
    quiet: bool = False,
    log_format: str = "text",
    fetch_options: dict | None = None,
    reporter: Reporter | None = None,
) -> SyncSummary:
    """Collect threads into ``db_path``; returns the summary (its ``exit_code`` for the CLI).

    Raises ``UsageError`` (nothing written) for bad options, ``DatabaseLocked``
    when another sync holds the database.  ``fetch_options`` are passed to
    ``scraper.fetch.Fetcher`` (e.g. ``backoff_base``, ``max_attempts``).
    """
    plan = _plan(
        db_path=db_path, site=site, authorities=authorities, users=users, requests=requests, query=query,
        since=since, until=until, limit=limit, rate=rate, contact=contact, refresh=refresh,
        fetch_authorities=fetch_authorities, attachments=attachments, fetch_options=fetch_options,
    )
    reporter = reporter or Reporter(quiet=quiet, log_format=log_format)
    for w in plan.warnings:
        reporter.log("rate_capped", w, level="warning")
    with db.SyncLock(plan.db_path):
        if not plan.has_targets and not plan.fetch_authorities:
            queued = _queued_in_db(plan)
            if not queued and not plan.refresh:
                raise UsageError(
                    "nothing to sync: give --authority, --user, --request or --query "
                    "(the queue of earlier runs is empty)"
                )
        run = _SyncRun(plan, reporter)
        summary = run.execute()
    if summary.outcome != "failed" or summary.message is None:
        print(summary.describe(), flush=True)
    if summary.message and summary.outcome in ("blocked", "interrupted"):
        reporter.log(summary.outcome, summary.message, level="error" if summary.outcome == "blocked" else "warning")
    return summary


def _queued_in_db(plan: _Plan) -> int:
    if not plan.db_path.exists():
        return 0
    with db.batch(plan.db_path) as con:
        return frontier.pending(con, plan.site)


# ============================================================================ the run


@dataclass
class _Fetched:
    """One thread after its fetches, before parsing."""

    q: QueuedUrl
    html: Any = None  # FetchResult
    json: Any = None  # FetchResult | None
    error: str | None = None


@dataclass
class _Outcome:
    """One thread after parsing: what the next batch writes for it."""

    url: str
    url_title: str | None
    signature: str | None
    kind: str  # loaded | unchanged | removed | failed | parse_failed
    pages: list = field(default_factory=list)
    load_item: Any = None
    error: str | None = None
    failure: tuple | None = None  # (kind, message, sha)
    json_missing: bool = False
    known: bool = False


class _Interrupted(Exception):
    pass


class _SyncRun:
    def __init__(self, plan: _Plan, reporter: Reporter):
        self.plan = plan
        self.site = plan.site
        self.rep = reporter
        self.summary = SyncSummary(run_id=uuid.uuid4().hex[:12], warnings=list(plan.warnings))
        self.db_exec = ThreadPoolExecutor(1, thread_name_prefix="corpus-db")
        self.cpu_exec = ThreadPoolExecutor(1, thread_name_prefix="corpus-parse")
        # state shared by the tasks (all touched from the event loop only)
        self.pending_items: list[FrontierItem] = []
        self.pending_pages: list = []
        self.outcomes: list[_Outcome] = []
        self.work: deque[QueuedUrl] = deque()
        self.claimed: set[str] = set()  # taken from the frontier, not yet written back
        self.validators: dict[str, tuple] = {}
        self.process_tasks: set[asyncio.Task] = set()
        self.new_fetched = 0
        self.enqueued_new = 0
        self.blocked_exc = None
        self.stopping = False
        self.interrupted = False
        self.started = time.monotonic()
        self.run_started_at: datetime | None = None  # wall clock, set when the run is recorded
        self.net_started: float | None = None
        self.last_flush = time.monotonic()
        self.flush_lock: asyncio.Lock | None = None
        self.wake: asyncio.Event | None = None
        self.producer_done = False
        self.producer_error: BaseException | None = None
        self.listing_cache: dict[str, Any] = {}  # first listing pages read before anything is written
        self.finished_walks: dict | None = None  # listing walks finished by earlier runs
        self.pending_walks: list[tuple] = []  # (target, started_at, pages, stopped_early) of walks read to the end

    # ------------------------------------------------------------------ top level

    def execute(self) -> SyncSummary:
        self.rep.start(f"sync {self.site}")
        # The event loop must wake on time for each request slot even while the
        # parse and database threads run Python: let them hold the GIL for 1 ms
        # at a time rather than 5 ms.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, 0.001))
        try:
            asyncio.run(self._main())
        except KeyboardInterrupt:
            # A second Ctrl-C while saving: the last batch either committed or rolled back whole.
            self.interrupted = True
            self.summary.outcome = "interrupted"
        finally:
            sys.setswitchinterval(switch)
            self.rep.stop()
            self.db_exec.shutdown(wait=True)
            self.cpu_exec.shutdown(wait=True)
        return self._finish_summary()

    def _finish_summary(self) -> SyncSummary:
        s = self.summary
        s.elapsed = time.monotonic() - self.started
        net = time.monotonic() - (self.net_started or self.started)
        s.rate_achieved = s.requests_made / net if net > 0 else 0.0
        if s.outcome == "blocked":
            s.exit_code = EXIT_BLOCKED
        elif s.outcome == "interrupted":
            s.exit_code = EXIT_INTERRUPTED
            if not s.message:
                s.message = "Interrupted: everything fetched so far is saved; run the same command again to resume."
        elif s.failed or s.parse_failures:
            s.exit_code = EXIT_FAILURES
        else:
            s.exit_code = EXIT_OK
        return s

    async def _main(self) -> None:
        from scraper.fetch import ChallengeDetected, Fetcher
        from scraper.http import make_client
        from scraper.politeness import RateLimiter

        loop = asyncio.get_running_loop()
        self.flush_lock = asyncio.Lock()
        self.wake = asyncio.Event()
        main_task = asyncio.current_task()

        def on_signal():
            if self.interrupted:
                main_task.cancel()  # second Ctrl-C: stop waiting, keep what is committed
                return
            self.interrupted = True
            self.stopping = True
            self.wake.set()
            self.rep.log("interrupt", "Interrupted: finishing the thread in hand and saving; Ctrl-C again to stop at once.",
                         level="warning")

        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal)
                installed.append(sig)

        limiter = RateLimiter(self.plan.rate)
        opts = {"max_bytes": MAX_BYTES, "max_attempts": 5}
        opts.update(self.plan.fetch_options)
        # fetch_options["timeout"] (seconds per response) configures the client, not the Fetcher.
        client = make_client(self.site, self.plan.contact, timeout=float(opts.pop("timeout", HTTP_TIMEOUT)))
        run_recorded = False
        try:
            async with client:
                self.net_started = time.monotonic()
                robots, robots_page = await self._robots(client, limiter, opts)
                self.fetcher = Fetcher(
                    client, robots, limiter, site=self.site, on_request=self._on_request, **opts
                )
                # Everything above only read the network; from here on the database is written.
                await self._check_targets()
                explicit = await self._resolve_ids()
                self.enqueued_new += await self._db(self._begin_run, robots_page, explicit)
                run_recorded = True
                if self.plan.fetch_authorities and not self.stopping:
                    await self._authorities()
                producer = asyncio.create_task(self._produce())
                try:
                    await self._fetch_loop()
                finally:
                    if not producer.done():
                        producer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await producer
                await self._drain()
                if self.producer_error is not None:
                    raise self.producer_error
                if self.plan.attachments_hook is not None and not self.stopping and self.blocked_exc is None:
                    await self._run_attachments_hook()
        except ChallengeDetected as exc:
            self.blocked_exc = exc
            if run_recorded:
                await self._drain()
        except asyncio.CancelledError:
            self.interrupted = True
            self.summary.outcome = "interrupted"
            if run_recorded:
                with contextlib.suppress(BaseException):
                    await self._drain()
                    await self._db(self._end_run)
            return
        except BaseException as exc:
            if run_recorded:
                self.summary.outcome = "failed"
                self.summary.message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                with contextlib.suppress(Exception):
                    await self._db(self._end_run)
            raise
        finally:
            for sig in installed:
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)

        if self.blocked_exc is not None:
            self.summary.outcome = "blocked"
        elif self.interrupted:
            self.summary.outcome = "interrupted"
        else:
            self.summary.outcome = "complete"
        if run_recorded:
            try:
                await self._rebuild_derived()
            except Exception as exc:  # threads are committed; derived tables can be rebuilt later
                self.rep.log("derive_failed", f"derived tables were not rebuilt ({str(exc).splitlines()[0]}); "
                             "run `corpus reparse`", level="warning")
            await self._db(self._end_run)
        if self.blocked_exc is not None:
            exc = self.blocked_exc
            self.summary.message = (
                f"The site answered {exc.url} with a bot challenge ({exc.reason}, HTTP {exc.status}), so the sync "
                f"stopped asking it at once. {self.summary.queued_left} threads remain queued and are kept: "
                "run the same command later to resume, or save the pages from a browser and load them with "
                "`corpus import PATH`."
            )

    # ------------------------------------------------------------------ helpers

    def _on_request(self, method: str, url: str, status: int | None) -> None:
        self.summary.requests_made += 1
        self.rep.request_made()

    async def _db(self, fn, *args):
        """Run ``fn(con, *args)`` in one batch transaction on the database thread.

        DuckDB's memory is capped for the batch (its checkpoint on close would
        otherwise grow with the database); a batch that needs more is rolled back
        and written again uncapped.
        """
        import duckdb

        loop = asyncio.get_running_loop()

        def attempt(cap):
            with db.batch(self.plan.db_path) as con:
                if cap:
                    con.execute(f"SET memory_limit = '{cap}'")
                return fn(con, *args)

        def job():
            try:
                return attempt(BATCH_MEMORY_LIMIT)
            except duckdb.Error as exc:
                if not _out_of_memory(exc):
                    raise
                return attempt(None)
            finally:
                _trim_heap(collect=False)  # DuckDB freed its buffers on close: give the pages back

        return await loop.run_in_executor(self.db_exec, job)

    async def _robots(self, client, limiter, opts):
        from scraper.fetch import Fetcher
        from scraper.politeness import Robots, RobotsUnavailable

        probe = Fetcher(client, Robots.allow_all(self.site), limiter, site=self.site,
                        on_request=self._on_request, **{**opts, "max_attempts": min(3, opts.get("max_attempts", 3))})
        res = await probe.fetch("/robots.txt")
        if res.error and res.status == 0:
            raise RobotsUnavailable(
                f"{self.site}/robots.txt could not be read ({res.error}); nothing was crawled — check --site or try again later"
            )
        text = (res.body or b"").decode("utf-8", errors="replace")
        if res.error and not (400 <= res.status < 500):
            raise RobotsUnavailable(f"{self.site}/robots.txt could not be read ({res.error}); nothing was crawled — try again later")
        robots = Robots.from_response(self.site, res.status, text)
        if robots.crawl_delay:
            limiter.crawl_delay = robots.crawl_delay
            self.rep.log("crawl_delay", f"robots.txt asks for {robots.crawl_delay:g} s between requests; honouring it")
        if not self._robots_looks_alaveteli(text):
            await self._probe_alaveteli(probe)
        page = pagestore.make_page(
            url=res.final_url, site=self.site, kind="robots", status=res.status, final_url=res.final_url,
            headers=res.headers, body=res.body if res.status == 200 else None,
        )
        return robots, page

    @staticmethod
    def _robots_looks_alaveteli(text: str) -> bool:
        low = text.lower()
        return "/request/" in low and ("/body/" in low or "/annotate/" in low or "/track/" in low)

    async def _probe_alaveteli(self, probe) -> None:
        res = await probe.fetch("/")
        body = (res.body or b"")[:500_000].lower()
        markers = (b"alaveteli", b'href="/request/', b'href="/body/', b"/list/successful", b"make a request")
        if res.error or res.status != 200 or sum(m in body for m in markers) < 2:
            raise UsageError(
                f"{self.site} does not look like an Alaveteli site (no request/body pages in its robots.txt or "
                "home page); check --site, e.g. https://www.whatdotheyknow.com"
            )

    async def _resolve_ids(self) -> list[FrontierItem]:
        """Explicit --request values as frontier items; numeric ids follow the site's redirect."""
        from scraper.urls import request_url, url_title_from_href

        items = [
            FrontierItem(url=request_url(self.site, s), url_title=s, discovered_from="--request", priority=10, force=True)
            for s in self.plan.slugs
        ]
        for rid in self.plan.ids:
            res = await self.fetcher.fetch(f"/request/{rid}")
            slug = url_title_from_href(res.final_url) if res.final_url else None
            if res.status in (404, 410) or not slug or slug.isdigit():
                raise UsageError(f"request id {rid} was not found on {self.site}; check the number or give the slug")
            items.append(
                FrontierItem(url=request_url(self.site, slug), url_title=slug, discovered_from=f"--request {rid}",
                             priority=10, force=True)
            )
        self.summary.discovered += len(items)
        self.rep.counters["discovered"] += len(items)
        return items

    # ------------------------------------------------------------------ database jobs (db thread)

    def _begin_run(self, con, robots_page, explicit) -> int:
        """Record the run, store robots.txt, queue --refresh and --request; returns how many URLs are new."""
        self.run_started_at = datetime.now(timezone.utc)
        con.execute(
            "INSERT INTO sync_runs (run_id, site, command, started_at, outcome, summary) VALUES (?, ?, ?, ?, 'running', ?)",
            [self.summary.run_id, self.site, self.plan.command_line(), self.run_started_at,
             json.dumps(self.summary.as_json())],
        )
        pagestore.store_pages(con, [robots_page])
        if self.plan.refresh:
            n = frontier.requeue_all(con, self.site)
            if n:
                self.rep.log("refresh", f"--refresh: {n} known threads queued again")
        if explicit:
            return frontier.enqueue(con, self.site, explicit).new
        return 0

    def _end_run(self, con) -> None:
        self.summary.queued_left = frontier.pending(con, self.site)
        s = self._finish_summary()
        con.execute(
            "UPDATE sync_runs SET finished_at = ?, outcome = ?, summary = ? WHERE run_id = ?",
            [datetime.now(timezone.utc), s.outcome, json.dumps(s.as_json()), s.run_id],
        )

    def _derive(self, con, capped: bool = True) -> None:
        try:
            derive = importlib.import_module("corpus.derive")
        except ImportError:
            return
        rebuild = getattr(derive, "rebuild", None)
        if rebuild is None:
            return
        if capped:
            # DuckDB would otherwise keep every block the rebuild reads (it reads
            # every thread): a cap keeps the process from growing with the corpus.
            con.execute(f"SET memory_limit = '{DERIVE_MEMORY_LIMIT}'")
        # Only the requests this run touched (and those a new day makes overdue)
        # are rebuilt: the cost follows the run, not the size of the corpus.
        rebuild(con, since=self.run_started_at)

    async def _rebuild_derived(self) -> None:
        """Rebuild the derived tables with DuckDB's memory capped; uncapped if the cap is too small."""
        import duckdb

        _trim_heap()
        try:
            await self._db(self._derive)
        except duckdb.Error as exc:
            if not _out_of_memory(exc):
                raise
            await self._db(self._derive, False)

    def _write_batch(self, con, outcomes: list[_Outcome], items: list[FrontierItem], pages: list, take_n: int,
                     exclude: set[str], known_only: bool, walks: list[tuple] = ()):
        from corpus import load

        all_pages = list(pages)
        for o in outcomes:
            all_pages.extend(o.pages)
        pagestore.store_pages(con, all_pages)
        load_items = [o.load_item for o in outcomes if o.load_item is not None]
        stats = load.load_threads(con, load_items) if load_items else None
        done = [(o.url, o.signature) for o in outcomes if o.kind in ("loaded", "unchanged", "parse_failed")]
        frontier.mark_done(con, done)
        touched = [o.url for o in outcomes if o.kind == "unchanged"]
        pagestore.touch_pages(con, touched)
        failed_for_good = frontier.mark_failed(
            con, [(o.url, o.error or "failed") for o in outcomes if o.kind == "failed"], max_attempts=1
        )
        removed = [o for o in outcomes if o.kind == "removed"]
        frontier.mark_removed(con, [o.url for o in removed], error="; ".join({o.error or "gone" for o in removed}) or "gone")
        for o in removed:
            if o.url_title:
                load.mark_removed(con, self.site, o.url_title)
        now = datetime.now(timezone.utc)
        fails = [(o.url, self.site, o.failure[0], o.failure[1], o.failure[2], now) for o in outcomes if o.failure]
        if fails:
            import pyarrow as pa

            table = pa.table(
                {
                    "url": [f[0] for f in fails],
                    "site": [f[1] for f in fails],
                    "kind": [f[2] for f in fails],
                    "message": [f[3] for f in fails],
                    "page_sha256": [f[4] for f in fails],
                    "failed_at": pa.array([f[5] for f in fails], pa.timestamp("us", tz="UTC")),
                }
            )
            with pagestore.registered(con, "_parse_failures_batch", table):
                con.execute("INSERT OR REPLACE INTO parse_failures SELECT url, site, kind, message, page_sha256, failed_at "
                            "FROM _parse_failures_batch")
        ok_urls = [o.url for o in outcomes if o.kind == "loaded"]
        if ok_urls:
            con.execute("DELETE FROM parse_failures WHERE url IN (SELECT unnest(?::VARCHAR[]))", [ok_urls])
        enq = frontier.enqueue(con, self.site, items) if items else None
        for target, started, n_pages, early in walks:
            frontier.record_walk(con, self.site, target.kind, target.value, target.since, target.until,
                                 started_at=started, pages=n_pages, stopped_early=early,
                                 now=datetime.now(timezone.utc))
        taken: list[QueuedUrl] = []
        validators = {}
        if take_n:
            taken = frontier.take(con, self.site, take_n, exclude=exclude, known_only=known_only)
            validators = pagestore.conditional_headers_many(con, [q.url for q in taken])
        pending = frontier.pending(con, self.site)
        return stats, enq, taken, validators, failed_for_good, pending

    # ------------------------------------------------------------------ batches (event loop side)

    async def _flush(self, take_n: int = 0) -> list[QueuedUrl]:
        """Write everything in hand as one batch; optionally take more queued URLs."""
        async with self.flush_lock:
            outcomes, self.outcomes = self.outcomes, []
            items, self.pending_items = self.pending_items, []
            pages, self.pending_pages = self.pending_pages, []
            walks, self.pending_walks = self.pending_walks, []
            if not (outcomes or items or pages or walks or take_n):
                return []
            limit_reached = self.plan.limit is not None and self.new_fetched >= self.plan.limit
            exclude = set(self.claimed) | {o.url for o in outcomes}
            try:
                stats, enq, taken, validators, failed_for_good, pending = await self._db(
                    self._write_batch, outcomes, items, pages, take_n, exclude, limit_reached, walks
                )
            except BaseException:
                # Not written: put it back so a later flush (or the next run) has it.
                self.outcomes = outcomes + self.outcomes
                self.pending_items = items + self.pending_items
                self.pending_pages = pages + self.pending_pages
                self.pending_walks = walks + self.pending_walks
                raise
            self.last_flush = time.monotonic()
            for o in outcomes:
                self.claimed.discard(o.url)
            s = self.summary
            if stats is not None:
                s.new_threads += stats.requests_new
                s.updated_threads += stats.requests_changed
                s.unchanged += stats.unchanged
                s.new_messages += stats.messages_new
                s.new_annotations += stats.annotations_new
            s.unchanged += sum(1 for o in outcomes if o.kind == "unchanged")
            s.failed += len(failed_for_good)
            for url in failed_for_good:
                err = next((o.error for o in outcomes if o.url == url), None)
                self.rep.log("failed", f"failed for good: {url} ({err})", level="warning", url=url)
            if enq is not None:
                self.enqueued_new += enq.new
            for q in taken:
                self.claimed.add(q.url)
            self.validators.update(validators)
            self.rep.counters["queued"] = pending
            self.rep.refresh()
            return taken

    async def _drain(self) -> None:
        """Wait for parsing in progress, then write everything in hand."""
        if self.process_tasks:
            await asyncio.gather(*list(self.process_tasks), return_exceptions=True)
        await self._flush()

    # ------------------------------------------------------------------ discovery

    async def _produce(self) -> None:
        from scraper.fetch import ChallengeDetected
        from scraper.urls import request_url

        try:
            wanted = [("authority", a) for a in self.plan.authorities] + [("user", u) for u in self.plan.users]
            if self.plan.query:
                wanted.append(("query", self.plan.query))
            if wanted:
                from scraper.discovery import Target, WalkOutcome, walk
            targets = [Target(kind, value, self.plan.since, self.plan.until) for kind, value in wanted]
            for target in targets:
                if self.stopping or self._limit_discovered():
                    break
                self.rep.log("discover", f"walking the listings of {target.kind} {target.value}", target=target.value)
                warn = lambda m: self.rep.log("discovery", m, level="warning")  # noqa: E731
                started = datetime.now(timezone.utc)
                outcome = WalkOutcome()
                page_is_old = await self._early_stop_check(target)
                async for item in walk(self.site, target, self._fetch_listing, on_warning=warn,
                                       page_is_old=page_is_old, outcome=outcome):
                    if self.stopping:
                        break
                    slug = item.url_title
                    if not slug:
                        continue
                    self.pending_items.append(
                        FrontierItem(
                            url=request_url(self.site, slug),
                            url_title=slug,
                            listing_signature=item.signature,
                            discovered_from=f"{target.kind}:{target.value}",
                        )
                    )
                    self.summary.discovered += 1
                    self.rep.counters["discovered"] += 1
                    self.wake.set()
                    if len(self.pending_items) >= TAKE_SIZE:
                        await self._flush()
                    if self._limit_discovered():
                        break
                if outcome.complete:
                    # Written with the walk's last discoveries, in the same transaction.
                    self.pending_walks.append((target, started, outcome.pages, outcome.stopped_early))
                    if outcome.stopped_early:
                        self.rep.log("discover", f"{target.kind} {target.value}: page {outcome.pages} of its listing "
                                     "shows nothing new since the last full walk; the rest is unchanged",
                                     target=target.value)
        except ChallengeDetected as exc:
            self.blocked_exc = self.blocked_exc or exc
            self.stopping = True
        except Exception as exc:
            self.producer_error = exc
            self.stopping = True
        finally:
            self.producer_done = True
            self.wake.set()

    async def _early_stop_check(self, target):
        """``page_is_old`` for ``walk``, or None when this target's listing must be read in full.

        Only an authority's own listing (no --since/--until), and only after an
        earlier walk of the same target finished: a page is old when every
        request on it was already listed just so when that walk finished.  Never
        with --refresh.  (Why only authorities: ``scraper.discovery``.)
        """
        from scraper.urls import request_url

        if self.plan.refresh or target.kind != "authority" or target.since or target.until:
            return None
        if self.finished_walks is None:  # read once per run
            self.finished_walks = await self._db(lambda con: frontier.complete_walks(con, self.site))
        last = self.finished_walks.get((target.kind, target.value, target.since, target.until))
        if last is None:
            return None

        async def page_is_old(items) -> bool:
            listed = [(request_url(self.site, i.url_title), i.signature) for i in items if i.url_title]
            if not listed:
                return False
            return await self._db(lambda con: frontier.changed_since(con, listed, last)) == 0

        return page_is_old

    def _limit_discovered(self) -> bool:
        return self.plan.limit is not None and self.enqueued_new >= self.plan.limit and not self.pending_items

    async def _check_targets(self) -> None:
        """Read the first listing page of each --authority / --user before the database is touched.

        An unknown slug (the site's 404) is then a usage error that leaves nothing
        written; the page read is kept for the walk, so it costs no extra request.
        """
        from scraper.discovery import Target, listing_url, target_not_found

        for kind, values in (("authority", self.plan.authorities), ("user", self.plan.users)):
            for value in values:
                target = Target(kind, value, self.plan.since, self.plan.until)
                url = listing_url(self.site, target, 1)
                page = await self._fetch_listing(url)
                if page is None:
                    raise target_not_found(self.site, target)
                self.listing_cache[url] = page

    async def _fetch_listing(self, url: str):
        from scraper.pages.listing import parse_listing

        if url in self.listing_cache:
            return self.listing_cache.pop(url)

        from scraper.records import ParseFailure

        res = await self.fetcher.fetch(url)
        if res.status in (404, 410):
            return None
        if res.error or res.body is None or res.status != 200:
            why = res.error or f"HTTP {res.status}"
            self.rep.log("listing_failed", f"could not read listing {url}: {why}", level="warning", url=url)
            return ParseFailure("error_page", f"could not fetch {url}: {why}")
        self.pending_pages.append(
            pagestore.make_page(url=res.final_url, site=self.site, kind="listing", status=res.status,
                                final_url=res.final_url, headers=res.headers, body=res.body)
        )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.cpu_exec, lambda: parse_listing(res.body, base_url=res.final_url))

    async def _authorities(self) -> None:
        res = await self.fetcher.fetch("/body/all-authorities.csv")
        if res.error or res.status != 200 or res.body is None:
            self.rep.log("authorities_failed", f"could not read /body/all-authorities.csv ({res.error or res.status})",
                         level="warning")
            return
        page = pagestore.make_page(url=res.final_url, site=self.site, kind="authorities_csv", status=res.status,
                                   final_url=res.final_url, headers=res.headers, body=res.body)
        rows = parse_authorities_csv(res.body)

        def job(con):
            pagestore.store_pages(con, [page])
            return upsert_authorities(con, self.site, rows, datetime.now(timezone.utc))

        n = await self._db(job)
        self.rep.log("authorities", f"{n} authorities loaded from all-authorities.csv")

    # ------------------------------------------------------------------ fetching threads

    async def _refill(self) -> int:
        taken = await self._flush(take_n=TAKE_SIZE)
        self.work.extend(taken)
        return len(taken)

    async def _fetch_loop(self) -> None:
        """Fetch queued threads one after another; batches are written in the background."""
        refill: asyncio.Task | None = None
        flushing: asyncio.Task | None = None
        try:
            while not self.stopping:
                if len(self.work) < TAKE_SIZE // 2 and (refill is None or refill.done()):
                    if refill is not None:
                        refill.result()  # surface a failed batch
                    refill = asyncio.create_task(self._refill())
                if not self.work:
                    got = await refill
                    if not got and not self.work:
                        if self.producer_done and not self.pending_items:
                            break
                        self.wake.clear()
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(self.wake.wait(), timeout=0.5)
                    continue
                q = self.work.popleft()
                if not q.known and self.plan.limit is not None and self.new_fetched >= self.plan.limit:
                    self.claimed.discard(q.url)
                    continue
                if not q.known:
                    self.new_fetched += 1
                fetched = await self._fetch_thread(q)
                task = asyncio.create_task(self._process(fetched))
                self.process_tasks.add(task)
                task.add_done_callback(self.process_tasks.discard)
                if len(self.outcomes) >= FLUSH_EVERY or time.monotonic() - self.last_flush > FLUSH_SECONDS:
                    if flushing is None or flushing.done():
                        if flushing is not None:
                            flushing.result()
                        flushing = asyncio.create_task(self._flush())
        finally:
            for t in (refill, flushing):
                if t is not None:
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.shield(t) if not t.done() else None
            # URLs taken but not fetched stay queued in the database.
            for q in self.work:
                self.claimed.discard(q.url)
            self.work.clear()
        for t in (refill, flushing):
            if t is not None and t.done() and not t.cancelled() and t.exception() is not None:
                raise t.exception()

    async def _fetch_thread(self, q: QueuedUrl) -> _Fetched:
        from scraper.fetch import ChallengeDetected
        from scraper.urls import request_json_url, url_title_from_href

        etag, last_modified = self.validators.pop(q.url, (None, None))
        try:
            html = await self.fetcher.fetch(q.url, etag=etag, last_modified=last_modified)
        except ChallengeDetected:
            self.claimed.discard(q.url)
            await self._db(lambda con: frontier.mark_blocked(con, [q.url]))
            raise
        fetched = _Fetched(q=q, html=html)
        if html.error is None and html.status == 200 and html.body is not None:
            slug = url_title_from_href(html.final_url) or q.url_title
            try:
                fetched.json = await self.fetcher.fetch(request_json_url(self.site, slug))
            except ChallengeDetected:
                # Keep the page in hand (loaded from its HTML alone), then stop.
                await self._process(fetched)
                raise
        return fetched

    async def _process(self, fetched: _Fetched) -> None:
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(self.cpu_exec, self._outcome_of, fetched)
        except Exception as exc:  # a parser bug must not lose the page or stop the run
            outcome = _Outcome(url=fetched.q.url, url_title=fetched.q.url_title, signature=fetched.q.listing_signature,
                               kind="failed", error=f"internal error while parsing: {exc!r}")
        s = self.summary
        if outcome.kind in ("loaded", "unchanged", "parse_failed"):
            s.fetched += 1
            self.rep.counters["fetched"] += 1
        if outcome.kind == "parse_failed":
            s.parse_failures += 1
            self.rep.log("parse_failed", f"not understood, page kept: {outcome.url} ({outcome.error})",
                         level="warning", url=outcome.url)
        if outcome.kind == "removed":
            s.removed += 1
        if outcome.kind == "failed":
            self.rep.counters["failed"] += 1
        if outcome.json_missing:
            s.json_missing += 1
        self.outcomes.append(outcome)
        self.rep.refresh()

    def _outcome_of(self, f: _Fetched) -> _Outcome:
        """Parse one fetched thread (worker thread: pure work, no database)."""
        from corpus.load import LoadItem
        from scraper.pages.request import parse_request
        from scraper.records import ParseFailure

        q, html = f.q, f.html
        base = dict(url=q.url, url_title=q.url_title, signature=q.listing_signature, known=q.known)
        if html.not_modified:
            return _Outcome(kind="unchanged", **base)
        if html.status in (404, 410) or (html.status == 403 and html.error is None):
            return _Outcome(kind="removed", error=f"HTTP {html.status}", **base)
        if html.error is not None or html.status != 200 or html.body is None:
            return _Outcome(kind="failed", error=html.error or f"HTTP {html.status}", **base)
        now = datetime.now(timezone.utc)
        json_url = None
        json_bytes = None
        pages = []
        j = f.json
        if j is not None and j.error is None and j.status == 200 and j.body is not None:
            json_url = j.final_url
            json_bytes = j.body
            pages.append(pagestore.make_page(url=j.final_url, site=self.site, kind="request_json", status=j.status,
                                             final_url=j.final_url, headers=j.headers, body=j.body, fetched_at=now))
        html_page = pagestore.make_page(
            url=html.final_url, site=self.site, kind="request_html", status=html.status, final_url=html.final_url,
            headers=html.headers, body=html.body, fetched_at=now,
            companion_url=json_url,
        )
        pages.insert(0, html_page)
        parsed = parse_request(html.body, json_bytes, url=html.final_url)
        if isinstance(parsed, ParseFailure) and json_bytes is not None and parsed.kind == "bad_json":
            parsed = parse_request(html.body, None, url=html.final_url)
            json_bytes = None
        missing = json_bytes is None
        if isinstance(parsed, ParseFailure):
            return _Outcome(kind="parse_failed", pages=pages, error=f"{parsed.kind}: {parsed.message}",
                            failure=(parsed.kind, parsed.message, html_page.sha256), json_missing=False, **base)
        item = LoadItem(parsed=parsed, site=self.site, source="sync", source_url=html.final_url,
                        page_sha256=html_page.sha256, fetched_at=now)
        return _Outcome(kind="loaded", pages=pages, load_item=item, json_missing=missing, **base)

    async def _run_attachments_hook(self) -> None:
        stats = await sync_attachments(
            self.fetcher, self.plan.db_path, self.site, self.plan.attachments_hook,
            con_factory=lambda: db.batch(self.plan.db_path),
        )
        self.summary.attachments = stats.as_dict()


# ============================================================================ all-authorities.csv


def parse_authorities_csv(data: bytes) -> list[dict]:
    """Rows of ``/body/all-authorities.csv`` (with or without the "Internal ID" column).

    Tags are space-separated (``name`` or ``name:value``).  Rows without a URL
    name are skipped.
    """
    import csv
    import io

    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    out = []
    for row in reader:
        norm = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        url_name = norm.get("url name")
        if not url_name:
            continue
        raw_id = norm.get("internal id") or ""
        out.append(
            {
                "url_name": url_name,
                "authority_id": int(raw_id) if raw_id.isdigit() else None,
                "name": norm.get("name") or None,
                "short_name": norm.get("short name") or None,
                "tags": [t for t in (norm.get("tags") or "").split() if t],
                "home_page": norm.get("home page") or None,
            }
        )
    return out


def upsert_authorities(con, site: str, rows: list[dict], now: datetime) -> int:
    """Insert or update authorities from CSV rows in one statement; returns how many rows."""
    import pyarrow as pa

    from corpus.load import jurisdiction_from_tags

    if not rows:
        return 0
    latest = {r["url_name"]: r for r in rows}
    rows = list(latest.values())
    table = pa.table(
        {
            "url_name": pa.array([r["url_name"] for r in rows], pa.string()),
            "authority_id": pa.array([r["authority_id"] for r in rows], pa.int64()),
            "name": pa.array([r["name"] for r in rows], pa.string()),
            "short_name": pa.array([r["short_name"] for r in rows], pa.string()),
            "tags": pa.array([r["tags"] for r in rows], pa.list_(pa.string())),
            "jurisdiction": pa.array([jurisdiction_from_tags(r["tags"]) for r in rows], pa.string()),
            "home_page": pa.array([r["home_page"] for r in rows], pa.string()),
        }
    )
    with pagestore.registered(con, "_authorities_batch", table):
        con.execute(
            """
            INSERT INTO authorities (site, url_name, authority_id, name, short_name, tags, jurisdiction, home_page,
                                     first_seen, last_seen)
            SELECT ?, url_name, authority_id, name, short_name, tags, jurisdiction, home_page, ?, ? FROM _authorities_batch
            ON CONFLICT (site, url_name) DO UPDATE SET
              authority_id = coalesce(excluded.authority_id, authorities.authority_id),
              name = coalesce(excluded.name, authorities.name),
              short_name = coalesce(excluded.short_name, authorities.short_name),
              tags = excluded.tags,
              jurisdiction = excluded.jurisdiction,
              home_page = coalesce(excluded.home_page, authorities.home_page),
              last_seen = excluded.last_seen
            """,
            [site, now, now],
        )
    return len(rows)
