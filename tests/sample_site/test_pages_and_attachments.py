"""The real 2019 pages, attachments, quoted sections and the subprocess entry point."""

from __future__ import annotations

import io
import subprocess
import sys

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from corpus.sample_site import FakeSite, sample_corpus
from tests.support.site import PAGES_2019

# one client for the module (no keep-alive: every test site has its own port)
CLIENT = httpx.Client(follow_redirects=False, timeout=10, limits=httpx.Limits(max_keepalive_connections=0))


def get(site, path, **kw):
    return CLIENT.get(site.url + path, **kw)


def test_2019_pages_served_verbatim(pages_2019, fake_site_factory):
    site = fake_site_factory(sample_corpus(), serve_2019_pages_from=pages_2019)
    for stem, (slug, _rid) in PAGES_2019.items():
        r = get(site, f"/request/{slug}")
        assert r.status_code == 200, slug
        assert r.content == (pages_2019 / f"{stem}.html").read_bytes()
        assert get(site, f"/request/{slug}.json").status_code == 404
    r = get(site, "/request/589128")
    assert r.status_code == 301 and r.headers["location"] == f"{site.url}/request/guidance_on_sprinklers"


def test_2019_pages_can_be_switched_off(fake_site_factory):
    site = fake_site_factory(sample_corpus(), serve_2019_pages_from=False)
    assert get(site, "/request/guidance_on_sprinklers").status_code == 404


def attachment_links(site, slug):
    t = LexborHTMLParser(get(site, f"/request/{slug}").text)
    return t


def test_pdf_attachment_has_a_text_layer(fake_site):
    pypdf = pytest.importorskip("pypdf")
    t = attachment_links(fake_site, "fostering_recruitment_budget")
    msg = [m for m in fake_site.corpus.by_slug("fostering_recruitment_budget").messages if m.attachments][0]
    li = t.css_first("li.attachment")
    assert li.attributes["id"] == f"attachment-{msg.part_database_id(2)}"  # the database id; the part is in the links
    assert li.css_first("p.attachment__name").text().strip() == "FOI 24-1187 response.pdf"
    meta = li.css_first("p.attachment__meta")
    assert meta.text().split()[0] == "78K"
    assert [a.text() for a in meta.css("a")] == ["View", "Download"]
    assert "icon_application_pdf_large" in li.css_first("img.attachment__image").attributes["src"]
    body = t.css_first(f"div#attachment-{msg.part_database_id(1)}").text().strip()
    assert body == "[Email has no body, please see attachments]"
    href = meta.css("a")[1].attributes["href"]
    assert href.endswith("/attach/2/FOI%2024-1187%20response.pdf?cookie_passthrough=1")
    r = get(fake_site, href)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    text = pypdf.PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
    assert "£412,000" in text
    view = get(fake_site, meta.css("a")[0].attributes["href"])
    assert view.status_code == 200 and "<iframe" in view.text


def test_wrong_filename_redirects_to_message(fake_site):
    req = fake_site.corpus.by_slug("fostering_recruitment_budget")
    m = [m for m in req.messages if m.direction == "incoming"][0]
    r = get(fake_site, f"/request/fostering_recruitment_budget/response/{m.id}/attach/2/wrong.pdf")
    assert r.status_code == 303
    assert r.headers["location"] == f"{fake_site.url}/request/fostering_recruitment_budget#incoming-{m.id}"


def test_hidden_message_and_erased_attachment(fake_site):
    req = fake_site.corpus.by_slug("private_fostering_notifications")
    hidden, visible = [m for m in req.messages if m.direction == "incoming"]
    t = attachment_links(fake_site, "private_fostering_notifications")
    node = t.css_first(f"div#incoming-{hidden.id}")
    assert "hidden" in node.attributes["class"].split()
    assert node.css_first("p#hidden_message") is not None
    assert "names of the families" not in node.text()
    erased = t.css_first(f"div#incoming-{visible.id} li#attachment-{visible.part_database_id(3)}")
    assert erased.css_first("p.attachment__meta em").text() == "This file has been erased."
    assert erased.css("a") == []
    r = get(fake_site, f"/request/private_fostering_notifications/response/{visible.id}/attach/3/Draft%20with%20names.pdf")
    assert r.status_code == 403
    r = get(fake_site, f"/request/private_fostering_notifications/response/{hidden.id}/attach/2/Families%20list.xlsx")
    assert r.status_code == 403


def test_csv_attachment_cors_and_text(fake_site):
    req = fake_site.corpus.by_slug("residential_care_provider_contracts")
    m = [m for m in req.messages if m.direction == "incoming"][0]
    r = get(fake_site, f"/request/residential_care_provider_contracts/response/{m.id}/attach/2/Providers%202024.csv")
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    assert r.text.startswith("provider,placements")


