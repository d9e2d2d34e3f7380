"""The request parser on current-markup pages: hand-written fixtures and built pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from corpus.sample_site.render import time_tag
from corpus.sample_site.threads import BST, GMT, att, inc, json_for, note, out, page, thread
from scraper.pages.request import parse_request
from scraper.records import ParsedRequest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "current"
UTC = timezone.utc


def parse_ok(html: bytes, json_bytes: bytes | None = None, **kw) -> ParsedRequest:
    result = parse_request(html, json_bytes, **kw)
    assert isinstance(result, ParsedRequest), result
    return result


# ------------------------------------------------------------ hand-written fixture


@pytest.fixture(scope="module")
def eir_page() -> ParsedRequest:
    html = (FIXTURES / "eir_anonymous_batch.html").read_bytes()
    return parse_ok(html, (FIXTURES / "eir_anonymous_batch.json").read_bytes())


def test_fixture_header(eir_page):
    r = eir_page
    assert r.markup_era == "current"
    assert r.request_id == 1190042 and r.has_json
    assert r.url_title == "llygredd_afon_water_quality"
    assert r.title == "Llygredd afon & “water quality” 🐟"
    assert r.requester_external is True
    assert r.requester.url_name is None and r.requester.name == "An anonymous user"
    assert (r.authority.url_name, r.authority.name, r.authority.site_id) == (
        "isle_of_anglesey_county_council",
        "Cyngor Sir Ynys Môn",
        417,
    )
    assert r.law == "eir" and r.eir_only is True and r.authority_not_subject is False
    assert r.restricted_correspondence is True and r.closed_to_correspondence is False
    assert (r.batch_id, r.batch_size) == (4321, 22)
    assert r.calculated_status == "partially_successful"
    assert r.described_state == "partially_successful"
    assert r.display_status == "Partially successful"
    assert r.status_sentence == "The request was partially successful."
    assert r.tags == [("batch", None), ("topic", "rivers:water")]
    assert r.created_at == datetime(2024, 1, 5, 9, 2, 3, 412000, tzinfo=UTC)  # JSON beats meta (ms precision)
    assert r.awaiting_description is False and r.prominence == "normal"
    assert r.warnings == []


def test_fixture_thread_order_and_resent(eir_page):
    ids = [(m.direction, m.message_id, m.position) for m in eir_page.messages]
    assert ids == [
        ("outgoing", 1500001, 0),
        ("incoming", 2600001, 1),
        ("outgoing", 1500002, 2),
        ("incoming", 2600002, 3),
        ("incoming", 2600003, 4),
    ]
    first = eir_page.messages[0]
    assert first.resent is True
    assert first.resent_at_text == "2024-01-09T10:00:00+00:00"
    assert first.sent_at == datetime(2024, 1, 5, 9, 2, 4, tzinfo=UTC)
    assert first.delivery_status == "sent"
    assert first.body == (
        "Annwyl Cyngor Sir Ynys Môn,\n\n"
        "Please send the river sampling results for Afon Cefni & Afon Braint,\n"
        "2022–2023 (“raw” data, not summaries).\n\n"
        "Diolch yn fawr 🙏\n[email address]"
    )


def test_fixture_unfolded_quote_kept_apart(eir_page):
    m = eir_page.messages[1]
    assert m.sender == "Gwenllian O’Brien, Cyngor Sir Ynys Môn"
    assert m.quoted_folded is False
    assert m.body == (
        "Dear Requester,\n\n"
        "We attach the 2022 results. The 2023 results are withheld under regulation 12(4)(d) – "
        "material in the course of completion.\n\n"
        "Yn gywir,\nTîm Rhyddid Gwybodaeth"
    )
    assert m.quoted_text == (
        "-----Original Message-----\nFrom: An anonymous user\nSent: 05 January 2024 09:02\n\n"
        "Please send the river sampling results for Afon Cefni & Afon Braint."
    )


def test_fixture_attachments(eir_page):
    xlsx, erased, hidden = eir_page.messages[1].attachments
    assert (xlsx.part, xlsx.database_id, xlsx.filename, xlsx.size_text, xlsx.content_icon) == (
        2,
        5510402,  # li#attachment-5510402: the database id, not the part
        "Samplu afon 2022.xlsx",
        "1.2M",
        "application_vnd.ms-excel",
    )
    assert xlsx.html_url == "/request/llygredd_afon_water_quality/response/2600001/attach/html/2/Samplu%20afon%202022.xlsx.html"
    assert xlsx.download_url.endswith("/attach/2/Samplu%20afon%202022.xlsx?cookie_passthrough=1")
    # No link gives the part of an erased or hidden attachment: it is unknown, keyed by list position.
    assert (erased.part, erased.database_id, erased.filename, erased.erased, erased.download_url, erased.size_text) == (
        None,
        5510403,
        "Personal data.pdf",
        True,
        None,
        None,
    )
    assert (hidden.part, hidden.database_id, hidden.hidden, hidden.erased, hidden.size_text) == (None, 5510404, True, False, None)
    assert [a.key_part for a in (xlsx, erased, hidden)] == [2, -2, -3]


def test_fixture_hidden_placeholder_subject_only(eir_page):
    hidden_out, placeholder, subject_only = eir_page.messages[2:]
    assert hidden_out.prominence == "hidden"
    assert hidden_out.hidden_notice == "This message has been hidden. It contained personal information."
    assert hidden_out.body == ""
    assert placeholder.body_placeholder is True and placeholder.body == "[ Email has no body, please see attachments ]"
    assert subject_only.subject_only is True and subject_only.quoted_folded is True
    assert subject_only.prominence == "requester_only"
    assert subject_only.body == "[Subject only] RE: EIR request – river sampling"


def test_fixture_annotation_with_link(eir_page):
    (a,) = eir_page.annotations
    assert (a.comment_id, a.position) == (130001, 5)
    assert (a.author.url_name, a.author.name) == ("dwr_cymru_watch", "Dŵr Cymru Watch")
    assert a.created_at == datetime(2024, 3, 1, 17, 45, 9, tzinfo=UTC)
    assert a.text == "The ICO decision on withheld data is IC-123.\nWorth a look > really."


def test_fixture_events(eir_page):
    ev = eir_page.events
    assert [e.event_type for e in ev] == ["sent", "resent", "response", "edit", "comment"]
    assert ev[0].outgoing_message_id == 1500001 and ev[0].display_status == "Clarification"
    assert ev[2].incoming_message_id == 2600001 and ev[2].calculated_state == "partially_successful"
    assert ev[2].last_described_at == datetime(2024, 2, 3, 10, 0, tzinfo=UTC)
    assert ev[3].display_status is None
    assert ev[4].comment_id == 130001
    assert ev[0].created_at_text == "2024-01-05T09:02:04.120+00:00"


def test_fixture_authority_details_come_from_the_json(eir_page):
    assert eir_page.authority_tags == [("local_council", None)]
    assert eir_page.authority_home_page == "https://www.anglesey.gov.wales"
    assert eir_page.authority_short_name is None  # "" in the JSON means none


def test_fixture_without_json_reads_page_only():
    r = parse_ok((FIXTURES / "eir_anonymous_batch.html").read_bytes())
    assert r.has_json is False and r.request_id is None and r.events == []
    assert r.authority_tags is None  # unknown without the JSON, not "no tags"
    assert r.created_at == datetime(2024, 1, 5, 9, 2, 3, tzinfo=UTC)
    assert r.updated_at == datetime(2024, 3, 1, 17, 45, 10, tzinfo=UTC)
    assert r.law == "eir" and r.described_state is None


# ------------------------------------------------------------ built pages (the sample site's renderer)

HANNAH = ("helpful_hannah", "Hannah")


def _thread() -> list[object]:
    return [
        out(1401188, datetime(2025, 7, 14, 9, 12, 7, tzinfo=BST)),
        inc(
            3011952,
            datetime(2025, 8, 3, 16, 40, 22, tzinfo=BST),
            sender="Jo Bloggs",
            attachments=[att(2, "Response 123.pdf", size="78K"), att(3, "data.csv", "text/csv", "4K")],
            quoted=["-----Original Message-----", "Please send me the list."],
        ),
        note(120045, HANNAH, datetime(2025, 8, 29, 20, 29, 16, tzinfo=BST), ["Good work, see https://example.org/x."]),
    ]


# status -> (described_state, awaiting_description, days after the request that "today" is)
STATUS_SETUPS = {
    "waiting_response": ("waiting_response", False, 10),
    "waiting_response_overdue": ("waiting_response", False, 35),
    "waiting_response_very_overdue": ("waiting_response", False, 70),
    "waiting_classification": ("waiting_response", True, 10),
    **{s: (s, False, 10) for s in (
        "not_held", "rejected", "successful", "partially_successful", "waiting_clarification", "gone_postal",
        "internal_review", "error_message", "requires_admin", "user_withdrawn", "attention_requested",
        "vexatious", "not_foi",
    )},
}


@pytest.mark.parametrize("status", sorted(STATUS_SETUPS))
def test_every_calculated_status(status):
    described, awaiting, days = STATUS_SETUPS[status]
    corpus, req = thread(_thread(), state=described, awaiting=awaiting, today=date(2025, 7, 14) + timedelta(days=days))
    r = parse_ok(page(corpus, req))
    assert r.calculated_status == status
    due = req.due_date() if status in ("waiting_response", "waiting_response_overdue") else None
    assert r.due_date == due
    assert "<" not in r.status_sentence and "  " not in r.status_sentence
    if due is not None:
        assert f"{due.day} {due:%B %Y} (details)" in r.status_sentence  # a leading-space day collapsed
    expected_start = {
        "waiting_response": "Currently waiting for a response from Exampleshire County Council",
        "not_held": "Exampleshire County Council did not have the information requested.",
        "rejected": "The request was refused by Exampleshire County Council.",
        "waiting_classification": "We're waiting for Sam Patel to read a recent response",
        "internal_review": "Waiting for an internal review by Exampleshire County Council",
        "user_withdrawn": "This request has been withdrawn by the person who made it.",
    }.get(status)
    if expected_start:
        assert r.status_sentence.startswith(expected_start)


def test_built_page_messages_and_times():
    r = parse_ok(page(*thread(_thread())))
    o, i = r.messages
    assert o.sent_at_text == "2025-07-14T09:12:07+01:00"
    assert o.sent_at == datetime(2025, 7, 14, 8, 12, 7, tzinfo=UTC) and o.sent_on == date(2025, 7, 14)
    assert o.body == "Dear Sir or Madam,\n\nPlease send me the list.\n\nYours faithfully,\nA Person"
    assert i.sender == "Jo Bloggs, Exampleshire County Council"
    assert i.quoted_folded is True and i.quoted_text is None
    assert i.body == "Dear Requester,\n\nPlease find attached our response.\n\nYours sincerely,\nFOI Team"
    pdf, csv = i.attachments
    assert (pdf.part, pdf.filename, pdf.size_text, pdf.content_icon) == (2, "Response 123.pdf", "78K", "application_pdf")
    assert pdf.html_url == "/request/allotment_waiting_lists/response/3011952/attach/html/2/Response%20123.pdf.html"
    assert csv.content_icon == "unknown"  # Alaveteli has no CSV icon: icon_unknown-<digest>.png
    assert pdf.database_id not in (None, 2) and csv.database_id not in (None, 3)
    (c,) = r.annotations
    assert (c.author.url_name, c.author.name, c.text) == ("helpful_hannah", "Hannah", "Good work, see https://example.org/x.")
    assert c.created_at_text == "2025-08-29T20:29:16+01:00"


def test_unfolded_quote_is_kept_apart():
    r = parse_ok(page(*thread(_thread()), unfold=True))
    i = r.messages[1]
    assert i.quoted_folded is False
    assert i.quoted_text == "-----Original Message-----\n\nPlease send me the list."
    assert i.body.endswith("FOI Team")


def test_leading_space_day_in_time_text():
    assert time_tag(datetime(2018, 8, 2, 13, 34, 13, tzinfo=BST)) == (
        '<time datetime="2018-08-02T13:34:13+01:00" title="2018-08-02 13:34:13 +0100"> 2 August 2018</time>'
    )


def test_closed_hidden_not_subject_and_named_external():
    corpus, req = thread(_thread(), user=None, external="Sheffield Star", allow="nobody", prominence="requester_only",
                         authority_tags=["foi_no"])
    r = parse_ok(page(corpus, req))
    assert r.closed_to_correspondence and r.hidden and r.authority_not_subject and not r.eir_only
    assert r.requester_external and r.requester == r.requester.__class__(None, "Sheffield Star")
    assert r.law == "foi"


def test_eir_only_batch_and_restricted():
    corpus, req = thread(_thread(), law="eir", authority_tags=["eir_only"], batch=(4321, 22), allow="authority_only")
    r = parse_ok(page(corpus, req))
    assert r.law == "eir" and r.eir_only and not r.authority_not_subject
    assert (r.batch_id, r.batch_size) == (4321, 22)
    assert r.restricted_correspondence and not r.closed_to_correspondence


def test_hidden_messages_and_prominence_classes():
    items = [
        out(7, datetime(2024, 11, 4, 10, 0, tzinfo=GMT), prominence="hidden"),
        inc(1, datetime(2024, 11, 5, 10, 0, tzinfo=GMT), prominence="hidden"),
        inc(2, datetime(2024, 11, 6, 10, 0, tzinfo=GMT), prominence="requester_only"),
    ]
    r = parse_ok(page(*thread(items)))
    assert [(m.direction, m.prominence, m.body) for m in r.messages] == [
        ("outgoing", "hidden", ""), ("incoming", "hidden", ""), ("incoming", "requester_only", "")]
    assert all(m.hidden_notice.startswith("This message has been hidden.") for m in r.messages)
    assert r.messages[1].sent_at_text == "2024-11-05T10:00:00+00:00"


def test_erased_and_hidden_attachments_have_no_part():
    items = [inc(9, datetime(2024, 3, 1, 12, 0, tzinfo=GMT), attachments=[
        att(2, "kept.pdf"), att(3, "gone.pdf", erased=True), att(4, "secret.pdf", hidden=True), att(5, "also kept.pdf")])]
    corpus, req = thread(items)
    m = req.messages[0]
    (msg,) = parse_ok(page(corpus, req)).messages
    assert [(a.part, a.erased, a.hidden, a.key_part) for a in msg.attachments] == [
        (2, False, False, 2), (None, True, False, -2), (None, False, True, -3), (5, False, False, 5)]
    assert [a.database_id for a in msg.attachments] == [m.part_database_id(p) for p in (2, 3, 4, 5)]
    assert [a.filename for a in msg.attachments] == ["kept.pdf", "gone.pdf", "", "also kept.pdf"]


def test_entities_nbsp_and_br_runs():
    corpus, req = thread([inc(5, datetime(2024, 1, 1, tzinfo=GMT), ["BODY"])])
    raw = "<p>Fish &amp; chips&nbsp;&nbsp;shop &lt;b&gt; &#x1F600;\n<br />  \n<br />next&#8217;s</p>\n<p>   </p><p>last</p>"
    html = page(corpus, req).replace(b"<p>BODY</p>", raw.encode())
    assert parse_ok(html).messages[0].body == "Fish & chips shop <b> 😀\n\nnext’s\n\nlast"


def test_json_fills_user_ids_events_and_law():
    corpus, req = thread(_thread(), awaiting=True)
    req.tags = [("foo", None)]
    r = parse_ok(page(corpus, req), json_for(corpus, req))
    assert r.request_id == 1290477 and r.has_json
    assert (r.requester.url_name, r.requester.site_id) == ("sam_patel_3", 884201)
    assert r.authority.site_id == 2291
    assert r.awaiting_description is True and r.tags == [("foo", None)]
    assert [(e.event_type, e.outgoing_message_id, e.incoming_message_id, e.comment_id) for e in r.events] == [
        ("sent", 1401188, None, None), ("response", None, 3011952, None), ("comment", None, None, 120045)]
    assert r.events[0].event_id == 5123001 and r.events[0].display_status == "Clarification"


def test_json_for_another_request_is_left_out_with_a_warning():
    corpus, req = thread(_thread())
    other_corpus, other = thread(_thread(), slug="something_else")
    r = parse_ok(page(corpus, req), json_for(other_corpus, other))
    assert r.has_json is False and r.request_id is None and r.events == []
    assert [w.kind for w in r.warnings] == ["bad_json"]
    assert "something_else" in r.warnings[0] and "allotment_waiting_lists" in r.warnings[0]


def test_bad_json_keeps_the_page_and_says_why():
    r = parse_ok(page(*thread(_thread())), b'{"id": 12, "url_title": ')
    assert r.has_json is False and len(r.messages) == 2
    assert [w.kind for w in r.warnings] == ["bad_json"]
    assert r.warnings[0].startswith("JSON ignored: request JSON is not valid JSON")


def test_external_json_user_name():
    corpus, req = thread(_thread(), user=None, external="Sheffield Star")
    r = parse_ok(page(corpus, req), json_for(corpus, req))
    assert r.requester_external and r.requester.name == "Sheffield Star" and r.requester.url_name is None


def test_url_supplies_missing_url_title():
    html = page(*thread(_thread()))
    html = html.replace(b"allotment_waiting_lists", b"x")  # strip the slug from og:url, json link and cplinks...
    html = html.replace(b'<meta property="og:url" content="https://www.whatdotheyknow.com/request/x">', b"")
    html = html.replace(b'href="/request/x.json"', b'href="/other.json"').replace(b"/request/x#", b"/y#")
    r = parse_ok(html, url="https://www.whatdotheyknow.com/request/from_the_url")
    assert r.url_title == "from_the_url"


def test_large_thread_all_messages_found():
    t0 = datetime(2023, 1, 2, 9, 0, tzinfo=GMT)
    items = [out(10_000 + i, t0 + timedelta(days=i), event_type="followup_sent" if i else "sent") if i % 2 == 0
             else inc(20_000 + i, t0 + timedelta(days=i)) for i in range(200)]
    r = parse_ok(page(*thread(items)))
    assert len(r.messages) == 200
    assert [m.position for m in r.messages] == list(range(200))
    assert r.messages[-1].message_id == 20_199


def test_request_id_from_foi_masks_past_many_brackets():
    # Current pages link by url_title: the id is read from "[FOI #n email]" masks in the text,
    # wherever they sit among other "[" (a hundred of them here, before and between the masks).
    brackets = " ".join(f"[note {n}]" for n in range(100))
    items = [out(1401188, datetime(2025, 7, 14, 9, 12, 7, tzinfo=BST),
                  [brackets, "Reply to [FOI #4471 email] please.", f"{brackets} [FOI #4471 email] and [FOI #12 email]"])]
    r = parse_ok(page(*thread(items)))
    assert r.request_id == 4471
    assert [w.kind for w in r.warnings] == ["mismatch"] and "[12, 4471]" in r.warnings[0]
