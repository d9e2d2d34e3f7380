"""The request JSON in every shape Alaveteli has served, and JSON no database could hold."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from scraper.pages.request import parse_request
from scraper.pages.request_json import RequestJson, parse_request_json
from scraper.records import ParsedRequest, ParseFailure, ParseWarning

BST = timezone(timedelta(hours=1))

# The shape of /request/<slug>.json before October 2010 (request_controller built it inline).
JSON_2010 = b"""{"id":4521,"url_title":"school_meals_contract","title":"School meals contract",
"user":"jo_bloggs","public_body":"exampleshire_county_council",
"created_at":"2010/06/14 10:02:11 +0100","updated_at":"2010/07/01 16:40:00 +0100",
"described_state":"successful","awaiting_description":false,"prominence":"normal","law_used":"foi","tags":[],
"info_request_events":[
 {"id":30001,"event_type":"sent","created_at":"2010/06/14 10:02:12 +0100","described_state":"waiting_response",
  "calculated_state":"waiting_response","last_described_at":"2010/06/14 10:02:12 +0100","incoming_message_id":null,
  "outgoing_message_id":8801,"comment_id":null},
 {"id":30002,"event_type":"response","created_at":"2010/07/01 16:39:58 +0100","described_state":"successful",
  "calculated_state":"successful","last_described_at":"2010/07/01 16:40:00 +0100","incoming_message_id":19003,
  "outgoing_message_id":null,"comment_id":null}]}"""


def test_2010_shape_strings_and_slash_times():
    r = parse_request_json(JSON_2010)
    assert isinstance(r, RequestJson) and r.shape == "2010"
    assert (r.user.url_name, r.user.name, r.public_body.url_name) == ("jo_bloggs", "", "exampleshire_county_council")
    assert r.created_at == datetime(2010, 6, 14, 10, 2, 11, tzinfo=BST)
    assert r.created_at_text == "2010/06/14 10:02:11 +0100"
    assert [e.created_at for e in r.events] == [datetime(2010, 6, 14, 10, 2, 12, tzinfo=BST), datetime(2010, 7, 1, 16, 39, 58, tzinfo=BST)]
    assert r.events[0].created_at_text == "2010/06/14 10:02:12 +0100"
    assert r.events[1].last_described_at == datetime(2010, 7, 1, 16, 40, tzinfo=BST)
    assert r.warnings == []


def test_2012_objects_with_slash_times():
    r = parse_request_json(b'{"id":7,"created_at":"2012/03/05 09:14:20 +0000","user":{"id":48102,"url_name":"ellen_marsh",'
                           b'"name":"Ellen Marsh"},"public_body":{"id":2291,"url_name":"n","name":"N","created_at":"2008/04/22 11:30:18 +0100"}}')
    assert isinstance(r, RequestJson) and r.shape == "current"
    assert r.created_at == datetime(2012, 3, 5, 9, 14, 20, tzinfo=timezone.utc)
    assert (r.user.site_id, r.user.name, r.public_body.site_id) == (48102, "Ellen Marsh", 2291)


@pytest.mark.parametrize(
    ("patch", "kind", "phrase"),
    [
        ({"public_body": 17}, "json_shape", "public_body is a int"),
        ({"user": ["a"]}, "json_shape", "user is a list"),
        ({"created_at": 1286190717}, "json_shape", "created_at is a int"),
        ({"created_at": "yesterday at noon"}, "json_time", "'yesterday at noon'"),
        ({"updated_at": "2010/10/04 11:11:57"}, "json_time", "updated_at"),  # no offset: not guessed
        ({"tags": "a b"}, "json_shape", "tags is a str"),
        ({"info_request_events": {"id": 1}}, "json_shape", "not a list"),
        ({"info_request_events": [{"id": 1, "event_type": "response", "incoming_message_id": 2.5}]}, "json_shape", "not an integer id"),
        ({"public_body": {"short_name": "x"}}, "json_shape", "neither url_name nor name"),
    ],
)
def test_unknown_shapes_are_typed_warnings_never_silent(patch, kind, phrase):
    data = {"id": 5, "url_title": "x"}
    data.update(patch)
    r = parse_request_json(json.dumps(data).encode())
    assert isinstance(r, RequestJson)
    assert [w.kind for w in r.warnings] == [kind]
    assert isinstance(r.warnings[0], ParseWarning) and phrase in r.warnings[0], r.warnings


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        (b'{"id": 1180591620717411303424}', "id 1180591620717411303424 is outside"),
        (b'{"id": 9223372036854775808}', "outside the ids"),
        (b'{"id": 0}', "outside the ids"),
        (b'{"id": 5, "user": {"id": 1180591620717411303424, "url_name": "u"}}', "user.id"),
        (b'{"id": 5, "info_request_events": [{"id": 1, "event_type": "sent", "outgoing_message_id": 1180591620717411303424}]}',
         "outgoing_message_id"),
        (b'{"id": 5, "title": "a\\ud800b"}', "lone UTF-16 surrogate"),
        (b'{"id": 5, "tags": [["x", "\\udfff"]]}', "tags[0][1]"),
        (b'{"id": 5, "\\udc00": 1}', "lone UTF-16 surrogate"),
    ],
)
def test_values_no_database_holds_refuse_the_json(raw, phrase):
    r = parse_request_json(raw)
    assert isinstance(r, ParseFailure) and r.kind == "bad_json"
    assert phrase in r.message


def test_valid_surrogate_pairs_are_text():
    r = parse_request_json(b'{"id": 5, "title": "fish \\ud83d\\udc1f"}')
    assert isinstance(r, RequestJson) and r.title == "fish 🐟"


def test_page_with_poison_json_is_parsed_alone_and_says_why():
    from datetime import datetime as dt

    from corpus.sample_site.threads import out, page, thread

    html = page(*thread([out(1, dt(2024, 1, 1, tzinfo=timezone.utc))]))
    for raw, phrase in ((b'{"id": 1180591620717411303424}', "outside the ids"),
                        (b'{"id": 1290477, "title": "\\ud800"}', "lone UTF-16 surrogate")):
        r = parse_request(html, raw)
        assert isinstance(r, ParsedRequest) and r.has_json is False and r.request_id is None
        assert [w.kind for w in r.warnings] == ["bad_json"] and phrase in r.warnings[0]


def test_2010_json_keeps_the_page_names_and_fills_times():
    from tests.support.eras.generate import ERA_FIXTURES

    fx = next(f for f in ERA_FIXTURES if f.era == "2009-2011")
    r = parse_request(fx.html_path.read_bytes(), fx.json_path.read_bytes())
    assert isinstance(r, ParsedRequest)
    assert (r.requester.url_name, r.requester.name) == ("ellen_marsh", "Ellen Marsh")  # the JSON has only the url_name
    assert (r.authority.url_name, r.authority.name) == ("northbridge_city_council", "Northbridge City Council")
    assert r.created_at == datetime(2010, 3, 5, 9, 14, 20, tzinfo=timezone.utc)
    response = r.messages[2]
    assert response.sent_at_text == "2010-03-29T16:46:02+01:00"  # from the response event, the page shows only the day
    assert r.events[0].created_at_text == "2010/03/05 09:14:22 +0000"  # events keep their text as served
