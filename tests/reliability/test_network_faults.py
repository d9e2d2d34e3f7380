"""Network faults from the sample site: the sync retries what can be cured, records
what cannot, never stores a page past the size cap, never leaves the site's host,
and goes on with the other threads."""

from __future__ import annotations

import hashlib
import socket
import threading
import zlib

import pytest

from corpus.errors import EXIT_FAILURES, EXIT_OK
from tests.reliability.truth import rows, site_truth, sync_in_process


def _slugs(site, n):
    return sorted(site_truth(site.corpus).slugs)[:n]


def html(slug):
    return rf"^/request/{slug}(\?|$)"


def json_(slug):
    return rf"^/request/{slug}\.json"


def _state(dbp):
    return {slug: (state, err) for slug, state, err in rows(dbp, "SELECT url_title, state, last_error FROM frontier")}


def test_transient_faults_are_retried_until_the_thread_loads(site, tmp_path):
    a, b, c, d, e, f, g = _slugs(site, 7)
    site.add_fault(html(a), "reset", times=2)
    site.add_fault(html(b), "status", code=502)
    site.add_fault(json_(b), "status", code=503)
    site.add_fault(html(c), "status", code=504, times=3)
    site.add_fault(html(d), "status", code=500)
    site.add_fault(html(e), "truncate", times=2)
    site.add_fault(json_(f), "delay", seconds=1.5)  # longer than the 0.4 s timeout: one timed-out attempt
    site.add_fault(html(g), "429", retry_after=0)
    dbp = tmp_path / "transient.duckdb"
    summary = sync_in_process(site, dbp, requests=[a, b, c, d, e, f, g], fetch_options={"timeout": 0.4})
    assert summary.exit_code == EXIT_OK, summary.describe()
    assert summary.new_threads == 7 and summary.failed == 0 and summary.json_missing == 0
    loaded = dict(rows(dbp, "SELECT url_title, has_json FROM requests"))
    assert loaded == {s: True for s in (a, b, c, d, e, f, g)}
    # each fault cost exactly its retries: one hit per faulty answer plus the good one
    assert len(site.hits_for(html(a))) == 3
    assert len(site.hits_for(json_(b))) == 2
    assert len(site.hits_for(html(c))) == 4
    assert len(site.hits_for(html(e))) == 3
    assert len(site.hits_for(json_(f))) == 2
    assert len(site.hits_for(html(g))) == 2
    assert set(_state(dbp).values()) == {("done", None)}


def test_faults_that_do_not_clear_fail_the_thread_and_the_run_goes_on(site, tmp_path):
    a, b, c, d, e, ok = _slugs(site, 6)
    site.add_fault(html(a), "status", times=None, code=500)
    site.add_fault(html(b), "truncate", times=None)
    site.add_fault(html(c), "reset", times=None)
    site.add_fault(html(d), "redirect_loop", times=None)
    site.add_fault(html(e), "status", times=None, code=503)
    dbp = tmp_path / "permanent.duckdb"
    summary = sync_in_process(site, dbp, requests=[a, b, c, d, e, ok], fetch_options={"max_attempts": 3})
    assert summary.exit_code == EXIT_FAILURES
    assert summary.failed == 5 and summary.new_threads == 1
    state = _state(dbp)
    assert state[ok] == ("done", None)
    assert state[a][0] == "failed" and "HTTP 500" in state[a][1] and "gave up after 3 attempts" in state[a][1]
    assert state[b][0] == "failed" and "truncated" in state[b][1]
    assert state[c][0] == "failed" and "connection" in state[c][1]
    assert state[d][0] == "failed" and "too many redirects" in state[d][1]
    assert state[e][0] == "failed" and "HTTP 503" in state[e][1]
    assert len(site.hits_for(html(a))) == 3  # max_attempts, no more
    assert len(site.hits_for(html(d))) == 6  # the first answer and 5 redirects followed, then stop
    assert rows(dbp, "SELECT url_title FROM requests") == [(ok,)]
    kept = {u for (u,) in rows(dbp, "SELECT url FROM pages WHERE kind LIKE 'request%'")}
    assert kept == {f"{site.url}/request/{ok}", f"{site.url}/request/{ok}.json"}
    # a later run tries the failed ones again and, the site mended, loads them
    site.clear_faults()
    summary = sync_in_process(site, dbp, requests=[a, b, c, d, e, ok])
    assert summary.exit_code == EXIT_OK and summary.new_threads == 5


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_50_mb_page_is_refused_past_the_size_cap(site, tmp_path, declared):
    big, ok = _slugs(site, 2)
    site.add_fault(html(big), "huge", times=None, size=50 * 1024 * 1024, content_length=declared)
    dbp = tmp_path / "huge.duckdb"
    summary = sync_in_process(site, dbp, requests=[big, ok])
    assert summary.exit_code == EXIT_FAILURES and summary.new_threads == 1
    state, error = _state(dbp)[big]
    assert state == "failed" and error == "page larger than the 20 MB cap; not stored"
    assert len(site.hits_for(html(big))) == 1  # a page too large is not asked for again in the same run
    [(largest,)] = rows(dbp, "SELECT max(size) FROM pages")
    assert largest < 1024 * 1024


