"""walk(): page_is_old ends an authority's walk early; WalkOutcome says whether a walk finished."""

from __future__ import annotations

import asyncio
from datetime import date

from scraper.discovery import Target, WalkOutcome, walk
from scraper.records import ParseFailure
from tests.scraper.test_discovery import SITE, TODAY, MemorySite, make_requests


def run(site, target, **kw):
    outcome = WalkOutcome()

    async def go():
        return [i async for i in walk(SITE, target, site.fetch_listing, today=TODAY, outcome=outcome, **kw)]

    return asyncio.run(go()), outcome


def old_after(first_old_page: int):
    """page_is_old that answers True from the given page on (pages counted as asked)."""
    asked = []

    async def page_is_old(items):
        asked.append([i.url_title for i in items])
        return len(asked) >= first_old_page

    return page_is_old, asked


def test_a_full_walk_is_complete():
    site = MemorySite(make_requests(130))
    items, outcome = run(site, Target("authority", "big_body"))
    assert len(items) == 130
    assert (outcome.complete, outcome.stopped_early, outcome.pages) == (True, False, 6)


def test_an_old_page_ends_the_walk_after_its_items():
    site = MemorySite(make_requests(130))
    page_is_old, asked = old_after(2)
    items, outcome = run(site, Target("authority", "big_body"), page_is_old=page_is_old)
    assert len(items) == 50  # pages 1 and 2 are still yielded
    assert len(site.fetched) == 2 and len(asked) == 2
    assert (outcome.complete, outcome.stopped_early, outcome.pages) == (True, True, 2)


def test_an_old_first_page_of_a_full_authority_skips_the_date_slices():
    site = MemorySite(make_requests(700, days=4000))
    page_is_old, _ = old_after(1)
    items, outcome = run(site, Target("authority", "big_body"), page_is_old=page_is_old)
    assert len(items) == 25 and site.fetched == [f"{SITE}/body/big_body"]
    assert outcome.complete and outcome.stopped_early


def test_a_full_authority_with_no_old_page_is_still_walked_in_full():
    reqs = make_requests(700, days=4000)
    site = MemorySite(reqs)

    async def never(items):
        return False

    items, outcome = run(site, Target("authority", "big_body"), page_is_old=never)
    assert {i.url_title for i in items} == set(reqs)
    assert outcome.complete and not outcome.stopped_early


def test_users_queries_and_dated_walks_never_stop_early():
    reqs = make_requests(130)
    asked = []

    async def always(items):
        asked.append(1)
        return True

    for target in (Target("user", "user_1"), Target("query", "requested_from:big_body"),
                   Target("authority", "big_body", since=date(2011, 1, 1))):
        site = MemorySite(reqs)
        items, outcome = run(site, target, page_is_old=always)
        assert outcome.complete and not outcome.stopped_early
        expected = {s for s, r in reqs.items() if (target.kind != "user" or r["user"] == "user_1")}
        if target.since:
            expected = {s for s in expected if any(e.date() >= target.since for e in reqs[s]["events"])}
        assert {i.url_title for i in items} == expected
    assert asked == []


def test_an_unreadable_page_leaves_the_walk_incomplete():
    site = MemorySite(make_requests(130))
    real = site.fetch_listing

    async def flaky(url):
        if "page=3" in url:
            return ParseFailure("error_page", "HTTP 500")
        return await real(url)

    outcome = WalkOutcome()

    async def go():
        return [i async for i in walk(SITE, Target("authority", "big_body"), flaky, today=TODAY, outcome=outcome,
                                      on_warning=lambda m: None)]

    items = asyncio.run(go())
    assert len(items) == 50
    assert not outcome.complete and outcome.pages == 2


def test_a_walk_abandoned_by_its_reader_is_not_complete():
    site = MemorySite(make_requests(130))
    outcome = WalkOutcome()

    async def go():
        n = 0
        async for _ in walk(SITE, Target("authority", "big_body"), site.fetch_listing, today=TODAY, outcome=outcome):
            n += 1
            if n == 30:
                break

    asyncio.run(go())
    assert not outcome.complete


def test_a_request_seen_again_on_its_authority_listing_is_yielded_again_only_if_its_entry_changed():
    from dataclasses import replace

    reqs = make_requests(60)
    site = MemorySite(reqs)
    real = site.fetch_listing
    first_seen = {}

    async def fetch(url):
        page = await real(url)
        if "page=" not in url:
            first_seen["moved"], first_seen["shifted"] = page.items[0], page.items[1]
        elif "page=2" in url:
            # Churn while the walk reads: one request reappears with a new event, another is merely shifted down.
            page.items.insert(0, replace(first_seen["moved"], event_time_text="2025-06-29T10:00:00+01:00"))
            page.items.insert(1, first_seen["shifted"])
        return page

    async def go():
        return [i async for i in walk(SITE, Target("authority", "big_body"), fetch, today=TODAY)]

    items = asyncio.run(go())
    moved, shifted = first_seen["moved"].url_title, first_seen["shifted"].url_title
    assert [i.event_time_text[:10] for i in items if i.url_title == moved][1] == "2025-06-29"
    assert len([i for i in items if i.url_title == moved]) == 2
    assert len([i for i in items if i.url_title == shifted]) == 1
    assert len(items) == 61
