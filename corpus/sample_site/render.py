"""HTML, JSON and CSV renderers for the sample site.

Each function takes data-model objects and returns ``str`` (or ``bytes``), with
no I/O.  The markup follows the current Alaveteli / WhatDoTheyKnow templates:
the request page, the shared listing item, will_paginate navigation, the
authority, user and ``/list`` pages, and the error pages.  ``base`` is the site
URL (``http://127.0.0.1:PORT``); the real site writes ``https://www.whatdotheyknow.com``
where the sample writes ``base``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import re
from datetime import date, datetime
from html import escape
from urllib.parse import quote, urlencode

from corpus.sample_site.data import (
    LONDON,
    STATUS_LABELS,
    FakeAnnotation,
    FakeAttachment,
    FakeAuthority,
    FakeMessage,
    FakeRequest,
    SiteCorpus,
)

SITE_NAME = "WhatDoTheyKnow"
PER_PAGE = 25


def esc(text: str | None) -> str:
    return escape(text or "", quote=True)


# --------------------------------------------------------------------------- dates


def date_text(value: date | datetime) -> str:
    """WDTK's ``%e %B %Y``: a one-digit day keeps a leading space."""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON)
    return f"{value.day:2d} {value:%B %Y}"


def time_tag(dt: datetime) -> str:
    local = dt.astimezone(LONDON).replace(microsecond=0)
    iso = local.isoformat()
    title = local.strftime("%Y-%m-%d %H:%M:%S %z")
    return f'<time datetime="{iso}" title="{title}">{date_text(local)}</time>'


def date_time_tag(day: date) -> str:
    return f'<time datetime="{day.isoformat()}" title="{day.isoformat()}">{date_text(day)}</time>'


def json_time(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(LONDON).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------- JSON


def to_json(obj) -> bytes:
    """Compact JSON the way Rails writes it: raw UTF-8, <, > and & as \\u escapes."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    text = (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return text.encode("utf-8")


def _tag_pairs(tags: list[str]) -> list[list]:
    out = []
    for t in tags:
        name, sep, value = t.partition(":")
        out.append([name, value if sep else None])
    return out


def user_json(user) -> dict:
    return {"id": user.id, "url_name": user.url_name, "name": user.name, "ban_text": user.ban_text, "about_me": user.about_me}


def _body_counts(corpus: SiteCorpus) -> dict[str, dict]:
    """Per-authority ``info`` counts, cached until the corpus changes size or version."""
    key = (len(corpus.requests), corpus.version, corpus.today)
    cache = corpus.__dict__.get("_body_counts")
    if cache is not None and cache[0] == key:
        return cache[1]
    counts: dict[str, dict] = {}
    for r in corpus.requests:
        c = counts.setdefault(r.authority_url_name, {
            "requests_count": 0, "requests_successful_count": 0, "requests_not_held_count": 0,
            "requests_overdue_count": 0, "requests_visible_classified_count": 0})
        c["requests_count"] += 1  # every request, hidden ones included
        if r.prominence != "normal":
            continue
        s = r.calculated_status(corpus.today, corpus.authorities.get(r.authority_url_name))
        c["requests_successful_count"] += s in ("successful", "partially_successful")
        c["requests_not_held_count"] += s == "not_held"
        c["requests_overdue_count"] += s.startswith("waiting_response_")
        c["requests_visible_classified_count"] += not r.awaiting_description
    corpus.__dict__["_body_counts"] = (key, counts)
    return counts


def body_json(corpus: SiteCorpus, auth: FakeAuthority) -> dict:
    created = auth.created_at or datetime(2008, 4, 22, 11, 30, 18, tzinfo=LONDON)
    info = _body_counts(corpus).get(auth.url_name) or {
        "requests_count": 0, "requests_successful_count": 0, "requests_not_held_count": 0,
        "requests_overdue_count": 0, "requests_visible_classified_count": 0}
    return {
        "id": auth.id,
        "url_name": auth.url_name,
        "name": auth.name,
        "short_name": auth.short_name,
        "created_at": json_time(created),
        "updated_at": json_time(created.replace(year=max(created.year, 2024))),
        "home_page": auth.home_page,
        "notes": auth.notes,
        "publication_scheme": "",
        "disclosure_log": "",
        "tags": _tag_pairs(auth.tags),
        "info": dict(info),
    }


def request_json(corpus: SiteCorpus, req: FakeRequest) -> bytes:
    auth = corpus.authority_of(req)
    obj: dict = {
        "id": req.id,
        "url_title": req.url_title,
        "title": req.title,
        "created_at": json_time(req.created_at),
        "updated_at": json_time(req.updated_at),
        "described_state": req.described_state,
        "display_status": req.display_status(corpus.today, auth),
        "awaiting_description": req.awaiting_description,
        "prominence": req.prominence,
        "law_used": req.law,
        "tags": [[k, v] for k, v in req.tags],
    }
    if req.user_url_name is not None:
        obj["user"] = user_json(corpus.users[req.user_url_name])
    else:
        obj["user_name"] = req.external_name
    obj["public_body"] = body_json(corpus, auth)
    events = []
    for ev in req.events():
        item = {
            "id": ev["id"],
            "event_type": ev["event_type"],
            "created_at": json_time(ev["created_at"]),
            "described_state": ev["described_state"],
            "calculated_state": ev["calculated_state"],
            "last_described_at": json_time(ev["last_described_at"]),
            "incoming_message_id": ev["incoming_message_id"],
            "outgoing_message_id": ev["outgoing_message_id"],
            "comment_id": ev["comment_id"],
        }
        if "display_status" in ev:
            item["display_status"] = ev["display_status"]
        events.append(item)
    obj["info_request_events"] = events
    return to_json(obj)


# --------------------------------------------------------------------------- layout


def layout(body_html: str, *, title: str, head_extra: str = "", base: str = "", lang: str = "en") -> str:
    return f"""<!DOCTYPE html>
<html lang="{lang}" class="no-js">
  <head>
    <meta charset="utf-8">
    <title>
        {esc(title)}
    </title>
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <meta name="csrf-param" content="authenticity_token">
{head_extra}
    <link href="/assets/application-3c1a2f.css" media="all" rel="stylesheet" type="text/css" />
  </head>
  <body class="">
    <div class="entirebody">
      <nav><a href="#content" class="skip-to-link">Skip to content</a></nav>
      <div id="country-message"></div>
      <div id="banner" class="banner">
        <div class="banner_site-title"><a href="/" id="logo">{SITE_NAME}</a></div>
        <ul id="navigation" class="navigation">
          <li><a href="/select_authority">Make a request</a></li>
          <li><a href="/list">Browse requests</a></li>
          <li><a href="/body">View authorities</a></li>
          <li><a href="/help/about">Read blog</a></li>
        </ul>
      </div>
      <div id="wrapper">
        <div id="content" role="main">
{body_html}
          <div style="clear:both"></div>
        </div>
      </div>
      <div class="footer" id="footer">
        <p>Built by <a href="https://www.mysociety.org/">mySociety</a>. {SITE_NAME} is run by a charity.</p>
      </div>
    </div>
  </body>
</html>
"""


NOT_FOUND_TITLE = f"{SITE_NAME} - Make and browse Freedom of Information (FOI) requests"


def not_found_page(controller: str = "general", action: str = "not_found") -> str:
    body = f"""          <div id="{controller}_{action}" class="controller_{controller}">
            <div id="error-page" class="error-page">
              <h1>Sorry, we couldn't find that page</h1>
              <p>The page doesn't exist. Things you can try now:</p>
              <ul>
                <li>Check for mistakes if you typed or copied the address.</li>
                <li>Search the site to find what you were looking for.
                  <form id="search_form" method="get" action="/search">
                    <input type="text" name="query" id="query" size="40">
                    <input type="submit" value="Search">
                  </form>
                </li>
              </ul>
            </div>
          </div>"""
    return layout(body, title=NOT_FOUND_TITLE)


STATIC_404 = """<!DOCTYPE html>
<html>
<head>
  <title>The page you were looking for doesn't exist (404)</title>
  <meta name="viewport" content="width=device-width,initial-scale=1">
</head>
<body>
  <div class="dialog">
    <div>
      <h1>The page you were looking for doesn't exist.</h1>
      <p>You may have mistyped the address or the page may have moved.</p>
    </div>
    <p>If you are the application owner check the logs for more information.</p>
  </div>
</body>
</html>
"""

HIDDEN_GENERIC = "There are various reasons why we might have done this, sorry we can't be more specific here."


def hidden_request_page(req: FakeRequest) -> str:
    reason = req.hidden_reason or HIDDEN_GENERIC
    notice = f"This request has been hidden. {esc(reason)} "
    if req.prominence == "requester_only":
        notice += (
            "If you are the requester, then you may "
            f'<a href="/profile/sign_in?r=%2Frequest%2F{esc(req.url_title)}">sign in</a> to view the request. '
        )
    notice += 'Please <a href="/help/contact">contact us</a> if you have any questions.'
    body = f"""          <div id="request_show" class="controller_request">
            <h1>Request has been removed</h1>
            <p></p>
            <p>{notice}</p>
            <p id="hidden_request">{notice}</p>
          </div>"""
    return layout(body, title=f"Request has been removed - {SITE_NAME}")


def server_error_page() -> str:
    body = """          <div id="general_exception_caught" class="controller_general">
            <div id="error-page" class="error-page">
              <h1>Sorry, there was a problem processing this page</h1>
              <p>You have found a bug. Please contact us to tell us about the problem.</p>
            </div>
          </div>"""
    return layout(body, title=NOT_FOUND_TITLE)


CHALLENGE_PAGE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta name="robots" content="noindex,nofollow">
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body><div class="main-wrapper" role="main"><div class="main-content">
<noscript><div class="h2"><span id="challenge-error-text">Enable JavaScript and cookies to continue</span></div></noscript>
<div id="challenge-body-text" class="core-msg spacer">www.whatdotheyknow.com needs to review the security of your connection before proceeding.</div>
</div></div><script>(function(){window._cf_chl_opt={cvId: '3',cType: 'managed'};}());</script></body></html>
"""


# --------------------------------------------------------------------------- text helpers

_URL_RE = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)]")


