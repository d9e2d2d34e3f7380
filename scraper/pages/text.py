"""HTML → plain text for message bodies and annotations (pure, no I/O).

Alaveteli renders bodies with Rails ``simple_format``: paragraphs in ``<p>``,
line breaks as ``<br>``.  The plain-text form kept in the corpus is:

* paragraphs separated by one blank line;
* ``<br>`` as a newline;
* runs of whitespace inside a line collapsed to one space (non-breaking
  spaces included), lines stripped, runs of blank lines collapsed to one;
* entities decoded (the HTML parser already did that);
* links reduced to their text.

The walk works on the already-parsed Lexbor tree: no re-serialising, no
second parse.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from types import ModuleType

from selectolax.lexbor import LexborHTMLParser, LexborNode, create_tag

from scraper.pages.speedups import LEXWALK

_PARA = "\x00"  # paragraph break marker
_LINE = "\x01"  # <br> marker (source newlines inside text are plain whitespace)

# Elements that start a new paragraph in the plain-text form.
BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "tr",
        "hr",
        "section",
        "article",
        "aside",
        "header",
        "footer",
        "dl",
        "dt",
        "dd",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})

_BLANK_RUN = re.compile(r"\n{3,}")


def _tag_ids(names: frozenset[str]) -> frozenset[int]:
    """Lexbor's numeric ids for these tag names (fixed for standard HTML tags)."""
    return frozenset(create_tag(name).tag_id for name in names)


_BLOCK_IDS = _tag_ids(BLOCK_TAGS)
_SKIP_IDS = _tag_ids(_SKIP_TAGS)
(_BR_ID,) = _tag_ids(frozenset({"br"}))


def _text_tag_id() -> int:
    """Lexbor's id of the "-text" pseudo-tag, read from a parsed text node."""
    p = LexborHTMLParser("<p>x</p>").css_first("p")
    text = p.child if p is not None else None
    if text is None:
        raise RuntimeError("Lexbor parsed <p>x</p> without a text node")
    return text.tag_id


TEXT_TAG_ID = _text_tag_id()


def _text_walker() -> ModuleType | None:
    """``_lexwalk`` set up to read bodies (:func:`block_text`), or None when it is not there."""
    if LEXWALK is None:
        return None
    try:
        LEXWALK.text_setup(_BR_ID, _BLOCK_IDS, _SKIP_IDS)
    except (ImportError, TypeError):  # a build older than this file
        return None
    return LEXWALK


_WALKER = _text_walker()


def block_text(node: LexborNode | None, without: tuple[LexborNode, ...] = ()) -> str:
    """The plain text of ``node`` (a node of a parsed document) with paragraphs and line breaks kept.

    ``without``: subtrees under ``node`` left out, as if they were removed from
    the tree (a message's box of attachments, say); the tree is not changed.
    Read in C by ``scraper.pages._lexwalk`` when it was built, else (or for a
    text that is not valid UTF-8, which the C walk declines) by
    :func:`block_text_python`; both give the same text.
    """
    if node is None:
        return ""
    if _WALKER is not None:
        text = _WALKER.block_text(node.mem_id, tuple([n.mem_id for n in without]) if without else ())
        if text is not None:
            return text
    return block_text_python(node, without)


def block_text_python(node: LexborNode, without: tuple[LexborNode, ...] = ()) -> str:
    """:func:`block_text` in Python: the reference the C walk is tested against.

    One walk over the subtree, comparing Lexbor's integer tag ids (cheaper
    than tag names); a text node right after a block element starts a new
    paragraph.
    """
    parts: list[str] = []
    append = parts.append
    blocks = _BLOCK_IDS
    text_id = TEXT_TAG_ID
    skip_until: LexborNode | None = None
    left_out = {n.mem_id for n in without}
    passing: LexborNode | None = None  # a left-out subtree being passed over
    for n in node.traverse(include_text=True):
        if left_out:
            if passing is not None and _inside(n, passing):
                continue
            passing = None
            if n.mem_id in left_out and n.mem_id != node.mem_id:
                passing = n
                continue
        tag_id = n.tag_id
        if tag_id == text_id:
            if skip_until is not None and _inside(n, skip_until):
                continue
            prev = n.prev
            while prev is not None and prev.mem_id in left_out:
                prev = prev.prev
            if prev is not None and prev.tag_id in blocks:
                append(_PARA)
            append(n.text_content or "")
        elif tag_id == _BR_ID:
            append(_LINE)
        elif tag_id in blocks:
            append(_PARA)
        elif tag_id in _SKIP_IDS:
            skip_until = n
    return normalise_paragraphs("".join(parts))


