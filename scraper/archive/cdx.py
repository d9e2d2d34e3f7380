"""The CDX index APIs of Wayback-compatible archives: where they are, what to ask, how to read the answer.

Two dialects, one reading:

* the Internet Archive's CDX server (``/cdx/search/cdx``, replay under ``/web/``;
  documented in ``internetarchive/wayback``, ``wayback-cdx-server/README.md``):
  ``output=json`` answers one JSON array whose first row names the fields
  (``urlkey, timestamp, original, mimetype, statuscode, digest, length``);
  ``limit=-N`` asks for the last N captures; ``showResumeKey=true`` adds an empty
  row and a resumption key when more remain;
* pywb (the UK Web Archive, Arquivo.pt and other archives; ``/<collection>/cdx``,
  replay under ``/<collection>/``): CDXJ lines (``urlkey timestamp {json}``), or
  with ``output=json`` one JSON object per line (fields ``url, mime, status ...``);
  ``sort=reverse`` with ``limit=N`` gives the latest N.

``parse_cdx`` reads any of these (and the plain space-separated CDX lines);
``ArchiveEndpoint`` builds the query and replay URLs.  Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from urllib.parse import urlencode, urlsplit

from scraper.errors import InvalidInput

__all__ = [
    "ArchiveEndpoint",
    "CdxPage",
    "CdxRow",
    "CdxUnreadable",
    "Dialect",
    "parse_cdx",
    "parse_endpoint",
]

# How many of a URL's latest captures one lookup reads (newest first) to find a usable one.
LOOKUP_DEPTH = 10

_FIELD_NAMES = {
    "original": "url", "url": "url",
    "timestamp": "timestamp",
    "mimetype": "mime", "mime": "mime",
    "statuscode": "status", "status": "status",
    "digest": "digest",
    "length": "length",
    "urlkey": "urlkey",
}


class CdxUnreadable(ValueError):
    """An archive's CDX answer is not in any CDX format."""


class Dialect(StrEnum):
    IA = "ia"  # the Internet Archive's CDX server
    PYWB = "pywb"  # pywb's per-collection CDX API


@dataclass(frozen=True, slots=True)
class CdxRow:
    """One capture as the index lists it."""

    url: str
    timestamp: str  # 14 digits, UTC
    status: int | None = None  # None for '-' (a revisit, or a record without a status)
    mime: str | None = None
    digest: str | None = None
    length: int | None = None

    @property
    def captured_at(self) -> datetime:
        return datetime.strptime(self.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)

    @property
    def is_revisit(self) -> bool:
        return (self.mime or "").lower() == "warc/revisit"


@dataclass(slots=True)
class CdxPage:
    rows: list[CdxRow] = field(default_factory=list)
    resume_key: str | None = None  # IA's resumption key, when the answer was cut by ``limit``


def _timestamp(text: str) -> str | None:
    text = text.strip()
    if not text.isdigit() or not 4 <= len(text) <= 14:
        return None
    text = text.ljust(14, "0")
    try:
        datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return text


def _row(values: dict[str, str]) -> CdxRow | None:
    fields = {_FIELD_NAMES[k]: v for k, v in values.items() if k in _FIELD_NAMES and v is not None}
    url, stamp = fields.get("url"), _timestamp(str(fields.get("timestamp", "")))
    if not url or stamp is None:
        return None
    status_text = str(fields.get("status", "")).strip()
    length_text = str(fields.get("length", "")).strip()
    return CdxRow(
        url=str(url),
        timestamp=stamp,
        status=int(status_text) if status_text.isdigit() else None,
        mime=(str(fields["mime"]) or None) if "mime" in fields else None,
        digest=(str(fields["digest"]) or None) if "digest" in fields else None,
        length=int(length_text) if length_text.isdigit() else None,
    )


def _ia_json(data: list) -> CdxPage:
    page = CdxPage()
    if not data:
        return page
    header = data[0]
    if not isinstance(header, list) or not all(isinstance(h, str) for h in header):
        raise CdxUnreadable("the JSON answer has no header row naming its fields")
    rest = data[1:]
    for i, item in enumerate(rest):
        if item == []:  # after an empty row comes the resumption key
            tail = rest[i + 1] if i + 1 < len(rest) else None
            if isinstance(tail, list) and tail and isinstance(tail[0], str):
                page.resume_key = tail[0]
            break
        if isinstance(item, list) and len(item) == len(header):
            row = _row(dict(zip(header, (str(v) for v in item))))
            if row is not None:
                page.rows.append(row)
    return page


def _text_line(line: str) -> CdxRow | None:
    if line.startswith("{"):
        obj = json.loads(line)
        return _row({k: str(v) for k, v in obj.items()}) if isinstance(obj, dict) else None
    parts = line.split(" ", 2)
    if len(parts) == 3 and parts[2].startswith("{"):  # CDXJ: urlkey timestamp {json}
        obj = json.loads(parts[2])
        if not isinstance(obj, dict):
            return None
        return _row({**{k: str(v) for k, v in obj.items()}, "urlkey": parts[0], "timestamp": parts[1]})
    cols = line.split()
    if len(cols) >= 7:  # urlkey timestamp original mimetype statuscode digest [redirect meta] length ...
        return _row({"urlkey": cols[0], "timestamp": cols[1], "original": cols[2], "mimetype": cols[3],
                     "statuscode": cols[4], "digest": cols[5]})
    return None


