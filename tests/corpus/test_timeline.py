import shutil
from datetime import date
from pathlib import Path

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


def add_authority(con, url_name, tags, site=SITE, jurisdiction=None):
    con.execute("INSERT INTO authorities (site, url_name, name, tags, jurisdiction) VALUES (?, ?, ?, ?, ?)",
                [site, url_name, url_name.replace("_", " ").title(), tags, jurisdiction])


def add_request(con, key, authority="council", law="foi", state="waiting_response", status=None, site=SITE):
    con.execute(
        "INSERT INTO requests (site, request_key, url_title, authority_url_name, law, described_state, calculated_status) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [site, key, key.replace(":", "_"), authority, law, state, status],
    )


def add_message(con, key, mid, direction, at, body="", event_type=None, site=SITE, placeholder=None, shown=None):
    """``at``: the message's time (NULL for a page that shows only a date); ``shown``: sent_at_text."""
    con.execute(
        "INSERT INTO messages (site, request_key, message_id, direction, position, sent_at, sent_at_text, body, "
        "event_type, body_placeholder) VALUES (?, ?, ?, ?, ?, ?::TIMESTAMPTZ, ?, ?, ?, ?)",
        [site, key, mid, direction, mid, at, shown, body, event_type, placeholder],
    )


def add_attachment(con, key, mid, part, filename, icon, site=SITE):
    con.execute(
        "INSERT INTO attachments (site, request_key, incoming_message_id, part, filename, content_icon) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [site, key, mid, part, filename, icon],
    )


def add_event(con, key, eid, etype, at, calculated_state=None, described_state=None, incoming=None, outgoing=None,
              site=SITE):
    con.execute(
        "INSERT INTO events (site, request_key, event_id, event_type, created_at, calculated_state, described_state, "
        "incoming_message_id, outgoing_message_id) VALUES (?, ?, ?, ?, ?::TIMESTAMPTZ, ?, ?, ?, ?)",
        [site, key, eid, etype, at, calculated_state, described_state, incoming, outgoing],
    )


def timeline(con, key, site=SITE):
    rebuild(con, today=TODAY)
    cur = con.execute("SELECT * FROM request_timeline WHERE site = ? AND request_key = ?", [site, key])
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


@pytest.mark.parametrize(
    "body, docs, attachments, state, placeholder, substantive",
    [
        ("[Email has no body, please see attachments]", 1, 1, None, True, True),
        ("[ Email has no body, please see attachments ]", 0, 2, None, True, True),  # a scanned letter as images
        ("[Email has no body, please see attachments]", 0, 0, None, True, False),  # nothing to read
        ("", 0, 1, None, False, True),
        ("Automatic reply: Away until 12 March", 0, 0, "successful", False, False),
        ("I am currently out of the office and will respond on my return.", 0, 1, "not_held", False, False),
    ],
)
def test_classify_attachment_only_and_automatic_replies(body, docs, attachments, state, placeholder, substantive):
    got = classify_response(body, docs, state, attachments=attachments, placeholder=placeholder)
    assert got[0] is substantive, got


# --------------------------------------------------------------------------- the first substantive answer


def _thurrock_shaped(con, key, mid, *, scan_only=False, ooo_state=None, later_reply=True, dates_only=False):
    """Sent Mon 27 Feb 2012; an out-of-office reply; a reply with no body but attachments on Tue 6 March.

    ``dates_only``: as a page of that time read without its JSON gives it: each
    message shows its date alone (no time, no events).
    """
    def when(at):
        return (None, at[:10]) if dates_only else (at, at.replace(" ", "T"))

    add_request(con, key, state="successful")
    add_message(con, key, mid, "outgoing", *when("2012-02-27 14:32:00+00")[:1],
                "Dear Sir or Madam, please provide the number of fixed penalty notices issued for littering in 2011.",
                "sent", shown=when("2012-02-27 14:32:00+00")[1])
    if not dates_only:
        add_event(con, key, mid * 10, "sent", "2012-02-27 14:32:00+00", outgoing=mid)
    add_message(con, key, mid + 1, "incoming", when("2012-02-27 14:33:10+00")[0],
                "Thank you for your message. I am on annual leave until Monday 5 March and will not be reading e-mail. "
                "For urgent matters please call the switchboard.", shown=when("2012-02-27 14:33:10+00")[1])
    if ooo_state:
        add_event(con, key, mid * 10 + 1, "response", "2012-02-27 14:33:10+00", calculated_state=ooo_state,
                  incoming=mid + 1)
    add_message(con, key, mid + 2, "incoming", when("2012-03-06 11:05:44+00")[0],
                "[ Email has no body, please see attachments ]", placeholder=True,
                shown=when("2012-03-06 11:05:44+00")[1])
    if scan_only:
        add_attachment(con, key, mid + 2, 2, "scan0001.jpg", "image")
        add_attachment(con, key, mid + 2, 3, "scan0002.jpg", "image")
    else:
        add_attachment(con, key, mid + 2, 2, "image001.png", "image")
        add_attachment(con, key, mid + 2, 3, "FOI 1287 reply.doc", "word")
    if later_reply:
        add_message(con, key, mid + 3, "incoming", when("2012-03-20 09:12:00+00")[0],
                    "Further to our letter of 6 March, please find attached the breakdown by ward that you asked for.",
                    shown=when("2012-03-20 09:12:00+00")[1])


