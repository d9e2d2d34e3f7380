"""The parser's one thread-wide query finds every part the parser reads, as one selector per part would."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from selectolax.lexbor import LexborHTMLParser

from corpus.sample_site.threads import att, inc, note, out, page, thread
from scraper.pages.request import _THREAD_QUERY

# Every part, one selector each: what the query must find, in document order.
ONE_PER_PART = (
    "div.correspondence", "div.comment_in_request", "span.correspondence__header__author",
    "a.correspondence__header__date time", "h2 time", "a.toggle-delivery-log", "p.hidden_message",
    "p#hidden_message", "p.event_plain", "div.correspondence_text", "div.attachments",
    "div.correspondence_text div[id]", "span.unfold_link", "p.hidden_attachment",
)
DIV_SELECTORS = ("div.correspondence", "div.comment_in_request", "div.correspondence_text", "div.attachments",
                 "div.correspondence_text div[id]")
GMT = timezone(timedelta(0))


def _column(html: bytes):
    left = LexborHTMLParser(html).css_first("#left_column")
    assert left is not None
    return left


def _distinct(nodes) -> list[int]:
    """Node identities in order, a node met several times in a row counted once."""
    out: list[int] = []
    for n in nodes:
        if not out or out[-1] != n.mem_id:
            out.append(n.mem_id)
    return out


def _pages() -> list[bytes]:
    t0 = datetime(2024, 3, 1, 9, 0, tzinfo=GMT)
    items = [
        out(1, t0),
        inc(2, t0 + timedelta(days=1), ["Reply"], attachments=[att(2, "a.pdf"), att(3, "b.pdf", hidden=True)],
            quoted=["On Monday you wrote:", "> the request"]),
        out(3, t0 + timedelta(days=2), prominence="hidden"),
        inc(4, t0 + timedelta(days=3), prominence="requester_only"),
        out(1, t0 + timedelta(days=4), event_type="resent"),
        note(5, ("helpful_hannah", "Hannah"), t0 + timedelta(days=5), ["A note"]),
    ]
    corpus, req = thread(items)
    html = page(corpus, req)
    # a div carrying two item classes and a body class: it must come once per div selector it matches
    doubled = html.replace(b'<div class="correspondence_text">', b'<div class="correspondence_text attachments">', 1)
    return [html, page(corpus, req, unfold=True), doubled]


def test_the_query_finds_what_one_selector_per_part_finds() -> None:
    for html in _pages():
        left = _column(html)
        want = sorted({n.mem_id for sel in ONE_PER_PART for n in left.css(sel)}, key=_document_order(left))
        assert _distinct(left.css(_THREAD_QUERY)) == want


def test_a_div_comes_once_per_div_selector_it_matches() -> None:
    for html in _pages():
        left = _column(html)
        found = left.css(_THREAD_QUERY)
        divs = {n.mem_id for sel in DIV_SELECTORS for n in left.css(sel)}
        for mem_id in divs:
            expected = sum(1 for sel in DIV_SELECTORS for n in left.css(sel) if n.mem_id == mem_id)
            assert sum(1 for n in found if n.mem_id == mem_id) == expected


def _document_order(left):
    order = {n.mem_id: i for i, n in enumerate(left.traverse())}
    return order.__getitem__


def test_a_time_nested_deeper_in_the_header_is_found_as_one_selector_per_part_finds_it() -> None:
    # Lexbor reads ":is(a, h2) time" as "time whose parent is the a or the h2": the query keeps
    # "a.correspondence__header__date time" and "h2 time" apart, so a time in a span in either is found.
    for wrapped in (b"<h2>From: x<br><span><time datetime='2012-03-05T10:00:00+00:00'>5 March</time></span></h2>",
                    b"<a class='correspondence__header__date' href='#x'><b><time datetime='2012-03-05T10:00:00+00:00'>"
                    b"5 March</time></b></a>"):
        html = b"<!DOCTYPE html><html><body><div id='left_column'><div class='correspondence' id='incoming-1'>" + wrapped
        left = _column(html + b"</div></div></body></html>")
        times = [n for n in left.css(_THREAD_QUERY) if n.tag == "time"]
        assert len(times) == 1 and times[0].attributes["datetime"] == "2012-03-05T10:00:00+00:00"
        assert len(left.css(":is(a.correspondence__header__date, h2) time")) == 0  # what the merged selector missed
