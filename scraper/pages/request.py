"""Parse an Alaveteli request thread page (+ its JSON) into a ParsedRequest (pure).

One Lexbor parse per page; every lookup is a CSS query scoped to the smallest
subtree that holds it.  Two markup eras are read:

* ``current``: the templates of 2024 onwards (``js-collapsible``, incoming
  bodies in ``div#attachment-N``, attachment links by url_title, "View");
* ``2019``: the WhatDoTheyKnow pages of mid-2019 (``js-collapsable``, bodies
  as bare ``<p><p>…</p></p>``, attachment links by numeric request id,
  "View as HTML", the older closed-to-correspondence wording).

``parse_request`` never raises on bad input: it returns a ``ParseFailure``
whose ``kind`` says what was wrong (see ``scraper.records.ParseErrorKind``).
"""

from __future__ import annotations

import re
from collections import Counter

from selectolax.lexbor import LexborHTMLParser, LexborNode, create_tag

from scraper.pages.errors import classify_page
from scraper.pages.request_json import RequestJson, parse_request_json
from scraper.pages.text import block_text, inline_text, parse_iso_date, parse_iso_datetime
from scraper.records import (
    Annotation,
    Attachment,
    Message,
    ParsedRequest,
    ParseFailure,
    Person,
)

__all__ = ["parse_request", "INTERNAL_ERROR_PREFIX"]

INTERNAL_ERROR_PREFIX = "internal parser error"

