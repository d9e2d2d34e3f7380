"""The nesting guard: deep pages are refused before Lexbor parses them; real pages pass."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.pages.depth import _NOT_COUNTED, MAX_DEPTH, SCAN_ABOVE_TAGS, nesting_depth, too_deep
from scraper.pages.request import parse_request
from scraper.records import ParseFailure

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _page(body: bytes) -> bytes:
    return b"<!DOCTYPE html><html><head><title>x</title></head><body>" + body + b"</body></html>"


def test_the_reported_page_is_refused_before_parsing():
    # 200,000 nested <div>s in 2.2 MB: over a minute in Lexbor, refused by the byte scan.
    html = _page(b"<div>" * 200_000 + b"x" + b"</div>" * 200_000)
    assert len(html) > 2_000_000
    result = parse_request(html, url="https://www.whatdotheyknow.com/request/deep")
    assert isinstance(result, ParseFailure) and result.kind == "too_deep"
    assert "past the 256 allowed" in result.message
    assert result.url_title == "deep"


def test_small_pages_are_not_scanned_but_big_deep_ones_are():
    n = SCAN_ABOVE_TAGS // 2 - 10
    small = _page(b"<div>" * n + b"</div>" * n)
    assert nesting_depth(small) > MAX_DEPTH and too_deep(small) is None  # cheap to parse whatever its depth
    half = SCAN_ABOVE_TAGS // 2
    big = _page(b"<section>" * half + b"<p>x" * half)
    assert "deep" in too_deep(big)


def test_hiding_places_for_end_tags_do_not_hide_depth():
    for trick in (
        b"<div></span>",  # stray end tags the parser ignores
        b"<div><textarea></div></textarea>",  # end tags inside raw text
        b"<div><!-- </div> -->",  # ... or in comments
        b"<div><script>'</div>'</script>",
        b"<DIV></Span>",  # case
    ):
        html = _page(trick * 5000)
        assert nesting_depth(html) > MAX_DEPTH, trick
        assert too_deep(html) is not None, trick


def test_wide_shallow_and_void_heavy_pages_pass():
    assert too_deep(_page(b"<div><p>x<br><img src=a></p></div>" * 20_000)) is None
    assert too_deep(_page(b"<ul>" + b"<li>item" * 30_000 + b"</ul>")) is None
    assert too_deep(_page(b"<svg>" + b'<path d="M0 0"/>' * 20_000 + b"</svg>")) is None


def test_work_bound_refuses_a_flood_of_tags_at_moderate_depth():
    html = _page(b"<div>" * 200 + b"</p>" * 2_000_000)
    message = too_deep(html)  # 2,000,200 tags x 200 deep: refused on the work bound
    assert message is not None and "too long" in message


def test_real_pages_are_shallow(pages_2019):
    files = sorted(pages_2019.glob("*.html")) + sorted(FIXTURES.rglob("*.html"))
    assert len(files) >= 20
    for f in files:
        assert 5 <= nesting_depth(f.read_bytes()) <= 40, f.name


def _real_counted_depth(html: bytes) -> int:
    best = 0
    root = LexborHTMLParser(html).root
    assert root is not None
    for node in root.traverse():
        depth = 0
        p: LexborNode | None = node
        while p is not None:
            if p.tag and not p.tag.startswith(("-", "#")) and p.tag.encode() not in _NOT_COUNTED:
                depth += 1
            p = p.parent
        best = max(best, depth)
    return best


_PIECES = ["<div>", "</div>", "<span>", "</span>", "<section>", "</section>", "<b>", "</b>", "<a href=x>", "</a>",
           "<p>", "</p>", "<li>", "<ul>", "</ul>", "<table>", "<tr>", "<td>", "</table>", "<br>", "<img src=x>",
           "<textarea></div></textarea>", "<!-- </div> -->", "<script>'</div>'</script>", "x", "<em>", "</em>",
           "<form>", "</form>", "<button>", "</button>", "<h2>", "</h2>", "<DIV>", "</DIV>"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_PIECES + ["<div>", "<span>", "<section>"] * 3), min_size=1, max_size=300))
def test_estimate_keeps_up_with_the_real_tree(pieces):
    """The estimate follows the parser's own tree within a small factor, never far below it."""
    html = _page("".join(pieces).encode())
    real = _real_counted_depth(html)
    assert nesting_depth(html) >= real // 2 - 8
