"""Readers never stop a sync: the real CLI against the sample site while other processes read the file.

* a reader holding the file from the middle of a sync until the sync has
  nothing left to do but wait for it: the sync goes on fetching what it has in
  hand, holds what it fetched (in memory, then in the spool), says whom it
  waits for, and writes it all and finishes the queue once the reader lets go;
* twenty readers opening and closing the file in a loop during a sync;
* a SIGKILL while threads sit in the spool, then a rerun: the spool is written
  first, and its threads are not fetched again;
* a reader kept past ``--reader-wait``: exit 5, the threads wait in the spool,
  and the next command writes them.

Each ends with exactly the site's threads (ground truth, as in ``test_kill``),
and every reader's answers are consistent: counts never go down, and no
thread is ever seen half written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pytest

from bench.harness import PROJECT_ROOT, cli_env
from corpus.errors import EXIT_OK, EXIT_SPOOLED
from corpus.spool import spool_path
from tests.reliability.conftest import serving
from tests.reliability.readers import COUNTS
from tests.reliability.truth import compare, rows, run_cli, site_truth, start_cli


@pytest.fixture(scope="module")
def busy_site():
    """A 150-thread site, three authorities: big enough that a sync is still fetching when a reader comes."""
    with serving(150, seed=11, n_authorities=3) as site:
        yield site


@pytest.fixture
def site(busy_site):
    busy_site.clear_faults()
    busy_site.clear_hits()
    # each thread page takes a little while, as on a real site, so the sync is mid-way when a reader comes
    busy_site.add_fault(r"^/request/[^/.?]+(\?|$)", "delay", times=None, seconds=0.04)
    yield busy_site
    busy_site.clear_faults()


def _args(site, dbp):
    return ["sync", "--site", site.url, "--db", dbp, "--rate", "200", "--quiet",
            *[a for auth in site.corpus.authorities for a in ("--authority", auth)]]


def _reader(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.reliability.readers", *map(str, args)],
                            env=cli_env(), cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True)


def _looks(path) -> list[dict]:
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _consistent(looks: list[dict], total: int) -> list[str]:
    """What is wrong with one reader's answers: a count going down, a half-written thread, no timeline."""
    problems = []
    last = dict.fromkeys(COUNTS, 0)
    for look in looks:
        if look.get("empty") or "requests" not in look:
            continue
        for name in COUNTS:
            if look[name] < last[name]:
                problems.append(f"{name} went down from {last[name]} to {look[name]}")
            last[name] = look[name]
        if look["half"]:
            problems.append(f"half-written: {look['half']}")
        if look["requests"] and look["timeline"] is None:
            problems.append(f"request_timeline missing with {look['requests']} threads written")
        if look["requests"] > total:
            problems.append(f"{look['requests']} threads, more than the site's {total}")
    return problems


def _finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"still running after {timeout} s: {err[-2000:]}") from None
    return proc.returncode, out or "", err or ""


