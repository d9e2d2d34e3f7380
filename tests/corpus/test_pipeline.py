"""outcome_of: one thread's raw pages to its outcome, the same whatever the pages' origin."""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timezone

import pytest

from corpus.pipeline import RawPage, RawThread, outcome_of
from tests.conftest import require_reference

SITE = "https://www.whatdotheyknow.com"
NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def page() -> tuple[str, bytes]:
    """A real 2019 request page and the URL it was fetched from."""
    html = (require_reference() / "1398788.html").read_bytes()
    return f"{SITE}/request/guidance_on_sprinklers", html


def _raw(origin, url, html, *, status=200, json_body=None, **kw) -> RawThread:
    return RawThread(url=url, site=SITE, origin=origin, fetched_at=NOW,
                     html=RawPage(url=url, body=html, status=status, headers={"ETag": 'W/"1"'}),
                     json=RawPage(url=url + ".json", body=json_body, status=200) if json_body is not None else None,
                     **kw)


def test_a_page_from_the_site_is_loaded_with_its_pages_to_keep(page):
    url, html = page
    out = outcome_of(_raw("site", url, html, url_title="guidance_on_sprinklers", signature="sig"))
    assert out.kind == "loaded" and out.url_title == "guidance_on_sprinklers" and out.signature == "sig"
    assert [p.kind for p in out.pages] == ["request_html"] and out.pages[0].etag == 'W/"1"'
    assert out.load_item is not None and out.load_item.source == "sync" and out.load_item.source_url == url
    assert out.page_sha256 == out.pages[0].sha256 == out.load_item.page_sha256
    assert out.json_missing and out.json_problem is None  # no JSON came: not a problem, just missing


def test_a_saved_file_is_loaded_as_an_import_and_its_path_says_nothing(page):
    _, html = page
    url = "file:///home/me/saved/request/whatever.html"
    out = outcome_of(_raw("files", url, html, status=None))
    assert out.kind == "loaded" and out.url_title == "guidance_on_sprinklers"  # from the page, not the path
    assert [p.kind for p in out.pages] == ["imported_html"] and out.pages[0].status is None
    assert out.load_item is not None and out.load_item.source == "import"


def test_a_stored_page_is_read_compressed_and_nothing_is_stored_again(page):
    url, html = page
    raw = _raw("store", url, zlib.compress(html))
    assert raw.html is not None
    raw.html.encoding, raw.html.sha256 = "zlib", "abc"
    out = outcome_of(raw)
    assert out.kind == "loaded" and out.pages == [] and out.page_sha256 == "abc"


def test_a_stored_body_that_cannot_be_decoded_is_a_parse_failure(page):
    url, _ = page
    raw = _raw("store", url, b"not zlib at all")
    assert raw.html is not None
    raw.html.encoding = "zlib"
    out = outcome_of(raw)
    assert out.kind == "parse_failed" and out.failure is not None and out.failure.kind == "encoding"


def test_a_json_that_cannot_be_read_is_a_named_problem_not_a_failure(page):
    url, html = page
    out = outcome_of(_raw("site", url, html, json_body=b'{"id": 589128, "url_tit'))
    assert out.kind == "loaded" and out.json_missing
    assert out.json_problem and "JSON" in out.json_problem
    assert [p.kind for p in out.pages] == ["request_html", "request_json"]  # kept, to reparse later
    assert out.pages[0].companion_url == out.pages[1].url


def test_a_good_json_is_used(page):
    url, html = page
    body = json.dumps({"id": 589128, "url_title": "guidance_on_sprinklers", "title": "Guidance on sprinklers",
                       "described_state": "successful", "display_status": "Successful",
                       "awaiting_description": False, "prominence": "normal", "law_used": "foi", "tags": [],
                       "info_request_events": []}).encode()
    out = outcome_of(_raw("site", url, html, json_body=body))
    assert out.kind == "loaded" and not out.json_missing and out.json_problem is None


def test_what_only_the_live_site_can_say(page):
    url, html = page
    assert outcome_of(_raw("site", url, None, status=304, not_modified=True)).kind == "unchanged"
    for status in (404, 410, 403):
        gone = outcome_of(_raw("site", url, b"<html>gone</html>", status=status))
        assert gone.kind == "removed" and gone.url_title == "guidance_on_sprinklers", status
    # a stored or saved page never says the request is gone
    assert outcome_of(_raw("store", url, b"<html>gone</html>", status=410)).kind == "failed"


def test_no_usable_answer_is_a_failure_with_its_reason(page):
    url, _ = page
    out = outcome_of(RawThread(url=url, site=SITE, origin="site", fetched_at=NOW, error="timed out (ReadTimeout)"))
    assert out.kind == "failed" and out.failure is not None and out.failure.message == "timed out (ReadTimeout)"
    out = outcome_of(_raw("site", url, b"oops", status=500, error="HTTP 500"))
    assert out.kind == "failed" and out.failure is not None and out.failure.message == "HTTP 500"


def test_a_page_that_is_not_a_request_is_kept_and_not_understood(page):
    url, _ = page
    out = outcome_of(_raw("site", url, b"<html><body><p>Nothing to see here</p></body></html>"))
    assert out.kind == "parse_failed" and out.failure is not None and out.pages and out.load_item is None
