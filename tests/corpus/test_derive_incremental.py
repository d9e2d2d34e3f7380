"""A rebuild scoped to what changed since a moment gives the same tables as a whole rebuild."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

import corpus.derive as derive
from corpus.db import connect
from corpus.load import load_threads
from scraper.records import Message
from tests.corpus.factories import T0, item, make_thread

TABLES = {
    "request_timeline": "SELECT * FROM request_timeline ORDER BY site, request_key",
    "refusal_citations": "SELECT * FROM refusal_citations ORDER BY ALL",
}


def snapshot(con):
    return {name: con.execute(sql).fetchall() for name, sql in TABLES.items()}


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "foi.duckdb")
    yield c
    c.close()


@pytest.mark.parametrize("chunk", [None, 2])
def test_scoped_rebuild_equals_a_whole_rebuild(con, monkeypatch, chunk):
    first = T0 + timedelta(days=400)
    threads = [make_thread(n, messages=2 + n % 3) for n in range(1, 31)]
    # a refusal to cite, so refusal_citations has rows outside the scope too
    threads[3].messages[1].body = "We refuse this under section 43(2) of the Freedom of Information Act 2000."
    load_threads(con, [item(t, fetched_at=first) for t in threads])
    # and requests under other regimes, and on a site with none known
    load_threads(con, [item(make_thread(n, messages=3), fetched_at=first, site=s)
                       for n, s in ((40, "https://dostup.org.ua"), (41, "https://www.asktheeu.org"),
                                    (42, "https://foi.example.org"))])
    derive.rebuild(con, today=date(2025, 1, 6))

    # a day later: one thread gains a refusal reply, one thread is new, one is re-keyed
    later = first + timedelta(days=1)
    grown = make_thread(5, messages=3)
    grown.messages.append(Message(
        message_id=5_999, direction="incoming", position=3, sender="FOI Team",
        sent_at=T0 + timedelta(days=20), sent_at_text=None,
        body="The information is exempt under section 40(2) and exceeds the appropriate limit.",
    ))
    new = make_thread(77)
    slug_only = make_thread(31, with_json=False)
    load_threads(con, [item(grown, fetched_at=later), item(new, fetched_at=later), item(slug_only, fetched_at=later)])
    load_threads(con, [item(make_thread(31), fetched_at=later + timedelta(hours=1))])  # its id becomes known

    seen = []
    real = derive.build_sql

    def spy(today, *, scoped=False, **options):
        if scoped:
            seen.append(con.execute("SELECT count(*) FROM _derive_scope").fetchall()[0][0])
        return real(today, scoped=scoped, **options)

    monkeypatch.setattr(derive, "build_sql", spy)
    derive.rebuild(con, today=date(2025, 1, 6), since=later, chunk=chunk)
    scoped = snapshot(con)
    total = con.execute("SELECT count(*) FROM requests").fetchall()[0][0]
    assert 0 < sum(seen) < total  # really scoped
    if chunk:  # a few requests at a time (the memory a sync's rebuild takes does not grow with its scope)
        assert len(seen) > 1 and max(seen) <= chunk
    monkeypatch.setattr(derive, "build_sql", real)

    derive.rebuild(con, today=date(2025, 1, 6))
    assert scoped == snapshot(con)
    provisions = {r[0] for r in con.execute("SELECT provision FROM refusal_citations").fetchall()}
    assert {"s43(2)", "s40(2)", "s12"} <= provisions


def test_a_new_day_refreshes_overdue_flags_everywhere(con):
    first = T0 + timedelta(days=400)
    load_threads(con, [item(make_thread(n, messages=1), fetched_at=first) for n in range(1, 6)])
    derive.rebuild(con, today=date(2024, 3, 2))
    assert not any(r[0] for r in con.execute("SELECT overdue_now FROM request_timeline").fetchall())
    derive.rebuild(con, today=date(2025, 3, 2), since=first + timedelta(days=5))  # nothing loaded since
    scoped = snapshot(con)
    assert all(r[0] for r in con.execute("SELECT overdue_now FROM request_timeline").fetchall())
    derive.rebuild(con, today=date(2025, 3, 2))
    assert scoped == snapshot(con)


def test_tables_from_an_older_build_are_rebuilt_whole(con):
    load_threads(con, [item(make_thread(1))])
    derive.rebuild(con, today=date(2025, 1, 6))
    con.execute("ALTER TABLE request_timeline DROP COLUMN title_key_requests")
    derive.rebuild(con, today=date(2025, 1, 6), since=T0 + timedelta(days=1000))
    assert "title_key_requests" in {r[0] for r in con.execute("DESCRIBE request_timeline").fetchall()}


def test_a_changed_sites_file_rebuilds_every_request(con, tmp_path, monkeypatch):
    monkeypatch.delenv("CORPUS_SITES", raising=False)
    elsewhere = "https://foi.example.org"
    first = T0 + timedelta(days=400)
    load_threads(con, [item(make_thread(n, messages=2), fetched_at=first, site=elsewhere) for n in range(1, 4)])
    derive.rebuild(con, today=date(2025, 1, 6))
    assert {r[0] for r in con.execute("SELECT regime FROM request_timeline").fetchall()} == {"unknown"}

    (tmp_path / "sites.toml").write_text(f'[[site]]\nurl = "{elsewhere}"\nregime = "EU_1049"\n', encoding="utf-8")
    derive.rebuild(con, today=date(2025, 1, 6), since=first + timedelta(days=5))  # nothing loaded since
    scoped = snapshot(con)
    assert {r[0] for r in con.execute("SELECT regime FROM request_timeline").fetchall()} == {"EU_1049"}
    assert all(r[0] is not None for r in con.execute("SELECT due_date FROM request_timeline").fetchall())
    derive.rebuild(con, today=date(2025, 1, 6))
    assert scoped == snapshot(con)
