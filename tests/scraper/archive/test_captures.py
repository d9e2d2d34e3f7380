"""What a captured URL is, and whether a recorded answer can stand for its page."""

from __future__ import annotations

import pytest

from scraper.archive.captures import SkipReason, UrlKind, canonical_url, classify_url, judge, slug_of

SITE = "https://www.whatdotheyknow.com"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://www.whatdotheyknow.com/request/pothole_repair_times", UrlKind.REQUEST_PAGE),
        ("http://www.whatdotheyknow.com/request/pothole_repair_times", UrlKind.REQUEST_PAGE),  # old http capture
        ("http://www.whatdotheyknow.com:80/request/pothole_repair_times?unfold=1#incoming-3", UrlKind.REQUEST_PAGE),
        ("https://www.whatdotheyknow.com/request/pothole_repair_times.json", UrlKind.REQUEST_JSON),
        ("https://www.whatdotheyknow.com/request/x/response/1234/attach/2/Reply.pdf?cookie_passthrough=1",
         UrlKind.ATTACHMENT),
        ("https://www.whatdotheyknow.com/request/x/response/1234/attach/html/2/Reply.pdf.html", UrlKind.OTHER),
        ("https://www.whatdotheyknow.com/request/x/response/1234", UrlKind.OTHER),
        ("https://www.whatdotheyknow.com/request/x/followups/new", UrlKind.OTHER),
        ("https://www.whatdotheyknow.com/body/leeds_city_council", UrlKind.LISTING),
        ("https://www.whatdotheyknow.com/body/leeds_city_council?page=3", UrlKind.LISTING),
        ("https://www.whatdotheyknow.com/body/leeds_city_council/successful", UrlKind.LISTING),
        ("https://www.whatdotheyknow.com/body/leeds_city_council.json", UrlKind.OTHER),
        ("https://www.whatdotheyknow.com/user/jo_bloggs", UrlKind.LISTING),
        ("https://www.whatdotheyknow.com/list?query=requested_from%3Ax&commit=Search", UrlKind.LISTING),
        ("https://www.whatdotheyknow.com/list/successful", UrlKind.LISTING),
        ("https://www.whatdotheyknow.com/assets/application.css", UrlKind.OTHER),
        ("https://www.whatdotheyknow.com/", UrlKind.OTHER),
        ("https://www.asktheeu.org/en/request/pothole_repair_times", UrlKind.OTHER),  # another site
        ("https://evil.example/request/pothole_repair_times", UrlKind.OTHER),
        ("", UrlKind.OTHER),
    ],
)
def test_classify_url(url, kind):
    assert classify_url(SITE, url) is kind


def test_canonical_url_drops_the_query_of_threads_only():
    assert canonical_url(SITE, "http://www.whatdotheyknow.com/request/x?unfold=1#incoming-3",
                         UrlKind.REQUEST_PAGE) == f"{SITE}/request/x"
    assert canonical_url(SITE, "http://www.whatdotheyknow.com/body/leeds?page=2",
                         UrlKind.LISTING) == f"{SITE}/body/leeds?page=2"


def test_slug_of():
    assert slug_of(f"{SITE}/request/x_2.json") == "x_2"
    assert slug_of(f"{SITE}/request/x/response/1/attach/2/a.pdf") == "x"
    assert slug_of(f"{SITE}/body/x") is None


@pytest.mark.parametrize(
    ("status", "headers", "body", "reason"),
    [
        (200, {}, b"<html><title>A thread</title></html>", None),
        (200, {}, b"<title>Just a moment...</title>", SkipReason.CHALLENGE),
        (200, {}, b"x <script src='/cdn-cgi/challenge-platform/h/b/orchestrate'></script>", SkipReason.CHALLENGE),
        (403, {"cf-mitigated": "challenge"}, b"", SkipReason.CHALLENGE),
        (503, {}, b"<div id='cf-browser-verification'>", SkipReason.CHALLENGE),
        (404, {}, b"Not found", SkipReason.GONE),
        (410, {}, b"Gone", SkipReason.GONE),
        (403, {}, b"<p id='hidden_request'>This request has been hidden</p>", SkipReason.GONE),
        (301, {"location": "/request/y"}, b"", SkipReason.STATUS),
        (500, {}, b"oops", SkipReason.STATUS),
        # On a 200, a thread that merely quotes a marker word is still the thread.
        (200, {}, b"<p>the council's cf-chl policy</p>", None),
    ],
)
def test_judge(status, headers, body, reason):
    got = judge(status, headers, body)
    assert (got[0] if got else None) is reason
    if got:
        assert "\n" not in got[1]
