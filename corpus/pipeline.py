"""From a thread's raw pages to what is written for it: the one step sync, import and reparse share.

The three commands differ only in where a thread's pages come from:

* ``corpus sync`` fetches them from the site (origin ``"site"``);
* ``corpus import`` reads files saved from a browser (origin ``"files"``);
* ``corpus reparse`` reads them back from the page store (origin ``"store"``,
  :func:`stored_outcome`; kept here so the reparse's worker processes import
  only this module and what it needs);
* a web archive supplies captures of the site's pages (origin ``"archive"``):
  ``corpus import`` of a WARC/WACZ file, or ``corpus sync --archive`` when the
  live site refuses (``corpus.archive``).  Their pages are stored under the
  site's own URLs with the capture's time and source, and the thread is "as of"
  that capture.

Each builds a :class:`RawThread`; :func:`outcome_of` turns it into a
:class:`ThreadOutcome` (pure: bytes in, records out, no I/O); and
``corpus.writer`` writes outcomes, whatever their origin, with the same rules.

Outcome kinds:

``loaded``        parsed; its rows are upserted and its pages kept;
``unchanged``     the site answered 304: nothing to parse, the stored page is confirmed;
``removed``       the site answered 404/410 (or 403 "hidden"): the request is flagged
                  ``removed``, nothing is deleted.  The live site says this, or an
                  archive whose latest capture of the page says so;
``failed``        nothing usable came back (network error, 5xx after retries...);
``parse_failed``  the page was kept but not understood: listed in ``parse_failures``;
``withheld``      (set by the writer) a capture of a request the live site reported removed
                  or hidden: nothing of it is stored or loaded;
``stale``         (set by the writer) a capture older than what the corpus holds for the
                  thread: its pages go to ``page_history``, no rows change.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from corpus.load import LoadItem
from corpus.pagestore import StoredPage, decode_body, make_page, sha256_hex
from scraper.pages.request import parse_request
from scraper.records import ParseFailure
from scraper.urls import url_title_from_href

Origin = Literal["site", "files", "store", "archive"]
OutcomeKind = Literal["loaded", "unchanged", "removed", "failed", "parse_failed", "withheld", "stale"]
Provenance = Literal["live", "archive", "file"]

GONE_STATUSES = (404, 410)

# Page kinds in ``pages`` for a thread's HTML and JSON, by origin (pages read back from the store keep theirs).
_PAGE_KINDS: dict[str, tuple[str, str]] = {
    "site": ("request_html", "request_json"),
    "files": ("imported_html", "imported_json"),
    "archive": ("request_html", "request_json"),
}


@dataclass(slots=True)
class RawPage:
    """One raw page as it arrived: a response, a saved file or a stored row."""

    url: str  # where it was read (after redirects); ``file://<path>`` for a saved file
    body: bytes | None
    status: int | None = None  # HTTP status; None for a file
    headers: Mapping[str, str] | None = None
    encoding: str | None = None  # 'zlib' for a body read back compressed from the store
    sha256: str | None = None  # of the uncompressed body, when already known (the store)
    captured_at: datetime | None = None  # a capture's time (archive origin)
    capture_source: str | None = None  # where a capture was read: the archive's replay URL or the file
    record_id: str | None = None  # the capture's WARC-Record-ID or CDX digest


@dataclass(slots=True)
class RawThread:
    """A thread's raw pages before parsing, wherever they came from."""

    url: str  # the thread's own URL: the frontier key for a sync, else the page's URL
    site: str
    origin: Origin
    fetched_at: datetime
    html: RawPage | None = None  # None: no answer at all (see ``error``)
    json: RawPage | None = None  # the JSON companion, when there is one
    source: str | None = None  # requests.source of what it loads; default: 'import' for files, else 'sync'
    url_title: str | None = None
    signature: str | None = None  # listing signature the fetch answers (sync)
    not_modified: bool = False  # the site answered 304
    error: str | None = None  # why no usable answer came back (sync)
    provenance: Provenance = "live"  # archive origin: 'archive' (a Wayback server) or 'file' (WARC/WACZ)
    provenance_name: str | None = None  # the archive's base URL or the file read
    queued: bool = False  # an archive capture answering a queued frontier URL (sync)


@dataclass(slots=True)
class Failure:
    kind: str  # a ParseFailure kind, 'load_error', 'gone' or 'fetch'
    message: str


@dataclass(slots=True)
class ThreadOutcome:
    """One thread after parsing: everything the writer needs for it."""

    kind: OutcomeKind
    url: str
    site: str
    origin: Origin
    url_title: str | None = None
    signature: str | None = None
    page_url: str | None = None  # the request page read (the key of its parse_failures row)
    page_sha256: str | None = None
    pages: list[StoredPage] = field(default_factory=list)  # raw pages to store with it (none from the store)
    load_item: LoadItem | None = None
    failure: Failure | None = None  # why it is removed, failed or not understood
    json_problem: str | None = None  # a JSON companion came but could not be used: loaded from the HTML alone
    json_missing: bool = False  # loaded without JSON (none came, or it could not be used)
    provenance: Provenance = "live"
    as_of: datetime | None = None  # the capture time the thread is "as of" (archive origin)
    queued: bool = False  # answers a queued frontier URL (sync), whatever its origin

    def as_load_error(self, exc: BaseException) -> ThreadOutcome:
        """This outcome, when its rows could not be stored: kept as a parse failure of kind ``load_error``."""
        first = str(exc).splitlines()[0] if str(exc) else ""
        message = f"the loader could not store this thread ({type(exc).__name__}: {first[:300]}); page kept"
        return ThreadOutcome(
            kind="parse_failed", url=self.url, site=self.site, origin=self.origin, url_title=self.url_title,
            signature=self.signature, page_url=self.page_url, page_sha256=self.page_sha256, pages=self.pages,
            failure=Failure("load_error", message), provenance=self.provenance, as_of=self.as_of, queued=self.queued,
        )


