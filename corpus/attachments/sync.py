"""The attachment step of ``corpus sync --attachments text|files``.

After the threads of a run are loaded, :func:`sync_attachments` downloads each
incoming attachment of those requests that has no final ``attachment_texts``
row, through the run's own :class:`scraper.fetch.Fetcher` (so robots.txt, the
rate ceiling, retries with back-off and challenge detection apply exactly as
for thread pages), extracts its text in a worker process bounded in time and
memory (:class:`corpus.attachments.sandbox.ExtractorPool`) and stores one row
per attachment.

* Only original downloads are asked for: ``/request/<x>/response/<id>/attach/<part>/<name>``
  on the site's own host.  The "View" HTML (``attach/html/...``) is never fetched:
  for PDFs it only embeds the original, and for Office files it embeds a
  third-party viewer.
* Alaveteli redirects the download of an attachment it has not finished masking
  (redacting) to ``/attachments/<signed id>/wait``.  Such an answer -- or any
  redirect that ends on an HTML page when a file was expected -- is recorded as
  ``pending`` and asked for again on the next run; it is never stored as the file.
* Statuses in :data:`~corpus.attachments.store.FINAL_STATUSES` are final: that
  file is not downloaded again, except a scan recorded before OCR was
  installed, which is asked for once more when OCR can now read it.  ``pending``
  and ``failed`` rows are retried on later runs, up to ``max_attempts`` tries.
* Rows are written every ``batch_size`` attachments, each batch in its own
  ``con_factory()`` transaction, so an interrupted run keeps what it did.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import duckdb

from corpus.attachments import ocr
from corpus.attachments.limits import Limits
from corpus.attachments.sandbox import ExtractorPool
from corpus.attachments.store import (
    DEFAULT_KEEP_MAX_BYTES,
    AttachmentJob,
    attachments_to_fetch,
    extraction_columns,
    files_root,
    keep_file,
    refresh_request_keys,
    sha256_hex,
    utc_now,
    write_rows,
)
from corpus.errors import UsageError
from scraper.fetch import Failure, Fetcher, FetchResult
from scraper.urls import absolute_url, same_host

MODES = ("text", "files")
DEFAULT_BATCH = 20
DEFAULT_MAX_ATTEMPTS = 5

_ATTACH_PATH = re.compile(r"/request/[^/]+/response/\d+/attach/(?!html/)\d+/[^/]+$")
_WAIT_PATH = re.compile(r"/attachments/[^/]+/wait/?$")
_REQUEST_PATH = re.compile(r"/request/[^/]+/?$")
_HTML_NAMES = re.compile(r"\.(x?html?)$", re.IGNORECASE)

ConnectionFactory = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


@dataclass(frozen=True, slots=True)
class AttachmentOptions:
    """How the attachment step runs; the defaults are ``corpus sync``'s."""

    mode: str = "text"  # 'text': extract and store the text; 'files': also keep the original
    limits: Limits = field(default_factory=Limits)  # caps per attachment (bytes, time, memory, pages, cells, characters)
    keep_max_bytes: int = DEFAULT_KEEP_MAX_BYTES  # larger originals are not kept (their text still is)
    batch_size: int = DEFAULT_BATCH  # rows written per transaction
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # tries for 'pending' and 'failed' attachments
    workers: int = 1  # extraction worker processes

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"--attachments must be one of none, {', '.join(MODES)}, not {self.mode!r}")


@dataclass(frozen=True, slots=True)
class AttachmentOutcome:
    """What happened to one attachment (for progress lines)."""

    incoming_message_id: int
    part: int
    filename: str | None
    status: str
    reason: str | None
    url: str | None


@dataclass
class AttachmentStats:
    """What the attachment step did in one run."""

    considered: int = 0
    downloaded: int = 0
    downloaded_bytes: int = 0
    kept_files: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def as_dict(self) -> dict[str, object]:
        return {
            "considered": self.considered,
            "downloaded": self.downloaded,
            "downloaded_bytes": self.downloaded_bytes,
            "kept_files": self.kept_files,
            "statuses": dict(sorted(self.statuses.items())),
        }

    def describe(self) -> str:
        parts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items())) or "nothing to do"
        return f"attachments: {self.considered} considered, {self.downloaded} downloaded ({parts})"


