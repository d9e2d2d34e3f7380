"""Listings: the shared item partial, will_paginate markup, caps and date slices."""

from __future__ import annotations

from datetime import date, datetime

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from corpus.sample_site import generate_corpus
from corpus.sample_site.data import LONDON
from corpus.sample_site.generate import big_authority_url_name
from corpus.sample_site.render import page_window

# one client for the module (no keep-alive: every test site has its own port)
CLIENT = httpx.Client(follow_redirects=False, timeout=10, limits=httpx.Limits(max_keepalive_connections=0))


def get(site, path, **kw):
    return CLIENT.get(site.url + path, **kw)


def tree(resp):
    return LexborHTMLParser(resp.text)


def window_labels(resp) -> list[str]:
    nav = tree(resp).css_first("div.pagination")
    out = []
    for child in nav.iter():
        cls = child.attributes.get("class") or ""
        if "previous_page" in cls or "next_page" in cls:
            continue
        label = child.text().strip()
        out.append(f"[{label}]" if child.tag == "em" else label)
    return out


@pytest.fixture(scope="module")
def big_corpus():
    return generate_corpus(700, seed=3, n_authorities=6, big_authority_share=0.9, start=date(2020, 1, 1), end=date(2024, 12, 31))


def test_page_window_matches_will_paginate():
    assert page_window(1, 20) == [1, 2, 3, 4, 5, 6, 7, 8, 9, None, 19, 20]
    assert page_window(12, 20) == [1, 2, None, 8, 9, 10, 11, 12, 13, 14, 15, 16, None, 19, 20]
    assert page_window(20, 20) == [1, 2, None, 12, 13, 14, 15, 16, 17, 18, 19, 20]
    assert page_window(5, 20) == [1, 2, 3, 4, 5, 6, 7, 8, 9, None, 19, 20]
    assert page_window(2, 3) == [1, 2, 3]


def test_list_pagination_pages_1_12_20_and_cap(fake_site_factory, big_corpus):
    site = fake_site_factory(big_corpus)
    first = get(site, "/list")
    assert first.status_code == 200
    heading = tree(first).css_first("h2.foi_results").text()
    n = sum(1 for r in big_corpus.requests if r.prominence == "normal")
    assert 600 < n <= 700
    assert heading == f"About {n} FOI requests found"
    assert window_labels(first) == ["[1]", "2", "3", "4", "5", "6", "7", "8", "9", "…", "19", "20"]
    t = tree(first)
    assert t.css_first("span.previous_page.disabled") is not None
    rel_next = t.css("a[rel=next]")
    assert len(rel_next) == 2 and rel_next[0].attributes["href"] == rel_next[1].attributes["href"] == "/list?page=2"
    assert "next_page" in rel_next[1].attributes["class"]
    assert len(t.css("div.request_listing")) == 25

    mid = get(site, "/list?page=12")
    assert window_labels(mid) == ["1", "2", "…", "8", "9", "10", "11", "[12]", "13", "14", "15", "16", "…", "19", "20"]
    assert tree(mid).css_first("h1").text() == "Search requests (page 12)"

    last = get(site, "/list?page=20")
    assert window_labels(last) == ["1", "2", "…", "12", "13", "14", "15", "16", "17", "18", "19", "[20]"]
    assert tree(last).css_first("span.next_page.disabled") is not None
    assert get(site, "/list?page=21").status_code == 404


