"""The sample site answers like an Alaveteli site: routes, codes, headers, markup."""

from __future__ import annotations

import json

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from corpus.sample_site.server import ROBOTS_TXT


@pytest.fixture
def client(fake_site):
    with httpx.Client(base_url=fake_site.url, follow_redirects=False, timeout=10) as c:
        yield c


def test_robots_txt_matches_the_reference_copy_verbatim():
    from tests.conftest import REFERENCE, require_shared

    text = require_shared(REFERENCE / "listing_and_json_structure.md").read_text(encoding="utf-8")
    block = text[text.index("# See https://www.robotstxt.org"):]
    block = block[: block.index("```")]
    assert ROBOTS_TXT == block


def test_robots_txt_is_the_real_file(client):
    r = client.get("/robots.txt")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == ROBOTS_TXT
    assert r.text.splitlines()[2] == "User-agent: *"
    assert "Allow: */request/*/response/*/attach/*" in r.text.splitlines()
    assert r.text.endswith("Disallow: */request/*/upload\n")


def test_request_page_markup_follows_the_reference(client, fake_site):
    req = fake_site.corpus.by_slug("serious_case_review_child_t")
    r = client.get("/request/serious_case_review_child_t")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "max-age=3600, public"
    tree = LexborHTMLParser(r.text)
    assert tree.css_first("div.request-header h1").text() == "Serious case review: Child T"
    status = tree.css_first("div#request_status")
    assert "request-status-message--rejected" in status.attributes["class"]
    assert status.css_first("i.icon_rejected") is not None
    incoming = [m for m in req.messages if m.direction == "incoming"]
    outgoing = [m for m in req.messages if m.direction == "outgoing"]
    for m in incoming:
        node = tree.css_first(f"div#incoming-{m.id}.incoming.correspondence")
        assert node is not None
        assert node.css_first("time[datetime]").attributes["datetime"] == m.sent_at.replace(microsecond=0).isoformat()
        assert node.css_first(f"div#attachment-{m.part_database_id(m.body_part)}") is not None  # body part's database id
    for m in outgoing:
        assert tree.css_first(f"div#outgoing-{m.id}.outgoing.correspondence") is not None
    # blocks appear in event order
    ids = [n.attributes["id"] for n in tree.css("#left_column .correspondence")]
    expected = [f"{m.direction}-{m.id}" for m in sorted(req.messages, key=lambda m: m.event_id)]
    assert ids == expected
    subtitle = tree.css_first("p.request-header__subtitle")
    assert subtitle.css("a")[0].attributes["href"] == "/user/sam_patel"
    assert subtitle.css("a")[1].attributes["href"] == "/body/exampleshire_county_council"


def test_time_text_has_leading_space_for_one_digit_days(client, fake_site):
    # the care proceedings response arrived on 6 May 2019 (a bank holiday, BST)
    r = client.get("/request/care_proceedings_legal_costs")
    tree = LexborHTMLParser(r.text)
    times = tree.css("#left_column .incoming time")
    assert times[0].text() == " 6 May 2019"
    assert times[0].attributes["datetime"] == "2019-05-06T08:30:00+01:00"
    assert times[0].attributes["title"] == "2019-05-06 08:30:00 +0100"


