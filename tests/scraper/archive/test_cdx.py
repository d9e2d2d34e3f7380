"""CDX answers of both dialects, and the archive addresses they are asked at."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest

from scraper.archive.cdx import CdxUnreadable, Dialect, parse_cdx, parse_endpoint
from scraper.errors import InvalidInput

# The Internet Archive's documented JSON output: a header row, then rows.
IA_JSON = json.dumps([
    ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"],
    ["com,whatdotheyknow)/request/bus_lane_fines", "20190126045828",
     "http://www.whatdotheyknow.com:80/request/bus_lane_fines", "text/html", "200",
     "Q4YULN754FHV2U6Q5JUT6Q2P57WEWNNY", "1415"],
    ["com,whatdotheyknow)/request/bus_lane_fines", "20211011050034",
     "https://www.whatdotheyknow.com/request/bus_lane_fines", "warc/revisit", "-",
     "XAHDNHZ5P3GSSSNJ3DMEOJF7BMCCPZR3", "702"],
])


def test_ia_json_rows():
    page = parse_cdx(IA_JSON)
    assert [(r.timestamp, r.status, r.mime, r.is_revisit) for r in page.rows] == [
        ("20190126045828", 200, "text/html", False), ("20211011050034", None, "warc/revisit", True),
    ]
    assert page.rows[0].url == "http://www.whatdotheyknow.com:80/request/bus_lane_fines"
    assert page.rows[0].captured_at == datetime(2019, 1, 26, 4, 58, 28, tzinfo=timezone.utc)
    assert page.rows[0].length == 1415 and page.resume_key is None


def test_ia_json_with_a_resumption_key_and_custom_fields():
    data = [["timestamp", "original"], ["20200101000000", "https://x.org/request/a"], [], ["org%2Cx%29%2F+2020!"]]
    page = parse_cdx(json.dumps(data))
    assert [r.url for r in page.rows] == ["https://x.org/request/a"] and page.rows[0].status is None
    assert page.resume_key == "org%2Cx%29%2F+2020!"


def test_ia_empty_answer():
    assert parse_cdx(b"[]").rows == [] and parse_cdx(b"").rows == []


def test_ia_plain_text_with_resumption_key():
    text = (
        "org,x)/request/a 20200102030405 https://x.org/request/a text/html 301 AAAA 400\n"
        "org,x)/request/a 20210315 https://x.org/request/a text/html 200 BBBB 500\n"
        "org,x)/request/a 20211301 https://x.org/request/a text/html 200 CCCC 500\n"
        "\n"
        "org%2Cx%29%2Frequest%2Fa+2021!\n"
    )
    page = parse_cdx(text)
    # a short timestamp is padded; month 13 is no date, so that row is left out
    assert [(r.timestamp, r.status) for r in page.rows] == [("20200102030405", 301), ("20210315000000", 200)]
    assert page.resume_key == "org%2Cx%29%2Frequest%2Fa+2021!"


def test_eleven_field_cdx():
    line = ("uk,gov,example)/foi 20230405060708 https://example.gov.uk/foi text/html 200 CCCC - - 1234 5678 "
            "crawl-1.warc.gz")
    (row,) = parse_cdx(line).rows
    assert (row.url, row.status, row.digest) == ("https://example.gov.uk/foi", 200, "CCCC")


def test_pywb_json_lines_and_cdxj():
    ndjson = "\n".join(json.dumps({"urlkey": "k", "timestamp": ts, "url": "https://x.org/request/a",
                                   "mime": "text/html", "status": st, "digest": "sha1:D", "length": "10",
                                   "offset": "0", "filename": "a.warc.gz", "source": "coll/indexes/index.cdxj"})
                        for ts, st in (("20240301100000", "200"), ("20250102110000", "404")))
    page = parse_cdx(ndjson)
    assert [(r.timestamp, r.status) for r in page.rows] == [("20240301100000", 200), ("20250102110000", 404)]
    cdxj = ('org,x)/request/a 20240301100000 {"url": "https://x.org/request/a", "mime": "text/html", '
            '"status": "200", "digest": "sha1:D", "length": "342"}\n')
    (row,) = parse_cdx(cdxj).rows
    assert (row.url, row.timestamp, row.status, row.length) == ("https://x.org/request/a", "20240301100000", 200, 342)


@pytest.mark.parametrize("body", ["<html><body>Service unavailable</body></html>", "{not json", "[1, 2"])
def test_unreadable_answers(body):
    with pytest.raises(CdxUnreadable):
        parse_cdx(body)


def test_rows_without_a_date_are_left_out():
    data = [["timestamp", "original"], ["2020130100000", "https://x.org/a"], ["20200101000000", "https://x.org/b"]]
    assert [r.url for r in parse_cdx(json.dumps(data)).rows] == ["https://x.org/b"]


@pytest.mark.parametrize(
    ("given", "base", "dialect", "cdx"),
    [
        ("https://web.archive.org", "https://web.archive.org/web", Dialect.IA, "https://web.archive.org/cdx/search/cdx"),
        ("https://web.archive.org/web/", "https://web.archive.org/web", Dialect.IA,
         "https://web.archive.org/cdx/search/cdx"),
        ("https://www.webarchive.org.uk/wayback/archive/", "https://www.webarchive.org.uk/wayback/archive",
         Dialect.PYWB, "https://www.webarchive.org.uk/wayback/archive/cdx"),
        ("https://arquivo.pt/wayback", "https://arquivo.pt/wayback", Dialect.PYWB, "https://arquivo.pt/wayback/cdx"),
        ("http://127.0.0.1:8080/my-coll", "http://127.0.0.1:8080/my-coll", Dialect.PYWB,
         "http://127.0.0.1:8080/my-coll/cdx"),
    ],
)
def test_endpoints(given, base, dialect, cdx):
    ep = parse_endpoint(given)
    assert (ep.base, ep.dialect, ep.cdx_endpoint) == (base, dialect, cdx)
    assert ep.replay_url("20240301100000", "https://www.whatdotheyknow.com/request/a") == (
        f"{base}/20240301100000id_/https://www.whatdotheyknow.com/request/a")


def test_lookup_and_prefix_queries():
    url = "https://www.whatdotheyknow.com/request/a?x=1"
    ia, pywb = parse_endpoint("https://web.archive.org"), parse_endpoint("http://localhost:8080/c")
    q = dict(parse_qsl(urlsplit(ia.lookup_url(url)).query))
    assert q == {"url": url, "output": "json", "limit": "-10", "fastLatest": "true"}
    q = dict(parse_qsl(urlsplit(pywb.lookup_url(url)).query))
    assert q == {"url": url, "output": "json", "sort": "reverse", "limit": "10"}
    q = dict(parse_qsl(urlsplit(ia.prefix_url("https://w.org/request/", 500, "KEY")).query))
    assert q["matchType"] == "prefix" and q["collapse"] == "urlkey" and q["resumeKey"] == "KEY"
    assert q["filter"] == "statuscode:200"
    q = dict(parse_qsl(urlsplit(pywb.prefix_url("https://w.org/request/", 500)).query))
    assert q["matchType"] == "prefix" and q["filter"] == "status:200" and "resumeKey" not in q


def test_the_dialect_can_be_named():
    assert parse_endpoint("http://localhost:8080/web", dialect="pywb").dialect is Dialect.PYWB
    assert parse_endpoint("http://localhost:8080/", dialect="ia").dialect is Dialect.IA


@pytest.mark.parametrize(
    "given",
    ["web.archive.org", "ftp://archive.example/", "https://user:pw@web.archive.org", "https://web.archive.org/?q=1",
     "https://web.archive.org:99999/", "", "https:///coll"],
)
def test_bad_archive_urls(given):
    with pytest.raises(InvalidInput) as err:
        parse_endpoint(given)
    assert err.value.subject == "archive" and "\n" not in str(err.value)


def test_unknown_dialect():
    with pytest.raises(InvalidInput):
        parse_endpoint("https://web.archive.org", dialect="heritrix")
