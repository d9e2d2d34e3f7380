"""``corpus import`` of WARC and WACZ files: a recorded browsing session loads through the same pipeline."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from corpus.importer import import_paths
from tests.integration.conftest import FAST, query, run_cli
from tests.support.archive_files import WarcBuilder, cut_file, make_wacz, record_site, sample_paths

T1 = datetime(2024, 2, 3, 10, 0, tzinfo=timezone.utc)
T2 = datetime(2025, 5, 6, 11, 30, tzinfo=timezone.utc)


def listed(site):
    return sorted(r.url_title for r in site.corpus.requests if r.prominence in ("normal", "backpage"))


@pytest.fixture
def session(fake_site, tmp_path):
    """A browsing session packed as a WACZ: every page at T1, then one thread again at T2 after a new reply."""
    record_site(fake_site.url, sample_paths(fake_site.url, fake_site.corpus), tmp_path / "first.warc.gz", when=T1)
    slug = listed(fake_site)[0]
    fake_site.bump(slug, direction="incoming", paragraphs=["Please find our reply attached, with apologies."])
    record_site(fake_site.url, [f"/request/{slug}", f"/request/{slug}.json"], tmp_path / "later.warc.gz", when=T2)
    wacz = make_wacz([tmp_path / "first.warc.gz", tmp_path / "later.warc.gz"], tmp_path / "capture.wacz")
    return fake_site, wacz, slug


def test_a_recorded_session_loads_through_the_cli(session, tmp_path):
    site, wacz, slug = session
    db = tmp_path / "s.duckdb"
    res = run_cli("import", "--db", str(db), "--site", site.url, str(wacz))
    assert res.returncode == 0, res.stderr
    threads = listed(site)
    assert f"{len(threads)} threads built from their latest capture" in res.stdout
    rows = query(db, "SELECT url_title, provenance, provenance_name, as_of FROM requests ORDER BY 1")
    assert [r[0] for r in rows] == threads
    assert {(r[1], r[2]) for r in rows} == {("file", str(wacz))}
    assert {r[3] for r in rows if r[0] != slug} == {T1}
    assert [r[3] for r in rows if r[0] == slug] == [T2]
    # the later capture is the thread; the earlier one stays as history
    assert query(db, "SELECT count(*) FROM messages m JOIN requests r USING (site, request_key) "
                     "WHERE r.url_title = ? AND m.body LIKE '%with apologies%'", [slug]) == [(1,)]
    history = query(db, "SELECT url, captured_at, superseded_at FROM page_history ORDER BY url")
    assert [(h[0].rsplit("/", 1)[1], h[1], h[2]) for h in history] == [
        (slug, T1, T2), (f"{slug}.json", T1, T2)]
    pages = dict(((k, o), n) for k, o, n in query(db, "SELECT kind, origin, count(*) FROM pages GROUP BY 1, 2"))
    assert pages[("request_html", "file")] == pages[("request_json", "file")] == len(threads)
    assert pages[("listing", "file")] > 0 and pages[("attachment", "file")] > 0
    sources = {r[0] for r in query(db, "SELECT capture_source FROM pages WHERE kind = 'request_html'")}
    assert sources == {f"{wacz}#archive/first.warc.gz", f"{wacz}#archive/later.warc.gz"}


def test_importing_again_changes_nothing(session, tmp_path):
    site, wacz, _ = session
    db = tmp_path / "again.duckdb"
    import_paths(db_path=db, site=site.url, paths=[wacz])
    tables = ("requests", "messages", "events", "pages", "page_history", "attachments")
    before = {t: query(db, f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    again = import_paths(db_path=db, site=site.url, paths=[wacz])
    assert again.new_threads == again.updated_threads == 0 and again.unchanged == len(listed(site))
    assert {t: query(db, f"SELECT count(*) FROM {t}")[0][0] for t in tables} == before


def test_an_older_archive_never_replaces_a_newer_copy(session, tmp_path):
    site, _, slug = session
    db = tmp_path / "order.duckdb"
    import_paths(db_path=db, site=site.url, paths=[tmp_path / "later.warc.gz"])
    summary = import_paths(db_path=db, site=site.url, paths=[tmp_path / "first.warc.gz"])
    assert summary.stale == 1 and "captured before the copies already held" in summary.describe()
    assert query(db, "SELECT as_of FROM requests WHERE url_title = ?", [slug]) == [(T2,)]
    assert query(db, "SELECT count(*) FROM page_history WHERE url LIKE ?", [f"%/request/{slug}"]) == [(1,)]


def test_a_request_removed_on_the_live_site_is_never_filled_from_an_archive(session, tmp_path):
    site, wacz, _ = session
    gone = listed(site)[1]
    db = tmp_path / "privacy.duckdb"
    assert run_cli("sync", "--db", str(db), "--site", site.url, *FAST, "--quiet", "--request", gone).returncode == 0
    import httpx

    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / f"{gone}.html").write_bytes(httpx.get(f"{site.url}/request/{gone}").content)  # saved from a browser
    site.remove_request(gone)
    assert run_cli("sync", "--db", str(db), "--site", site.url, *FAST, "--quiet", "--request", gone).returncode == 0
    before = query(db, "SELECT provenance, page_sha256, removed FROM requests WHERE url_title = ?", [gone])
    assert before[0][2] is True
    summary = import_paths(db_path=db, site=site.url, paths=[wacz])
    assert summary.withheld == 1
    assert query(db, "SELECT provenance, page_sha256, removed FROM requests WHERE url_title = ?", [gone]) == before
    assert query(db, "SELECT count(*) FROM pages WHERE origin = 'file' AND url LIKE ?", [f"%/{gone}%"]) == [(0,)]
    assert query(db, "SELECT count(*) FROM page_history WHERE url LIKE ?", [f"%/{gone}%"]) == [(0,)]
    # a page saved from a browser is not used either
    saved_import = import_paths(db_path=db, site=site.url, paths=[saved])
    assert saved_import.withheld == 1 and saved_import.imported == 0
    assert query(db, "SELECT provenance, page_sha256, removed FROM requests WHERE url_title = ?", [gone]) == before


def test_a_request_removed_at_its_latest_capture_is_not_loaded(fake_site, tmp_path):
    slug = listed(fake_site)[0]
    record_site(fake_site.url, [f"/request/{slug}", f"/request/{slug}.json"], tmp_path / "a.warc.gz", when=T1)
    fake_site.remove_request(slug)
    record_site(fake_site.url, [f"/request/{slug}"], tmp_path / "b.warc.gz", when=T2)  # now a 404
    summary = import_paths(db_path=tmp_path / "r.duckdb", site=fake_site.url,
                           paths=[tmp_path / "a.warc.gz", tmp_path / "b.warc.gz"])
    assert summary.imported == 0 and summary.archives.removed_in_archive == 1 and summary.exit_code == 0
    db = tmp_path / "r.duckdb"
    assert not db.exists() or query(db, "SELECT count(*) FROM pages WHERE kind LIKE 'request%'") == [(0,)]


def test_bad_records_are_counted_and_nothing_stored_is_lost(session, tmp_path):
    site, wacz, _ = session
    db = tmp_path / "bad.duckdb"
    import_paths(db_path=db, site=site.url, paths=[wacz])
    tables = ("requests", "messages", "pages")
    before = {t: query(db, f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    slug = listed(site)[2]
    page = query(db, "SELECT url FROM pages WHERE url LIKE ?", [f"%/request/{slug}"])[0][0]
    bad = tmp_path / "bad.warc"
    with WarcBuilder(bad) as w:
        w.response(page, b"<html><head><title>Just a moment...</title></head></html>", when=T2, status=403,
                   reason="Forbidden", headers=[("cf-mitigated", "challenge")])
        w.response(f"{site.url}/request/never_there", b"<h1>Not found</h1>", when=T2, status=404, reason="Not Found")
        from tests.support.archive_files import Recorded

        w.revisit(page, of=Recorded(page, 200, T1, "<urn:uuid:elsewhere>", "sha1:NOTINTHISFILE"), when=T2)
        w.response(page + ".json", b'{"id": 1, ' * 500, when=T2, with_request=False)
    cut_file(bad, 100)
    res = run_cli("import", "--db", str(db), "--site", site.url, str(bad))
    assert res.returncode == 1  # the file was damaged
    assert "Traceback" not in res.stderr
    for words in ("challenge", "gone", "revisit unresolved", "truncated"):
        assert words in res.stdout, words
    assert {t: query(db, f"SELECT count(*) FROM {t}")[0][0] for t in tables} == before