def download_url(site: str, job: AttachmentJob) -> str | None:
    """The absolute original-file URL of an attachment, or None if it is not a safe one to ask for."""
    if job.download_url:
        url = absolute_url(site, job.download_url)
    elif job.url_title and job.filename:
        url = absolute_url(site, f"/request/{quote(job.url_title)}/response/{job.incoming_message_id}/attach/{job.part}/{quote(job.filename)}")
    else:
        return None
    if not same_host(site, url):
        return None
    if not _ATTACH_PATH.search(urlsplit(url).path):
        return None
    return url


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _is_html(content_type: str | None, body: bytes | None) -> bool:
    if content_type and content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
        return True
    head = (body or b"")[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def classify_answer(requested: str, final_url: str, content_type: str | None, body: bytes | None, filename: str | None) -> tuple[str, str] | None:
    """Why a 200 answer is not the attachment, as ``(status, reason)``; None when it is the file."""
    final_path = urlsplit(final_url).path
    if _WAIT_PATH.search(final_path):
        return "pending", "the site is still masking this attachment (redirected to its 'please wait' page); retried next run"
    if _HTML_NAMES.search(filename or "") or not _is_html(content_type, body):
        return None
    if final_url == requested:
        return None  # an HTML body from the download URL itself; let the extractor judge the bytes
    if _REQUEST_PATH.search(final_path):
        return "failed", f"the site redirected to the request page ({final_path}): the file name no longer matches"
    return "pending", f"redirected to an HTML page ({final_path}) instead of the file; retried next run"


def _row(job: AttachmentJob, *, url: str | None, status: str, reason: str | None, now: datetime, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "site": job.site,
        "request_key": job.request_key,
        "incoming_message_id": job.incoming_message_id,
        "part": job.part,
        "filename": job.filename,
        "text": "",
        "characters": 0,
        "status": status,
        "reason": reason,
        "source_url": url,
        "attempts": job.attempts + 1,
        "extracted_at": now,
    }
    row.update(extra)
    return row


def _fetched_columns(res: FetchResult, now: datetime) -> dict[str, object]:
    return {
        "final_url": res.final_url,
        "fetched_at": now,
        "content_type": _header(res.headers, "content-type"),
        "etag": _header(res.headers, "etag"),
        "last_modified": _header(res.headers, "last-modified"),
    }


async def fetch_one(
    job: AttachmentJob,
    *,
    site: str,
    fetcher: Fetcher,
    pool: ExtractorPool,
    options: AttachmentOptions,
    root: Path,
    stats: AttachmentStats,
) -> dict[str, object]:
    """Download, check, extract (and keep) one attachment; return its ``attachment_texts`` row."""
    now = utc_now()
    url = download_url(site, job)
    if url is None:
        return _row(job, url=job.download_url, status="failed", now=now,
                    reason="no original-file download URL on this site for this attachment; not requested")
    # Attachments have their own download cap (not the page cap): what is extracted, or kept as a file.
    cap = max(options.limits.max_bytes, options.keep_max_bytes) if options.mode == "files" else options.limits.max_bytes
    res = await fetcher.fetch(url, max_bytes=cap)
    fetched = _fetched_columns(res, now)
    if res.error:
        status = "too_large" if res.failure == Failure.TOO_LARGE else "failed"
        return _row(job, url=url, status=status, reason=res.error[:300], now=now, **fetched)
    if not 200 <= res.status < 300 or res.body is None:
        what = {403: "hidden or not public", 404: "not found", 410: "gone"}.get(res.status, "no file")
        return _row(job, url=url, status="failed", reason=f"HTTP {res.status} ({what})", now=now, **fetched)
    body = res.body
    stats.downloaded += 1
    stats.downloaded_bytes += len(body)
    content_type = _header(res.headers, "content-type")
    wrong = classify_answer(url, res.final_url or url, content_type, body, job.filename)
    if wrong is not None:
        return _row(job, url=url, status=wrong[0], reason=wrong[1], now=now, **fetched)
    extraction = await pool.extract_async(body, job.filename, content_type)
    columns = extraction_columns(extraction)
    stored = None
    if options.mode == "files":
        stored = await asyncio.to_thread(keep_file, root, body, job.filename, max_bytes=options.keep_max_bytes)
        if stored is None:
            note = f"file not kept: {len(body):,} bytes, over the {options.keep_max_bytes:,}-byte cap"
            columns["reason"] = f"{columns['reason']}; {note}" if columns["reason"] else note
        else:
            stats.kept_files += 1
    row = _row(job, url=url, now=utc_now(), status=extraction.status, reason=None, **fetched)
    row.update(columns)
    row.update({"size": len(body), "sha256": sha256_hex(body), "stored_path": stored})
    return row


async def sync_attachments(
    fetcher: Fetcher,
    db_path: str | Path,
    site: str,
    options: AttachmentOptions = AttachmentOptions(),
    *,
    request_keys: Collection[str] | None = None,
    con_factory: ConnectionFactory | None = None,
    on_outcome: Callable[[AttachmentOutcome], None] | None = None,
) -> AttachmentStats:
    """Fetch, extract and store the attachments of ``request_keys`` (None: every request of ``site``).

    ``con_factory()`` must be a context manager yielding a DuckDB connection in
    a transaction; by default it is ``corpus.db.batch`` on ``db_path``.  Kept
    files go to ``<db_path>.files``.  A bot challenge raised by the fetcher (or
    the task being cancelled) ends the step after the rows done so far are
    saved.  ``on_outcome`` hears about every attachment tried.
    """
    if con_factory is None:
        from corpus.db import batch

        con_factory = functools.partial(batch, db_path)
    stats = AttachmentStats()
    root = files_root(db_path)
    retry_scans = options.limits.ocr and ocr.unavailable() is None
    with con_factory() as con:
        refresh_request_keys(con, site)
        jobs = attachments_to_fetch(con, site, request_keys, max_attempts=options.max_attempts, retry_scans=retry_scans)
    pending_rows: list[dict[str, object]] = []

    def flush() -> None:
        if pending_rows:
            with con_factory() as con:
                write_rows(con, pending_rows)
            pending_rows.clear()

    with ExtractorPool(options.limits, options.workers) as pool:
        try:
            for job in jobs:
                stats.considered += 1
                row = await fetch_one(job, site=site, fetcher=fetcher, pool=pool, options=options, root=root, stats=stats)
                status = str(row["status"])
                stats.count(status)
                pending_rows.append(row)
                if on_outcome is not None:
                    on_outcome(AttachmentOutcome(job.incoming_message_id, job.part, job.filename, status,
                                                 _text_or_none(row["reason"]), _text_or_none(row["source_url"])))
                if len(pending_rows) >= options.batch_size:
                    flush()
        finally:
            flush()
    return stats


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)
