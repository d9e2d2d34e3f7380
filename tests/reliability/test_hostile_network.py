"""A hostile site over real HTTP on 127.0.0.1: bounded memory and time, one-line errors, nothing lost.

Each test serves the sample site with a few poisoned answers (a decompression
bomb, a trickle, a 19 MB robots.txt ...) and runs the real ``corpus sync``;
where memory is the point, in a child process that reports its own peak RSS
(``tests/reliability/measured.py``).  The bound is the one every sync must
keep: 400 MB peak for the whole run.
"""

from __future__ import annotations

import hashlib
import threading
from urllib.parse import quote

import pytest

from corpus.errors import EXIT_FAILURES, EXIT_OK
from corpus.sample_site.server import ROBOTS_TXT
from tests.hostile_server import HostileServer, bomb, send, trickle
from tests.reliability.measured import run_cli_measured
from tests.reliability.truth import rows, site_truth, sync_in_process

PEAK_RSS_MB = 400  # for the whole sync
STACKED = bomb(1024**3, layers=2)  # 1 GiB of zeros in about 13 KB: what httpx would have inflated at once


@pytest.fixture(scope="module")
def corpus():
    from corpus.sample_site import generate_corpus

    return generate_corpus(12, seed=7, n_authorities=1)


@pytest.fixture
def server(corpus):
    from corpus.sample_site import FakeSite

    with HostileServer(FakeSite(corpus)) as srv:
        yield srv


@pytest.fixture
def slugs(corpus):
    return sorted(site_truth(corpus).slugs)


def html(slug):
    return rf"^/request/{slug}(\?|$)"


def json_(slug):
    return rf"^/request/{slug}\.json"


def _requests(slugs):
    return [arg for s in slugs for arg in ("--request", s)]


def _state(dbp):
    return {slug: (state, err) for slug, state, err in rows(dbp, "SELECT url_title, state, last_error FROM frontier")}


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line_error(res, *words):
    assert res.stderr.startswith("Error: ") and res.stderr.count("\n") == 1, res.stderr
    assert "Traceback" not in res.stderr
    for w in words:
        assert w in res.stderr, (w, res.stderr)


def test_stacked_compression_on_robots_txt_is_a_clean_failure_on_every_run(server, slugs, tmp_path):
    dbp = tmp_path / "kept.duckdb"
    assert sync_in_process(server, dbp, requests=slugs[:4]).exit_code == EXIT_OK
    before = _sha(dbp)
    seen = len(server.hits)
    server.route(r"^/robots\.txt$", send(200, STACKED, {"Content-Type": "text/plain", "Content-Encoding": "gzip, gzip"}))
    for _ in range(2):  # the rerun meets the same bomb, and ends the same way
        res = run_cli_measured("sync", "--site", server.url, "--db", dbp, "--rate", "200", *_requests(slugs))
        print(f"\n{res.peak_rss_mb:.0f} MB peak RSS, {res.seconds:.1f} s")
        assert res.returncode == EXIT_FAILURES, res.stderr
        _one_line_error(res, "robots.txt could not be read", "unsupported content encoding 'gzip, gzip'",
                        "nothing was crawled")
        assert res.peak_rss_mb < PEAK_RSS_MB and res.seconds < 30, (res.peak_rss_mb, res.seconds)
    assert _sha(dbp) == before  # nothing stored was touched
    # nothing crawled blind; one attempt per run, as an encoding is not retried
    assert [p for _, p in server.hits[seen:]] == ["/robots.txt", "/robots.txt"]


def test_poisoned_pages_fail_alone_and_the_run_goes_on(server, slugs, tmp_path):
    stacked, single, brotli, poisoned_json, *fine = slugs
    server.route(html(stacked), send(200, STACKED, {"Content-Type": "text/html", "Content-Encoding": "gzip, gzip"}))
    server.route(html(single), send(200, bomb(1024**3), {"Content-Type": "text/html", "Content-Encoding": "gzip"}))
    server.route(html(brotli), send(200, b"\x1b\x00\xf8\xff" * 64, {"Content-Type": "text/html", "Content-Encoding": "br"}))
    server.route(json_(poisoned_json), send(200, STACKED, {"Content-Type": "application/json",
                                                           "Content-Encoding": "deflate, gzip"}))
    dbp = tmp_path / "poisoned.duckdb"
    res = run_cli_measured("sync", "--site", server.url, "--db", dbp, "--rate", "200", *_requests(slugs))
    print(f"\n{res.peak_rss_mb:.0f} MB peak RSS, {res.seconds:.1f} s")
    assert res.returncode == EXIT_FAILURES, res.stderr
    assert "Traceback" not in res.stderr
    assert res.peak_rss_mb < PEAK_RSS_MB and res.seconds < 60, (res.peak_rss_mb, res.seconds)
    state = _state(dbp)
    assert state[stacked] == ("failed", "unsupported content encoding 'gzip, gzip' (only none, or a single gzip "
                                        "or deflate, is accepted); not stored")
    assert state[single] == ("failed", "page larger than the 20 MB cap; not stored")
    assert state[brotli][0] == "failed" and "unsupported content encoding 'br'" in state[brotli][1]
    loaded = dict(rows(dbp, "SELECT url_title, has_json FROM requests"))
    assert loaded == {poisoned_json: False, **{s: True for s in fine}}  # a bad JSON costs only the JSON
    assert len(server.hits_for(html(stacked))) == 1 and len(server.hits_for(html(brotli))) == 1
    [(largest,)] = rows(dbp, "SELECT max(size) FROM pages")
    assert largest < 1024 * 1024
    # The site mended, the next run loads what failed and keeps everything stored.
    server.clear_routes()
    summary = sync_in_process(server, dbp, requests=slugs)
    assert summary.exit_code == EXIT_OK, summary.describe()
    assert set(dict(rows(dbp, "SELECT url_title, has_json FROM requests"))) == set(slugs)


