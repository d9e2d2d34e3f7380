"""Parse an Alaveteli request thread page (+ its JSON) into a ParsedRequest (pure).

One Lexbor parse per page; every lookup is a CSS query scoped to the smallest
subtree that holds it.  Six markup eras are read, each learnt from
Alaveteli's templates (``app/views/request/``) at its release tags; the
``markup_era`` of a page is the newest whose marks it carries:

* ``2009-2011`` (to release 0.4): correspondence blocks with no direction
  class, ``div#request_main``, ``h2`` headers holding the sender lines and a
  date as words, ``p.attachment`` items, ``p#request_status.icon_<status>``;
* ``2011-2014`` (0.4-0.17): ``div.incoming.correspondence`` and
  ``div#left_column``, otherwise as above (WhatDoTheyKnow's 2012 threads);
* ``2014-2016`` (0.18-0.25): the same blocks with ``<time datetime>`` in the
  ``h2`` (date, time and UTC offset);
* ``2016-2018`` (0.26-0.31): ``div.correspondence__header__from``,
  ``ul.list-of-attachments``, ``div.request-header`` and the status box;
* ``2019`` (0.32-0.41): ``span.correspondence__header__author``,
  ``js-collapsable``, bodies as bare ``<p><p>…</p></p>``;
* ``current`` (0.42 onwards): the body wrapped in ``div#attachment-<id>``,
  ``li#attachment-<database id>``, later ``js-collapsible`` and links by
  url_title.

Structure is read from classes, ids, links and ``<time>`` elements, never from
English sentences, so translated sites parse alike; what only words say (the
law in the subtitle, an external requester's name) is left unknown on pages
not in English rather than guessed.

``parse_request`` never raises on bad input: it returns a ``ParseFailure``
whose ``kind`` says what was wrong (see ``scraper.records.ParseErrorKind``).
A page either parses completely (ids, directions, times, senders, bodies,
attachments with their parts, annotations, status, authority, requester) or
fails with ``markup_changed`` ("unrecognised markup: …") naming what was
missing; it is never returned half-read.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from datetime import date, datetime
from functools import lru_cache
from types import ModuleType
from typing import NamedTuple

from selectolax.lexbor import LexborHTMLParser, LexborNode, create_tag

from scraper.pages.depth import too_deep
from scraper.pages.errors import classify_page
from scraper.pages.request_json import RequestJson, parse_request_json
from scraper.pages.speedups import LEXWALK, request_ids, utf8_valid
from scraper.pages.text import (
    TEXT_TAG_ID,
    block_text,
    inline_text,
    parse_date_text,
    parse_iso_date,
    parse_iso_datetime,
)
from scraper.records import (
    Annotation,
    Attachment,
    Message,
    ParsedRequest,
    ParseFailure,
    ParseWarning,
    Person,
)

__all__ = ["parse_request", "INTERNAL_ERROR_PREFIX", "MAX_ID", "MAX_PART"]

INTERNAL_ERROR_PREFIX = "internal parser error"
MAX_ID = 2**63 - 1  # ids are BIGINT in every Alaveteli database (and in the corpus)
MAX_PART = 2**31 - 1  # url_part_number is a small INTEGER

_ITEM_ID = re.compile(r"^(incoming|outgoing|comment)-(\d+)$")
_SLUG_IN_URL = re.compile(r"/request/([A-Za-z0-9_\-]+)")
_USER_HREF = re.compile(r"/user/([^/?#]+)")
_BODY_HREF = re.compile(r"/body/([^/?#]+)")
_BATCH_HREF = re.compile(r"/info_request_batch/(\d+)")
_FIRST_NUMBER = re.compile(r"\d+")
_LAW = re.compile(r"(Freedom of Information|Environmental Information Regulations) request")
_NUMERIC_ID_URL = re.compile(rb"/request/(\d+)/(?:response|followups|report)/")
_NUMERIC_ID_URL_STR = re.compile(r"/request/([0-9]+)/(?:response|followups|report)/")  # the same, on str
_HEADER_BYTES = 96 * 1024  # the header and action menu sit well inside this
_FOI_MASK = re.compile(rb"\[FOI #(\d+) email\]")
_ATTACH_PART = re.compile(r"/attach/(?:html/)?(\d+)/")
# icon_application_pdf_large.png, icon_application_pdf_large-<digest>.png,
# content_type/icon_text_csv_large-<digest>.png, icon_unknown.png, icon_unknown-<digest>.png
_ICON = re.compile(r"(?:^|/)icon_(.+?)(?:_large)?(?:-[0-9a-f]{6,})?\.(?:png|gif|svg|jpe?g)(?:$|[?#])")
_STATUS_CLASS = "request-status-message--"
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
_LABEL = re.compile(r"^[^\s:]{1,20}:\s+(?=\S)")  # "From: " before an old-layout sender line
_PARENTHESISED = re.compile(r"\(([^()]*)\)\s*$")
_PLACEHOLDER = re.compile(
    r"^\[\s*(?:Email has no body, please see attachments|This message has been erased\.?)\s*\]$"
    r"|^This message has been erased\.$",
    re.IGNORECASE,
)
# Where quoted text starts in an unfolded body (the page marks no boundary):
# the usual reply separators of mail clients.
_QUOTE_START = re.compile(
    r"^(?:-{2,}\s*Original Message\s*-{2,}"
    r"|_{10,}"
    r"|From: .+\n(?:Sent|Date): "
    r"|On .{4,200}wrote:$"
    r"|>)",
    re.IGNORECASE | re.MULTILINE,
)


def parse_request(
    html: bytes,
    json_bytes: bytes | None = None,
    *,
    url: str | None = None,
) -> ParsedRequest | ParseFailure:
    """Parse a request page (and optionally its ``.json``) into records.

    ``url`` is where the page came from; it supplies ``url_title`` when the
    page itself does not show it.  Never raises on bad input.  JSON that
    cannot be used (unreadable, an id out of range, a lone surrogate, or the
    JSON of another request) is left out: the page is parsed alone, ``has_json``
    stays false and a ``bad_json`` warning says why.
    """
    try:
        return _parse(html, json_bytes, url)
    except _Unrecognised as exc:
        return ParseFailure(exc.kind, exc.message, _slug_from_url(url))
    except Exception as exc:  # a bug, not bad input: report it without stopping a run
        slug = _slug_from_url(url)
        return ParseFailure(
            "markup_changed",
            f"{INTERNAL_ERROR_PREFIX} ({type(exc).__name__}: {exc}); report this page to the maintainers",
            slug,
        )


class _Unrecognised(Exception):
    """Raised deep in the walk; becomes a typed ParseFailure."""

    def __init__(self, message: str, kind: str = "markup_changed") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _unrecognised(layout: str, what: str) -> _Unrecognised:
    """``layout`` is where the header sits: ``header`` (div.request-header, 2016 on) or ``column`` (before)."""
    return _Unrecognised(f"unrecognised markup ({layout} layout): {what}; the site's markup may have changed")


def _check_range(value: int, what: str, limit: int = MAX_ID) -> int:
    if value > limit:
        digits = str(value)
        shown = digits if len(digits) <= 30 else digits[:27] + "..."
        largest = "2^63-1, the largest id a site's database holds" if limit == MAX_ID else "2^31-1, the largest part number"
        raise _Unrecognised(f"{what} {shown} is beyond {largest}; the page is not loaded", "out_of_range")
    return value


# ----------------------------------------------------------------- pre-checks


def _slug_from_url(url: str | None) -> str | None:
    if not url:
        return None
    m = _SLUG_IN_URL.search(url)
    if m is None or m.group(1).isdigit():
        return None
    slug = m.group(1)
    return slug[:-5] if slug.endswith(".json") else slug


def _check_bytes(html: bytes, slug: str | None) -> ParseFailure | bytes:
    """The page as UTF-8 bytes, or the failure that says why it cannot be read."""
    if not isinstance(html, (bytes, bytearray, memoryview)):
        return ParseFailure("empty", f"expected page bytes, got {type(html).__name__}; pass the raw response body", slug)
    if not isinstance(html, bytes):
        html = bytes(html)
    if not html or html.isspace():
        return ParseFailure("empty", "page is empty; fetch it again", slug)
    head = html[:4096]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head.count(b"\x00") > len(head) // 8:
        return ParseFailure(
            "encoding",
            "page bytes look like UTF-16 (BOM or NUL bytes); re-save the page as UTF-8",
            slug,
        )
    if utf8_valid(html):
        return html
    try:
        html.decode("utf-8")
    except UnicodeDecodeError as exc:
        transcoded = _declared_charset(html)
        if transcoded is not None:
            return transcoded
        return ParseFailure(
            "encoding",
            f"page bytes are not valid UTF-8 (byte 0x{html[exc.start]:02x} at offset {exc.start}, "
            "perhaps latin-1 or random data) and declare no other charset; re-save the page as UTF-8",
            slug,
        )
    return html


def _declared_charset(html: bytes) -> bytes | None:
    """A page saved in the legacy charset its own <meta> declares, re-encoded as UTF-8."""
    m = _CHARSET.search(html[:4096])
    if m is None:
        return None
    try:
        codec = codecs.lookup(m.group(1).decode("ascii"))
    except (LookupError, UnicodeDecodeError):
        return None
    if codec.name in ("utf-8", "utf-8-sig") or "utf-16" in codec.name or "utf-32" in codec.name:
        return None
    try:
        return html.decode(codec.name).encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None


def _looks_truncated(html: bytes) -> bool:
    tail = html[-8192:].rstrip()
    # Web-archive copies append comments after </html> ("FILE ARCHIVED ON ...").
    while tail.endswith(b"-->"):
        start = tail.rfind(b"<!--")
        if start < 0:
            break
        tail = tail[:start].rstrip()
    tail = tail[-2048:].lower()
    return b"</html>" not in tail and b"</body>" not in tail


# ----------------------------------------------------------------- main parse


def _parse(html: bytes, json_bytes: bytes | None, url: str | None) -> ParsedRequest | ParseFailure:
    slug = _slug_from_url(url)
    checked = _check_bytes(html, slug)
    if isinstance(checked, ParseFailure):
        return checked
    html = checked
    if html.startswith(b"\xef\xbb\xbf"):
        html = html[3:]

    kind = classify_page(html)
    if kind == "challenge":
        return ParseFailure("challenge", "a bot-challenge page came back instead of the request; back off and retry later", slug)
    if kind == "hidden":
        return ParseFailure("error_page", "the site says 'Request has been removed' (hidden or requester-only request); nothing to parse", slug)
    if kind == "error_page":
        return ParseFailure("error_page", "the site's error page (not found / server error) came back; check the URL", slug)
    deep = too_deep(html)
    if deep is not None:
        return ParseFailure("too_deep", deep, slug)

    tree = LexborHTMLParser(html)
    show = tree.css_first("#request_show")
    scope = show if show is not None else tree.root
    if scope is None:
        return ParseFailure("markup_changed", "the page has no document element", slug)
    found = _layout(scope, html)
    if isinstance(found, ParseFailure):
        if found.kind == "markup_changed" and _looks_truncated(html):
            return ParseFailure("truncated", "page is cut short (no closing </html>); fetch it again", slug)
        return ParseFailure(found.kind, found.message, slug)
    h1, subtitle, status_box, left, layout = found
    if _looks_truncated(html):
        return ParseFailure("truncated", "page is cut short (no closing </html>); fetch it again", slug)

    lang = _lang(tree)
    english = lang is None or lang.lower().startswith("en")
    warnings: list[ParseWarning] = []
    meta = _meta(tree)
    page_slug = _page_slug(tree, meta, left)
    if page_slug is None:
        page_slug = slug
        if slug is None:
            warnings.append(ParseWarning("other", "page shows no url_title and no URL was given"))

    req = ParsedRequest(url_title=page_slug or "", title=inline_text(h1))
    req.warnings = warnings
    req.lang = lang
    req.created_at = parse_iso_datetime(meta.get("article:published_time"))
    req.updated_at = parse_iso_datetime(meta.get("article:modified_time"))
    try:
        _read_subtitle(subtitle, req, english, layout)
        _read_status(status_box, req, layout)
        req.hidden = scope.css_first("p#hidden_request") is not None
        wrapped = _read_thread(left, req, layout, old=b"correspondence__header__author" not in html)
        req.markup_era = _era_name(html, layout, wrapped, req)
        req.request_id = _page_request_id(html, req.messages, warnings)
    except _Unrecognised as exc:
        return ParseFailure(exc.kind, exc.message, req.url_title or slug)

    if json_bytes is not None:
        parsed = parse_request_json(json_bytes)
        if isinstance(parsed, ParseFailure):
            # The page stands alone: has_json stays false and the warning says why.
            warnings.append(ParseWarning("bad_json", f"JSON ignored: {parsed.message}"))
        elif parsed.url_title and req.url_title and parsed.url_title != req.url_title:
            warnings.append(ParseWarning(
                "bad_json",
                f"JSON ignored: it is for {parsed.url_title!r}, the page for {req.url_title!r}; give each page its own JSON",
            ))
        else:
            _merge_json(req, parsed)
    if not req.url_title:
        return ParseFailure("markup_changed", "no url_title on the page, in the JSON or in the URL; pass url=", None)
    return req


def _layout(scope: LexborNode, html: bytes):
    """(h1, subtitle, status box, thread column, header style) or the failure saying what is missing.

    Since December 2016 the title, subtitle and status sit in
    ``div.request-header``; before, they open the thread column
    (``div#left_column``, ``div#request_main`` until 2011).
    """
    header = scope.css_first("div.request-header")
    if header is not None:
        h1 = header.css_first("h1")
        subtitle = header.css_first("p.request-header__subtitle")
        left = scope.css_first("#left_column")
        if h1 is None or subtitle is None:
            return ParseFailure("markup_changed", "unrecognised markup: request header lacks its h1 title or "
                                "p.request-header__subtitle; the site's markup may have changed")
        if left is None:
            return ParseFailure("markup_changed", "unrecognised markup: request page has no #left_column thread; "
                                "the site's markup may have changed")
        return h1, subtitle, header.css_first("#request_status"), left, "header"
    left = scope.css_first("#left_column") or scope.css_first("#request_main")
    if left is not None:
        h1 = left.css_first("h1")
        subtitle = left.css_first("p.subtitle")
        if h1 is not None and subtitle is not None:
            return h1, subtitle, left.css_first("#request_status"), left, "column"
    if _looks_truncated(html):
        return ParseFailure("truncated", "page ends before the request header (no </html>); fetch it again")
    if left is not None or b"correspondence" in html or scope.css_first("#request_status") is not None:
        return ParseFailure(
            "markup_changed",
            "unrecognised markup: request page has neither div.request-header (2016 onwards) nor an h1 title and "
            "p.subtitle opening #left_column (earlier); the site's markup may have changed",
        )
    return ParseFailure("not_request", "page is not a request thread (no #request_show / request header); check the URL")


def _lang(tree: LexborHTMLParser) -> str | None:
    root = tree.root
    if root is None:
        return None
    lang = (root.attributes.get("lang") or root.attributes.get("xml:lang") or "").strip()
    return lang or None


def _era_name(html: bytes, header: str, wrapped: bool, req: ParsedRequest) -> str:
    if b"js-collapsible" in html or wrapped:
        return "current"
    if b"js-collapsable" in html:
        return "2019"
    if header == "header" or b"correspondence__header" in html:
        return "2016-2018"
    timed = any(m.sent_at is not None for m in req.messages) or any(a.created_at is not None for a in req.annotations)
    if timed:
        return "2014-2016"
    if b'id="request_main"' in html or b'class="incoming correspondence' not in html and b'class="outgoing correspondence' not in html:
        return "2009-2011"
    return "2011-2014"


def _meta(tree: LexborHTMLParser) -> dict[str, str]:
    out: dict[str, str] = {}
    head = tree.head
    if head is None:
        return out
    for node in head.css("meta[property]"):
        attrs = node.attributes
        prop = attrs.get("property")
        content = attrs.get("content")
        if prop and content is not None and prop not in out:
            out[prop] = content
    return out


_JSON_LINK = re.compile(r"/request/([A-Za-z0-9_\-]+)\.json(?:$|[?#])")
_ANCHOR_LINK = re.compile(r"/request/([A-Za-z0-9_\-]+)#(?:incoming|outgoing|comment)-\d+")


def _page_slug(tree: LexborHTMLParser, meta: dict[str, str], left: LexborNode) -> str | None:
    og = meta.get("og:url")
    if og:
        m = _SLUG_IN_URL.search(og)
        if m and not m.group(1).isdigit():
            return m.group(1)
    head = tree.head
    if head is not None:
        for link in head.css('link[rel="alternate"][type="application/json"]'):
            m = _JSON_LINK.search(link.attributes.get("href") or "")
            if m and not m.group(1).isdigit():
                return m.group(1)
    cp = left.css_first("input.cplink__field")
    if cp is not None:
        m = _SLUG_IN_URL.search(cp.attributes.get("value") or "")
        if m and not m.group(1).isdigit():
            return m.group(1)
    # Before 2016: the "Link to this" links, /request/<slug>#incoming-N.
    for a in left.css('a[href*="#incoming-"], a[href*="#outgoing-"], a[href*="#comment-"]'):
        m = _ANCHOR_LINK.search(a.attributes.get("href") or "")
        if m and not m.group(1).isdigit():
            return m.group(1)
    return None


def _page_request_id(html: bytes, messages: list[Message], warnings: list[ParseWarning]) -> int | None:
    """The numeric id where the page shows it: attachment links before 2024, or
    the action-menu links (followups, report) in the header; else the
    "[FOI #n email]" mask in quoted text."""
    ids: Counter[int] = Counter()
    for msg in messages:
        for att in msg.attachments:
            url = att.download_url
            if url and "/request/" in url and (m := _NUMERIC_ID_URL_STR.search(url)):
                ids[_check_range(int(m.group(1)), "request id in an attachment link")] += 1
    for digits in request_ids(html, _HEADER_BYTES, _NUMERIC_ID_URL):
        ids[_check_range(int(digits), "request id in a header link")] += 1
    if not ids:
        too_large: set[bytes] = set()
        for digits in _foi_masks(html):
            value = int(digits)
            if value <= MAX_ID:
                ids[value] += 1
            elif digits not in too_large:
                too_large.add(digits)
                warnings.append(ParseWarning("other", f"an [FOI #… email] mask in the text carries {digits[:30].decode()}, "
                                             "too large for a request id; ignored"))
    if not ids:
        return None
    if len(ids) > 1:
        warnings.append(ParseWarning("mismatch", f"page links carry several numeric request ids {sorted(ids)}; took the most frequent"))
    return ids.most_common(1)[0][0]


def _foi_masks(html: bytes) -> list[bytes]:
    """The digits of every "[FOI #n email]" mask in the page, as ``_FOI_MASK.findall`` gives them.

    Pages hold few "[" (none in most current pages), and finding one is a
    memchr; past a few dozen the regex scans the rest (it is several times
    slower than that over a whole page, ``in`` slower still).
    """
    found: list[bytes] = []
    pos = html.find(b"[")
    for _ in range(64):
        if pos < 0:
            return found
        m = _FOI_MASK.match(html, pos)
        if m is not None:
            found.append(m.group(1))
            pos = m.end()
        else:
            pos += 1
        pos = html.find(b"[", pos)
    if pos >= 0:
        found.extend(_FOI_MASK.findall(html, pos))
    return found


def _read_subtitle(subtitle: LexborNode, req: ParsedRequest, english: bool, layout: str) -> None:
    requester: Person | None = None
    for a in subtitle.css("a"):
        href = a.attributes.get("href") or ""
        if requester is None and (m := _USER_HREF.search(href)):
            requester = Person(url_name=m.group(1), name=inline_text(a))
        elif req.authority is None and (m := _BODY_HREF.search(href)):
            req.authority = Person(url_name=m.group(1), name=inline_text(a))
        elif req.batch_id is None and (m := _BATCH_HREF.search(href)):
            req.batch_id = _check_range(int(m.group(1)), "batch id")
            size = _FIRST_NUMBER.search(inline_text(a))
            if size and int(size.group(0)) <= MAX_PART:
                req.batch_size = int(size.group(0))
    if req.authority is None:
        raise _unrecognised(layout, "the subtitle has no /body/ link naming the authority")
    text = inline_text(subtitle)
    if english:
        law = _LAW.search(text)
        if law:
            req.law = "eir" if law.group(1).startswith("Environmental") else "foi"
    if requester is None:
        req.requester_external = True
        if english:
            name = text.split(" made this ", 1)[0].strip() if " made this " in text else ""
            req.requester = Person(url_name=None, name=name or "An anonymous user")
        else:
            req.requester = None
            req.warnings.append(ParseWarning(
                "unknown_text",
                f"the requester is not a site user and the page is in {req.lang!r}: their name is only in the "
                "subtitle's words, so it is left unknown (the JSON gives it)",
            ))
    else:
        req.requester = requester
    for span in subtitle.css("span"):
        cls = span.attributes.get("class") or ""
        if "request-header__foi_no" in cls:
            # Not subject to the law: the sentence links to the help page; EIR only: no link.
            span_text = inline_text(span).lower()
            if span.css_first("a") is not None or "not subject" in span_text:
                req.authority_not_subject = True
            else:
                req.eir_only = True
        elif "request-header__restricted_correspondence" in cls:
            req.restricted_correspondence = True
        elif "request-header__closed_to_correspondence" in cls:
            req.closed_to_correspondence = True
    if not req.closed_to_correspondence and english and "closed to new correspondence" in text:
        req.closed_to_correspondence = True


def _read_status(box: LexborNode | None, req: ParsedRequest, layout: str) -> None:
    """The calculated status from the box's classes: ``request-status-message--<status>``
    (2017 onwards), ``icon_<status>`` on the box (2009-2017) or on its ``i`` icon."""
    if box is None:
        raise _unrecognised(layout, "no #request_status box, which every era since 2009 has")
    status = None
    for cls in (box.attributes.get("class") or "").split():
        if cls.startswith(_STATUS_CLASS):
            status = cls[len(_STATUS_CLASS) :] or None
        elif status is None and cls.startswith("icon_") and cls != "icon_":
            status = cls[5:]
    if status is None:
        icon = box.css_first("i[class*='icon_']")
        if icon is not None:
            for cls in (icon.attributes.get("class") or "").split():
                if cls.startswith("icon_") and cls != "icon_":
                    status = cls[5:]
    if status is None:
        raise _unrecognised(layout, "#request_status carries no status class (request-status-message--… or icon_…)")
    req.calculated_status = status
    p = box.css_first("p") if box.tag != "p" else box
    if p is None:
        return
    req.status_sentence = inline_text(p) or None
    t = p.css_first("time[datetime]")
    if t is not None:
        req.due_date = parse_iso_date(t.attributes.get("datetime"))
    else:  # before 2014 the due date is words in a <strong>
        for strong in p.css("strong"):
            day = parse_date_text(inline_text(strong))
            if day is not None:
                req.due_date = day
                break


# ----------------------------------------------------------------- thread


def _read_thread(left: LexborNode, req: ParsedRequest, layout: str, old: bool) -> bool:
    """Read every correspondence block and annotation in page order.

    Returns True when a response body sits in ``div#attachment-<id>`` (2022 onwards).
    """
    groups = _group_thread(left, old)
    seen: dict[str, Message | Annotation] = {}
    position = 0
    wrapped = False
    for node, node_id, cls, parts in groups:
        m = _ITEM_ID.match(node_id)
        if m is None:
            shown = node_id[:40] if node_id else "no id"
            raise _unrecognised(layout, f"a correspondence block has {shown!r}, not incoming-N, outgoing-N or comment-N, "
                                "so it cannot be keyed")
        kind = m.group(1)
        number = int(m.group(2))
        if number > MAX_ID:
            _check_range(number, f"{kind} id")
        earlier = seen.get(node_id)
        if earlier is not None:
            if kind == "outgoing" and isinstance(earlier, Message) and parts.plain is not None and parts.author is None:
                # A resent event re-uses the id of the message it sent again.
                earlier.resent = True
                earlier.resent_at, earlier.resent_at_text, _ = _when(parts, node_id, layout, required=False)
            else:
                req.warnings.append(ParseWarning("duplicate", f"{node_id} appears twice on the page; kept the first"))
            continue
        item: Message | Annotation
        if kind == "comment":
            item = _annotation(node, number, position, layout)
            req.annotations.append(item)
        elif kind == "incoming":
            item = _incoming(cls, number, position, parts, layout)
            wrapped = wrapped or parts.body is not None
            req.messages.append(item)
        else:
            item = _outgoing(cls, number, position, parts, layout)
            req.messages.append(item)
        seen[node_id] = item
        position += 1
    return wrapped


# One query per thread collects every part we read; results come in document
# order, so the first of each kind is the one in the header.  A node comes once
# per selector of the list it matches; only a div can open an item, so the div
# selectors stay one each (a div that matches two opens two items, as it always
# has), while the parts read from other elements share a selector per tag
# (Lexbor tests every element of the column once per selector, so fewer
# selectors cost less; a part met twice is read once anyway).  The times stay
# two descendant selectors: Lexbor reads ":is(a, h2) time" as "a time or h2
# time whose parent is the a or h2" (a time inside a span inside the h2 goes
# unmatched), which is not what CSS says.
_MESSAGE_PARTS = (
    "span:is(.correspondence__header__author, .unfold_link), a.correspondence__header__date time, h2 time, "
    "a.toggle-delivery-log, p:is(.hidden_message, #hidden_message, .event_plain, .hidden_attachment), "
    "div.correspondence_text, div.attachments, div.correspondence_text div[id]"
)
_THREAD_QUERY = "div.correspondence, div.comment_in_request, " + _MESSAGE_PARTS
# Before 2018 the sender sits in an h2 or a header "from" div, the date maybe as words.
_OLD_THREAD_QUERY = _THREAD_QUERY + (
    ", h2, a.correspondence__header__date, div.correspondence__header__from, "
    "div.correspondence__header__from--with-delivery-status"
)
_DIV, _TIME, _P, _SPAN, _A, _LI, _IMG, _EM, _H2, _BR, _STRONG = (
    create_tag(name).tag_id for name in ("div", "time", "p", "span", "a", "li", "img", "em", "h2", "br", "strong")
)


class _Parts(NamedTuple):
    """The parts of one thread item, each the first of its kind in the item (``time``: its datetime attribute).

    The field order is also the C grouping's (``_lexwalk.c``, ``enum { AUTHOR, ... }``).
    """

    author: LexborNode | None = None
    time: str | None = None
    time_node: LexborNode | None = None
    delivery: LexborNode | None = None
    hidden: LexborNode | None = None
    plain: LexborNode | None = None
    text: LexborNode | None = None
    attachments: LexborNode | None = None
    body: LexborNode | None = None
    unfold: LexborNode | None = None
    notice: LexborNode | None = None
    h2: LexborNode | None = None
    from_div: LexborNode | None = None
    date_link: LexborNode | None = None
    # Derived from the parts above when the item is complete (_finish_parts):
    body_text: str | None = None  # the body its record takes (_body_text)
    delivery_status: str | None = None  # what the delivery link says (_delivery_status)


_AUTHOR, _TIME_ATTR, _TIME_NODE, _DELIVERY, _HIDDEN, _PLAIN, _TEXT, _ATTACHMENTS, _BODY, _UNFOLD, _NOTICE, _H2_NODE, \
    _FROM_DIV, _DATE_LINK, _BODY_TEXT, _DELIVERY_STATUS = range(len(_Parts._fields))


def _thread_walker() -> ModuleType | None:
    """``_lexwalk`` when it can walk the thread: set up, and a LexborNode it makes is the node it was given."""
    if LEXWALK is None:
        return None
    probe = LexborHTMLParser("<!DOCTYPE html><div><p>walk <b>probe</b></p></div>").css_first("p")
    modes = [
        LexborHTMLParser(doctype + "<p>mode</p>").css_first("p")
        for doctype in ("<!DOCTYPE html>", "", '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
                        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">')
    ]  # no quirks, quirks, limited quirks
    if probe is None or probe.parent is None or any(node is None for node in modes):
        return None
    try:
        LEXWALK.thread_setup((_DIV, _TIME, _P, _SPAN, _A, _H2, _LI, _EM, _STRONG, _IMG), probe, tuple(node.mem_id for node in modes if node))
    except (ImportError, TypeError):  # fields kept elsewhere by this selectolax, or a stale build: Python does it
        return None
    made = LEXWALK.node_at(probe, probe.mem_id)
    same = (made.mem_id == probe.mem_id and made.tag == probe.tag and made.text() == probe.text()
            and made.parent is not None and made.parent.mem_id == probe.parent.mem_id)
    return LEXWALK if same else None


_WALKER = _thread_walker()


def _group_thread(left: LexborNode, old: bool) -> list[tuple[LexborNode, str, str, _Parts]]:
    """The thread's items in page order: (item node, its id, its class, its parts).

    The thread query (``_THREAD_QUERY``, or ``_OLD_THREAD_QUERY`` before 2018)
    returns the item blocks and the parts read from them in document order, so
    each part belongs to the item before it; a node comes once per selector it
    matches.  ``_lexwalk`` answers the query and groups its nodes in one walk
    when it is built (it declines a quirks-mode page and a class that is not
    valid UTF-8); else Lexbor's CSS query and :func:`_group_thread_python` do.
    """
    if _WALKER is not None:
        groups = _WALKER.group_thread(left, old, _Parts)
        if groups is not None:
            return groups
    return _group_thread_python(left.css(_OLD_THREAD_QUERY if old else _THREAD_QUERY))


def _group_thread_python(nodes: list[LexborNode]) -> list[tuple[LexborNode, str, str, _Parts]]:
    """:func:`_group_thread` in Python: the reference the C grouping is tested against."""
    items: list[tuple[LexborNode, str, str, list]] = []
    parts: list | None = None

    def first(which: int, value: object) -> None:
        if parts is not None and parts[which] is None:
            parts[which] = value

    for node in nodes:
        tag_id = node.tag_id
        if tag_id != _DIV and parts is None:
            continue
        attrs = node.attributes
        cls = attrs.get("class") or ""
        if tag_id == _DIV:
            tokens = cls.split()
            if "correspondence" in tokens or "comment_in_request" in tokens:
                parts = [None] * len(_Parts._fields)
                items.append((node, attrs.get("id") or "", cls, parts))
                continue
            if parts is None:
                continue
            if "correspondence_text" in cls:
                first(_TEXT, node)
            elif "attachments" in tokens:
                first(_ATTACHMENTS, node)
            elif cls.startswith("correspondence__header__from"):
                first(_FROM_DIV, node)
            elif parts[_BODY] is None and (attrs.get("id") or "").startswith("attachment-"):
                parts[_BODY] = node
        elif tag_id == _TIME:
            if parts is not None and parts[_TIME_ATTR] is None:
                parts[_TIME_ATTR] = attrs.get("datetime")
                parts[_TIME_NODE] = node  # follows the time, even while the time stays None
        elif tag_id == _P:
            if "event_plain" in cls:
                first(_PLAIN, node)
            elif "hidden_attachment" in cls:
                first(_NOTICE, node)
            elif "hidden_message" in cls or attrs.get("id") == "hidden_message":
                first(_HIDDEN, node)
        elif tag_id == _SPAN:
            if "correspondence__header__author" in cls:
                first(_AUTHOR, node)
            elif "unfold_link" in cls:
                first(_UNFOLD, node)
        elif tag_id == _A:
            if "correspondence__header__date" in cls:
                first(_DATE_LINK, node)
            else:
                first(_DELIVERY, node)
        elif tag_id == _H2:
            first(_H2_NODE, node)
    return [(node, node_id, cls, _finish_parts(node_id, _Parts(*fields))) for node, node_id, cls, fields in items]


def _finish_parts(node_id: str, parts: _Parts) -> _Parts:
    """The parts with what is derived from them once the item is complete."""
    return parts._replace(body_text=_body_text(node_id, parts), delivery_status=_delivery_status(parts.delivery))


def _body_text(node_id: str, parts: _Parts) -> str | None:
    """The body an item's record takes; None when it has no div.correspondence_text.

    An incoming message's body is its wrapper ``div#attachment-<id>`` (else its
    text div), read without its box of attachments, its fold link and its
    attachment notice; any other item's is its text div as it stands.  (The id
    decides, as the item's kind does: an id that is not ``incoming-N`` is not an
    incoming message, and one that only starts like it fails as a whole.)
    """
    if parts.text is None:
        return None
    if node_id.startswith("incoming-"):
        without = tuple(n for n in (parts.attachments, parts.unfold, parts.notice) if n is not None)
        return block_text(parts.body or parts.text, without)
    return block_text(parts.text)


def _delivery_status(delivery: LexborNode | None) -> str | None:
    """What an outgoing message's delivery link says: ``data-delivery-status``, else its
    last ``toggle-delivery-log--<status>`` class."""
    if delivery is None:
        return None
    attrs = delivery.attributes
    status = attrs.get("data-delivery-status")
    if not status:
        for cls in (attrs.get("class") or "").split():
            if cls.startswith("toggle-delivery-log--"):
                status = cls[len("toggle-delivery-log--") :]
    return status or None


def _h2_lines(h2: LexborNode) -> list[str]:
    """The h2's text split at its <br>s, each line whitespace-collapsed, empty ones dropped."""
    lines: list[str] = []
    current: list[str] = []
    for n in h2.traverse(include_text=True):
        tag_id = n.tag_id
        if tag_id == _BR:
            lines.append(" ".join("".join(current).split()))
            current = []
        elif tag_id == TEXT_TAG_ID:
            current.append(n.text_content or "")
    lines.append(" ".join("".join(current).split()))
    return [line for line in lines if line]


