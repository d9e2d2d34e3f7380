from __future__ import annotations

from datetime import timedelta

import pytest

from corpus.db import connect
from corpus.load import LoadStats, load_threads, mark_removed, size_bytes_approx
from scraper.records import Annotation, Person
from tests.corpus.factories import SITE, T0, item, make_thread
from tests.support.corpus_db import load_threads_tx


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "foi.duckdb")
    yield c
    c.close()


def _counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("requests", "messages", "attachments", "annotations", "events", "users", "authorities")}


def test_first_load_writes_every_table(con):
    stats = load_threads_tx(con, [item(make_thread(1, messages=4, annotations=2)), item(make_thread(2))])
    assert (stats.requests_new, stats.messages_new, stats.attachments_new, stats.annotations_new, stats.events_new) == (2, 7, 3, 2, 7)
    assert _counts(con) == {"requests": 2, "messages": 7, "attachments": 3, "annotations": 2, "events": 7,
                            "users": 4, "authorities": 2}
    row = con.execute(
        "SELECT request_key, request_id, url_title, authority_url_name, requester_url_name, tags, has_json, removed "
        "FROM requests WHERE url_title = 'thread_1'").fetchone()
    assert row == ("id:1", 1, "thread_1", "council_1", "user_1", ["foi", "year:2024"], True, False)
    # event_type comes from the JSON events joined on the message id
    got = con.execute("SELECT message_id, direction, event_type FROM messages WHERE request_key = 'id:1' ORDER BY position").fetchall()
    assert got == [(100, "outgoing", "sent"), (101, "incoming", "response"), (102, "outgoing", "followup_sent"),
                   (103, "incoming", "response")]
    assert con.execute("SELECT size_text, size_bytes_approx FROM attachments WHERE incoming_message_id = 101").fetchone() == ("78K", 79872)
    assert con.execute("SELECT author_url_name, author_name FROM annotations WHERE comment_id = 11").fetchone() == ("annotator_1", "Annotator 1")
    # offset-bearing times are stored as instants
    sent = con.execute("SELECT sent_at FROM messages WHERE message_id = 100").fetchone()[0]
    assert sent == T0 + timedelta(days=1)


def test_reload_is_idempotent_and_keeps_first_seen(con):
    first = T0 + timedelta(days=400)
    later = first + timedelta(days=3)
    load_threads_tx(con, [item(make_thread(1, annotations=1), fetched_at=first)])
    before = _counts(con)
    stats = load_threads_tx(con, [item(make_thread(1, annotations=1), fetched_at=later)])
    assert stats == LoadStats(unchanged=1)
    assert _counts(con) == before
    assert con.execute("SELECT first_seen, last_seen FROM requests").fetchone() == (first, later)
    assert con.execute("SELECT DISTINCT first_seen FROM messages").fetchall() == [(first,)]
    # an older copy loaded later does not move last_seen backwards
    load_threads_tx(con, [item(make_thread(1, annotations=1), fetched_at=first)])
    assert con.execute("SELECT last_seen FROM requests").fetchone()[0] == later


def test_thread_that_grew_gains_exactly_the_new_rows(con):
    load_threads_tx(con, [item(make_thread(5, messages=2))])
    grown = make_thread(5, messages=3, annotations=1)
    grown.described_state = "successful"
    stats = load_threads_tx(con, [item(grown)])
    assert (stats.requests_new, stats.requests_changed, stats.unchanged) == (0, 1, 0)
    assert (stats.messages_new, stats.annotations_new, stats.events_new, stats.attachments_new) == (1, 1, 1, 0)
    assert _counts(con)["messages"] == 3
    assert con.execute("SELECT described_state FROM requests").fetchone()[0] == "successful"


def test_new_annotation_alone_is_not_unchanged(con):
    load_threads_tx(con, [item(make_thread(5))])
    stats = load_threads_tx(con, [item(make_thread(5, annotations=1))])
    assert (stats.requests_changed, stats.annotations_new, stats.unchanged) == (0, 1, 0)