@pytest.mark.parametrize("kind", ["document", "scanned images", "out-of-office classified"])
def test_attachment_only_reply_is_the_answer_and_out_of_office_never_counts(con, kind):
    _thurrock_shaped(con, "id:700", 7000, scan_only=kind == "scanned images",
                     ooo_state="successful" if kind == "out-of-office classified" else None)
    t = timeline(con, "id:700")
    assert t["received_date"] == date(2012, 2, 27)
    assert t["first_incoming_message_id"] == 7001  # the out-of-office reply arrived first ...
    assert t["first_substantive_message_id"] == 7002  # ... but the answer is the attachment-only reply
    assert t["working_days_to_substantive"] == 6  # 28, 29 Feb; 1, 2, 5, 6 March
    assert t["days_to_substantive"] == 8
    assert t["due_date"] == date(2012, 3, 27)  # Mon 19 March 2012 was St Patrick's Day's substitute (NI)
    assert t["answered_in_time"] is True


# --------------------------------------------------------------------------- pages that show only dates


@pytest.mark.parametrize("kind", ["document", "scanned images"])
def test_a_thread_whose_page_shows_only_dates_still_gets_its_clock(con, kind):
    _thurrock_shaped(con, "id:720", 7200, scan_only=kind == "scanned images", dates_only=True)
    assert con.execute("SELECT count(*) FROM messages WHERE sent_at IS NULL").fetchone()[0] == 4
    t = timeline(con, "id:720")
    assert t["day_only_times"] is True
    assert str(t["sent_at"]) == "2012-02-27 00:00:00+00:00"  # the start of the day in London (GMT in February)
    assert t["received_date"] == date(2012, 2, 27) and t["due_date"] == date(2012, 3, 27)
    assert t["first_incoming_message_id"] == 7201 and t["working_days_to_first_incoming"] == 0
    assert t["first_substantive_message_id"] == 7202 and t["working_days_to_substantive"] == 6
    assert t["answered_in_time"] is True


def test_a_thread_with_times_is_not_marked_as_dated_by_day(con):
    _thurrock_shaped(con, "id:730", 7300)
    t = timeline(con, "id:730")
    assert t["day_only_times"] is False and str(t["sent_at"]) == "2012-02-27 14:32:00+00:00"


def test_a_shown_date_is_the_start_of_that_day_in_the_site_time_zone(con):
    add_authority(con, "ministry_of_health", ["ministry"], site=FYI)
    add_request(con, "id:740", authority="ministry_of_health", site=FYI, state="successful")
    add_message(con, "id:740", 7401, "outgoing", None, "Please send me the register of gifts.", site=FYI,
                shown="2024-07-01")
    add_message(con, "id:740", 7402, "incoming", None, "Here is the information you requested, in full.", site=FYI,
                shown="2024-07-05")
    # not a date: no clock from it (a shown text that is not YYYY-MM-DD is never guessed at)
    add_message(con, "id:740", 7403, "incoming", None, "And more of the information you requested.", site=FYI,
                shown="5 July")
    t = timeline(con, "id:740", FYI)
    assert str(t["sent_at"]) == "2024-06-30 12:00:00+00:00"  # midnight in Auckland (NZST, UTC+12)
    assert t["received_date"] == date(2024, 7, 1) and t["working_days_to_substantive"] == 4
    assert t["first_substantive_message_id"] == 7402 and t["due_date"] == date(2024, 7, 29)