def _when(parts: _Parts, node_id: str, layout: str, *, required: bool) -> tuple[datetime | None, str | None, date | None]:
    """(time, its text, the date shown) for a block: the <time> (2014 onwards) or the date in words."""
    if parts.time is not None:
        when = parse_iso_datetime(parts.time)
        if when is None:
            day = parse_iso_date(parts.time)
            if day is None and required:
                raise _unrecognised(layout, f"{node_id} has a <time datetime={parts.time[:40]!r}> that is not a date")
            return None, parts.time, day
        return when, parts.time, when.date()
    words = None
    if parts.date_link is not None:
        words = inline_text(parts.date_link)
    elif parts.h2 is not None:
        lines = _h2_lines(parts.h2)
        words = lines[-1] if lines else None
    day = parse_date_text(words)
    if day is None:
        if required:
            if words:
                raise _unrecognised(layout, f"{node_id} shows its date as {words[:40]!r}, not a date in a form the parser "
                                    "reads (no <time>; English month names or ISO only)")
            raise _unrecognised(layout, f"{node_id} shows no date")
        return None, None, None
    return None, day.isoformat(), day


def _outgoing(cls: str, number: int, position: int, parts: _Parts, layout: str) -> Message:
    node_id = f"outgoing-{number}"
    if parts.plain is not None and parts.author is None and parts.from_div is None:
        # A resent / followup_resent block ("Sent request to {body} again[, using a
        # new contact address].") with no earlier copy of the message on the page.
        when, text, day = _when(parts, node_id, layout, required=True)
        return Message(
            message_id=number,
            direction="outgoing",
            position=position,
            sender=None,
            sent_at=when,
            sent_at_text=text,
            sent_on=day,
            body=block_text(parts.plain),
            resent=True,
            resent_at=when,
            resent_at_text=text,
        )
    concealed = _concealed(parts)
    when, text, day = _when(parts, node_id, layout, required=not concealed)
    msg = Message(
        message_id=number,
        direction="outgoing",
        position=position,
        sender=_sender(parts, layout),
        sent_at=when,
        sent_at_text=text,
        sent_on=day,
    )
    msg.delivery_status = parts.delivery_status
    if concealed:
        prominence = _prominence(cls)
        msg.prominence = prominence if prominence != "normal" else "hidden"
        msg.hidden_notice = inline_text(parts.hidden) or None
        return msg
    if parts.hidden is not None:  # shown to its owner or an admin, with the notice
        msg.prominence = "hidden"
        msg.hidden_notice = inline_text(parts.hidden) or None
    if parts.body_text is None:
        raise _unrecognised(layout, f"{node_id} has no div.correspondence_text body")
    msg.body = parts.body_text
    _mark_placeholder(msg)
    return msg


