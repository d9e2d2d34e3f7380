"""What a web archive holds, as typed records: ``Capture`` (a usable page) or ``Skipped`` (why not).

Whatever the archive — a WARC or WACZ file, or a Wayback-compatible server —
a recorded HTTP answer becomes a ``Capture``: the URL as captured, the capture
time, the HTTP status, headers and (decoded) body, where it was read, and the
record's id.  A record that cannot stand for the page becomes a ``Skipped``
with one ``SkipReason`` and a one-line detail, so a reader can count and report
skips without tracebacks.

``classify_url`` says what a captured URL is on an Alaveteli site (request
page, its JSON, a listing, an attachment, or something else); ``judge`` says
whether a recorded answer is usable.  Both are pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from scraper.challenges import challenge_reason
from scraper.urls import same_site_host

__all__ = [
    "Capture",
    "GONE_STATUSES",
    "WITHHELD_STATUS",
    "SkipReason",
    "Skipped",
    "UrlKind",
    "canonical_url",
    "classify_url",
    "judge",
    "slug_of",
]

# Answers that say the page is gone.  An archive's copy from before is never used in their place.
GONE_STATUSES = frozenset({404, 410})
# Alaveteli answers 403 for a hidden request (or attachment); a 403 that is a bot challenge is not one.
WITHHELD_STATUS = 403

_SLUG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
_LISTING_VIEWS = frozenset({"all", "successful", "unsuccessful", "awaiting"})


class UrlKind(StrEnum):
    """What a captured URL is on an Alaveteli site."""

    REQUEST_PAGE = "request_page"  # /request/<slug>
    REQUEST_JSON = "request_json"  # /request/<slug>.json
    LISTING = "listing"  # /body/<slug>[/<view>], /user/<slug>, /list[/<view>]
    ATTACHMENT = "attachment"  # /request/<slug>/response/<id>/attach/<part>/<name> (the original file)
    OTHER = "other"  # anything else, or another host


class SkipReason(StrEnum):
    """Why a record was not used."""

    TRUNCATED = "truncated"  # the record (or the file) ends before its declared length
    DAMAGED = "damaged"  # the record's block digest does not match its bytes
    UNREADABLE = "unreadable"  # not a WARC/WACZ, or unreadable data where a record should start
    CHALLENGE = "challenge"  # the recorded body is a bot-challenge page, not the page itself
    REVISIT_UNRESOLVED = "revisit_unresolved"  # a revisit whose original is not in the same archive
    GONE = "gone"  # the recorded answer was 404/410, or a 403 without a challenge: removed or hidden
    STATUS = "status"  # another status than 200 (a redirect, a server error...)
    TOO_LARGE = "too_large"  # the body is over the size cap
    NOT_ARCHIVED = "not_archived"  # an archive server holds no usable capture of the URL
    ARCHIVE_ERROR = "archive_error"  # an archive server's answer could not be used


@dataclass(slots=True)
class Capture:
    """One recorded HTTP answer, usable as the page it recorded."""

    url: str  # the URL as captured (WARC-Target-URI, or the CDX ``original``)
    kind: UrlKind
    captured_at: datetime  # timezone-aware, UTC
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, as the site sent them
    body: bytes = b""  # decoded (no transfer or content encoding)
    source: str = ""  # the file read, or the archive's replay URL
    member: str | None = None  # the WARC inside a WACZ
    record_id: str | None = None  # WARC-Record-ID, or the CDX digest
    revisit_of: str | None = None  # the record id of the original a revisit was resolved to


@dataclass(slots=True)
class Skipped:
    """A record that was not used, and why (``detail`` is one line)."""

    reason: SkipReason
    detail: str
    url: str | None = None
    source: str = ""
    member: str | None = None
    record_id: str | None = None
    captured_at: datetime | None = None
    kind: UrlKind | None = None


def slug_of(url: str) -> str | None:
    """The request slug of a ``/request/<slug>[.json][/...]`` URL, else None."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if len(segments) < 2 or segments[0] != "request":
        return None
    slug = segments[1].removesuffix(".json")
    return slug if _SLUG_RE.match(slug) else None


def classify_url(site: str, url: str) -> UrlKind:
    """What ``url`` is on ``site`` (any scheme: an http capture of an https site counts).  Pure."""
    if not url or not same_site_host(site, url):
        return UrlKind.OTHER
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if not segments:
        return UrlKind.OTHER
    head, rest = segments[0], segments[1:]
    if head == "request" and rest and _SLUG_RE.match(rest[0].removesuffix(".json")):
        if len(rest) == 1:
            return UrlKind.REQUEST_JSON if rest[0].endswith(".json") else UrlKind.REQUEST_PAGE
        # /request/<slug>/response/<id>/attach/<part>/<name...>; attach/html/... is a rendering, not the file
        if (len(rest) >= 6 and rest[1] == "response" and rest[2].isdigit() and rest[3] == "attach"
                and rest[4].isdigit()):
            return UrlKind.ATTACHMENT
        return UrlKind.OTHER
    if head in ("body", "user") and rest and not rest[0].endswith(".json") and _SLUG_RE.match(rest[0]):
        if len(rest) == 1 or (head == "body" and len(rest) == 2 and rest[1] in _LISTING_VIEWS):
            return UrlKind.LISTING
        return UrlKind.OTHER
    if head == "list" and (not rest or (len(rest) == 1 and rest[0] in _LISTING_VIEWS | {"recent"})):
        return UrlKind.LISTING
    return UrlKind.OTHER


def canonical_url(site: str, url: str, kind: UrlKind) -> str:
    """The URL the corpus keys a captured page by: on ``site``'s scheme and host.

    A request page or its JSON loses its query and fragment (``?unfold=1``,
    ``#incoming-3`` show the same thread); other kinds keep their query, which
    chooses the listing page or the attachment.
    """
    parts = urlsplit(url)
    path = parts.path or "/"
    if kind in (UrlKind.REQUEST_PAGE, UrlKind.REQUEST_JSON):
        return f"{site}{path}"
    return f"{site}{path}" + (f"?{parts.query}" if parts.query else "")


def judge(status: int, headers: dict[str, str], body: bytes | None) -> tuple[SkipReason, str] | None:
    """Why a recorded answer cannot stand for its page, or None when it can.  Pure.

    ``headers`` have lower-case names.  A challenge is recognised as the live
    fetcher recognises it (``scraper.challenges.challenge_reason``), whatever the
    status.  A 403 that is not a challenge is what Alaveteli answers for a
    hidden request or attachment, so it counts as gone, like a 404 or 410.
    """
    reason = challenge_reason(status, headers, body)
    if reason:
        return SkipReason.CHALLENGE, f"the recorded answer is a bot challenge, not the page ({reason})"
    if status in GONE_STATUSES:
        return SkipReason.GONE, f"the recorded answer is HTTP {status}: the page had been removed"
    if status == WITHHELD_STATUS:
        return SkipReason.GONE, "the recorded answer is HTTP 403 without a bot challenge: the page had been hidden"
    if status != 200:
        return SkipReason.STATUS, f"the recorded answer is HTTP {status}, not a page"
    return None