def _autolink(escaped: str) -> str:
    return _URL_RE.sub(lambda m: f'<a href="{m.group(0)}" rel="nofollow">{m.group(0)}</a>', escaped)


def simple_format(paragraphs: list[str], *, links: bool = False) -> str:
    """Rails ``simple_format``: a <p> per paragraph, single newlines as <br />."""
    out = []
    for para in paragraphs:
        text = esc(para)
        if links:
            text = _autolink(text)
        out.append("<p>" + text.replace("\n", "\n<br />") + "</p>")
    return "\n\n".join(out)


def excerpt(text: str) -> str:
    """highlight_and_excerpt with no words: first 151 characters, then '...'."""
    text = text.strip()
    if len(text) > 151:
        return esc(text[:151].strip()) + "..."
    return esc(text)


def _asset_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


# The content-type icons Alaveteli ships (app/assets/images/content_type/); any
# other type is shown with icon_unknown.png.
ICON_TYPES = frozenset({
    "application/octet-stream", "application/pdf", "application/rtf", "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint", "application/vnd.ms-word",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip",
    "image/bmp", "image/gif", "image/img", "image/jpeg", "image/png", "image/tiff",
    "message/delivery-status", "text/html", "text/plain", "text/x-vcard",
})


def content_icon(content_type: str) -> str:
    """The icon's base name: ``icon_<type>_large``, or ``icon_unknown`` for types with no icon."""
    if content_type not in ICON_TYPES:
        return "icon_unknown"
    return "icon_" + content_type.replace("/", "_") + "_large"


def asset_path(name: str) -> str:
    """``/assets/content_type/<name>-<digest>.png``, as the Rails asset pipeline writes it."""
    return f"/assets/content_type/{name}-{_asset_hash(name)}.png"


# --------------------------------------------------------------------------- request page


