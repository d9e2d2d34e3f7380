"""Request pages as Alaveteli rendered them from August 2016 to February 2018 (releases 0.26-0.31).

Read from ``app/views/request/`` at 0.26.0.0 to 0.31.0.0: the title, subtitle
and status moved into ``div.request-header`` (December 2016), the status box
is ``p#request_status.request-status-message.icon_<status>`` (its
``request-status-message--<status>`` form came in November 2017); each
message has ``div.correspondence__header`` holding
``div.correspondence__header__from`` (incoming) or
``div.correspondence__header__from--with-delivery-status`` (outgoing), whose
words are the sender and whose last link, ``a.correspondence__header__date``,
holds the ``<time>``; attachments are ``ul.list-of-attachments >
li.attachment`` items with no id; the "Link to this" box is
``input.cplink__field`` and a ``button``.
"""

from __future__ import annotations

from corpus.sample_site.data import FakeAnnotation, FakeMessage, FakeRequest, SiteCorpus
from corpus.sample_site.render import attachments_block, simple_format
from tests.support.eras.common import (
    body_link,
    esc,
    icon_path_assets,
    old_attachment_url,
    requester_html,
    requester_name,
    shown_events,
    time_tag,
)
from tests.support.eras.h2_eras import ERA_2014, _status_sentence, hidden_notice, resent_block

SITE_HTTPS = "https://www.whatdotheyknow.com"


def _cplink(req: FakeRequest, anchor: str) -> str:
    return f"""    <div class="correspondence__footer">
        <div class="correspondence__footer__cplink">
          <input type="text" id="cplink__field" class="cplink__field" value="{SITE_HTTPS}/request/{esc(req.url_title)}#{anchor}">
          <button class="cplink__button">Link to this</button>
        </div>
    </div>"""


def _attachments(req: FakeRequest, m: FakeMessage) -> str:
    if not m.attachments:
        return ""
    items = []
    for a in m.attachments:
        url = old_attachment_url(req, m, a.part, a.filename)
        view = ""
        if a.content_type in ("application/pdf", "text/plain"):
            view = f'\n              <a href="{old_attachment_url(req, m, a.part, a.filename, html=True)}">View as HTML</a>'
        items.append(f"""          <li class="attachment">
            <a href="{url}"><img class="attachment__image" alt="Attachment" src="{icon_path_assets(a.content_type, folder='content_type/')}" /></a>

            <p class="attachment__name">
              {esc(a.filename)}
            </p>

            <p class="attachment__meta">
              {esc(a.size_text)}
              <a href="{url}">Download</a>{view}
            </p>
          </li>""")
    return attachments_block(items)


def _body(paragraphs: list[str], fold_id: int | None) -> str:
    html = simple_format(paragraphs)
    if fold_id is not None:
        html += f'\n<p><span class="unfold_link"><a href="?unfold=1#incoming-{fold_id}">show quoted sections</a></span></p>'
    return html


def _incoming(corpus: SiteCorpus, req: FakeRequest, m: FakeMessage) -> str:
    auth = corpus.authority_of(req)
    who = ""
    if m.sender_name and m.sender_name != auth.name:
        who += f"\n        {esc(m.sender_name)},\n"
    who += f"\n        {esc(auth.name)}\n"
    header = f"""  <div class="correspondence__header">
    <div class="correspondence__header__from">{who}
      <a class="correspondence__header__date" href="/request/{esc(req.url_title)}#incoming-{m.id}">
        {time_tag(m.sent_at)}
</a>    </div>
  </div>"""
    if m.prominence != "normal":
        return f"""<div class="incoming correspondence {m.prominence}" id="incoming-{m.id}">
{header}

    {hidden_notice(m)}
</div>"""
    return f"""<div class="incoming correspondence {m.prominence}" id="incoming-{m.id}">
{header}

<div class="correspondence_text">{_attachments(req, m)}

  <p>{_body(m.paragraphs, m.id if m.quoted else None)}</p>
</div>

    <p class="event_actions">
    </p>

{_cplink(req, f"incoming-{m.id}")}

</div>"""


def _outgoing(corpus: SiteCorpus, req: FakeRequest, m: FakeMessage) -> str:
    if m.event_type in ("resent", "followup_resent"):
        return resent_block(ERA_2014, corpus, req, m)  # unchanged since 2015
    if m.prominence != "normal":
        return f"""<div class="outgoing correspondence" id="outgoing-{m.id}">
    {hidden_notice(m)}
</div>"""
    delivery = ""
    if m.delivery_status:
        delivery = f"""
        <div class="correspondence__header__delivery-status">
          <a class="toggle-delivery-log toggle-delivery-log--{m.delivery_status} js-toggle-delivery-log" data-delivery-status="{m.delivery_status}" href="/outgoing_messages/{m.id}/delivery_status">{m.delivery_status.capitalize()}</a>
        </div>"""
    return f"""<div class="outgoing correspondence" id="outgoing-{m.id}">

    <div class="correspondence__header">
      <div class="correspondence__header__from--with-delivery-status">
        {esc(requester_name(corpus, req))}

        <a class="correspondence__header__date" href="/request/{esc(req.url_title)}#outgoing-{m.id}">
          {time_tag(m.sent_at)}
</a>      </div>{delivery}
    </div>

    <div class="js-delivery-log-ajax-error" hidden aria-hidden="true" style="display: none; visibility: hidden;">
      <p>We couldn’t load the mail server logs for this message.</p>
    </div>

<div class="correspondence_text">
  <p>{simple_format(m.paragraphs)}</p>
</div>

    <p class="event_actions">
      </p>

{_cplink(req, f"outgoing-{m.id}")}

</div>"""


