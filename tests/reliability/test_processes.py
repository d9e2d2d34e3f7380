"""The real CLI in other processes: a bot challenge mid-run, a second sync on the
same file, and a read-only reader (as a notebook would open it) during a sync."""

from __future__ import annotations

import re
import time

import duckdb

from corpus import db
from corpus.errors import EXIT_BLOCKED, EXIT_LOCKED, EXIT_OK
from tests.reliability.truth import compare, rows, run_cli, site_truth, start_cli, wait_for_file


def _args(site, dbp, *extra):
    return ["sync", "--site", site.url, "--db", dbp, "--rate", "200", "--quiet", *extra,
            *[a for auth in site.corpus.authorities for a in ("--authority", auth)]]


def test_a_challenge_mid_run_stops_all_asking_and_a_later_run_resumes(site, tmp_path):
    truth = site_truth(site.corpus)
    trap = sorted(truth.slugs)[len(truth.slugs) // 2]
    site.add_fault(rf"^/request/{trap}(\?|$)", "challenge", times=None)
    dbp = tmp_path / "challenge.duckdb"
    res = run_cli(*_args(site, dbp))
    assert res.returncode == EXIT_BLOCKED, res.stderr
    assert "bot challenge" in res.stderr and "cf-mitigated" in res.stderr
    ours = [h for h in site.hits if h.headers.get("User-Agent", "").startswith("foi-corpus/")]
    challenged = [i for i, h in enumerate(ours) if h.path == f"/request/{trap}"]
    assert len(challenged) == 1  # never retried
    assert challenged[0] == len(ours) - 1  # and nothing at all asked after it
    [(outcome,)] = rows(dbp, "SELECT outcome FROM sync_runs")
    assert outcome == "blocked"
    states = dict(rows(dbp, "SELECT url_title, state FROM frontier"))
    assert states[trap] == "blocked"
    assert set(states.values()) <= {"done", "queued", "blocked"}
    partial = compare(dbp, truth, complete=False)
    assert partial.ok, partial.problems()[:5]
    assert partial.threads_found < len(truth.slugs)
    # the site relents: the same command resumes the queue and completes
    site.clear_faults()
    site.clear_hits()
    res = run_cli(*_args(site, dbp))
    assert res.returncode == EXIT_OK, res.stderr
    final = compare(dbp, truth)
    assert final.ok, final.problems()[:5]
    refetched = {h.path for h in site.hits if h.path.startswith("/request/") and not h.path.endswith(".json")}
    assert f"/request/{trap}" in refetched
    assert len(refetched) < len(truth.slugs)  # threads done before the challenge were not asked again


def test_second_sync_is_refused_and_a_reader_can_open_the_file_during_a_sync(site, tmp_path):
    truth = site_truth(site.corpus)
    site.add_fault(r"^/request/[^/.?]+(\?|$)", "delay", times=None, seconds=0.12)
    dbp = tmp_path / "busy.duckdb"
    first = start_cli(*_args(site, dbp))
    try:
        assert wait_for_file(db.lock_path(dbp))
        second = run_cli(*_args(site, dbp))
        assert second.returncode == EXIT_LOCKED
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert re.search(rf"another corpus sync \(pid {first.pid}\) is writing to busy\.duckdb", second.stderr), second.stderr
        opened = refused = 0
        seen_threads = set()
        while first.poll() is None:
            try:
                con = duckdb.connect(str(dbp), read_only=True)
            except duckdb.Error:
                refused += 1
                time.sleep(0.05)
                continue
            try:
                n_req, n_whole = con.execute(
                    "SELECT count(*), count(*) FILTER (WHERE EXISTS "
                    "(SELECT 1 FROM messages m WHERE m.request_key = r.request_key)) FROM requests r").fetchone()
                slugs = {s for (s,) in con.execute("SELECT url_title FROM requests").fetchall()}
            finally:
                con.close()
            opened += 1
            assert n_req == n_whole  # consistent: no request row without its messages
            assert slugs <= truth.slugs
            seen_threads.add(len(slugs))
            time.sleep(0.1)
        assert first.wait(timeout=60) == EXIT_OK, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        first.stderr.close()
    assert opened >= 1, f"the database could never be opened read-only during the sync ({refused} refusals)"
    assert any(0 < n < len(truth.slugs) for n in seen_threads), seen_threads  # read mid-sync, not only at the end
    assert compare(dbp, truth).ok
