"""The raw page store: every page fetched or imported, compressed, in ``pages``.

Keeping the raw bytes means the tables can be rebuilt with a better parser at any
time (``corpus reparse``) without asking the site again, and the validators
(ETag, Last-Modified) let a re-fetch be conditional.

Bodies are stored zlib-compressed (``encoding = 'zlib'``); ``sha256`` and
``size`` describe the *uncompressed* bytes.  Writes are set-based: a batch of
pages becomes one Arrow table and one ``INSERT OR REPLACE`` statement.
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
) -> StoredPage:
    """Build the row for one page: compress the body, hash it, keep the validators."""
    if fetched_at is None:
        fetched_at = datetime.now(timezone.utc)
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
        etag=_header(headers, "etag"),
        last_modified=_header(headers, "last-modified"),
        content_type=_header(headers, "content-type"),
        sha256=sha,
        size=size,
        encoding=encoding,
        companion_url=companion_url,
        body=stored,
    )


def store_pages(con: duckdb.DuckDBPyConnection, pages: Iterable[StoredPage]) -> int:
    """Write many pages in one statement (last one wins for a repeated URL).

    Returns the number of rows written.
    """
    latest: dict[str, StoredPage] = {}
    for page in pages:
        latest[page.url] = page
    if not latest:
        return 0
    table = arrow_rows(_PAGES, [_row(p) for p in latest.values()])
    with registered(con, "_pages_batch", table):
        con.execute(f"INSERT OR REPLACE INTO pages ({', '.join(_PAGES.names)}) SELECT * FROM _pages_batch")
    return len(latest)


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