def _comment(req: FakeRequest, a: FakeAnnotation) -> str:
    return f"""<div class="comment_in_request box" id="comment-{a.id}">
  <div class="comment_content">
    <h2>
      <a href="/user/{esc(a.user_url_name)}">{esc(a.user_name)}</a> left an annotation ({time_tag(a.created_at)})
    </h2>

    <div class="comment_in_request_text">
      <p>
        {simple_format(a.paragraphs, links=True)}
      </p>
    </div>

    <p class="event_actions">
    </p>
  </div>

{_cplink(req, f"comment-{a.id}")}
</div>"""


def page_2016(corpus: SiteCorpus, req: FakeRequest) -> str:
    auth = corpus.authority_of(req)
    status = req.calculated_status(corpus.today, auth)
    law = "Environmental Information Regulations" if req.law == "eir" else "Freedom of Information"
    slug = esc(req.url_title)
    blocks = []
    for ev in shown_events(req):
        obj = ev["_obj"]
        if ev["event_type"] == "comment":
            html = _comment(req, obj)
        elif ev["event_type"] == "response":
            html = _incoming(corpus, req, obj)
        else:
            html = _outgoing(corpus, req, obj)
        blocks.append('<div class="ff-print-fix"></div>\n' + html)
    hidden_banner = ""
    if req.prominence in ("hidden", "requester_only"):
        hidden_banner = ('\n  <p id="hidden_request">\n    This request is hidden, so that only you the requester can see it. '
                         'Please <a href="/help/requesting">contact us</a> if you are not sure why.\n  </p>')
    created = req.created_at.isoformat(timespec="seconds")
    updated = req.updated_at.isoformat(timespec="seconds")
    return f"""<!DOCTYPE html>
<html lang="en" class="no-js">
  <head>
    <meta charset="utf-8">
    <meta name="csrf-param" content="authenticity_token" />
    <title>
        {esc(req.title)} - a {law} request to {esc(auth.name)} - WhatDoTheyKnow
    </title>
    <link rel="alternate" type="application/atom+xml" title="New updates for the request '{esc(req.title)}'" href="{SITE_HTTPS}/feed/request/{slug}">
    <link rel="alternate" type="application/json" title="JSON version of New updates for the request '{esc(req.title)}'" href="{SITE_HTTPS}/feed/request/{slug}.json">
    <link rel="alternate" type="application/json" title="JSON version of this page" href="/request/{slug}.json">
    <meta property="og:site_name" content="WhatDoTheyKnow" />
    <meta property="og:title" content="{esc(req.title)}" />
    <meta property="og:type" content="article" />
    <meta property="article:published_time" content="{created}" />
    <meta property="article:modified_time" content="{updated}" />
    <meta property="og:url" content="{SITE_HTTPS}/request/{slug}" />
  </head>
  <body class=" ">
    <div class="entirebody">
    <a href="#content" class="show-with-keyboard-focus-only skip-to-link" tabindex="0">Skip to content</a>
      <div id="banner" class="banner"><div class="banner_site-title"><a href="/" id="logo">WhatDoTheyKnow</a></div></div>
      <div id="wrapper">
        <div id="content" role="main">
          <div id="request_show" class="controller_request">{hidden_banner}

<div class="request-header">
  <div class="row">

    <h1>{esc(req.title)}</h1>

    <div class="request-header__action-bar-container">
      <div class="request-header__action-bar">
        <p class="request-header__subtitle ">
              {requester_html(corpus, req)} made this {law} request
              to {body_link(corpus, req)}
        </p>
          <div class="request-header__action-bar__actions ">
            <div id="after_actions" class="after-actions">
              <ul class="action-menu after-actions__action-menu"><li>
                <a href="#" class="action-menu__button">Actions</a>
                <ul class="action-menu__menu">
                  <li class="action-menu__menu__item"><ul class="action-menu__menu__submenu anyone_actions">
                    <li><a href="/annotate/request/{slug}">Add an annotation</a></li>
                    <li><a href="/details/request/{slug}">View event history details</a></li>
                  </ul></li>
                </ul>
              </li></ul>
            </div>
          </div>
      </div>
    </div>
    <div class="request-status">
      <p id="request_status" class="request-status-message request_icon_line icon_{status}">
        {_status_sentence(ERA_2014, corpus, req, status)}
      </p>
    </div>
  </div>
</div>

<div id="left_column" class="left_column">

{chr(10).join(blocks)}

    <div class="request-footer__action-bar-container">
      <div class="request-footer__action-bar__actions"></div>
    </div>
</div>

<div id="right_column" class="sidebar right_column" role="complementary">
  <div class="sidebar__section">
    <p><a href="/help/officers#copyright">Are you the owner of any commercial copyright on this page?</a></p>
  </div>
</div>
          </div>
          <div style="clear:both"></div>
        </div>
      </div>
    </div>
  </body>
</html>
"""
