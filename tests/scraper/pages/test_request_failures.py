"""Bad input never raises: each gives a typed ParseFailure with a clear message."""

from __future__ import annotations

import random

import pytest

from corpus.sample_site.threads import out, page, thread
from scraper.pages.errors import classify_page
from scraper.pages.request import INTERNAL_ERROR_PREFIX, parse_request
from scraper.pages.request_json import RequestJson, parse_request_json
from scraper.records import ParseFailure

CLOUDFLARE = b"""<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"></head><body><div class="main-wrapper" role="main">
<div class="main-content"><noscript><div id="challenge-error-title">Enable JavaScript and cookies to continue</div></noscript></div></div>
<script>(function(){window._cf_chl_opt={cvId: '3',cZone: "www.whatdotheyknow.com",cType: 'managed'};
var a = document.createElement('script');a.src = '/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=8';
document.getElementsByTagName('head')[0].appendChild(a);}());</script></body></html>"""

NOT_FOUND = b"""<!DOCTYPE html><html lang="en"><head><title>WhatDoTheyKnow - Make and browse Freedom of Information (FOI) requests</title></head>
<body><div class="entirebody"><div id="wrapper"><div id="content" role="main"><div id="request_show" class="controller_request">
<div id="error-page" class="error-page"><h1>Sorry, we couldn't find that page</h1>
<p>The page doesn't exist. Things you can try now:</p><ul><li><form id="search_form"><input name="query"></form></li></ul>
</div></div></div></div></div></body></html>"""

REMOVED = b"""<!DOCTYPE html><html lang="en"><head><title>Request has been removed - WhatDoTheyKnow</title></head>
<body><div id="wrapper"><div id="content"><div id="request_show" class="controller_request">
<h1>Request has been removed</h1><p></p>
<p>This request has been hidden. There are various reasons why we might have done this, sorry we can't be more specific here. Please <a href="/help/contact">contact us</a> if you have any questions.</p>
<p id="hidden_request">This request has been hidden. There are various reasons why we might have done this, sorry we can't be more specific here. Please <a href="/help/contact">contact us</a> if you have any questions.</p>
</div></div></div></body></html>"""

RAILS_404 = b"""<!DOCTYPE html><html><head><title>The page you were looking for doesn't exist (404)</title></head>
<body><div class="dialog"><div><h1>The page you were looking for doesn't exist.</h1></div></div></body></html>"""

BODY_LISTING = b"""<!DOCTYPE html><html lang="en"><head><title>Home Office - view and make Freedom of Information requests - WhatDoTheyKnow</title></head>
<body><div id="wrapper"><div id="content"><div id="public_body_show" class="controller_public_body">
<div class="authority__header"><h1>Home Office</h1></div><div class="authority__body"><div class="request_listing">
<span class="head"><a href="/request/some_thing#incoming-5">Some thing</a></span></div></div></div></div></div></body></html>"""


def good_page() -> bytes:
    when = __import__("datetime").datetime(2024, 1, 1, tzinfo=__import__("datetime").timezone.utc)
    return page(*thread([out(1, when)]))


