"""Canned queries against a small corpus whose right answers are worked out by hand.

``build_known_corpus`` is shared with the export, report and example tests.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.derive.timeline import title_key, title_key_sql
from corpus.errors import CorpusError, UsageError
from corpus.queries import (
    QUERIES_DIR,
    describe_queries,
    list_queries,
    run_query,
)
from corpus.schema import MIGRATIONS

SITE = "https://www.whatdotheyknow.com"
XSS = "<script>alert(1)</script>"

# The derived tables' columns (built by corpus.derive in real databases); the
# tests create them directly so that every value below is known.
REQUEST_TIMELINE_DDL = """
CREATE TABLE request_timeline (
    site VARCHAR, request_key VARCHAR, request_id BIGINT, url_title VARCHAR, title VARCHAR,
    authority_url_name VARCHAR, authority_name VARCHAR, requester_url_name VARCHAR, requester_name VARCHAR,
    regime VARCHAR, regime_basis VARCHAR, is_school BOOLEAN,
    sent_at TIMESTAMPTZ, received_date DATE, due_date DATE, long_overdue_date DATE,
    first_incoming_at TIMESTAMPTZ, first_incoming_message_id BIGINT, working_days_to_first_incoming INTEGER,
    first_substantive_at TIMESTAMPTZ, first_substantive_message_id BIGINT, working_days_to_substantive INTEGER,
    answered BOOLEAN, answered_in_time BOOLEAN, overdue_now BOOLEAN, long_overdue_now BOOLEAN,
    internal_review_requested_at TIMESTAMPTZ, internal_review_answered_at TIMESTAMPTZ,
    working_days_internal_review INTEGER,
    described_state VARCHAR, calculated_status VARCHAR, outcome VARCHAR,
    year INTEGER, message_count INTEGER, incoming_count INTEGER,
    batch_id BIGINT, title_key VARCHAR, title_key_requests INTEGER
)
"""
REFUSAL_CITATIONS_DDL = """
CREATE TABLE refusal_citations (
    site VARCHAR, request_key VARCHAR, authority_url_name VARCHAR, message_id BIGINT,
    source VARCHAR, attachment_part INTEGER, sent_at TIMESTAMPTZ, year INTEGER, regime VARCHAR,
    provision VARCHAR, section VARCHAR, subsection VARCHAR, ground VARCHAR, cited_by VARCHAR, sentence VARCHAR,
    role VARCHAR DEFAULT 'relied_on', cue VARCHAR
)
"""

AUTHORITY_NAMES = {
    "council_a": "Council A",
    "council_b": "Council B",
    "scot_body": "Scottish Body",
    "env_agency": "Environment Agency",
}
REGIMES = {"council_a": "FOIA", "council_b": "FOIA", "scot_body": "FOISA", "env_agency": "EIR"}

# key, authority, sent date, working days to substantive (None: unanswered), in time,
# outcome, requester (url_name, name), title, batch_id, overdue_now, long_overdue_now
REQUESTS = [
    ("a1", "council_a", "2019-03-04", 2, True, "successful", ("alice", "Alice A"), "Serious case reviews 2018", 55, False, False),
    ("a2", "council_a", "2019-05-01", 10, True, "refused", ("alice", "Alice A"), "Agency staff costs", None, False, False),
    ("a3", "council_a", "2019-09-02", 20, True, "partially_successful", ("bob", "Bob B"), "Children's services: agency staff spend", None, False, False),
    ("a4", "council_a", "2020-01-06", 25, False, "not_held", ("bob", "Bob B"), "Foster carer numbers", None, False, False),
    ("a5", "council_a", "2020-02-03", 40, False, "refused", ("carol", "Carol C"), "Names of social workers", None, False, False),
    ("a6", "council_a", "2020-06-01", None, None, "pending", ("carol", "Carol C"), "Care placements out of area", None, True, True),
    ("a7", "council_a", "2020-07-01", None, None, "withdrawn", ("carol", "Carol C"), "Withdrawn question", None, False, False),
    ("b1", "council_b", "2019-02-01", 1, True, "successful", ("dave", "Dave D"), "Serious case reviews (2018)", 55, False, False),
    ("b2", "council_b", "2019-04-01", 3, True, "successful", ("dave", "Dave D"), "Childrens services agency staff spend?", None, False, False),
    ("b3", "council_b", "2019-06-03", 5, True, "successful", ("dave", "Dave D"), f"Budget {XSS} lines", None, False, False),
    ("b4", "council_b", "2019-08-01", 7, True, "refused", ("dave", "Dave D"), "Repeated question", None, False, False),
    ("s1", "scot_body", "2020-03-02", 15, True, "refused", (None, "Jane External"), "CHILDRENS SERVICES - agency staff spend", None, False, False),
    ("s2", "scot_body", "2020-04-01", None, None, "pending", (None, "Jane External"), "Ferry timetables", None, True, False),
    ("e1", "env_agency", "2020-05-01", 30, False, "refused", ("alice", "Alice A"), "Serious case reviews 2018!", 55, False, False),
]

# key, message_id, year, regime, provision, section, ground
CITATIONS = [
    ("a2", 1002, 2019, "FOIA", "s12", "s12", "cost limit"),
    ("a2", 1002, 2019, "FOIA", "s12", "s12", "cost limit"),
    ("a3", 1010, 2019, "FOIA", "s40(2)", "s40", "personal information"),
    ("a5", 1004, 2020, "FOIA", "s40(2)", "s40", "personal information"),
    ("a5", 1004, 2020, "FOIA", "s40(5)", "s40", "personal information"),
    ("a5", 1004, 2020, "FOIA", "s12", "s12", "cost limit"),
    ("b4", 1011, 2019, "FOIA", "s14(1)", "s14", "vexatious"),
    ("s1", 1012, 2020, "FOISA", "s12", "s12", "excessive cost"),
    ("s1", 1012, 2020, "FOISA", "s38(1)(b)", "s38", "personal information"),
    ("e1", 1013, 2020, "EIR", "reg12(4)(b)", "reg12", "manifestly unreasonable"),
]

# key, direction, id, sent, body
MESSAGES = [
    ("a2", "incoming", 1002, "2019-05-20 10:00:00+00", "Dear Alice,\n\nWe estimate that the cost of compliance exceeds the appropriate limit under section 12.\n\nRegards"),
    ("a2", "outgoing", 2002, "2019-05-01 09:00:00+00", "Please send me the SERIOUS case reviews for 2018."),
    ("b1", "incoming", 1003, "2019-02-02 09:00:00+00", "Attached are the serious case reviews, 100% complete."),
    ("a5", "incoming", 1004, "2020-03-30 09:00:00+00", f"{XSS} personal data withheld under section 40(2)."),
]

# comment_id, key, author url_name, author name, created_at
ANNOTATIONS = [
    (1, "a1", "helper", "Helpful Person", "2020-01-01 12:00:00+00"),
    (2, "b1", "helper", "Helpful Person", "2020-02-01 12:00:00+00"),
    (3, "a2", "helper", "Helpful Person", "2020-03-01 12:00:00+00"),
    (4, "a1", "alice", "Alice A", "2019-04-01 12:00:00+00"),
    (5, "a2", "alice", "Alice A", "2021-01-05 12:00:00+00"),
]

REVIEWS = {  # key: (requested, answered, working days)
    "a4": ("2020-02-10 09:00:00+00", "2020-02-24 09:00:00+00", 10),
    "a5": ("2020-03-10 09:00:00+00", "2020-04-07 09:00:00+00", 20),
    "s1": ("2020-05-01 09:00:00+00", None, None),
}

# event_id, key, type, created_at, described_state
EVENTS = [
    (1, "a4", "status_update", "2020-02-05 09:00:00+00", "rejected"),
    (2, "a4", "status_update", "2020-02-10 09:00:00+00", "internal_review"),
    (3, "a4", "status_update", "2020-03-01 09:00:00+00", "not_held"),
    (4, "a5", "status_update", "2020-01-01 09:00:00+00", "successful"),  # an earlier, superseded state
    (5, "a5", "status_update", "2020-03-05 09:00:00+00", "rejected"),
    (6, "a5", "status_update", "2020-03-10 09:00:00+00", "internal_review"),
]


def _due(sent: str) -> tuple[date, date]:
    """Stand-ins for the working-day due dates: four and eight weeks after sending."""
    d = date.fromisoformat(sent)
    return d + timedelta(days=28), d + timedelta(days=56)


def build_known_corpus(path: Path, *, derived: bool = True) -> Path:
    """Create a database at ``path`` holding the rows above; return the path."""
    con = duckdb.connect(str(path))
    for ddl in MIGRATIONS:
        con.execute(ddl)
    con.execute("INSERT INTO schema_version (version) VALUES (?)", [len(MIGRATIONS)])
    for slug, name in AUTHORITY_NAMES.items():
        con.execute(
            "INSERT INTO authorities (site, url_name, name, jurisdiction) VALUES (?, ?, ?, ?)",
            [SITE, slug, name, "scotland" if slug == "scot_body" else "uk"],
        )
    for i, (key, auth, sent, _days, _in_time, _outcome, (ru, rn), title, batch, _overdue, _long) in enumerate(REQUESTS):
        con.execute(
            """INSERT INTO requests (site, request_key, request_id, url_title, title, authority_url_name,
                   authority_name, requester_url_name, requester_name, law, created_at, batch_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [SITE, key, 100 + i, f"req_{key}", title, auth, AUTHORITY_NAMES[auth], ru, rn,
             "eir" if REGIMES[auth] == "EIR" else "foi", f"{sent} 09:00:00+00", batch],
        )
    for key, direction, mid, sent, body in MESSAGES:
        con.execute(
            "INSERT INTO messages (site, request_key, message_id, direction, sent_at, body) VALUES (?, ?, ?, ?, ?, ?)",
            [SITE, key, mid, direction, sent, body],
        )
    for cid, key, au, an, created in ANNOTATIONS:
        con.execute(
            "INSERT INTO annotations (site, request_key, comment_id, author_url_name, author_name, created_at, text) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [SITE, key, cid, au, an, created, f"note {cid}"],
        )
    for eid, key, etype, created, state in EVENTS:
        con.execute(
            "INSERT INTO events (site, request_key, event_id, event_type, created_at, described_state) VALUES (?, ?, ?, ?, ?, ?)",
            [SITE, key, eid, etype, created, state],
        )
    if derived:
        con.execute(REQUEST_TIMELINE_DDL)
        con.execute(REFUSAL_CITATIONS_DDL)
        for i, (key, auth, sent, days, in_time, outcome, (ru, rn), title, _batch, overdue, long_overdue) in enumerate(REQUESTS):
            due, long_due = _due(sent)
            review = REVIEWS.get(key, (None, None, None))
            con.execute(
                """INSERT INTO request_timeline (site, request_key, request_id, url_title, title, authority_url_name,
                       authority_name, requester_url_name, requester_name, regime, is_school, sent_at, due_date,
                       long_overdue_date, working_days_to_substantive, answered, answered_in_time, overdue_now,
                       long_overdue_now, internal_review_requested_at, internal_review_answered_at,
                       working_days_internal_review, outcome, year)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [SITE, key, 100 + i, f"req_{key}", title, auth, AUTHORITY_NAMES[auth], ru, rn, REGIMES[auth],
                 f"{sent} 09:00:00+00", due, long_due, days, days is not None, in_time, overdue, long_overdue,
                 review[0], review[1], review[2], outcome, int(sent[:4])],
            )
        # batch and title key as corpus.derive computes them (test_same_request_on_derived_tables checks those)
        con.execute(f"""
            UPDATE request_timeline AS t SET batch_id = r.batch_id, title_key = {title_key_sql("t.title")}
            FROM requests AS r WHERE r.site = t.site AND r.request_key = t.request_key""")
        con.execute("""
            UPDATE request_timeline AS t SET title_key_requests = c.n
            FROM (SELECT site, title_key, count(*) AS n FROM request_timeline GROUP BY ALL) AS c
            WHERE c.site = t.site AND c.title_key = t.title_key""")
        auth_of = {r[0]: r[1] for r in REQUESTS}
        for key, mid, year, regime, provision, section, ground in CITATIONS:
            con.execute(
                """INSERT INTO refusal_citations (site, request_key, authority_url_name, message_id, source, sent_at,
                       year, regime, provision, section, ground, cited_by, sentence)
                   VALUES (?, ?, ?, ?, 'message', ?, ?, ?, ?, ?, ?, 'number', ?)""",
                [SITE, key, auth_of[key], mid, f"{year}-06-01 09:00:00+00", year, regime, provision, section, ground,
                 f"We rely on {provision}."],
            )
    con.close()
    return path


@pytest.fixture(scope="session")
def known_template(tmp_path_factory) -> Path:
    return build_known_corpus(tmp_path_factory.mktemp("known") / "known.duckdb")


@pytest.fixture
def known_db(known_template, tmp_path) -> Path:
    """A fresh copy of the known corpus for each test (some tests add rows)."""
    return Path(shutil.copy(known_template, tmp_path / "known.duckdb"))


def rows(table):
    return table.to_pylist()


def by(table, key):
    return {r[key]: r for r in table.to_pylist()}


# ---------------------------------------------------------------- the files themselves
def test_every_file_has_a_readable_header():
    queries = list_queries()
    names = {q.name for q in queries}
    assert {"response_times", "overdue_now", "outcomes", "refusal_grounds", "cost_limit", "internal_reviews",
            "who_asks_whom", "annotations", "search", "same_request"} <= names
    for q in queries:
        assert q.description and q.columns
        used = set(re.findall(r"getvariable\('([a-z_]+)'\)", q.sql))
        assert used == set(q.params), f"{q.name}: header params {sorted(q.params)} vs SQL {sorted(used)}"
        assert not re.search(r"\$\w", q.sql)  # no positional or named host placeholders (a regex's `$` is fine)


def test_describe_lists_every_query_and_param():
    text = describe_queries()
    for q in list_queries():
        assert f"{q.name}: {q.description}" in text
        for p in q.params:
            assert f"--param {p}=" in text


def test_declared_columns_match_what_each_query_returns(known_db):
    for q in list_queries():
        params = {"q": "case"} if q.name == "search" else {}
        table = run_query(str(known_db), q.name, params)
        assert table.column_names == q.columns, q.name


def test_shell_path_runs_files_unchanged_with_defaults(known_db):
    """What `duckdb foi.duckdb < queries/x.sql` does: no variables set, the file's own defaults apply."""
    for q in list_queries():
        if q.name == "search":
            continue
        con = duckdb.connect(str(known_db), read_only=True)
        shell = con.sql(q.path.read_text()).fetchall()
        con.close()
        runner = [tuple(r.values()) for r in run_query(str(known_db), q.name, {}).to_pylist()]
        assert shell == runner, q.name


def test_shell_path_with_set_variable(known_db):
    con = duckdb.connect(str(known_db), read_only=True)
    con.execute("SET VARIABLE authority = 'council_b'")
    con.execute("SET VARIABLE since = '2019-01-01'")  # a string, as a shell user types it
    got = con.sql((QUERIES_DIR / "response_times.sql").read_text()).fetchall()
    con.close()
    assert len(got) == 1 and got[0][0] == "council_b" and got[0][3] == 4


def test_search_in_shell_needs_q(known_db):
    con = duckdb.connect(str(known_db), read_only=True)
    with pytest.raises(duckdb.InvalidInputException, match="search needs q"):
        con.sql((QUERIES_DIR / "search.sql").read_text()).fetchall()
    con.execute("SET VARIABLE q = 'serious case'")
    assert len(con.sql((QUERIES_DIR / "search.sql").read_text()).fetchall()) == 2
    con.close()


# ---------------------------------------------------------------- numbers
def test_response_times_numbers(known_db):
    t = by(run_query(str(known_db), "response_times", {}), "authority_url_name")
    a = t["council_a"]
    assert (a["requests"], a["answered"], a["answered_in_time"], a["overdue_now"]) == (7, 5, 3, 1)
    assert a["median_working_days"] == 20.0
    assert a["p90_working_days"] == pytest.approx(34.0)  # 25 + 0.6 * (40 - 25)
    assert a["in_time_share"] == 0.5  # 3 in time / (5 answered + 1 overdue)
    assert a["in_time_share_of_answered"] == 0.6
    b = t["council_b"]
    assert (b["requests"], b["median_working_days"], b["p90_working_days"], b["in_time_share"]) == (4, 4.0, pytest.approx(6.4), 1.0)
    e = t["env_agency"]
    assert (e["answered_in_time"], e["in_time_share"]) == (0, 0.0)
    assert list(t) == ["council_a", "council_b", "scot_body", "env_agency"]  # most requests first


def test_response_times_filters(known_db):
    only = run_query(str(known_db), "response_times", {"min_requests": "5"})
    assert [r["authority_url_name"] for r in rows(only)] == ["council_a"]
    scot = rows(run_query(str(known_db), "response_times", {"regime": "foisa"}))
    assert len(scot) == 1 and scot[0]["authority_url_name"] == "scot_body"
    assert (scot[0]["requests"], scot[0]["median_working_days"], scot[0]["in_time_share"]) == (2, 15.0, 0.5)
    recent = rows(run_query(str(known_db), "response_times", {"authority": "council_a", "since": "2020-01-01"}))[0]
    assert (recent["requests"], recent["median_working_days"]) == (4, 32.5)
    assert recent["p90_working_days"] == pytest.approx(38.5)
    assert recent["in_time_share"] == 0.0
    window = rows(run_query(str(known_db), "response_times", {"authority": "council_a", "since": "2019-05-01", "until": "2019-09-02"}))[0]
    assert window["requests"] == 2  # both ends inclusive


def test_overdue_now(known_db):
    long = rows(run_query(str(known_db), "overdue_now", {}))
    assert [r["url_title"] for r in long] == ["req_a6"]
    assert long[0]["days_past_due"] == (date.today() - date(2020, 6, 29)).days
    both = rows(run_query(str(known_db), "overdue_now", {"level": "overdue"}))
    assert [r["url_title"] for r in both] == ["req_s2", "req_a6"]  # oldest first
    assert rows(run_query(str(known_db), "overdue_now", {"level": "overdue", "regime": "FOIA"}))[0]["url_title"] == "req_a6"


def test_outcomes(known_db):
    t = {(r["authority_url_name"], r["year"]): r for r in rows(run_query(str(known_db), "outcomes", {}))}
    a19, a20 = t[("council_a", 2019)], t[("council_a", 2020)]
    assert (a19["requests"], a19["successful"], a19["partially_successful"], a19["refused"], a19["decided"]) == (3, 1, 1, 1, 3)
    assert (a19["success_share"], a19["refused_share"]) == (0.6667, 0.3333)
    assert (a20["requests"], a20["not_held"], a20["refused"], a20["pending"], a20["withdrawn"], a20["decided"]) == (4, 1, 1, 1, 1, 3)
    assert (a20["success_share"], a20["not_held_share"]) == (0.0, 0.3333)
    assert t[("council_b", 2019)]["success_share"] == 0.75
    assert set(t) == {("council_a", 2019), ("council_a", 2020), ("council_b", 2019), ("scot_body", 2020), ("env_agency", 2020)}


def test_refusal_grounds_overall(known_db):
    t = by(run_query(str(known_db), "refusal_grounds", {"group_by": "none"}), "provision")
    assert t["s12"]["requests"] == 3 and t["s12"]["citations"] == 4  # a2 twice, a5, s1 (FOISA s12 too)
    assert t["s12"]["refusing_requests"] == 6
    assert t["s12"]["share_of_refusals"] == 0.5
    assert t["s40(2)"]["share_of_refusals"] == 0.3333
    assert t["s12"]["authority_url_name"] is None and t["s12"]["year"] is None


def test_refusal_grounds_default_is_per_regime(known_db):
    got = rows(run_query(str(known_db), "refusal_grounds", {}))
    assert got == rows(run_query(str(known_db), "refusal_grounds", {"group_by": "regime"}))
    assert {(r["regime"], r["provision"]) for r in got} == {
        ("FOIA", "s12"), ("FOIA", "s40(2)"), ("FOIA", "s40(5)"), ("FOIA", "s14(1)"),
        ("FOISA", "s12"), ("FOISA", "s38(1)(b)"), ("EIR", "reg12(4)(b)")}
    foia = {r["provision"]: r for r in got if r["regime"] == "FOIA"}
    assert (foia["s12"]["requests"], foia["s12"]["citations"], foia["s12"]["refusing_requests"]) == (2, 3, 4)
    assert all(r["authority_url_name"] is None and r["year"] is None for r in got)


def test_refusal_grounds_grouped(known_db):
    got = rows(run_query(str(known_db), "refusal_grounds", {"group_by": "authority,year,regime"}))
    key = {(r["authority_url_name"], r["year"], r["regime"], r["provision"]): r for r in got}
    a19 = key[("council_a", 2019, "FOIA", "s12")]
    assert (a19["requests"], a19["citations"], a19["refusing_requests"], a19["share_of_refusals"]) == (1, 2, 2, 0.5)
    assert key[("council_a", 2020, "FOIA", "s40(2)")]["share_of_refusals"] == 1.0
    assert key[("scot_body", 2020, "FOISA", "s38(1)(b)")]["ground"] == "personal information"
    sections = rows(run_query(str(known_db), "refusal_grounds", {"group_by": "regime", "detail": "section"}))
    regime = {r["provision"]: r for r in sections if r["regime"] == "FOIA"}
    assert regime["s40"]["requests"] == 2 and regime["s40"]["citations"] == 3
    assert regime["s40"]["refusing_requests"] == 4  # a2, a3, a5, b4


def test_cost_limit(known_db):
    t = {(r["year"], r["regime"]): r for r in rows(run_query(str(known_db), "cost_limit", {}))}
    assert (t[(2019, "FOIA")]["requests"], t[(2019, "FOIA")]["cost_refusals"], t[(2019, "FOIA")]["cost_refusal_share"]) == (7, 1, 0.1429)
    assert (t[(2020, "FOIA")]["requests"], t[(2020, "FOIA")]["cost_refusals"], t[(2020, "FOIA")]["cost_refusal_share"]) == (4, 1, 0.25)
    assert t[(2020, "FOISA")]["cost_refusal_share"] == 0.5
    assert t[(2020, "EIR")]["cost_refusals"] == 1 and t[(2020, "EIR")]["authorities_citing"] == 1
    b = rows(run_query(str(known_db), "cost_limit", {"authority": "council_b"}))
    assert [(r["year"], r["requests"], r["cost_refusals"]) for r in b] == [(2019, 4, 0)]


def test_internal_reviews(known_db):
    got = {(r["authority_url_name"], r["outcome_before"], r["outcome_after"]): r for r in rows(run_query(str(known_db), "internal_reviews", {}))}
    assert set(got) == {("council_a", "refused", "not_held"), ("council_a", "refused", "refused"), ("scot_body", "unclassified", "refused")}
    changed = got[("council_a", "refused", "not_held")]
    assert (changed["changed"], changed["requests"], changed["reviews_answered"], changed["median_working_days"]) == (True, 1, 1, 10.0)
    same = got[("council_a", "refused", "refused")]
    assert (same["changed"], same["median_working_days"]) == (False, 20.0)
    open_review = got[("scot_body", "unclassified", "refused")]
    assert (open_review["reviews_answered"], open_review["median_working_days"]) == (0, None)


def test_who_asks_whom(known_db):
    got = rows(run_query(str(known_db), "who_asks_whom", {}))
    assert [(r["requester_url_name"], r["authority_url_name"], r["requests"]) for r in got] == [
        ("dave", "council_b", 4), ("carol", "council_a", 3), ("alice", "council_a", 2), ("bob", "council_a", 2),
        (None, "scot_body", 2), ("alice", "env_agency", 1),
    ]
    assert (got[0]["successful"], got[0]["refused"]) == (3, 1)
    assert got[4]["requester_name"] == "Jane External"
    assert len(rows(run_query(str(known_db), "who_asks_whom", {"top": "2"}))) == 2
    assert [r["authority_url_name"] for r in rows(run_query(str(known_db), "who_asks_whom", {"requester": "alice"}))] == ["council_a", "env_agency"]


def test_annotations(known_db):
    t = by(run_query(str(known_db), "annotations", {}), "author_url_name")
    assert (t["helper"]["annotations"], t["helper"]["requests"], t["helper"]["authorities"], t["helper"]["own_requests"]) == (3, 3, 2, 0)
    assert (t["alice"]["annotations"], t["alice"]["own_requests"]) == (2, 2)
    assert list(t) == ["helper", "alice"]
    since = by(run_query(str(known_db), "annotations", {"since": "2020-02-01"}), "author_url_name")
    assert since["helper"]["annotations"] == 2 and since["alice"]["annotations"] == 1


def test_search(known_db):
    got = rows(run_query(str(known_db), "search", {"q": "Serious Case"}))
    assert [(r["url_title"], r["direction"], r["message_id"]) for r in got] == [("req_a2", "outgoing", 2002), ("req_b1", "incoming", 1003)]
    assert "SERIOUS case reviews for 2018" in got[0]["snippet"]
    assert all(r["source"] == "message" for r in got)
    assert [r["message_id"] for r in rows(run_query(str(known_db), "search", {"q": "serious case", "direction": "incoming"}))] == [1003]
    assert [r["authority_url_name"] for r in rows(run_query(str(known_db), "search", {"q": "serious case", "authority": "council_b"}))] == ["council_b"]


def test_search_snippet_is_cut_around_the_hit(known_db):
    con = duckdb.connect(str(known_db))
    long_body = "x" * 500 + " needle in the haystack " + "y" * 500
    con.execute("INSERT INTO messages (site, request_key, message_id, direction, sent_at, body) VALUES (?, 'b2', 1099, 'incoming', '2019-04-02', ?)", [SITE, long_body])
    con.close()
    hit = rows(run_query(str(known_db), "search", {"q": "NEEDLE"}))[0]
    assert "needle in the haystack" in hit["snippet"]
    assert len(hit["snippet"]) <= len(" needle ") + 160
    assert hit["snippet"].startswith("x") and hit["snippet"].endswith("y")


def test_search_wildcards_are_not_wildcards(known_db):
    assert [r["url_title"] for r in rows(run_query(str(known_db), "search", {"q": "100%"}))] == ["req_b1"]
    for q in ("%", "_", "%%", " - "):
        with pytest.raises(UsageError, match="has no words to search for"):
            run_query(str(known_db), "search", {"q": q})



def test_search_matches_whole_words_case_blind_accents_kept(known_db):
    con = duckdb.connect(str(known_db))
    for mid, body in [(3001, "Réponse de l'ÉCOLE: the Straße budget"), (3002, "reponse de l'ecole"), (3003, "SERIOUS Case")]:
        con.execute("INSERT INTO messages (site, request_key, message_id, direction, sent_at, body) VALUES (?, 'b3', ?, 'incoming', ?, ?)",
                    [SITE, mid, "2021-01-01 09:00:00+00", body])
    con.close()
    expected = {
        "école": {3001}, "ÉCOLE": {3001}, "straße": {3001}, "l'école": {3001}, "ecole": {3002},
        "serious case": {2002, 1003, 3003}, "CASE REVIEWS": {2002, 1003}, "case review": set(), "no such words": set(),
        "serious, case!": {2002, 1003, 3003},  # punctuation in q separates words, as in the text
    }
    for q, ids in expected.items():
        assert {r["message_id"] for r in rows(run_query(str(known_db), "search", {"q": q}))} == ids, q


def test_search_includes_attachment_text(known_db):
    con = duckdb.connect(str(known_db))
    con.execute(
        "INSERT INTO attachment_texts (site, request_key, incoming_message_id, part, text, status) "
        "VALUES (?, 'b1', 1003, 2, 'Annex: serious case review summary', 'ok')",
        [SITE],
    )
    con.close()
    got = rows(run_query(str(known_db), "search", {"q": "serious case"}))
    assert len(got) == 3
    att = [r for r in got if r["source"] == "attachment"]
    assert len(att) == 1 and att[0]["attachment_part"] == 2 and att[0]["url_title"] == "req_b1"
    assert att[0]["sent_at"] is not None  # joined to its message
    assert len(rows(run_query(str(known_db), "search", {"q": "serious case", "direction": "outgoing"}))) == 1


def test_same_request(known_db):
    got = rows(run_query(str(known_db), "same_request", {}))
    groups = {}
    for r in got:
        groups.setdefault((r["group_kind"], r["group_key"]), []).append(r)
    assert set(groups) == {("batch", "55"), ("title", "childrensservicesagencystaffspend")}
    batch = groups[("batch", "55")]
    assert [r["authority_url_name"] for r in batch] == ["council_a", "council_b", "env_agency"]
    assert batch[0]["group_median_working_days"] == 2.0
    assert {r["authority_url_name"]: r["outcome"] for r in batch}["env_agency"] == "refused"
    title = groups[("title", "childrensservicesagencystaffspend")]
    assert [r["url_title"] for r in title] == ["req_a3", "req_b2", "req_s1"]
    assert title[0]["requesters_in_group"] == 3
    assert {r["group_kind"] for r in rows(run_query(str(known_db), "same_request", {"match": "batch"}))} == {"batch"}
    # with match=title the batch's titles ("Serious case reviews 2018", "(2018)", "2018!") normalise alike
    title_only = rows(run_query(str(known_db), "same_request", {"match": "title", "q": "serious"}))
    assert [r["url_title"] for r in title_only] == ["req_a1", "req_b1", "req_e1"]
    assert rows(run_query(str(known_db), "same_request", {"min_authorities": "4"})) == []



def test_same_request_smaller_min_authorities_keeps_every_group(known_db):
    """The title_key_requests short cut never drops a group that qualifies."""
    one = rows(run_query(str(known_db), "same_request", {"min_authorities": "1"}))
    assert len(one) == len(REQUESTS)  # every request is in a group of at least one authority
    assert {r["group_key"] for r in one if r["group_kind"] == "batch"} == {"55"}
    singles = [r for r in one if r["group_kind"] == "title" and r["authorities_in_group"] == 1]
    assert len(singles) == 8  # 14 requests: 3 in the batch, 3 sharing a title, 8 alone
    two = rows(run_query(str(known_db), "same_request", {"min_authorities": "2", "match": "title"}))
    assert {r["group_key"] for r in two} == {"seriouscasereviews2018", "childrensservicesagencystaffspend"}
    # the same answers when the short cut cannot drop anything
    runs = [({"min_authorities": str(n), "match": m}) for n in (0, 1, 2, 3, 4) for m in ("both", "title", "batch")]
    runs += [{"q": "agency"}, {"since": "2019-05-01"}]
    before = [rows(run_query(str(known_db), "same_request", params)) for params in runs]
    con = duckdb.connect(str(known_db))
    con.execute("UPDATE request_timeline SET title_key_requests = 1000000")
    con.close()
    assert [rows(run_query(str(known_db), "same_request", params)) for params in runs] == before


def test_title_key_in_python_and_sql_agree():
    con = duckdb.connect()
    for title in ["Serious case reviews (2018)!", "CHILDRENS SERVICES \u2013 agency staff spend\u2019?", "a\\b&c_d*e#f+g=h|i~j", "", None]:
        assert con.execute(f"SELECT {title_key_sql('?')}", [title]).fetchone()[0] == title_key(title)
    assert title_key("Children's services: agency staff spend") == "childrensservicesagencystaffspend"


def test_same_request_on_tables_built_by_corpus_derive(tmp_path):
    """rebuild() writes batch_id, title_key and title_key_requests; same_request answers as on the hand-made tables."""
    derive = pytest.importorskip("corpus.derive")
    path = build_known_corpus(tmp_path / "derived.duckdb", derived=False)
    con = duckdb.connect(str(path))
    derive.rebuild(con, today=date(2024, 1, 1))
    got = dict(con.execute("SELECT request_key, (batch_id, title_key, title_key_requests) FROM request_timeline").fetchall())
    con.close()
    assert got["a1"] == (55, "seriouscasereviews2018", 3)
    assert got["b2"][1:] == ("childrensservicesagencystaffspend", 3) and got["b2"][0] is None
    assert got["a2"] == (None, "agencystaffcosts", 1)
    derived = rows(run_query(str(path), "same_request", {}))
    assert sorted((r["group_kind"], r["group_key"], r["url_title"]) for r in derived) == [
        ("batch", "55", "req_a1"), ("batch", "55", "req_b1"), ("batch", "55", "req_e1"),
        ("title", "childrensservicesagencystaffspend", "req_a3"), ("title", "childrensservicesagencystaffspend", "req_b2"),
        ("title", "childrensservicesagencystaffspend", "req_s1"),
    ]

# ---------------------------------------------------------------- errors and safety
def test_unknown_query_lists_valid_names(known_db):
    with pytest.raises(UsageError, match="no canned query named 'nope'.*response_times"):
        run_query(str(known_db), "nope", {})


def test_unknown_param_lists_valid_ones(known_db):
    with pytest.raises(UsageError, match="no parameter 'autority'.*authority, since, until, regime, site, min_requests"):
        run_query(str(known_db), "response_times", {"autority": "x"})


@pytest.mark.parametrize(
    "params, message",
    [
        ({"since": "2020-13-01"}, "since='2020-13-01' is not a date; use YYYY-MM-DD"),
        ({"min_requests": "many"}, "min_requests='many' is not a whole number"),
        ({"min_requests": "-1"}, "negative"),
        ({"regime": "GDPR"}, "regime='GDPR' is not in this database; use one of: EIR, FOIA, FOISA"),
        ({"min_requests": "2147483648"}, "min_requests=2147483648 is too large; use at most 2147483647"),
        ({"min_requests": "9" * 5000}, "is too long for a whole number"),
        ({"site": "https://example.org"}, "site='https://example.org' has no threads in this database; it holds: https://www.whatdotheyknow.com"),
    ],
)
def test_bad_values_are_clear(known_db, params, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        run_query(str(known_db), "response_times", params)


def test_required_param(known_db):
    with pytest.raises(UsageError, match="needs --param q="):
        run_query(str(known_db), "search", {})


def test_sql_in_parameters_is_bound_not_run(known_db):
    evil = "x'; DROP TABLE requests; --"
    assert rows(run_query(str(known_db), "response_times", {"authority": evil})) == []
    assert rows(run_query(str(known_db), "search", {"q": evil})) == []
    assert rows(run_query(str(known_db), "same_request", {"q": evil})) == []
    con = duckdb.connect(str(known_db), read_only=True)
    assert con.execute("SELECT count(*) FROM requests").fetchone()[0] == len(REQUESTS)
    con.close()


def test_runner_opens_read_only_and_leaves_caller_variables_alone(known_db):
    con = duckdb.connect(str(known_db), read_only=True)
    con.execute("SET VARIABLE authority = 'council_b'")
    table = run_query(con, "response_times", {})
    assert table.num_rows == 4
    assert con.execute("SELECT getvariable('authority')").fetchone()[0] == "council_b"
    con.close()


def test_missing_database_and_missing_derived_tables(tmp_path):
    with pytest.raises(UsageError, match="no database at"):
        run_query(str(tmp_path / "none.duckdb"), "outcomes", {})
    bare = build_known_corpus(tmp_path / "bare.duckdb", derived=False)
    with pytest.raises(CorpusError, match="no table 'request_timeline'"):
        run_query(str(bare), "outcomes", {})
    assert run_query(str(bare), "annotations", {}).num_rows == 2  # base tables only: still works


def test_derived_tables_from_an_older_build_say_rebuild(known_db):
    con = duckdb.connect(str(known_db))
    con.execute("ALTER TABLE request_timeline DROP COLUMN title_key_requests")
    con.close()
    with pytest.raises(CorpusError, match=r"no column 'title_key_requests'.*corpus reparse"):
        run_query(str(known_db), "same_request", {})
    assert run_query(str(known_db), "outcomes", {}).num_rows > 0  # the others still run


# ---------------------------------------------------------------- CLI
def test_cli_table_format(known_db):
    result = CliRunner().invoke(main, ["query", "response_times", "--db", str(known_db), "--param", "min_requests=4"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["authority_url_name", "authority_name", "regimes", "requests"]
    assert lines[2].startswith("council_a") and "Council A" in lines[2]
    assert lines[-1] == "(2 rows)"
    # numbers are right-aligned under their header
    header_end = lines[0].index("requests") + len("requests")
    assert lines[2][header_end - 1] == "7"



def test_cli_says_when_top_cut_the_result(known_db):
    result = CliRunner().invoke(main, ["query", "who_asks_whom", "--db", str(known_db), "--param", "top=2"])
    assert result.exit_code == 0, result.output
    assert "(2 rows)" in result.stdout
    assert "stopped at top=2 rows" in result.stderr and "--param top=N" in result.stderr
    whole = CliRunner().invoke(main, ["query", "who_asks_whom", "--db", str(known_db)])
    assert "(6 rows)" in whole.stdout and whole.stderr == ""  # fewer than the default 100: nothing cut
    exact = CliRunner().invoke(main, ["query", "who_asks_whom", "--db", str(known_db), "--param", "top=6"])
    assert "(6 rows)" in exact.stdout and "stopped at top=6" in exact.stderr  # it cannot tell there is no seventh

def test_cli_csv_json_parquet(known_db, tmp_path):
    runner = CliRunner()
    out = runner.invoke(main, ["query", "outcomes", "--db", str(known_db), "--format", "csv", "--param", "authority=council_b"])
    assert out.exit_code == 0
    assert out.output.splitlines()[1].startswith("council_b,Council B,2019,4,3,0,0,1,0,0,0,4,0.75,0.25,0")
    out = runner.invoke(main, ["query", "search", "--db", str(known_db), "--format", "json", "--param", "q=100%"])
    import json

    data = json.loads(out.stdout)
    assert data[0]["url_title"] == "req_b1" and data[0]["sent_at"].startswith("2019-02-02")
    pq_path = tmp_path / "rt.parquet"
    out = runner.invoke(main, ["query", "response_times", "--db", str(known_db), "--format", "parquet", "--output", str(pq_path)])
    assert out.exit_code == 0, out.output
    import pyarrow.parquet as pq

    assert pq.read_table(pq_path).num_rows == 4


def test_cli_errors_are_one_line(known_db):
    runner = CliRunner()
    out = runner.invoke(main, ["query", "nope", "--db", str(known_db)])
    assert out.exit_code == 2 and out.output.startswith("Error: no canned query named 'nope'")
    out = runner.invoke(main, ["query", "outcomes", "--db", str(known_db), "--param", "since"])
    assert out.exit_code == 2 and "is not NAME=VALUE" in out.output
    out = runner.invoke(main, ["query", "outcomes", "--db", str(known_db), "--format", "parquet"])
    assert out.exit_code == 2 and "needs --output" in out.output
    out = runner.invoke(main, ["queries"])
    assert out.exit_code == 0 and "same_request:" in out.output


def test_every_query_runs_on_tables_built_by_corpus_derive(tmp_path):
    """The derived tables as corpus.derive really builds them have every column the queries use."""
    derive = pytest.importorskip("corpus.derive")
    path = build_known_corpus(tmp_path / "derived.duckdb", derived=False)
    con = duckdb.connect(str(path))
    derive.rebuild(con, today=date(2024, 1, 1))
    con.close()
    for q in list_queries():
        params = {"q": "case"} if q.name == "search" else {}
        table = run_query(str(path), q.name, params)
        assert table.column_names == q.columns, q.name
    rt = by(run_query(str(path), "response_times", {}), "authority_url_name")
    assert rt["council_a"]["requests"] == 7 and rt["council_b"]["requests"] == 4
    assert {r["provision"] for r in rows(run_query(str(path), "refusal_grounds", {"group_by": "none"}))} >= {"s12"}


def test_benchmark_smoke(tmp_path):
    """bench/queries.py --quick builds its corpus and index and times every query (no speed asserted here);
    with --keep a second run times them again on the kept corpus without building it."""
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    kept = tmp_path / "kept.duckdb"
    command = [sys.executable, str(PROJECT_ROOT / "bench" / "queries.py"), "--quick", "--runs", "1", "--keep", str(kept)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    assert lines[0].startswith("built 10,000 requests, 60,000 messages")
    assert re.match(r"search index: 60,0\d\d texts in [\d.]+ s \([\d,]+ texts/s\), [\d,]+ MB on disk", lines[1])
    header = next(i for i, line in enumerate(lines) if line.startswith("query "))
    timed = {}
    for line in lines[header + 1:]:
        if line.startswith("search as plain SQL"):
            break
        name = line[:26].strip()
        timed[name] = line
        assert re.search(r"< \d+ ms", line) and (line.rstrip().endswith(" ok") or line.rstrip().endswith("MISSED")), line
    assert {q.name for q in list_queries()} <= set(timed) and len(timed) == len(list_queries()) + 3
    missed = [name for name, line in timed.items() if line.rstrip().endswith("MISSED")]
    assert lines[-2].startswith("headline: search takes ") and lines[-1].startswith("MISSED: ")
    listed = [] if lines[-1] == "MISSED: none" else [m.rsplit(" (", 1)[0] for m in lines[-1][len("MISSED: "):].split(", ")]
    assert listed == missed  # a script can trust the last line

    built_at = kept.stat().st_mtime_ns
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    first = again.stdout.splitlines()[0]
    assert first.startswith("built 10,000 requests, 60,000 messages") and "(by the run of " in first
    assert again.stdout.strip().splitlines()[-1].startswith("MISSED: ")
    assert kept.stat().st_mtime_ns == built_at  # opened, not built again
    other_size = subprocess.run(command[:2] + ["--requests", "2000", "--keep", str(kept)], capture_output=True, text=True)
    assert other_size.returncode != 0 and "holds a corpus of 10,000 requests, not 2,000" in other_size.stderr


# ---------------------------------------------------------------- numbers: types, lateness, regimes
def _add_timeline(db: Path, rows: list[dict]) -> None:
    """Extra request_timeline rows (with their requests) for authorities the known corpus lacks."""
    con = duckdb.connect(str(db))
    for i, r in enumerate(rows):
        r = {"site": SITE, "year": int(r["sent_at"][:4]), "outcome": "pending", "request_id": 900 + i, **r}
        r.setdefault("url_title", "req_" + r["request_key"])
        con.execute(
            "INSERT INTO requests (site, request_key, request_id, url_title, title, authority_url_name, authority_name) "
            "VALUES (?, ?, ?, ?, 'Extra', ?, ?)",
            [r["site"], r["request_key"], r["request_id"], r["url_title"], r["authority_url_name"], r["authority_url_name"].title()],
        )
        cols = [c for c in r if c not in ("request_id",)]
        con.execute(f"INSERT INTO request_timeline ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", [r[c] for c in cols])
    con.close()


NOTHING_IN_TIME = [  # answered nothing at all: every answered_in_time is NULL
    {"request_key": "z1", "authority_url_name": "silent_body", "regime": "FOIA", "sent_at": "2020-01-06 09:00:00+00",
     "due_date": date(2020, 2, 3), "answered": False, "answered_in_time": None, "overdue_now": True, "long_overdue_now": True},
    {"request_key": "z2", "authority_url_name": "silent_body", "regime": "FOIA", "sent_at": "2020-02-06 09:00:00+00",
     "due_date": date(2020, 3, 5), "answered": False, "answered_in_time": None, "overdue_now": True, "long_overdue_now": False},
]
NO_DEADLINE = [  # another country's site, and a regime nobody knows: no UK deadline may be applied
    {"request_key": "n1", "authority_url_name": "nz_ministry", "regime": "OIA", "sent_at": "2021-03-01 09:00:00+00",
     "due_date": None, "answered": True, "working_days_to_substantive": 25, "answered_in_time": None,
     "overdue_now": None, "long_overdue_now": None, "outcome": "successful"},
    {"request_key": "n2", "authority_url_name": "nz_ministry", "regime": "unknown", "sent_at": "2021-04-01 09:00:00+00",
     "due_date": None, "answered": False, "answered_in_time": None, "overdue_now": None, "long_overdue_now": None},
]


def test_an_authority_that_answered_nothing_in_time_shows_zero_not_blank(known_db):
    _add_timeline(known_db, NOTHING_IN_TIME)
    silent = by(run_query(str(known_db), "response_times", {}), "authority_url_name")["silent_body"]
    assert (silent["requests"], silent["answered"], silent["answered_in_time"], silent["overdue_now"]) == (2, 0, 0, 2)
    assert silent["in_time_share"] == 0.0  # 0 in time of 2 that are late: the worst performer, not a blank
    assert silent["in_time_share_of_answered"] is None  # nothing answered: no share to give
    csv_out = CliRunner().invoke(main, ["query", "response_times", "--db", str(known_db), "--format", "csv",
                                        "--authority", "silent_body"]).stdout
    header, line = csv_out.splitlines()[:2]
    cells = dict(zip(header.split(","), line.split(",")))
    assert cells["answered_in_time"] == "0" and cells["in_time_share"] == "0"


def test_regimes_without_a_deadline_are_left_out_of_lateness(known_db):
    _add_timeline(known_db, NO_DEADLINE)
    nz = by(run_query(str(known_db), "response_times", {}), "authority_url_name")["nz_ministry"]
    assert (nz["regimes"], nz["requests"], nz["answered"], nz["no_deadline"]) == ("OIA, unknown", 2, 1, 2)
    assert nz["median_working_days"] == 25.0
    assert (nz["answered_in_time"], nz["overdue_now"], nz["in_time_share"], nz["in_time_share_of_answered"]) == (0, 0, None, None)
    uk = by(run_query(str(known_db), "response_times", {}), "authority_url_name")["council_a"]
    assert uk["no_deadline"] == 0 and uk["regimes"] == "FOIA"
    # never listed as overdue; the regime filter takes any regime the database holds, in any case
    assert "req_n2" not in {r["url_title"] for r in rows(run_query(str(known_db), "overdue_now", {"level": "overdue"}))}
    assert [r["authority_url_name"] for r in rows(run_query(str(known_db), "response_times", {"regime": "oia"}))] == ["nz_ministry"]
    cost = {(r["year"], r["regime"]): r for r in rows(run_query(str(known_db), "cost_limit", {}))}
    assert cost[(2021, "OIA")]["requests"] == 1 and cost[(2021, "OIA")]["cost_refusals"] is None
    assert cost[(2019, "FOIA")]["cost_refusals"] == 1


def test_counts_are_bigint_never_hugeint_or_decimal(known_db):
    """Every canned query's columns are plain types; every count is int64 (pandas gets int64/Int64, not objects)."""
    _add_timeline(known_db, NOTHING_IN_TIME + NO_DEADLINE)
    counts = {"requests", "answered", "answered_in_time", "overdue_now", "no_deadline", "successful", "partially_successful",
              "not_held", "refused", "withdrawn", "pending", "other", "decided", "annotations", "authorities", "own_requests",
              "citations", "refusing_requests", "cost_refusals", "authorities_citing", "reviews_answered",
              "authorities_in_group", "requesters_in_group", "days_past_due"}
    seen = set()
    for q in list_queries():
        params = {"q": "case", "match": "any"} if q.name == "search" else {"level": "overdue"} if q.name == "overdue_now" else {}
        table = run_query(str(known_db), q.name, params)
        assert table.num_rows > 0, q.name
        for f in table.schema:
            assert not pa.types.is_decimal(f.type), (q.name, f.name, f.type)
            if f.name in counts and not pa.types.is_boolean(f.type):  # same_request's answered_in_time is a yes/no
                assert f.type == pa.int64(), (q.name, f.name, f.type)
                seen.add(f.name)
        pandas = pytest.importorskip("pandas")
        frame = table.to_pandas()
        for name in counts & set(frame.columns):
            assert frame[name].dtype != object or frame[name].isna().all(), (q.name, name)
        assert isinstance(frame, pandas.DataFrame)
    assert seen == counts


# ---------------------------------------------------------------- every query in every format
def _values_from(fmt: str, out: str | Path, columns: list[str]) -> list[list[str]]:
    """Rows of cell texts read back from an output, as corpus.formats.text writes each value."""
    import csv
    import io
    import json

    import pyarrow.parquet as pq

    from corpus.formats import FORMULA_START, text

    if isinstance(out, Path):  # parquet
        return [[text(v) for v in row.values()] for row in pq.read_table(out).to_pylist()]
    if fmt == "json":
        return [[text(r[c]) for c in columns] for r in json.loads(out)]
    if fmt == "jsonl":
        return [[text(json.loads(line)[c]) for c in columns] for line in out.splitlines()]
    if fmt == "csv":
        got = list(csv.reader(io.StringIO(out)))
        assert got[0] == columns
        # a neutralised cell is the value with a leading apostrophe
        return [[c[1:] if c[:1] == "'" and c[1:2] in FORMULA_START else c for c in r] for r in got[1:]]
    raise AssertionError(fmt)


def test_every_query_in_every_format_carries_the_same_values(known_db, tmp_path):
    """table, csv, json, jsonl and parquet of each canned query hold the same values, timestamps with seconds and offset."""
    from corpus.formats import FORMATS, text

    con = duckdb.connect(str(known_db))
    con.execute("UPDATE requests SET title = '=HYPERLINK(\"http://evil.example\")' WHERE request_key = 'a2'")
    con.execute("UPDATE request_timeline SET title = '=HYPERLINK(\"http://evil.example\")', sent_at = sent_at + INTERVAL 7 SECOND")
    con.close()
    runner = CliRunner()
    for q in list_queries():
        params = ["--param", "q=case", "--param", "match=any"] if q.name == "search" else []
        truth = [[text(v) for v in r.values()] for r in run_query(str(known_db), q.name,
                                                                   dict(p.split("=", 1) for p in params[1::2])).to_pylist()]
        assert truth, q.name
        for fmt in FORMATS:
            args = ["query", q.name, "--db", str(known_db), "--format", fmt, *params]
            target = tmp_path / f"{q.name}.{fmt}"
            if fmt == "parquet":
                args += ["--output", str(target)]
            got = runner.invoke(main, args)
            assert got.exit_code == 0, (q.name, fmt, got.output)
            if fmt == "table":
                lines = got.stdout.splitlines()
                assert lines[-1] == f"({len(truth)} row{'s' if len(truth) != 1 else ''})"
                starts = [i for i, ch in enumerate(lines[1]) if ch == "-" and (i == 0 or lines[1][i - 1] == " ")]
                for line, want in zip(lines[2:-1], truth):
                    cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
                    for cell, value in zip(cells, want):
                        value = value.replace("\n", " ")
                        assert cell == value or (cell.endswith("…") and value.startswith(cell[:-1])), (q.name, cell, value)
                continue
            out = target if fmt == "parquet" else got.stdout
            assert _values_from(fmt, out, q.columns) == truth, (q.name, fmt)
        stamps = [v for r in truth for v in r if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", v)]
        assert stamps or q.name in ("outcomes", "refusal_grounds", "cost_limit", "internal_reviews", "response_times", "sources"), q.name


# ---------------------------------------------------------------- filters, site, hostile input
def test_filter_flags_map_onto_parameters(known_db):
    runner = CliRunner()
    flags = runner.invoke(main, ["query", "response_times", "--db", str(known_db), "--format", "jsonl",
                                 "--authority", "council_a", "--since", "2020-01-01", "--site", SITE])
    params = runner.invoke(main, ["query", "response_times", "--db", str(known_db), "--format", "jsonl",
                                  "--param", "authority=council_a", "--param", "since=2020-01-01", "--param", f"site={SITE}"])
    assert flags.exit_code == 0 and flags.stdout == params.stdout and '"requests": 4' in flags.stdout
    until = runner.invoke(main, ["query", "who_asks_whom", "--db", str(known_db), "--format", "jsonl", "--until", "2019-03-31"])
    assert len(until.stdout.splitlines()) == 2  # b1 (dave) and a1 (alice), sent before April 2019
    clash = runner.invoke(main, ["query", "outcomes", "--db", str(known_db), "--authority", "x", "--param", "authority=y"])
    assert clash.exit_code == 2 and "both given" in clash.output
    lacking = runner.invoke(main, ["query", "same_request", "--db", str(known_db), "--authority", "council_a"])
    assert lacking.exit_code == 2 and "has no authority filter" in lacking.output and "--since" in lacking.output


def test_site_filter_keeps_sites_apart(known_db):
    con = duckdb.connect(str(known_db))
    con.execute("INSERT INTO requests (site, request_key, url_title, authority_url_name) VALUES ('https://fyi.org.nz', 'x1', 'nz_req', 'council_a')")
    con.execute("""INSERT INTO request_timeline (site, request_key, url_title, authority_url_name, regime, sent_at, answered, outcome, year)
                   VALUES ('https://fyi.org.nz', 'x1', 'nz_req', 'council_a', 'OIA', '2020-01-01', false, 'pending', 2020)""")
    con.close()
    both = by(run_query(str(known_db), "response_times", {}), "authority_url_name")["council_a"]
    one = by(run_query(str(known_db), "response_times", {"site": SITE}), "authority_url_name")["council_a"]
    nz = rows(run_query(str(known_db), "response_times", {"site": "https://fyi.org.nz"}))
    assert (both["requests"], one["requests"], [r["requests"] for r in nz]) == (8, 7, [1])
    for q in list_queries():
        assert "site" in q.param_specs, q.name


def test_hostile_site_text_cannot_drive_the_terminal_or_a_spreadsheet(known_db):
    evil_title = "\x1b]0;owned\x07\x1b[2J=HYPERLINK(\"http://evil.example\",\"click\")"
    con = duckdb.connect(str(known_db))
    con.execute("UPDATE request_timeline SET authority_name = ? WHERE authority_url_name = 'council_b'", [evil_title])
    con.close()
    runner = CliRunner()
    table = runner.invoke(main, ["query", "response_times", "--db", str(known_db)]).stdout
    assert "\x1b" not in table and "\x07" not in table and "=HYPERLINK" in table
    csv_text = runner.invoke(main, ["query", "response_times", "--db", str(known_db), "--format", "csv"]).stdout
    assert evil_title.replace('"', '""') in csv_text  # to a file or pipe CSV keeps the text (it starts with ESC: no formula)
    con = duckdb.connect(str(known_db))
    con.execute("UPDATE request_timeline SET authority_name = '=HYPERLINK(\"http://evil.example\")' WHERE authority_url_name = 'council_b'")
    con.close()
    csv_text = runner.invoke(main, ["query", "response_times", "--db", str(known_db), "--format", "csv"]).stdout
    import csv
    import io

    names = {r[0]: r[1] for r in csv.reader(io.StringIO(csv_text))}
    assert names["council_b"] == "'=HYPERLINK(\"http://evil.example\")"  # shown as text by a spreadsheet


def test_cli_bad_arguments_are_one_line_without_traceback(known_db):
    """Huge integers, non-UTF-8 bytes from the shell: a one-line error and exit 2 (run as a real process)."""
    import os
    import subprocess
    import sys

    from tests.cli_runner import cli_env
    from tests.conftest import PROJECT_ROOT

    def run(*args):
        return subprocess.run([sys.executable, "-m", "corpus.cli", *args], capture_output=True, cwd=PROJECT_ROOT,
                              env=cli_env(LC_ALL="C.UTF-8"), timeout=120)

    cases = [
        (["query", "who_asks_whom", "--db", str(known_db), "--param", "top=2147483648"], b"top=2147483648 is too large"),
        (["query", "who_asks_whom", "--db", str(known_db), "--param", "top=" + "9" * 100], b"too long for a whole number"),
        (["query", "response_times", "--db", str(known_db), "--param", b"authority=caf\xe9"], b"not UTF-8"),
        (["query", "response_times", "--db", str(known_db), "--authority", b"caf\xe9"], b"not UTF-8"),
        (["sql", b"SELECT 'caf\xe9'", "--db", str(known_db)], b"not UTF-8"),
        (["query", "outcomes", "--db", str(known_db), "--format", "csv", "--output", "/nonexistent-dir/x.csv"], b"does not exist"),
    ]
    for args, message in cases:
        got = run(*[a if isinstance(a, bytes) else os.fsencode(a) for a in args])
        assert got.returncode == 2, (args, got.stderr)
        assert message in got.stderr and b"Traceback" not in got.stderr, got.stderr
        assert got.stderr.startswith(b"Error: ") and got.stderr.count(b"\n") == 1, got.stderr


def test_output_replaces_an_old_file_and_leaves_no_temporary(known_db, tmp_path):
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "out.jsonl"
    target.write_text("old\n")
    got = CliRunner().invoke(main, ["query", "outcomes", "--db", str(known_db), "--format", "jsonl", "--output", str(target)])
    assert got.exit_code == 0 and "Wrote " in got.stderr
    assert target.read_text().count("\n") == len(rows(run_query(str(known_db), "outcomes", {})))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["out.jsonl"]
