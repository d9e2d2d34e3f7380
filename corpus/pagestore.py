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
import zlib
from contextlib import contextmanager
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa

COMPRESSION_LEVEL = 3

_COLUMNS = (
    "url",
    "site",
    "kind",
    "status",
    "final_url",
    "fetched_at",
    "etag",
    "last_modified",
    "content_type",
    "sha256",
    "size",
    "encoding",
    "companion_url",
    "body",
)

_ARROW_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("site", pa.string()),
        ("kind", pa.string()),
        ("status", pa.int32()),
        ("final_url", pa.string()),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
        ("etag", pa.string()),
        ("last_modified", pa.string()),
        ("content_type", pa.string()),
        ("sha256", pa.string()),
        ("size", pa.int64()),
        ("encoding", pa.string()),
        ("companion_url", pa.string()),
        ("body", pa.binary()),
    ]
)


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


@contextmanager
def registered(con, name: str, table: pa.Table):
    """Expose an Arrow table to SQL as ``name`` for the duration of the block.

    DuckDB refuses to register while a previous ``execute`` result is only
    partly fetched, so that result is completed first.
    """
    con.complete()
    con.register(name, table)
    try:
        yield name
    finally:
        con.unregister(name)


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


def store_pages(con, pages: Iterable[StoredPage]) -> int:
    """Write many pages in one statement (last one wins for a repeated URL).

    Returns the number of rows written.
    """
    latest: dict[str, StoredPage] = {}
    for page in pages:
        latest[page.url] = page
    if not latest:
        return 0
    rows = list(latest.values())
    table = pa.table(
        {name: [getattr(p, name) for p in rows] for name in _COLUMNS},
        schema=_ARROW_SCHEMA,
    )
    with registered(con, "_pages_batch", table):
        con.execute(
            f"INSERT OR REPLACE INTO pages ({', '.join(_COLUMNS)}) "
            f"SELECT {', '.join(_COLUMNS)} FROM _pages_batch"
        )
    return len(rows)


def store_page(
    con,
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
    """Store one page (replacing any earlier copy of the same URL) and return its row."""
    page = make_page(
        url=url,
        site=site,
        kind=kind,
        status=status,
        final_url=final_url,
        headers=headers,
        body=body,
        fetched_at=fetched_at,
        companion_url=companion_url,
    )
    store_pages(con, [page])
    return page


def touch_pages(con, urls: Iterable[str], fetched_at: datetime | None = None) -> None:
    """Record that stored pages were confirmed unchanged (a 304): only ``fetched_at`` moves."""
    urls = list(dict.fromkeys(urls))
    if not urls:
        return
    when = fetched_at or datetime.now(timezone.utc)
    con.execute(
        "UPDATE pages SET fetched_at = ? WHERE url IN (SELECT unnest(?::VARCHAR[]))",
        [when, urls],
    )


def conditional_headers(con, url: str) -> tuple[str | None, str | None]:
    """The (ETag, Last-Modified) stored for ``url``, for a conditional re-fetch."""
    row = con.execute(
        "SELECT etag, last_modified FROM pages WHERE url = ? AND body IS NOT NULL", [url]
    ).fetchall()
    if not row:
        return (None, None)
    return (row[0][0], row[0][1])


def conditional_headers_many(con, urls: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
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


def load_page(con, url: str) -> bytes:
    """The uncompressed body stored for ``url``; ``PageNotStored`` if there is none."""
    rows = con.execute("SELECT body, encoding FROM pages WHERE url = ?", [url]).fetchall()
    if not rows or rows[0][0] is None:
        raise PageNotStored(f"no stored page for {url}")
    return decode_body(rows[0][0], rows[0][1])


def load_pages(con, urls: Iterable[str]) -> dict[str, bytes]:
    """Uncompressed bodies for many URLs (URLs with no stored body are absent)."""
    urls = list(dict.fromkeys(urls))
    if not urls:
        return {}
    rows = con.execute(
        "SELECT url, body, encoding FROM pages "
        "WHERE body IS NOT NULL AND url IN (SELECT unnest(?::VARCHAR[]))",
        [urls],
    ).fetchall()
    return {u: decode_body(b, e) for u, b, e in rows}
