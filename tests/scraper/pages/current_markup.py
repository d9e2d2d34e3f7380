"""Build request pages in the *current* Alaveteli / WhatDoTheyKnow markup.

The skeleton follows shared/reference/request_page_structure.md: the same
classes, ids, nesting, ``time_tag`` formats (ISO datetime with offset, Ruby
``Time#to_s`` title, ``%e %B %Y`` text with a leading space for 1-digit days)
and ``simple_format`` bodies.  Used by the tests and by bench/parse.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from html import escape
from urllib.parse import quote

SITE = "https://www.whatdotheyknow.com"
BST = timezone(timedelta(hours=1))
GMT = timezone(timedelta(0))

# calculated status -> sentence HTML ({body}, {user}, {due} are filled in)
STATUS_SENTENCES = {
    "waiting_response": 'Currently <strong>waiting for a response</strong> from {body}, they should respond promptly and normally no later than <strong>{due}</strong> (<a href="/help/requesting#quickly_response">details</a>).',
    "waiting_response_overdue": 'Response to this request is <strong>delayed</strong>. By law, {body} should normally have responded <strong>promptly</strong> and by <strong>{due}</strong> (<a href="/help/requesting#quickly_response">details</a>)',
    "waiting_response_very_overdue": 'Response to this request is <strong>long overdue</strong>. By law, under all circumstances, {body} should have responded by now (<a href="/help/requesting#quickly_response">details</a>). You can <strong>complain</strong> by <a href="/request/{slug}/followups/new?internal_review=1#followup">requesting an internal review</a>.',
    "waiting_classification": "We're waiting for {user} to read a recent response and update the status.",
    "not_held": "{body} <strong>did not have</strong> the information requested.",
    "rejected": "The request was <strong>refused</strong> by {body}.",
    "successful": "The request was <strong>successful</strong>.",
    "partially_successful": "The request was <strong>partially successful</strong>.",
    "waiting_clarification": "The request is <strong>waiting for clarification</strong>. If you are {user}, please <a href=\"/profile/sign_in\">sign in</a> to send a follow up message.",
    "gone_postal": "The authority would like to / has <strong>responded by postal mail</strong> to this request.",
    "internal_review": "Waiting for an <strong>internal review</strong> by {body} of their handling of this request.",
    "error_message": "There was a <strong>delivery error</strong> or similar, which needs fixing by the WhatDoTheyKnow team. Can you help by <a href=\"/help/contact\">finding updated contact details</a>?",
    "requires_admin": "This request has had an unusual response, and <strong>requires attention</strong> from the WhatDoTheyKnow team.",
    "user_withdrawn": "This request has been <strong>withdrawn</strong> by the person who made it. There may be an explanation in the correspondence below.",
    "attention_requested": "This request has been <strong>reported</strong> as needing administrator attention.",
    "vexatious": "This request has been reviewed by an administrator and is considered to be vexatious",
    "not_foi": "This request has been reviewed by an administrator and is considered not to be an FOI request",
}


def time_tag(when: datetime | date) -> str:
    if isinstance(when, datetime):
        iso = when.isoformat()
        title = when.strftime("%Y-%m-%d %H:%M:%S %z")
    else:
        iso = title = when.isoformat()
    text = f"{when.day:2d} {when.strftime('%B %Y')}"  # %e: leading space for 1-digit days
    return f'<time datetime="{iso}" title="{title}">{text}</time>'


def simple_format(paragraphs: list[str]) -> str:
    """Rails simple_format: each paragraph in <p>, single newlines as <br />."""
    return "\n\n".join("<p>" + p.replace("\n", "\n<br />") + "</p>" for p in paragraphs)


@dataclass
class Att:
    part: int
    filename: str
    size: str = "78K"
    icon: str = "application_pdf"
    view: bool = True
    erased: bool = False
    hidden: bool = False


@dataclass
class Out:
    id: int
    sender: str
    when: datetime
    paragraphs: list[str] = field(default_factory=lambda: ["Dear Sir or Madam,", "Please send me the list.", "Yours faithfully,\nA Person"])
    delivery: str | None = "delivered"
    hidden: bool = False
    resent: str | None = None  # the p.event_plain sentence HTML for a resent block


@dataclass
class In:
    id: int
    sender_html: str  # what span.correspondence__header__author holds
    when: datetime
    paragraphs: list[str] = field(default_factory=lambda: ["Dear Requester,", "Please find attached our response.", "Yours sincerely,\nFOI Team"])
    prominence: str = "normal"
    attachments: list[Att] = field(default_factory=list)
    fold: str | None = None  # None | "show" | "hide"
    quoted: list[str] = field(default_factory=list)  # quoted paragraphs shown when fold == "hide"
    hidden_notice: str | None = None
    raw_body: str | None = None  # body HTML used as is


@dataclass
class Comment:
    id: int
    user_slug: str
    user_name: str
    when: datetime
    html: str  # inner HTML of the <p>


@dataclass
class Page:
    slug: str = "allotment_waiting_lists"
    title: str = "Allotment waiting lists"
    user: tuple[str, str] | None = ("sam_patel_3", "Sam Patel")
    external_name: str = "An anonymous user"
    body: tuple[str, str] = ("exampleshire_county_council", "Exampleshire County Council")
    law: str = "foi"
    status: str = "waiting_response"
    due: date | None = date(2025, 8, 11)
    batch: tuple[int, int] | None = None
    eir_only: bool = False
    not_subject: bool = False
    restricted: bool = False
    closed: bool = False
    hidden_request: bool = False
    created: datetime = datetime(2025, 7, 14, 9, 12, 5, tzinfo=BST)
    modified: datetime = datetime(2025, 8, 14, 8, 3, 11, tzinfo=BST)
    items: list[object] = field(default_factory=list)


def _outgoing(page: Page, m: Out) -> str:
    if m.resent is not None:
        return f"""
  <div class="ff-print-fix"></div>
  <div class="outgoing correspondence box" id="outgoing-{m.id}">
    <h2>{time_tag(m.when)}</h2>
    <p class="event_plain">{m.resent}</p>
  </div>"""
    hidden = (
        '<p id="hidden_message" class="hidden_message">This message has been hidden. There are various reasons '
        "why we might have done this, sorry we can't be more specific here.</p>"
        if m.hidden
        else ""
    )
    delivery = ""
    header_cls = "correspondence__header"
    if m.delivery:
        header_cls += " correspondence__header--with-delivery-status"
        delivery = f"""
      <div class="correspondence__header__delivery-status">
        <a class="toggle-delivery-log toggle-delivery-log--{m.delivery} js-toggle-delivery-log" data-delivery-status="{m.delivery}" href="/outgoing_messages/{m.id}/delivery_status">{m.delivery.capitalize()}</a>
      </div>"""
    return f"""
  <div class="ff-print-fix"></div>
  <div class="outgoing correspondence js-collapsible" id="outgoing-{m.id}">
    {hidden}
    <div class="{header_cls}">
      <span class="correspondence__header__author js-collapsible-trigger">
        {escape(m.sender)}
      </span>
      <a class="correspondence__header__date" href="#outgoing-{m.id}">{time_tag(m.when)}</a>{delivery}
    </div>
    <div class="js-delivery-log-ajax-error" hidden aria-hidden="true"><p>We couldn’t load the mail server logs for this message.</p></div>
    <div class="correspondence_text">
      <div>{simple_format([escape(p) for p in m.paragraphs])}</div>
    </div>
    <p class="event_actions"></p>
    <div class="correspondence__footer">
      <div class="correspondence__footer__cplink">
        <input type="text" class="cplink__field" value="{SITE}/request/{page.slug}#outgoing-{m.id}">
        <a class="cplink__button">Link to this</a>
        <a class="cplink__button" href="/request/{page.slug}/report/new?outgoing_message_id={m.id}">Report</a>
      </div>
    </div>
  </div>"""


def _attachment(page: Page, m: In, a: Att) -> str:
    base = f"/request/{page.slug}/response/{m.id}/attach"
    fname = quote(a.filename)
    if a.hidden:
        return f"""
          <li class="attachment" id="attachment-{a.part}">
            <img class="attachment__image" src="/assets/content_type/icon_unknown.png">
            <span class="hidden_attachment"><p class="attachment__meta">This attachment has been hidden. There are various reasons why we might have done this, sorry we can't be more specific here. Please <a href="/help/contact">contact us</a> if you have any questions.</p></span>
          </li>"""
    if a.erased:
        return f"""
          <li class="attachment" id="attachment-{a.part}">
            <img class="attachment__image" src="/assets/content_type/icon_unknown.png">
            <p class="attachment__name">
              {escape(a.filename)}
            </p>
            <p class="attachment__meta">
              <em>This file has been erased.</em>
            </p>
          </li>"""
    view = f'<a href="{base}/html/{a.part}/{fname}.html">View</a>' if a.view else ""
    return f"""
          <li class="attachment" id="attachment-{a.part}">
            <a href="{base}/{a.part}/{fname}?cookie_passthrough=1"><img class="attachment__image" alt="Attachment" src="/assets/content_type/icon_{a.icon}_large-0123abcd.png"></a>
            <p class="attachment__name">
              {escape(a.filename)}
            </p>
            <p class="attachment__meta">
              {a.size}
              {view}
              <a href="{base}/{a.part}/{fname}?cookie_passthrough=1">Download</a>
            </p>
          </li>"""


def _incoming(page: Page, m: In) -> str:
    atts = ""
    if m.attachments:
        n = len(m.attachments)
        items = "".join(_attachment(page, m, a) for a in m.attachments)
        atts = f"""
      <div class="attachments">
        <div class="attachments__header"><h3>{n} Attachment{'s' if n != 1 else ''}</h3></div>
        <ul class="list-of-attachments">{items}
        </ul>
        <a href="#" class="attachments__show-more" style="display: none;" data-show-all="Show all attachments" data-show-fewer="Show fewer attachments"></a>
      </div>"""
    if m.raw_body is not None:
        body = m.raw_body
    else:
        paragraphs = [escape(p) for p in m.paragraphs]
        if m.fold == "show":
            paragraphs.append(
                f'<span class="unfold_link">\n  <a href="?unfold=1#incoming-{m.id}">show quoted sections</a>\n</span>'
            )
        elif m.fold == "hide":
            paragraphs += [escape(p) for p in m.quoted]
            paragraphs.append(f'<span class="unfold_link">\n  <a href="?#incoming-{m.id}">hide quoted sections</a>\n</span>')
        body = simple_format(paragraphs)
    hidden = (
        f'<p id="hidden_message" class="hidden_message">{escape(m.hidden_notice)}</p>' if m.hidden_notice else ""
    )
    main_part = max((a.part for a in m.attachments), default=0) + 1 if m.attachments else 1
    return f"""
  <div class="ff-print-fix"></div>
  <div class="incoming correspondence {m.prominence} js-collapsible" id="incoming-{m.id}">
    <div class="correspondence__header">
      <span class="correspondence__header__author js-collapsible-trigger">
        {m.sender_html}
      </span>
      <a class="correspondence__header__date" href="#incoming-{m.id}">{time_tag(m.when)}</a>
    </div>
    {hidden}
    <div class="correspondence_text">{atts}
      <div id="attachment-{main_part}">
        {body}
      </div>
    </div>
    <p class="event_actions"></p>
    <div class="correspondence__footer">
      <div class="correspondence__footer__cplink">
        <input type="text" class="cplink__field" value="{SITE}/request/{page.slug}#incoming-{m.id}">
        <a class="cplink__button">Link to this</a>
        <a class="cplink__button" href="/request/{page.slug}/report/new?incoming_message_id={m.id}">Report</a>
      </div>
    </div>
  </div>"""


def _comment(page: Page, c: Comment) -> str:
    return f"""
  <div class="ff-print-fix"></div>
  <div class="comment_in_request box" id="comment-{c.id}">
    <div class="comment_content">
      <h2>
        <a href="/user/{c.user_slug}">{escape(c.user_name)}</a> left an annotation ({time_tag(c.when)})
      </h2>
      <div class="comment_in_request_text">
        <p>{c.html}</p>
      </div>
      <p class="event_actions"></p>
    </div>
    <div class="correspondence__footer">
      <div class="correspondence__footer__cplink">
        <input type="text" class="cplink__field" value="{SITE}/request/{page.slug}#comment-{c.id}">
        <a class="cplink__button" href="/request/{page.slug}/report/new?comment_id={c.id}">Report</a>
      </div>
    </div>
  </div>"""


def build_page(page: Page) -> bytes:
    body_link = f'<a href="/body/{page.body[0]}">{escape(page.body[1])}</a>'
    if page.user is not None:
        user_link = f'<a href="/user/{page.user[0]}">{escape(page.user[1])}</a>'
        user_name = page.user[1]
    else:
        user_link = escape(page.external_name)
        user_name = page.external_name
    law_words = "Environmental Information Regulations" if page.law == "eir" else "Freedom of Information"
    extras = ""
    if page.batch:
        extras += f' as part of <a href="/info_request_batch/{page.batch[0]}">a batch sent to {page.batch[1]} authorities</a>'
    if page.eir_only:
        extras += '<span class="request-header__foi_no"><br>You only have a right in law to access information about the environment from this authority</span>'
    if page.not_subject:
        extras += '<span class="request-header__foi_no">This authority is not subject to FOI law, so is not legally obliged to respond (<a href="/help/requesting#authorities">details</a>).</span>'
    if page.restricted:
        extras += '<span class="request-header__restricted_correspondence"><br><br>Automatic anti-spam measures are in place for this older request. Please <a href="/help/contact">contact us</a> if you are unable to send a message.</span>'
    if page.closed:
        extras += '<span class="request-header__closed_to_correspondence"><br><br>This request has been <strong>closed to new correspondence</strong>. <a href="/help/contact">Contact us</a> if you think it should be reopened.</span>'
    due = f"<time datetime=\"{page.due.isoformat()}\" title=\"{page.due.isoformat()}\">{page.due.day:2d} {page.due.strftime('%B %Y')}</time>" if page.due else ""
    sentence = STATUS_SENTENCES[page.status].format(
        body=body_link, user=user_link if page.user else escape(user_name), due=due, slug=page.slug
    )
    parts = []
    for item in page.items:
        if isinstance(item, Out):
            parts.append(_outgoing(page, item))
        elif isinstance(item, In):
            parts.append(_incoming(page, item))
        else:
            parts.append(_comment(page, item))
    hidden = (
        '<p id="hidden_request">This request has been hidden. There are various reasons why we might have done '
        'this, sorry we can\'t be more specific here. Please <a href="/help/contact">contact us</a> if you have any questions.</p>'
        if page.hidden_request
        else ""
    )
    title = escape(page.title)
    html = f"""<!DOCTYPE html>