def test_request_json_keys_types_and_escaping(client, fake_site):
    r = client.get("/request/web_forms_script_test.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    raw = r.content
    assert b"\\u003cscript\\u003e" in raw and b"\\u0026" in raw and b"<" not in raw
    data = json.loads(raw)
    assert list(data)[:11] == ["id", "url_title", "title", "created_at", "updated_at", "described_state",
                               "display_status", "awaiting_description", "prominence", "law_used", "tags"]
    assert "user" in data and "user_name" not in data
    assert data["title"] == "Children & families web forms <script>"
    events = data["info_request_events"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    sent = events[0]
    assert sent["event_type"] == "sent" and sent["display_status"] == "Clarification"
    for e in events:
        assert len(e["created_at"].split(".")[1]) == len("000+01:00")
        has_msg = e["incoming_message_id"] is not None or e["outgoing_message_id"] is not None
        assert ("display_status" in e) == has_msg


def test_external_requester_json_uses_user_name(client):
    named = client.get("/request/childrens_home_closures.json").json()
    assert "user" not in named and named["user_name"] == "Exampleshire Gazette"
    anon = client.get("/request/virtual_school_head_budget.json").json()
    assert "user" not in anon and anon["user_name"] is None


def test_script_in_message_is_escaped(client):
    r = client.get("/request/web_forms_script_test")
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in r.text


def test_numeric_id_redirects_with_absolute_location(client, fake_site):
    req = fake_site.corpus.by_slug("section_47_enquiries_2024")
    r = client.get(f"/request/{req.id}")
    assert r.status_code == 301
    assert r.headers["location"] == f"{fake_site.url}/request/section_47_enquiries_2024"
    r = client.get(f"/request/{req.id}.json")
    assert r.headers["location"] == f"{fake_site.url}/request/section_47_enquiries_2024.json"
    r = client.get("/request/999999999")
    assert r.status_code == 404
    assert "The page you were looking for doesn't exist" in r.text


def test_hidden_request_is_403_html_and_empty_json(client):
    r = client.get("/request/private_family_court_details")
    assert r.status_code == 403
    tree = LexborHTMLParser(r.text)
    assert tree.css_first("h1").text() == "Request has been removed"
    assert tree.css_first("p#hidden_request") is not None
    j = client.get("/request/private_family_court_details.json")
    assert j.status_code == 403 and j.content == b""
    r = client.get("/request/my_child_protection_conference_notes")
    assert r.status_code == 403 and "sign in" in r.text


def test_unknown_request_is_styled_404(client):
    r = client.get("/request/no_such_request_anywhere")
    assert r.status_code == 404
    tree = LexborHTMLParser(r.text)
    assert tree.css_first("div#error-page h1").text() == "Sorry, we couldn't find that page"
    assert client.get("/request/no_such_request_anywhere.json").status_code == 404


def test_backpage_request_served_with_noindex_but_not_listed(client):
    r = client.get("/request/foi_officer_names")
    assert r.status_code == 200 and r.headers["x-robots-tag"] == "noindex"
    body = client.get("/body/exampleshire_police").text
    assert "foi_officer_names" not in body


def test_etag_and_304(client):
    r = client.get("/request/section_47_enquiries_2024")
    etag = r.headers["etag"]
    assert etag.startswith('W/"') and len(etag) == 32 + 4
    again = client.get("/request/section_47_enquiries_2024", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert "content-type" not in again.headers
    other = client.get("/request/section_47_enquiries_2024", headers={"If-None-Match": 'W/"0000"'})
    assert other.status_code == 200
    # If-Modified-Since never yields 304: there is no Last-Modified
    ims = client.get("/request/section_47_enquiries_2024", headers={"If-Modified-Since": "Wed, 01 Jan 2031 00:00:00 GMT"})
    assert ims.status_code == 200 and "last-modified" not in ims.headers


def test_body_and_user_json(client, fake_site):
    body = client.get("/body/glenmore_council.json")
    assert body.headers["cache-control"] == "max-age=86400, public"
    data = body.json()
    assert list(data) == ["id", "url_name", "name", "short_name", "created_at", "updated_at", "home_page",
                          "notes", "publication_scheme", "disclosure_log", "tags", "info"]
    assert ["scotland", None] in data["tags"]
    user = client.get("/user/sam_patel.json").json()
    assert list(user) == ["id", "url_name", "name", "ban_text", "about_me"]
    assert user["name"] == "Sam Patel"


def test_non_canonical_body_slug_redirects(client, fake_site):
    r = client.get("/body/Glenmore-Council")
    assert r.status_code == 301
    assert r.headers["location"] == f"{fake_site.url}/body/glenmore_council"
    assert client.get("/body/no_such_body").status_code == 404


def test_authorities_csv(client, fake_site):
    r = client.get("/body/all-authorities.csv")
    assert r.status_code == 200
    lines = r.text.splitlines()
    assert lines[0] == "Internal ID,Name,Short name,URL name,Tags,Home page,Publication scheme,Disclosure log,Notes,Created at,Updated at,Version"
    assert len(lines) == 1 + len(fake_site.corpus.authorities)
    assert any("glenmore_council" in ln and "local_council scotland" in ln for ln in lines)


def test_list_json_is_406(client):
    r = client.get("/list.json")
    assert r.status_code == 406 and r.content == b""


def test_every_hit_is_logged(client, fake_site):
    fake_site.clear_hits()
    client.get("/request/section_47_enquiries_2024", headers={"User-Agent": "test-agent/1"})
    client.get("/nowhere?x=1")
    assert [(h.method, h.path, h.query, h.status) for h in fake_site.hits] == [
        ("GET", "/request/section_47_enquiries_2024", "", 200),
        ("GET", "/nowhere", "x=1", 404),
    ]
    assert fake_site.hits[0].headers["User-Agent"] == "test-agent/1"


def test_renamed_body_302_and_renamed_user_200(client, fake_site):
    r = client.get("/body/glenmore_district_council?page=2")
    assert r.status_code == 302
    assert r.headers["location"] == f"{fake_site.url}/body/glenmore_council"
    r = client.get("/user/jo_c")
    assert r.status_code == 200 and "Jo Clarke" in r.text
    assert client.get("/user/jo_c.json").json()["url_name"] == "jo_clarke_2"