def _idle_with_threads_spooled(site, dbp, quiet: float, timeout: float) -> bool:
    """Wait until threads sit in the spool and the site has heard nothing for ``quiet`` seconds.

    The sync then has fetched all it had in hand (it cannot take more from the
    held file's queue) and has nothing left to do but wait for the reader.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = site.hits
        if hits and time.time() - hits[-1].time >= quiet and list(spool_path(dbp).glob("*.arrow")):
            return True
        time.sleep(0.1)
    return False


def test_a_reader_holding_the_file_mid_sync_until_the_sync_waits_idle_stops_nothing(site, tmp_path):
    truth = site_truth(site.corpus)
    dbp, looks, release = tmp_path / "held.duckdb", tmp_path / "holder.jsonl", tmp_path / "release"
    sync = start_cli(*_args(site, dbp), stdout=subprocess.PIPE)
    # once ten threads are written and every thread is queued, a reader opens the file and keeps it until the
    # sync has fetched all it had in hand, spooled part of it, and has sat a while with nothing left to do
    holder = _reader("hold", dbp, 240, looks, 10, len(truth.slugs), release)
    try:
        deadline = time.monotonic() + 120
        while not (looks.exists() and _looks(looks)) and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert looks.exists() and _looks(looks), "the reader never took hold of the file"
        assert _idle_with_threads_spooled(site, dbp, quiet=2.0, timeout=180), "no thread reached the spool"
        assert sync.poll() is None  # still waiting for the reader
        release.touch()
        assert holder.wait(timeout=60) == 0, holder.stderr.read()
        code, out, err = _finish(sync, 240)
    finally:
        for p in (holder, sync):
            if p.poll() is None:
                p.kill()
    seen = _looks(looks)
    held_from, released = seen[0]["t"], seen[-1]["t"]
    assert code == EXIT_OK, err
    assert f"waiting for PID {holder.pid} (a reader) to close held.duckdb" in err, err
    assert "Traceback" not in err
    final = compare(dbp, truth)
    assert final.ok, final.problems()[:10]
    assert final.threads_found == len(truth.slugs)
    # the reader saw the sync mid-way, and nothing changed under it while it held the file
    assert 10 <= seen[0]["requests"] < len(truth.slugs)
    assert all(s[k] == seen[0][k] for s in seen[1:-1] for k in COUNTS) and _consistent(seen, len(truth.slugs)) == []
    # meanwhile the sync went on fetching: held in memory, then in the spool, written once the file was free
    fetched_meanwhile = [h for h in site.hits_for(r"^/request/[^/.?]+$") if held_from < h.time < released]
    assert len(fetched_meanwhile) >= 20
    assert "threads held in the spool were written" in out, out
    assert not spool_path(dbp).exists()


def test_twenty_readers_opening_and_closing_in_a_loop(site, tmp_path):
    truth = site_truth(site.corpus)
    dbp, stop = tmp_path / "busy.duckdb", tmp_path / "stop"
    readers = [(_reader("loop", dbp, tmp_path / f"r{i}.jsonl", stop, 1.0), tmp_path / f"r{i}.jsonl")
               for i in range(20)]
    try:
        deadline = time.monotonic() + 120
        while not all(out.exists() for _, out in readers) and time.monotonic() < deadline:
            time.sleep(0.1)  # every reader is up before the sync starts
        code, out, err = _finish(start_cli(*_args(site, dbp), stdout=subprocess.PIPE), 240)
    finally:
        stop.touch()
        for proc, _ in readers:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert code == EXIT_OK, err
    final = compare(dbp, truth)
    assert final.ok, final.problems()[:10]
    looked_mid_sync = 0
    for proc, out_file in readers:
        assert proc.returncode == 0, proc.stderr.read()
        seen = _looks(out_file)
        assert _consistent(seen, len(truth.slugs)) == [], out_file.name
        looked_mid_sync += sum(0 < s.get("requests", 0) < len(truth.slugs) for s in seen)
    assert looked_mid_sync >= 20, looked_mid_sync  # they read while the sync wrote, not only before and after


def _spooled_slugs(dbp) -> set[str]:
    slugs = set()
    for f in spool_path(dbp).glob("*.arrow"):
        table = pa.ipc.open_file(str(f)).read_all()
        for record, meta in zip(table.column("record").to_pylist(), table.column("meta").to_pylist(), strict=True):
            if record == "thread":
                slugs.add(json.loads(meta)["url_title"])
    return slugs


def test_a_kill_while_threads_sit_in_the_spool_loses_and_duplicates_nothing(site, tmp_path):
    truth = site_truth(site.corpus)
    dbp = tmp_path / "spooled.duckdb"
    sync = start_cli(*_args(site, dbp))
    holder = _reader("hold", dbp, 120, tmp_path / "holder.jsonl", 10, len(truth.slugs))
    try:
        deadline = time.monotonic() + 120
        while not list(spool_path(dbp).glob("*.arrow")) and time.monotonic() < deadline and sync.poll() is None:
            time.sleep(0.05)
        assert list(spool_path(dbp).glob("*.arrow")), "no thread reached the spool"
        os.kill(sync.pid, signal.SIGKILL)
        sync.wait(timeout=30)
    finally:
        for p in (holder, sync):
            if p.poll() is None:
                p.kill()
                p.wait()
    spooled = _spooled_slugs(dbp)
    assert spooled and spooled <= truth.slugs
    res = run_cli(*_args(site, dbp), timeout=240)
    assert res.returncode == EXIT_OK, res.stderr
    assert "threads held in the spool were written" in res.stdout, res.stdout
    final = compare(dbp, truth)
    assert final.ok, final.problems()[:10]
    assert final.threads_found == len(truth.slugs)
    # merged before anything was taken from the queue: not one spooled thread was asked for twice
    for slug in spooled:
        assert len(site.hits_for(rf"^/request/{slug}$")) == 1, slug
    assert not spool_path(dbp).exists()


def test_a_reader_kept_past_the_wait_leaves_the_threads_in_the_spool_with_exit_5(site, tmp_path):
    truth = site_truth(site.corpus)
    dbp = tmp_path / "left.duckdb"
    sync = start_cli(*_args(site, dbp), "--reader-wait", "3", stdout=subprocess.PIPE)
    holder = _reader("hold", dbp, 120, tmp_path / "holder.jsonl", 10, len(truth.slugs))
    try:
        code, out, err = _finish(sync, 240)
        assert holder.poll() is None  # still holding: the sync gave up waiting for it
    finally:
        for p in (holder, sync):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert code == EXIT_SPOOLED, err
    waiting = _spooled_slugs(dbp)
    assert waiting and waiting <= truth.slugs
    assert f"PID {holder.pid} (a reader) kept the database open" in out
    assert f"{len(waiting)} threads wait in {spool_path(dbp)}/" in out, out
    assert "Traceback" not in err
    # the next writing command writes the spool first: here a sync with nothing else to do
    res = run_cli("sync", "--site", site.url, "--db", dbp, "--rate", "200", "--quiet", timeout=240)
    assert res.returncode == EXIT_OK, res.stderr
    assert f"{len(waiting)} threads held in the spool were written" in res.stdout, res.stdout
    assert not spool_path(dbp).exists()
    present = {s for (s,) in rows(dbp, "SELECT url_title FROM requests")}
    assert waiting <= present
    assert compare(dbp, truth, complete=False).ok
    assert rows(dbp, "SELECT outcome, (summary->>'exit_code')::INT FROM sync_runs "
                     "WHERE command LIKE '%--authority%'") == [("spooled", EXIT_SPOOLED)]
    # and the queue it left is finished by the same command as usual
    assert run_cli(*_args(site, dbp), timeout=240).returncode == EXIT_OK
    final = compare(dbp, truth)
    assert final.ok, final.problems()[:10]
