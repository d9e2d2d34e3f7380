from datetime import date

import duckdb
import pytest

from corpus.derive import classify_response, rebuild
from corpus.schema import MIGRATIONS

SITE = "https://www.whatdotheyknow.com"
TODAY = date(2025, 1, 15)


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    c.execute(MIGRATIONS[0])
    c.execute(
        "INSERT INTO authorities (site, url_name, name, tags, jurisdiction) VALUES "
        "(?, 'council', 'A Council', ['local_council'], 'uk'), "
        "(?, 'school', 'A School', ['school', 'foi_no:1'], 'uk'), "
        "(?, 'scotgov', 'Scottish Government', ['scotland'], NULL)",
        [SITE] * 3,
    )
    return c


def add_request(con, key, authority="council", law="foi", state="waiting_response", status=None):
    con.execute(
        "INSERT INTO requests (site, request_key, url_title, authority_url_name, law, described_state, calculated_status) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [SITE, key, key.replace(":", "_"), authority, law, state, status],
    )


def add_message(con, key, mid, direction, at, body="", event_type=None):
    con.execute(
        "INSERT INTO messages (site, request_key, message_id, direction, position, sent_at, body, event_type) "
        "VALUES (?, ?, ?, ?, ?, ?::TIMESTAMPTZ, ?, ?)",
        [SITE, key, mid, direction, mid, at, body, event_type],
    )


def add_event(con, key, eid, etype, at, calculated_state=None, described_state=None, incoming=None, outgoing=None):
    con.execute(
        "INSERT INTO events (site, request_key, event_id, event_type, created_at, calculated_state, described_state, "
        "incoming_message_id, outgoing_message_id) VALUES (?, ?, ?, ?, ?::TIMESTAMPTZ, ?, ?, ?, ?)",
        [SITE, key, eid, etype, at, calculated_state, described_state, incoming, outgoing],
    )


def timeline(con, key):
    rebuild(con, today=TODAY)
    cur = con.execute("SELECT * FROM request_timeline WHERE request_key = ?", [key])
    cols = [d[0] for d in cur.description]
    return dict(zip(cols, cur.fetchone()))


def test_acknowledgement_is_not_the_answer(con):
    add_request(con, "id:1", state="successful")
    add_message(con, "id:1", 1, "outgoing", "2024-03-28 10:00:00+00", "Dear Council, please send me ...")
    add_message(con, "id:1", 2, "incoming", "2024-03-28 10:05:00+00",
                "Thank you for your email. We are currently processing your request. Our reference: 4290927.")
    add_message(con, "id:1", 3, "incoming", "2024-04-30 09:00:00+00",
                "Dear requester, please find attached our response. The information is in the table.")
    t = timeline(con, "id:1")
    assert t["regime"] == "FOIA" and t["regime_basis"] == "default FOIA"
    assert t["received_date"] == date(2024, 3, 28)
    assert t["due_date"] == date(2024, 4, 29)  # Good Friday and Easter Monday skipped
    assert t["first_incoming_message_id"] == 2 and t["working_days_to_first_incoming"] == 0
    assert t["first_substantive_message_id"] == 3
    assert t["working_days_to_substantive"] == 21
    assert t["answered"] is True and t["answered_in_time"] is False
    assert t["overdue_now"] is False and t["outcome"] == "successful"
    assert t["message_count"] == 3 and t["incoming_count"] == 2 and t["year"] == 2024


def test_event_state_beats_text(con):
    add_request(con, "id:2", state="not_held")
    add_message(con, "id:2", 10, "outgoing", "2024-05-01 10:00:00+00", "Dear ...")
    # looks like an answer, but the requester said they were still waiting after it
    add_message(con, "id:2", 11, "incoming", "2024-05-02 10:00:00+00", "Please find attached a letter about your request.")
    add_event(con, "id:2", 100, "response", "2024-05-02 10:00:00+00", calculated_state="waiting_response", incoming=11)
    # short, but classified as not held: the answer
    add_message(con, "id:2", 12, "incoming", "2024-05-09 10:00:00+00", "See attached.")
    add_event(con, "id:2", 101, "response", "2024-05-09 10:00:00+00", calculated_state="not_held", incoming=12)
    t = timeline(con, "id:2")
    assert t["first_substantive_message_id"] == 12
    assert t["working_days_to_substantive"] == 5  # 2, 3, 7, 8, 9 May: 6 May was a bank holiday
    assert t["outcome"] == "not_held"


def test_late_night_bst_receipt_and_weekend(con):
    add_request(con, "id:3")
    # 23:30 UTC on Fri 31 May 2024 is 00:30 BST on Saturday 1 June: Monday 3 June is day 1
    add_message(con, "id:3", 20, "outgoing", "2024-05-31 23:30:00+00", "Dear ...")
    t = timeline(con, "id:3")
    assert t["received_date"] == date(2024, 6, 1)
    assert t["due_date"] == date(2024, 6, 28)
    assert t["answered"] is False and t["answered_in_time"] is None
    assert t["overdue_now"] is True and t["long_overdue_now"] is True
    assert t["outcome"] == "pending"


def test_school_long_overdue_is_60_days(con):
    add_request(con, "id:4", authority="school")
    add_message(con, "id:4", 30, "outgoing", "2024-11-04 09:00:00+00", "Dear school ...")
    t = timeline(con, "id:4")
    assert t["is_school"] is True
    assert t["due_date"] == date(2024, 12, 3)  # 2 Dec (St Andrew's substitute) is skipped for FOIA
    assert t["long_overdue_date"] == date(2025, 2, 3)  # 60 working days, Christmas and both 1 and 2 Jan skipped
    assert t["overdue_now"] is True and t["long_overdue_now"] is False