@lru_cache(maxsize=256)
def _prominence(cls: str) -> str:
    """The prominence an item's classes give (a thread repeats a few class lists many times)."""
    classes = cls.split()
    for cls in ("hidden", "requester_only", "normal"):
        if cls in classes:
            return cls
    return "normal"


def _concealed(parts: _Parts) -> bool:
    """A message shown only as a notice (``p#hidden_message``, since 2013), with no body."""
    return parts.text is None and parts.hidden is not None


def _incoming(cls: str, number: int, position: int, parts: _Parts, layout: str) -> Message:
    node_id = f"incoming-{number}"
    concealed = _concealed(parts)
    when, text_time, day = _when(parts, node_id, layout, required=not concealed)
    msg = Message(
        message_id=number,
        direction="incoming",
        position=position,
        sender=_sender(parts, layout),
        sent_at=when,
        sent_at_text=text_time,
        sent_on=day,
        prominence=_prominence(cls),
    )
    if parts.hidden is not None:
        msg.hidden_notice = inline_text(parts.hidden) or None
        if msg.prominence == "normal":
            msg.prominence = "hidden"
    text = parts.text
    if text is None:
        if not concealed:
            raise _unrecognised(layout, f"{node_id} has no div.correspondence_text body")
        if msg.prominence == "normal":
            msg.prominence = "hidden"
        return msg
    # The body (parts.body_text) is read without the box of attachments, the fold link and
    # an attachment's hidden notice (_body_text); the tree is left as it is.
    if parts.attachments is not None:
        msg.attachments = _attachments(parts.attachments, node_id, layout, msg)
    unfolded = False
    if parts.unfold is not None:
        link = parts.unfold.css_first("a[href]")
        href = link.attributes.get("href") or "" if link is not None else ""
        # "show quoted sections" links to ?unfold=1#incoming-N, "hide quoted sections" back to ?#incoming-N.
        if "unfold=1" in href:
            msg.quoted_folded = True
        else:
            unfolded = True
    if parts.notice is not None and msg.hidden_notice is None:
        msg.hidden_notice = inline_text(parts.notice) or None
    msg.body = parts.body_text or ""
    if unfolded:
        msg.body, msg.quoted_text = _split_quote(msg.body)
    _mark_placeholder(msg)
    return msg


