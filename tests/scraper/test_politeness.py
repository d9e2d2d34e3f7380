from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

import pytest

from scraper.errors import InvalidInput, Stopped
from scraper.politeness import (
    MAX_PUBLIC_RATE,
    ROBOTS_MAX_BYTES,
    RateLimiter,
    Robots,
    RobotsUnavailable,
    effective_rate,
    parse_retry_after,
)

SITE = "https://www.whatdotheyknow.com"

# The site's robots.txt as published; the sample site serves the same file, and
# tests/sample_site checks it against the reference copy.
from corpus.sample_site.server import ROBOTS_TXT as WDTK_ROBOTS  # noqa: E402


@pytest.mark.parametrize(
    "path, allowed",
    [
        ("/request/psl_schemes", True),
        ("/request/psl_schemes.json", True),
        ("/body/mhclg", True),
        ("/body/mhclg?page=3", True),
        ("/user/sam_patel_3", True),
        ("/list?commit=Search&query=requested_from%3Amhclg&request_date_after=2024%2F01%2F01", True),
        ("/body/all-authorities.csv", True),
        ("/request/psl_schemes/response/1000437/attach/2/letter.pdf?cookie_passthrough=1", True),
        ("/request/psl_schemes/response/1000437/attach/html/2/letter.pdf.html", True),
        ("/feed/body/mhclg", False),
        ("/feed/body/mhclg.json", False),
        ("/search/parking/requests", False),
        ("/request/psl_schemes/response/1000437", False),
        ("/request/psl_schemes/download", False),
        ("/request/psl_schemes?update_status=1", False),
        ("/request/psl_schemes?foo=bar&update_status=1", False),
        ("/request/psl_schemes/feed", False),
        ("/track/body/mhclg", False),
        ("/profile/sign_in", False),
        ("/request/psl_schemes/annotate", False),
    ],
)
def test_real_robots_rules(path, allowed):
    robots = Robots.parse(SITE, WDTK_ROBOTS)
    assert robots.allowed(path) is allowed
    assert robots.allowed(SITE + path) is allowed


def test_crawl_delay():
    assert Robots.parse(SITE, WDTK_ROBOTS).crawl_delay is None
    assert Robots.parse(SITE, "User-agent: *\nCrawl-delay: 7\nDisallow: /private/\n").crawl_delay == 7.0
    # a group for our own token wins over *
    text = "User-agent: *\nDisallow: /\n\nUser-agent: foi-corpus\nCrawl-delay: 3\nDisallow: /x/\n"
    robots = Robots.parse(SITE, text)
    assert robots.crawl_delay == 3.0 and robots.allowed("/list") and not robots.allowed("/x/y")


def test_robots_from_response():
    assert Robots.from_response(SITE, 404, "").allowed("/anything/at/all")
    assert not Robots.from_response(SITE, 200, WDTK_ROBOTS).allowed("/feed/x")
    for status in (500, 503, 429):
        with pytest.raises(RobotsUnavailable) as info:
            Robots.from_response(SITE, status, "")
        assert str(status) in str(info.value) and "try again later" in str(info.value)


def test_parse_retry_after():
    now = datetime(2025, 8, 29, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Fri, 29 Aug 2025 12:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Fri, 29 Aug 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None


def test_effective_rate_caps_public_sites_and_exempts_this_machine():
    assert effective_rate(SITE, 0.5) == (0.5, None)
    assert effective_rate(SITE, 5) == (5.0, None)
    rate, warning = effective_rate(SITE, 20)
    assert rate == MAX_PUBLIC_RATE == 5.0
    assert warning == "a rate of 20 req/s is above the 5 req/s ceiling for public sites; using 5"
    for local in ("http://127.0.0.1:8000", "http://127.3.2.1", "http://localhost:3000", "http://[::1]:8080"):
        assert effective_rate(local, 300) == (300.0, None)
    # a name under .localhost is resolved by the system, maybe through DNS: capped like any public site
    assert effective_rate("http://mirror.localhost:8000", 300) == (5.0, warning.replace("20 req/s", "300 req/s"))
    for bad in (0, -1, float("nan"), "fast"):
        with pytest.raises(InvalidInput) as info:
            effective_rate(SITE, bad)
        assert info.value.subject == "rate" and "--rate" not in str(info.value)


class FakeClock:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_starts_on_a_fake_clock():
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock, sleep=clock.sleep)
    starts = []

    async def go():
        for _ in range(4):
            async with limiter:
                starts.append(clock.now)

    asyncio.run(go())
    assert starts == [1000.0, 1000.5, 1001.0, 1001.5]


