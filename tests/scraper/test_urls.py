from __future__ import annotations

import pytest

from scraper.errors import InvalidInput
from scraper.urls import (
    downgrades,
    is_local_site,
    normalise_site,
    request_json_url,
    request_ref,
    request_url,
    same_host,
    url_title_from_href,
)

SITE = "https://www.whatdotheyknow.com"


@pytest.mark.parametrize(
    "given, expected",
    [
        ("https://www.whatdotheyknow.com", SITE),
        ("https://www.whatdotheyknow.com/", SITE),
        ("  HTTPS://WWW.WhatDoTheyKnow.com/ ", SITE),
        ("http://127.0.0.1:8123/", "http://127.0.0.1:8123"),
        ("https://example.org:443", "https://example.org"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_normalise_site(given, expected):
    assert normalise_site(given) == expected


@pytest.mark.parametrize(
    "bad, words",
    [
        ("www.whatdotheyknow.com", "no scheme"),
        ("ftp://example.org", "only http and https"),
        ("https://", "no host"),
        ("https://www.whatdotheyknow.com/body/mhclg", "has a path"),
        ("https://example.org/?q=1", "has a path"),
        ("https://user:pw@example.org", "password"),
        ("", "empty"),
        ("http://example.org:99999", "invalid host or port"),
    ],
)
def test_normalise_site_rejects(bad, words):
    with pytest.raises(InvalidInput) as info:
        normalise_site(bad)
    message = str(info.value)
    assert words in message and "\n" not in message
    assert info.value.subject == "site" and "--site" not in message


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("pothole_repair_times", ("pothole_repair_times", None)),
        ("1290477", (None, 1290477)),
        (1290477, (None, 1290477)),
        ("/request/pothole_repair_times", ("pothole_repair_times", None)),
        ("request/pothole_repair_times.json", ("pothole_repair_times", None)),
        (f"{SITE}/request/pothole_repair_times#incoming-3011952", ("pothole_repair_times", None)),
        (f"{SITE}/request/pothole_repair_times?unfold=1", ("pothole_repair_times", None)),
        (f"{SITE}/request/545579/response/1313651/attach/2/x.pdf", (None, 545579)),
        ("http://www.whatdotheyknow.com/request/psl_schemes", ("psl_schemes", None)),
    ],
)
def test_request_ref(ref, expected):
    assert request_ref(SITE, ref) == expected


@pytest.mark.parametrize(
    "ref, words",
    [
        ("https://www.example.org/request/psl_schemes", "is not on"),
        (f"{SITE}/body/mhclg", "is not a request URL"),
        ("has spaces in it", "not a request slug"),
        ("", "empty"),
        (0, "not positive"),
    ],
)
def test_request_ref_rejects(ref, words):
    with pytest.raises(InvalidInput) as info:
        request_ref(SITE, ref)
    assert words in str(info.value)
    assert info.value.subject == "request" and "--" not in str(info.value)


def test_request_urls():
    assert request_url(SITE, "psl_schemes") == f"{SITE}/request/psl_schemes"
    assert request_json_url(SITE, "psl_schemes") == f"{SITE}/request/psl_schemes.json"


@pytest.mark.parametrize(
    "site, local",
    [
        ("http://127.0.0.1:8000", True),
        ("http://127.4.5.6", True),
        ("http://localhost:5000", True),
        ("http://LOCALHOST.:5000", True),
        ("http://[::1]:5000", True),
        # other *.localhost names go through the resolver, which may send them anywhere
        ("http://mirror.localhost:5000", False),
        ("http://localhost.example.org", False),
        (SITE, False),
        ("http://10.0.0.1", False),
        ("http://127.0.0.1.example.org", False),
    ],
)
def test_is_local_site(site, local):
    assert is_local_site(site) is local


def test_same_host():
    assert same_host(SITE, f"{SITE}/request/x")
    assert same_host(SITE, "/request/x")
    assert not same_host(SITE, "http://www.whatdotheyknow.com/request/x")  # https -> http: a downgrade
    assert same_host("http://www.whatdotheyknow.com", f"{SITE}/request/x")  # http -> https: an upgrade
    assert same_host(SITE, "https://WWW.WHATDOTHEYKNOW.COM./list")
    assert not same_host(SITE, "https://whatdotheyknow.com/request/x")
    assert not same_host(SITE, "https://evil.example/request/x")
    assert not same_host(SITE, "//evil.example/request/x")
    assert not same_host("http://127.0.0.1:8000", "http://127.0.0.1:9000/x")
    assert same_host("http://127.0.0.1:8000", "http://127.0.0.1:8000/x")


def test_downgrades():
    assert downgrades(SITE, "http://www.whatdotheyknow.com/x")
    assert downgrades(SITE, "ftp://www.whatdotheyknow.com/x")
    assert not downgrades(SITE, "/request/x") and not downgrades(SITE, f"{SITE}/x")
    assert not downgrades("http://127.0.0.1:8000", "http://127.0.0.1:8000/x")


def test_url_title_from_href():
    assert url_title_from_href("/request/abc#incoming-1") == "abc"
    assert url_title_from_href(f"{SITE}/request/abc.json") == "abc"
    assert url_title_from_href("/body/mhclg") is None