def _sender(parts: _Parts, layout: str) -> str | None:
    """The sender as shown, whitespace collapsed and a dangling trailing comma dropped."""
    if parts.author is not None:
        text = inline_text(parts.author)
    elif parts.from_div is not None:
        # 2016-2018: the sender's words share a div with the date link, which ends it.
        text = inline_text(parts.from_div)
        if parts.date_link is not None:
            shown = inline_text(parts.date_link)
            if shown and text.endswith(shown):
                text = text[: -len(shown)]
    elif parts.h2 is not None:
        # Before 2016: "From: {name}<br>{body}<br><br>{date}" -- the lines before the date,
        # the leading label ("From:", translated on other sites) dropped.
        lines = _h2_lines(parts.h2)
        if parts.time_node is None and lines:
            lines = lines[:-1]
        elif parts.time_node is not None:
            shown = inline_text(parts.time_node)
            lines = [line for line in lines if line != shown]
        if lines:
            lines[0] = _LABEL.sub("", lines[0], count=1)
        text = ", ".join(line.rstrip(",").strip() for line in lines if line.rstrip(",").strip())
    else:
        return None
    text = text.rstrip(",").rstrip()
    return text or None


def _split_quote(body: str) -> tuple[str, str | None]:
    m = _QUOTE_START.search(body)
    if m is None:
        return body, None
    new, quoted = body[: m.start()].rstrip(), body[m.start() :].strip()
    return new, quoted or None