def test_an_imported_page_from_2012_without_its_json_gets_working_days(tmp_path):
    from corpus.importer import import_paths

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "eras" / "2011-2014" / "council_tax_exemptions_for_car.html"
    (tmp_path / "pages").mkdir()
    shutil.copy(fixture, tmp_path / "pages" / fixture.name)  # the HTML alone: dates, no times
    assert import_paths(db_path=tmp_path / "c.duckdb", site=SITE, paths=[tmp_path / "pages"]).exit_code == 0
    c = duckdb.connect(str(tmp_path / "c.duckdb"))
    try:
        assert c.execute("SELECT count(*) FROM messages WHERE sent_at IS NOT NULL").fetchone()[0] == 0
        rebuild(c, today=TODAY)
        t = c.execute("SELECT received_date, due_date, first_substantive_message_id, working_days_to_substantive, "
                      "answered_in_time, working_days_internal_review, day_only_times FROM request_timeline").fetchall()
    finally:
        c.close()
    # Mon 5 March 2012; Mon 19 March was St Patrick's Day's substitute (Northern Ireland), so day 20 is 3 April
    assert t == [(date(2012, 3, 5), date(2012, 4, 3), 262845, 17, True, 18, True)]


def test_an_imported_ukrainian_page_runs_on_ukrainian_law(tmp_path):
    from corpus.importer import import_paths

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "eras" / "current" / "dogovory_na_remont_dorig.html"
    (tmp_path / "pages").mkdir()
    shutil.copy(fixture, tmp_path / "pages" / fixture.name)
    assert import_paths(db_path=tmp_path / "c.duckdb", site=DOSTUP, paths=[tmp_path / "pages"]).exit_code == 0
    c = duckdb.connect(str(tmp_path / "c.duckdb"))
    try:
        rebuild(c, today=TODAY)
        t = c.execute("SELECT regime, response_days, received_date, due_date, working_days_to_substantive, "
                      "answered_in_time, long_overdue_date FROM request_timeline").fetchall()
    finally:
        c.close()
    # sent Thu 2 April 2026 09:30 Kyiv; answered Wed 8 April; no holidays under martial law
    assert t == [("UA_PUBLIC_INFO", 5, date(2026, 4, 2), date(2026, 4, 9), 4, True, date(2026, 4, 30))]


def test_a_bodyless_reply_with_nothing_attached_is_not_an_answer(con):
    add_request(con, "id:710")
    add_message(con, "id:710", 7100, "outgoing", "2024-09-02 08:00:00+00", "Please send the minutes.")
    add_message(con, "id:710", 7101, "incoming", "2024-09-03 08:00:00+00",
                "[Email has no body, please see attachments]", placeholder=True)
    t = timeline(con, "id:710")
    assert t["answered"] is False and t["first_incoming_message_id"] == 7101


# --------------------------------------------------------------------------- regimes of other sites

FYI = "https://fyi.org.nz"
ASKTHEEU = "https://www.asktheeu.org"
RTK = "https://www.righttoknow.org.au"
DOSTUP = "https://dostup.pravda.com.ua"
ELSEWHERE = "https://foi.example.org"


def _ask(con, site, key, authority, sent, answered=None, body="Here is the information you requested, in full."):
    n = int(key.split(":")[1]) * 10
    add_request(con, key, authority=authority, site=site, state="successful" if answered else "waiting_response")
    add_message(con, key, n + 1, "outgoing", sent, "Please send me the register of gifts.", site=site)
    if answered:
        add_message(con, key, n + 2, "incoming", answered, body, site=site)


