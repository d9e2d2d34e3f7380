"""Listing pages: ``/body/<slug>``, ``/list`` and ``/user/<slug>`` → ``ListingPage``.

All three list requests with the same item markup (one ``div.request_listing``
per request, describing its newest event under the page's sort) and the same
will_paginate block.  They differ in their headings:

* ``/list``: ``h2.foi_results`` "About N FOI requests found";
* user page: ``h2#foi_requests`` "… requests (approximately N)", then a second,
  separate listing of the user's annotations that is *not* part of the requests;
* body page: no count at all.

Pure: bytes in, records out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qs, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.records import ParseFailure
from scraper.urls import url_title_from_href

PAGE_SIZE = 25

_ABOUT_RE = re.compile(r"About\s+([\d,]+)\s+FOI requests? found", re.I)
_APPROX_RE = re.compile(r"\(approximately\s+([\d,]+)\)", re.I)
_MATCHES_RE = re.compile(r"matches_estimated\s+(\d+)")
_ANCHOR_EVENT = {"incoming": "response", "outgoing": "followup_sent", "comment": "comment"}
_CHALLENGE_MARKERS = ("<title>just a moment...</title>", "/cdn-cgi/challenge-platform/", "attention required! | cloudflare")


@dataclass(slots=True)
class ListingItem:
    """One request as a listing shows it (through one of its events)."""

    url_title: str
    title: str
    anchor: str | None = None  # 'incoming-123', 'outgoing-4', 'comment-5' or None
    event_type: str | None = None  # 'sent' | 'followup_sent' | 'response' | 'comment' | None
    event_time_text: str | None = None  # the <time datetime> attribute as written
    event_time: datetime | None = None
    status: str | None = None  # icon_<status>: calculate_status
    status_label: str | None = None
    authority_url_name: str | None = None
    requester_url_name: str | None = None  # None for external or anonymous requesters
    requester_name: str | None = None
    excerpt: str | None = None
    commenter_url_name: str | None = None  # only for comment events

    @property
    def signature(self) -> str:
        """Changes whenever the thread shows a new event or status on listings."""
        return f"{self.event_time_text or ''}|{self.status or ''}"


@dataclass(slots=True)
class ListingPage:
    items: list[ListingItem] = field(default_factory=list)
    current_page: int = 1
    last_page: int | None = None  # highest page number in the pagination window
    next_url: str | None = None  # absolute URL of the next page (a.next_page)
    total: int | None = None  # "About N" (/list), "(approximately N)" (user page); None on body pages
    is_empty: bool = True
    kind: str | None = None  # 'body' | 'list' | 'user' | None (not recognised)


def _decode(html: bytes) -> str | None:
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return html.decode("cp1252")
    except UnicodeDecodeError:
        return None


def _text(node: LexborNode | None) -> str:
    if node is None:
        return ""
    return " ".join(node.text(deep=True).split())


def _int(text: str) -> int | None:
    try:
        return int(text.replace(",", ""))
    except ValueError:
        return None


def _page_kind(tree: LexborHTMLParser) -> str | None:
    if tree.css_first("div#public_body_show") is not None:
        return "body"
    if tree.css_first("div#request_list") is not None:
        return "list"
    if tree.css_first("div#user_show") is not None:
        return "user"
    return None


def _requests_section(tree: LexborHTMLParser, kind: str | None) -> tuple[list[LexborNode], LexborNode | None]:
    """The request items and the request pagination, in document order.

    On user pages everything from ``h2#annotations`` on belongs to the
    annotation list and is skipped.
    """
    body = tree.body
    if body is None:
        return [], None
    items: list[LexborNode] = []
    pagination: LexborNode | None = None
    for node in body.traverse(include_text=False):
        if kind == "user" and node.tag == "h2" and node.attributes.get("id") == "annotations":
            break
        classes = (node.attributes.get("class") or "").split()
        if node.tag == "div" and "request_listing" in classes:
            items.append(node)
        elif node.tag == "div" and "pagination" in classes and pagination is None:
            pagination = node
    return items, pagination


def _segments(requester: LexborNode) -> list[tuple[str, str, LexborNode | None]]:
    """Children of div.requester as ('text', s, None) / ('a', href, node) / ('time', iso, node)."""
    out: list[tuple[str, str, LexborNode | None]] = []
    child = requester.child
    while child is not None:
        if child.tag == "-text":
            out.append(("text", child.text_content or "", None))
        elif child.tag == "a":
            out.append(("a", child.attributes.get("href") or "", child))
        elif child.tag == "time":
            out.append(("time", child.attributes.get("datetime") or "", child))
        else:
            out.append(("text", child.text(deep=True), None))
        child = child.next
    return out


def _slug_after(href: str, prefix: str) -> str | None:
    path = urlsplit(href).path
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == prefix:
        return parts[1]
    return None


def _event_from_sentence(sentence: str) -> str | None:
    s = sentence.strip()
    if s.startswith("Request sent to"):
        return "sent"
    if s.startswith(("Internal review request sent to", "Clarification sent to", "Follow up sent to")):
        return "followup_sent"
    if s.startswith("Response by"):
        return "response"
    if s.startswith("Request to") and "Annotated by" in s:
        return "comment"
    return None


def _read_requester(requester: LexborNode | None, item: ListingItem) -> None:
    if requester is None:
        return
    segs = _segments(requester)
    sentence = " ".join("".join(s if k == "text" else _text(n) for k, s, n in segs).split())
    sentence_event = _event_from_sentence(sentence)
    if item.event_type is None:
        item.event_type = sentence_event
    for kind, value, _node in segs:
        if kind == "time" and value:
            item.event_time_text = value
            try:
                item.event_time = datetime.fromisoformat(value)
            except ValueError:
                item.event_time = None
            break
    body_index = None
    for i, (kind, value, _node) in enumerate(segs):
        if kind == "a" and _slug_after(value, "body"):
            item.authority_url_name = _slug_after(value, "body")
            body_index = i
            break
    if body_index is None:
        return
    # The requester follows the body link: " by {user}" or " to {user}" (response).
    rest = segs[body_index + 1 :]
    if not rest or rest[0][0] != "text":
        return
    connector = rest[0][1]
    stripped = connector.lstrip()
    for word in ("by ", "to "):
        if stripped.startswith(word):
            stripped = stripped[len(word) :]
            break
    else:
        return
    if not stripped.strip() and len(rest) > 1 and rest[1][0] == "a":
        href, node = rest[1][1], rest[1][2]
        item.requester_name = _text(node) or None
        item.requester_url_name = _slug_after(href, "user")
        after_user = rest[2:]
    else:
        # external requester: plain text up to " on {date}" or ". Annotated by"
        name = stripped
        for stop in (". Annotated by", " on "):
            pos = name.find(stop)
            if pos != -1:
                name = name[:pos]
        item.requester_name = " ".join(name.split()) or None
        item.requester_url_name = None
        after_user = rest[1:]
    if item.event_type == "comment":
        for kind, value, _node in after_user:
            if kind == "a" and _slug_after(value, "user"):
                item.commenter_url_name = _slug_after(value, "user")
                break


def _parse_item(node: LexborNode) -> ListingItem | None:
    link = node.css_first("span.head a")
    if link is None:
        return None
    href = link.attributes.get("href") or ""
    url_title = url_title_from_href(href)
    if not url_title:
        return None
    fragment = urlsplit(href).fragment or None
    item = ListingItem(url_title=url_title, title=_text(link), anchor=fragment)
    if fragment:
        prefix = fragment.split("-", 1)[0]
        item.event_type = _ANCHOR_EVENT.get(prefix)
    _read_requester(node.css_first("div.requester"), item)
    icon = node.css_first("i.icon-standalone") or node.css_first("p i")
    if icon is not None:
        for cls in (icon.attributes.get("class") or "").split():
            if cls.startswith("icon_"):
                item.status = cls[len("icon_") :]
                break
    label = node.css_first("p strong")
    item.status_label = _text(label) or None
    desc = node.css_first("span.desc")
    if desc is not None:
        item.excerpt = desc.text(deep=True).strip() or None
    return item


def _pagination(pagination: LexborNode | None, base_url: str) -> tuple[int | None, int | None, str | None]:
    if pagination is None:
        return None, None, None
    current = None
    em = pagination.css_first("em.current")
    if em is not None:
        current = _int(_text(em))
    numbers = [n for n in (_int(_text(a)) for a in pagination.css("a")) if n is not None]
    if current is not None:
        numbers.append(current)
    last = max(numbers) if numbers else None
    nxt = pagination.css_first("a.next_page")
    next_url = None
    if nxt is not None and nxt.attributes.get("href"):
        next_url = urljoin(base_url, nxt.attributes["href"])
    return current, last, next_url


def _page_from_url(base_url: str) -> int:
    values = parse_qs(urlsplit(base_url).query).get("page")
    if values:
        n = _int(values[0])
        if n and n > 0:
            return n
    return 1


def _total(tree: LexborHTMLParser, kind: str | None, n_items: int) -> int | None:
    if kind == "list":
        heading = tree.css_first("h2.foi_results")
        if heading is not None:
            m = _ABOUT_RE.search(_text(heading))
            if m:
                return _int(m.group(1))
        return 0 if n_items == 0 else None
    if kind == "user":
        heading = tree.css_first("h2#foi_requests")
        if heading is None:
            return 0 if n_items == 0 else None
        text = _text(heading)
        m = _APPROX_RE.search(text) or _MATCHES_RE.search(heading.html or "")
        if m:
            return _int(m.group(1))
        if "made by this person" in text:
            return 0
        if text.rstrip().endswith("request"):
            return 1
        return None
    return None


def parse_listing(html: bytes, *, base_url: str) -> ListingPage | ParseFailure:
    """Parse a body, /list or user listing page fetched from ``base_url``."""
    if not html or not html.strip():
        return ParseFailure("empty", f"{base_url} returned an empty page")
    text = _decode(html)
    if text is None:
        return ParseFailure("encoding", f"{base_url} is not text in UTF-8 or Windows-1252")
    lower = text[:65536].lower()
    if any(marker in lower for marker in _CHALLENGE_MARKERS):
        return ParseFailure("challenge", f"{base_url} is a bot-challenge page, not a listing")
    tree = LexborHTMLParser(text)
    kind = _page_kind(tree)
    if tree.css_first("div#error-page") is not None:
        return ParseFailure("error_page", f"{base_url} is the site's error page ({_text(tree.css_first('div#error-page h1'))})")
    if "</html>" not in text[-4096:].lower():
        return ParseFailure("truncated", f"{base_url} was cut short (no closing </html>); fetch it again")
    nodes, pagination = _requests_section(tree, kind)
    if kind is None and not nodes:
        return ParseFailure("not_request", f"{base_url} is not a body, user or /list listing page")
    items: list[ListingItem] = []
    for node in nodes:
        item = _parse_item(node)
        if item is None:
            return ParseFailure("markup_changed", f"{base_url}: a div.request_listing has no /request/ title link")
        items.append(item)
    current, last, next_url = _pagination(pagination, base_url)
    if current is None:
        current = _page_from_url(base_url)
        if last is None and items and next_url is None:
            last = current
    return ListingPage(
        items=items,
        current_page=current,
        last_page=last,
        next_url=next_url,
        total=_total(tree, kind, len(items)),
        is_empty=not items,
        kind=kind,
    )
