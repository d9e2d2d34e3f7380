"""One transfer through the Fetcher: bodies decoded within the byte cap, truncated bodies, time limits."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
import zlib
from collections.abc import Callable

import httpx
import pytest

from scraper.fetch import Failure, Fetcher, FetchResult
from scraper.http import make_client
from scraper.politeness import ROBOTS_MAX_BYTES, RateLimiter, Robots
from scraper.results import Answer
from scraper.retries import GiveUp, Retry
from scraper.transfer import Budget, Transfer, out_of_time, too_large
from tests.hostile_server import Behaviour, HostileServer, bomb, silent, trickle
from tests.scraper.scripted import SITE, RecordingServer, Script, raw, reply, run


def test_size_cap_from_content_length_and_from_stream():
    result, *_ = run({"/page": [httpx.Response(200, content=b"x" * 5000)]}, max_bytes=1000)
    assert result.error == "page larger than the 0.000953674 MB cap; not stored" and result.body is None

    async def chunks():
        for _ in range(10):
            yield b"y" * 500

    result, *_ = run({"/page": [httpx.Response(200, content=chunks())]}, max_bytes=2048)
    assert result.body is None and "cap" in result.error and result.attempts == 1


# --- real loopback server ---------------------------------------------------------------------------


def test_truncated_body_is_retried_on_a_real_server():
    def behaviour(handler, n):
        if n == 1:
            reply(handler, 200, b"only part of it", declared=1000)
            handler.close_connection = True
        else:
            reply(handler, 200, b"the whole page")

    with RecordingServer(behaviour) as server:

        async def go():
            async with make_client(server.url, None) as client:
                fetcher = Fetcher(client, Robots.allow_all(server.url), RateLimiter(1000), site=server.url, backoff_base=0.0001)
                return await fetcher.fetch("/request/x")

        result = asyncio.run(go())
    assert result.status == 200 and result.body == b"the whole page" and result.attempts == 2


def test_read_timeout_on_a_real_server():
    def behaviour(handler, n):
        if n == 1:
            time.sleep(1.5)
        try:
            reply(handler, 200, b"late" if n == 1 else b"in time")
        except OSError:
            pass

    with RecordingServer(behaviour) as server:

        async def go():
            async with make_client(server.url, None, timeout=0.5) as client:
                fetcher = Fetcher(client, Robots.allow_all(server.url), RateLimiter(1000), site=server.url, backoff_base=0.0001)
                return await fetcher.fetch("/slow")

        result = asyncio.run(go())
    assert result.status == 200 and result.body == b"in time" and result.attempts == 2


# --- bodies: encodings and byte caps ----------------------------------------------------------------


PAGE = b"<html><body>" + b"<p>Dear FOI team, please send the figures.</p>\n" * 500 + b"</body></html>"


def _deflate(data: bytes, raw_stream: bool = False) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS if raw_stream else zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


@pytest.mark.parametrize(
    "encoding, wire",
    [("gzip", gzip.compress(PAGE)), ("x-gzip", gzip.compress(PAGE)), ("deflate", _deflate(PAGE)),
     ("deflate", _deflate(PAGE, raw_stream=True)), ("gzip, identity", gzip.compress(PAGE))],
    ids=["gzip", "x-gzip", "deflate", "raw-deflate", "gzip-identity"],
)
def test_one_layer_of_gzip_or_deflate_is_decoded(encoding, wire):
    result, *_ = run({"/page": [raw(200, wire, {"Content-Encoding": encoding})]})
    assert result.ok and result.body == PAGE and result.attempts == 1


@pytest.mark.parametrize("encoding", ["gzip, gzip", "deflate, gzip", "br", "zstd", "compress"])
def test_stacked_or_unknown_encodings_are_a_typed_failure_not_retried(encoding):
    wire = bomb(64 * 1024 * 1024, layers=2)  # 64 MiB of zeros in a few hundred bytes
    result, script, sleeps, calls = run({"/page": [raw(200, wire, {"Content-Encoding": encoding})]})
    assert result.failure == Failure.ENCODING and result.body is None and not result.ok
    assert result.error.startswith(f"unsupported content encoding {encoding!r}")
    assert result.attempts == 1 and len(script.requests) == 1 and sleeps.calls == []


def test_a_gzip_bomb_fails_at_the_cap_counted_on_decoded_bytes():
    wire = bomb(256 * 1024 * 1024)  # 256 MiB decoded from about 1 MB
    assert len(wire) < 2 * 1024 * 1024
    result, script, *_ = run({"/page": [raw(200, wire, {"Content-Encoding": "gzip"})]}, max_bytes=1024 * 1024)
    assert result.failure == Failure.TOO_LARGE and result.body is None
    assert result.error == "page larger than the 1 MB cap; not stored" and len(script.requests) == 1


def test_a_damaged_gzip_body_is_retried_then_reported():
    wire = gzip.compress(PAGE)[:-100]
    result, script, *_ = run({"/page": [raw(200, wire, {"Content-Encoding": "gzip"})]}, max_attempts=2)
    assert result.failure == Failure.NETWORK and "ends before its compressed stream" in result.error
    assert len(script.requests) == 2


def test_max_bytes_per_call_overrides_the_page_cap():
    body = b"%PDF-1.7 " + b"x" * 5000
    routes = {"/attach/1/big.pdf": [raw(200, body, {"Content-Type": "application/pdf"})]}
    result, *_ = run(routes, url="/attach/1/big.pdf", max_bytes=1000)
    assert result.failure == Failure.TOO_LARGE
    result, *_ = run(routes, url="/attach/1/big.pdf", max_bytes=1000, fetch_kwargs={"max_bytes": 10_000})
    assert result.ok and result.body == body
    result, *_ = run(routes, url="/attach/1/big.pdf", max_bytes=100_000, fetch_kwargs={"max_bytes": 2000})
    assert result.failure == Failure.TOO_LARGE and result.error == "body larger than the 0.00190735 MB cap; not stored"


# --- robots.txt: read within 500 KiB ----------------------------------------------------------------


HUGE_ROBOTS = ("User-agent: *\nDisallow: /secret/\n" + "".join(f"Disallow: /area-{i}/*\n" for i in range(100_000))
               + "Disallow: /request/\nCrawl-delay: 30\n").encode()


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_a_huge_robots_txt_is_read_up_to_the_cap_and_obeyed_so_far(encoding):
    wire = gzip.compress(HUGE_ROBOTS) if encoding else HUGE_ROBOTS
    headers = {"Content-Encoding": encoding} if encoding else {}
    script = Script({"/robots.txt": [raw(200, wire, headers)]})

    async def load():
        async with make_client(SITE, None, transport=httpx.MockTransport(script)) as client:
            fetcher = Fetcher(client, Robots.allow_all(SITE), RateLimiter(10_000), site=SITE)
            return await fetcher.fetch("/robots.txt")

    res = asyncio.run(load())
    robots = Robots.from_response(SITE, res.status, res.body)
    assert len(HUGE_ROBOTS) > 2 * 1024 * 1024
    assert res.ok and res.truncated and len(res.body) == ROBOTS_MAX_BYTES + 1 and HUGE_ROBOTS.startswith(res.body)
    assert robots.truncated and not robots.allowed("/secret/x") and not robots.allowed("/area-5/x")
    assert robots.allowed("/request/x") and robots.crawl_delay is None


# --- time: minimum throughput and a deadline per fetch (real loopback server) -----------------------


def fetch_slow(behaviour: Callable[[threading.Event], Behaviour], *, timeout: float = 30.0,
               **fetcher_options) -> tuple[FetchResult, float]:
    """Fetch /slow from a loopback server answering with ``behaviour(stop)`` through a client with ``timeout``;
    the result and the seconds taken."""
    stop = threading.Event()
    with HostileServer() as server:
        server.route("^/slow", behaviour(stop))

        async def go():
            async with make_client(server.url, None, timeout=timeout) as client:
                fetcher = Fetcher(client, Robots.allow_all(server.url), RateLimiter(1000), site=server.url,
                                  backoff_base=0.0001, **fetcher_options)
                return await fetcher.fetch("/slow")

        began = time.monotonic()
        try:
            result = asyncio.run(go())
        finally:
            stop.set()
        return result, time.monotonic() - began


def fetch_trickle(piece: bytes, every: float, **fetcher_options) -> tuple[FetchResult, float]:
    """Fetch /slow from a loopback server trickling ``piece`` every ``every`` s; the result and the seconds taken."""
    return fetch_slow(lambda stop: trickle(piece, every, stop=stop), **fetcher_options)


def test_a_server_that_never_answers_is_cut_at_the_grace_period_not_the_read_timeout():
    result, took = fetch_slow(lambda stop: silent(stop=stop), timeout=30, max_attempts=1, grace=0.3, min_throughput=1000)
    assert result.failure == Failure.TOO_SLOW and result.status == 0 and "too slow: 0 bytes" in result.error
    assert took < 3.0


def test_a_trickling_server_fails_as_too_slow_in_bounded_time():
    # 8 bytes every 0.05 s (160 B/s): each attempt is cut soon after the 0.3 s grace.
    result, took = fetch_trickle(b"<p>x</p>", 0.05, max_attempts=2, grace=0.3, min_throughput=2000)
    assert result.failure == Failure.TOO_SLOW and result.attempts == 2 and result.body is None
    assert "too slow" in result.error and "minimum of 2000 bytes/s after the first 0.3 s" in result.error
    assert took < 3.0


def test_the_deadline_bounds_a_fetch_that_never_ends_across_attempts():
    # Fast enough to pass the throughput test (8 KB every 10 ms) but endless.
    result, took = fetch_trickle(b"x" * 8192, 0.01, max_attempts=5, max_bytes=10**9, grace=0.2,
                                 min_throughput=1000, deadline=1.0)
    assert result.failure == Failure.DEADLINE and result.attempts == 1
    assert result.error == "gave up after 1 s on the network, the limit for one fetch"
    assert 0.9 < took < 2.5


def test_slow_attempts_stop_at_the_deadline_not_the_attempt_count():
    result, _ = fetch_trickle(b"x", 0.05, max_attempts=10, grace=0.25, min_throughput=5000, deadline=0.8)
    assert result.failure == Failure.DEADLINE and 2 <= result.attempts <= 4


# --- one Transfer on its own ----------------------------------------------------------------------------


def transfer_once(handler, *, cap: int = 1000, page_cap: int = 1000, keep_head: bool = False,
                  budget: Budget | None = None) -> tuple[Answer | Exception, list[int | None], Budget]:
    """Run one ``Transfer`` of /page against ``handler``: its answer (or what it raised), the statuses heard, the budget."""
    heard: list[int | None] = []
    budget = budget or Budget(60.0)

    async def go():
        async with make_client(SITE, None, transport=httpx.MockTransport(handler)) as client:
            transfer = Transfer(client, f"{SITE}/page", {}, cap, page_cap, keep_head, notify=heard.append)
            try:
                return await transfer.run(budget, grace=30.0, min_throughput=1000.0)
            except (Retry, GiveUp) as exc:
                return exc

    return asyncio.run(go()), heard, budget


def test_a_transfer_hears_the_status_and_charges_the_budget():
    answer, heard, budget = transfer_once(lambda request: raw(200, b"hello"))
    assert isinstance(answer, Answer) and (answer.status, answer.body, answer.error) == (200, b"hello", None)
    assert heard == [200] and 0 < budget.spent < 60.0


def test_a_transfer_with_no_status_line_is_heard_as_none_and_retried():
    def refuse(request):
        raise httpx.ConnectError("refused")

    answer, heard, _ = transfer_once(refuse)
    assert isinstance(answer, Retry) and answer.reason == "connection error (ConnectError: refused)"
    assert answer.failure == Failure.NETWORK and heard == [None]


def test_a_transfer_keeping_the_head_keeps_what_fits_of_a_body_over_the_cap():
    answer, _, _ = transfer_once(lambda request: raw(200, b"x" * 5000), cap=100, keep_head=True)
    assert isinstance(answer, Answer) and answer.error is None and answer.truncated and answer.body == b"x" * 100


def test_too_large_names_a_page_at_the_page_cap_and_a_body_at_another():
    page = too_large(200, {}, 1024 * 1024, 1024 * 1024)
    body = too_large(200, {}, 2 * 1024 * 1024, 1024 * 1024)
    assert page.error == "page larger than the 1 MB cap; not stored" and page.failure == Failure.TOO_LARGE
    assert body.error == "body larger than the 2 MB cap; not stored" and body.body is None


def test_a_budget_spent_is_out_of_time():
    budget = Budget(2.0, spent=2.5)
    assert budget.left == -0.5
    exc = out_of_time(budget)
    assert exc.reason == "gave up after 2 s on the network, the limit for one fetch" and exc.failure == Failure.DEADLINE
