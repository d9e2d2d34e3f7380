"""Whole threads through load, rebuild and the canned queries: only grounds relied on (or upheld) count.

The threads are written for these tests, in the shapes real ones take: an
acknowledgement full of hedges then a cost refusal; a review that upholds one
ground and drops another; an acknowledgement that quotes a request naming a
section.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from corpus.db import connect
from corpus.derive import rebuild
from corpus.derive import refusals as refusals_module
from corpus.load import load_threads
from corpus.queries import run_query
from corpus.report import collect
from scraper.records import Direction, Event, Message, ParsedRequest, Person
from tests.corpus.factories import item

TODAY = date(2025, 1, 6)


def thread(n: int, authority: str, year: int, messages: list[tuple[Direction, str]], law: str = "foi") -> ParsedRequest:
    """Request ``n``: (direction, body) pairs, a day apart."""
    t0 = datetime(year, 2, 6, 10, 0, tzinfo=timezone.utc)
    msgs, events = [], []
    for i, (direction, body) in enumerate(messages):
        mid = n * 100 + i
        sent = t0 + timedelta(days=3 * i)
        msgs.append(Message(message_id=mid, direction=direction, position=i,
                            sender="A Requester" if direction == "outgoing" else "Information Team",
                            sent_at=sent, sent_at_text=sent.isoformat(), body=body))
        events.append(Event(event_id=mid, event_type=("sent" if i == 0 else "followup_sent") if direction == "outgoing" else "response",
                            created_at=sent, created_at_text=sent.isoformat(),
                            incoming_message_id=mid if direction == "incoming" else None,
                            outgoing_message_id=mid if direction == "outgoing" else None))
    return ParsedRequest(
        url_title=f"request_{n}", title=f"Request {n}", request_id=n,
        requester=Person(url_name="a_requester", name="A Requester"),
        authority=Person(url_name=authority, name=authority.replace("_", " ").title()),
        law=law, described_state="rejected", calculated_status="rejected", display_status="Refused",
        created_at=t0, tags=[], messages=msgs, annotations=[], events=events, has_json=True,
    )


COUNTY_REQUEST = (
    "Dear County Council,\n\nFor each of the last five years, how many school transport complaints did you receive, "
    "and what was each one about?\n\nYours faithfully,\nA Requester"
)
COUNTY_ACK = (
    "Dear A Requester\n\nFreedom of Information request ref 12/0881\n\nThank you for your request, which we received on "
    "6 February. We will respond by 5 March. We will let you know if we do not hold the information or if any of it is "
    "exempt. If answering would exceed the appropriate limit we will contact you.\n\nInformation Access Team"
)
COUNTY_REFUSAL = (
    "Dear A Requester\n\nComplaints are filed under each school rather than by subject, and we do not hold a central "
    "record of what each complaint was about. Reading some 2,600 files would take far more than 18 hours, so this is "
    "a refusal notice under section 17, relying on section 12 of the Freedom of Information Act 2000.\n\n"
    "Under section 16 we suggest you ask for the number of complaints per year, which we can give within the limit.\n\n"
    "Information Access Team"
)


@pytest.fixture
def db(tmp_path):
    con = connect(tmp_path / "foi.duckdb")
    yield con
    con.close()


def load(con, *threads):
    load_threads(con, [item(t) for t in threads])
    rebuild(con, today=TODAY)


def rows(con, where="true"):
    return con.execute(
        f"SELECT message_id, provision, role FROM refusal_citations WHERE {where} ORDER BY message_id, provision, role"
    ).fetchall()


def test_acknowledgement_cites_nothing_and_the_refusal_relies_on_the_cost_limit_only(db):
    load(db, thread(1, "county_council", 2012, [("outgoing", COUNTY_REQUEST), ("incoming", COUNTY_ACK), ("incoming", COUNTY_REFUSAL)]))
    assert rows(db, "role IN ('relied_on', 'upheld')") == [(102, "s12", "relied_on")]
    ack = rows(db, "message_id = 101")
    assert ack and {r[2] for r in ack} == {"boilerplate"}  # kept, so analysts see why they do not count
    assert ("s1(1)(a)", "boilerplate") in {(r[1], r[2]) for r in ack}
    grounds = run_query(db, "refusal_grounds", {"group_by": "none"}).to_pylist()
    assert [(g["provision"], g["requests"], g["role"]) for g in grounds] == [("s12", 1, None)]
    everything = run_query(db, "refusal_grounds", {"group_by": "none", "roles": "all"}).to_pylist()
    assert {(g["provision"], g["role"]) for g in everything} >= {("s12", "relied_on"), ("s1(1)(a)", "boilerplate"), ("s12", "boilerplate")}
    only_hedges = run_query(db, "refusal_grounds", {"group_by": "none", "roles": "boilerplate"}).to_pylist()
    assert {g["role"] for g in only_hedges} == {"boilerplate"}
    mixed = run_query(db, "refusal_grounds", {"group_by": "none", "roles": "counted,boilerplate"}).to_pylist()
    assert {g["role"] for g in mixed} == {"relied_on", "boilerplate"}
    assert [c["cost_refusals"] for c in run_query(db, "cost_limit", {"roles": "boilerplate"}).to_pylist()] == [1]
    cost = run_query(db, "cost_limit", {}).to_pylist()
    assert [(c["year"], c["cost_refusals"]) for c in cost] == [(2012, 1)]


def test_report_counts_only_grounds_relied_on(db):
    load(db, thread(1, "county_council", 2012, [("outgoing", COUNTY_REQUEST), ("incoming", COUNTY_ACK), ("incoming", COUNTY_REFUSAL)]))
    data = collect(db, [], None)
    assert [(p, n) for p, _, n in data.grounds] == [("s12", 1)]


def test_a_review_upholds_one_ground_and_drops_another(db):
    load(db, thread(2, "city_council", 2023, [
        ("outgoing", "Please send the contract with the leisure operator."),
        ("incoming", "The contract is withheld under section 43(2), and staff names under section 40(2)."),
        ("outgoing", "Please carry out an internal review. The names are of senior managers, so section 40 cannot apply."),
        ("incoming", "Internal review\n\nYour request for a review is about the use of section 40(2). The managers named are "
                     "senior and their names are published, so section 40(2) should not have been applied; the names are "
                     "attached. I am satisfied that section 43(2) was correctly applied to the contract prices, and I "
                     "uphold that part of the decision."),
    ]))
    review = rows(db, "message_id = 203")
    assert (203, "s43(2)", "upheld") in review
    assert (203, "s40(2)", "overturned") in review
    assert not any(r[2] in ("relied_on", "upheld") and r[1] == "s40(2)" for r in review)
    grounds = {g["provision"]: g["requests"] for g in run_query(db, "refusal_grounds", {"group_by": "none"}).to_pylist()}
    assert grounds == {"s43(2)": 1, "s40(2)": 1}  # s40(2) counts once: the first response relied on it


def test_an_acknowledgement_quoting_the_request_does_not_cite_what_the_request_names(db):
    request = "Has the council refused any requests from journalists under section 14 since 2020? How many?"
    load(db, thread(3, "borough_council", 2021, [
        ("outgoing", request),
        ("incoming", f"Dear A Requester\n\nYour request: \"{request}\"\n\nWe will reply within 20 working days."),
        ("incoming", "The council refused 3 such requests, all as repeated requests."),
    ]))
    assert rows(db, "message_id = 301") == [(301, "s14", "quoted_request")]
    assert run_query(db, "refusal_grounds", {"group_by": "none"}).to_pylist() == []


def test_scan_cache_key_holds_the_requesters_words(db, monkeypatch):
    """A rebuild that changes no text scans nothing; a changed earlier request re-scans the letters after it."""
    letter = "Dear A Requester\n\nYou wrote that section 31 should not stop this. The figures are below: 14."
    load(db, thread(4, "police_force", 2022, [("outgoing", "How many drones? Section 31 should not stop this."), ("incoming", letter)]))
    scanned = []
    real = refusals_module.extract_citations

    def counting(text, regime="FOIA", **context):
        scanned.append(text[:20])
        return real(text, regime, **context)

    monkeypatch.setattr(refusals_module, "extract_citations", counting)
    rebuild(db, today=TODAY)
    assert scanned == []
    db.execute("UPDATE messages SET body = 'How many drones do you have?' WHERE message_id = 400")
    rebuild(db, today=TODAY)
    assert len(scanned) == 1
    key = db.execute("SELECT count(*), count(DISTINCT context_md5) FROM refusal_scan_cache").fetchall()[0]
    assert key == (1, 1)


def test_a_cache_from_before_roles_is_replaced(db):
    db.execute(
        """CREATE TABLE refusal_scan_cache (site VARCHAR, source VARCHAR, message_id BIGINT, part INTEGER,
           text_md5 VARCHAR, regime VARCHAR, extractor_version INTEGER,
           citations STRUCT(regime VARCHAR, provision VARCHAR, section VARCHAR, subsection VARCHAR,
                            ground VARCHAR, cited_by VARCHAR, sentence VARCHAR)[])"""
    )
    load(db, thread(5, "county_council", 2012, [("outgoing", COUNTY_REQUEST), ("incoming", COUNTY_REFUSAL)]))
    assert rows(db) == [(501, "s12", "relied_on")]
    assert "context_md5" in {r[0] for r in db.execute("DESCRIBE refusal_scan_cache").fetchall()}