def test_rate_limiter_crawl_delay_wins_when_longer_and_penalise():
    clock = FakeClock()
    limiter = RateLimiter(2.0, crawl_delay=3.0, clock=clock, sleep=clock.sleep)
    assert limiter.interval == 3.0
    starts = []

    async def go():
        await limiter.wait()
        starts.append(clock.now)
        limiter.penalise(10)
        await limiter.wait()
        starts.append(clock.now)
        await limiter.wait()
        starts.append(clock.now)

    asyncio.run(go())
    assert starts == [1000.0, 1010.0, 1013.0]


def test_rate_limiter_shared_by_concurrent_tasks():
    clock = FakeClock()
    limiter = RateLimiter(4.0, clock=clock, sleep=clock.sleep)
    starts = []

    async def one():
        await limiter.wait()
        starts.append(clock.now)

    async def go():
        await asyncio.gather(*(one() for _ in range(6)))

    asyncio.run(go())
    starts.sort()
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(starts) == 6 and min(gaps) >= 0.25


def test_rate_limiter_rejects_bad_rate():
    with pytest.raises(InvalidInput):
        RateLimiter(0)


def test_a_crawl_delay_learnt_after_a_request_holds_back_the_next_one():
    # robots.txt is fetched through the limiter before its Crawl-delay is known:
    # the very next request must still wait the full delay from robots.txt's start.
    clock = FakeClock()
    limiter = RateLimiter(0.5, clock=clock, sleep=clock.sleep)
    starts = []

    async def go():
        await limiter.wait()  # GET /robots.txt
        starts.append(clock.now)
        limiter.crawl_delay = 10.0  # learnt from its answer
        await limiter.wait()  # the first page
        starts.append(clock.now)
        await limiter.wait()
        starts.append(clock.now)

    asyncio.run(go())
    assert starts == [1000.0, 1010.0, 1020.0]


def test_stop_ends_a_crawl_delay_wait_at_once_and_every_later_wait():
    limiter = RateLimiter(1000, crawl_delay=3600)  # the real clock: the second slot is an hour away

    async def go():
        await limiter.wait()
        waiter = asyncio.create_task(limiter.wait())
        await asyncio.sleep(0.05)
        assert not waiter.done()
        began = time.monotonic()
        limiter.stop("interrupted")
        with pytest.raises(Stopped, match="interrupted"):
            await waiter
        took = time.monotonic() - began
        with pytest.raises(Stopped):
            await limiter.wait()
        return took

    assert asyncio.run(go()) < 0.5
    assert limiter.stopped


def test_cancelling_a_waiting_task_books_no_slot():
    clock = FakeClock()
    hold = [True]

    async def held_sleep(seconds):
        if hold[0]:
            await asyncio.Event().wait()  # held until the task is cancelled
        await clock.sleep(seconds)

    limiter = RateLimiter(1.0, clock=clock, sleep=held_sleep)

    async def go():
        await limiter.wait()
        before = limiter.next_start()
        waiter = asyncio.create_task(limiter.wait())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert limiter.next_start() == before and not limiter.stopped
        hold[0] = False
        await limiter.wait()  # still usable, and in its slot
        return clock.now

    assert asyncio.run(go()) == 1001.0


def test_robots_txt_is_read_up_to_500_kib_and_cut_at_a_whole_line():
    head = "User-agent: *\nDisallow: /secret/\n"
    filler = "".join(f"Disallow: /area-{i}/\n" for i in range(40_000))  # about 800 KB
    tail = "Disallow: /request/\nCrawl-delay: 30\n"
    text = head + filler + tail
    assert len(text.encode()) > ROBOTS_MAX_BYTES
    for given in (text, text.encode()):
        robots = Robots.from_response(SITE, 200, given)
        assert robots.truncated and len(robots.text.encode()) <= ROBOTS_MAX_BYTES
        assert robots.text.endswith("\n") and text.startswith(robots.text)
        assert not robots.allowed("/secret/x")  # a rule within the cap counts
        assert robots.allowed("/request/x") and robots.crawl_delay is None  # rules past it are not read
    small = Robots.parse(SITE, head)
    assert not small.truncated and small.text == head
