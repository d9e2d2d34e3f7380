"""The Python check of a hit (used on the index's hits) follows the same rules as queries/search.sql (RE2)."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from corpus.queries import run_query
from corpus.schema import MIGRATIONS
from corpus.search.words import Terms

SITE = "https://www.whatdotheyknow.com"
PIECES = ["zebra", "Zebra", "ZEBRA", "zebras", "crossing", "Crossing", "crossings", "the", " ", "  ", "-", ", ", ".",
          "\n", "\t", "_", "é", "École", "école", "ß", "x", "1", "\u00a0", "Ǆ", "40(2)", "s40", "'"]
QUERIES = [("zebra crossing", "phrase"), ("zebra", "phrase"), ("crossing zebra", "phrase"), ("école", "phrase"),
           ("zebra crossing", "all"), ("zebra crossing", "any"), ("40 2", "phrase"), ("the zebra", "phrase")]


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    for ddl in MIGRATIONS:
        c.execute(ddl)
    c.execute("INSERT INTO requests (site, request_key, url_title) VALUES (?, 'r', 'req_r')", [SITE])
    yield c
    c.close()


def _words(q: str) -> tuple[str, ...]:
    from corpus.search.index import analyzer

    return tuple(analyzer(drop_long=False).analyze(q))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.lists(st.sampled_from(PIECES), min_size=1, max_size=30).map("".join), min_size=1, max_size=6),
       query=st.sampled_from(QUERIES), pad=st.integers(min_value=0, max_value=120))
@example(texts=["\u00a040(2)"], query=("40 2", "phrase"), pad=0)  # DuckDB's trim() also strips Unicode spaces
def test_python_and_sql_find_the_same_hits_and_snippets(con, texts, query, pad):
    pytest.importorskip("tantivy")
    q, match = query
    con.execute("DELETE FROM messages")
    bodies = {i: "y" * pad + " " + t if i % 2 else t for i, t in enumerate(texts)}
    for i, body in bodies.items():
        con.execute("INSERT INTO messages (site, request_key, message_id, direction, body) VALUES (?, 'r', ?, 'incoming', ?)",
                    [SITE, i, body])
    sql = {r["message_id"]: r["snippet"] for r in run_query(con, "search", {"q": q, "match": match, "top": "1000"}).to_pylist()}
    terms = Terms(_words(q), match)
    python = {i: terms.snippet(b) for i, b in bodies.items() if terms.found_in(b)}
    assert python == sql
