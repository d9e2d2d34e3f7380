"""`corpus sync` on the command line against the sample site, read back with plain DuckDB."""

from __future__ import annotations

from protego import Protego

from tests.integration.conftest import FAST, query, run_cli, simple_thread, visible_threads


def test_sync_one_request_then_read_it_with_duckdb(fake_site, tmp_path):
    req = simple_thread(fake_site.corpus)
    dbp = tmp_path / "one.duckdb"
    res = run_cli("sync", "--site", fake_site.url, "--request", req.url_title, "--db", dbp, *FAST)
    assert res.returncode == 0, res.stderr
    assert "Sync complete." in res.stdout and "1 fetched (1 new" in res.stdout

    [(key, title, authority, requester, has_json, source)] = query(
        dbp, "SELECT request_key, title, authority_url_name, requester_url_name, has_json, source "
             "FROM requests WHERE url_title = ?", [req.url_title])
    assert key == f"id:{req.id}"
    assert (title, authority, requester) == (req.title, req.authority_url_name, req.user_url_name)
    assert has_json is True and source == "sync"
    got_messages = query(dbp, "SELECT direction, message_id FROM messages WHERE request_key = ? ORDER BY position", [key])
    assert got_messages == [(m.direction, m.id) for m in sorted(req.messages, key=lambda m: m.event_time)]
    got_notes = query(dbp, "SELECT comment_id, author_url_name FROM annotations WHERE request_key = ? ORDER BY comment_id", [key])
    assert got_notes == sorted((a.id, a.user_url_name) for a in req.annotations)
    # raw pages are kept, paired, and the run is recorded without the contact address
    pages = dict(query(dbp, "SELECT kind, companion_url FROM pages WHERE kind LIKE 'request%' OR kind = 'robots'"))
    assert pages["request_html"] == f"{fake_site.url}/request/{req.url_title}.json"
    assert "robots" in pages
    [(outcome, command)] = query(dbp, "SELECT outcome, command FROM sync_runs")
    assert outcome == "complete" and req.url_title in command
    assert query(dbp, "SELECT state FROM frontier") == [("done",)]


def test_numeric_id_follows_the_redirect_to_the_slug(fake_site, tmp_path):
    req = visible_threads(fake_site.corpus)[3]
    dbp = tmp_path / "id.duckdb"
    res = run_cli("sync", "--site", fake_site.url, "--request", req.id, "--db", dbp, *FAST)
    assert res.returncode == 0, res.stderr
    assert query(dbp, "SELECT url_title FROM requests") == [(req.url_title,)]


def test_no_disallowed_path_is_ever_requested(fake_site, tmp_path):
    threads = visible_threads(fake_site.corpus)[:8]
    dbp = tmp_path / "robots.duckdb"
    res = run_cli("sync", "--site", fake_site.url, "--db", dbp, *FAST,
                  *[a for r in threads for a in ("--request", r.url_title)])
    assert res.returncode == 0, res.stderr
    import httpx

    robots = Protego.parse(httpx.get(f"{fake_site.url}/robots.txt").text)
    hits = [h for h in fake_site.hits if h.headers.get("User-Agent", "").startswith("foi-corpus/")]
    assert len(hits) >= 1 + 2 * len(threads)
    assert hits[0].path == "/robots.txt"
    for h in hits:
        url = fake_site.url + h.path + ("?" + h.query if h.query else "")
        assert robots.can_fetch(url, "foi-corpus"), url


def test_bad_input_writes_nothing(fake_site, tmp_path):
    dbp = tmp_path / "bad.duckdb"
    cases = [
        (["--site", "ftp://x"], "only http and https"),
        (["--site", fake_site.url], "nothing to sync"),
        (["--site", fake_site.url, "--request", "a", "--since", "2024-02-01", "--until", "2024-01-01"], "after --until"),
        (["--site", fake_site.url, "--request", "a", "--rate", "0"], "above 0"),
        (["--site", "https://foi.example.org", "--request", "a"], "--contact"),
    ]
    for args, words in cases:
        res = run_cli("sync", "--db", dbp, *args)
        assert res.returncode == 2, (args, res.stderr)
        assert words in res.stderr, (args, res.stderr)
        assert res.stderr.count("\n") == 1
    assert not dbp.exists()
    assert fake_site.hits == []


def test_unknown_numeric_id_is_a_usage_error(fake_site, tmp_path):
    dbp = tmp_path / "x.duckdb"
    res = run_cli("sync", "--site", fake_site.url, "--request", "999999999", "--db", dbp, *FAST)
    assert res.returncode == 2
    assert "999999999 was not found" in res.stderr
    assert not dbp.exists()
