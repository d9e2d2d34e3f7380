"""The search index beside the database: same answers as a scan, phrases checked against the text, kept up to date."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from corpus.errors import CorpusError
from corpus.queries import run_query
from corpus.search.index import index_dir, update_search_index
from tests.corpus.test_queries import SITE, known_db, known_template  # noqa: F401  (fixtures)

pytest.importorskip("tantivy")

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)

# message id, request, direction, sent, body: phrases and near misses, in several styles
TEXTS = [
    (5001, "a1", "incoming", "2019-03-10 10:00:05+00", "The zebra crossing on Mill Lane was resurfaced in 2019."),
    (5002, "a2", "incoming", "2019-05-20 11:00:00+00", "Zebra-Crossing works: see the attached plan."),
    (5003, "a3", "incoming", "2019-09-10 09:30:00+00", "A crossing for the zebra enclosure is not a road matter."),
    (5004, "b1", "outgoing", "2019-02-01 08:00:00+00", "Please list every zebra. Crossing points are listed separately."),
    (5005, "b2", "incoming", "2019-04-10 12:00:00+00", "zebras crossing the road"),
    (5006, "s1", "incoming", "2020-03-20 12:00:00+00", "Nid oes gennym y wybodaeth am groesfan sebra. Zebra crossing data follows."),
    (5007, "e1", "incoming", None, "An undated note about a ZEBRA CROSSING."),
]


def _add_texts(db: Path, texts=TEXTS, seen: datetime = T0) -> None:
    con = duckdb.connect(str(db))
    for mid, key, direction, sent, body in texts:
        con.execute(
            "INSERT INTO messages (site, request_key, message_id, direction, sent_at, body, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [SITE, key, mid, direction, sent, body, seen, seen],
        )
    con.close()


def _update(db: Path, since=None):
    con = duckdb.connect(str(db))
    try:
        return update_search_index(con, since=since)
    finally:
        con.close()


def _search(db: Path, **params):
    notes: list[str] = []
    table = run_query(str(db), "search", params, notes=notes)
    return table.to_pylist(), notes


def _ids(got):
    return [(r["source"], r["message_id"], r["attachment_part"]) for r in got]


@pytest.fixture
def indexed(known_db):
    _add_texts(known_db)
    con = duckdb.connect(str(known_db))
    con.execute(
        "INSERT INTO attachment_texts (site, request_key, incoming_message_id, part, text, status, extracted_at) "
        "VALUES (?, 'b1', 1003, 2, 'Annex B: the zebra crossing survey, 2018.', 'ok', ?)",
        [SITE, T0],
    )
    con.close()
    stats = _update(known_db)
    assert stats.rebuilt and stats.added == 4 + len(TEXTS) + 1
    return known_db


def _scan(db: Path, **params):
    """The same search without the index (the plain-SQL path)."""
    hidden = Path(str(index_dir(db)) + ".away")
    index_dir(db).rename(hidden)
    try:
        got, notes = _search(db, **params)
        assert notes and "read every text" in notes[0]
        return got
    finally:
        hidden.rename(index_dir(db))


def test_phrase_hits_are_phrases_in_the_text(indexed):
    got, notes = _search(indexed, q="zebra crossing", order="date")
    assert notes == []  # answered by the index
    # the words in order with only non-letters between ("zebra. Crossing" and "Zebra-Crossing" count), whole
    # words ("zebras crossing" does not), and not merely both words somewhere ("a crossing for the zebra")
    assert [r["message_id"] for r in got] == [5006, 5002, 5001, 1003, 5004, 5007]
    assert {r["source"] for r in got if r["message_id"] == 1003} == {"attachment"}
    assert got[-1]["sent_at"] is None  # undated last
    assert "Zebra crossing data follows" in got[0]["snippet"]


def test_index_and_scan_find_the_same_rows(indexed):
    cases = [
        {"q": "zebra crossing"}, {"q": "zebra crossing", "match": "all"}, {"q": "zebra crossing", "match": "any"},
        {"q": "Zebra"}, {"q": "crossing", "direction": "outgoing"}, {"q": "crossing", "direction": "incoming"},
        {"q": "zebra", "authority": "council_a"}, {"q": "zebra", "since": "2019-04-01", "until": "2019-12-31"},
        {"q": "zebra", "site": SITE}, {"q": "serious case"}, {"q": "section 40(2)"}, {"q": "no such words anywhere"},
        {"q": "zebra", "top": "2", "order": "date"},
    ]
    for params in cases:
        fast, notes = _search(indexed, **{"top": "1000", **params})
        slow = _scan(indexed, **{"top": "1000", **params})
        assert notes == [], params
        if params.get("order") == "date":
            assert _ids(fast) == _ids(slow), params
        else:
            assert sorted(_ids(fast)) == sorted(_ids(slow)), params
            assert [r["snippet"] for r in sorted(fast, key=_ids_key)] == [r["snippet"] for r in sorted(slow, key=_ids_key)]


def _ids_key(r):
    return (r["source"], r["message_id"], r["attachment_part"] or 0)


def test_relevance_ranks_and_date_orders(indexed):
    best, _ = _search(indexed, q="zebra crossing", match="any")
    assert best[0]["score"] >= best[-1]["score"] > 0
    assert best[0]["message_id"] in (5006, 5004, 5001, 5002, 5003, 5005, 5007, 1003)
    newest, _ = _search(indexed, q="zebra crossing", order="date")
    dated = [r["sent_at"] for r in newest if r["sent_at"] is not None]
    assert dated == sorted(dated, reverse=True)


def test_a_hit_whose_text_changed_since_indexing_is_dropped(indexed):
    con = duckdb.connect(str(indexed))
    con.execute("UPDATE messages SET body = 'The crossing was painted. No zebra here.', last_seen = ? WHERE message_id = 5001",
                [T0 + timedelta(days=1)])  # a sync loaded the new text; the index is not updated yet
    con.close()
    got, notes = _search(indexed, q="zebra crossing")
    assert 5001 not in {r["message_id"] for r in got}  # the index still says so; the text does not
    assert {5006, 5002} <= {r["message_id"] for r in got} and notes == []


def test_a_sync_indexes_only_what_it_loaded(indexed):
    later = T0 + timedelta(days=1)
    con = duckdb.connect(str(indexed))
    con.execute("UPDATE messages SET body = 'Zebra crossing moved to Mill Road.', last_seen = ? WHERE message_id = 5003", [later])
    con.execute("UPDATE messages SET last_seen = ? WHERE message_id = 5002", [later])  # seen again, unchanged
    con.close()
    _add_texts(indexed, [(5100, "a4", "incoming", "2021-01-01 09:00:00+00", "A new zebra crossing request.")], seen=later)
    stats = _update(indexed, since=later)
    assert not stats.rebuilt and (stats.added, stats.removed) == (2, 1)  # 5003 changed, 5100 new; 5002 untouched
    got, notes = _search(indexed, q="zebra crossing")
    assert notes == [] and {5003, 5100} <= {r["message_id"] for r in got}
    again = _update(indexed)  # a whole rebuild over unchanged texts re-indexes nothing
    assert (again.added, again.removed, again.rebuilt) == (0, 0, False)


def test_texts_loaded_after_the_index_are_found_by_a_tail_scan(indexed):
    _add_texts(indexed, [(5200, "a5", "incoming", "2021-02-01 09:00:00+00", "Zebra crossing, still pending.")],
               seen=T0 + timedelta(days=2))
    got, notes = _search(indexed, q="zebra crossing", order="date")
    assert got[0]["message_id"] == 5200 and "found by a scan of those texts" in notes[0]


def test_deleted_texts_leave_the_index_on_a_whole_rebuild(indexed):
    con = duckdb.connect(str(indexed))
    con.execute("DELETE FROM messages WHERE message_id = 5001")
    con.close()
    stats = _update(indexed)
    assert stats.removed == 1
    assert 5001 not in {r["message_id"] for r in _search(indexed, q="zebra crossing")[0]}


def test_a_lost_database_commit_is_repaired(indexed):
    con = duckdb.connect(str(indexed))
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO messages (site, request_key, message_id, direction, body, first_seen, last_seen) "
                "VALUES (?, 'a6', 5300, 'incoming', 'Phantom zebra crossing', ?, ?)", [SITE, T0 + timedelta(days=3), T0 + timedelta(days=3)])
    update_search_index(con, since=T0 + timedelta(days=3))  # the index commits ...
    con.execute("ROLLBACK")  # ... the database does not
    con.close()
    assert 5300 not in {r["message_id"] for r in _search(indexed, q="phantom")[0]}  # read back from the database: gone
    stats = _update(indexed, since=T0 + timedelta(days=3))
    assert not stats.rebuilt
    con = duckdb.connect(str(indexed))
    docs = con.execute("SELECT count(*) FROM search_docs").fetchall()[0][0]
    con.close()
    from corpus.search.index import open_index

    assert open_index(index_dir(indexed)).searcher().num_docs == docs


def test_an_index_that_belongs_to_another_database_is_not_used(indexed, tmp_path):
    copy = tmp_path / "copy" / "foi.duckdb"
    copy.parent.mkdir()
    shutil.copy(indexed, copy)
    got, notes = _search(copy, q="zebra crossing")  # no index beside the copy: a scan, with a note
    assert len(got) == 6 and "read every text" in notes[0]
    shutil.copytree(index_dir(indexed), index_dir(copy))
    other = tmp_path / "other.duckdb"
    shutil.copy(indexed, other)
    _update(other)  # a new database: its own index
    shutil.rmtree(index_dir(copy))
    shutil.copytree(index_dir(other), index_dir(copy))
    con = duckdb.connect(str(copy))
    con.execute("UPDATE search_index_state SET index_id = 'another'")
    con.close()
    got, notes = _search(copy, q="zebra crossing")
    assert len(got) == 6 and "belongs to another database" in notes[0]
    assert _update(copy).rebuilt


def test_words_too_long_for_the_index_and_odd_queries(indexed):
    long_word = "x" * 45
    _add_texts(indexed, [(5400, "a7", "incoming", "2021-03-01 09:00:00+00", f"token {long_word} end")])
    _update(indexed)
    got, notes = _search(indexed, q=long_word)
    assert [r["message_id"] for r in got] == [5400] and "longer than the index keeps" in notes[0]


def test_in_memory_database_and_a_foreign_folder(tmp_path):
    con = duckdb.connect()
    con.execute("CREATE TABLE messages (site VARCHAR, direction VARCHAR, message_id BIGINT)")
    assert update_search_index(con) is None
    con.close()
    db = tmp_path / "x.duckdb"
    index_dir(db).mkdir()
    (index_dir(db) / "notes.txt").write_text("mine")
    from corpus.schema import MIGRATIONS

    con = duckdb.connect(str(db))
    for ddl in MIGRATIONS:
        con.execute(ddl)
    with pytest.raises(CorpusError, match="is not a search index; move it away"):
        update_search_index(con)
    con.close()
    assert (index_dir(db) / "notes.txt").read_text() == "mine"