def _status_sentence(corpus: SiteCorpus, req: FakeRequest, status: str) -> str:
    auth = corpus.authority_of(req)
    body = f'<a href="/body/{esc(auth.url_name)}">{esc(auth.name)}</a>'
    details = '(<a href="/help/requesting#quickly_response">details</a>)'
    if req.user_url_name:
        user = corpus.users[req.user_url_name]
        who = f'<a href="/user/{esc(user.url_name)}">{esc(user.name)}</a>'
    else:
        who = esc(req.external_name or "An anonymous user")
    if status == "waiting_response":
        return (
            f"Currently <strong>waiting for a response</strong> from {body}, they should respond promptly and "
            f"normally no later than <strong>{date_time_tag(req.due_date(auth))}</strong> {details}."
        )
    if status == "waiting_response_overdue":
        if auth.not_subject_to_foi:
            return (
                f"Response to this request is <strong>delayed</strong>. Although not legally required to do so, "
                f"we would have expected {body} to have responded by <strong>{date_time_tag(req.due_date(auth))}</strong> {details}"
            )
        return (
            f"Response to this request is <strong>delayed</strong>. By law, {body} should normally have responded "
            f"<strong>promptly</strong> and by <strong>{date_time_tag(req.due_date(auth))}</strong> {details}"
        )
    if status == "waiting_response_very_overdue":
        return (
            f"Response to this request is <strong>long overdue</strong>. By law, under all circumstances, {body} "
            f"should have responded by now {details}. You can <strong>complain</strong> by "
            f'<a href="/request/{esc(req.url_title)}/followups/new?internal_review=1#followup">requesting an internal review</a>.'
        )
    if status == "not_held":
        return f"{body} <strong>did not have</strong> the information requested."
    if status == "rejected":
        return f"The request was <strong>refused</strong> by {body}."
    if status == "successful":
        return "The request was <strong>successful</strong>."
    if status == "partially_successful":
        return "The request was <strong>partially successful</strong>."
    if status == "waiting_clarification":
        return (
            f"The request is <strong>waiting for clarification</strong>. If you are {who}, please "
            f'<a href="/profile/sign_in?r=%2Frequest%2F{esc(req.url_title)}">sign in</a> to send a follow up message.'
        )
    if status == "gone_postal":
        return "The authority would like to / has <strong>responded by postal mail</strong> to this request."
    if status == "internal_review":
        return f"Waiting for an <strong>internal review</strong> by {body} of their handling of this request."
    if status == "error_message":
        return (
            f"There was a <strong>delivery error</strong> or similar, which needs fixing by the {SITE_NAME} team. "
            f'Can you help by <a href="/change_request/new/{esc(auth.url_name)}">finding updated contact details</a>?'
        )
    if status == "requires_admin":
        return f"This request has had an unusual response, and <strong>requires attention</strong> from the {SITE_NAME} team."
    if status == "user_withdrawn":
        return (
            "This request has been <strong>withdrawn</strong> by the person who made it. "
            "There may be an explanation in the correspondence below."
        )
    if status == "attention_requested":
        return "This request has been <strong>reported</strong> as needing administrator attention."
    if status == "vexatious":
        return "This request has been reviewed by an administrator and is considered to be vexatious"
    if status == "not_foi":
        return "This request has been reviewed by an administrator and is considered not to be an FOI request."
    if status == "waiting_classification":
        n_responses = sum(1 for m in req.messages if m.direction == "incoming")
        what = "recent responses" if n_responses > 1 else "a recent response"
        return f"We're waiting for {who} to read {what} and update the status."
    return esc(STATUS_LABELS.get(status, status))


def _footer(slug: str, base: str, anchor: str, report_key: str, item_id: int) -> str:
    return f"""    <div class="correspondence__footer">
      <div class="correspondence__footer__cplink">
        <input type="text" class="cplink__field" value="{esc(base)}/request/{esc(slug)}#{anchor}">
        <a class="cplink__button" href="#{anchor}">Link to this</a>
        <a class="cplink__button" href="/request/{esc(slug)}/report/new?{report_key}={item_id}">Report</a>
      </div>
    </div>"""


HIDDEN_MESSAGE_TEXT = (
    "This message has been hidden. There are various reasons why we might have done this, "
    "sorry we can't be more specific here. Please <a href=\"/help/contact\">contact us</a> if you have any questions."
)
REQUESTER_ONLY_MESSAGE_TEXT = (
    "This message has been hidden. There are various reasons why we might have done this, "
    "sorry we can't be more specific here. If you are the requester, then you may sign in to view the message. "
    "Please <a href=\"/help/contact\">contact us</a> if you have any questions."
)


def _outgoing(corpus: SiteCorpus, req: FakeRequest, m: FakeMessage, base: str) -> str:
    auth = corpus.authority_of(req)
    if m.event_type in ("resent", "followup_resent"):
        what = "Sent request to" if m.event_type == "resent" else "Sent a follow up to"
        return f"""  <div class="outgoing correspondence box" id="outgoing-{m.id}">
    <h2>{time_tag(m.sent_at)}</h2>
    <p class="event_plain">{what} <a href="/body/{esc(auth.url_name)}">{esc(auth.name)}</a> again.</p>
  </div>"""
    hidden = m.prominence != "normal"
    delivery = ""
    header_cls = "correspondence__header"
    if m.delivery_status and not hidden:
        header_cls += " correspondence__header--with-delivery-status"
        delivery = f"""
      <div class="correspondence__header__delivery-status">
        <a class="toggle-delivery-log toggle-delivery-log--{m.delivery_status} js-toggle-delivery-log" data-delivery-status="{m.delivery_status}" href="/outgoing_messages/{m.id}/delivery_status">{m.delivery_status.capitalize()}</a>
      </div>"""
    notice = ""
    text = f"""
    <div class="correspondence_text">
      <div>{simple_format(m.paragraphs)}</div>
    </div>"""
    if hidden:
        notice = f'\n    <p id="hidden_message" class="hidden_message">{HIDDEN_MESSAGE_TEXT if m.prominence == "hidden" else REQUESTER_ONLY_MESSAGE_TEXT}</p>'
        text = ""
    return f"""  <div class="outgoing correspondence js-collapsible" id="outgoing-{m.id}">{notice}
    <div class="{header_cls}">
      <span class="correspondence__header__author js-collapsible-trigger">
        {esc(m.sender_name)}
      </span>
      <a class="correspondence__header__date" href="#outgoing-{m.id}">{time_tag(m.sent_at)}</a>{delivery}
    </div>
    <div class="js-delivery-log-ajax-error" hidden aria-hidden="true" style="display: none; visibility: hidden;">
      <p>We couldn’t load the mail server logs for this message.</p>
    </div>{text}
    <p class="event_actions">
    </p>
{_footer(req.url_title, base, f"outgoing-{m.id}", "outgoing_message_id", m.id)}
  </div>"""


def attachment_url(req: FakeRequest, m: FakeMessage, a: FakeAttachment) -> str:
    return f"/request/{quote(req.url_title)}/response/{m.id}/attach/{a.part}/{quote(a.filename)}"


HIDDEN_ATTACHMENT_TEXT = (
    "This attachment has been hidden. There are various reasons why we might have done this, "
    "sorry we can't be more specific here. Please <a href=\"/help/contact\">contact us</a> if you have any questions."
)