def _page_url_for_parser(url: str) -> str | None:
    # A saved file's path says nothing about the request; only site URLs carry the slug.
    return None if url.startswith("file:") else url


def outcome_of(raw: RawThread) -> ThreadOutcome:
    """Parse one thread's raw pages.  Pure apart from compressing the pages to keep; never raises on bad input."""
    html = raw.html
    url_title = raw.url_title or url_title_from_href(html.url if html is not None else raw.url)
    out = ThreadOutcome(kind="failed", url=raw.url, site=raw.site, origin=raw.origin, url_title=url_title,
                        signature=raw.signature, page_url=html.url if html is not None else None,
                        provenance=raw.provenance, as_of=html.captured_at if html is not None else None,
                        queued=raw.queued or raw.origin == "site")
    status = html.status if html is not None else None
    if raw.not_modified:
        out.kind = "unchanged"
        return out
    if raw.origin == "site" and (status in GONE_STATUSES or (status == 403 and raw.error is None)):
        out.kind = "removed"
        out.failure = Failure("gone", f"HTTP {status}")
        return out
    if html is None or raw.error is not None or html.body is None or (status is not None and status != 200):
        out.failure = Failure("fetch", raw.error or (f"HTTP {status}" if status is not None else "no page"))
        return out
    try:
        html_bytes = decode_body(html.body, html.encoding)
        json_bytes = decode_body(raw.json.body, raw.json.encoding) if raw.json is not None and raw.json.body else None
    except (zlib.error, ValueError) as exc:
        out.kind = "parse_failed"
        out.page_sha256 = html.sha256
        out.failure = Failure("encoding", f"stored body could not be decoded ({exc})")
        return out
    kinds = _PAGE_KINDS.get(raw.origin)
    if kinds is not None:
        json_page = None
        if raw.json is not None and json_bytes is not None:
            json_page = make_page(url=raw.json.url, site=raw.site, kind=kinds[1], status=raw.json.status,
                                  final_url=raw.json.url, headers=raw.json.headers, body=json_bytes,
                                  fetched_at=raw.fetched_at, **_capture_of(raw, raw.json))
        html_page = make_page(url=html.url, site=raw.site, kind=kinds[0], status=status, final_url=html.url,
                              headers=html.headers, body=html_bytes, fetched_at=raw.fetched_at,
                              companion_url=json_page.url if json_page is not None else None,
                              **_capture_of(raw, html))
        out.pages = [html_page] + ([json_page] if json_page is not None else [])
        out.page_sha256 = html_page.sha256
    else:
        out.page_sha256 = html.sha256 or sha256_hex(html_bytes)
    parsed = parse_request(html_bytes, json_bytes, url=_page_url_for_parser(html.url))
    if isinstance(parsed, ParseFailure):
        out.kind = "parse_failed"
        out.failure = Failure(parsed.kind, parsed.message)
        return out
    out.kind = "loaded"
    out.url_title = raw.url_title or parsed.url_title
    out.json_missing = not parsed.has_json
    if json_bytes is not None and not parsed.has_json:
        out.json_problem = next((w for w in parsed.warnings if "JSON" in w), "the JSON companion was not used")
    source = raw.source or ("import" if raw.origin == "files" else "sync")
    captured = raw.origin == "archive"
    out.load_item = LoadItem(parsed=parsed, site=raw.site, source=source, source_url=html.url,
                             page_sha256=out.page_sha256,
                             fetched_at=html.captured_at if captured and html.captured_at else raw.fetched_at,
                             provenance=raw.provenance if captured else ("file" if raw.origin == "files" else "live"),
                             provenance_name=raw.provenance_name if captured else (
                                 html.url if raw.origin == "files" else None),
                             as_of=html.captured_at if captured else None)
    return out


def _capture_of(raw: RawThread, page: RawPage) -> dict:
    """The provenance columns of a page: where and when a capture was made (nothing extra for live pages)."""
    if raw.origin != "archive":
        return {}
    return {"origin": raw.provenance, "captured_at": page.captured_at, "capture_source": page.capture_source,
            "record_id": page.record_id}


# ---------------------------------------------------------------- rows of the page store

StoredRow = tuple  # url, site, kind, status, encoding, body, fetched_at, sha256, json url, status, encoding, body


def stored_thread(row: StoredRow) -> RawThread | None:
    """A stored page row (``corpus.reparse.read_page_rows``) as a raw thread; None when it holds no page to parse."""
    url, site, kind, status, enc, body, fetched_at, sha, j_url, j_status, j_enc, j_body = row
    if body is None or (status is not None and not 200 <= status < 300):
        return None
    raw = RawThread(url=url, site=site, origin="store", fetched_at=fetched_at,
                    source="import" if kind == "imported_html" else "sync",
                    html=RawPage(url=url, body=body, status=status, encoding=enc, sha256=sha))
    if j_body is not None and (j_status is None or 200 <= j_status < 300):
        raw.json = RawPage(url=j_url, body=j_body, status=j_status, encoding=j_enc)
    return raw


def stored_outcome(row: StoredRow) -> ThreadOutcome | None:
    """One stored page row parsed (run in a worker process by a reparse); None when there is nothing to parse."""
    raw = stored_thread(row)
    return outcome_of(raw) if raw is not None else None
