"""The request parser on the 13 real WhatDoTheyKnow pages saved in August 2019.

Every expected value below was read off the page HTML itself (ids, senders,
<time datetime> values, status classes, attachment names and sizes).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from scraper.pages.request import parse_request
from scraper.records import ParsedRequest

BST = timezone(timedelta(hours=1))
MHCLG = "Ministry of Housing, Communities and Local Government"
DESPATCH = f"Despatch Box, {MHCLG}"

# file -> (request id, url_title, title, requester url_name, requester name, status class,
#          due date, closed, [(kind, id, sender, datetime text)], {incoming id: [(part, filename, size)]})
PAGES = {
    "88779.html": (
        583390, "misfeasance_in_public_office_5", "Misfeasance in Public Office", "a_wilkinson_2", "A Wilkinson",
        "not_held", None, False,
        [("outgoing", 910198, "A Wilkinson", "2019-06-16T10:57:21+01:00"),
         ("incoming", 1398278, DESPATCH, "2019-07-15T15:31:56+01:00"),
         ("comment", 88748, "A Wilkinson", "2019-07-18T12:40:11+01:00"),
         ("comment", 88779, "A Wilkinson", "2019-07-21T05:55:35+01:00")],
        {1398278: [(2, "Response.pdf", "82K")]},
    ),
    "921139.html": (
        576357, "register_our_marriage_campaign", "Register Our Marriage campaign", "vishal_vora", "Vishal Vora",
        "waiting_response_very_overdue", None, False,
        [("outgoing", 899680, "Vishal Vora", "2019-05-14T15:49:37+01:00"),
         ("incoming", 1367168, DESPATCH, "2019-05-16T16:45:09+01:00"),
         ("outgoing", 908696, "Vishal Vora", "2019-06-11T14:04:41+01:00"),
         ("outgoing", 909418, "Vishal Vora", "2019-06-13T08:39:44+01:00"),
         ("incoming", 1383332, DESPATCH, "2019-06-14T14:43:00+01:00"),
         ("incoming", 1383649, DESPATCH, "2019-06-17T09:00:53+01:00"),
         ("outgoing", 910414, "Vishal Vora", "2019-06-17T12:33:20+01:00"),
         ("incoming", 1384004, f"FoI Requests, {MHCLG}", "2019-06-17T13:10:59+01:00"),
         ("outgoing", 921139, "Vishal Vora", "2019-07-18T15:39:09+01:00")],
        {1383649: [(2, "Response all information to be supplied.pdf", "149K")]},
    ),
    "1000437.html": (
        412769, "psl_schemes", "PSL Schemes", "dms_ltd", "DMS Ltd", "not_held", None, True,
        [("outgoing", 658888, "DMS Ltd", "2017-06-17T11:26:36+01:00"),
         ("incoming", 993858, "Despatch Box", "2017-06-19T14:06:25+01:00"),
         ("incoming", 993860, "Despatch Box", "2017-06-19T14:07:12+01:00"),
         ("incoming", 1000437, "Despatch Box", "2017-07-03T15:05:34+01:00")],
        {1000437: [(2, "Response not held.pdf", "114K")]},
    ),
    "1387653.html": (
        582514, "current_acreage_of_private_garde", "Current acreage of private gardens", "jonathan_sheppard_3",
        "Jonathan Sheppard", "successful", None, False,
        [("outgoing", 908880, "Jonathan Sheppard", "2019-06-11T20:29:28+01:00"),
         ("incoming", 1382236, DESPATCH, "2019-06-12T17:15:13+01:00"),
         ("incoming", 1387653, DESPATCH, "2019-06-24T17:07:50+01:00")],
        {1387653: [(2, "Response all information to be supplied.pdf", "102K")]},
    ),
    "1390478.html": (
        584705, "private_parking_companies_planni", "Private Parking Companies Planning Violations", "chris_r_2",
        "Chris R", "not_held", None, False,
        [("outgoing", 912154, "Chris R", "2019-06-23T23:12:54+01:00"),
         ("incoming", 1387821, DESPATCH, "2019-06-25T10:43:00+01:00"),
         ("incoming", 1390478, DESPATCH, "2019-07-01T12:12:43+01:00")],
        {1390478: [(2, "Response not held.pdf", "107K")]},
    ),
    "1394569.html": (
        584896, "office_to_residential_conversion_2", "Office to residential conversions", "steven_lees_2",
        "Steven Lees", "waiting_classification", None, False,
        [("outgoing", 912442, "Steven Lees", "2019-06-24T21:09:19+01:00"),
         ("incoming", 1387978, DESPATCH, "2019-06-25T12:50:32+01:00"),
         ("incoming", 1394569, DESPATCH, "2019-07-08T16:14:09+01:00")],
        {1394569: [(2, "Response not held.pdf", "102K")]},
    ),
    "1396660.html": (
        582792, "guidance_for_local_authorities_o", "Guidance for Local Authorities on Councillors contact with the public",
        "derrick_chester", "Derrick Chester", "successful", None, False,
        [("outgoing", 909264, "Derrick Chester", "2019-06-12T14:43:21+01:00"),
         ("incoming", 1396660, f"Urmi Solanki, {MHCLG}", "2019-07-11T11:21:31+01:00")],
        {1396660: [(3, "image001.png", "8K"), (4, "190709 DC Councillor conduct.pdf", "89K")]},
    ),
    "1398788.html": (
        589128, "guidance_on_sprinklers", "Guidance on Sprinklers", "sean_brawley", "Sean Brawley",
        "waiting_response", date(2019, 8, 12), False,
        [("outgoing", 918888, "Sean Brawley", "2019-07-12T21:03:11+01:00"),
         ("incoming", 1398788, DESPATCH, "2019-07-16T12:42:47+01:00")],
        {},
    ),
    "1399669.html": (
        583618, "chapel_en_le_frith_allotments", "Chapel-en-le-Frith allotments", "nigel_wetters_gourlay",
        "Nigel Wetters Gourlay", "waiting_response_overdue", date(2019, 7, 16), False,
        [("outgoing", 910538, "Nigel Wetters Gourlay", "2019-06-17T17:58:10+01:00"),
         ("incoming", 1384642, DESPATCH, "2019-06-18T12:27:31+01:00"),
         ("incoming", 1399669, DESPATCH, "2019-07-17T16:39:09+01:00")],
        {},
    ),
    "1400678.html": (
        589132, "pensions_release", "Pensions Release", "sean_brawley", "Sean Brawley", "rejected", None, False,
        [("outgoing", 918892, "Sean Brawley", "2019-07-12T21:14:42+01:00"),
         ("incoming", 1398826, DESPATCH, "2019-07-16T13:33:32+01:00"),
         ("incoming", 1400678, DESPATCH, "2019-07-18T16:11:29+01:00")],
        {1400678: [(2, "Response information exempt.pdf", "103K")]},
    ),
    "1402524.html": (
        586149, "definition_of_the_word_forestry",
        "Definition Of the word 'Forestry' and 'Reasonably ' in Planning Terms", "jay_28", "jay",
        "waiting_classification", None, False,
        [("outgoing", 914575, "jay", "2019-07-02T14:18:47+01:00"),
         ("incoming", 1402524, DESPATCH, "2019-07-22T16:42:26+01:00")],
        {1402524: [(2, "Response.pdf", "67K")]},
    ),
    "1404563.html": (
        591509, "foi_contact_details_for_all_loca", "FOI Contact Details for All Local Councils", "james_smith_31",
        "James Smith", "waiting_classification", None, False,
        [("outgoing", 922275, "James Smith", "2019-07-23T14:14:34+01:00"),
         ("incoming", 1403041, DESPATCH, "2019-07-23T14:43:28+01:00"),
         ("incoming", 1404563, DESPATCH, "2019-07-25T10:10:19+01:00")],
        {1404563: [(2, "Response not held.pdf", "108K")]},
    ),
    "1405635.html": (
        592770, "golders_green_visit", "Golders Green visit", "g_webber", "G Webber", "waiting_response",
        date(2019, 8, 27), False,
        [("outgoing", 923880, "G Webber", "2019-07-26T15:29:26+01:00"),
         ("incoming", 1405632, DESPATCH, "2019-07-26T16:05:15+01:00"),
         ("incoming", 1405635, DESPATCH, "2019-07-26T16:06:47+01:00")],
        {},
    ),
}


def _parse(pages_2019, name) -> ParsedRequest:
    result = parse_request((pages_2019 / name).read_bytes())
    assert isinstance(result, ParsedRequest), result
    return result


@pytest.mark.parametrize("name", sorted(PAGES))
def test_2019_page_header(pages_2019, name):
    rid, slug, title, user, user_name, status, due, closed, _items, _att = PAGES[name]
    req = _parse(pages_2019, name)
    assert req.request_id == rid
    assert req.url_title == slug
    assert req.title == title
    assert (req.requester.url_name, req.requester.name) == (user, user_name)
    assert req.requester_external is False
    assert (req.authority.url_name, req.authority.name) == ("mhclg", MHCLG)
    assert req.law == "foi"
    assert req.calculated_status == status
    assert req.due_date == due
    assert req.closed_to_correspondence is closed
    assert req.restricted_correspondence is False
    assert req.hidden is False
    assert req.markup_era == "2019"
    assert req.has_json is False and req.events == []
    assert req.batch_id is None
    assert req.warnings == []


@pytest.mark.parametrize("name", sorted(PAGES))
def test_2019_page_thread(pages_2019, name):
    *_head, items, attachments = PAGES[name]
    req = _parse(pages_2019, name)
    got = [(m.direction, m.message_id, m.sender, m.sent_at_text, m.position) for m in req.messages]
    got += [("comment", a.comment_id, a.author.name, a.created_at_text, a.position) for a in req.annotations]
    got.sort(key=lambda row: row[4])
    assert [row[:4] for row in got] == items
    assert [row[4] for row in got] == list(range(len(items)))
    for m in req.messages:
        assert m.sent_at == datetime.fromisoformat(m.sent_at_text)
        assert m.sent_at.utcoffset() == timedelta(hours=1)
        assert m.body and not m.body.startswith(" ")
        assert m.prominence == "normal"
        assert m.resent is False and m.body_placeholder is False and m.subject_only is False
        if m.direction == "outgoing":
            assert m.delivery_status == "delivered"
        got_att = [(a.part, a.filename, a.size_text) for a in m.attachments]
        assert got_att == attachments.get(m.message_id, [])
        for a in m.attachments:
            assert a.download_url == (
                f"/request/{req.request_id}/response/{m.message_id}/attach/{a.part}/"
                f"{a.filename.replace(' ', '%20')}?cookie_passthrough=1"
            )
            assert a.erased is False and a.hidden is False


def test_2019_meta_times(pages_2019):
    req = _parse(pages_2019, "88779.html")
    assert req.created_at == datetime(2019, 6, 16, 10, 57, 20, tzinfo=BST)
    assert req.updated_at == datetime(2019, 7, 16, 11, 38, 45, tzinfo=BST)


def test_2019_status_sentences(pages_2019):
    assert _parse(pages_2019, "1398788.html").status_sentence == (
        f"Currently waiting for a response from {MHCLG}, they should respond promptly and normally "
        "no later than 12 August 2019 (details)."
    )
    assert _parse(pages_2019, "1400678.html").status_sentence == f"The request was refused by {MHCLG}."
    assert _parse(pages_2019, "1404563.html").status_sentence == (
        "We're waiting for James Smith to read recent responses and update the status."
    )


def test_2019_annotation_text(pages_2019):
    req = _parse(pages_2019, "88779.html")
    a = req.annotations[0]
    assert a.author.url_name == "a_wilkinson_2"
    assert a.created_at == datetime(2019, 7, 18, 12, 40, 11, tzinfo=BST)
    assert a.text == "Notoriously difficult to prove I am advised. Dire situation."


def test_2019_bodies_keep_paragraphs_and_line_breaks(pages_2019):
    req = _parse(pages_2019, "88779.html")
    outgoing, incoming = req.messages
    assert outgoing.body == (
        "Dear Ministry of Housing, Communities and Local Government,\n\n"
        "What is the time limit for taking action against a person or persons holding public office "
        "who may have committed Misfeasance in Public Office?\n\n"
        "Yours faithfully,\n\nA Wilkinson"
    )
    assert incoming.body == (
        "Please find attached a response to your recent email to MHCLG.\n\n"
        "Regards.\nNOTE: Please do not edit the subject line when replying to this email."
    )
    assert incoming.attachments[0].html_url == "/request/583390/response/1398278/attach/html/2/Response.pdf.html"
    assert incoming.attachments[0].content_icon == "application_pdf"


def test_2019_folded_quotes(pages_2019):
    req = _parse(pages_2019, "921139.html")
    folded = {m.message_id for m in req.messages if m.quoted_folded}
    assert folded == {1383332, 1384004}
    m = next(m for m in req.messages if m.message_id == 1383332)
    assert m.quoted_text is None
    assert "show quoted sections" not in m.body
    assert m.body.startswith("Dear Dr Vora\n\nPlease our apologies for the delay in responding to you.")
    assert m.body.endswith("Yours sincerely,\n\nDr Vishal Vora")


def test_2019_png_attachment_has_no_html_view(pages_2019):
    req = _parse(pages_2019, "1396660.html")
    png, pdf = req.messages[1].attachments
    assert png.html_url is None and png.content_icon == "image_png"
    assert pdf.html_url.endswith("/attach/html/4/190709%20DC%20Councillor%20conduct.pdf.html")


def test_url_argument_does_not_override_page_slug(pages_2019):
    html = (pages_2019 / "88779.html").read_bytes()
    req = parse_request(html, url="https://www.whatdotheyknow.com/request/something_else")
    assert req.url_title == "misfeasance_in_public_office_5"
