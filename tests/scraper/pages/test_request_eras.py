"""Every markup era, read completely: the fixtures under tests/fixtures/eras/.

Each fixture is a story (``tests.support.eras.stories``) rendered in one
era's markup.  What the parser finds is compared with the story the page was
made from, item by item, and a few values are checked as literals read off
the fixture files themselves.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from corpus.sample_site.data import LONDON
from corpus.sample_site.render import content_icon
from scraper.pages.request import parse_request
from scraper.records import ParsedRequest, ParseFailure
from tests.support.eras.common import shown_events
from tests.support.eras.generate import ERA_FIXTURES, EraFixture

TIMED = {"2014-2016", "2016-2018", "2019", "current"}  # eras whose pages carry <time datetime>
HIDDEN_SHOWN = {"2011-2014", "2014-2016", "2016-2018", "current"}  # a hidden message appears as a notice
SENDER_OF_HIDDEN = {"2016-2018", "current"}  # the header (sender, date) stays above the notice


def _parse(fx: EraFixture, with_json: bool) -> ParsedRequest:
    html = fx.html_path.read_bytes()
    json_bytes = fx.json_path.read_bytes() if with_json and fx.json_path else None
    result = parse_request(html, json_bytes)
    assert isinstance(result, ParsedRequest), result
    return result


def _expected_messages(fx: EraFixture, corpus, req) -> list[dict]:
    auth = corpus.authority_of(req)
    requester = req.from_name or (corpus.users[req.user_url_name].name if req.user_url_name else req.external_name)
    out: list[dict] = []
    seen: dict[tuple[str, int], dict] = {}
    position = 0
    for ev in shown_events(req):
        m = ev["_obj"]
        if ev["event_type"] == "comment":
            position += 1
            continue
        if m.prominence != "normal" and fx.era not in HIDDEN_SHOWN:
            continue
        key = (m.direction, m.id)
        if key in seen:  # a resent block joins the message it sent again
            seen[key]["resent"] = True
            continue
        hidden = m.prominence != "normal"
        if m.direction == "incoming":
            sender = f"{m.sender_name}, {auth.name}" if m.sender_name != auth.name else auth.name
        else:
            sender = requester
        if hidden and fx.era not in SENDER_OF_HIDDEN:
            sender = None
        local = m.sent_at.astimezone(LONDON) if fx.era != "current" else m.sent_at
        item = {
            "direction": m.direction, "id": m.id, "position": position, "sender": sender,
            "sent_on": None if hidden and fx.era not in SENDER_OF_HIDDEN else local.date(),
            "sent_at_text": (local.isoformat() if fx.era in TIMED else local.date().isoformat())
            if not (hidden and fx.era not in SENDER_OF_HIDDEN) else None,
            "prominence": m.prominence, "resent": False,
            "body": "" if hidden else "\n\n".join(m.paragraphs),
            "folded": bool(m.quoted) and not hidden,
            "attachments": [] if hidden else [_expected_attachment(a) for a in m.attachments],
        }
        seen[key] = item
        out.append(item)
        position += 1
    return out


def _expected_attachment(a) -> tuple:
    if a.hidden:
        return (None, "", None, None)  # no link, so no part; no name either
    if a.erased:
        return (None, a.filename, None, None)
    return (a.part, a.filename, a.size_text, content_icon(a.content_type)[5:].removesuffix("_large"))


def _got_messages(r: ParsedRequest) -> list[dict]:
    return [{
        "direction": m.direction, "id": m.message_id, "position": m.position, "sender": m.sender,
        "sent_on": m.sent_on, "sent_at_text": m.sent_at_text, "prominence": m.prominence, "resent": m.resent,
        "body": m.body, "folded": m.quoted_folded,
        "attachments": [(a.part, a.filename, a.size_text, a.content_icon) for a in m.attachments],
    } for m in r.messages]


@pytest.mark.parametrize("fx", ERA_FIXTURES, ids=lambda fx: f"{fx.era}/{fx.stem}")
def test_era_fixture_reads_completely(fx):
    corpus, req = fx.story()
    r = _parse(fx, with_json=False)
    auth = corpus.authority_of(req)
    assert r.markup_era == fx.era
    assert r.url_title == req.url_title and r.title == req.title
    assert r.calculated_status == req.calculated_status(corpus.today, auth)
    assert (r.authority.url_name, r.authority.name) == (auth.url_name, auth.name)
    if req.user_url_name:
        assert (r.requester.url_name, r.requester.name, r.requester_external) == (
            req.user_url_name, corpus.users[req.user_url_name].name, False)
    else:
        assert (r.requester.url_name, r.requester.name, r.requester_external) == (None, req.external_name, True)
    assert r.warnings == []
    assert _got_messages(r) == _expected_messages(fx, corpus, req)
    expected_notes = [(a.id, a.user_url_name, a.user_name, "\n\n".join(a.paragraphs)) for a in req.annotations if a.visible]
    assert [(a.comment_id, a.author.url_name, a.author.name, a.text) for a in r.annotations] == expected_notes
    for a, note in zip(r.annotations, req.annotations):
        local = note.created_at.astimezone(LONDON) if fx.era != "current" else note.created_at
        assert a.created_on == local.date()
        assert a.created_at_text == (local.isoformat() if fx.era in TIMED else local.date().isoformat())
    positions = sorted([m.position for m in r.messages] + [a.position for a in r.annotations])
    assert positions == list(range(len(positions)))


@pytest.mark.parametrize("fx", [fx for fx in ERA_FIXTURES if fx.json is not None], ids=lambda fx: f"{fx.era}/{fx.stem}")
def test_era_fixture_with_its_json(fx):
    corpus, req = fx.story()
    r = _parse(fx, with_json=True)
    assert r.has_json and r.request_id == req.id and r.warnings == []
    assert r.created_at == req.created_at.replace(microsecond=0) or r.created_at == req.created_at
    assert len(r.events) == len(req.events())
    # Where the page shows only dates, the events give each message its time (with the offset).
    by_id = {(m.direction, m.id): m for m in req.messages if m.event_type not in ("resent", "followup_resent")}
    for m in r.messages:
        if m.sent_on is None:
            continue
        story = by_id[(m.direction, m.message_id)]
        event_time = story.received_at if story.direction == "incoming" and story.received_at else story.sent_at
        if fx.era in TIMED:
            assert m.sent_at == story.sent_at  # the page's own <time> stands
        else:
            assert m.sent_at == event_time and m.sent_at_text == event_time.astimezone(LONDON).isoformat()
    for a, note in zip(r.annotations, req.annotations):
        assert a.created_at == note.created_at


# ------------------------------------------------------------ literals read off the fixture files


def _fixture(era: str, stem: str) -> EraFixture:
    return next(fx for fx in ERA_FIXTURES if fx.era == era and fx.stem == stem)


def test_2009_literals():
    r = _parse(_fixture("2009-2011", "council_tax_exemptions_for_car"), with_json=False)
    assert r.law == "foi" and r.request_id == 105337  # "A Freedom of Information request to"; /request/105337/response/...
    first = r.messages[0]
    assert (first.message_id, first.sent_at, first.sent_at_text, first.sent_on) == (110011, None, "2010-03-05", date(2010, 3, 5))
    assert first.resent is True and first.resent_at_text == "2010-03-07"
    response = r.messages[2]
    assert response.sender == "Priya Shah, Northbridge City Council"
    assert [(a.part, a.content_icon, a.database_id, a.download_url) for a in response.attachments] == [
        (2, "application_pdf", None, "/request/105337/response/262845/attach/2/Response%20FOI%204471.pdf"),
        (3, "application_vnd.ms-excel", None, "/request/105337/response/262845/attach/3/Exemptions%202009-11.xls"),
    ]
    assert [m.message_id for m in r.messages] == [110011, 260311, 262845, 114502, 271555]  # 270001 was never shown


def test_2011_literals():
    r = _parse(_fixture("2011-2014", "council_tax_exemptions_for_car"), with_json=False)
    acknowledgement = r.messages[1]
    assert acknowledgement.sender == "Freedom of Information Team, Northbridge City Council"  # "From:" dropped
    assert acknowledgement.sent_on == date(2012, 3, 6)
    hidden = r.messages[3]
    assert (hidden.message_id, hidden.prominence, hidden.sent_on, hidden.body) == (270001, "requester_only", None, "")
    assert hidden.hidden_notice.startswith("This message has been hidden.")
    assert r.annotations[0].created_at_text == "2012-03-30"


def test_2011_overdue_eir_external_literals():
    r = _parse(_fixture("2011-2014", "storm_overflow_spill_logs"), with_json=False)
    assert r.calculated_status == "waiting_response_overdue"
    assert r.due_date == date(2012, 10, 29)  # "by <strong>29 October 2012</strong>"
    assert r.law == "eir" and r.requester_external and r.requester.name == "Riverside Residents"


def test_2014_literals():
    r = _parse(_fixture("2014-2016", "council_tax_exemptions_for_car"), with_json=False)
    response = r.messages[2]
    assert response.sent_at_text == "2015-03-29T16:45:10+01:00"
    assert response.sent_at == datetime(2015, 3, 29, 15, 45, 10, tzinfo=timezone.utc)
    assert response.attachments[0].content_icon == "application_pdf"  # /assets/icon_application_pdf_large-<md5>.png
    assert r.messages[0].sent_at_text == "2015-03-05T09:14:22+00:00"


def test_2016_literals():
    r = _parse(_fixture("2016-2018", "council_tax_exemptions_for_car"), with_json=False)
    assert r.request_id == 1005337  # /request/1005337/response/1162845/attach/2/...
    assert r.messages[0].delivery_status == "delivered"
    assert r.messages[0].sender == "Ellen Marsh"  # the words before the date link
    hidden = r.messages[3]
    assert (hidden.sender, hidden.prominence, hidden.sent_at_text) == (
        "Priya Shah, Northbridge City Council", "requester_only", "2017-04-20T11:30:00+01:00")
    assert r.created_at == datetime(2017, 3, 5, 9, 14, 20, tzinfo=timezone.utc)


def test_current_ukrainian_page_reads_without_english():
    fx = _fixture("current", "dogovory_na_remont_dorig")
    from tests.support.eras.ukrainian import ENGLISH_MARKERS

    html = fx.html_path.read_text(encoding="utf-8")
    assert not [m for m in ENGLISH_MARKERS if m in html]  # nothing English left to lean on
    r = _parse(fx, with_json=False)
    assert r.lang == "uk"
    assert r.law is None  # the law is only in the subtitle's words: unknown, not guessed
    assert (r.requester.url_name, r.authority.url_name) == ("olena_koval", "zelenodolska_miska_rada")
    assert r.status_sentence == "Запит був частково задоволений."
    response = r.messages[1]
    assert response.sent_at_text == "2026-04-08T15:02:07+03:00"
    assert response.sender == "Відділ звернень, Зеленодольська міська рада"
    assert response.quoted_folded is True  # from the link's ?unfold=1, not its words
    # li#attachment-3889.. are database ids; the parts are 4 and 6 from the links, the erased one has none.
    assert [(a.part, a.database_id, a.erased, a.filename) for a in response.attachments] == [
        (4, 3889, False, "Договір 17.pdf"), (None, 3890, True, "Кошторис.xlsx"), (6, 3891, False, "Акт приймання.csv")]
    assert r.annotations[0].created_at_text == "2026-04-09T20:45:07+03:00"


def test_external_requester_on_a_page_not_in_english_is_left_unknown():
    fx = _fixture("current", "dogovory_na_remont_dorig")
    html = fx.html_path.read_bytes()
    html = html.replace(b'<a href="/user/olena_koval">\xd0\x9e\xd0\xbb\xd0\xb5\xd0\xbd\xd0\xb0 \xd0\x9a\xd0\xbe\xd0\xb2\xd0\xb0\xd0\xbb\xd1\x8c</a>',
                        "Громада села".encode())
    r = parse_request(html)
    assert isinstance(r, ParsedRequest)
    assert r.requester is None and r.requester_external is True
    assert [w.kind for w in r.warnings] == ["unknown_text"]


def test_old_page_with_a_date_in_words_it_cannot_read_fails_naming_it():
    fx = _fixture("2011-2014", "council_tax_exemptions_for_car")
    html = fx.html_path.read_bytes().replace(b"<br> 6 March 2012", b"<br> 6 \xd0\xb1\xd0\xb5\xd1\x80\xd0\xb5\xd0\xb7\xd0\xbd\xd1\x8f 2012")
    result = parse_request(html)
    assert isinstance(result, ParseFailure) and result.kind == "markup_changed"
    assert "incoming-260311" in result.message and "unrecognised markup (column layout)" in result.message


def test_rails_long_date_form_of_2012_is_read():
    fx = _fixture("2011-2014", "council_tax_exemptions_for_car")
    html = fx.html_path.read_bytes().replace(b"<br> 6 March 2012", b"<br>March 06, 2012")
    r = parse_request(html)
    assert r.messages[1].sent_on == date(2012, 3, 6)


def test_status_before_icons_fails_as_unrecognised():
    html = _fixture("2009-2011", "council_tax_exemptions_for_car").html_path.read_bytes()
    html = html.replace(b'class="request_icon_line icon_partially_successful"', b"")
    result = parse_request(html)
    assert isinstance(result, ParseFailure) and result.kind == "markup_changed"
    assert "#request_status carries no status class" in result.message


def test_web_archive_copy_parses():
    """A Wayback Machine capture: rewritten links, a toolbar, comments after </html>."""
    html = _fixture("2011-2014", "council_tax_exemptions_for_car").html_path.read_text(encoding="utf-8")
    prefix = "/web/20120601093012/http://www.whatdotheyknow.com"
    html = html.replace('href="/', f'href="{prefix}/').replace('src="/', 'src="/web/20120601093012im_/http://www.whatdotheyknow.com/')
    html = html.replace("<body class=\" \">", '<body class=" "><!-- BEGIN WAYBACK TOOLBAR INSERT --><div id="wm-ipp-base">'
                        '<div id="wm-ipp"><div><div><a href="/web/">Wayback</a></div></div></div></div>'
                        "<!-- END WAYBACK TOOLBAR INSERT -->")
    html += ("<!--\n     FILE ARCHIVED ON 09:30:12 Jun 01, 2012 AND RETRIEVED FROM THE\n     INTERNET ARCHIVE ON 10:00:00 "
             "Jan 05, 2026.\n" + "     JAVASCRIPT APPENDED BY WAYBACK MACHINE.\n" * 40 + "-->\n<!--\nplayback timings (ms):\n"
             + "  captures_list: 0.5\n" * 60 + "-->\n")
    r = parse_request(html.encode(), url="https://web.archive.org/web/20120601093012/http://www.whatdotheyknow.com/request/council_tax_exemptions_for_car")
    assert isinstance(r, ParsedRequest), r
    assert r.url_title == "council_tax_exemptions_for_car" and r.request_id == 105337
    assert [a.part for a in r.messages[2].attachments] == [2, 3]
    assert r.messages[2].attachments[0].content_icon == "application_pdf"


def test_legacy_charset_declared_by_a_saved_page_is_read():
    html = _fixture("2011-2014", "council_tax_exemptions_for_car").html_path.read_text(encoding="utf-8")
    html = html.replace("<head>", '<head>\n<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">')
    html = html.replace("2009–2011", "2009-2011 café")
    r = parse_request(html.encode("cp1252"))
    assert isinstance(r, ParsedRequest), r
    assert "café" in r.messages[2].body
