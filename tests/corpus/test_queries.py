"""Canned queries against a small corpus whose right answers are worked out by hand.

``build_known_corpus`` is shared with the export, report and example tests.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.derive.timeline import title_key, title_key_sql
from corpus.errors import CorpusError, UsageError
from corpus.queries import (
    QUERIES_DIR,
    describe_queries,
    get_query,
    list_queries,
    run_query,
    run_query_cli,
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
    for i, (key, auth, sent, days, in_time, outcome, (ru, rn), title, batch, overdue, long_overdue) in enumerate(REQUESTS):
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
        for i, (key, auth, sent, days, in_time, outcome, (ru, rn), title, batch, overdue, long_overdue) in enumerate(REQUESTS):
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
        assert "$" not in q.sql.split("\n", 1)[1].replace("$1", "")  # no positional/host placeholders


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
    assert len(got) == 1 and got[0][0] == "council_b" and got[0][2] == 4


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
    assert len(hit["snippet"]) <= len("needle") + 160
    assert hit["snippet"].startswith("x") and hit["snippet"].endswith("y")


def test_search_wildcards_are_literal(known_db):
    assert [r["url_title"] for r in rows(run_query(str(known_db), "search", {"q": "100%"}))] == ["req_b1"]
    assert [r["url_title"] for r in rows(run_query(str(known_db), "search", {"q": "%"}))] == ["req_b1"]
    assert rows(run_query(str(known_db), "search", {"q": "_"})) == []



def test_search_finds_what_ilike_finds(known_db):
    """The fast path (no wildcards in q) matches exactly the messages ILIKE matches, accents and all."""
    con = duckdb.connect(str(known_db))
    for mid, body in [(3001, "Réponse de l'ÉCOLE: the Straße budget"), (3002, "reponse de l'ecole"), (3003, "SERIOUS Case")]:
        con.execute("INSERT INTO messages (site, request_key, message_id, direction, sent_at, body) VALUES (?, 'b3', ?, 'incoming', ?, ?)",
                    [SITE, mid, "2021-01-01 09:00:00+00", body])
    expected = {}
    for q in ["école", "ÉCOLE", "straße", "serious case", "CASE REVIEWS", "ecole", "l'école", "no such words"]:
        expected[q] = {r[0] for r in con.execute("SELECT message_id FROM messages WHERE body ILIKE '%' || ? || '%'", [q]).fetchall()}
    con.close()
    assert expected["école"] == expected["ÉCOLE"] == {3001} and expected["ecole"] == {3002}
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
    with pytest.raises(UsageError, match="no parameter 'autority'.*authority, since, until, regime, min_requests"):
        run_query(str(known_db), "response_times", {"autority": "x"})


@pytest.mark.parametrize(
    "params, message",
    [
        ({"since": "2020-13-01"}, "since='2020-13-01' is not a date; use YYYY-MM-DD"),
        ({"min_requests": "many"}, "min_requests='many' is not a whole number"),
        ({"min_requests": "-1"}, "negative"),
        ({"regime": "GDPR"}, "regime='GDPR' is not allowed; use one of: FOIA, EIR, FOISA, EISR"),
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
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["authority_url_name", "authority_name", "requests"]
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

    data = json.loads(out.output)
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


def test_benchmark_smoke():
    """bench/queries.py --quick builds its corpus and times every query (no speed asserted here)."""
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    run = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "queries.py"), "--quick", "--runs", "1"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    assert lines[0].startswith("built 10,000 requests, 60,000 messages")
    timed = {line.split()[0] for line in lines[3:-1]}
    assert timed == {q.name for q in list_queries()}
    assert re.match(r"headline: search takes \d+\.\d\dx a full scan of 60,000 messages", lines[-1])