@pytest.mark.parametrize(
    ("html", "kind", "phrase"),
    [
        (b"", "empty", "empty"),
        (b"   \n\t ", "empty", "empty"),
        (CLOUDFLARE, "challenge", "bot-challenge"),
        (NOT_FOUND, "error_page", "error page"),
        (REMOVED, "error_page", "Request has been removed"),
        (RAILS_404, "error_page", "error page"),
        (BODY_LISTING, "not_request", "not a request thread"),
        (b"<html><body><p>hello</p></body></html>", "not_request", "not a request"),
        ("caf\u00e9 <html>".encode("latin-1") + b"</html>", "encoding", "not valid UTF-8"),
        (good_page().decode().encode("utf-16"), "encoding", "UTF-16"),
        (good_page().decode().encode("utf-16-le"), "encoding", "UTF-16"),
        (good_page()[: len(good_page()) // 2], "truncated", "cut short"),
        (good_page()[:600], "truncated", "fetch it again"),
        (good_page().replace(b'<div id="left_column" class="left_column">', b"<div>"), "markup_changed", "#left_column"),
        (good_page().replace(b"<h1>", b"<h2>").replace(b"</h1>", b"</h2>"), "markup_changed", "h1"),
        (good_page().replace(b'class="request-header"', b'class="x"'), "markup_changed", "request-header"),
    ],
    ids=[
        "empty", "blank", "cloudflare", "404", "403-removed", "rails-404", "body-listing", "other-html",
        "latin-1", "utf-16", "utf-16-le-no-bom", "truncated-half", "truncated-head", "no-left-column",
        "no-h1", "no-header",
    ],
)
def test_bad_pages_give_typed_failures(html, kind, phrase):
    result = parse_request(html, url="https://www.whatdotheyknow.com/request/some_slug")
    assert isinstance(result, ParseFailure), result
    assert result.kind == kind, result.message
    assert phrase in result.message
    assert "\n" not in result.message and INTERNAL_ERROR_PREFIX not in result.message
    if kind != "empty":
        assert result.url_title == "some_slug"


def test_random_bytes_never_raise():
    rng = __import__("random").Random(1234)
    kinds = set()
    for n in (1, 7, 100, 5000):
        for _ in range(20):
            data = bytes(rng.getrandbits(8) for _ in range(n))
            result = parse_request(data)
            assert isinstance(result, ParseFailure)
            assert INTERNAL_ERROR_PREFIX not in result.message
            kinds.add(result.kind)
    assert kinds <= {"empty", "encoding", "truncated", "not_request"}
    assert "encoding" in kinds


def test_non_bytes_input_is_a_failure_not_a_crash():
    result = parse_request(None)  # the wrong type on purpose: a caller that ignores the hints
    assert isinstance(result, ParseFailure) and result.kind == "empty"


def test_utf8_bom_is_accepted():
    assert not isinstance(parse_request(b"\xef\xbb\xbf" + good_page()), ParseFailure)


# ---------------------------------------------------------------- classify_page


def test_classify_page_kinds(pages_2019):
    assert classify_page(CLOUDFLARE) == "challenge"
    assert classify_page(b"<html>x</html>", 403, {"CF-Mitigated": "challenge"}) == "challenge"
    assert classify_page(NOT_FOUND, 404) == "error_page"
    assert classify_page(RAILS_404) == "error_page"
    assert classify_page(REMOVED, 403) == "hidden"
    assert classify_page(b"", 403) == "hidden"
    assert classify_page(b"<html>oops</html>", 500) == "error_page"
    assert classify_page(BODY_LISTING, 200) is None
    assert classify_page(good_page(), 200) is None
    for saved in pages_2019.glob("*.html"):
        assert classify_page(saved.read_bytes(), 200) is None, saved.name


def test_request_quoting_error_phrases_is_still_a_request():
    page = good_page().replace(b"Please send me the list.", b"Sorry, we couldn&#39;t find that page. Just a moment...")
    assert classify_page(page) is None
    assert not isinstance(parse_request(page), ParseFailure)


# ---------------------------------------------------------------- JSON failures


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"url_title": "x"}', "no numeric 'id'"),
        (b'{"id": "abc"}', "no numeric 'id'"),
        ("{\"id\": 1, \"title\": \"caf\u00e9\"}".encode("latin-1"), "not UTF-8"),
        (b"[" * 100000, "JSON"),
        (random.Random(64).randbytes(64) + b"\xff", "JSON"),  # seeded: the same bytes (and test id) every run
    ],
)
def test_bad_json_is_a_typed_failure(data, phrase):
    result = parse_request_json(data)
    assert isinstance(result, ParseFailure) and result.kind == "bad_json"
    assert phrase in result.message


