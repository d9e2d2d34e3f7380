"""Discovery against an in-memory listing site that behaves like Alaveteli's:
25 per page, /body and /list pages past 20 answer 404, /list totals capped at 500
pages-wise, and /list date slices match requests by the UTC dates of their events."""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from scraper.discovery import ListingUnreadable, Target, listing_url, split_range, walk
from scraper.errors import InvalidInput, TargetNotFound
from scraper.pages.listing import ListingItem, ListingPage
from scraper.records import ParseFailure

SITE = "https://www.whatdotheyknow.com"
TODAY = date(2025, 6, 30)
BST = timezone(timedelta(hours=1))


class MemorySite:
    def __init__(self, requests: dict[str, dict]):
        # requests: slug -> {"body": str, "user": str, "events": [aware datetime, ...]}
        self.requests = requests
        self.fetched: list[str] = []

    def _page(self, rows: list[tuple[str, datetime]], page: int, *, last: int, total: int | None, url: str) -> ListingPage:
        chunk = rows[(page - 1) * 25 : page * 25]
        items = [
            ListingItem(url_title=slug, title=slug, event_type="sent", event_time=when, event_time_text=when.isoformat(), status="successful")
            for slug, when in chunk
        ]
        next_url = None
        if page < last:
            parts = urlsplit(url)
            query = parse_qs(parts.query)
            query["page"] = [str(page + 1)]
            from urllib.parse import urlencode

            next_url = f"{SITE}{parts.path}?" + urlencode(sorted((k, v[0]) for k, v in query.items()))
        return ListingPage(items=items, current_page=page, last_page=last if last > 1 else None, next_url=next_url, total=total, is_empty=not items)

    async def fetch_listing(self, url: str):
        self.fetched.append(url)
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        page = int(query.get("page", "1"))
        segs = parts.path.strip("/").split("/")
        if segs[0] in ("body", "user"):
            key = "body" if segs[0] == "body" else "user"
            mine = {s: r for s, r in self.requests.items() if r[key] == segs[1]}
            if not mine and segs[1] not in {r[key] for r in self.requests.values()}:
                return None
            if key == "body" and page > 20:
                return None
            rows = sorted(((s, max(r["events"])) for s, r in mine.items()), key=lambda x: x[1], reverse=True)
            last = max(1, math.ceil(len(rows) / 25))
            return self._page(rows, page, last=last, total=len(rows) if key == "user" else None, url=url)
        assert segs == ["list"], url
        if page > 20:
            return None
        q = query["query"]
        field, _, value = q.partition(":")
        key = {"requested_from": "body", "requested_by": "user"}[field]
        after = datetime.strptime(query.get("request_date_after", "2001/01/01"), "%Y/%m/%d").date()
        before = datetime.strptime(query["request_date_before"], "%Y/%m/%d").date() if "request_date_before" in query else TODAY
        rows = []
        for slug, r in self.requests.items():
            if r[key] != value:
                continue
            inside = [e for e in r["events"] if after <= e.astimezone(timezone.utc).date() <= before]
            if inside:
                rows.append((slug, max(inside)))
        rows.sort(key=lambda x: x[1], reverse=True)
        last = max(1, math.ceil(min(len(rows), 500) / 25))
        return self._page(rows, page, last=last, total=len(rows), url=url)


def make_requests(n: int, body: str = "big_body", *, seed: int = 7, start=date(2010, 1, 1), days=5400) -> dict[str, dict]:
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        first = start + timedelta(days=rng.randrange(days))
        events = []
        for k in range(rng.randint(1, 4)):
            d = first + timedelta(days=k * rng.randint(1, 60))
            events.append(datetime.combine(d, time(rng.randint(0, 23), rng.randint(0, 59)), tzinfo=BST))
        out[f"req_{i:05d}"] = {"body": body, "user": f"user_{i % 7}", "events": events}
    return out


async def collect(site: MemorySite, target: Target, **kw) -> list[ListingItem]:
    return [item async for item in walk(SITE, target, site.fetch_listing, today=TODAY, **kw)]


# --- URLs ------------------------------------------------------------------------------------


def test_listing_urls():
    body = Target("authority", "mhclg")
    assert listing_url(SITE, body, 1) == f"{SITE}/body/mhclg"
    assert listing_url(SITE, body, 3) == f"{SITE}/body/mhclg?page=3"
    assert listing_url(SITE, Target("user", "sam_patel_3"), 2) == f"{SITE}/user/sam_patel_3?page=2"
    assert listing_url(SITE, Target("query", "parking"), 2, date(2024, 1, 1), date(2024, 1, 31)) == (
        f"{SITE}/list?commit=Search&page=2&query=parking&request_date_after=2024%2F01%2F01&request_date_before=2024%2F01%2F31"
    )
    assert listing_url(SITE, body, 1, date(2024, 1, 1), date(2024, 1, 31)) == (
        f"{SITE}/list?commit=Search&query=requested_from%3Amhclg&request_date_after=2024%2F01%2F01&request_date_before=2024%2F01%2F31"
    )
    assert listing_url(SITE, Target("user", "sam"), 1, None, date(2020, 5, 6)) == (
        f"{SITE}/list?commit=Search&query=requested_by%3Asam&request_date_before=2020%2F05%2F06"
    )
    assert listing_url(SITE, Target("query", "road safety"), 1) == f"{SITE}/list?commit=Search&query=road+safety"