_ITEM_ID = re.compile(r"^(incoming|outgoing|comment)-(\d+)$")
_SLUG_IN_URL = re.compile(r"/request/([A-Za-z0-9_\-]+)")
_USER_HREF = re.compile(r"/user/([^/?#]+)")
_BODY_HREF = re.compile(r"/body/([^/?#]+)")
_BATCH_HREF = re.compile(r"/info_request_batch/(\d+)")
_BATCH_SIZE = re.compile(r"batch sent to (\d+) authorit")
_LAW = re.compile(r"made this (Freedom of Information|Environmental Information Regulations) request")
_NUMERIC_ID_URL = re.compile(rb"/request/(\d+)/(?:response|followups|report)/")
_NUMERIC_ID_URL_STR = re.compile(r"/request/([0-9]+)/(?:response|followups|report)/")  # the same, on str
_HEADER_BYTES = 96 * 1024  # the header and action menu sit well inside this
_FOI_MASK = re.compile(rb"\[FOI #(\d+) email\]")
_ATTACH_PART = re.compile(r"/attach/(?:html/)?(\d+)/")
_ICON = re.compile(r"icon_(.+?)_large")
_STATUS_CLASS = "request-status-message--"
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
    page itself does not show it.  Never raises on bad input.
    """
    try:
        return _parse(html, json_bytes, url)
    except Exception as exc:  # a bug, not bad input: report it without stopping a run
        slug = _slug_from_url(url)
        return ParseFailure(
            "markup_changed",
            f"{INTERNAL_ERROR_PREFIX} ({type(exc).__name__}: {exc}); report this page to the maintainers",
            slug,
        )


# ----------------------------------------------------------------- pre-checks


def _slug_from_url(url: str | None) -> str | None:
    if not url:
        return None
    m = _SLUG_IN_URL.search(url)
    if m is None or m.group(1).isdigit():
        return None
    slug = m.group(1)
    return slug[:-5] if slug.endswith(".json") else slug


def _check_bytes(html: bytes, slug: str | None) -> ParseFailure | None:
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
    try:
        html.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ParseFailure(
            "encoding",
            f"page bytes are not valid UTF-8 (byte 0x{html[exc.start]:02x} at offset {exc.start}, "
            "perhaps latin-1 or random data); re-save the page as UTF-8",
            slug,
        )
    return None


def _looks_truncated(html: bytes) -> bool:
    tail = html[-2048:].lower()
    return b"</html>" not in tail and b"</body>" not in tail


# ----------------------------------------------------------------- main parse


def _parse(html: bytes, json_bytes: bytes | None, url: str | None) -> ParsedRequest | ParseFailure:
    slug = _slug_from_url(url)
    failure = _check_bytes(html, slug)
    if failure is not None:
        return failure
    html = bytes(html)
    if html.startswith(b"\xef\xbb\xbf"):
        html = html[3:]

    kind = classify_page(html)
    if kind == "challenge":
        return ParseFailure("challenge", "a bot-challenge page came back instead of the request; back off and retry later", slug)
    if kind == "hidden":
        return ParseFailure("error_page", "the site says 'Request has been removed' (hidden or requester-only request); nothing to parse", slug)
    if kind == "error_page":
        return ParseFailure("error_page", "the site's error page (not found / server error) came back; check the URL", slug)

    tree = LexborHTMLParser(html)
    show = tree.css_first("#request_show")
    scope = show if show is not None else tree.root
    header = scope.css_first("div.request-header") if scope is not None else None
    if header is None:
        if _looks_truncated(html):
            return ParseFailure("truncated", "page ends before the request header (no </html>); fetch it again", slug)
        if show is not None or b"correspondence__header" in html:
            return ParseFailure("markup_changed", "request page has no div.request-header; the site's markup may have changed", slug)
        return ParseFailure("not_request", "page is not a request thread (no #request_show / request header); check the URL", slug)
    if _looks_truncated(html):
        return ParseFailure("truncated", "page is cut short (no closing </html>); fetch it again", slug)

    h1 = header.css_first("h1")
    subtitle = header.css_first("p.request-header__subtitle")
    left = scope.css_first("#left_column")
    if h1 is None or subtitle is None:
        return ParseFailure("markup_changed", "request header lacks its h1 title or subtitle; the site's markup may have changed", slug)
    if left is None:
        return ParseFailure("markup_changed", "request page has no #left_column thread; the site's markup may have changed", slug)

    warnings: list[str] = []
    meta = _meta(tree)
    page_slug = _page_slug(tree, meta, left)
    if page_slug is None:
        page_slug = slug
        if slug is None:
            warnings.append("page shows no url_title and no URL was given")

    req = ParsedRequest(url_title=page_slug or "", title=inline_text(h1))
    req.warnings = warnings
    req.markup_era = "2019" if b"js-collapsable" in html else "current"
    req.created_at = parse_iso_datetime(meta.get("article:published_time"))
    req.updated_at = parse_iso_datetime(meta.get("article:modified_time"))
    _read_subtitle(subtitle, req)
    _read_status(header, req)
    hidden = scope.css_first("p#hidden_request")
    req.hidden = hidden is not None
    _read_thread(left, req)
    req.request_id = _page_request_id(html, req.messages, warnings)

    if json_bytes is not None:
        parsed = parse_request_json(json_bytes)
        if isinstance(parsed, ParseFailure):
            warnings.append(f"JSON ignored: {parsed.message}")
        else:
            _merge_json(req, parsed)
    if not req.url_title:
        return ParseFailure("markup_changed", "no url_title on the page, in the JSON or in the URL; pass url=", None)
    return req


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


def _page_slug(tree: LexborHTMLParser, meta: dict[str, str], left: LexborNode) -> str | None:
    og = meta.get("og:url")
    if og:
        m = _SLUG_IN_URL.search(og)
        if m and not m.group(1).isdigit():
            return m.group(1)
    head = tree.head
    if head is not None:
        for link in head.css('link[rel="alternate"][type="application/json"]'):
            href = link.attributes.get("href") or ""
            if href.startswith("/request/") and href.endswith(".json"):
                return href[len("/request/") : -len(".json")]
    cp = left.css_first("input.cplink__field")
    if cp is not None:
        m = _SLUG_IN_URL.search(cp.attributes.get("value") or "")
        if m and not m.group(1).isdigit():
            return m.group(1)
    return None


def _page_request_id(html: bytes, messages: list[Message], warnings: list[str]) -> int | None:
    """The numeric id where the page shows it: 2019-era attachment links, or the
    action-menu links (followups, report) in the header; else the "[FOI #n email]"
    mask in quoted text."""
    ids: Counter[int] = Counter()
    for msg in messages:
        for att in msg.attachments:
            url = att.download_url
            if url and "/request/" in url and (m := _NUMERIC_ID_URL_STR.search(url)):
                ids[int(m.group(1))] += 1
    ids.update(int(m) for m in _NUMERIC_ID_URL.findall(html, 0, _HEADER_BYTES))
    if not ids and b"[FOI #" in html:
        ids = Counter(int(m) for m in _FOI_MASK.findall(html))
    if not ids:
        return None
    if len(ids) > 1:
        warnings.append(f"page links carry several numeric request ids {sorted(ids)}; took the most frequent")
    return ids.most_common(1)[0][0]


def _read_subtitle(subtitle: LexborNode, req: ParsedRequest) -> None:
    requester: Person | None = None
    for a in subtitle.css("a"):
        href = a.attributes.get("href") or ""
        if requester is None and (m := _USER_HREF.search(href)):
            requester = Person(url_name=m.group(1), name=inline_text(a))
        elif req.authority is None and (m := _BODY_HREF.search(href)):
            req.authority = Person(url_name=m.group(1), name=inline_text(a))
        elif req.batch_id is None and (m := _BATCH_HREF.search(href)):
            req.batch_id = int(m.group(1))
            size = _BATCH_SIZE.search(inline_text(a))
            if size:
                req.batch_size = int(size.group(1))
    text = inline_text(subtitle)
    law = _LAW.search(text)
    if law:
        req.law = "eir" if law.group(1).startswith("Environmental") else "foi"
    if requester is None:
        req.requester_external = True
        name = text.split(" made this ", 1)[0].strip() if " made this " in text else ""
        req.requester = Person(url_name=None, name=name or "An anonymous user")
    else:
        req.requester = requester
    for span in subtitle.css("span"):
        cls = span.attributes.get("class") or ""
        if "request-header__foi_no" in cls:
            span_text = inline_text(span).lower()
            if "environment" in span_text:
                req.eir_only = True
            if "not subject" in span_text:
                req.authority_not_subject = True
        elif "request-header__restricted_correspondence" in cls:
            req.restricted_correspondence = True
        elif "request-header__closed_to_correspondence" in cls:
            req.closed_to_correspondence = True
    if not req.closed_to_correspondence and "closed to new correspondence" in text:
        req.closed_to_correspondence = True


def _read_status(header: LexborNode, req: ParsedRequest) -> None:
    box = header.css_first("#request_status")
    if box is None:
        req.warnings.append("no #request_status box on the page")
        return
    for cls in (box.attributes.get("class") or "").split():
        if cls.startswith(_STATUS_CLASS):
            req.calculated_status = cls[len(_STATUS_CLASS) :] or None
    p = box.css_first("p")
    if p is not None:
        req.status_sentence = inline_text(p) or None
        t = p.css_first("time[datetime]")
        if t is not None:
            req.due_date = parse_iso_date(t.attributes.get("datetime"))


# ----------------------------------------------------------------- thread


def _read_thread(left: LexborNode, req: ParsedRequest) -> None:
    # One CSS query over the whole thread returns the item blocks and the parts
    # read from them, in document order: each part belongs to the block before
    # it.  Parts are sorted into their block's _Parts as they come, reading each
    # node's tag id and attributes once.
    groups: list[tuple[LexborNode, dict, _Parts]] = []
    parts: _Parts | None = None
    for node in left.css(_THREAD_QUERY):
        tag_id = node.tag_id
        attrs = node.attributes
        cls = attrs.get("class") or ""
        if tag_id == _DIV:
            tokens = cls.split()
            if "correspondence" in tokens or "comment_in_request" in tokens:
                parts = _Parts()
                groups.append((node, attrs, parts))
                continue
            if parts is None:
                continue
            if "correspondence_text" in cls:
                if parts.text is None:
                    parts.text = node
            elif "attachments" in tokens:
                if parts.attachments is None:
                    parts.attachments = node
            elif parts.body is None and (attrs.get("id") or "").startswith("attachment-"):
                parts.body = node
        elif parts is None:
            continue
        elif tag_id == _TIME:
            if parts.time is None:
                parts.time = attrs.get("datetime")
        elif tag_id == _P:
            if "event_plain" in cls:
                if parts.plain is None:
                    parts.plain = node
            elif "hidden_attachment" in cls:
                if parts.notice is None:
                    parts.notice = node
            elif "hidden_message" in cls or attrs.get("id") == "hidden_message":
                if parts.hidden is None:
                    parts.hidden = node
        elif tag_id == _SPAN:
            if "correspondence__header__author" in cls:
                if parts.author is None:
                    parts.author = node
            elif "unfold_link" in cls:
                if parts.unfold is None:
                    parts.unfold = node
        elif tag_id == _A:
            if parts.delivery is None:
                parts.delivery = node
    seen: dict[str, Message | Annotation] = {}
    position = 0
    for node, attrs, parts in groups:
        node_id = attrs.get("id") or ""
        m = _ITEM_ID.match(node_id)
        if m is None:
            req.warnings.append(f"a correspondence block without a usable id ({node_id!r}) was skipped")
            continue
        kind, number = m.group(1), int(m.group(2))
        earlier = seen.get(node_id)
        if earlier is not None:
            if kind == "outgoing" and isinstance(earlier, Message) and parts.plain is not None and parts.author is None:
                # A resent event re-uses the id of the message it sent again.
                earlier.resent = True
                earlier.resent_at, earlier.resent_at_text = parse_iso_datetime(parts.time), parts.time
            else:
                req.warnings.append(f"{node_id} appears twice on the page; kept the first")
            continue
        item: Message | Annotation
        if kind == "comment":
            item = _annotation(node, number, position)
            req.annotations.append(item)
        elif kind == "incoming":
            item = _incoming(attrs, number, position, parts)
            req.messages.append(item)
        else:
            item = _outgoing(number, position, parts)
            req.messages.append(item)
        seen[node_id] = item
        position += 1


# One query per thread collects every part we read; results come in document
# order, so the first of each kind is the one in the header.
_MESSAGE_PARTS = (
    "span.correspondence__header__author, a.correspondence__header__date time, h2 time, "
    "a.toggle-delivery-log, p.hidden_message, p#hidden_message, p.event_plain, "
    "div.correspondence_text, div.attachments, div.correspondence_text div[id], "
    "span.unfold_link, p.hidden_attachment"
)
_THREAD_QUERY = "div.correspondence, div.comment_in_request, " + _MESSAGE_PARTS
_DIV, _TIME, _P, _SPAN, _A, _LI, _IMG, _EM = (
    create_tag(name).tag_id for name in ("div", "time", "p", "span", "a", "li", "img", "em")
)


class _Parts:
    """The parts of one thread item, each the first of its kind in the item."""

    __slots__ = ("author", "time", "delivery", "hidden", "plain", "text", "attachments", "body", "unfold", "notice")

    def __init__(self) -> None:
        self.author = self.time = self.delivery = self.hidden = self.plain = None
        self.text = self.attachments = self.body = self.unfold = self.notice = None


def _time_of(node: LexborNode | None) -> tuple[str | None, object]:
    if node is None:
        return None, None
    t = node.css_first("time[datetime]")
    if t is None:
        return None, None
    raw = t.attributes.get("datetime")
    return raw, parse_iso_datetime(raw)


def _outgoing(number: int, position: int, parts: _Parts) -> Message:
    when = parse_iso_datetime(parts.time)
    if parts.plain is not None and parts.author is None:
        # A resent / followup_resent block ("Sent request to {body} again[, using a
        # new contact address].") with no earlier copy of the message on the page.
        return Message(
            message_id=number,
            direction="outgoing",
            position=position,
            sender=None,
            sent_at=when,
            sent_at_text=parts.time,
            body=block_text(parts.plain),
            resent=True,
            resent_at=when,
            resent_at_text=parts.time,
        )
    msg = Message(
        message_id=number,
        direction="outgoing",
        position=position,
        sender=_sender(parts.author),
        sent_at=when,
        sent_at_text=parts.time,
    )
    if parts.delivery is not None:
        attrs = parts.delivery.attributes
        status = attrs.get("data-delivery-status")
        if not status:
            for cls in (attrs.get("class") or "").split():
                if cls.startswith("toggle-delivery-log--"):
                    status = cls[len("toggle-delivery-log--") :]
        msg.delivery_status = status or None
    if parts.hidden is not None:
        msg.prominence = "hidden"
        msg.hidden_notice = inline_text(parts.hidden) or None
    if parts.text is not None:
        msg.body = block_text(parts.text)
        _mark_placeholder(msg)
    return msg


def _incoming(attrs: dict, number: int, position: int, parts: _Parts) -> Message:
    classes = (attrs.get("class") or "").split()
    prominence = "normal"
    for cls in ("hidden", "requester_only", "normal"):
        if cls in classes:
            prominence = cls
            break
    msg = Message(
        message_id=number,
        direction="incoming",
        position=position,
        sender=_sender(parts.author),
        sent_at=parse_iso_datetime(parts.time),
        sent_at_text=parts.time,
        prominence=prominence,
    )
    if parts.hidden is not None:
        msg.hidden_notice = inline_text(parts.hidden) or None
        if msg.prominence == "normal":
            msg.prominence = "hidden"
    text = parts.text
    if text is None:
        return msg
    if parts.attachments is not None:
        msg.attachments = [_attachment(li) for li in parts.attachments.css("li.attachment")]
        parts.attachments.decompose()
    body = parts.body or text
    unfolded = False
    if parts.unfold is not None:
        label = inline_text(parts.unfold).lower()
        if "show" in label:
            msg.quoted_folded = True
        elif "hide" in label:
            unfolded = True
        parts.unfold.decompose()  # its wrapping paragraph, left empty, adds no text
    if parts.notice is not None:
        if msg.hidden_notice is None:
            msg.hidden_notice = inline_text(parts.notice) or None
        parts.notice.decompose()
    msg.body = block_text(body)
    if unfolded:
        msg.body, msg.quoted_text = _split_quote(msg.body)
    _mark_placeholder(msg)
    return msg


def _sender(author: LexborNode | None) -> str | None:
    """The sender as shown, whitespace collapsed and a dangling trailing comma dropped."""
    text = inline_text(author).rstrip(",").rstrip()
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


_ATTACHMENT_PARTS = "p.attachment__name, p.attachment__meta, p.attachment__meta a[href], p.attachment__meta em, img.attachment__image, span.hidden_attachment"


def _attachment(li: LexborNode) -> Attachment:
    part: int | None = None
    li_id = li.attributes.get("id") or ""
    if li_id.startswith("attachment-") and li_id[11:].isdigit():
        part = int(li_id[11:])
    name = ""
    size_text = download = html_view = icon = None
    erased = hidden = False
    for node in li.css(_ATTACHMENT_PARTS):  # a node comes once per selector it matches
        tag_id = node.tag_id
        attrs = node.attributes
        if tag_id == _SPAN:
            hidden = True
            break  # a hidden attachment shows only the notice
        if tag_id == _P:
            cls = attrs.get("class") or ""
            if "attachment__name" in cls:
                name = inline_text(node)
            elif size_text is None:
                first = node.child
                while first is not None and first.tag != "-text":
                    first = first.next
                if first is not None:
                    size_text = " ".join((first.text_content or "").split()) or None
        elif tag_id == _A:
            href = attrs.get("href") or ""
            if "/attach/html/" in href:
                html_view = html_view or href
            elif "/attach/" in href:
                download = download or href
        elif tag_id == _EM:
            if "erased" in inline_text(node).lower():
                erased = True
        elif tag_id == _IMG:
            m = _ICON.search(attrs.get("src") or "")
            if m:
                icon = m.group(1)
            parent = node.parent
            if download is None and parent is not None and parent.tag_id == _A:
                download = parent.attributes.get("href")
    if part is None:
        for href in (download, html_view):
            m2 = _ATTACH_PART.search(href or "")
            if m2:
                part = int(m2.group(1))
                break
    if hidden:
        name, size_text, download, html_view, icon = name or "", None, None, None, None
    return Attachment(
        part=part if part is not None else -1,
        filename=name,
        size_text=size_text,
        download_url=download,
        html_url=html_view,
        content_icon=icon,
        erased=erased,
        hidden=hidden,
    )


def _annotation(node: LexborNode, number: int, position: int) -> Annotation:
    h2 = node.css_first("h2")
    author = Person(url_name=None, name="")
    if h2 is not None:
        a = h2.css_first("a[href]")
        m = _USER_HREF.search(a.attributes.get("href") or "") if a is not None else None
        if a is not None and m:
            author = Person(url_name=m.group(1), name=inline_text(a))
        else:
            author = Person(url_name=None, name=inline_text(h2).split(" left an annotation", 1)[0])
    raw, when = _time_of(h2)
    text = node.css_first("div.comment_in_request_text")
    return Annotation(
        comment_id=number,
        position=position,
        author=author,
        created_at=when,  # type: ignore[arg-type]
        created_at_text=raw,
        text=block_text(text),
    )


# ----------------------------------------------------------------- JSON merge


def _merge_json(req: ParsedRequest, data: RequestJson) -> None:
    if data.url_title and req.url_title and data.url_title != req.url_title:
        req.warnings.append(
            f"JSON is for {data.url_title!r}, the page for {req.url_title!r}; JSON ignored"
        )
        return
    if req.request_id is not None and req.request_id != data.request_id:
        req.warnings.append(f"page links carry request id {req.request_id}, JSON says {data.request_id}; took the JSON")
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
            req.warnings.append(f"page subtitle says {req.law}, JSON law_used says {data.law_used}; took the JSON")
        req.law = data.law_used
    req.tags = list(data.tags)
    req.created_at = data.created_at or req.created_at
    req.updated_at = data.updated_at or req.updated_at
    if data.user is not None:
        if req.requester is not None and req.requester.url_name == data.user.url_name:
            req.requester.site_id = data.user.site_id
        else:
            req.requester = data.user
            req.requester_external = False
    elif data.external:
        req.requester_external = True
        name = data.user_name or (req.requester.name if req.requester else None) or "An anonymous user"
        req.requester = Person(url_name=None, name=name)
    if data.public_body is not None:
        if req.authority is not None and req.authority.url_name == data.public_body.url_name:
            req.authority.site_id = data.public_body.site_id
        else:
            req.authority = data.public_body
        req.authority_short_name = data.public_body_short_name
        req.authority_home_page = data.public_body_home_page
        req.authority_tags = data.public_body_tags
    req.events = list(data.events)