def test_json_oddities_become_warnings():
    result = parse_request_json(
        b'{"id": 5, "tags": [["a", null], 7, "b:c"], "info_request_events": [{"id": 1, "event_type": "sent"}, {"id": 1, "event_type": "sent"}, {"x": 1}], "user_name": null}'
    )
    assert isinstance(result, RequestJson)
    assert result.tags == [("a", None), ("b", "c")]
    assert [e.event_id for e in result.events] == [1]
    assert result.external is True and result.user_name is None
    assert len(result.warnings) == 3


# ---------------------------------------------------------------- values the corpus cannot hold


def _thread_page(**kw) -> bytes:
    from datetime import datetime, timezone

    from corpus.sample_site.threads import att, inc, note

    t = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
    return page(*thread([out(1, t), inc(2, t, attachments=[att(2, "a.pdf")]), note(3, ("x_y", "X Y"), t, ["Hi."])], **kw))


@pytest.mark.parametrize(
    ("old", "new", "phrase"),
    [
        (b'id="incoming-2"', b'id="incoming-9223372036854775808"', "incoming id 9223372036854775808"),
        (b'id="outgoing-1"', b'id="outgoing-99999999999999999999999"', "outgoing id 99999999999999999999999"),
        (b'id="comment-3"', b'id="comment-18446744073709551616"', "comment id 18446744073709551616"),
        (b"/attach/2/a.pdf", b"/attach/2147483648/a.pdf", "attachment part in incoming-2 2147483648"),
    ],
    ids=["incoming", "outgoing", "comment", "part"],
)
def test_ids_past_what_a_database_holds_are_typed_failures(old, new, phrase):
    html = _thread_page()
    assert old in html
    result = parse_request(html.replace(old, new))
    assert isinstance(result, ParseFailure) and result.kind == "out_of_range", result
    assert phrase in result.message and "beyond" in result.message


def test_attachment_database_id_and_request_ids_past_bigint_are_typed_failures():
    html = _thread_page()
    import re

    li = re.search(rb'<li class="attachment" id="attachment-(\d+)"', html).group(0)
    result = parse_request(html.replace(li, b'<li class="attachment" id="attachment-9223372036854775808"'))
    assert isinstance(result, ParseFailure) and result.kind == "out_of_range"
    batch = parse_request(_thread_page(batch=(2**63, 3)))
    assert isinstance(batch, ParseFailure) and batch.kind == "out_of_range" and "batch id" in batch.message
    ok = parse_request(_thread_page(batch=(2**63 - 1, 3)))
    assert not isinstance(ok, ParseFailure) and ok.batch_id == 2**63 - 1


def test_malformed_message_id_is_a_failure_naming_it():
    html = _thread_page().replace(b'id="incoming-2"', b'id="incoming--5"')
    result = parse_request(html)
    assert isinstance(result, ParseFailure) and result.kind == "markup_changed"
    assert "'incoming--5'" in result.message and "unrecognised markup" in result.message


def test_attachment_without_link_or_marking_is_unrecognised():
    html = _thread_page()
    import re

    html = re.sub(rb'<a href="[^"]*/attach/[^"]*">', b"<a>", html)
    result = parse_request(html)
    assert isinstance(result, ParseFailure) and result.kind == "markup_changed"
    assert "no /attach/<part>/ link" in result.message


def test_foi_mask_too_large_is_ignored_with_a_warning():
    html = _thread_page().replace(b"Please send me the list.", b"[FOI #99999999999999999999 email]")
    r = parse_request(html)
    assert not isinstance(r, ParseFailure) and r.request_id is None
    assert [w.kind for w in r.warnings] == ["other"] and "too large" in r.warnings[0]


def test_failure_kinds_are_all_declared():
    from typing import get_args

    from scraper.records import ParseErrorKind

    assert {"too_deep", "out_of_range", "markup_changed", "bad_json"} <= set(get_args(ParseErrorKind))