def _attachments(req: FakeRequest, m: FakeMessage) -> str:
    """``request/_attachments``: ``li#attachment-<database id>`` items; the part is only in the links."""
    if not m.attachments:
        return ""
    items = []
    for a in m.attachments:
        url = attachment_url(req, m, a)
        dom_id = f"attachment-{m.part_database_id(a.part)}"
        if a.hidden:
            items.append(f"""        <li class="attachment" id="{dom_id}">
          <img class="attachment__image" src="{asset_path("icon_unknown")}" />
          <span class="hidden_attachment"><p>{HIDDEN_ATTACHMENT_TEXT}</p></span>
        </li>""")
            continue
        if a.erased:
            items.append(f"""        <li class="attachment" id="{dom_id}">
          <img class="attachment__image" src="{asset_path("icon_unknown")}" />
          <p class="attachment__name">
            {esc(a.filename)}
          </p>
          <p class="attachment__meta">
            <em>This file has been erased.</em>
          </p>
        </li>""")
            continue
        icon = content_icon(a.content_type)
        view = ""
        if req.prominence == "normal":
            view = f'\n            <a href="/request/{quote(req.url_title)}/response/{m.id}/attach/html/{a.part}/{quote(a.filename)}.html">View</a>'
        items.append(f"""        <li class="attachment" id="{dom_id}">
          <a href="{url}?cookie_passthrough=1"><img class="attachment__image" alt="Attachment" src="{asset_path(icon)}" /></a>
          <p class="attachment__name">
            {esc(a.filename)}
          </p>
          <p class="attachment__meta">
            {esc(a.size_text)}{view}
            <a href="{url}?cookie_passthrough=1">Download</a>
          </p>
        </li>""")
    return attachments_block(items)


def attachments_block(items: list[str]) -> str:
    """The ``div.attachments`` box around rendered ``li.attachment`` items (2016 onwards)."""
    n = len(items)
    joined = "\n".join(items)
    return f"""
      <div class="attachments">
        <div class="attachments__header">
          <h3>
            {n} Attachment{"s" if n != 1 else ""}
          </h3>
        </div>
        <ul class="list-of-attachments">
{joined}
        </ul>
        <a href="#" class="attachments__show-more" style="display: none;" data-show-all="Show all attachments" data-show-fewer="Show fewer attachments"></a>
      </div>"""


def incoming_author(corpus: SiteCorpus, req: FakeRequest, m: FakeMessage) -> str:
    auth = corpus.authority_of(req)
    if m.sender_name and m.sender_name != auth.name:
        return f"{esc(m.sender_name)},\n        {esc(auth.name)}"
    return esc(auth.name)


def _incoming(corpus: SiteCorpus, req: FakeRequest, m: FakeMessage, base: str, unfold: bool) -> str:
    hidden = m.prominence != "normal"
    notice = ""
    if hidden:
        notice = f'\n    <p id="hidden_message" class="hidden_message">{HIDDEN_MESSAGE_TEXT if m.prominence == "hidden" else REQUESTER_ONLY_MESSAGE_TEXT}</p>'
        text = ""
    else:
        body = simple_format(m.paragraphs)
        if m.quoted:
            if unfold:
                body += "\n\n" + simple_format(m.quoted)
                body += f'\n<span class="unfold_link"><a href="?#incoming-{m.id}">hide quoted sections</a></span>'
            else:
                body += f'\n<span class="unfold_link"><a href="?unfold=1#incoming-{m.id}">show quoted sections</a></span>'
        text = f"""
    <div class="correspondence_text">{_attachments(req, m)}
      <div id="attachment-{m.part_database_id(m.body_part)}">
{body}
      </div>
    </div>"""
    return f"""  <div class="incoming correspondence {esc(m.prominence)} js-collapsible" id="incoming-{m.id}">
    <div class="correspondence__header">
      <span class="correspondence__header__author js-collapsible-trigger">
        {incoming_author(corpus, req, m)}
      </span>
      <a class="correspondence__header__date" href="#incoming-{m.id}">{time_tag(m.sent_at)}</a>
    </div>{notice}{text}
    <p class="event_actions">
    </p>
{_footer(req.url_title, base, f"incoming-{m.id}", "incoming_message_id", m.id)}
  </div>"""


def _comment(req: FakeRequest, a: FakeAnnotation, base: str) -> str:
    return f"""  <div class="comment_in_request box" id="comment-{a.id}">
    <div class="comment_content">
      <h2>
        <a href="/user/{esc(a.user_url_name)}">{esc(a.user_name)}</a> left an annotation ({time_tag(a.created_at)})
      </h2>
      <div class="comment_in_request_text">
        {simple_format(a.paragraphs, links=True)}
      </div>
      <p class="event_actions">
      </p>
    </div>
{_footer(req.url_title, base, f"comment-{a.id}", "comment_id", a.id)}
  </div>"""


def _after_actions(req: FakeRequest, requester_name: str, auth: FakeAuthority) -> str:
    slug = esc(req.url_title)
    return f"""                <div id="after_actions" class="after-actions">
                  <ul class="action-menu after-actions__action-menu">
                    <li>
                      <a href="#" class="action-menu__button">Actions</a>
                      <ul class="action-menu__menu">
                        <li class="action-menu__menu__item">
                          <span class="action-menu__menu__heading">{esc(requester_name)}</span>
                          <ul class="action-menu__menu__submenu owner_actions">
                            <li><a href="/request/{slug}/followups/new">Send a followup</a></li>
                            <li><a href="/request/{slug}?update_status=1">Update the status of this request</a></li>
                            <li><a href="/request/{slug}/followups/new?internal_review=1">Request an internal review</a></li>
                          </ul>
                        </li>
                        <li class="action-menu__menu__item">
                          <span class="action-menu__menu__heading">{esc(auth.name)}</span>
                          <ul class="action-menu__menu__submenu public_body_actions">
                            <li><a href="/request/{slug}/upload">Respond to request</a></li>
                          </ul>
                        </li>
                        <li class="action-menu__menu__item">
                          <ul class="action-menu__menu__submenu anyone_actions">
                            <li><a href="/request/{slug}/report/new">Report this request</a><span class="action-menu__info-link"></span></li>
                            <li><a href="/request/{slug}/annotate">Add an annotation</a></li>
                            <li><a href="/request/{slug}/download">Download a zip file of all correspondence</a></li>
                            <li><a href="/request/{slug}/details">View event history details</a></li>
                            <li><a tabindex="0" class="js-collapsible-trigger-all" data-text-expanded="Collapse all correspondence" data-text-collapsed="Expand all correspondence">Collapse all correspondence</a></li>
                          </ul>
                        </li>
                      </ul>
                    </li>
                  </ul>
                </div>
                <div class="action-bar__follow">
                  <div class="action-bar__follow-button">
                    <div class="feed_link feed_link_toolbar">
                      <a class="link_button_green track__action" href="/request/{slug}/track">Follow</a>
                    </div>
                  </div>
                  <div class="action-bar__follower-count">
                    <span id="follow_count">{(req.id % 7) + 1}</span> followers
                  </div>
                </div>"""


