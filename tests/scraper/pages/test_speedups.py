"""The C module ``scraper.pages._lexwalk`` gives what the Python walks give, on everything they read.

Each C function is compared with its Python reference on generated input
(Hypothesis) and on real, fixture and mutated pages; whole pages are parsed
both ways.  Where the module was not built these tests skip, unless
``CORPUS_REQUIRE_SPEEDUPS=1`` (as in CI) makes that a failure.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.pages import depth, request, speedups, text
from scraper.pages.request import _OLD_THREAD_QUERY, _THREAD_QUERY, _group_thread_python, _Parts, parse_request
from scraper.records import Attachment, ParsedRequest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def lexwalk():
    """The set-up C module, or a skip (a failure under ``CORPUS_REQUIRE_SPEEDUPS=1``) when it is not there."""
    if speedups.LEXWALK is None or text._WALKER is None or request._WALKER is None:
        reason = "scraper.pages._lexwalk is not built or not usable here (no C compiler when installed?)"
        if os.environ.get("CORPUS_REQUIRE_SPEEDUPS") == "1":
            pytest.fail(f"{reason}; CORPUS_REQUIRE_SPEEDUPS=1 says it must be", pytrace=False)
        pytest.skip(reason)
    return speedups.LEXWALK


@pytest.fixture
def pure_python(monkeypatch):
    """Everything the parser does in C done in Python instead, for this test."""
    _turn_c_off(monkeypatch)


def _turn_c_off(patch) -> None:
    """Every place the parser reaches the C module, pointed at nothing (as CORPUS_PURE_PYTHON=1 does at import)."""
    for module in (speedups, depth):
        patch.setattr(module, "LEXWALK", None)
    for module in (text, request):
        patch.setattr(module, "_WALKER", None)


# ------------------------------------------------------------------ generated markup

# Pieces of bodies: whitespace of every kind, entities, blocks, breaks, skipped elements,
# nesting the parser repairs, foreign content, and characters the markers are made of.
BODY_PIECES = [
    "a", "word", " ", "  ", "\t", "\n", "\r\n", "\xa0", "&nbsp;", "\u2028", "\u3000", "\u200b", "\x0b", "\x0c", "\x1c",
    "\x85", "\x01", "é", "€", "😀", "&amp;", "&lt;p&gt;", "&#0;", "&#1;", "<p>", "</p>", "<div>", "</div>", "<br>",
    "<br/>", "</br>", "<b>", "</b>", "<i>", "<ul><li>", "</li>", "</ul>", "<table><tr><td>", "</td></tr></table>",
    "<blockquote>", "</blockquote>", "<pre>", "</pre>", "<hr>", "<h2>", "</h2>", "<script>x<p>y</p></script>",
    "<style>p{}</style>", "<noscript>", "</noscript>", "<template><p>t</p></template>", "<!-- c -->", "<!--",
    "<textarea>t<b>x</b></textarea>", "<svg><a>s</a></svg>", "<math><mi>m</mi></math>", "<a href='/x'>",
    "</a>", "<span>", "</span>", "<section>", "</section>", "<dl><dt>", "<dd>", "</dl>",
]


def _fragment(pieces: list[str]) -> str:
    return "".join(pieces)


body_markup = st.lists(st.sampled_from(BODY_PIECES), max_size=40).map(_fragment)


def _all_nodes(root: LexborNode) -> list[LexborNode]:
    return list(root.traverse(include_text=True))


def _document(inner: str, doctype: str = "<!DOCTYPE html>") -> LexborHTMLParser:
    return LexborHTMLParser(f"{doctype}<html><head><title>t</title></head><body><div id=b>{inner}</div></body></html>")


@HYPOTHESIS
@given(body_markup)
def test_block_text_is_the_python_walks_text_at_every_node(lexwalk, inner):
    tree = _document(inner)
    root = tree.css_first("#b")
    assert root is not None
    for node in _all_nodes(root):
        assert lexwalk.block_text(node.mem_id, ()) == text.block_text_python(node)


def _ancestors(node: LexborNode) -> set[int]:
    found = set()
    p = node.parent
    while p is not None:
        found.add(p.mem_id)
        p = p.parent
    return found


@HYPOTHESIS
@given(body_markup, st.lists(st.integers(min_value=1, max_value=60), max_size=3))
def test_a_body_read_without_some_subtrees_is_the_body_with_them_removed(lexwalk, inner, picks):
    tree, removed_tree = _document(inner), _document(inner)
    root, removed_root = tree.css_first("#b"), removed_tree.css_first("#b")
    assert root is not None and removed_root is not None
    nodes, removed_nodes = _all_nodes(root), _all_nodes(removed_root)
    chosen: list[int] = []
    for i in picks:  # subtrees apart from one another, as a message's box, fold link and notice are
        if i < len(nodes) and all(nodes[j].mem_id not in _ancestors(nodes[i]) and
                                  nodes[i].mem_id not in _ancestors(nodes[j]) and i != j for j in chosen):
            chosen.append(i)
    without = tuple(nodes[i] for i in chosen)
    for i in chosen:
        removed_nodes[i].decompose()
    expected = text.block_text_python(removed_root)
    assert text.block_text_python(root, without) == expected
    assert lexwalk.block_text(root.mem_id, tuple(n.mem_id for n in without)) == expected


@HYPOTHESIS
@given(body_markup)
def test_inline_text_is_selectolax_text_collapsed(lexwalk, inner):
    root = _document(inner).css_first("#b")
    assert root is not None
    for node in _all_nodes(root):
        assert lexwalk.inline_text(node.mem_id) == " ".join(node.text(deep=True).split())


@HYPOTHESIS
@given(st.lists(st.sampled_from(["a", "bc", " ", "  ", "\t", "\n", "\xa0", "\u2028", "\u3000", "\x1f", "\x85",
                                 "\x00", "\x01", "\x00\x00", "\x01\x01", "é", "😀", "x y"]), max_size=40).map("".join))
def test_normalising_is_the_python_normalising(lexwalk, raw):
    assert lexwalk.normalise_paragraphs(raw) == text.normalise_paragraphs(raw)


def test_text_that_is_not_utf8_is_declined_and_read_in_python(lexwalk):
    tree = LexborHTMLParser(b"<!DOCTYPE html><div id=b><p>caf\xe9 <b>\xff</b></p></div>")
    root = tree.css_first("#b")
    assert root is not None
    assert lexwalk.block_text(root.mem_id, ()) is None and lexwalk.inline_text(root.mem_id) is None
    assert text.block_text(root) == text.block_text_python(root) == "caf\ufffd \ufffd"
    assert text.inline_text(root) == "caf\ufffd \ufffd"


# Pieces of thread columns: every class and element the thread query and the
# grouping read, look-alikes (other case, other whitespace, longer names), and
# the places they can stand (inside h2, inside bodies, foreign content).
THREAD_PIECES = [
    '<div class="correspondence" id="incoming-1">', '<div class="outgoing correspondence" id="outgoing-2">',
    '<div class="comment_in_request" id="comment-3">', '<div class="correspondence comment_in_request" id="comment-4">',
    '<div class="Correspondence" id="incoming-5">', '<div class="correspondence\xa0x" id="incoming-6">',
    '<div class="correspondence\x0bx">', '<div class="correspondence_text">', '<div class="correspondence_textual">',
    '<div id="attachment-7">', '<div id>', '<div id="other">', '<div class="attachments">',
    '<div class="attachments correspondence_text" id="x">', '<div class="correspondence__header__from">',
    '<div class="correspondence__header__from--with-delivery-status">', "</div>", "</div></div>",
    '<span class="correspondence__header__author">A. Person</span>', '<span class="unfold_link"><a href="?unfold=1">u</a></span>',
    '<span class="correspondence__header__author unfold_link">b</span>', "<span>", "</span>",
    '<time datetime="2024-03-01T09:00:00+00:00">1 March</time>', "<time>no datetime</time>", "<time datetime>t</time>",
    "<h2>", "</h2>", '<a class="correspondence__header__date" href="#x">', "</a>", '<a class="toggle-delivery-log" '
    'data-delivery-status="delivered">', '<a class="toggle-delivery-log--failed">', '<a href="/y">',
    '<p class="event_plain">Sent again.</p>', '<p class="hidden_message">hidden</p>', '<p id="hidden_message">h</p>',
    '<p class="hidden_attachment">gone</p>', "<p>", "</p>", "text", " ", "<svg><a class='toggle-delivery-log'>s</a></svg>",
    "<template><div class='correspondence' id='incoming-9'></div></template>", "<!-- <div class='correspondence'> -->",
    '<div class="x correspondence   y" id="incoming-10">', '<div class="x correspondence\ty" id="incoming-11">',
    # delivery links as outgoing messages show them, and look-alikes
    '<a class="toggle-delivery-log toggle-delivery-log--failed">', '<a class="toggle-delivery-log" data-delivery-status="">',
    '<a class="toggle-delivery-log toggle-delivery-log--">', '<a class="toggle-delivery-log\xa0toggle-delivery-log--sent">',
    '<a class="toggle-delivery-log toggle-delivery-log--a toggle-delivery-log--b" data-delivery-status>',
    # bodies with what an incoming body is read without
    '<div class="correspondence_text"><div id="attachment-8"><p>Body</p><div class="attachments"><ul><li>a</li></ul></div>'
    '<p class="hidden_attachment">n</p><span class="unfold_link"><a href="?unfold=1">s</a></span><p>tail</p></div></div>',
    '<div class="outgoing correspondence" id="outgoing-12"><div class="correspondence_text"><p>Sent</p>'
    '<div class="attachments">x</div></div>',
]

thread_markup = st.lists(st.sampled_from(THREAD_PIECES), max_size=30).map(_fragment)
DOCTYPES = ["<!DOCTYPE html>", "", '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">']


def _column(inner: str, doctype: str) -> LexborNode:
    tree = LexborHTMLParser(f"{doctype}<html><body><h2><div id=left_column>{inner}</div></h2></body></html>")
    left = tree.css_first("#left_column")
    assert left is not None
    return left


def _shape(groups) -> list:
    """Groups with nodes as their addresses: comparable between the C and the Python grouping."""
    def address(value):
        return value.mem_id if isinstance(value, LexborNode) else value
    return [(node.mem_id, node_id, cls, tuple(address(v) for v in parts)) for node, node_id, cls, parts in groups]


@HYPOTHESIS
@given(thread_markup, st.sampled_from(DOCTYPES), st.booleans())
def test_the_thread_walk_finds_what_the_thread_query_finds(lexwalk, inner, doctype, old):
    left = _column(inner, doctype)
    query = _OLD_THREAD_QUERY if old else _THREAD_QUERY
    found = lexwalk.thread_nodes(left.mem_id, old)
    if doctype == "":
        assert found is None  # quirks mode: class names match in any case there, so the query does it
    else:
        assert found == [node.mem_id for node in left.css(query)]


@HYPOTHESIS
@given(thread_markup, st.sampled_from(DOCTYPES), st.booleans())
def test_the_thread_walk_groups_the_items_as_python_does(lexwalk, inner, doctype, old):
    left = _column(inner, doctype)
    groups = lexwalk.group_thread(left, old, _Parts)
    if doctype == "":
        assert groups is None
        return
    expected = _group_thread_python(left.css(_OLD_THREAD_QUERY if old else _THREAD_QUERY))
    got = _shape(groups)
    if not old:  # the node of a time is made only where something reads it (beside an h2, old pages)
        expected = [(n, i, c, p._replace(time_node=None)) for n, i, c, p in expected]
    assert got == _shape(expected)
    for _, _, _, parts in groups:
        assert isinstance(parts, _Parts)


def test_a_class_that_is_not_utf8_sends_the_grouping_to_python(lexwalk):
    html = b'<!DOCTYPE html><div id=left_column><div class="correspondence \xff" id="incoming-1">x</div></div>'
    left = LexborHTMLParser(html).css_first("#left_column")
    assert left is not None
    assert lexwalk.group_thread(left, False, _Parts) is None
    groups = request._group_thread(left, False)
    assert [(node_id, cls) for _, node_id, cls, _ in groups] == [("incoming-1", "correspondence \ufffd")]


def test_a_node_made_in_c_is_the_node_selectolax_makes(lexwalk):
    tree = _document("<p>one <b>two</b></p><p>three</p>")
    for node in _all_nodes(tree.css_first("#b")):
        made = lexwalk.node_at(node, node.mem_id)
        assert type(made) is type(node) and made.mem_id == node.mem_id and made.tag == node.tag
        assert made.text() == node.text() and made.html == node.html and made.parser is node.parser


ATTACHMENT_PIECES = [
    '<li class="attachment" id="attachment-12">', '<li class="attachment">', '<li class="attachment" id="attachment-x">',
    "</li>", '<p class="attachment">', '<p class="attachment attachment__meta">', "</p>",
    '<a href="/request/5/response/6/attach/2/a.pdf?cookie_passthrough=1">', '<a href="/request/5/response/6/attach/html/2/a.pdf.html">',
    '<a href="/request/5/response/6/attach/html/3/b.html">', '<a href="/attach/99999999999/x">', '<a href="/attach//x">',
    '<a href="/attach/html/x/4/y">', "<a href='/x/attach/7'>", "<a>", "</a>",
    '<img class="attachment__image" alt="" src="/assets/icon_application_pdf_large-0123abcd.png">',
    '<img src="/images/icon_text_plain.gif">', '<img src="/x.png">', "<img>",
    '<p class="attachment__name">Letter  \xa0one.pdf</p>', '<p class="attachment__meta">120K <a href="/v">View</a></p>',
    '<p class="attachment__meta">\n</p>', '<p class="attachment__name attachment__meta">both</p>',
    "<strong>Old name.doc</strong>", "<br>", " 45K ", "<em>This file has been erased.</em>",
    '<span class="hidden_attachment">hidden</span>', '<span class="hidden_attachmentx">n</span>', "text", "é",
]

attachment_markup = st.lists(st.sampled_from(ATTACHMENT_PIECES), max_size=25).map(_fragment)


def _python_attachment_fields(box: LexborNode) -> list[Attachment]:
    """What the Python walk reads from each item of a box (request._attachment's records)."""
    items = box.css("li.attachment") or box.css("p.attachment")
    out = []
    for item in items:
        record = request._attachment(item, 0, "incoming-1", "header")  # may raise: compared below
        out.append(record)
    return out


@HYPOTHESIS
@given(attachment_markup, st.sampled_from(DOCTYPES))
def test_attachment_boxes_read_in_c_are_the_records_python_reads(lexwalk, inner, doctype):
    tree = LexborHTMLParser(f'{doctype}<html><body><div class="attachments">{inner}</div></body></html>')
    box = tree.css_first("div.attachments")
    assert box is not None
    found = lexwalk.attachment_fields(box, request._icon)
    if doctype == "":
        assert found is None
        return
    expected: list | Exception
    try:
        expected = _python_attachment_fields(box)
    except request._Unrecognised as exc:
        expected = exc
    got: list | Exception
    try:
        got = [request._attachment_record(f[:8], 0, "incoming-1", "header", f[8], f[9]) for f in found]
    except request._Unrecognised as exc:
        got = exc
    if isinstance(expected, Exception) or isinstance(got, Exception):
        assert str(got) == str(expected)
    else:
        assert got == expected


# ------------------------------------------------------------------ page bytes

page_bytes = st.lists(st.sampled_from([
    b"<", b"</", b"<div>", b"</div>", b"<DIV>", b"<p>", b"<br>", b"<!--", b"-->", b"<script>", b"</SCRIPT>",
    b"<style ", b"</style>", b"<textarea/", b"</textarea>", b"<title>", b"</title>", b"<xmp>", b"</xmp>", b"<a1>",
    b"</a1>", b"x", b" ", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xed\xa0\x80", b"\xc0\xaf", b"\xff",
    b"\xe2\x82", b"\x00", b"/request/12/response/", b"/request/7/report/", b"/request//followups/", b"/request/3/resp",
    b"0123456789", b"abcdefgh",
]), max_size=80).map(b"".join)


@HYPOTHESIS
@given(page_bytes, st.sampled_from([None, 0, 1, 3, 50]))
def test_the_nesting_scan_in_c_is_the_python_scan(lexwalk, html, stop):
    assert depth.nesting_depth(html, stop) == depth.nesting_depth_python(html, stop)


@HYPOTHESIS
@given(page_bytes, st.integers(min_value=-1, max_value=200))
def test_byte_helpers_are_their_python_equivalents(lexwalk, data, end):
    assert speedups.count_byte(data, ord("<")) == data.count(b"<")
    try:
        data.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    assert speedups.utf8_valid(data) is valid
    pattern = request._NUMERIC_ID_URL
    assert speedups.request_ids(data, end, pattern) == pattern.findall(data, 0, max(end, 0))


def test_long_ascii_runs_are_checked_eight_bytes_at_a_time_and_still_exactly(lexwalk):
    for cut in range(0, 40):
        data = b"a" * cut + b"\xe2\x82" + b"b" * 17
        assert speedups.utf8_valid(data) is False
        assert speedups.utf8_valid(b"a" * cut + "€".encode() + b"b" * 17) is True
    assert speedups.count_byte(b"<" * 1000 + b"x" * 333 + b"<", ord("<")) == 1001


# ------------------------------------------------------------------ whole pages, both ways


def _pages() -> Iterator[tuple[str, bytes]]:
    for path in sorted(FIXTURES.rglob("*.html")):
        yield path.name, path.read_bytes()
    shared = os.environ.get("CORPUS_SHARED")
    reference = Path(shared) if shared else Path(__file__).resolve().parents[3].parent / "shared"
    for path in sorted((reference / "reference" / "wdtk_2019_request_pages").glob("*.html")):
        yield path.name, path.read_bytes()


MUTATIONS = [
    b"<p>", b"</p>", b"<br>", b"</div>", b"<div>", b"&nbsp;", b"\xc2\xa0", b"\xff", b"<!-- x -->", b"<script>y</script>",
    b'<div class="correspondence_text">', b'<span class="unfold_link">', b'<p class="hidden_attachment">n</p>',
    b"<em>e</em>", b"<strong>s</strong>", b'<a href="/request/1/response/2/attach/9/z.pdf">', b"</a>", b"\x01",
]


def _mutated(page: bytes, rng: random.Random) -> bytes:
    """The page with a few random pieces put inside its thread (after #left_column)."""
    start = page.find(b"left_column")
    if start < 0:
        return page
    out = page
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(start, len(out))
        out = out[:at] + rng.choice(MUTATIONS) + out[at:]
    return out


def _both_ways(html: bytes, monkeypatch) -> tuple[object, object]:
    with monkeypatch.context() as patch:
        _turn_c_off(patch)
        python = parse_request(html, url="https://www.whatdotheyknow.com/request/page")
    return parse_request(html, url="https://www.whatdotheyknow.com/request/page"), python


def test_every_page_parses_alike_with_and_without_the_c_module(lexwalk, monkeypatch):
    rng = random.Random(20261206)
    compared = 0
    for name, page in _pages():
        for html in [page] + [_mutated(page, rng) for _ in range(8)]:
            with_c, python = _both_ways(html, monkeypatch)
            assert with_c == python, name
            compared += 1
    assert compared >= 9 * 7  # the fixtures, and the 13 real 2019 pages where ../shared is present


def test_the_pure_python_switch_turns_every_c_path_off(pure_python):
    assert speedups.LEXWALK is None and depth.LEXWALK is None and text._WALKER is None and request._WALKER is None
    page = FIXTURES / "current" / "eir_anonymous_batch.html"
    assert isinstance(parse_request(page.read_bytes(), url="https://x.test/request/a"), ParsedRequest)


def test_set_up_refuses_a_probe_it_cannot_find(lexwalk):
    tree = LexborHTMLParser("<p>some text</p>")
    p = tree.css_first("p")
    assert p is not None and p.child is not None
    import selectolax.lexbor

    try:
        with pytest.raises(ImportError, match="characters were not found"):
            lexwalk.setup(selectolax.lexbor.__file__, p.child.mem_id, b"other text")
        with pytest.raises(ImportError, match="not loaded"):
            lexwalk.setup("/nonexistent/lexbor.so", p.child.mem_id, b"some text")
    finally:  # set up again as at import, for the tests after this one
        assert speedups.load() is lexwalk
        assert text._text_walker() is lexwalk and request._thread_walker() is lexwalk


def test_the_quirks_mode_check_reads_the_document_mode(lexwalk):
    # A class written in another case matches in quirks mode only: the walk must not be used there.
    quirks = LexborHTMLParser("<div id=left_column><div class=CORRESPONDENCE id=incoming-1>x</div></div>")
    left = quirks.css_first("#left_column")
    assert left is not None and len(left.css("div.correspondence")) == 1
    assert lexwalk.group_thread(left, False, _Parts) is None
    # the query finds it; Python's grouping reads the class as written and opens no item for it
    assert _shape(request._group_thread(left, False)) == _shape(_group_thread_python(left.css(_THREAD_QUERY))) == []


def test_tag_ids_used_by_the_walks_are_lexbors(lexwalk):
    assert re.fullmatch(r"\d+", str(text.TEXT_TAG_ID))
    tree = _document("<p>x</p>")
    p = tree.css_first("p")
    assert p is not None and p.child is not None and p.child.tag_id == text.TEXT_TAG_ID


def test_a_column_taken_out_of_its_document_is_read_in_python(lexwalk):
    tree = LexborHTMLParser("<!DOCTYPE html><body><div id=left_column><div class=correspondence id=incoming-1>"
                            "<div class=correspondence_text><p>x</p></div></div></div></body>")
    left = tree.css_first("#left_column")
    assert left is not None
    left.remove()  # no document above it: its quirks mode cannot be read, so the walk declines
    assert lexwalk.group_thread(left, False, _Parts) is None
    assert _shape(request._group_thread(left, False)) == _shape(_group_thread_python(left.css(_THREAD_QUERY)))