def _mark_placeholder(msg: Message) -> None:
    body = msg.body
    if body.startswith("[Subject only]"):
        msg.subject_only = True
    elif body.startswith("[") or body.startswith("This message"):
        if _PLACEHOLDER.match(body):
            msg.body_placeholder = True


# ----------------------------------------------------------------- attachments

_ATTACHMENT_PARTS = "p.attachment__name, p.attachment__meta, a[href], em, strong, img, span.hidden_attachment"


def _attachments(block: LexborNode, node_id: str, layout: str, msg: Message) -> list[Attachment]:
    """``li.attachment`` items (2016 onwards) or ``p.attachment`` (before), in page order.

    Read in C by ``_lexwalk`` when it is built (as :func:`_attachment` reads an
    item, for every box); else a box as today's templates write it is read
    from its serialisation (:func:`_canonical_attachments`) and any other is
    walked item by item.  All three give the same fields.
    """
    if _WALKER is not None:
        found = _WALKER.attachment_fields(block, _icon)
        if found is not None:
            return [_attachment_record(fields[:8], i, node_id, layout, fields[8], fields[9]) for i, fields in enumerate(found)]
    canonical = _canonical_attachments(block)
    if canonical is not None:
        return [_attachment_record(fields, i, node_id, layout, False) for i, fields in enumerate(canonical)]
    items = block.css("li.attachment")
    if not items:
        items = block.css("p.attachment")
    return [_attachment(item, i, node_id, layout) for i, item in enumerate(items)]