def test_hidden_message_keeps_its_body_and_records_when(con):
    first = T0 + timedelta(days=400)
    later = first + timedelta(days=10)
    load_threads_tx(con, [item(make_thread(3), fetched_at=first)])
    hidden = make_thread(3)
    msg = hidden.messages[1]
    msg.prominence = "hidden"
    msg.body = ""
    msg.hidden_notice = "This message has been hidden."
    load_threads_tx(con, [item(hidden, fetched_at=later)])
    row = con.execute("SELECT body, prominence, hidden_since FROM messages WHERE message_id = 301").fetchone()
    assert row == ("Message 1 of thread 3.\n\nSecond paragraph.", "hidden", later)
    # a further fetch keeps the first hidden_since
    load_threads_tx(con, [item(hidden, fetched_at=later + timedelta(days=5))])
    assert con.execute("SELECT hidden_since FROM messages WHERE message_id = 301").fetchone()[0] == later
    # made visible again: hidden_since cleared
    load_threads_tx(con, [item(make_thread(3), fetched_at=later + timedelta(days=9))])
    assert con.execute("SELECT prominence, hidden_since FROM messages WHERE message_id = 301").fetchone() == ("normal", None)


def test_message_that_disappeared_is_kept(con):
    load_threads_tx(con, [item(make_thread(4, messages=3))])
    shorter = make_thread(4, messages=3)
    del shorter.messages[2]
    load_threads_tx(con, [item(shorter)])
    assert con.execute("SELECT count(*) FROM messages WHERE request_key = 'id:4'").fetchone()[0] == 3


def test_slug_keyed_request_is_rekeyed_when_its_id_becomes_known(con):
    bare = make_thread(8, with_json=False, annotations=1)
    load_threads_tx(con, [item(bare, fetched_at=T0)])
    assert con.execute("SELECT request_key, request_id FROM requests").fetchall() == [("slug:thread_8", None)]
    stats = load_threads_tx(con, [item(make_thread(8, annotations=1), fetched_at=T0 + timedelta(days=1))])
    assert stats.requests_new == 0
    assert con.execute("SELECT request_key, request_id, first_seen FROM requests").fetchall() == [("id:8", 8, T0)]
    for table in ("messages", "attachments", "annotations", "events"):
        keys = {r[0] for r in con.execute(f"SELECT DISTINCT request_key FROM {table}").fetchall()}
        assert keys == {"id:8"}, table
    # and a later load without JSON lands on the id row, keeping JSON-only facts
    load_threads_tx(con, [item(make_thread(8, with_json=False, annotations=1), fetched_at=T0 + timedelta(days=2))])
    assert con.execute("SELECT request_key, described_state, tags, has_json FROM requests").fetchall() == [
        ("id:8", "waiting_response", ["foi", "year:2024"], True)]
    assert con.execute("SELECT count(*) FROM messages WHERE event_type IS NULL").fetchone()[0] == 0


def test_slug_and_id_of_same_request_in_one_batch_make_one_row(con):
    stats = load_threads_tx(con, [item(make_thread(9, with_json=False)), item(make_thread(9))])
    assert stats.requests_new == 1
    assert con.execute("SELECT request_key FROM requests").fetchall() == [("id:9",)]


def test_external_and_anonymous_requesters_become_external_users(con):
    ext = make_thread(11)
    ext.requester = Person(url_name=None, name="Campaign Group Ltd")
    ext.requester_external = True
    anon = make_thread(12)
    anon.requester = Person(url_name=None, name="An anonymous user")
    anon.requester_external = True
    load_threads_tx(con, [item(ext), item(anon)])
    users = con.execute("SELECT url_name, name, external FROM users WHERE external ORDER BY url_name").fetchall()
    assert users == [("external:An anonymous user", "An anonymous user", True),
                     ("external:Campaign Group Ltd", "Campaign Group Ltd", True)]
    assert con.execute("SELECT requester_url_name, requester_external FROM requests WHERE request_id = 11").fetchone() == (
        "external:Campaign Group Ltd", True)


