"""The attachment step of ``corpus sync --attachments text|files``.

After the threads of a run are loaded, :func:`sync_hook` downloads each incoming
attachment of those requests that has no final ``attachment_texts`` row, through
the run's own :class:`scraper.fetch.Fetcher` (so robots.txt, the rate ceiling,
retries with back-off and challenge detection apply exactly as for thread
pages), extracts its text locally and stores one row per attachment.

* Only original downloads are asked for: ``/request/<x>/response/<id>/attach/<part>/<name>``
  on the site's own host.  The "View" HTML (``attach/html/...``) is never fetched:
  for PDFs it only embeds the original, and for Office files it embeds a
  third-party viewer.
* Alaveteli redirects the download of an attachment it has not finished masking
  (redacting) to ``/attachments/<signed id>/wait``.  Such an answer -- or any
  redirect that ends on an HTML page when a file was expected -- is recorded as
  ``pending`` and asked for again on the next run; it is never stored as the file.
* Statuses ``ok``, ``no_text_layer``, ``encrypted``, ``corrupt``, ``unsupported``
  and ``too_large`` are final: that file is not downloaded again.  ``pending``
  and ``failed`` rows are retried on later runs, up to ``max_attempts`` tries.
* Rows are written every ``batch_size`` attachments, each batch in its own
  ``con_factory()`` transaction, so an interrupted run keeps what it did.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from corpus.attachments.extract import DEFAULT_MAX_BYTES, Extraction, extract_text
from corpus.attachments.store import (
    DEFAULT_KEEP_MAX_BYTES,
    AttachmentJob,
    attachments_to_fetch,
    files_root,
    keep_file,
    refresh_request_keys,
    sha256_hex,
    utc_now,
    write_rows,
)
from corpus.errors import UsageError
from scraper.fetch import Failure
from scraper.urls import absolute_url, same_host

MODES = ("none", "text", "files")
DEFAULT_BATCH = 20
DEFAULT_MAX_ATTEMPTS = 5

_ATTACH_PATH = re.compile(r"/request/[^/]+/response/\d+/attach/(?!html/)\d+/[^/]+$")
_WAIT_PATH = re.compile(r"/attachments/[^/]+/wait/?$")
_REQUEST_PATH = re.compile(r"/request/[^/]+/?$")
_HTML_NAMES = re.compile(r"\.(x?html?)$", re.I)


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


def _header(headers, name: str) -> str | None:
    if not headers:
        return None
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


def _row(job: AttachmentJob, *, url: str | None, status: str, reason: str | None, now, **extra) -> dict[str, object]:
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


def extraction_columns(extraction: Extraction) -> dict[str, object]:
    version = None
    if extraction.method:
        last = extraction.method.rsplit(" ", 1)[-1]
        version = last if re.fullmatch(r"\d[\w.+-]*", last) else None
    return {
        "text": extraction.text,
        "characters": extraction.characters,
        "pages": extraction.pages,
        "method": extraction.method,
        "library_version": version,
        "status": extraction.status,
        "reason": extraction.reason,
    }


async def _fetch(fetcher, url: str, max_bytes: int):
    result = fetcher.fetch(url, max_bytes=max_bytes)
    if inspect.isawaitable(result):
        result = await result
    return result


async def fetch_one(
    job: AttachmentJob,
    *,
    site: str,
    fetcher,
    mode: str,
    root: Path,
    extract_max_bytes: int = DEFAULT_MAX_BYTES,
    keep_max_bytes: int = DEFAULT_KEEP_MAX_BYTES,
    stats: AttachmentStats | None = None,
) -> dict[str, object]:
    """Download, check, extract (and keep) one attachment; return its ``attachment_texts`` row."""
    stats = stats if stats is not None else AttachmentStats()
    now = utc_now()
    url = download_url(site, job)
    if url is None:
        return _row(job, url=job.download_url, status="failed", now=now,
                    reason="no original-file download URL on this site for this attachment; not requested")
    # Attachments have their own download cap (not the page cap): what is extracted, or kept as a file.
    cap = max(extract_max_bytes, keep_max_bytes) if mode == "files" else extract_max_bytes
    res = await _fetch(fetcher, url, cap)
    headers = getattr(res, "headers", None) or {}
    fetched = {
        "final_url": getattr(res, "final_url", None),
        "fetched_at": now,
        "content_type": _header(headers, "content-type"),
        "etag": _header(headers, "etag"),
        "last_modified": _header(headers, "last-modified"),
    }
    if getattr(res, "error", None):
        status = "too_large" if res.failure == Failure.TOO_LARGE else "failed"
        return _row(job, url=url, status=status, reason=str(res.error)[:300], now=now, **fetched)
    status_code = getattr(res, "status", 0)
    if not 200 <= status_code < 300 or res.body is None:
        what = {403: "hidden or not public", 404: "not found", 410: "gone"}.get(status_code, "no file")
        return _row(job, url=url, status="failed", reason=f"HTTP {status_code} ({what})", now=now, **fetched)
    body: bytes = res.body
    stats.downloaded += 1
    stats.downloaded_bytes += len(body)
    wrong = classify_answer(url, res.final_url or url, fetched["content_type"], body, job.filename)
    if wrong is not None:
        return _row(job, url=url, status=wrong[0], reason=wrong[1], now=now, **fetched)
    digest = sha256_hex(body)
    extraction = await asyncio.to_thread(extract_text, body, job.filename or "", fetched["content_type"], max_bytes=extract_max_bytes)
    stored = None
    reason_extra = None
    if mode == "files":
        stored = await asyncio.to_thread(keep_file, root, body, job.filename, max_bytes=keep_max_bytes)
        if stored is None:
            reason_extra = f"file not kept: {len(body):,} bytes, over the {keep_max_bytes:,}-byte cap"
        else:
            stats.kept_files += 1
    columns = extraction_columns(extraction)
    if reason_extra:
        columns["reason"] = f"{columns['reason']}; {reason_extra}" if columns["reason"] else reason_extra
    row = _row(job, url=url, now=utc_now(), status=extraction.status, reason=None, **fetched)
    row.update(columns)
    row.update({"size": len(body), "sha256": digest, "stored_path": stored})
    return row


def _report(summary, stats: AttachmentStats) -> None:
    """Hand the step's figures to the run summary, whatever its shape."""
    if summary is None:
        return
    if isinstance(summary, dict):
        summary["attachments"] = stats.as_dict()
        return
    recorder = getattr(summary, "record_attachments", None)
    if callable(recorder):
        recorder(stats)
        return
    try:
        setattr(summary, "attachments", stats.as_dict())
    except AttributeError:  # a frozen or slotted summary without the field
        pass