# The box of attachments as today's templates write it, in Lexbor's serialisation
# (attribute values quoted with &, ", <, > escaped; text with &, <, > and U+00A0
# escaped).  A box that matches is read from these strings with the same rules
# as the node walk below; any other box is walked.
_WS = r"[ \t\n\r\f]*"
_CANONICAL_ITEM = (
    rf'<li class="attachment" id="attachment-([0-9]+)">{_WS}'
    rf'<a href="([^"]*)"><img class="attachment__image"(?: alt="[^"]*")? src="([^"]*)"></a>{_WS}'
    rf'<p class="attachment__name">([^<]*)</p>{_WS}'
    rf'<p class="attachment__meta">([^<]*)(?:<a href="([^"]*)">[^<]*</a>{_WS})?<a href="([^"]*)">[^<]*</a>{_WS}</p>{_WS}</li>'
)
# Read in one pass: the head, each item in turn, then the tail to the end.
_CANONICAL_HEAD = re.compile(
    rf'<div class="attachments">{_WS}<div class="attachments__header">{_WS}<h3>[^<]*</h3>{_WS}</div>{_WS}'
    rf'<ul class="list-of-attachments">{_WS}'
)
_CANONICAL_ITEM_RE = re.compile(_CANONICAL_ITEM + _WS)
_CANONICAL_TAIL = re.compile(rf'</ul>{_WS}(?:<a href="#" class="attachments__show-more"[^>]*></a>{_WS})?</div>')


