"""Listing pages built by hand after the site's templates (body, /list, user page)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest

from scraper.pages.listing import ListingItem, ListingPage, parse_listing
from scraper.records import ParseFailure

SITE = "https://www.whatdotheyknow.com"


def item_html(
    slug: str,
    title: str,
    *,
    anchor: str | None = None,
    sentence: str,
    status: str = "waiting_response",
    label: str = "Awaiting response",
    excerpt: str = "I would like to request the following information...",
) -> str:
    href = f"/request/{slug}" + (f"#{anchor}" if anchor else "")
    return f"""
<div class="request_listing">
  <div class="request_left">
    <span class="head">
      <a href="{href}">{title}</a>
    </span>
    <div class="requester">
      {sentence}
    </div>
    <p>
      <i class="icon-standalone icon_{status}"></i>
      <strong>{label}</strong>
    </p>
    </span>
  </div>
  <div class="request_right">
    <span class="desc">
      {excerpt}
    </span>
  </div>
</div>
"""


def time_html(iso: str, shown: str) -> str:
    return f'<time datetime="{iso}" title="{iso.replace("T", " ")}">{shown}</time>'


def body_link(slug: str, name: str) -> str:
    return f'<a href="{SITE}/body/{slug}">{name}</a>'


def user_link(slug: str, name: str) -> str:
    return f'<a href="{SITE}/user/{slug}">{name}</a>'


def sent_item(slug: str, n: int = 0) -> str:
    return item_html(
        slug,
        f"Request {n}",
        sentence=f"Request sent to {body_link('mhclg', 'Ministry of Housing')} by {user_link('sam_patel_3', 'Sam Patel')} on "
        + time_html("2025-07-14T09:12:07+01:00", "14 July 2025")
        + ".",
    )


def pagination_html(path: str, current: int, last: int, extra: str = "") -> str:
    """will_paginate 4.0 markup with inner window 4, outer window 1."""
    window = set(range(max(1, current - 4), min(last, current + 4) + 1)) | {1, 2, last - 1, last}
    shown = sorted(p for p in window if 1 <= p <= last)
    parts = []
    if current == 1:
        parts.append('<span class="previous_page disabled" aria-label="Previous page">&#8592; Previous</span>')
    else:
        parts.append(
            f'<a class="previous_page" aria-label="Previous page" rel="prev" href="{path}?{extra}page={current - 1}">&#8592; Previous</a>'
        )
    prev = 0
    for p in shown:
        if p > prev + 1:
            parts.append('<span class="gap">&hellip;</span>')
        if p == current:
            parts.append(f'<em class="current" aria-label="Page {p}" aria-current="page">{p}</em>')
        else:
            rel = ' rel="next"' if p == current + 1 else (' rel="prev"' if p == current - 1 else "")
            parts.append(f'<a{rel} aria-label="Page {p}" href="{path}?{extra}page={p}">{p}</a>')
        prev = p
    if current == last:
        parts.append('<span class="next_page disabled" aria-label="Next page">Next &#8594;</span>')
    else:
        parts.append(
            f'<a class="next_page" aria-label="Next page" rel="next" href="{path}?{extra}page={current + 1}">Next &#8594;</a>'
        )
    return '<div class="pagination" role="navigation" aria-label="Pagination">' + " ".join(parts) + "</div>"


def layout(inner: str, title: str = "Listing - WhatDoTheyKnow") -> bytes:
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head><title>
  {title}
</title></head>
<body><div class="entirebody"><div id="wrapper"><div id="content" role="main">
{inner}
<div style="clear:both"></div>
</div></div></div></body>
</html>
""".encode()


def body_page(items: list[str], *, current: int = 1, last: int | None = None) -> bytes:
    heading = f'<h2 class="foi_results"> (page {current})</h2>' if current > 1 else ""
    pag = pagination_html("/body/mhclg", current, last) if last and last > 1 else ""
    tail = '<p>Only requests made using WhatDoTheyKnow are shown. <a href="/help/about">?</a></p>' if items else "<p></p>"
    return layout(
        f"""<div id="public_body_show" class="controller_public_body">
  <div class="authority__header"><h1>Ministry of Housing</h1>
  <div class="authority__header__stats">1234 requests</div></div>
  <div class="authority__body"><div class="authority__body__foi-results">
    {heading}<a name="results"></a>
    {''.join(items)}
    {pag}
    {tail}
  </div></div>
</div>"""
    )