<html lang="en" class="no-js">
  <head>
    <meta charset="utf-8">
    <title>{title} - a {law_words} request to {escape(page.body[1])} - WhatDoTheyKnow</title>
    <link rel="alternate" type="application/atom+xml" title="New updates for the request '{title}'" href="{SITE}/request/{page.slug}/feed">
    <link rel="alternate" type="application/json" title="JSON version of New updates for the request '{title}'" href="{SITE}/request/{page.slug}/feed.json">
    <link rel="alternate" type="application/json" title="JSON version of this page" href="/request/{page.slug}.json">
    <meta property="og:site_name" content="WhatDoTheyKnow" />
    <meta property="og:title" content="{title} - a {law_words} request to {escape(page.body[1])}" />
    <meta property="og:type" content="article" />
    <meta property="article:published_time" content="{page.created.isoformat()}" />
    <meta property="article:modified_time" content="{page.modified.isoformat()}" />
    <meta property="og:description" content="Dear Sir or Madam," />
    <meta property="og:url" content="{SITE}/request/{page.slug}" />
  </head>
  <body class="">
    <div class="entirebody">
      <nav><a href="#content" class="skip-to-link">Skip to content</a></nav>
      <div id="country-message"></div>
      <div id="banner" class="banner"><ul id="navigation"><li><a href="/list/successful">Browse requests</a></li></ul></div>
      <div id="wrapper">
        <div id="content" role="main">
          <div id="request_show" class="controller_request">
            {hidden}
            <div class="request-header">
              <div class="row">
                <h1>{title}</h1>
                <div class="request-header__action-bar-container">
                  <div class="request-header__action-bar">
                    <p class="request-header__subtitle">
                      {user_link} made this {law_words} request to {body_link}{extras}
                    </p>
                    <div class="request-header__action-bar__actions">
                      <div id="after_actions" class="after-actions">
                        <ul class="action-menu after-actions__action-menu"><li>
                          <a class="action-menu__button">Actions</a>
                          <ul class="action-menu__menu">
                            <li class="action-menu__menu__item"><ul class="action-menu__menu__submenu anyone_actions">
                              <li><a href="/request/{page.slug}/report/new">Report this request</a></li>
                              <li><a href="/request/{page.slug}/details">View event history details</a></li>
                              <li><a class="js-collapsible-trigger-all">Collapse all correspondence</a></li>
                            </ul></li>
                          </ul>
                        </li></ul>
                      </div>
                      <div class="action-bar__follow">
                        <div class="action-bar__follow-button"><div class="feed_link feed_link_toolbar"><a class="link_button_green track__action" href="/request/{page.slug}/track">Follow</a></div></div>
                        <div class="action-bar__follower-count"><span id="follow_count">3</span> followers</div>
                      </div>
                    </div>
                  </div>
                </div>
                <div class="request-status">
                  <div id="request_status" class="request-status-message request-status-message--{page.status}">
                    <i class="icon-standalone icon_{page.status}"></i>
                    <p>{sentence}
                    </p>
                  </div>
                </div>
              </div>
            </div>
            <div id="left_column" class="left_column">{''.join(parts)}
              <div class="request-footer__action-bar-container"><div class="request-footer__action-bar__actions"></div></div>
              <div class="donate-cta"><h2 class="donate-cta__header">Donate</h2></div>
            </div>
            <div id="right_column" class="sidebar right_column" role="complementary">
              <div class="sidebar__section sidebar__similar-requests">
                <h2>Requests like this</h2>
                <div class="request_short_listing"><h3 class="request_short_listing__title"><a href="/request/other_thing?utm_source=x">Other thing</a></h3></div>
              </div>
              <div class="sidebar__section"><p class="copyright-notice"><small><a href="/help/officers#copyright">Are you the owner of any commercial copyright on this page?</a></small></p></div>
            </div>
          </div>
          <div style="clear:both"></div>
        </div>
      </div>
    </div>
  </body>
</html>
"""
    return html.encode("utf-8")


def build_json(page: Page, request_id: int, events: list[dict] | None = None, **overrides) -> bytes:
    """A /request/<slug>.json body for ``page`` (compact, Rails-escaped like the site)."""
    data: dict = {
        "id": request_id,
        "url_title": page.slug,
        "title": page.title,
        "created_at": page.created.isoformat(timespec="milliseconds"),
        "updated_at": page.modified.isoformat(timespec="milliseconds"),
        "described_state": "waiting_response",
        "display_status": "Awaiting response",
        "awaiting_description": False,
        "prominence": "normal",
        "law_used": page.law,
        "tags": [],
    }
    if page.user is not None:
        data["user"] = {"id": 884201, "url_name": page.user[0], "name": page.user[1], "ban_text": "", "about_me": ""}
    else:
        data["user_name"] = None if page.external_name == "An anonymous user" else page.external_name
    data["public_body"] = {"id": 2291, "url_name": page.body[0], "name": page.body[1], "short_name": "", "tags": []}
    data["info_request_events"] = events or []
    data.update(overrides)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode("utf-8")