def request_page(corpus: SiteCorpus, req: FakeRequest, base: str, *, unfold: bool = False) -> str:
    auth = corpus.authority_of(req)
    status = req.calculated_status(corpus.today, auth)
    slug = esc(req.url_title)
    law_text = "Environmental Information Regulations" if req.law == "eir" else "Freedom of Information"
    if req.user_url_name:
        user = corpus.users[req.user_url_name]
        requester_name = req.from_name or user.name
        who = f'<a href="/user/{esc(user.url_name)}">{esc(requester_name)}</a>'
    else:
        requester_name = req.external_name or "An anonymous user"
        who = esc(requester_name)
    subtitle = f'{who} made this {law_text} request to <a href="/body/{esc(auth.url_name)}">{esc(auth.name)}</a>'
    if req.batch_id is not None:
        subtitle += f'\n              as part of <a href="/info_request_batch/{req.batch_id}">a batch sent to {req.batch_size or 2} authorities</a>'
    if auth.eir_only:
        subtitle += '\n              <span class="request-header__foi_no"><br>You only have a right in law to access information about the environment from this authority</span>'
    elif auth.not_subject_to_foi:
        subtitle += '\n              <span class="request-header__foi_no">This authority is not subject to FOI law, so is not legally obliged to respond (<a href="/help/requesting#authorities">details</a>).</span>'
    if req.allow_new_responses_from == "authority_only":
        subtitle += '\n              <span class="request-header__restricted_correspondence">Automatic anti-spam measures are in place for this older request. Contact us if you are an authorised sender and need to reply.</span>'
    elif req.allow_new_responses_from == "nobody":
        subtitle += '\n              <span class="request-header__closed_to_correspondence">This request has been closed to new correspondence. Contact us if you think it should be reopened.</span>'

    blocks = []
    for ev in req.events():
        html = None
        obj = ev.get("_obj")  # the message or annotation of a message or comment event
        if isinstance(obj, FakeMessage):
            if ev["outgoing_message_id"] is not None and ev["event_type"] in ("sent", "followup_sent", "send_error", "resent", "followup_resent"):
                html = _outgoing(corpus, req, obj, base)
            elif ev["incoming_message_id"] is not None and ev["event_type"] == "response":
                html = _incoming(corpus, req, obj, base, unfold)
        elif isinstance(obj, FakeAnnotation):
            if ev["comment_id"] is not None and ev["event_type"] == "comment" and obj.visible:
                html = _comment(req, obj, base)
        if html is not None:
            blocks.append('  <div class="ff-print-fix"></div>\n' + html)
    thread = "\n\n".join(blocks)

    hidden_banner = ""
    if req.prominence in ("hidden", "requester_only"):
        hidden_banner = f'\n            <p id="hidden_request">This request has been hidden. {HIDDEN_GENERIC}</p>'

    similar = list(itertools.islice((r for r in corpus.requests if r.authority_url_name == req.authority_url_name
                                     and r is not req and r.prominence == "normal"), 3))
    similar_html = "\n".join(
        f"""                <div class="request_short_listing">
                  <h3 class="request_short_listing__title"><a href="/request/{esc(r.url_title)}?utm_campaign=alaveteli-experiments-87&amp;utm_content=sidebar_similar_requests&amp;utm_medium=link&amp;utm_source=whatdotheyknow">{esc(r.title)}</a></h3>
                  <p class="request_short_listing__authority"><a href="/body/{esc(auth.url_name)}">{esc(auth.name)}</a></p>
                </div>"""
        for r in similar
    )
    batch_side = ""
    if req.batch_id is not None:
        batch_side = f"""
              <div class="sidebar__section sidebar__part-of-batch">
                <p>This request is part of <a href="/info_request_batch/{req.batch_id}">a batch sent to {req.batch_size or 2} authorities</a>.</p>
              </div>"""
    attention = ""
    if status == "attention_requested":
        attention = """
              <div class="sidebar__section request__special-status">
                <p>This request has been reported to our team.</p>
              </div>"""

    after = _after_actions(req, requester_name, auth)
    body = f"""          <div id="request_show" class="controller_request">{hidden_banner}
            <div class="request-header">
              <div class="row">
                <h1>{esc(req.title)}</h1>
                <div class="request-header__action-bar-container">
                  <div class="request-header__action-bar">
                    <p class="request-header__subtitle">
              {subtitle}
                    </p>
                    <div class="request-header__action-bar__actions">
{after}
                    </div>
                  </div>
                </div>
              </div>
              <div class="request-status">
                <div id="request_status" class="request-status-message request-status-message--{status}">
                  <i class="icon-standalone icon_{status}"></i>
                  <p>{_status_sentence(corpus, req, status)}
                  </p>
                </div>
              </div>
            </div>
            <div id="left_column" class="left_column">

{thread}

  <div class="ff-print-fix"></div>
              <div class="request-footer__action-bar-container">
                <div class="request-footer__action-bar__actions">
{after}
                </div>
              </div>
              <div class="donate-cta">
                <h2 class="donate-cta__header">Did you find this useful?</h2>
                <p class="donate-cta__para">{SITE_NAME} is run by a small charity. Please consider a donation.</p>
                <a class="button donate-cta__button" href="https://www.mysociety.org/donate/">Donate</a>
              </div>
            </div>
            <div id="right_column" class="sidebar right_column" role="complementary">{attention}
              <div class="sidebar__section next-actions">
                <h2>Act on what you've learnt</h2>
                <div class="act_link"><a href="/request/{slug}#share">Share on social media</a></div>
              </div>{batch_side}
              <div class="sidebar__section sidebar__similar-requests">
                <h2>Requests like this</h2>
{similar_html}
                <p class="sidebar_similar_requests__more-link"><a href="/request/{slug}/similar?utm_campaign=alaveteli-experiments-87">More similar requests</a></p>
              </div>
              <div class="sidebar__section">
                <p class="copyright-notice"><small><a href="/help/officers#copyright">Are you the owner of any commercial copyright on this page?</a></small></p>
              </div>
            </div>
          </div>"""

    title = f"{req.title} - a {law_text} request to {auth.name} - {SITE_NAME}"
    head = f"""    <link rel="alternate" type="application/atom+xml" title="New updates for the request '{esc(req.title)}'" href="{esc(base)}/request/{slug}/feed">
    <link rel="alternate" type="application/json" title="JSON version of New updates for the request '{esc(req.title)}'" href="{esc(base)}/request/{slug}/feed.json">
    <link rel="alternate" type="application/json" title="JSON version of this page" href="/request/{slug}.json">
    <meta property="og:title" content="{esc(req.title)}">
    <meta property="og:type" content="article">
    <meta property="og:url" content="{esc(base)}/request/{slug}">
    <meta property="og:site_name" content="{SITE_NAME}">"""
    if req.prominence in ("normal", "backpage"):
        head += f"""
    <meta property="article:published_time" content="{req.created_at.astimezone(LONDON).replace(microsecond=0).isoformat()}">
    <meta property="article:modified_time" content="{req.updated_at.astimezone(LONDON).replace(microsecond=0).isoformat()}">
    <meta property="og:description" content="{esc(req.initial_text())}">"""
    return layout(body, title=title, head_extra=head, base=base)