def list_page(items: list[str], *, total: int, current: int = 1, extra: str = "") -> bytes:
    if items:
        last = min(-(-min(total, 500) // 25), 20)
        pag = pagination_html("/list", current, last, extra) if last > 1 else ""
        results = f"""<h2 class="foi_results">About {total} FOI requests found</h2>
      <div class="results_block">{''.join(items)}</div>{pag}"""
    else:
        results = "<p>No requests of this sort yet.</p>"
    return layout(
        f"""<div id="request_list" class="controller_request">
  <div id="header_left" class="header_left"><h1>Search requests</h1>
    <div id="list-filter" class="list-filter"><form id="filter_requests_form" method="get" action="/list">
    <input type="submit" name="commit" value="Search"></form></div></div>
  <div id="header_right" class="sidebar header_right"><h2>Follow these requests</h2></div>
  <div style="clear:both"></div>
  <div class="results_section">{results}</div>
</div>"""
    )


def user_page(items: list[str], *, total: int | None, annotations: Sequence[str] = (), current: int = 1, last: int | None = None) -> bytes:
    if items:
        if total == 1:
            heading = "This person's Freedom of Information request <!-- matches_estimated 1 -->"
        else:
            heading = f"This person's Freedom of Information requests (approximately {total}) <!-- matches_estimated {total} -->"
        pag = pagination_html("/user/sam_patel_3", current, last) if last and last > 1 else ""
        reqs = f'<h2 id="foi_requests" class="foi_results foi_requests">{heading}</h2>{"".join(items)}{pag}'
    else:
        reqs = (
            '<h2 id="foi_requests" class="foi_results foi_requests">Freedom of Information requests made by this person</h2>'
            "<p>This person has made no Freedom of Information requests using this site.</p>"
        )
    ann = ""
    if annotations:
        ann = (
            f'<h2 id="annotations">This person\'s {len(annotations)} annotations <!-- matches_estimated {len(annotations)} --></h2>'
            + "".join(annotations)
            + pagination_html("/user/sam_patel_3", 1, 3)
        )
    return layout(
        f"""<div id="user_show" class="controller_user">
  <div id="user_profile_header" class="user_profile_header"><div id="header_left" class="header_left"><h1>Sam Patel</h1></div></div>
  <div style="clear:both"></div>
  <div id="user_profile_search" class="user_profile_search">
    <form id="search_form" method="get" action="{SITE}/user/sam_patel_3"><input name="user_query"></form>
    {reqs}
    {ann}
  </div>
</div>"""
    )


# --- items -------------------------------------------------------------------------------


def test_sent_item_fields():
    html = body_page([sent_item("pothole_repair_times", 1)])
    page = parse_listing(html, base_url=f"{SITE}/body/mhclg")
    assert isinstance(page, ListingPage)
    assert page.kind == "body" and page.total is None and page.is_empty is False
    assert page.current_page == 1 and page.last_page == 1 and page.next_url is None
    [item] = page.items
    assert item == ListingItem(
        url_title="pothole_repair_times",
        title="Request 1",
        anchor=None,
        event_type="sent",
        event_time_text="2025-07-14T09:12:07+01:00",
        event_time=datetime(2025, 7, 14, 9, 12, 7, tzinfo=timezone(timedelta(hours=1))),
        status="waiting_response",
        status_label="Awaiting response",
        authority_url_name="mhclg",
        requester_url_name="sam_patel_3",
        requester_name="Sam Patel",
        excerpt="I would like to request the following information...",
    )
    assert item.signature == "2025-07-14T09:12:07+01:00|waiting_response"


def test_response_followup_and_comment_items():
    t = time_html("2019-08-01T10:00:00+01:00", " 1 August 2019")
    items = [
        item_html(
            "a_response",
            "Roads &amp; bridges",
            anchor="incoming-1387653",
            sentence=f"Response by {body_link('mhclg', 'MHCLG')} to {user_link('jo_b', 'Jo B')} on {t}.",
            status="successful",
            label="Successful",
        ),
        item_html(
            "a_review",
            "Review",
            anchor="outgoing-921139",
            sentence=f"Internal review request sent to {body_link('mhclg', 'MHCLG')} by {user_link('jo_b', 'Jo B')} on {t}.",
            status="internal_review",
            label="Awaiting internal review",
        ),
        item_html(
            "a_comment",
            "Commented",
            anchor="comment-88779",
            sentence=f"Request to {body_link('mhclg', 'MHCLG')} by {user_link('jo_b', 'Jo B')}. Annotated by {user_link('kim_l', 'Kim L')} on {t}.",
            status="waiting_response_very_overdue",
            label="Long overdue",
        ),
    ]
    page = parse_listing(body_page(items), base_url=f"{SITE}/body/mhclg")
    resp, review, comment = page.items
    assert (resp.url_title, resp.title, resp.anchor, resp.event_type) == ("a_response", "Roads & bridges", "incoming-1387653", "response")
    assert (resp.requester_url_name, resp.authority_url_name, resp.status) == ("jo_b", "mhclg", "successful")
    assert (review.event_type, review.anchor, review.status_label) == ("followup_sent", "outgoing-921139", "Awaiting internal review")
    assert comment.event_type == "comment" and comment.requester_url_name == "jo_b" and comment.commenter_url_name == "kim_l"
    assert comment.status == "waiting_response_very_overdue"
    assert comment.event_time == datetime(2019, 8, 1, 9, 0, tzinfo=timezone.utc)


def test_external_and_anonymous_requesters():
    t = time_html("2024-02-03T11:00:00+00:00", " 3 February 2024")
    items = [
        item_html("ext", "External", sentence=f"Request sent to {body_link('mhclg', 'MHCLG')} by Sheffield Star on {t}."),
        item_html(
            "anon",
            "Anon",
            sentence=f'Request sent to {body_link("mhclg", "MHCLG")} by <a href="{SITE}/help/privacy#anonymous">Anonymous user</a> on {t}.',
        ),
        item_html(
            "ext_comment",
            "Ext comment",
            anchor="comment-5",
            sentence=f"Request to {body_link('mhclg', 'MHCLG')} by Sheffield Star. Annotated by {user_link('kim_l', 'Kim L')} on {t}.",
        ),
    ]
    ext, anon, ext_comment = parse_listing(body_page(items), base_url=f"{SITE}/body/mhclg").items
    assert (ext.requester_url_name, ext.requester_name, ext.event_type) == (None, "Sheffield Star", "sent")
    assert (anon.requester_url_name, anon.requester_name) == (None, "Anonymous user")
    assert (ext_comment.requester_name, ext_comment.requester_url_name, ext_comment.commenter_url_name) == ("Sheffield Star", None, "kim_l")


def test_item_with_empty_sentence_has_no_event():
    html = body_page([item_html("odd", "Odd", sentence="")])
    [item] = parse_listing(html, base_url=f"{SITE}/body/mhclg").items
    assert item.event_type is None and item.event_time is None and item.authority_url_name is None


def test_stray_closing_span_does_not_swallow_the_next_item():
    page = parse_listing(body_page([sent_item(f"r{i}", i) for i in range(3)]), base_url=f"{SITE}/body/mhclg")
    assert [i.url_title for i in page.items] == ["r0", "r1", "r2"]
    assert all(i.excerpt.startswith("I would like") for i in page.items)


# --- pagination and totals ------------------------------------------------------------------


def test_body_page_pagination_window_middle_page():
    html = body_page([sent_item(f"r{i}", i) for i in range(25)], current=12, last=80)
    page = parse_listing(html, base_url=f"{SITE}/body/mhclg?page=12")
    assert len(page.items) == 25
    assert (page.current_page, page.last_page) == (12, 80)
    assert page.next_url == f"{SITE}/body/mhclg?page=13"
    assert page.total is None


def test_last_page_has_no_next():
    html = body_page([sent_item("r", 1)], current=20, last=20)
    page = parse_listing(html, base_url=f"{SITE}/body/mhclg?page=20")
    assert (page.current_page, page.last_page, page.next_url) == (20, 20, None)


def test_list_page_total_and_next_url_keeps_parameters():
    extra = "commit=Search&"
    html = list_page([sent_item(f"r{i}", i) for i in range(25)], total=1234, extra=extra)
    base = f"{SITE}/list?commit=Search&query=requested_from%3Amhclg"
    page = parse_listing(html, base_url=base)
    assert page.kind == "list" and page.total == 1234
    assert (page.current_page, page.last_page) == (1, 20)
    assert page.next_url == f"{SITE}/list?commit=Search&page=2"


def test_list_page_empty():
    page = parse_listing(list_page([], total=0), base_url=f"{SITE}/list?query=zzz")
    assert page.is_empty and page.items == [] and page.total == 0 and page.next_url is None


def test_body_page_empty_listing():
    page = parse_listing(body_page([]), base_url=f"{SITE}/body/quiet_council")
    assert page.kind == "body" and page.is_empty and page.total is None and page.last_page is None


def test_user_page_approximate_total_and_annotations_excluded():
    t = time_html("2024-02-03T11:00:00+00:00", " 3 February 2024")
    annotation = item_html(
        "someone_elses",
        "Someone else's",
        anchor="comment-9",
        sentence=f"Request to {body_link('mhclg', 'MHCLG')} by {user_link('x_y', 'X Y')}. Annotated by {user_link('sam_patel_3', 'Sam Patel')} on {t}.",
    )
    html = user_page([sent_item(f"mine{i}", i) for i in range(25)], total=61, annotations=[annotation], current=1, last=3)
    page = parse_listing(html, base_url=f"{SITE}/user/sam_patel_3")
    assert page.kind == "user" and page.total == 61
    assert len(page.items) == 25 and "someone_elses" not in {i.url_title for i in page.items}
    assert (page.last_page, page.next_url) == (3, f"{SITE}/user/sam_patel_3?page=2")


def test_user_page_single_request_and_none():
    one = parse_listing(user_page([sent_item("only")], total=1), base_url=f"{SITE}/user/sam_patel_3")
    assert one.total == 1 and [i.url_title for i in one.items] == ["only"]
    none = parse_listing(user_page([], total=None), base_url=f"{SITE}/user/sam_patel_3")
    assert none.total == 0 and none.is_empty


# --- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html, kind",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\x81\x8d\x8f\x90\x9d" * 10, "encoding"),
        (b"<html><head><title>Just a moment...</title></head><body>cf</body></html>", "challenge"),
        (
            layout('<div id="general_not_found" class="controller_general"><div id="error-page" class="error-page">'
                   "<h1>Sorry, we couldn't find that page</h1></div></div>"),
            "error_page",
        ),
        (layout("<div id='request_show'><h1>A request</h1></div>"), "not_request"),
    ],
)
def test_failures_are_typed(html, kind):
    result = parse_listing(html, base_url=f"{SITE}/body/mhclg")
    assert isinstance(result, ParseFailure) and result.kind == kind
    assert SITE in result.message


def test_truncated_page():
    html = body_page([sent_item(f"r{i}", i) for i in range(5)])
    result = parse_listing(html[: len(html) // 2], base_url=f"{SITE}/body/mhclg")
    assert isinstance(result, ParseFailure) and result.kind == "truncated"


def test_item_without_request_link_is_markup_changed():
    broken = '<div class="request_listing"><div class="request_left"><span class="head">no link</span></div></div>'
    result = parse_listing(body_page([broken]), base_url=f"{SITE}/body/mhclg")
    assert isinstance(result, ParseFailure) and result.kind == "markup_changed"