def test_duplicate_threads_in_one_batch_last_wins(con):
    a = make_thread(13)
    b = make_thread(13)
    b.title = "Retitled"
    stats = load_threads_tx(con, [item(a), item(b)])
    assert stats.requests_new == 1
    assert con.execute("SELECT title FROM requests").fetchall() == [("Retitled",)]


def test_load_threads_joins_callers_transaction(con):
    con.execute("BEGIN TRANSACTION")
    load_threads(con, [item(make_thread(20))])
    con.execute("ROLLBACK")
    assert _counts(con)["requests"] == 0
    con.execute("BEGIN TRANSACTION")
    load_threads(con, [item(make_thread(21))])
    con.execute("COMMIT")
    assert _counts(con)["requests"] == 1


def test_mark_removed_keeps_rows_and_only_mark_removed_changes_it(con):
    load_threads_tx(con, [item(make_thread(40)), item(make_thread(41))])
    mark_removed(con, SITE, "thread_40", "thread_41")
    assert con.execute("SELECT bool_and(removed) FROM requests").fetchone()[0] is True
    assert _counts(con)["messages"] == 6
    # a load (a reparse, an import) never says whether the site still serves the thread
    load_threads_tx(con, [item(make_thread(40, messages=4))])
    assert con.execute("SELECT removed FROM requests WHERE url_title = 'thread_40'").fetchone()[0] is True
    assert _counts(con)["messages"] == 7
    mark_removed(con, SITE, "thread_40", removed=False)
    assert con.execute("SELECT url_title, removed FROM requests ORDER BY 1").fetchall() == [
        ("thread_40", False), ("thread_41", True)]


def test_a_new_request_starts_not_removed(con):
    load_threads_tx(con, [item(make_thread(42))])
    assert con.execute("SELECT removed FROM requests").fetchone()[0] is False


def test_sites_are_kept_apart(con):
    load_threads_tx(con, [item(make_thread(50)), item(make_thread(50), site="https://alaveteli.example")])
    assert con.execute("SELECT count(*), count(DISTINCT site) FROM requests").fetchone() == (2, 2)
    assert _counts(con)["messages"] == 6


def test_annotation_author_without_profile(con):
    t = make_thread(60)
    t.annotations = [Annotation(comment_id=601, position=9, author=Person(url_name=None, name="Someone"),
                                created_at=None, created_at_text=None, text="hi")]
    load_threads_tx(con, [item(t)])
    assert con.execute("SELECT author_url_name, author_name FROM annotations").fetchone() == ("external:Someone", "Someone")


@pytest.mark.parametrize(
    "text,expected",
    [("78K", 79872), ("1.2M", 1258291), ("512 bytes", 512), ("3 KB", 3072), ("2G", 2 * 1024**3),
     (None, None), ("", None), ("big", None), ("12 parsecs", None)],
)
def test_size_bytes_approx(text, expected):
    assert size_bytes_approx(text) == expected


def test_empty_batch_is_a_no_op(con):
    assert load_threads_tx(con, []) == LoadStats()


def test_describe_mentions_every_figure():
    text = LoadStats(1, 2, 3, 4, 5, 6, 7).describe()
    assert text == ("1 new threads, 2 changed, 7 unchanged; 3 new messages, 4 new annotations, "
                    "5 new attachments, 6 new events")


def test_authority_details_from_the_json_fill_the_authorities_table(con):
    from corpus.load import jurisdiction_from_tags

    scottish = make_thread(1)
    scottish.authority_tags = [("local_council", None), ("scotland", None), ("gss", "S12000033")]
    scottish.authority_short_name = "GC"
    scottish.authority_home_page = "https://www.example.scot"
    load_threads(con, [item(scottish)])
    row = con.execute(
        "SELECT tags, jurisdiction, short_name, home_page FROM authorities WHERE url_name = ?",
        [scottish.authority.url_name],
    ).fetchall()[0]
    assert row == (["local_council", "scotland", "gss:S12000033"], "scotland", "GC", "https://www.example.scot")
    # a later page without JSON (tags unknown) does not blank what the JSON said
    again = make_thread(1)
    again.authority_tags = None
    load_threads(con, [item(again, fetched_at=T0 + timedelta(days=1))])
    assert con.execute(
        "SELECT jurisdiction, tags FROM authorities WHERE url_name = ?", [scottish.authority.url_name]
    ).fetchall()[0] == ("scotland", ["local_council", "scotland", "gss:S12000033"])
    assert jurisdiction_from_tags(["local_council", "england"]) == "uk"
    assert jurisdiction_from_tags(None) is None


