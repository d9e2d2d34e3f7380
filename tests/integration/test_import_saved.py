"""corpus import of pages saved from the sample site (HTML with its JSON beside it)."""

from __future__ import annotations

import httpx

from corpus.importer import import_paths
from tests.integration.conftest import query, run_cli, simple_thread


def test_import_saved_pages_with_json_matches_a_sync(fake_site, tmp_path):
    req = simple_thread(fake_site.corpus)
    saved = tmp_path / "saved"
    saved.mkdir()
    with httpx.Client(base_url=fake_site.url) as client:
        (saved / f"{req.url_title}.html").write_bytes(client.get(f"/request/{req.url_title}").content)
        (saved / f"{req.url_title}.json").write_bytes(client.get(f"/request/{req.url_title}.json").content)
    imported = tmp_path / "imported.duckdb"
    summary = import_paths(db_path=imported, site=fake_site.url, paths=[saved])
    assert (summary.imported, summary.with_json, summary.exit_code) == (1, 1, 0)

    synced = tmp_path / "synced.duckdb"
    res = run_cli("sync", "--site", fake_site.url, "--request", req.url_title, "--db", synced, "--rate", "300")
    assert res.returncode == 0, res.stderr
    cols = "request_key, title, authority_url_name, requester_url_name, described_state, has_json"
    assert query(imported, f"SELECT {cols} FROM requests") == query(synced, f"SELECT {cols} FROM requests")
    msg = "SELECT direction, message_id, event_type, sent_at, body FROM messages ORDER BY position"
    assert query(imported, msg) == query(synced, msg)
    assert query(imported, "SELECT count(*) FROM events")[0][0] > 0
    pages = query(imported, "SELECT kind, url, companion_url FROM pages ORDER BY kind")
    html_url = "file://" + str((saved / f"{req.url_title}.html").resolve())
    json_url = "file://" + str((saved / f"{req.url_title}.json").resolve())
    assert pages == [("imported_html", html_url, json_url), ("imported_json", json_url, None)]


def test_import_on_the_command_line(pages_2019, tmp_path):
    dbp = tmp_path / "cli.duckdb"
    res = run_cli("import", "--db", dbp, pages_2019)
    assert res.returncode == 0, res.stderr
    assert "Imported 13 request pages" in res.stdout
    assert query(dbp, "SELECT count(*) FROM requests") == [(13,)]