def test_invalid_utf8_is_kept_as_served_and_recorded_as_not_understood(site, tmp_path):
    bad, ok = _slugs(site, 2)
    site.add_fault(html(bad), "invalid_utf8")
    dbp = tmp_path / "utf8.duckdb"
    summary = sync_in_process(site, dbp, requests=[bad, ok])
    assert summary.exit_code == EXIT_FAILURES and summary.parse_failures == 1 and summary.new_threads == 1
    [(kind, message, sha)] = rows(dbp, "SELECT kind, message, page_sha256 FROM parse_failures")
    assert kind == "encoding" and "not valid UTF-8" in message
    [(body, encoding, page_sha)] = rows(dbp, "SELECT body, encoding, sha256 FROM pages WHERE url = ?",
                                        [f"{site.url}/request/{bad}"])
    raw = zlib.decompress(body) if encoding == "zlib" else bytes(body)
    assert b"\xff\xfe\xc3\x28" in raw  # the bytes as served, not "repaired"
    assert hashlib.sha256(raw).hexdigest() == page_sha == sha
    assert _state(dbp)[bad][0] == "done"  # fetched: a re-parse (not a re-fetch) is what it needs


def test_changed_markup_is_a_parse_failure_with_the_page_kept(site, tmp_path):
    odd, *others = _slugs(site, 4)
    site.add_fault(html(odd), "markup_changed")
    dbp = tmp_path / "markup.duckdb"
    summary = sync_in_process(site, dbp, requests=[odd, *others])
    assert summary.exit_code == EXIT_FAILURES
    assert summary.parse_failures == 1 and summary.new_threads == 3
    [(url, kind, sha)] = rows(dbp, "SELECT url, kind, page_sha256 FROM parse_failures")
    assert url == f"{site.url}/request/{odd}"
    assert kind in ("markup_changed", "not_request")
    [(page_sha, size)] = rows(dbp, "SELECT sha256, size FROM pages WHERE url = ?", [url])
    assert page_sha == sha and size > 0
    assert sorted(s for (s,) in rows(dbp, "SELECT url_title FROM requests")) == sorted(others)


class _Listener:
    """A TCP port on 127.0.0.1 that counts connection attempts (and answers none)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def test_redirects_off_the_site_are_never_followed(site, tmp_path):
    a, b, c, ok = _slugs(site, 4)
    other = _Listener()
    try:
        elsewhere = f"http://127.0.0.1:{other.port}"
        site.add_fault(html(a), "redirect_offsite", times=None, location=f"{elsewhere}/request/{a}")
        site.add_fault(json_(b), "redirect_offsite", times=None, location=f"{elsewhere}/request/{b}.json")
        site.add_fault(html(c), "redirect_offsite", times=None)  # http://example.invalid/...
        dbp = tmp_path / "offsite.duckdb"
        summary = sync_in_process(site, dbp, requests=[a, b, c, ok])
    finally:
        other.close()
    assert other.accepted == 0  # refused before any connection was made
    state = _state(dbp)
    assert state[a][0] == "failed" and f"redirect to another host ({elsewhere}/request/{a}); not followed" in state[a][1]
    assert state[c][0] == "failed" and "example.invalid" in state[c][1]
    # a JSON that leaves the site: the thread is loaded from its HTML alone
    assert dict(rows(dbp, "SELECT url_title, has_json FROM requests")) == {b: False, ok: True}
    assert summary.json_missing == 1
    assert len(site.hits_for(html(a))) == 1
    [(n,)] = rows(dbp, "SELECT count(*) FROM pages WHERE url NOT LIKE ?", [site.url + "/%"])
    assert n == 0


def test_a_removed_thread_is_kept_and_marked_removed(fake_site_factory, tmp_path):
    from corpus.sample_site import generate_corpus

    site = fake_site_factory(generate_corpus(6, seed=3, n_authorities=1), serve_2019_pages_from=False)
    slugs = sorted(site_truth(site.corpus).slugs)
    gone404, gone410, *kept = slugs
    dbp = tmp_path / "removed.duckdb"
    assert sync_in_process(site, dbp, requests=slugs).exit_code == EXIT_OK
    before = dict(rows(dbp, "SELECT url_title, request_key FROM requests"))
    n_messages = dict(rows(dbp, "SELECT request_key, count(*) FROM messages GROUP BY ALL"))
    site.remove_request(gone404)
    site.add_fault(html(gone410), "gone", times=None)
    summary = sync_in_process(site, dbp, requests=slugs, refresh=True)
    assert summary.exit_code == EXIT_OK, summary.describe()
    assert summary.removed == 2
    removed = dict(rows(dbp, "SELECT url_title, removed FROM requests"))
    assert removed == {s: s in (gone404, gone410) for s in slugs}
    # rows kept, messages kept
    assert dict(rows(dbp, "SELECT url_title, request_key FROM requests")) == before
    assert dict(rows(dbp, "SELECT request_key, count(*) FROM messages GROUP BY ALL")) == n_messages
    state = _state(dbp)
    assert state[gone404][0] == "removed" and state[gone410][0] == "removed"
    assert all(state[s][0] == "done" for s in kept)