def markup_changed_page(corpus: SiteCorpus, req: FakeRequest | None, path: str) -> str:
    """A 200 page holding the thread's words in markup no parser expects."""
    title = req.title if req else path
    parts = []
    if req:
        for m in req.messages:
            parts.append(f'<section class="thread-item" data-kind="{m.direction}"><header>{esc(m.sender_name)}</header>'
                         f"<article>{simple_format(m.paragraphs)}</article></section>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)} - {SITE_NAME}</title></head>
<body><main class="app-shell"><div class="rq-title">{esc(title)}</div>
<div class="rq-thread">{''.join(parts)}</div></main></body></html>
"""


# --------------------------------------------------------------------------- listings


def _requester_link(corpus: SiteCorpus, req: FakeRequest, base: str) -> str:
    if req.user_url_name:
        user = corpus.users[req.user_url_name]
        return f'<a href="{esc(base)}/user/{esc(user.url_name)}">{esc(req.from_name or user.name)}</a>'
    if req.external_name:
        return esc(req.external_name)
    return f'<a href="{esc(base)}/help/privacy#anonymous">Anonymous user</a>'


def event_sentence(corpus: SiteCorpus, req: FakeRequest, ev: dict, base: str) -> str:
    auth = corpus.authority_of(req)
    body = f'<a href="{esc(base)}/body/{esc(auth.url_name)}">{esc(auth.name)}</a>'
    user = _requester_link(corpus, req, base)
    when = time_tag(ev["created_at"])
    t = ev["event_type"]
    if t == "sent":
        return f"Request sent to {body} by {user} on {when}."
    if t == "followup_sent":
        what = {"internal_review": "Internal review request", "waiting_response": "Clarification"}.get(ev["calculated_state"] or "", "Follow up")
        return f"{what} sent to {body} by {user} on {when}."
    if t == "response":
        return f"Response by {body} to {user} on {when}."
    if t == "comment":
        a = ev["_obj"]
        commenter_name = corpus.users[a.user_url_name].name if a.user_url_name in corpus.users else a.user_name
        commenter = f'<a href="{esc(base)}/user/{esc(a.user_url_name)}">{esc(commenter_name)}</a>'
        return f"Request to {body} by {user}. Annotated by {commenter} on {when}."
    return ""


def event_link(req: FakeRequest, ev: dict) -> str:
    t = ev["event_type"]
    if t == "response":
        return f"/request/{req.url_title}#incoming-{ev['incoming_message_id']}"
    if t == "followup_sent":
        return f"/request/{req.url_title}#outgoing-{ev['outgoing_message_id']}"
    if t == "comment":
        return f"/request/{req.url_title}#comment-{ev['comment_id']}"
    return f"/request/{req.url_title}"


def event_text(req: FakeRequest, ev: dict) -> str:
    obj = ev.get("_obj")
    if isinstance(obj, FakeAnnotation):
        return "\n".join(obj.paragraphs)
    if isinstance(obj, FakeMessage):
        paras = list(obj.paragraphs)
        if obj.direction == "outgoing" and paras and paras[0].startswith("Dear "):
            paras = paras[1:]
        return "\n".join(paras)
    return ""


def listing_item(corpus: SiteCorpus, req: FakeRequest, ev: dict, base: str) -> str:
    auth = corpus.authority_of(req)
    status = req.calculated_status(corpus.today, auth)
    return f"""<div class="request_listing">
  <div class="request_left">
    <span class="head">
      <a href="{esc(event_link(req, ev))}">{esc(req.title)}</a>
    </span>
    <div class="requester">
      {event_sentence(corpus, req, ev, base)}
    </div>
    <p>
      <i class="icon-standalone icon_{status}"></i>
      <strong>{esc(STATUS_LABELS[status])}</strong>
    </p>
    </span>
  </div>
  <div class="request_right">
    <span class="desc">
      {excerpt(event_text(req, ev))}
    </span>
  </div>
</div>"""


def page_window(current: int, last: int) -> list[int | None]:
    """will_paginate 4's windowed page numbers (inner 4, outer 1); None marks a gap."""
    inner, outer = 4, 1
    lo, hi = current - inner, current + inner
    if hi > last:
        lo -= hi - last
        hi = last
    if lo < 1:
        hi += 1 - lo
        lo = 1
        hi = min(hi, last)
    left: list[int | None]
    if outer + 3 < lo:
        left = list(range(1, outer + 2)) + [None]
    else:
        left = list(range(1, lo))
    right: list[int | None]
    if last - outer - 2 > hi:
        right = [None] + list(range(last - outer, last + 1))
    else:
        right = list(range(hi + 1, last + 1))
    return left + list(range(lo, hi + 1)) + right


def page_href(path: str, params: dict[str, str], page: int) -> str:
    merged = dict(params)
    merged["page"] = str(page)
    query = urlencode(sorted(merged.items()), quote_via=quote, safe="")
    return f"{path}?{query}"


def pagination(path: str, params: dict[str, str], current: int, last: int) -> str:
    if last <= 1:
        return ""
    parts = []
    if current == 1:
        parts.append('<span class="previous_page disabled" aria-label="Previous page">&#8592; Previous</span>')
    else:
        parts.append(f'<a class="previous_page" aria-label="Previous page" rel="prev" href="{esc(page_href(path, params, current - 1))}">&#8592; Previous</a>')
    for p in page_window(current, last):
        if p is None:
            parts.append('<span class="gap">&hellip;</span>')
        elif p == current:
            parts.append(f'<em class="current" aria-label="Page {p}" aria-current="page">{p}</em>')
        else:
            rel = ' rel="prev"' if p == current - 1 else (' rel="next"' if p == current + 1 else "")
            parts.append(f'<a{rel} aria-label="Page {p}" href="{esc(page_href(path, params, p))}">{p}</a>')
    if current >= last:
        parts.append('<span class="next_page disabled" aria-label="Next page">Next &#8594;</span>')
    else:
        parts.append(f'<a class="next_page" aria-label="Next page" rel="next" href="{esc(page_href(path, params, current + 1))}">Next &#8594;</a>')
    return '<div class="pagination" role="navigation" aria-label="Pagination">' + " ".join(parts) + "</div>"


def _filter_tabs(view_base: str, all_path: str, view: str, raw_query: str) -> str:
    items = []
    for key, label in (("all", "all requests"), ("successful", "successful requests"), ("unsuccessful", "unsuccessful requests"), ("awaiting", "unresolved requests")):
        if key == view:
            items.append(f"<li><span>{label}</span></li>")
        else:
            path = all_path if key == "all" else f"{view_base}/{key}"
            items.append(f'<li><a href="{esc(path)}?{esc(raw_query)}#results">{label}</a></li>')
    return '<div class="list-filter-item"><div class="filter-request-types"><ul>' + "".join(items) + "</ul></div></div>"


def body_page(corpus: SiteCorpus, auth: FakeAuthority, items: list, total: int, page: int, base: str, *, view: str = "all", raw_query: str = "", params: dict | None = None) -> str:
    slug = esc(auth.url_name)
    cats = [t for t in auth.tags if t in CATEGORY_LABELS]
    if cats:
        labels = [f'<a href="/body/list/{c}">{CATEGORY_LABELS[c]}</a>' for c in cats]
        cat_text = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
        cat_text = cat_text[:cat_text.index(">") + 1] + cat_text[cat_text.index(">") + 1].upper() + cat_text[cat_text.index(">") + 2:]
    else:
        cat_text = "A public authority"
    if auth.short_name:
        cat_text += f",\n also called {esc(auth.short_name)}"
    foi_no = ""
    if auth.eir_only:
        foi_no = '<p class="authority__header__foi_no">You only have a right in law to access information about the environment from this authority</p>'
    elif auth.not_subject_to_foi:
        foi_no = '<p class="authority__header__foi_no">This authority is not subject to FOI law, so is not legally obliged to respond (<a href="/help/requesting#authorities">details</a>).</p>'
    stats = f'<div class="authority__header__stats">{total} request{"s" if total != 1 else ""}</div>' if total > 0 else ""
    law = "Environmental Information Regulations" if auth.eir_only else "Freedom of Information"
    results = []
    if total == 0:
        results.append(f"<h2>{law} requests made using this site</h2>")
        results.append(f"<p>Nobody has made any {law} requests to {esc(auth.name)} using this site yet.</p>")
    else:
        if page > 1:
            results.append(f'<h2 class="foi_results"> (page {page})</h2>')
        results.append('<a name="results"></a>')
        if total > 4:
            results.append(_filter_tabs(f"/body/{slug}", f"/body/{slug}", view, raw_query))
    for req, ev in items:
        results.append(listing_item(corpus, req, ev, base))
    path = f"/body/{slug}" if view == "all" else f"/body/{slug}/{view}"
    last = max(1, -(-total // PER_PAGE))
    results.append(pagination(path, params or {}, page, last))
    if not items:
        results.append("<p></p>")
    else:
        results.append('<p>Only requests made using WhatDoTheyKnow are shown. <a href="/help/about">?</a></p>')
    home = f'<a href="{esc(auth.home_page)}">Home page of authority</a><br>' if auth.home_page else ""
    body = f"""          <div id="public_body_show" class="controller_public_body">
            <div class="authority__header">
              <h1>{esc(auth.name)}</h1>
              <p class="authority__header__subtitle">{cat_text}</p>
              {foi_no}
              {stats}
              <div class="authority__header__action-bar-container">
                <div class="authority__header__action-bar">
                  <div class="action-bar__make-request">
                    <a class="link_button_green make-request__action" href="/new/{slug}">Make a {law} request to this authority</a>
                  </div>
                  <div class="action-bar__follow">
                    <div class="action-bar__follow-button"><div class="feed_link"><a class="link_button_green track__action" href="/track/body/{slug}">Follow</a></div></div>
                    <div class="action-bar__follower-count"><span id="follow_count">{auth.id % 40}</span> followers</div>
                  </div>
                </div>
              </div>
            </div>
            <div class="authority__body">
              <div class="authority__body__foi-results">
{chr(10).join(results)}
              </div>
              <div class="authority__body__sidebar" role="complementary">
                <div class="sidebar__section more_info">
                  <h2>More about this authority</h2>
                  <a href="/change_request/new/{slug}">Ask us to update FOI email</a><br>
                  {home}
                  <a href="https://www.theyworkforyou.com/search/?s=%22{quote(auth.name)}%22">Mentions in Parliament</a><br>
                </div>
              </div>
            </div>
          </div>"""
    word = "EIR" if auth.eir_only else "FOI"
    head = f"""    <link rel="alternate" type="application/atom+xml" title="{word} requests to '{esc(auth.name)}'" href="{esc(base)}/feed/body/{slug}">
    <link rel="alternate" type="application/json" title="JSON version of {word} requests to '{esc(auth.name)}'" href="{esc(base)}/feed/body/{slug}.json">
    <link rel="alternate" type="application/json" title="JSON version of this page" href="/body/{slug}.json">"""
    return layout(body, title=f"{auth.name} - view and make Freedom of Information requests - {SITE_NAME}", head_extra=head)


CATEGORY_LABELS = {
    "local_council": "local council",
    "county_council": "county council",
    "school": "school",
    "academy_trust": "academy trust",
    "department": "ministerial department",
    "environmental_agency": "environmental agency",
    "nhs_trust": "NHS trust",
    "police": "police force",
    "water_company": "water company",
}


def list_page(corpus: SiteCorpus, items: list, total: int, page: int, base: str, *, params: dict[str, str], view: str = "all") -> str:
    path = "/list" if view == "all" else f"/list/{view}"
    h1 = "Search requests" + (f" (page {page})" if page > 1 else "")
    q = esc(params.get("query", ""))
    after = esc(params.get("request_date_after", ""))
    before = esc(params.get("request_date_before", ""))
    raw_query = urlencode(sorted(params.items()), quote_via=quote, safe="")
    results = []
    if not items:
        results.append("<p>No requests of this sort yet.</p>")
    else:
        results.append(f'<h2 class="foi_results">About {total} FOI requests found</h2>')
        results.append('<div class="results_block">')
        for req, ev in items:
            results.append(listing_item(corpus, req, ev, base))
        results.append("</div>")
    last = max(1, -(-min(total, 500) // PER_PAGE))
    results.append(pagination(path, params, page, last))
    body = f"""          <div id="request_list" class="controller_request">
            <div id="header_left" class="header_left">
              <h1>{h1}</h1>
              <div id="list-filter" class="list-filter">
                <form id="filter_requests_form" method="get" action="{path}">
                  <div class="list-filter-item">
                    <label class="form_label title" for="query">Keywords</label>
                    <input type="text" name="query" id="query" value="{q}">
                  </div>
                  <div class="list-filter-item">
                    <label for="query">Made between</label>
                    <input type="text" name="request_date_after" id="request_date_after" value="{after}" class="use-datepicker" size="10">
                    <label for="query">and</label>
                    <input type="text" name="request_date_before" id="request_date_before" value="{before}" class="use-datepicker" size="10">
                  </div>
                  {_filter_tabs("/list", "/list", view, raw_query)}
                  <div class="list-filter-item">
                    <input type="submit" name="commit" value="Search">
                  </div>
                </form>
              </div>
            </div>
            <div id="header_right" class="sidebar header_right">
              <h2>Follow these requests</h2>
              <div class="feed_link"><a href="{esc(base)}/feed/list/recent">RSS feed</a></div>
            </div>
            <div style="clear:both"></div>
            <div class="results_section">
{chr(10).join(results)}
            </div>
          </div>"""
    return layout(body, title=f"{h1} - {SITE_NAME}")


def user_page(corpus: SiteCorpus, user, items: list, total: int, page: int, base: str, comments: list) -> str:
    slug = esc(user.url_name)
    parts = []
    if items:
        heading = "This person's Freedom of Information request" if total == 1 else f"This person's Freedom of Information requests (approximately {total})"
        suffix = f" (page {page})" if page > 1 else ""
        parts.append(f'<h2 id="foi_requests" class="foi_results foi_requests">{heading}\n<!-- matches_estimated {total} -->{suffix}</h2>')
        for req, ev in items:
            parts.append(listing_item(corpus, req, ev, base))
        parts.append(pagination(f"/user/{slug}", {}, page, max(1, -(-total // PER_PAGE))))
    elif page == 1:
        parts.append('<h2 id="foi_requests" class="foi_results foi_requests">Freedom of Information requests made by this person</h2>')
        parts.append("<p>This person has made no Freedom of Information requests using this site.</p>")
    if comments:
        parts.append(f'<h2 id="annotations">This person\'s {len(comments)} annotations <!-- matches_estimated {len(comments)} --></h2>')
        for req, ev in comments[(page - 1) * PER_PAGE: page * PER_PAGE]:
            parts.append(listing_item(corpus, req, ev, base))
    else:
        parts.append('<h2 id="annotations">This person\'s annotations</h2>\n<p>None made.</p>')
    body = f"""          <div id="user_show" class="controller_user">
            <div id="user_profile_header" class="user_profile_header">
              <div id="header_right" class="sidebar header_right">
                <h2>Track this person</h2>
                <div class="feed_link"><a href="/track/user/{slug}">Follow</a></div>
                <h2>On this page</h2>
                <a href="#foi_requests">FOI requests</a><br>
                <a href="#annotations">Annotations</a><br>
              </div>
              <div id="header_left" class="header_left">
                <h1>{esc(user.name)}</h1>
                <p class="subtitle">Joined {SITE_NAME} in {user.joined_year}</p>
                {f"<p>{esc(user.about_me)}</p>" if user.about_me else ""}
                <p id="user_not_logged_in" class="user_not_logged_in">Sign in to change password, subscriptions and more ({esc(user.name)} only)</p>
              </div>
            </div>
            <div style="clear:both"></div>
            <div id="user_profile_search" class="user_profile_search">
              <form id="search_form" method="get" action="{esc(base)}/user/{slug}">
                <input type="text" name="user_query" id="user_query">
                <input type="submit" value="Search contributions by this person">
              </form>
{chr(10).join(parts)}
            </div>
          </div>"""
    head = f"""    <link rel="alternate" type="application/atom+xml" title="FOI requests by '{esc(user.name)}'" href="{esc(base)}/feed/user/{slug}">
    <link rel="alternate" type="application/json" title="JSON version of this page" href="/user/{slug}.json">"""
    return layout(body, title=f"{user.name} - Freedom of Information requests - {SITE_NAME}", head_extra=head)


# --------------------------------------------------------------------------- CSV, attachments


def authorities_csv(corpus: SiteCorpus) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Internal ID", "Name", "Short name", "URL name", "Tags", "Home page", "Publication scheme", "Disclosure log", "Notes", "Created at", "Updated at", "Version"])
    for auth in sorted(corpus.authorities.values(), key=lambda a: a.name):
        created = auth.created_at or datetime(2008, 4, 22, 11, 30, 18, tzinfo=LONDON)
        w.writerow([auth.id, auth.name, auth.short_name, auth.url_name, " ".join(auth.tags), auth.home_page or "", "", "", auth.notes,
                    created.astimezone(LONDON).strftime("%Y-%m-%d %H:%M:%S %z"), created.astimezone(LONDON).strftime("%Y-%m-%d %H:%M:%S %z"), 1])
    return buf.getvalue().encode("utf-8")


def attachment_html_page(req: FakeRequest, m: FakeMessage, a: FakeAttachment, data: bytes) -> str:
    url = attachment_url(req, m, a)
    if a.content_type == "text/plain":
        inner = esc(data.decode("utf-8", "replace")).replace("\n", "<br>")
    elif a.content_type == "application/pdf":
        inner = f'<iframe src="{url}" width="100%" height="100%"></iframe>'
    else:
        inner = "<p>Sorry, we were unable to convert this file to HTML.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(a.filename)} - {SITE_NAME}</title></head>
<body id="wrapper">
<div class="view_html_prefix">
  <a href="/" class="view_html_logo">{SITE_NAME}</a>
  <a href="{url}?cookie_passthrough=1" class="view_html_download_link">Download original attachment</a>
  <p class="view_html_description">This is an HTML version of an attachment to the Freedom of Information request '<a href="/request/{esc(req.url_title)}">{esc(req.title)}</a>'.</p>
</div>
{inner}
</body></html>
"""


def attachment_hidden_page() -> str:
    body = """          <div id="attachments_show" class="controller_attachments">
            <h1>Attachment has been removed</h1>
            <p>This attachment has been hidden or erased. There are various reasons why we might have done this, sorry we can't be more specific here.</p>
          </div>"""
    return layout(body, title=f"Attachment has been removed - {SITE_NAME}")
