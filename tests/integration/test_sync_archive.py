"""``corpus sync --archive``: when the site challenges us, threads come from a Wayback-compatible archive.

The archive is a real pywb on 127.0.0.1 serving WARCs recorded from the same
sample site (or the Internet Archive stand-in); the site challenges every
``/request/`` page, as WhatDoTheyKnow's CDN was reported to do to non-browser clients.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.integration.conftest import FAST, query, run_cli, visible_threads
from tests.support.archive_files import record_site, sample_paths
from tests.support.archive_servers import IaStandIn, shared_pywb

CAPTURED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
ARCHIVE_FAST = ["--archive-rate", "300"]


def listed(site):
    """The threads the listings show (backpage requests are served but never listed)."""
    return sorted(r.url_title for r in visible_threads(site.corpus) if r.prominence == "normal")


def authorities(site):
    return [a for r in sorted({r.authority_url_name for r in site.corpus.requests}) for a in ("--authority", r)]


@pytest.fixture
def archived_site(fake_site, tmp_path):
    """The sample site, recorded into a WARC served by pywb: ``(site, archive URL, WARC path)``."""
    warc = tmp_path / "site.warc.gz"
    record_site(fake_site.url, sample_paths(fake_site.url, fake_site.corpus), warc, when=CAPTURED)
    fake_site.clear_hits()  # (the recording's own visits)
    return fake_site, shared_pywb().add([warc]), warc


def sync(db, site, *extra):
    return run_cli("sync", "--db", str(db), "--site", site.url, *FAST, "--quiet", *extra, timeout=600)


def test_every_challenged_thread_comes_from_the_archive(archived_site, tmp_path):
    site, archive, _ = archived_site
    site.add_fault(r"^/request/", "challenge", times=None)
    db = tmp_path / "c.duckdb"
    res = sync(db, site, *authorities(site), "--archive", archive, *ARCHIVE_FAST)
    assert res.returncode == 0, res.stderr
    expected = listed(site)
    assert f"Archive ({len(expected)} threads from it)" in res.stdout
    rows = query(db, "SELECT url_title, provenance, provenance_name, as_of FROM requests ORDER BY url_title")
    assert [r[0] for r in rows] == expected
    assert {(r[1], r[2], r[3]) for r in rows} == {("archive", archive, CAPTURED)}
    assert query(db, "SELECT count(*), count(DISTINCT request_key) FROM requests")[0] == (len(expected),) * 2
    assert query(db, "SELECT DISTINCT state FROM frontier") == [("archived",)]
    pages = query(db, "SELECT origin, count(*), min(captured_at), max(captured_at) FROM pages "
                      "WHERE kind IN ('request_html', 'request_json') GROUP BY 1")
    assert pages == [("archive", 2 * len(expected), CAPTURED, CAPTURED)]
    # one challenge was enough: no other thread page was asked of the live site
    assert len(site.hits_for(r"^/request/")) == 1
    assert query(db, "SELECT count(*) FROM pages WHERE origin = 'archive' AND etag IS NOT NULL") == [(0,)]
    # status, the sources query and the report say how much came from the archive, and how old it is
    status = run_cli("status", "--db", str(db))
    assert f"Sources: {len(expected)} from web archives (100%), captured 2025-03-04 to 2025-03-04" in status.stdout
    out = run_cli("query", "sources", "--db", str(db), "--format", "csv", "--param", "provenance=archive")
    assert out.returncode == 0 and f"archive,{archive},{len(expected)},1,2025-03-04T05:06:07+00:00" in out.stdout
    live_only = run_cli("query", "response_times", "--db", str(db), "--format", "csv", "--param", "provenance=live")
    assert live_only.returncode == 0 and len(live_only.stdout.strip().splitlines()) == 1  # the header alone
    report = tmp_path / "r.html"
    assert run_cli("report", "--db", str(db), "--output", str(report)).returncode == 0
    assert "from web archives (100%)" in report.read_text()


def test_live_and_archived_copies_meet_without_loss_or_duplicates(archived_site, tmp_path):
    site, archive, _ = archived_site
    expected = listed(site)
    db = tmp_path / "m.duckdb"
    # 1: ten threads from the live site.  2: the site challenges; the rest come from the archive.
    assert sync(db, site, *authorities(site), "--limit", "10").returncode == 0
    site.add_fault(r"^/request/", "challenge", times=None)
    second = sync(db, site, *authorities(site), "--archive", archive, *ARCHIVE_FAST)
    assert second.returncode == 0, second.stderr
    by_source = dict(query(db, "SELECT provenance, count(*) FROM requests GROUP BY 1"))
    assert by_source == {"live": 10, "archive": len(expected) - 10}
    assert query(db, "SELECT count(*), count(DISTINCT url_title) FROM requests")[0] == (len(expected),) * 2
    messages = query(db, "SELECT count(*) FROM messages")[0][0]
    # 3: the site answers again: every archived thread is replaced by the live one, nothing lost or doubled.
    site.clear_faults()
    third = sync(db, site, *authorities(site))
    assert third.returncode == 0, third.stderr
    rows = query(db, "SELECT url_title, provenance, as_of FROM requests ORDER BY url_title")
    assert [r[0] for r in rows] == expected
    assert {(r[1], r[2]) for r in rows} == {("live", None)}
    assert query(db, "SELECT count(*), count(DISTINCT (direction, message_id)) FROM messages")[0] == (messages,) * 2
    assert query(db, "SELECT DISTINCT state FROM frontier") == [("done",)]
    assert query(db, "SELECT DISTINCT origin FROM pages WHERE kind = 'request_html'") == [("live",)]


def test_the_archive_alone(archived_site, tmp_path):
    site, archive, _ = archived_site
    site.clear_hits()
    db = tmp_path / "a.duckdb"
    res = sync(db, site, *authorities(site), "--archive", archive, *ARCHIVE_FAST, "--source", "archive")
    assert res.returncode == 0, res.stderr
    assert site.hits == []  # the live site was not asked anything
    assert [r[0] for r in query(db, "SELECT url_title FROM requests ORDER BY 1")] == listed(site)
    assert "live site not asked" in res.stdout
    assert query(db, "SELECT DISTINCT origin FROM pages") == [("archive",)]


def test_a_removed_request_is_never_filled_from_the_archive(archived_site, tmp_path):
    site, archive, _ = archived_site
    db = tmp_path / "p.duckdb"
    assert sync(db, site, *authorities(site)).returncode == 0
    gone = listed(site)[0]
    site.remove_request(gone)  # the site now answers 404 for it
    assert sync(db, site, "--request", gone).returncode == 0
    assert query(db, "SELECT removed FROM requests WHERE url_title = ?", [gone]) == [(True,)]
    before = query(db, "SELECT provenance, page_sha256, last_seen FROM requests WHERE url_title = ?", [gone])
    # The site challenges; the archive still holds the thread from before its removal.
    site.add_fault(r"^/request/", "challenge", times=None)
    res = sync(db, site, "--request", gone, "--archive", archive, *ARCHIVE_FAST)
    assert res.returncode == 0, res.stderr
    assert "not looked up" in res.stdout
    assert query(db, "SELECT provenance, page_sha256, last_seen FROM requests WHERE url_title = ?", [gone]) == before
    assert query(db, "SELECT removed FROM requests WHERE url_title = ?", [gone]) == [(True,)]
    assert query(db, "SELECT count(*) FROM pages WHERE origin = 'archive'") == [(0,)]


def test_the_internet_archive_dialect(fake_site, tmp_path):
    warc = tmp_path / "ia.warc.gz"
    record_site(fake_site.url, sample_paths(fake_site.url, fake_site.corpus, attachments=False), warc,
                when=CAPTURED)
    ia = IaStandIn([warc]).start()
    try:
        fake_site.add_fault(r"^/request/", "challenge", times=None)
        wanted = listed(fake_site)[:3]
        db = tmp_path / "ia.duckdb"
        res = sync(db, fake_site, *[a for s in wanted for a in ("--request", s)], "--archive", ia.url,
                   *ARCHIVE_FAST, "--contact", "researcher@example.org")
        assert res.returncode == 0, res.stderr
        assert query(db, "SELECT url_title, provenance, as_of FROM requests ORDER BY 1") == [
            (s, "archive", CAPTURED) for s in sorted(wanted)]
        assert all("researcher@example.org" in h.headers["user-agent"] for h in ia.hits)
        assert ia.hits[0].path == "/robots.txt" and {h.method for h in ia.hits} == {"GET"}
    finally:
        ia.stop()


def test_a_thread_the_archive_lacks_stays_queued(fake_site, tmp_path):
    warc = tmp_path / "part.warc.gz"
    keep = listed(fake_site)[:2]
    record_site(fake_site.url, [f"/request/{s}{x}" for s in keep for x in ("", ".json")], warc, when=CAPTURED)
    archive = shared_pywb().add([warc])
    fake_site.add_fault(r"^/request/", "challenge", times=None)
    wanted = listed(fake_site)[:4]
    db = tmp_path / "part.duckdb"
    res = sync(db, fake_site, *[a for s in wanted for a in ("--request", s)], "--archive", archive, *ARCHIVE_FAST)
    assert res.returncode == 1  # some threads could be had from neither
    assert "2 not in it" in res.stdout
    assert sorted(r[0] for r in query(db, "SELECT url_title FROM requests")) == sorted(keep)
    states = dict(query(db, "SELECT url_title, state FROM frontier"))
    assert {states[s] for s in wanted if s not in keep} == {"blocked"}


def test_an_archived_thread_is_not_overdue_now(archived_site, tmp_path):
    site, archive, _ = archived_site
    site.add_fault(r"^/request/", "challenge", times=None)
    db = tmp_path / "t.duckdb"
    assert sync(db, site, *authorities(site), "--archive", archive, *ARCHIVE_FAST).returncode == 0
    rows = query(db, "SELECT DISTINCT as_of_date FROM request_timeline")
    assert rows == [(CAPTURED.date(),)]
    late = query(db, "SELECT count(*) FROM request_timeline WHERE overdue_now AND due_date >= ?", [CAPTURED.date()])
    assert late == [(0,)]


def test_challenged_attachments_come_from_the_archive(archived_site, tmp_path):
    site, archive, _ = archived_site
    site.add_fault(r"^/request/", "challenge", times=None)
    db = tmp_path / "att.duckdb"
    res = sync(db, site, *authorities(site), "--archive", archive, *ARCHIVE_FAST, "--attachments", "text")
    assert res.returncode == 0, res.stderr
    texts = query(db, "SELECT status, count(*) FROM attachment_texts GROUP BY 1")
    assert dict(texts).get("ok", 0) > 0, texts
    assert query(db, "SELECT count(*) FROM attachment_texts WHERE status = 'ok' AND sha256 IS NULL") == [(0,)]
    # one challenged download was enough: no other file was asked of the live site
    assert [h.status for h in site.hits_for(r"/attach/")] == [403]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--archive", "ftp://archive.example/"], "--archive:"),
        (["--source", "archive"], "--source archive needs --archive"),
        (["--archive", "http://127.0.0.1:9/coll", "--archive-rate", "0"], "--archive-rate:"),
    ],
)
def test_bad_archive_options_write_nothing(tmp_path, extra, words):
    db = tmp_path / "x.duckdb"
    res = run_cli("sync", "--db", str(db), "--site", "http://127.0.0.1:9", "--request", "x", *extra)
    assert res.returncode == 2, res.stderr
    assert words in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not db.exists()


def test_an_archive_that_cannot_be_reached_ends_an_archive_only_run(tmp_path):
    db = tmp_path / "y.duckdb"
    res = run_cli("sync", "--db", str(db), "--site", "http://127.0.0.1:9", "--request", "x",
                  "--archive", "http://127.0.0.1:9/coll", "--source", "archive", *ARCHIVE_FAST, "--quiet")
    assert res.returncode == 1
    assert "robots.txt could not be read" in res.stderr and "Traceback" not in res.stderr
    assert not db.exists()
