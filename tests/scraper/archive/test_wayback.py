"""The Wayback client against a real pywb and against the Internet Archive stand-in, both on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import pytest

from scraper.archive.captures import Capture, Skipped, SkipReason, UrlKind
from scraper.archive.cdx import Dialect, parse_endpoint
from scraper.archive.wayback import (
    DEFAULT_ARCHIVE_RATE,
    MAX_PUBLIC_ARCHIVE_RATE,
    PAUSE_AFTER_429,
    ArchiveUnavailable,
    WaybackArchive,
    archive_rate,
)
from scraper.errors import InvalidInput
from tests.scraper.archive.conftest import T_NEW, T_OLD
from tests.support.archive_servers import IaStandIn, shared_pywb

CONTACT = "researcher@example.org"


@pytest.fixture(scope="package")
def pywb_archive(recorded):
    return shared_pywb().add([recorded.old, recorded.new, recorded.history])


@pytest.fixture
def ia(recorded):
    server = IaStandIn([recorded.old, recorded.new, recorded.history]).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["pywb", "ia"])
def archive_url(request, recorded):
    if request.param == "pywb":
        return request.getfixturevalue("pywb_archive")
    return request.getfixturevalue("ia").url


def run(coro):
    return asyncio.run(coro)


async def lookup(archive_url, site, *urls, **kw):
    async with WaybackArchive(parse_endpoint(archive_url), site=site, contact=CONTACT, rate=200, **kw) as wa:
        return [await wa.lookup(u) for u in urls], wa


def test_pywb_listens_on_loopback_only(pywb_archive):
    assert shared_pywb().listening_addresses() == ["127.0.0.1"]


def test_the_latest_capture_comes_back_raw(archive_url, recorded):
    updated = recorded.updated[0]
    never_updated = next(u for u in recorded.bodies if u not in recorded.updated and "/request/" in u)
    (new, old), _ = run(lookup(archive_url, recorded.site, updated, never_updated))
    assert isinstance(new, Capture) and isinstance(old, Capture)
    assert (new.captured_at, new.status, new.body) == (T_NEW, 200, recorded.bodies[updated])
    assert (old.captured_at, old.body) == (T_OLD, recorded.bodies[never_updated])
    assert new.kind in (UrlKind.REQUEST_PAGE, UrlKind.REQUEST_JSON)
    assert "id_/" in new.source and new.source.startswith(archive_url.rstrip("/"))
    assert new.headers.get("content-type", "").startswith(("text/html", "application/json"))
    assert "x-archive-orig-content-type" not in new.headers and "memento-datetime" not in new.headers


def test_attachments_and_json_come_back_byte_for_byte(archive_url, recorded):
    wanted = [u for u in recorded.bodies if "/attach/" in u][:2] + [u for u in recorded.bodies if u.endswith(".json")][:1]
    got, _ = run(lookup(archive_url, recorded.site, *wanted))
    assert [g.body for g in got] == [recorded.bodies[u] for u in wanted]
    assert [g.kind for g in got] == [UrlKind.ATTACHMENT, UrlKind.ATTACHMENT, UrlKind.REQUEST_JSON]


def test_a_removal_is_never_undone_from_an_older_capture(archive_url, recorded):
    (removed, hidden), _ = run(lookup(archive_url, recorded.site, recorded.removed_later, recorded.hidden_later))
    assert isinstance(removed, Skipped) and removed.reason is SkipReason.GONE and removed.captured_at == T_NEW
    assert isinstance(hidden, Skipped) and hidden.reason is SkipReason.GONE


def test_a_captured_challenge_page_is_passed_over_for_an_older_capture(archive_url, recorded):
    (got,), wa = run(lookup(archive_url, recorded.site, recorded.challenged_later))
    assert isinstance(got, Capture) and got.captured_at == T_OLD
    assert wa.stats["replays"] == 2  # the challenge page, then the page


def test_nothing_archived(archive_url, recorded):
    (got,), _ = run(lookup(archive_url, recorded.site, f"{recorded.site}/request/never_captured"))
    assert isinstance(got, Skipped) and got.reason is SkipReason.NOT_ARCHIVED


def test_listing_the_archived_request_urls(archive_url, recorded):
    async def go():
        async with WaybackArchive(parse_endpoint(archive_url), site=recorded.site, contact=CONTACT, rate=200) as wa:
            return await wa.list_prefix(f"{recorded.site}/request/")

    listing = run(go())
    urls = {r.url for r in listing.rows}
    expected = {u for u in recorded.bodies if "/request/" in u} | {recorded.removed_later, recorded.challenged_later,
                                                                   recorded.hidden_later}
    assert urls == expected and listing.complete
    newest = {r.url: r.timestamp for r in listing.rows}
    if parse_endpoint(archive_url).dialect is Dialect.PYWB:  # pywb lists every capture: the latest is kept
        assert newest[recorded.updated[0]] == T_NEW.strftime("%Y%m%d%H%M%S")


def test_ia_listing_is_read_page_by_page(ia, recorded):
    async def go():
        async with WaybackArchive(parse_endpoint(ia.url), site=recorded.site, contact=CONTACT, rate=500) as wa:
            return await wa.list_prefix(f"{recorded.site}/request/", per_query=10, max_queries=50), wa

    listing, wa = run(go())
    assert listing.complete and listing.queries > 3
    assert len({r.url for r in listing.rows}) == len(listing.rows) > 30
    resumed = [h for h in ia.hits if h.path == "/cdx/search/cdx" and "resumeKey" in h.query]
    assert len(resumed) == listing.queries - 1


# ---------------------------------------------------------------- politeness towards the archive


def test_every_request_is_a_polite_get(ia, recorded):
    run(lookup(ia.url, recorded.site, *recorded.updated))
    assert ia.hits[0].path == "/robots.txt"
    assert {h.method for h in ia.hits} == {"GET"}
    assert all(CONTACT in h.headers["user-agent"] and h.headers["user-agent"].startswith("foi-corpus/")
               for h in ia.hits)
    assert not any("save" in h.path for h in ia.hits)
    assert all(h.path in ("/robots.txt", "/cdx/search/cdx") or h.path.startswith("/web/") for h in ia.hits)


def test_the_archive_rate_spaces_every_request(ia, recorded):
    run(_timed_lookup(ia.url, recorded.site, recorded.updated[:2], rate=8.0))
    starts = [h.at for h in ia.hits]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(gaps) >= 4 and min(gaps) >= 1 / 8.0 - 0.02


async def _timed_lookup(archive_url, site, urls, rate):
    async with WaybackArchive(parse_endpoint(archive_url), site=site, contact=CONTACT, rate=rate) as wa:
        return [await wa.lookup(u) for u in urls]


def test_robots_txt_of_the_archive_is_obeyed(recorded):
    server = IaStandIn([recorded.old], robots_txt="User-agent: *\nDisallow: /cdx/\n").start()
    try:
        with pytest.raises(ArchiveUnavailable, match="robots.txt"):
            run(lookup(server.url, recorded.site, recorded.updated[0]))
        assert [h.path for h in server.hits] == ["/robots.txt"]
    finally:
        server.stop()


def test_retry_after_is_obeyed(ia, recorded):
    ia.add_fault(r"^/cdx/", "429", retry_after=1)
    started = time.monotonic()
    (got,), _ = run(lookup(ia.url, recorded.site, recorded.updated[0]))
    assert isinstance(got, Capture)
    cdx = [h for h in ia.hits if h.path == "/cdx/search/cdx"]
    assert [h.status for h in cdx] == [429, 200]
    assert cdx[1].at - cdx[0].at >= 0.95 and time.monotonic() - started >= 0.95


def test_a_429_without_retry_after_holds_everything_back(ia, recorded):
    ia.add_fault(r"^/cdx/", "429")

    async def go():
        async with WaybackArchive(parse_endpoint(ia.url), site=recorded.site, contact=CONTACT, rate=200,
                                  fetcher_options={"max_attempts": 1}) as wa:
            got = await wa.lookup(recorded.updated[0])
            return got, wa.limiter.next_start() - time.monotonic()

    got, wait = run(go())
    assert isinstance(got, Skipped) and got.reason is SkipReason.ARCHIVE_ERROR
    assert wait > PAUSE_AFTER_429 - 5


def test_errors_in_a_row_end_the_use_of_the_archive(ia, recorded):
    ia.add_fault(r"^/cdx/", "status", code=500, times=100)

    async def go():
        async with WaybackArchive(parse_endpoint(ia.url), site=recorded.site, contact=CONTACT, rate=500,
                                  fetcher_options={"max_attempts": 1}) as wa:
            results = []
            with pytest.raises(ArchiveUnavailable, match="in a row"):
                for url in recorded.updated:
                    results.append(await wa.lookup(url))
            return results, wa

    results, wa = run(go())
    assert [r.reason for r in results] == [SkipReason.ARCHIVE_ERROR] * 2
    asked = len(ia.hits)
    with pytest.raises(ArchiveUnavailable):
        run(wa.lookup(recorded.updated[0]))
    assert len(ia.hits) == asked  # nothing more was sent


def test_a_challenge_from_the_archive_stops_asking_it(ia, recorded):
    ia.add_fault(r"^/cdx/", "challenge")
    with pytest.raises(ArchiveUnavailable, match="bot challenge"):
        run(lookup(ia.url, recorded.site, *recorded.updated))
    assert [h.path for h in ia.hits] == ["/robots.txt", "/cdx/search/cdx"]


def test_a_missing_cdx_api(recorded):
    async def go():
        server = IaStandIn([]).start()
        try:
            url = server.url + "/no-such-collection"  # a pywb-style address where nothing answers
            async with WaybackArchive(parse_endpoint(url), site=recorded.site, contact=CONTACT, rate=200) as wa:
                await wa.lookup(recorded.updated[0])
        finally:
            server.stop()

    with pytest.raises(ArchiveUnavailable, match="no CDX API"):
        run(go())


def test_archive_rates():
    assert archive_rate("https://web.archive.org", None) == (DEFAULT_ARCHIVE_RATE, None)
    rate, warning = archive_rate("https://web.archive.org", 5)
    assert rate == MAX_PUBLIC_ARCHIVE_RATE and "24 a minute" in warning
    assert archive_rate("http://127.0.0.1:8080", 300) == (300, None)
    assert DEFAULT_ARCHIVE_RATE * 60 <= 24
    for bad in (0, -1, "fast"):
        with pytest.raises(InvalidInput):
            archive_rate("https://web.archive.org", bad)
