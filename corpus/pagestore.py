"""The raw page store: every page fetched or imported, compressed, in ``pages``.

Keeping the raw bytes means the tables can be rebuilt with a better parser at any
time (``corpus reparse``) without asking the site again, and the validators
(ETag, Last-Modified) let a re-fetch be conditional.

Bodies are stored zlib-compressed (``encoding = 'zlib'``); ``sha256`` and
``size`` describe the *uncompressed* bytes.  Writes are set-based: a batch of
pages becomes one Arrow table, and the rows it replaces are deleted and its rows
inserted in two statements (``pages`` holds one row per URL without a key index).
"""

from __future__ import annotations

import hashlib
import operator
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone

import duckdb

from corpus.staging import arrow_rows, arrow_schema, registered

COMPRESSION_LEVEL = 3

_PAGES = arrow_schema("pages")


class PageNotStored(LookupError):
    """The page store holds no body for this URL."""


@dataclass(slots=True)
class StoredPage:
    """One row of ``pages``, ready to write (body already compressed)."""

    url: str
    site: str
    kind: str
    status: int | None
    final_url: str | None
    fetched_at: datetime
    etag: str | None
    last_modified: str | None
    content_type: str | None
    sha256: str | None
    size: int | None
    encoding: str | None
    companion_url: str | None
    body: bytes | None
    origin: str = "live"  # live | archive | file
    captured_at: datetime | None = None  # when captured (live: fetched_at)
    capture_source: str | None = None  # archive replay URL or file read; None for live pages
    record_id: str | None = None  # WARC-Record-ID or CDX digest


# A StoredPage is a row of ``pages``: its fields are the table's columns, in the DDL's order.
if [f.name for f in fields(StoredPage)] != _PAGES.names:
    raise ImportError(f"StoredPage's fields differ from the pages table's columns {_PAGES.names}")
_row = operator.attrgetter(*_PAGES.names)


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        # plain dicts are case-sensitive; httpx.Headers is not
        lname = name.lower()
        for key, val in headers.items():
            if key.lower() == lname:
                return val
    return value


def make_page(
    *,
    url: str,
    site: str,
    kind: str,
    status: int | None,
    final_url: str | None,
    headers: Mapping[str, str] | None,
    body: bytes | None,
    fetched_at: datetime | None = None,
    companion_url: str | None = None,
    origin: str | None = None,
    captured_at: datetime | None = None,
    capture_source: str | None = None,
    record_id: str | None = None,
) -> StoredPage:
    """Build the row for one page: compress the body, hash it, keep the validators.

    ``origin`` is ``live`` (the default), ``archive`` or ``file`` (saved pages:
    the default for ``imported_*`` kinds); ``captured_at`` defaults to
    ``fetched_at``.  A captured page's validators are not kept: they belong to
    the capture, and sent to the live site they could make it answer 304 for a
    page the corpus only has an old copy of.
    """
    if fetched_at is None:
        fetched_at = datetime.now(timezone.utc)
    if origin is None:
        origin = "file" if kind.startswith("imported_") else "live"
    validators = origin == "live"
    if body is None:
        sha, size, encoding, stored = None, None, None, None
    else:
        sha = sha256_hex(body)
        size = len(body)
        encoding = "zlib"
        stored = zlib.compress(body, COMPRESSION_LEVEL)
    return StoredPage(
        url=url,
        site=site,
        kind=kind,
        status=status,
        final_url=final_url or url,
        fetched_at=fetched_at,
        etag=_header(headers, "etag") if validators else None,
        last_modified=_header(headers, "last-modified") if validators else None,
        content_type=_header(headers, "content-type"),
        sha256=sha,
        size=size,
        encoding=encoding,
        companion_url=companion_url,
        body=stored,
        origin=origin,
        captured_at=captured_at or fetched_at,
        capture_source=capture_source,
        record_id=record_id,
    )