def test_a_19_mb_robots_txt_is_read_up_to_500_kib(server, slugs, tmp_path):
    early, late, *others = slugs[:6]
    filler = "".join(f"Disallow: */archive/{i:07d}/*\n" for i in range(19 * 1024 * 1024 // 30))
    text = ROBOTS_TXT + f"Disallow: /request/{early}\n" + filler + f"Disallow: /request/{late}\nCrawl-delay: 3600\n"
    assert len(text) > 19 * 1024 * 1024
    server.route(r"^/robots\.txt$", send(200, text.encode(), {"Content-Type": "text/plain"}))
    dbp = tmp_path / "robots.duckdb"
    res = run_cli_measured("sync", "--site", server.url, "--db", dbp, "--rate", "200", *_requests([early, late, *others]))
    print(f"\n{res.peak_rss_mb:.0f} MB peak RSS, {res.seconds:.1f} s")
    assert res.peak_rss_mb < PEAK_RSS_MB and res.seconds < 60, (res.peak_rss_mb, res.seconds)
    assert res.returncode == EXIT_FAILURES and "Traceback" not in res.stderr, res.stderr
    state = _state(dbp)
    # a rule within the first 500 KiB is obeyed; rules (and the Crawl-delay) past it are not read
    assert state[early] == ("failed", "disallowed by robots.txt") and server.hits_for(html(early)) == []
    assert set(dict(rows(dbp, "SELECT url_title, has_json FROM requests"))) == {late, *others}
    [(stored,)] = rows(dbp, "SELECT size FROM pages WHERE kind = 'robots'")
    assert stored <= 500 * 1024 + 1


def test_a_trickling_page_fails_in_bounded_time_and_the_run_goes_on(server, slugs, tmp_path):
    slow, *fine = slugs[:4]
    stop = threading.Event()
    server.route(html(slow), trickle(b"<p>x</p>", 0.1, stop=stop))  # 80 bytes/s, for ever
    dbp = tmp_path / "trickle.duckdb"
    try:
        summary = sync_in_process(server, dbp, requests=[slow, *fine], fetch_options={
            "max_attempts": 2, "grace": 0.3, "min_throughput": 1000, "deadline": 1.5})
    finally:
        stop.set()
    assert summary.exit_code == EXIT_FAILURES and summary.new_threads == len(fine)
    assert summary.elapsed < 15
    state, error = _state(dbp)[slow]
    assert state == "failed" and error.startswith("too slow: ") and "(gave up after 2 attempts)" in error


def test_crawl_delay_holds_back_the_first_request_after_robots_txt(server, slugs, tmp_path):
    server.route(r"^/robots\.txt$", send(200, (ROBOTS_TXT + "Crawl-delay: 1\n").encode(), {"Content-Type": "text/plain"}))
    res = run_cli_measured("sync", "--site", server.url, "--db", tmp_path / "delay.duckdb", "--rate", "200",
                           "--request", slugs[0])
    print(f"\n{res.peak_rss_mb:.0f} MB peak RSS, {res.seconds:.1f} s")
    assert res.returncode == EXIT_OK, res.stderr
    times = [t for t, _ in server.hits]
    assert [p for _, p in server.hits][:2] == ["/robots.txt", f"/request/{slugs[0]}"], server.hits
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # 1 s, not the 5 ms of --rate 200 (server-side arrival times: the client counts from each
    # request's start, so a slow first arrival shortens the gap seen here; 0.8 s still tells 1 s from 5 ms)
    assert len(gaps) == 2 and min(gaps) >= 0.8, (server.hits, res.stderr)


def test_attachments_have_their_own_byte_cap(server, corpus, tmp_path):
    pytest.importorskip("pypdf")
    found = []
    for req in corpus.requests:
        if req.prominence != "normal":
            continue
        for msg in req.messages:
            for att in msg.attachments if msg.direction == "incoming" and msg.prominence == "normal" else ():
                found.append((req.url_title, msg.id, att.part, att.filename))
    (slug_a, msg_a, part_a, name_a), (slug_b, msg_b, part_b, name_b) = found[:2]
    png = b"\x89PNG\r\n\x1a\n"
    server.route(rf"^/request/{slug_a}/response/{msg_a}/attach/{part_a}/{quote(name_a)}(\?|$)",
                 send(200, png + b"\0" * (30 * 1024 * 1024), {"Content-Type": "image/png"}))
    server.route(rf"^/request/{slug_b}/response/{msg_b}/attach/{part_b}/{quote(name_b)}(\?|$)",
                 send(200, png + b"\0" * (60 * 1024 * 1024), {"Content-Type": "image/png"}))
    dbp = tmp_path / "attachments.duckdb"
    res = run_cli_measured("sync", "--site", server.url, "--db", dbp, "--rate", "200", "--attachments", "text",
                           *_requests(sorted({slug_a, slug_b})))
    print(f"\n{res.peak_rss_mb:.0f} MB peak RSS, {res.seconds:.1f} s")
    assert "Traceback" not in res.stderr, res.stderr
    assert res.peak_rss_mb < PEAK_RSS_MB, res.peak_rss_mb
    got = {(m, p): (status, reason, size) for m, p, status, reason, size in rows(
        dbp, "SELECT incoming_message_id, part, status, reason, size FROM attachment_texts")}
    status, reason, size = got[(msg_a, part_a)]
    assert size == len(png) + 30 * 1024 * 1024 and status != "failed"  # past the 20 MB page cap, under 50 MB
    status, reason, size = got[(msg_b, part_b)]
    assert status == "too_large" and reason == "body larger than the 50 MB cap; not stored"