def test_new_zealand_oia_and_lgoima_by_authority_tags(con):
    add_authority(con, "ministry_of_health", ["ministry"], site=FYI)
    add_authority(con, "wellington_city_council", ["city_council"], site=FYI)
    add_authority(con, "a_trust", ["charity"], site=FYI)
    # 9:00 on Mon 2 Dec 2024 in Auckland is still Sunday 1 December in UTC
    _ask(con, FYI, "id:1", "ministry_of_health", "2024-12-01 20:00:00+00", answered="2025-01-20 02:00:00+00")
    _ask(con, FYI, "id:2", "wellington_city_council", "2024-12-01 20:00:00+00")
    _ask(con, FYI, "id:3", "a_trust", "2024-12-01 20:00:00+00")
    oia = timeline(con, "id:1", FYI)
    assert (oia["regime"], oia["regime_basis"]) == ("NZ_OIA", "authority tagged ministry")
    assert oia["received_date"] == date(2024, 12, 2) and oia["sent_date"] == date(2024, 12, 2)
    assert (oia["response_days"], oia["day_unit"]) == (20, "working")
    assert oia["due_date"] == date(2025, 1, 21)  # the summer period 25 Dec - 15 Jan does not count
    assert oia["working_days_to_substantive"] == 19 and oia["answered_in_time"] is True
    assert oia["long_overdue_date"] is None and oia["long_overdue_now"] is None  # OIA extensions have no cap
    lg = timeline(con, "id:2", FYI)
    assert lg["regime"] == "NZ_LGOIMA" and lg["due_date"] == date(2025, 1, 22)
    assert lg["overdue_now"] is False  # TODAY is 15 January 2025
    other = timeline(con, "id:3", FYI)
    assert other["regime"] == "unknown" and other["due_date"] is None
    assert other["regime_basis"] == "authority not tagged as central or local government"


def test_eu_regulation_1049_and_the_court_of_justice(con):
    add_authority(con, "cjeu", [], site=ASKTHEEU)
    # sent 10:00 Brussels time on Fri 25 Oct 2019
    _ask(con, ASKTHEEU, "id:1", "directorate_general_for_trade", "2019-10-25 08:00:00+00",
         answered="2019-12-09 16:00:00+00")
    _ask(con, ASKTHEEU, "id:2", "cjeu", "2019-10-25 08:00:00+00")
    t = timeline(con, "id:1", ASKTHEEU)
    assert (t["regime"], t["regime_basis"]) == ("EU_1049", "Regulation 1049/2001")
    assert t["due_date"] == date(2019, 11, 18) and t["long_overdue_date"] == date(2019, 12, 9)
    assert t["answered_in_time"] is False and t["working_days_to_substantive"] == 30
    court = timeline(con, "id:2", ASKTHEEU)
    assert court["regime"] == "unknown" and "Court of Justice" in court["regime_basis"]
    assert court["due_date"] is None and court["overdue_now"] is None


def test_australia_federal_thirty_calendar_days_and_states_unknown(con):
    add_authority(con, "department_of_health", ["federal", "health"], site=RTK)
    add_authority(con, "nsw_police", ["NSW", "police"], site=RTK)
    add_authority(con, "some_body", [], site=RTK)
    # 10:00 Fri 1 March 2024 in Sydney; day 30 is Easter Sunday, then Easter Monday
    _ask(con, RTK, "id:1", "department_of_health", "2024-02-29 23:00:00+00", answered="2024-04-02 05:00:00+00")
    _ask(con, RTK, "id:2", "nsw_police", "2024-02-29 23:00:00+00", answered="2024-03-20 05:00:00+00")
    _ask(con, RTK, "id:3", "some_body", "2024-02-29 23:00:00+00")
    t = timeline(con, "id:1", RTK)
    assert (t["regime"], t["day_unit"], t["response_days"]) == ("AU_FOI", "calendar", 30)
    assert t["received_date"] == date(2024, 3, 1) and t["due_date"] == date(2024, 4, 2)
    assert t["answered_in_time"] is True and t["days_to_substantive"] == 32
    assert t["working_days_to_substantive"] is None  # the limit is in calendar days
    nsw = timeline(con, "id:2", RTK)
    assert nsw["regime"] == "unknown" and nsw["regime_basis"].startswith("authority tagged NSW")
    assert nsw["answered"] is True and nsw["answered_in_time"] is None and nsw["days_to_substantive"] == 19
    none = timeline(con, "id:3", RTK)
    assert none["regime"] == "unknown" and none["overdue_now"] is None


def test_ukraine_five_working_days(con):
    add_authority(con, "kyivska_miska_rada", [], site=DOSTUP)
    _ask(con, DOSTUP, "id:1", "kyivska_miska_rada", "2021-08-20 12:00:00+00", answered="2021-08-30 12:00:00+00",
         body="Надаємо відповідь на ваш запит на інформацію у вкладенні.")
    _ask(con, DOSTUP, "id:2", "kyivska_miska_rada", "2023-08-21 12:00:00+00")
    t = timeline(con, "id:1", DOSTUP)
    assert t["regime"] == "UA_PUBLIC_INFO" and t["response_days"] == 5
    assert t["due_date"] == date(2021, 8, 30)  # 23 and 24 Aug off; Saturday 28 Aug worked
    assert t["answered_in_time"] is True and t["working_days_to_substantive"] == 5
    wartime = timeline(con, "id:2", DOSTUP)
    assert wartime["due_date"] == date(2023, 8, 28)  # Independence Day is a working day under martial law
    assert wartime["long_overdue_date"] == date(2023, 9, 18)  # Art 20(4): at most 20 working days
    assert wartime["overdue_now"] is True and wartime["long_overdue_now"] is True