def test_attachment_url_with_numeric_id_redirects(fake_site):
    req = fake_site.corpus.by_slug("fostering_recruitment_budget")
    m = [m for m in req.messages if m.direction == "incoming"][0]
    r = get(fake_site, f"/request/{req.id}/response/{m.id}/attach/2/FOI%2024-1187%20response.pdf")
    assert r.status_code == 301
    assert r.headers["location"] == f"{fake_site.url}/request/fostering_recruitment_budget/response/{m.id}/attach/2/FOI%2024-1187%20response.pdf"


def test_quoted_sections_fold_and_unfold(fake_site):
    req = fake_site.corpus.by_slug("care_leavers_accommodation")
    m = [m for m in req.messages if m.direction == "incoming"][0]
    folded = LexborHTMLParser(get(fake_site, "/request/care_leavers_accommodation").text)
    link = folded.css_first(f"div#incoming-{m.id} span.unfold_link a")
    assert link.text() == "show quoted sections" and link.attributes["href"] == f"?unfold=1#incoming-{m.id}"
    assert "Original Message" not in folded.css_first(f"div#incoming-{m.id}").text()
    unfolded = LexborHTMLParser(get(fake_site, "/request/care_leavers_accommodation?unfold=1").text)
    node = unfolded.css_first(f"div#incoming-{m.id}")
    assert node.css_first("span.unfold_link a").text() == "hide quoted sections"
    assert "Original Message" in node.text()


def test_status_sentences_and_due_dates(fake_site):
    def status(slug):
        t = LexborHTMLParser(get(fake_site, f"/request/{slug}").text)
        node = t.css_first("div#request_status")
        return node.attributes["class"].split("--")[1], node.css_first("p")

    cls, p = status("social_worker_caseloads_2025")
    assert cls == "waiting_response"
    due = p.css_first("time")
    # sent Mon 10 Nov 2025: 20 working days later is Tue 9 Dec 2025
    assert due.attributes["datetime"] == "2025-12-09" and due.text() == " 9 December 2025"
    cls, p = status("exclusions_by_year_group")
    assert cls == "waiting_response_overdue"  # school: very late only after 60 working days
    cls, _ = status("safeguarding_training_records")
    assert cls == "waiting_response_very_overdue"
    cls, p = status("community_forum_minutes")
    assert "Although not legally required" in p.text()
    cls, p = status("care_leavers_accommodation")
    assert cls == "waiting_classification"
    assert p.text().strip() == "We're waiting for Rachel Green to read a recent response and update the status."
    cls, _ = status("special_guardianship_orders")
    assert cls == "waiting_response"  # the clarification restarted the clock


def test_request_header_variants(fake_site):
    def subtitle(slug):
        return LexborHTMLParser(get(fake_site, f"/request/{slug}").text).css_first("p.request-header__subtitle")

    eir = subtitle("sewage_discharges_all_outfalls")
    assert "made this Environmental Information Regulations request to" in eir.text()
    assert eir.css_first("span.request-header__foi_no") is not None
    batch = subtitle("independent_reviewing_officer_caseloads")
    assert batch.css_first("a[href='/info_request_batch/4411']").text() == "a batch sent to 2 authorities"
    assert subtitle("care_proceedings_legal_costs").css_first("span.request-header__closed_to_correspondence") is not None
    assert subtitle("short_breaks_statement").css_first("span.request-header__restricted_correspondence") is not None
    assert subtitle("childrens_home_closures").text().strip().startswith("Exampleshire Gazette made this")


def test_non_ascii_round_trips(fake_site):
    r = get(fake_site, "/request/gwasanaethau_plant_welsh_language")
    assert "“siaradwyr Cymraeg” 🏴󠁧󠁢󠁷󠁬󠁳󠁿 👍" in r.text
    j = get(fake_site, "/request/gwasanaethau_plant_welsh_language.json")
    assert "children’s services".encode() in j.content  # raw UTF-8, not \\u escapes
    assert j.json()["title"].startswith("Gwasanaethau plant")


def test_head_requests_have_no_body(fake_site):
    r = httpx.head(fake_site.url + "/request/section_47_enquiries_2024", timeout=10)
    assert r.status_code == 200 and r.content == b"" and int(r.headers["content-length"]) > 1000


def test_binds_only_to_loopback():
    with pytest.raises(ValueError):
        FakeSite(sample_corpus(), host="0.0.0.0")


def test_runs_as_a_module():
    proc = subprocess.Popen([sys.executable, "-m", "corpus.sample_site", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        r = httpx.get(url + "/robots.txt", timeout=10)
        assert r.status_code == 200 and "User-agent: *" in r.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_resent_block(fake_site):
    req = fake_site.corpus.by_slug("short_breaks_statement")
    sent = req.messages[0]
    t = LexborHTMLParser(get(fake_site, "/request/short_breaks_statement").text)
    blocks = t.css(f"div#outgoing-{sent.id}")
    assert len(blocks) == 2
    assert "box" in blocks[1].attributes["class"].split()
    assert blocks[1].css_first("p.event_plain").text() == "Sent request to Cwm Tawe County Borough Council again."
    assert blocks[1].css_first("h2 time").attributes["datetime"] == "2021-01-12T10:00:00+00:00"