def test_rows_none_of_which_is_stored_skip_the_comparison_with_stored_rows(con, monkeypatch):
    """A batch of new threads is inserted as it is (the statements that compare with stored rows read every
    stored row's content); a batch holding a stored thread still goes through them, new rows and all."""
    from corpus import load

    with monkeypatch.context() as m:  # the comparing statements broken: a batch of new threads never runs them
        for table in load._UPSERT_SQL:
            m.setitem(load._UPSERT_SQL, table, ["SELECT no_such_column"])
        stats = load_threads_tx(con, [item(make_thread(1, annotations=1)), item(make_thread(2))])
    assert (stats.requests_new, stats.messages_new, stats.annotations_new, stats.events_new) == (2, 6, 1, 6)
    assert _counts(con) == {"requests": 2, "messages": 6, "attachments": 2, "annotations": 1, "events": 6,
                            "users": 3, "authorities": 2}
    with monkeypatch.context() as m:  # thread 2 is stored: its batch is compared
        m.setitem(load._UPSERT_SQL, "messages", ["SELECT no_such_column"])
        with pytest.raises(Exception, match="no_such_column"):
            load_threads_tx(con, [item(make_thread(2, messages=4)), item(make_thread(3))])
    stats = load_threads_tx(con, [item(make_thread(2, messages=4)), item(make_thread(3))])
    assert (stats.requests_new, stats.requests_changed, stats.messages_new, stats.events_new) == (1, 0, 4, 4)
    assert _counts(con)["messages"] == 10 and _counts(con)["requests"] == 3


_CORE_KEYS = {"requests": "site, request_key", "messages": "site, direction, message_id",
              "attachments": "site, incoming_message_id, part", "annotations": "site, comment_id",
              "events": "site, event_id", "authorities": "site, url_name", "users": "site, url_name"}


def _duplicate_keys(con) -> dict[str, int]:
    return {t: n for t, key in _CORE_KEYS.items()
            if (n := con.execute(f"SELECT count(*) FROM (SELECT {key} FROM {t} GROUP BY ALL HAVING count(*) > 1)").fetchone()[0])}


def test_the_core_tables_have_no_key_index(con):
    # schema 7: the loader keeps the keys; an index would be read at every insert and written at every checkpoint
    indexed = con.execute(
        "SELECT DISTINCT table_name FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
    ).fetchall()
    assert not {t for (t,) in indexed} & set(_CORE_KEYS)


def test_mixed_batches_never_store_a_key_twice(con):
    # threads seen again, grown, shrunk, first without their JSON then with it, in batches that overlap
    import random

    rng = random.Random(7)
    day = T0 + timedelta(days=400)
    for batch in range(12):
        items = []
        for n in rng.sample(range(1, 30), 8):
            thread = make_thread(n, messages=rng.randint(1, 6), annotations=rng.randint(0, 2),
                                 with_json=rng.random() < 0.7)
            if rng.random() < 0.3:
                thread.title = f"Retitled {batch}"
            items.append(item(thread, fetched_at=day + timedelta(hours=batch)))
        if batch % 3 == 0:
            items.append(items[0])  # the same page twice in one batch
        load_threads_tx(con, items)
        assert _duplicate_keys(con) == {}, f"after batch {batch}"
    counts = _counts(con)
    assert counts["requests"] == con.execute("SELECT count(DISTINCT url_title) FROM requests").fetchone()[0]
    assert counts["messages"] > 29 and counts["annotations"] > 0