def _inside(n: LexborNode, ancestor: LexborNode) -> bool:
    p = n.parent
    while p is not None:
        if p.mem_id == ancestor.mem_id:
            return True
        p = p.parent
    return False


def normalise_paragraphs(raw: str) -> str:
    """Apply the plain-text rules to text with NUL paragraph marks and \\x01 line marks."""
    out: list[str] = []
    for para in raw.split(_PARA):
        if not para or para.isspace():
            continue
        lines = []
        for line in para.split(_LINE):
            line = line.strip()
            # Most lines need only the strip: no other whitespace than single spaces
            # (every whitespace character but the space is unprintable).
            if "  " in line or not line.isprintable():
                line = " ".join(line.split())
            lines.append(line)
        text = "\n".join(lines).strip("\n")
        if text:
            out.append(text)
    joined = "\n\n".join(out)
    if "\n\n\n" in joined:
        joined = _BLANK_RUN.sub("\n\n", joined)
    return joined


def inline_text(node: LexborNode | None) -> str:
    """All text of ``node`` on one line, whitespace collapsed."""
    if node is None:
        return ""
    if _WALKER is not None:
        text = _WALKER.inline_text(node.mem_id)
        if text is not None:
            return text
    return " ".join(node.text(deep=True).split())


def parse_iso_datetime(text: str | None) -> datetime | None:
    """An aware datetime from an ISO-8601 string with offset; None when unreadable or naive."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    return value


def parse_iso_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


# Ruby's Time#to_s ("2018-08-02 13:34:13 +0100") and the JSON times of Rails 2
# sites before 2014 ("2010/10/04 11:11:57 +0000").
_RUBY_TIME = re.compile(r"^(\d{4})[-/](\d{2})[-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\s*(?:([+-])(\d{2}):?(\d{2})|(Z|UTC))$")


def parse_site_time(text: str | None) -> datetime | None:
    """An aware datetime from any time format Alaveteli has written; None when unknown.

    ISO 8601 with an offset (pages' ``<time datetime>``, JSON since 2014), Ruby
    ``Time#to_s`` and the slash form of Rails 2 JSON (``2010/10/04 11:11:57 +0000``).
    A time without an offset is not guessed at: None.
    """
    if not text:
        return None
    value = parse_iso_datetime(text)
    if value is not None:
        return value
    m = _RUBY_TIME.match(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, sign, oh, om, zulu = m.groups()
    if zulu:
        tz = timezone.utc
    else:
        offset = timedelta(hours=int(oh), minutes=int(om))
        if offset >= timedelta(hours=24):
            return None
        tz = timezone(-offset if sign == "-" else offset)
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        int((frac or "0").ljust(6, "0")), tzinfo=tz)
    except ValueError:
        return None


_MONTHS = {name: i for i, name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"), start=1)}
_MONTHS.update({name[:3]: i for name, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\.? ([A-Za-z]+)\.?,? (\d{4})$")
_MONTH_DAY_YEAR = re.compile(r"^([A-Za-z]+)\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})$")


def parse_date_text(text: str | None) -> date | None:
    """The date a page shows as words, in the forms Alaveteli has used; None otherwise.

    WhatDoTheyKnow's ``%e %B %Y`` (" 5 March 2012"), Rails' English ``:long``
    ("March 05, 2012", served for a few months in 2012) and ISO ("2012-03-05").
    Month names in other languages are not guessed at: None.
    """
    if not text:
        return None
    t = " ".join(text.split())
    m = _DAY_MONTH_YEAR.match(t)
    if m:
        day, month, year = m.group(1), m.group(2), m.group(3)
    else:
        m = _MONTH_DAY_YEAR.match(t)
        if m is None:
            return parse_iso_date(t) if len(t) == 10 else None
        month, day, year = m.group(1), m.group(2), m.group(3)
    number = _MONTHS.get(month.lower())
    if number is None:
        return None
    try:
        return date(int(year), number, int(day))
    except ValueError:
        return None