def test_split_range_covers_every_day_once():
    lo, hi = date(2007, 1, 1), date(2025, 6, 30)
    for parts in (2, 3, 7, 100):
        pieces = split_range(lo, hi, parts)
        assert pieces[0][0] == lo and pieces[-1][1] == hi and len(pieces) == parts
        for (a, b), (c, _d) in zip(pieces, pieces[1:]):
            assert c == b + timedelta(days=1) and a <= b
    assert split_range(lo, lo + timedelta(days=1), 5) == [(lo, lo), (lo + timedelta(days=1), lo + timedelta(days=1))]


def test_bad_targets():
    with pytest.raises(ValueError, match="unknown target kind"):  # a programming error, not input
        Target("council", "x")
    with pytest.raises(InvalidInput) as info:
        Target("authority", " ")
    assert info.value.subject == "authority"
    with pytest.raises(InvalidInput) as info:
        Target("authority", "x", since=date(2024, 2, 1), until=date(2024, 1, 1))
    assert info.value.subject == "dates" and "--" not in str(info.value)


# --- walking ---------------------------------------------------------------------------------


def test_small_body_walks_native_pages_only():
    site = MemorySite(make_requests(60, body="small"))
    items = asyncio.run(collect(site, Target("authority", "small")))
    assert sorted(i.url_title for i in items) == sorted(site.requests)
    assert site.fetched == [f"{SITE}/body/small", f"{SITE}/body/small?page=2", f"{SITE}/body/small?page=3"]


def test_slicing_reaches_every_request_of_a_big_body():
    site = MemorySite(make_requests(1300))
    items = asyncio.run(collect(site, Target("authority", "big_body")))
    slugs = [i.url_title for i in items]
    assert len(slugs) == len(set(slugs)), "a request was yielded twice"
    assert set(slugs) == set(site.requests)
    # the native listing was abandoned as soon as its window showed more than 20 pages
    assert site.fetched[0] == f"{SITE}/body/big_body"
    assert not any("/body/big_body?page=" in u for u in site.fetched)
    # never asked for a page the site refuses, and stayed efficient
    assert all(int(parse_qs(urlsplit(u).query).get("page", ["1"])[0]) <= 20 for u in site.fetched)
    assert len(site.fetched) < 1300 / 25 * 2.5


def test_big_user_without_window_cap_is_sliced_too():
    reqs = make_requests(1300)
    for r in reqs.values():
        r["user"] = "prolific"
    site = MemorySite(reqs)
    items = asyncio.run(collect(site, Target("user", "prolific")))
    assert {i.url_title for i in items} == set(reqs) and len(items) == len(reqs)


def test_full_listing_detected_from_page_20_next_link():
    """A body listing whose window does not reveal its size is walked to page 20, then sliced."""
    site = MemorySite(make_requests(700))
    original = site._page

    def hide_last(rows, page, *, last, total, url):
        result = original(rows, page, last=last, total=total, url=url)
        result.last_page = None
        return result

    site._page = hide_last
    items = asyncio.run(collect(site, Target("authority", "big_body")))
    assert {i.url_title for i in items} == set(site.requests) and len(items) == 700
    assert f"{SITE}/body/big_body?page=20" in site.fetched


def test_since_until_bound_the_slices_and_the_items():
    site = MemorySite(make_requests(1300))
    since, until = date(2015, 3, 1), date(2016, 8, 31)
    items = asyncio.run(collect(site, Target("authority", "big_body", since=since, until=until)))
    expected = {
        slug
        for slug, r in site.requests.items()
        if any(since <= e.astimezone(timezone.utc).date() <= until for e in r["events"])
    }
    assert {i.url_title for i in items} == expected and len(items) == len(expected)
    assert all(since <= i.event_time.astimezone(timezone.utc).date() <= until for i in items)
    # the body page was fetched once (to check the slug), then only /list slices inside the range
    assert site.fetched[0] == f"{SITE}/body/big_body"
    for url in site.fetched[1:]:
        q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert date.fromisoformat(q["request_date_after"].replace("/", "-")) >= since
        assert date.fromisoformat(q["request_date_before"].replace("/", "-")) <= until