def store_pages(con: duckdb.DuckDBPyConnection, pages: Iterable[StoredPage]) -> int:
    """Write many pages in one statement (last one wins for a repeated URL).

    Where a capture from an archive or a file meets another capture of the same
    URL, the later capture (by ``captured_at``) is the one in ``pages`` and the
    earlier one goes to ``page_history``: an old capture never replaces a newer
    page, and a page replaced by a newer capture is kept.  (Live pages replacing
    live pages keep no history, as before.)  Returns the number of rows written
    to ``pages``.
    """
    latest: dict[str, StoredPage] = {}
    earlier: list[StoredPage] = []  # captures of a URL the same batch holds a later capture of
    for page in pages:
        prev = latest.get(page.url)
        if prev is not None and page.origin != "live" and prev.origin != "live" and prev.captured_at \
                and page.captured_at and page.captured_at < prev.captured_at:
            earlier.append(page)
            continue
        if prev is not None and prev.origin != "live" and prev.sha256 != page.sha256:
            earlier.append(prev)
        latest[page.url] = page
    if not latest:
        return 0
    now = datetime.now(timezone.utc)
    if earlier:
        _into_history(con, earlier, {p.url: p.captured_at for p in latest.values()})
    table = arrow_rows(_PAGES, [_row(p) for p in latest.values()])
    with registered(con, "_pages_batch", table):
        if any(p.origin != "live" for p in latest.values()) or _stored_captures(con, list(latest)):
            _keep_history(con, now)
        # One row per URL (``pages`` has no key index, see schema version 6): the stored row a page
        # replaces is deleted first; a stored page newer than the batch's capture stays.
        con.execute("DELETE FROM pages p USING _pages_batch b WHERE p.url = b.url AND (" + _OLDER + ") IS NOT TRUE")
        written = con.execute(
            f"INSERT INTO pages ({', '.join(_PAGES.names)}) SELECT b.* FROM _pages_batch b "
            "WHERE NOT EXISTS (SELECT 1 FROM pages p WHERE p.url = b.url)"
        ).fetchall()
    return int(written[0][0]) if written and written[0] else len(latest)


# A batch row (b) is an older capture than the stored page (p): it goes to history instead.
_OLDER = "b.origin <> 'live' AND b.captured_at < p.captured_at"
_HISTORY_COLUMNS = ("url", "site", "kind", "status", "origin", "captured_at", "capture_source", "record_id",
                    "content_type", "sha256", "size", "encoding", "body")


def _into_history(con: duckdb.DuckDBPyConnection, pages: list[StoredPage], superseded: dict) -> None:
    schema = arrow_schema("page_history")
    rows = [tuple(getattr(p, c) for c in _HISTORY_COLUMNS) + (superseded.get(p.url),) for p in pages
            if p.captured_at is not None and p.body is not None]
    with registered(con, "_history_batch", arrow_rows(schema, rows)):
        con.execute("INSERT OR IGNORE INTO page_history SELECT * FROM _history_batch")


def _stored_captures(con: duckdb.DuckDBPyConnection, urls: list[str]) -> bool:
    """Whether any of these URLs is stored from an archive or a file (so replacing it keeps history)."""
    return bool(con.execute(
        "SELECT count(*) FROM pages WHERE origin <> 'live' AND url IN (SELECT unnest(?::VARCHAR[]))", [urls],
    ).fetchall()[0][0])


def _keep_history(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    cols = ", ".join(_HISTORY_COLUMNS)
    # Older captures arriving: into history, superseded by the stored page.
    con.execute(
        f"INSERT OR IGNORE INTO page_history ({cols}, superseded_at) "
        f"SELECT {', '.join('b.' + c for c in _HISTORY_COLUMNS)}, p.captured_at FROM _pages_batch b "
        f"JOIN pages p ON p.url = b.url WHERE {_OLDER} AND b.sha256 IS DISTINCT FROM p.sha256"
    )
    # Stored pages about to be replaced by a later capture of other content: into history.
    con.execute(
        f"INSERT OR IGNORE INTO page_history ({cols}, superseded_at) "
        f"SELECT {', '.join('p.' + c for c in _HISTORY_COLUMNS)}, ? FROM pages p "
        f"JOIN _pages_batch b ON p.url = b.url "
        f"WHERE (b.origin <> 'live' OR p.origin <> 'live') AND NOT ({_OLDER}) "
        "AND p.sha256 IS DISTINCT FROM b.sha256 AND p.body IS NOT NULL AND p.captured_at IS NOT NULL",
        [now],
    )


def touch_pages(con: duckdb.DuckDBPyConnection, urls: Iterable[str], fetched_at: datetime | None = None) -> None:
    """Record that stored pages were confirmed unchanged (a 304): only ``fetched_at`` moves."""
    urls = list(dict.fromkeys(urls))
    if not urls:
        return
    when = fetched_at or datetime.now(timezone.utc)
    con.execute(
        "UPDATE pages SET fetched_at = ? WHERE url IN (SELECT unnest(?::VARCHAR[]))",
        [when, urls],
    )


def conditional_headers_many(con: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
    """Validators for many URLs at once (URLs never stored are absent from the result)."""
    urls = list(dict.fromkeys(urls))
    if not urls:
        return {}
    rows = con.execute(
        "SELECT url, etag, last_modified FROM pages "
        "WHERE body IS NOT NULL AND url IN (SELECT unnest(?::VARCHAR[]))",
        [urls],
    ).fetchall()
    return {u: (e, lm) for u, e, lm in rows}


def decode_body(body: bytes | None, encoding: str | None) -> bytes:
    if body is None:
        raise PageNotStored("page has no stored body")
    if encoding == "zlib":
        return zlib.decompress(body)
    if encoding in (None, "identity"):
        return bytes(body)
    raise ValueError(f"unknown page encoding {encoding!r}")
