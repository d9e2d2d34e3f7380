"""The request parser on current-markup pages: hand-written fixtures and built pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from scraper.pages.request import parse_request
from scraper.records import ParsedRequest
from tests.scraper.pages.current_markup import (
    BST,
    GMT,
    STATUS_SENTENCES,
    Att,
    Comment,
    In,
    Out,
    Page,
    build_json,
    build_page,
    time_tag,
)

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
    assert (xlsx.part, xlsx.filename, xlsx.size_text, xlsx.content_icon) == (
        2,
        "Samplu afon 2022.xlsx",
        "1.2M",
        "application_vnd.ms-excel",
    )
    assert xlsx.html_url == "/request/llygredd_afon_water_quality/response/2600001/attach/html/2/Samplu%20afon%202022.xlsx.html"
    assert xlsx.download_url.endswith("/attach/2/Samplu%20afon%202022.xlsx?cookie_passthrough=1")
    assert (erased.part, erased.filename, erased.erased, erased.download_url, erased.size_text) == (
        3,
        "Personal data.pdf",
        True,
        None,
        None,
    )
    assert (hidden.part, hidden.hidden, hidden.erased, hidden.size_text) == (4, True, False, None)


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


# ------------------------------------------------------------ built pages


def _thread() -> list[object]:
    return [
        Out(1401188, "Sam Patel", datetime(2025, 7, 14, 9, 12, 7, tzinfo=BST)),
        In(
            3011952,
            "Jo Bloggs,\n        Exampleshire County Council",
            datetime(2025, 8, 3, 16, 40, 22, tzinfo=BST),
            attachments=[Att(2, "Response 123.pdf", "78K"), Att(3, "data.csv", "4K", icon="text_csv", view=False)],
            fold="show",
        ),
        Comment(120045, "helpful_hannah", "Hannah", datetime(2025, 8, 29, 20, 29, 16, tzinfo=BST), "Good <em>work</em>."),
    ]


@pytest.mark.parametrize("status", sorted(STATUS_SENTENCES))
def test_every_calculated_status(status):
    due = date(2025, 8, 1) if status in ("waiting_response", "waiting_response_overdue") else None
    r = parse_ok(build_page(Page(status=status, due=due, items=_thread())))
    assert r.calculated_status == status
    assert r.due_date == due
    assert "<" not in r.status_sentence and "  " not in r.status_sentence
    if due is not None:
        assert " 1 August 2025 (details)" in r.status_sentence  # the leading-space day collapsed
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
    r = parse_ok(build_page(Page(items=_thread())))
    out, inc = r.messages
    assert out.sent_at_text == "2025-07-14T09:12:07+01:00"
    assert out.sent_at == datetime(2025, 7, 14, 8, 12, 7, tzinfo=UTC)
    assert out.body == "Dear Sir or Madam,\n\nPlease send me the list.\n\nYours faithfully,\nA Person"
    assert inc.sender == "Jo Bloggs, Exampleshire County Council"
    assert inc.quoted_folded is True and inc.quoted_text is None
    assert inc.body == "Dear Requester,\n\nPlease find attached our response.\n\nYours sincerely,\nFOI Team"
    pdf, csv = inc.attachments
    assert (pdf.part, pdf.filename, pdf.size_text) == (2, "Response 123.pdf", "78K")
    assert pdf.html_url == "/request/allotment_waiting_lists/response/3011952/attach/html/2/Response%20123.pdf.html"
    assert csv.html_url is None and csv.content_icon == "text_csv"
    (c,) = r.annotations
    assert (c.author.url_name, c.author.name, c.text) == ("helpful_hannah", "Hannah", "Good work.")
    assert c.created_at_text == "2025-08-29T20:29:16+01:00"


def test_leading_space_day_in_time_text():
    assert time_tag(datetime(2018, 8, 2, 13, 34, 13, tzinfo=BST)) == (
        '<time datetime="2018-08-02T13:34:13+01:00" title="2018-08-02 13:34:13 +0100"> 2 August 2018</time>'
    )


def test_closed_hidden_not_subject_and_named_external():
    page = Page(user=None, external_name="Sheffield Star", closed=True, hidden_request=True, not_subject=True, items=_thread())
    r = parse_ok(build_page(page))
    assert r.closed_to_correspondence and r.hidden and r.authority_not_subject
    assert r.requester_external and r.requester == r.requester.__class__(None, "Sheffield Star")
    assert r.law == "foi" and not r.eir_only


def test_hidden_incoming_message_and_prominence_classes():
    items = [
        In(1, "Council", datetime(2024, 11, 5, 10, 0, tzinfo=GMT), prominence="hidden", hidden_notice="This message has been hidden."),
        In(2, "Council", datetime(2024, 11, 6, 10, 0, tzinfo=GMT), prominence="requester_only"),
    ]
    r = parse_ok(build_page(Page(items=items)))
    assert [(m.prominence, m.hidden_notice) for m in r.messages] == [
        ("hidden", "This message has been hidden."),
        ("requester_only", None),
    ]
    assert r.messages[0].sent_at_text == "2024-11-05T10:00:00+00:00"


def test_entities_nbsp_and_br_runs():
    raw = "<p>Fish &amp; chips&nbsp;&nbsp;shop &lt;b&gt; &#x1F600;\n<br />  \n<br />next&#8217;s</p>\n<p>   </p><p>last</p>"
    r = parse_ok(build_page(Page(items=[In(5, "Council", datetime(2024, 1, 1, tzinfo=GMT), raw_body=raw)])))
    assert r.messages[0].body == "Fish & chips shop <b> 😀\n\nnext’s\n\nlast"


def test_json_fills_user_ids_events_and_law():
    page = Page(items=_thread())
    events = [
        {"id": 5123001, "event_type": "sent", "created_at": "2025-07-14T09:12:07.102+01:00", "described_state": "waiting_response",
         "calculated_state": "waiting_response", "last_described_at": None, "incoming_message_id": None,
         "outgoing_message_id": 1401188, "comment_id": None, "display_status": "Clarification"},
    ]
    r = parse_ok(build_page(page), build_json(page, 1290477, events, awaiting_description=True, tags=[["foo", None]]))
    assert r.request_id == 1290477 and r.has_json
    assert (r.requester.url_name, r.requester.site_id) == ("sam_patel_3", 884201)
    assert r.authority.site_id == 2291
    assert r.awaiting_description is True and r.tags == [("foo", None)]
    assert r.events[0].event_id == 5123001 and r.events[0].outgoing_message_id == 1401188


def test_json_for_another_request_is_ignored_with_warning():
    page = Page(items=_thread())
    other = Page(slug="something_else")
    r = parse_ok(build_page(page), build_json(other, 99))
    assert r.has_json is False and r.request_id is None
    assert any("something_else" in w for w in r.warnings)


def test_bad_json_keeps_html_and_warns():
    r = parse_ok(build_page(Page(items=_thread())), b'{"id": 12, "url_title": ')
    assert r.has_json is False and len(r.messages) == 2
    assert any(w.startswith("JSON ignored: request JSON is not valid JSON") for w in r.warnings)


def test_external_json_user_name():
    page = Page(user=None, external_name="Sheffield Star", items=_thread())
    r = parse_ok(build_page(page), build_json(page, 7))
    assert r.requester_external and r.requester.name == "Sheffield Star" and r.requester.url_name is None


def test_url_supplies_missing_url_title():
    html = build_page(Page(items=_thread()))
    html = html.replace(b"allotment_waiting_lists", b"x")  # strip the slug from og:url, json link and cplinks...
    html = html.replace(b'<meta property="og:url" content="https://www.whatdotheyknow.com/request/x" />', b"")
    html = html.replace(b'href="/request/x.json"', b'href="/other.json"').replace(b"/request/x#", b"/y#")
    r = parse_ok(html, url="https://www.whatdotheyknow.com/request/from_the_url")
    assert r.url_title == "from_the_url"


def test_large_thread_all_messages_found():
    items: list[object] = []
    t0 = datetime(2023, 1, 2, 9, 0, tzinfo=GMT)
    for i in range(200):
        when = t0 + timedelta(days=i)
        items.append(Out(10_000 + i, "Sam Patel", when) if i % 2 == 0 else In(20_000 + i, "Council", when))
    r = parse_ok(build_page(Page(items=items)))
    assert len(r.messages) == 200
    assert [m.position for m in r.messages] == list(range(200))
    assert r.messages[-1].message_id == 20_199