def _unescape_attribute(value: str) -> str:
    if "&" not in value:
        return value
    return (value.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\xa0")
            .replace("&amp;", "&"))


def _unescape_text(value: str) -> str:
    if "&" not in value:
        return value
    return value.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\xa0").replace("&amp;", "&")


def _canonical_attachments(block: LexborNode) -> list[tuple] | None:
    """The fields of every attachment in a box written as today's templates write it; None for any other box."""
    html = block.html
    if html is None:
        return None
    head = _CANONICAL_HEAD.match(html)
    if head is None:
        return None
    items = []
    pos = head.end()
    match_item = _CANONICAL_ITEM_RE.match
    while (item := match_item(html, pos)) is not None:
        items.append(item.groups())
        pos = item.end()
    if _CANONICAL_TAIL.fullmatch(html, pos) is None:
        return None
    out = []
    for item_id, first, src, name, meta, view, down in items:
        # The links in page order: the icon's, then View (when shown) and Download.
        # The icon inside a link adds nothing _LinkFields.link has not taken from that link.
        fields = _LinkFields()
        fields.link(_unescape_attribute(first))
        if view:  # the optional View link: None when absent (an empty href would add nothing)
            fields.link(_unescape_attribute(view))
        fields.link(_unescape_attribute(down))
        size = " ".join(_unescape_text(meta).split()) or None
        out.append((item_id, " ".join(_unescape_text(name).split()), size, fields.download, fields.html_view,
                    _icon(_unescape_attribute(src)), False, False))
    return out


@lru_cache(maxsize=512)
def _icon(src: str) -> str | None:
    """The content type an icon's file name names (a page repeats a few icons many times)."""
    m = _ICON.search(src)
    return m.group(1) if m else None


class _LinkFields:
    """The Download and View links of one attachment, as its links and icon are met in page order."""

    __slots__ = ("download", "html_view")

    def __init__(self) -> None:
        self.download: str | None = None
        self.html_view: str | None = None

    def link(self, href: str) -> None:
        if "/attach/html/" in href:
            self.html_view = self.html_view or href
        elif "/attach/" in href:
            self.download = self.download or href

    def image(self, fields_href: str | None) -> None:
        """An icon inside a link: the link is the download when none was met yet."""
        if self.download is None and fields_href is not None:
            if "/attach/" in fields_href and "/attach/html/" not in fields_href:
                self.download = fields_href


def _attachment(item: LexborNode, position: int, node_id: str, layout: str) -> Attachment:
    element_id = item.attributes.get("id") or ""
    item_id = element_id[11:] if element_id.startswith("attachment-") else None
    name = ""
    size_text = icon = None
    hidden = noted = False
    links = _LinkFields()
    old_style = item.tag_id == _P  # before 2016: <p class="attachment"><a><img></a><strong>name</strong><br>size ...
    for node in item.css(_ATTACHMENT_PARTS):  # a node comes once per selector it matches
        tag_id = node.tag_id
        attrs = node.attributes
        if tag_id == _SPAN:
            if "hidden_attachment" in (attrs.get("class") or ""):
                hidden = True
                break  # a hidden attachment shows only the notice
        elif tag_id == _P:
            cls = attrs.get("class") or ""
            if "attachment__name" in cls:
                name = inline_text(node)
            elif "attachment__meta" in cls and size_text is None:
                size_text = _first_text(node)
        elif tag_id == _A:
            links.link(attrs.get("href") or "")
        elif tag_id == _EM:
            noted = True
        elif tag_id == _STRONG:
            if old_style and not name:
                name = inline_text(node)
        elif tag_id == _IMG:
            found = _icon(attrs.get("src") or "")
            if found is not None:
                icon = found
            parent = node.parent
            if parent is not None and parent.tag_id == _A:
                links.image(parent.attributes.get("href") or "")
    if old_style and size_text is None:
        size_text = _text_after_br(item)
    fields = (item_id, name, size_text, links.download, links.html_view, icon, hidden, noted)
    return _attachment_record(fields, position, node_id, layout, old_style)


def _attachment_record(fields: tuple, position: int, node_id: str, layout: str, old_style: bool,
                       link_parts: tuple[int | None, int | None] | None = None) -> Attachment:
    """An Attachment from what its item shows: (digits of its id, name, size, download, view, icon, hidden, noted).

    ``link_parts``: the parts the download and view links name (``_ATTACH_PART``),
    when the C walk has read them already.
    """
    item_id, name, size_text, download, html_view, icon, hidden, noted = fields
    database_id: int | None = None
    if item_id and item_id.isdigit() and item_id.isascii():
        database_id = int(item_id)
        if database_id > MAX_ID:
            _check_range(database_id, f"attachment database id in {node_id}")
    erased = False
    part: int | None = None
    parts_seen = []
    for seen in link_parts or _link_parts(download, html_view):
        if seen is not None:
            if seen > MAX_PART:
                _check_range(seen, f"attachment part in {node_id}", MAX_PART)
            parts_seen.append(seen)
    if parts_seen:
        part = parts_seen[0]
        if len(parts_seen) > 1 and parts_seen[1] != part:
            raise _unrecognised(layout, f"the Download and View links of an attachment in {node_id} give different "
                                f"parts {parts_seen}")
    if hidden:
        name, size_text, download, html_view, icon = name or "", None, None, None, None
    elif part is None:
        if noted:  # "This file has been erased." (in the site's language), no links
            erased = True
            size_text = icon = None
        else:
            raise _unrecognised(layout, f"attachment {position + 1} of {node_id} has no /attach/<part>/ link and is "
                                "marked neither erased nor hidden")
    return Attachment(
        part=part,
        filename=name,
        size_text=size_text,
        download_url=download,
        html_url=html_view,
        content_icon=icon,
        erased=erased,
        hidden=hidden,
        database_id=database_id,
        position=position,
    )


def _link_parts(download: str | None, html_view: str | None) -> tuple[int | None, int | None]:
    """The part number each link names (``/attach/<part>/``), None where it names none."""
    found: list[int | None] = []
    for href in (download, html_view):
        m = _ATTACH_PART.search(href) if href else None
        found.append(int(m.group(1)) if m else None)
    return found[0], found[1]