def test_scottish_authority_and_eir(con):
    add_request(con, "id:5", authority="scotgov", law="eir")
    add_message(con, "id:5", 40, "outgoing", "2024-03-28 10:00:00+00", "Dear ...")
    add_request(con, "id:6", authority="scotgov", law="foi")
    add_message(con, "id:6", 41, "outgoing", "2024-03-28 10:00:00+00", "Dear ...")
    add_request(con, "id:7", authority="council", law="eir")
    rebuild(con, today=TODAY)
    rows = dict(((k, (r, b)) for k, r, b in con.execute(
        "SELECT request_key, regime, regime_basis FROM request_timeline").fetchall()))
    assert rows["id:5"] == ("EISR", "law_used=eir; authority in Scotland")
    assert rows["id:6"] == ("FOISA", "authority in Scotland")
    assert rows["id:7"] == ("EIR", "law_used=eir")
    due = con.execute("SELECT due_date FROM request_timeline WHERE request_key = 'id:6'").fetchone()[0]
    assert due == date(2024, 4, 26)  # Easter Monday is a working day in Scotland


def test_clarification_resets_the_clock(con):
    add_request(con, "id:8", state="successful")
    add_message(con, "id:8", 50, "outgoing", "2024-01-08 10:00:00+00", "Dear ...", "sent")
    add_event(con, "id:8", 200, "sent", "2024-01-08 10:00:00+00", outgoing=50)
    add_message(con, "id:8", 51, "incoming", "2024-01-10 10:00:00+00", "Could you please clarify which years you mean?")
    add_event(con, "id:8", 201, "response", "2024-01-10 10:00:00+00", calculated_state="waiting_clarification", incoming=51)
    add_event(con, "id:8", 202, "status_update", "2024-01-10 12:00:00+00", described_state="waiting_clarification")
    add_message(con, "id:8", 52, "outgoing", "2024-01-15 10:00:00+00", "I mean 2020 to 2023.", "followup_sent")
    add_event(con, "id:8", 203, "followup_sent", "2024-01-15 10:00:00+00", outgoing=52)
    add_message(con, "id:8", 53, "incoming", "2024-02-09 10:00:00+00", "Our response: the figures are 3, 4 and 5.")
    t = timeline(con, "id:8")
    assert t["sent_at"].date() == date(2024, 1, 8)
    assert t["received_date"] == date(2024, 1, 15)
    assert t["due_date"] == date(2024, 2, 12)
    assert t["first_incoming_message_id"] == 51 and t["working_days_to_first_incoming"] == 2
    assert t["first_substantive_message_id"] == 53 and t["working_days_to_substantive"] == 19
    assert t["answered_in_time"] is True


def test_internal_review(con):
    add_request(con, "id:9", state="internal_review")
    add_message(con, "id:9", 60, "outgoing", "2024-06-03 10:00:00+00", "Dear ...")
    add_message(con, "id:9", 61, "incoming", "2024-06-10 10:00:00+00", "We are refusing your request under section 12.")
    add_message(con, "id:9", 62, "outgoing", "2024-06-11 10:00:00+00",
                "Please pass this on to the person who conducts Freedom of Information reviews. I am writing to request an internal review.")
    add_message(con, "id:9", 63, "incoming", "2024-06-11 11:00:00+00", "We acknowledge receipt of your email.")
    add_message(con, "id:9", 64, "incoming", "2024-07-01 11:00:00+00", "The review upholds the original decision to refuse.")
    t = timeline(con, "id:9")
    assert t["working_days_to_substantive"] == 5
    assert t["internal_review_requested_at"].date() == date(2024, 6, 11)
    assert t["internal_review_answered_at"].date() == date(2024, 7, 1)
    assert t["working_days_internal_review"] == 14
    assert t["outcome"] == "pending"
    cites = con.execute("SELECT message_id, provision, ground FROM refusal_citations ORDER BY message_id").fetchall()
    assert cites == [(61, "s12", "cost limit")]


def test_outcome_mapping(con):
    for i, state in enumerate(["rejected", "user_withdrawn", "waiting_clarification", "gone_postal", "partially_successful"]):
        add_request(con, f"id:{100 + i}", state=state)
    rebuild(con, today=TODAY)
    got = dict(con.execute("SELECT described_state, outcome FROM request_timeline").fetchall())
    assert got == {"rejected": "refused", "user_withdrawn": "withdrawn", "waiting_clarification": "pending",
                   "gone_postal": "other", "partially_successful": "partially_successful"}


@pytest.mark.parametrize(
    "body, docs, state, substantive",
    [
        ("Thank you for your email. We are currently processing your request.", 0, None, False),
        ("Automatic reply: I am currently out of the office until Monday.", 0, None, False),
        ("Our reference: FOI-1234", 0, None, False),
        ("We need more time to consider the public interest under section 43.", 0, None, False),
        ("Please find attached our response.", 0, None, True),
        ("Dear Sir", 1, None, True),
        ("Thank you for your email.", 0, "successful", True),
        ("The answer is that 14 officers attended the training session last year.", 0, None, True),
    ],
)
def test_classify_response(body, docs, state, substantive):
    assert classify_response(body, docs, state)[0] is substantive
