"""corpus import: saved request pages from files and folders."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from corpus.errors import UsageError
from corpus.importer import collect, import_paths
from scraper.errors import InvalidInput
from tests.support.corpus_db import load_page, refuse_to_store

SITE = "https://www.whatdotheyknow.com"

# From the 2019 pages themselves (incoming, outgoing, annotations per file).
EXPECTED_2019 = {
    "88779.html": ("misfeasance_in_public_office_5", 1, 1, 2),
    "921139.html": ("register_our_marriage_campaign", 4, 5, 0),
    "1000437.html": ("psl_schemes", 3, 1, 0),
    "1405635.html": ("golders_green_visit", 2, 1, 0),
}


def test_import_of_the_2019_pages_loads_every_thread(pages_2019, tmp_path, capsys):
    dbp = tmp_path / "c.duckdb"
    summary = import_paths(db_path=dbp, site=SITE, paths=[pages_2019])
    assert summary.exit_code == 0
    assert summary.imported == 13 and summary.new_threads == 13
    assert summary.skipped == [] and summary.parse_failures == []
    assert summary.describe().startswith("Imported 13 request pages")
    assert capsys.readouterr() == ("", "")  # the library prints nothing: the CLI does
    con = duckdb.connect(str(dbp), read_only=True)
    for fname, (slug, incoming, outgoing, notes) in EXPECTED_2019.items():
        key, source, source_url = con.execute(
            "SELECT request_key, source, source_url FROM requests WHERE url_title = ?", [slug]
        ).fetchall()[0]
        assert source == "import"
        assert source_url == "file://" + str((pages_2019 / fname).resolve())
        got = dict(con.execute(
            "SELECT direction, count(*) FROM messages WHERE request_key = ? GROUP BY 1", [key]).fetchall())
        assert (got.get("incoming", 0), got.get("outgoing", 0)) == (incoming, outgoing)
        assert con.execute("SELECT count(*) FROM annotations WHERE request_key = ?", [key]).fetchall()[0][0] == notes
        # the raw page is kept for reparse, byte for byte
        assert load_page(con, source_url) == (pages_2019 / fname).read_bytes()
    assert con.execute("SELECT DISTINCT kind FROM pages").fetchall() == [("imported_html",)]
    assert con.execute("SELECT outcome, command FROM sync_runs").fetchall() == [("complete", "corpus import")]
    con.close()


def test_reimport_is_idempotent(pages_2019, tmp_path):
    dbp = tmp_path / "c.duckdb"
    import_paths(db_path=dbp, site=SITE, paths=[pages_2019 / "88779.html"])
    again = import_paths(db_path=dbp, site=SITE, paths=[pages_2019 / "88779.html"])
    assert (again.new_threads, again.updated_threads, again.unchanged) == (0, 0, 1)
    con = duckdb.connect(str(dbp), read_only=True)
    assert con.execute("SELECT count(*) FROM requests").fetchall()[0][0] == 1
    assert con.execute("SELECT count(*) FROM messages").fetchall()[0][0] == 2
    con.close()


def test_non_request_files_are_named_and_skipped(pages_2019, tmp_path):
    folder = tmp_path / "saved"
    (folder / "deeper").mkdir(parents=True)
    shutil.copy(pages_2019 / "1398788.html", folder / "deeper" / "sprinklers.html")
    (folder / "notes.txt").write_text("my notes")
    (folder / "home.html").write_text("<html><head><title>Cats</title></head><body><p>cats</p></body></html>")
    (folder / "orphan.json").write_text("{}")
    dbp = tmp_path / "c.duckdb"
    summary = import_paths(db_path=dbp, site=SITE, paths=[folder])
    assert summary.imported == 1
    names = sorted(p.rsplit("/", 1)[-1] for p, _ in summary.skipped)
    assert names == ["home.html", "notes.txt", "orphan.json"]
    assert summary.exit_code == 0  # something was imported, the rest is not a request page
    text = summary.describe()
    assert "home.html" in text and "Skipped 3 files" in text
    con = duckdb.connect(str(dbp), read_only=True)
    assert con.execute("SELECT url_title FROM requests").fetchall() == [("guidance_on_sprinklers",)]
    con.close()


def test_only_junk_exits_1_and_writes_no_threads(tmp_path):
    (tmp_path / "a.html").write_text("<html><body>nothing here</body></html>")
    dbp = tmp_path / "c.duckdb"
    summary = import_paths(db_path=dbp, site=SITE, paths=[tmp_path / "a.html"])
    assert summary.exit_code == 1 and summary.imported == 0
    assert not dbp.exists()


def test_json_is_paired_with_both_naming_styles(tmp_path):
    (tmp_path / "one.html").write_text("x")
    (tmp_path / "one.json").write_text("{}")
    (tmp_path / "two").write_text("x")
    (tmp_path / "two.json").write_text("{}")
    (tmp_path / "three.html").write_text("x")
    (tmp_path / "three.html.json").write_text("{}")
    pairs, skipped = collect([tmp_path])
    got = {h.name: (j.name if j else None) for h, j in pairs}
    assert got == {"one.html": "one.json", "two": "two.json", "three.html": "three.html.json"}
    assert skipped == []


def test_missing_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        import_paths(db_path=tmp_path / "c.duckdb", site=SITE, paths=[tmp_path / "nope"])
    with pytest.raises(InvalidInput):  # the scraper's: the CLI shows it as a --site usage error (exit 2)
        import_paths(db_path=tmp_path / "c.duckdb", site="not a site", paths=[tmp_path])


def test_a_truncated_request_page_is_kept_for_reparse(pages_2019, tmp_path):
    data = (pages_2019 / "1000437.html").read_bytes()
    cut = tmp_path / "cut.html"
    cut.write_bytes(data[: len(data) // 2])
    dbp = tmp_path / "c.duckdb"
    summary = import_paths(db_path=dbp, site=SITE, paths=[cut])
    assert len(summary.parse_failures) == 1 and summary.exit_code == 1
    con = duckdb.connect(str(dbp), read_only=True)
    url = "file://" + str(cut.resolve())
    kind = con.execute("SELECT kind FROM parse_failures WHERE url = ?", [url]).fetchall()[0][0]
    assert kind in ("truncated", "markup_changed")
    assert load_page(con, url) == data[: len(data) // 2]
    assert con.execute("SELECT count(*) FROM requests").fetchall()[0][0] == 0
    con.close()


def test_a_json_that_cannot_be_read_is_counted_and_named(pages_2019, tmp_path):
    folder = tmp_path / "saved"
    folder.mkdir()
    shutil.copy(pages_2019 / "1398788.html", folder / "sprinklers.html")
    (folder / "sprinklers.json").write_text('{"id": 589128, "url_title": "guidance_on_spr')
    summary = import_paths(db_path=tmp_path / "c.duckdb", site=SITE, paths=[folder])
    assert (summary.imported, summary.with_json, summary.exit_code) == (1, 0, 0)
    assert [name.rsplit("/", 1)[-1] for name, _ in summary.bad_json] == ["sprinklers.html"]
    assert "1 JSON files could not be read" in summary.describe() and "sprinklers.html" in summary.describe()


def test_a_file_the_loader_cannot_store_is_reported_and_the_folder_goes_on(pages_2019, tmp_path, monkeypatch):
    folder = tmp_path / "saved"
    folder.mkdir()
    for stem in ("88779", "921139", "1000437"):
        shutil.copy(pages_2019 / f"{stem}.html", folder / f"{stem}.html")
    refuse_to_store(monkeypatch, "register_our_marriage_campaign")
    dbp = tmp_path / "c.duckdb"
    summary = import_paths(db_path=dbp, site=SITE, paths=[folder])
    assert summary.imported == 2 and summary.exit_code == 1
    assert [(name.rsplit("/", 1)[-1], why.split(":")[0]) for name, why in summary.parse_failures] == [
        ("921139.html", "load_error")]
    con = duckdb.connect(str(dbp), read_only=True)
    assert sorted(r[0] for r in con.execute("SELECT url_title FROM requests").fetchall()) == [
        "misfeasance_in_public_office_5", "psl_schemes"]
    assert con.execute("SELECT kind FROM parse_failures").fetchall() == [("load_error",)]
    assert con.execute("SELECT count(*) FROM pages WHERE url LIKE '%921139.html'").fetchone() == (1,)  # page kept
    con.close()