def parse_cdx(body: bytes | str) -> CdxPage:
    """The captures listed in a CDX answer, in the order given.  Raises ``CdxUnreadable``.

    Rows that cannot be read (no URL, a timestamp that is not a date) are left out.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    stripped = text.strip()
    if not stripped:
        return CdxPage()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise CdxUnreadable(f"the JSON answer cannot be read ({exc.msg} at character {exc.pos})") from None
        if not isinstance(data, list):
            raise CdxUnreadable("the JSON answer is not a list of rows")
        return _ia_json(data)
    page = CdxPage()
    lines = stripped.splitlines()
    readable = False
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            # IA's plain output: a blank line, then the resumption key
            if i + 1 < len(lines) and lines[i + 1].strip():
                page.resume_key = lines[i + 1].strip()
            break
        try:
            row = _text_line(line)
        except json.JSONDecodeError:
            row = None
        if row is not None:
            page.rows.append(row)
            readable = True
    if not readable and lines and page.resume_key is None:
        raise CdxUnreadable(f"no CDX rows in the answer (it begins {stripped[:60]!r})")
    return page


@dataclass(frozen=True, slots=True)
class ArchiveEndpoint:
    """A Wayback-compatible archive: ``base`` is the prefix its replay URLs start with."""

    base: str  # e.g. https://web.archive.org/web, https://www.webarchive.org.uk/wayback/archive
    dialect: Dialect

    @property
    def host_site(self) -> str:
        """``scheme://host[:port]``: the one host every request to this archive goes to."""
        parts = urlsplit(self.base)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def name(self) -> str:
        """How provenance names the archive: its base URL."""
        return self.base

    @property
    def cdx_endpoint(self) -> str:
        if self.dialect is Dialect.IA:
            return f"{self.host_site}/cdx/search/cdx"
        return f"{self.base}/cdx"

    def replay_url(self, timestamp: str, url: str) -> str:
        """The raw capture (``id_``: the body as recorded, links not rewritten, no banner)."""
        return f"{self.base}/{timestamp}id_/{url}"

    def lookup_url(self, url: str, depth: int = LOOKUP_DEPTH) -> str:
        """The CDX query for the latest ``depth`` captures of exactly ``url`` (any status)."""
        if self.dialect is Dialect.IA:
            params = [("url", url), ("output", "json"), ("limit", f"-{depth}"), ("fastLatest", "true")]
        else:
            params = [("url", url), ("output", "json"), ("sort", "reverse"), ("limit", str(depth))]
        return f"{self.cdx_endpoint}?{urlencode(params)}"

    def prefix_url(self, prefix: str, limit: int, resume_key: str | None = None) -> str:
        """The CDX query for 200 captures of URLs starting with ``prefix`` (one row per URL on IA)."""
        if self.dialect is Dialect.IA:
            params = [("url", prefix), ("matchType", "prefix"), ("output", "json"), ("collapse", "urlkey"),
                      ("filter", "statuscode:200"), ("limit", str(limit)), ("showResumeKey", "true")]
            if resume_key:
                params.append(("resumeKey", resume_key))
        else:
            params = [("url", prefix), ("matchType", "prefix"), ("output", "json"), ("filter", "status:200"),
                      ("limit", str(limit))]
        return f"{self.cdx_endpoint}?{urlencode(params)}"


def parse_endpoint(text: str, dialect: str | Dialect | None = None) -> ArchiveEndpoint:
    """Read an ``--archive`` URL.  Raises ``InvalidInput`` (subject ``archive``).

    Give the prefix the archive's replay URLs start with.  A bare host, or a
    host with ``/web`` (``https://web.archive.org``), is the Internet Archive's
    layout; a path names a pywb collection (``http://localhost:8080/my-coll``,
    ``https://www.webarchive.org.uk/wayback/archive``, ``https://arquivo.pt/wayback``).
    ``dialect`` overrides the guess.
    """
    raw = (text or "").strip()
    example = "e.g. https://web.archive.org or http://localhost:8080/my-collection"
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"archive {raw!r} is not an http(s) URL; give the archive's address, {example}",
                           subject="archive")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise InvalidInput(f"archive {raw!r} has an invalid host or port; {example}", subject="archive") from None
    if not host or parts.username or parts.password:
        raise InvalidInput(f"archive {raw!r} needs a host and no user name or password; {example}",
                           subject="archive")
    if parts.query or parts.fragment:
        raise InvalidInput(f"archive {raw!r} has a query or fragment; give the replay prefix only, {example}",
                           subject="archive")
    path = parts.path.rstrip("/")
    if dialect is None:
        chosen = Dialect.IA if path in ("", "/web") else Dialect.PYWB
    else:
        try:
            chosen = Dialect(str(dialect).lower())
        except ValueError:
            raise InvalidInput(f"archive dialect {dialect!r} is unknown; use 'ia' or 'pywb'",
                               subject="archive") from None
    if chosen is Dialect.IA and path in ("", "/web"):
        path = "/web"
    base = f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"
    return ArchiveEndpoint(base=base, dialect=chosen)