def test_a_site_with_no_known_regime_gets_no_clock(con):
    add_authority(con, "the_ministry", ["ministry", "scotland"], site=ELSEWHERE)
    _ask(con, ELSEWHERE, "id:1", "the_ministry", "2024-03-01 10:00:00+00", answered="2024-05-01 10:00:00+00")
    _ask(con, ELSEWHERE, "id:2", "the_ministry", "2024-03-01 10:00:00+00")
    t = timeline(con, "id:1", ELSEWHERE)
    assert (t["regime"], t["regime_basis"]) == ("unknown", "site not in the sites table")
    for col in ("due_date", "long_overdue_date", "answered_in_time", "overdue_now", "long_overdue_now",
                "working_days_to_substantive", "working_days_to_first_incoming", "response_days", "day_unit"):
        assert t[col] is None, col
    assert t["answered"] is True and t["days_to_substantive"] == 61
    pending = timeline(con, "id:2", ELSEWHERE)
    assert pending["overdue_now"] is None and pending["outcome"] == "pending"


def test_refusal_grounds_are_read_only_under_uk_regimes(con):
    add_authority(con, "kyivska_miska_rada", [], site=DOSTUP)
    _ask(con, DOSTUP, "id:1", "kyivska_miska_rada", "2024-03-01 10:00:00+00", answered="2024-03-05 10:00:00+00",
         body="We refuse under section 12 as the cost exceeds the appropriate limit.")
    add_request(con, "id:2")
    add_message(con, "id:2", 21, "outgoing", "2024-03-01 10:00:00+00", "Please send ...")
    add_message(con, "id:2", 22, "incoming", "2024-03-05 10:00:00+00",
                "We refuse under section 12 as the cost exceeds the appropriate limit.")
    rebuild(con, today=TODAY)
    assert con.execute("SELECT DISTINCT site FROM refusal_citations").fetchall() == [(SITE,)]


def test_dates_are_taken_in_the_site_time_zone(con):
    add_authority(con, "ministry_of_health", ["ministry"], site=FYI)
    # 12:30 UTC on 30 June 2024 is 00:30 on 1 July in Auckland; in London it is still 30 June
    _ask(con, FYI, "id:1", "ministry_of_health", "2024-06-30 12:30:00+00")
    add_request(con, "id:9")
    add_message(con, "id:9", 91, "outgoing", "2024-06-30 12:30:00+00", "Dear ...")
    assert timeline(con, "id:1", FYI)["received_date"] == date(2024, 7, 1)
    assert timeline(con, "id:9")["received_date"] == date(2024, 6, 30)


def test_a_sites_file_beside_the_database_adds_a_site(tmp_path, monkeypatch):
    monkeypatch.delenv("CORPUS_SITES", raising=False)
    (tmp_path / "sites.toml").write_text(
        '[[site]]\nurl = "https://foi.example.org"\nname = "Example"\ntimezone = "Europe/Dublin"\nregime = "FOIA"\n\n'
        '[[site.rule]]\nauthorities = ["the_ministry"]\nregime = "unknown"\nbasis = "not covered"\n',
        encoding="utf-8")
    c = duckdb.connect(str(tmp_path / "foi.duckdb"))
    c.execute("SET TimeZone = 'UTC'")
    c.execute(MIGRATIONS[0])
    _ask(c, ELSEWHERE, "id:1", "a_council", "2024-03-28 10:00:00+00")
    _ask(c, ELSEWHERE, "id:2", "the_ministry", "2024-03-28 10:00:00+00")
    rebuild(c, today=TODAY)
    rows = {k: (r, b, d) for k, r, b, d in c.execute(
        "SELECT request_key, regime, regime_basis, due_date FROM request_timeline").fetchall()}
    assert rows["id:1"] == ("FOIA", "site default", date(2024, 4, 29))
    assert rows["id:2"] == ("unknown", "not covered", None)
    assert c.execute("SELECT source FROM sites WHERE host = 'foi.example.org'").fetchone()[0].endswith("sites.toml")