def test_body_pages_uncapped_links_but_page_21_is_404(fake_site_factory, big_corpus):
    site = fake_site_factory(big_corpus)
    slug = big_authority_url_name()
    n = sum(1 for r in big_corpus.requests if r.authority_url_name == slug and r.prominence == "normal" and r.indexed_events())
    assert n > 500
    pages = -(-n // 25)
    first = get(site, f"/body/{slug}")
    t = tree(first)
    assert t.css_first("h2.foi_results") is None  # no "About N" heading on a body page
    assert window_labels(first)[-1] == str(pages)
    assert t.css_first("div.authority__header__stats").text().strip() == f"{n} requests"
    p2 = tree(get(site, f"/body/{slug}?page=2"))
    assert p2.css_first("h2.foi_results").text() == " (page 2)"
    r21 = get(site, f"/body/{slug}?page=21")
    assert r21.status_code == 404 and r21.headers["cache-control"] == "max-age=86400, public"
    # all items over the 20 reachable pages are distinct
    seen = set()
    for p in range(1, 21):
        for a in tree(get(site, f"/body/{slug}?page={p}")).css("div.request_listing span.head a"):
            seen.add(a.attributes["href"].split("#")[0])
    assert len(seen) == min(n, 500)


def test_listing_item_markup(fake_site):
    r = get(fake_site, "/body/northbridge_city_council")
    assert r.status_code == 200 and r.headers["cache-control"] == "max-age=86400, public"
    assert "</p>\n    </span>\n  </div>" in r.text  # the template's stray closing tag
    items = tree(r).css("div.request_listing")
    by_slug = {}
    for item in items:
        href = item.css_first("span.head a").attributes["href"]
        by_slug[href.split("#")[0].removeprefix("/request/")] = item
    section47 = fake_site.corpus.by_slug("section_47_enquiries_2024")
    item = by_slug["section_47_enquiries_2024"]
    # newest indexed event is the annotation
    assert item.css_first("span.head a").attributes["href"] == f"/request/section_47_enquiries_2024#comment-{section47.annotations[0].id}"
    requester = item.css_first("div.requester")
    assert requester.text().strip().startswith("Request to Northbridge City Council by Sam Patel. Annotated by Rachel Green on")
    links = [a.attributes["href"] for a in requester.css("a")]
    assert links == [f"{fake_site.url}/body/northbridge_city_council", f"{fake_site.url}/user/sam_patel", f"{fake_site.url}/user/rachel_green_3"]
    assert requester.css_first("time").attributes["datetime"] == "2025-04-29T19:45:00+01:00"
    assert item.css_first("i.icon_successful") is not None
    assert item.css_first("p strong").text() == "Successful"
    assert item.css_first("span.desc").text().strip().startswith("National comparison figures")
    # hidden and requester-only requests never appear
    assert "my_child_protection_conference_notes" not in by_slug
    # the anonymous requester links to the privacy help page
    anon = by_slug["virtual_school_head_budget"].css_first("div.requester")
    assert f"{fake_site.url}/help/privacy#anonymous" in [a.attributes["href"] for a in anon.css("a")]


def test_overdue_icon_and_label(fake_site):
    r = get(fake_site, "/list?query=requested_from:northbridge_city_council+placed")
    items = tree(r).css("div.request_listing")
    assert len(items) == 1
    assert items[0].css_first("i").attributes["class"] == "icon-standalone icon_waiting_response_overdue"
    assert items[0].css_first("strong").text() == "Delayed"


def test_empty_body_listing_and_empty_list(fake_site):
    from corpus.sample_site.data import FakeAuthority

    fake_site.corpus.authorities["quiet_body"] = FakeAuthority(id=9, url_name="quiet_body", name="Quiet Body", tags=[])
    t = tree(get(fake_site, "/body/quiet_body"))
    assert "Nobody has made any Freedom of Information requests to Quiet Body" in t.css_first("div.authority__body__foi-results").text()
    empty = get(fake_site, "/list?query=zzzznotaword")
    assert tree(empty).css_first("div.results_section p").text() == "No requests of this sort yet."
    assert tree(empty).css_first("h2.foi_results") is None


def test_list_date_slices_match_event_dates(fake_site):
    req = fake_site.corpus.by_slug("serious_case_review_publication")
    followup = req.messages[1]

    def slugs(after, before):
        r = get(fake_site, f"/list?request_date_after={after}&request_date_before={before}")
        return {a.attributes["href"] for a in tree(r).css("div.request_listing span.head a")}

    june = slugs("2025/06/01", "2025/06/30")
    assert "/request/serious_case_review_publication" in june  # the sent event
    august = slugs("2025/08/01", "2025/08/31")
    assert f"/request/serious_case_review_publication#outgoing-{followup.id}" in august
    july = slugs("2025/07/01", "2025/07/31")
    assert not any(h.startswith("/request/serious_case_review_publication") for h in july)  # overdue events are not indexed
    # day-first and dashed formats are accepted too
    assert slugs("01/06/2025", "30/06/2025") == june
    assert slugs("2025-06-01", "2025-06-30") == june


def test_date_slices_use_utc_days(fake_site):
    # 00:30 BST on 1 July is 23:30 UTC on 30 June
    fake_site.bump("social_worker_caseloads_2025", direction="incoming",
                   sent_at=datetime(2030, 7, 1, 0, 30, tzinfo=LONDON), calculated_state="successful", described_state="successful")

    def hrefs(after, before):
        r = get(fake_site, f"/list?request_date_after={after}&request_date_before={before}")
        return [a.attributes["href"] for a in tree(r).css("div.request_listing span.head a")]

    msg = fake_site.corpus.by_slug("social_worker_caseloads_2025").messages[-1]
    assert hrefs("2030/06/30", "2030/06/30") == [f"/request/social_worker_caseloads_2025#incoming-{msg.id}"]
    assert hrefs("2030/07/01", "2030/07/31") == []


def test_list_filters(fake_site):
    def slugs(query):
        r = get(fake_site, "/list", params={"query": query})
        return sorted(a.attributes["href"].split("#")[0].removeprefix("/request/") for a in tree(r).css("div.request_listing span.head a"))

    glenmore = slugs("requested_from:glenmore_council")
    expected = sorted(r.url_title for r in fake_site.corpus.requests if r.authority_url_name == "glenmore_council" and r.prominence == "normal")
    assert glenmore == expected and len(glenmore) == 4
    ffion = slugs("requested_by:ffion_hughes")
    assert "gwasanaethau_plant_welsh_language" in ffion and all(
        fake_site.corpus.by_slug(s).user_url_name == "ffion_hughes" for s in ffion)
    # plain words match titles and message bodies
    assert slugs("guardianship") == ["special_guardianship_orders"]
    assert "section_47_enquiries_2024" in slugs("Children Act")
    assert slugs("requested_from:glenmore_council kinship") == ["kinship_care_policy_review"]


def test_list_pagination_carries_sorted_params(fake_site_factory, big_corpus):
    site = fake_site_factory(big_corpus)
    r = get(site, "/list", params={"query": "", "request_date_after": "2020/01/01", "request_date_before": "2024/12/31", "commit": "Search"})
    nxt = tree(r).css_first("a.next_page").attributes["href"]
    assert nxt == "/list?commit=Search&page=2&query=&request_date_after=2020%2F01%2F01&request_date_before=2024%2F12%2F31"


def test_user_page_approximately_heading(fake_site):
    r = get(fake_site, "/user/sam_patel")
    assert r.headers["cache-control"] == "max-age=86400, public"
    t = tree(r)
    n = sum(1 for q in fake_site.corpus.requests if q.user_url_name == "sam_patel" and q.prominence == "normal")
    assert t.css_first("h2#foi_requests").text().startswith(f"This person's Freedom of Information requests (approximately {n})")
    assert len(t.css("div.request_listing")) == n
    assert get(fake_site, "/user/nobody_here").status_code == 404
    annotator = tree(get(fake_site, "/user/rachel_green_3"))
    assert annotator.css_first("h2#annotations").text().startswith("This person's 2 annotations")


def test_listing_reflects_new_message(fake_site):
    first = tree(get(fake_site, "/list")).css_first("div.request_listing span.head a").attributes["href"]
    msg = fake_site.bump("adoption_panel_minutes", sent_at=datetime(2031, 1, 5, 10, 0, tzinfo=LONDON))
    top = tree(get(fake_site, "/list")).css_first("div.request_listing span.head a").attributes["href"]
    assert top != first
    assert top == f"/request/adoption_panel_minutes#incoming-{msg.id}"
    page = tree(get(fake_site, "/request/adoption_panel_minutes"))
    assert page.css_first(f"div#incoming-{msg.id}") is not None
    assert "request-status-message--waiting_classification" in page.css_first("#request_status").attributes["class"]