def _first_text(node: LexborNode) -> str | None:
    first = node.child
    while first is not None and first.tag != "-text":
        first = first.next
    if first is None:
        return None
    return " ".join((first.text_content or "").split()) or None


def _text_after_br(item: LexborNode) -> str | None:
    """Old attachments: the size is the text right after the <br> that ends the name line."""
    child = item.child
    seen_br = False
    while child is not None:
        if child.tag_id == _BR:
            seen_br = True
        elif seen_br and child.tag == "-text":
            text = " ".join((child.text_content or "").split())
            if text:
                return text
        elif seen_br and child.tag_id == _A:
            return None
        child = child.next
    return None


# ----------------------------------------------------------------- annotations


def _annotation(node: LexborNode, number: int, position: int, layout: str) -> Annotation:
    node_id = f"comment-{number}"
    h2 = node.css_first("h2")
    if h2 is None:
        raise _unrecognised(layout, f"{node_id} has no h2 naming its author and date")
    a = h2.css_first("a[href]")
    m = _USER_HREF.search(a.attributes.get("href") or "") if a is not None else None
    if a is not None and m:
        author = Person(url_name=m.group(1), name=inline_text(a))
    else:
        author = Person(url_name=None, name=inline_text(h2).split(" left an annotation", 1)[0])
    t = h2.css_first("time[datetime]")
    if t is not None:
        raw = t.attributes.get("datetime")
        when = parse_iso_datetime(raw)
        day = when.date() if when is not None else parse_iso_date(raw)
        if day is None:
            raise _unrecognised(layout, f"{node_id} has a <time datetime={raw!r}> that is not a date")
    else:
        # Before 2014: "{user} left an annotation (5 March 2012)".
        words = _PARENTHESISED.search(inline_text(h2))
        day = parse_date_text(words.group(1)) if words else None
        if day is None:
            shown = words.group(1)[:40] if words else inline_text(h2)[-40:]
            raise _unrecognised(layout, f"{node_id} shows its date as {shown!r}, not a date in a form the parser reads")
        when, raw = None, day.isoformat()
    text = node.css_first("div.comment_in_request_text")
    if text is None:
        raise _unrecognised(layout, f"{node_id} has no div.comment_in_request_text")
    return Annotation(
        comment_id=number,
        position=position,
        author=author,
        created_at=when,
        created_at_text=raw,
        text=block_text(text),
        created_on=day,
    )


# ----------------------------------------------------------------- JSON merge


def _merge_json(req: ParsedRequest, data: RequestJson) -> None:
    if req.request_id is not None and req.request_id != data.request_id:
        req.warnings.append(ParseWarning("mismatch", f"page links carry request id {req.request_id}, JSON says {data.request_id}; took the JSON"))
    req.has_json = True
    req.request_id = data.request_id
    req.warnings.extend(data.warnings)
    if not req.url_title and data.url_title:
        req.url_title = data.url_title
    if not req.title and data.title:
        req.title = data.title
    req.described_state = data.described_state
    req.display_status = data.display_status
    req.awaiting_description = data.awaiting_description
    req.prominence = data.prominence
    if data.law_used in ("foi", "eir"):
        if req.law is not None and req.law != data.law_used:
            req.warnings.append(ParseWarning("mismatch", f"page subtitle says {req.law}, JSON law_used says {data.law_used}; took the JSON"))
        req.law = data.law_used
    elif data.law_used:
        req.warnings.append(ParseWarning("unknown_text", f"JSON law_used {data.law_used[:30]!r} is not foi or eir; law left as the page says"))
    req.tags = list(data.tags)
    req.created_at = data.created_at or req.created_at
    req.updated_at = data.updated_at or req.updated_at
    if data.user is not None:
        page_user = req.requester
        if page_user is not None and page_user.url_name == data.user.url_name:
            page_user.site_id = data.user.site_id
        elif not data.user.name:
            # The 2010 shape gives only a url_name: the page, which also shows the name, stands.
            req.warnings.append(ParseWarning("mismatch", f"page names requester {page_user.url_name if page_user else None!r}, "
                                             f"JSON {data.user.url_name!r} (a bare url_name); took the page"))
        else:
            if page_user is not None and page_user.url_name is not None:
                req.warnings.append(ParseWarning("mismatch", f"page names requester {page_user.url_name!r}, "
                                                 f"JSON {data.user.url_name!r}; took the JSON"))
            req.requester = data.user
            req.requester_external = False
    elif data.external:
        req.requester_external = True
        name = data.user_name or (req.requester.name if req.requester else None) or "An anonymous user"
        req.requester = Person(url_name=None, name=name)
    if data.public_body is not None:
        body = data.public_body
        if req.authority is not None and req.authority.url_name == body.url_name:
            req.authority.site_id = body.site_id
        elif not body.name:  # a bare url_name (2010 shape): the page stands
            req.warnings.append(ParseWarning("mismatch", f"page names authority {req.authority.url_name if req.authority else None!r}, "
                                             f"JSON {body.url_name!r} (a bare url_name); took the page"))
        else:
            req.warnings.append(ParseWarning("mismatch", f"page names authority {req.authority.url_name if req.authority else None!r}, "
                                             f"JSON {body.url_name!r}; took the JSON"))
            req.authority = body
        req.authority_short_name = data.public_body_short_name
        req.authority_home_page = data.public_body_home_page
        req.authority_tags = data.public_body_tags
    req.events = list(data.events)
    _times_from_events(req)


def _times_from_events(req: ParsedRequest) -> None:
    """On pages that show only dates, take each message's and annotation's time from its
    JSON event (sent / followup_sent, response, comment) when the event falls on the date shown."""
    if all(m.sent_at is not None or m.sent_on is None for m in req.messages) and all(
        a.created_at is not None or a.created_on is None for a in req.annotations
    ):
        return
    by_message: dict[tuple[str, int], datetime] = {}
    by_comment: dict[int, datetime] = {}
    for ev in req.events:
        when = ev.created_at
        if when is None:
            continue
        if ev.event_type == "response" and ev.incoming_message_id is not None:
            by_message.setdefault(("incoming", ev.incoming_message_id), when)
        elif ev.event_type in ("sent", "followup_sent") and ev.outgoing_message_id is not None:
            by_message.setdefault(("outgoing", ev.outgoing_message_id), when)
        elif ev.event_type == "comment" and ev.comment_id is not None:
            by_comment.setdefault(ev.comment_id, when)
    for m in req.messages:
        if m.resent and m.sender is None:
            continue  # a resent block alone: its date is the resend, not the sent event's
        if m.sent_at is None and m.sent_on is not None:
            when = by_message.get((m.direction, m.message_id))
            if when is None:
                continue
            if when.date() == m.sent_on:
                m.sent_at, m.sent_at_text = when, when.isoformat()
            else:
                req.warnings.append(ParseWarning("mismatch", f"{m.direction}-{m.message_id} shows {m.sent_on}, its JSON "
                                                 f"event {when.isoformat()}; kept the date shown"))
    for a in req.annotations:
        if a.created_at is None and a.created_on is not None:
            when = by_comment.get(a.comment_id)
            if when is not None and when.date() == a.created_on:
                a.created_at, a.created_at_text = when, when.isoformat()