def test_native_items_filtered_by_date_when_dated_query_target():
    reqs = make_requests(80)
    site = MemorySite(reqs)

    async def go():
        target = Target("query", "requested_from:big_body", since=date(2012, 1, 1), until=date(2013, 12, 31))
        return [i async for i in walk(SITE, target, site.fetch_listing, today=TODAY)]

    items = asyncio.run(go())
    expected = {s for s, r in reqs.items() if any(date(2012, 1, 1) <= e.astimezone(timezone.utc).date() <= date(2013, 12, 31) for e in r["events"])}
    assert {i.url_title for i in items} == expected
    assert site.fetched[0].startswith(f"{SITE}/list?commit=Search&query=requested_from%3Abig_body&request_date_after=2012%2F01%2F01")


def test_unknown_authority_and_user_raise_target_not_found():
    site = MemorySite(make_requests(3, body="real"))
    with pytest.raises(TargetNotFound) as info:
        asyncio.run(collect(site, Target("authority", "no_such_body")))
    message = str(info.value)
    assert "no authority 'no_such_body' on https://www.whatdotheyknow.com" in message and "/body/<slug>" in message
    assert (info.value.kind, info.value.value, info.value.subject) == ("authority", "no_such_body", "authority")
    with pytest.raises(TargetNotFound) as info:
        asyncio.run(collect(site, Target("user", "ghost", since=date(2020, 1, 1))))
    assert "no user 'ghost'" in str(info.value)


def test_single_day_overflow_warns_and_yields_what_it_can() -> None:
    reqs = make_requests(600, start=date(2020, 2, 2), days=1)
    for r in reqs.values():
        r["events"] = [r["events"][0].replace(hour=12)]  # one event each, all on one (UTC) day
    site = MemorySite(reqs)
    warnings: list[str] = []
    items = asyncio.run(collect(site, Target("authority", "big_body"), on_warning=warnings.append))
    assert len(items) == 500 and len({i.url_title for i in items}) == 500
    assert any("2020-02-02" in w and "500" in w for w in warnings)


def test_unreadable_first_page_raises_and_later_page_is_skipped_with_warning() -> None:
    async def broken(url):
        return ParseFailure("markup_changed", "no items")

    with pytest.raises(ListingUnreadable):
        asyncio.run(collect_from(broken, Target("authority", "x")))

    site = MemorySite(make_requests(60, body="small"))

    async def flaky(url):
        if "page=2" in url:
            return ParseFailure("truncated", "cut short")
        return await site.fetch_listing(url)

    warnings: list[str] = []
    items = asyncio.run(collect_from(flaky, Target("authority", "small"), on_warning=warnings.append))
    assert len(items) == 25 and len(warnings) == 1 and "truncated" in warnings[0]


async def collect_from(fetch, target, **kw):
    return [i async for i in walk(SITE, target, fetch, today=TODAY, **kw)]


def test_each_request_yielded_once_even_across_overlapping_slices():
    reqs = make_requests(900, days=400)  # dense: many requests have events in several slices
    site = MemorySite(reqs)
    items = asyncio.run(collect(site, Target("authority", "big_body")))
    counts = Counter(i.url_title for i in items)
    assert set(counts) == set(reqs) and max(counts.values()) == 1


# --- end to end against the sample site over HTTP -------------------------------------------


def test_walk_over_http_reaches_every_listed_request_of_a_big_body(fake_site_factory):
    """Fetcher + robots + parse_listing + walk against the sample Alaveteli site."""
    from corpus.sample_site import generate_corpus
    from corpus.sample_site.generate import big_authority_url_name
    from scraper.fetch import Fetcher, load_robots
    from scraper.http import make_client
    from scraper.pages.listing import parse_listing
    from scraper.politeness import RateLimiter

    corpus = generate_corpus(1800, seed=3, big_authority_share=0.4, messages_per_request=(1, 3))
    big = big_authority_url_name()
    expected = {r.url_title for r in corpus.requests if r.authority_url_name == big and r.prominence == "normal"}
    assert len(expected) > 500  # more than one listing can show
    site = fake_site_factory(corpus)
    failures = []

    async def go():
        async with make_client(site.url, "tests@example.org") as client:
            limiter = RateLimiter(1000)
            robots, _ = await load_robots(client, site.url, limiter)
            fetcher = Fetcher(client, robots, limiter, site=site.url, backoff_base=0.001)

            async def fetch_listing(url):
                res = await fetcher.fetch(url)
                if res.status in (404, 410):
                    return None
                assert res.error is None, res.error
                page = parse_listing(res.body, base_url=res.final_url)
                if isinstance(page, ParseFailure):
                    failures.append((url, page))
                return page

            target = Target("authority", big)
            return [i async for i in walk(site.url, target, fetch_listing, today=corpus.today)]

    items = asyncio.run(go())
    assert failures == []
    slugs = [i.url_title for i in items]
    assert len(slugs) == len(set(slugs))
    assert set(slugs) == expected
    assert all(i.authority_url_name == big and i.status and i.event_time is not None for i in items)
    listing_hits = site.hits_for(r"^/(body|list)")
    assert all("page=21" not in h.path + "?" + (h.query or "") for h in listing_hits)