async def sync_hook(
    *,
    mode: str,
    site: str,
    db_path,
    fetcher,
    con_factory=None,
    request_keys=None,
    summary=None,
    reporter=None,
    batch_size: int = DEFAULT_BATCH,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    extract_max_bytes: int = DEFAULT_MAX_BYTES,
    keep_max_bytes: int = DEFAULT_KEEP_MAX_BYTES,
    on_progress=None,
) -> AttachmentStats:
    """Fetch, extract and store the attachments of ``request_keys`` (None: every request of ``site``).

    ``con_factory()`` must be a context manager yielding a DuckDB connection in a
    transaction; by default it is ``corpus.db.batch`` bound to ``db_path``.  A bot
    challenge raised by the fetcher ends the step after the rows done so far are
    saved.  ``reporter`` (``corpus.progress.Reporter``) gets one log line per
    attachment that is not ``ok`` and one at the end.
    """
    stats = AttachmentStats()
    if mode not in MODES:
        raise UsageError(f"--attachments must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "none":
        _report(summary, stats)
        return stats
    if con_factory is None:
        from corpus.db import batch

        con_factory = functools.partial(batch, db_path)
    root = files_root(db_path)
    with con_factory() as con:
        refresh_request_keys(con, site)
        jobs = attachments_to_fetch(con, site, request_keys, max_attempts=max_attempts)
    pending_rows: list[dict[str, object]] = []

    def flush() -> None:
        if pending_rows:
            with con_factory() as con:
                write_rows(con, pending_rows)
            pending_rows.clear()

    try:
        for job in jobs:
            stats.considered += 1
            row = await fetch_one(
                job,
                site=site,
                fetcher=fetcher,
                mode=mode,
                root=root,
                extract_max_bytes=extract_max_bytes,
                keep_max_bytes=keep_max_bytes,
                stats=stats,
            )
            stats.count(str(row["status"]))
            pending_rows.append(row)
            if on_progress is not None:
                on_progress(row)
            if reporter is not None and row["status"] != "ok":
                reporter.log(
                    "attachment",
                    f"attachment {job.incoming_message_id}/{job.part} {job.filename!r}: {row['status']} ({row['reason']})",
                    level="warning" if row["status"] == "failed" else "info",
                    status=row["status"], url=row["source_url"],
                )
            if len(pending_rows) >= batch_size:
                flush()
    finally:
        flush()
        _report(summary, stats)
        if reporter is not None:
            reporter.log("attachments", stats.describe(), **stats.as_dict())
    return stats
