"""Request pages as Alaveteli rendered them from 2009 to mid-2016 (header lines in an ``h2``).

Three eras share this shape; what changes between them is listed in ``H2Era``
and was read from ``app/views/request/`` (``show``, ``_correspondence``,
``_bubble``, ``_hidden_correspondence``, later ``_incoming_correspondence``,
``_outgoing_correspondence``, ``_resent_outgoing_correspondence``) and
``app/views/comment/_single_comment`` at the release tags of each period:

* 2009-2011 (March 2009, when the status icon class arrived, to release 0.4):
  ``div#request_main``; blocks are plain ``div.correspondence``; the subtitle
  reads "A Freedom of Information request to {body} by {user}" (until July
  2010); sender lines without a label; dates as words, no leading space;
* 2011-2014 (0.4 to 0.17): ``div#left_column``, ``div.ff-print-fix`` before
  each block, ``incoming``/``outgoing`` direction classes, "From:" before the
  sender, "Link to this" links with a class, "View as HTML"; from September
  2013 (0.15) a hidden message is shown as ``p#hidden_message`` in a block of
  class ``incoming correspondence <prominence>`` (before that, single messages
  could not be hidden: the half-built ``_hidden_correspondence`` partial of
  2009 was never rendered);
* 2014-2016 (0.18 to 0.25): dates become ``<time datetime title>`` elements,
  icons come from the asset pipeline, blocks gain the ``box`` class (2015).
"""

from __future__ import annotations

from dataclasses import dataclass

from corpus.sample_site.data import FakeAnnotation, FakeMessage, FakeRequest, SiteCorpus
from corpus.sample_site.render import simple_format
from tests.support.eras.common import (
    SITE,
    body_link,
    date_words,
    esc,
    icon_path_assets,
    icon_path_images,
    old_attachment_url,
    old_body,
    requester_html,
    requester_name,
    shown_events,
    time_tag,
)


@dataclass(frozen=True)
class H2Era:
    name: str
    column_id: str  # request_main | left_column
    direction_classes: bool
    print_fix: bool
    from_label: bool
    times: bool
    box: bool
    prominence_class: bool
    hidden_messages: bool  # p#hidden_message.hidden_message in place of the body (Sept 2013 on); else not shown
    assets: bool  # /assets/icon_…-<digest>.png, else /images/icon_….png
    old_subtitle: bool  # "A Freedom of Information request to {body} by {user}"
    link_class: bool  # a.link_to_this
    view_as_html: bool


ERA_2009 = H2Era("2009-2011", "request_main", False, False, False, False, False, False, False, False, True, False, False)
ERA_2011 = H2Era("2011-2014", "left_column", True, True, True, False, False, True, True, False, False, True, True)
ERA_2014 = H2Era("2014-2016", "left_column", True, True, True, True, True, True, True, True, False, True, True)


def _date(era: H2Era, when) -> str:
    if era.times:
        return time_tag(when)
    return date_words(when, padded=era.name != "2009-2011")


def _status_sentence(era: H2Era, corpus: SiteCorpus, req: FakeRequest, status: str) -> str:
    body = body_link(corpus, req)
    auth = corpus.authority_of(req)
    due = req.due_date(auth)
    due_html = time_tag_date(due) if era.times else date_words(due, padded=era.name != "2009-2011")
    details = '(<a href="/help/requesting#quickly_response">details</a>)'
    sentences = {
        "waiting_response": f"Currently <strong>waiting for a response</strong> from {body}, they must respond promptly and "
                            f"normally no later than <strong>{due_html}</strong> {details}.",
        "waiting_response_overdue": f"Response to this request is <strong>delayed</strong>. By law, {body} should normally "
                                    f"have responded <strong>promptly</strong> and by <strong>{due_html}</strong> {details}",
        "waiting_response_very_overdue": f"Response to this request is <strong>long overdue</strong>. By law, under all "
                                         f"circumstances, {body} should have responded by now {details}.",
        "not_held": f"{body} <strong>did not have</strong> the information requested.",
        "rejected": f"The request was <strong>refused</strong> by {body}.",
        "successful": "The request was <strong>successful</strong>.",
        "partially_successful": "The request was <strong>partially successful</strong>.",
        "waiting_classification": f"This request has an <strong>unknown status</strong>. We're waiting for "
                                  f"{requester_html(corpus, req)} to read a recent response and update the status.",
        "internal_review": f"Waiting for an <strong>internal review</strong> by {body} of their handling of this request.",
    }
    return sentences.get(status, f"This request is <strong>{esc(status.replace('_', ' '))}</strong>.")


def time_tag_date(day) -> str:
    return f'<time datetime="{day.isoformat()}" title="{day.isoformat()}">{date_words(day)}</time>'


def _link_to_this(era: H2Era, req: FakeRequest, anchor: str) -> str:
    cls = ' class="link_to_this"' if era.link_class else ""
    return f'<a href="/request/{esc(req.url_title)}#{anchor}"{cls}>Link to this</a>'


def _attachments(era: H2Era, req: FakeRequest, m: FakeMessage) -> str:
    if not m.attachments:
        return ""
    items = []
    for a in m.attachments:
        url = old_attachment_url(req, m, a.part, a.filename)
        icon = icon_path_assets(a.content_type) if era.assets else icon_path_images(a.content_type)
        view = ""
        if era.view_as_html and a.content_type in ("application/pdf", "text/plain", "application/msword"):
            view = f'\n                        <a href="{old_attachment_url(req, m, a.part, a.filename, html=True)}">View as HTML</a>'
        cls = "attachment_image"
        items.append(f"""                    <p class="attachment">
                        <a href="{url}"><img class="{cls}" alt="Attachment" src="{icon}"></a>
                        <strong>{esc(a.filename)}</strong>
                        <!-- <a href="{url}">{esc(a.filename)}</a> -->
                        <br>
                        {esc(a.size_text)}
                        <a href="{url}">Download</a>{view}
                        <!-- ({esc(a.content_type)}) -->
                    </p>""")
    return """
            <div class="attachments">
                <hr class="top">
""" + "\n".join(items) + """
                <hr class="bottom">
            </div>"""


def _classes(era: H2Era, direction: str, m: FakeMessage | None = None) -> str:
    parts = [direction, "correspondence"] if era.direction_classes else ["correspondence"]
    if era.box:
        parts.append("box")
    if era.prominence_class and m is not None and direction == "incoming":
        parts.append(m.prominence)
    return " ".join(parts)


def hidden_notice(m: FakeMessage) -> str:
    extra = (" If you are the requester, then you may <a href=\"/profile/sign_in\">sign in</a> to view the message."
             if m.prominence == "requester_only" else "")
    return (f'<p id="hidden_message" class="hidden_message">This message has been hidden. There are various reasons why '
            f"we might have done this, sorry we can't be more specific here. Please "
            f'<a href="/help/contact">contact us</a> if you have any questions.{extra}</p>')


def _incoming(era: H2Era, corpus: SiteCorpus, req: FakeRequest, m: FakeMessage, unfold: bool) -> str:
    auth = corpus.authority_of(req)
    if m.prominence != "normal":
        if not era.hidden_messages:
            return ""  # not on the page for anonymous visitors
        return f"""    <div class="{_classes(era, 'incoming', m)}" id="incoming-{m.id}">
        {hidden_notice(m)}
    </div>"""
    lines = []
    if m.sender_name and m.sender_name != auth.name:
        label = "From: " if era.from_label else ""
        lines.append(f"{label}{esc(m.sender_name)}<br>")
    lines.append(f"{esc(auth.name)}<br>")
    fold = m.id if m.quoted else None
    body = old_body(m.paragraphs, fold_id=fold, unfolded=m.quoted if (unfold and m.quoted) else None)
    return f"""    <div class="{_classes(era, 'incoming', m)}" id="incoming-{m.id}">
        <h2>
            {chr(10).join('            ' + line for line in lines).strip()}
            <br>{_date(era, m.sent_at)}
        </h2>

    <div class="correspondence_text">{_attachments(era, req, m)}
        <p>{body}</p>
    </div>

        <p class="event_actions">
            {_link_to_this(era, req, f"incoming-{m.id}")}
        </p>
    </div>"""


def resent_block(era: H2Era, corpus: SiteCorpus, req: FakeRequest, m: FakeMessage) -> str:
    """``_resent_outgoing_correspondence``: the date in an ``h2`` and "Sent … again" (2008 to today)."""
    auth = corpus.authority_of(req)
    what = "request" if m.event_type == "resent" else "a follow up"
    return f"""    <div class="{_classes(era, 'outgoing')}" id="outgoing-{m.id}">
        <h2>
            {_date(era, m.sent_at)}
        </h2>
        <p class="event_plain">
            Sent
                {what}

            to <a href="/body/{esc(auth.url_name)}">{esc(auth.name)}</a> again, using a new contact address.
         </p>
    </div>"""


def _outgoing(era: H2Era, corpus: SiteCorpus, req: FakeRequest, m: FakeMessage) -> str:
    if m.event_type in ("resent", "followup_resent"):
        return resent_block(era, corpus, req, m)
    if m.prominence != "normal":
        if not era.hidden_messages:
            return ""
        return f"""    <div class="{_classes(era, 'outgoing')}" id="outgoing-{m.id}">
        {hidden_notice(m)}
    </div>"""
    label = "From: " if era.from_label else ""
    body = esc("\n\n".join(m.paragraphs)).replace("\n", "<br>")
    return f"""    <div class="{_classes(era, 'outgoing')}" id="outgoing-{m.id}">

        <h2>
        {label}{esc(requester_name(corpus, req))}<br>
        <br>{_date(era, m.sent_at)}
        </h2>

    <div class="correspondence_text">
        <p>{body}</p>
    </div>

        <p class="event_actions">
            {_link_to_this(era, req, f"outgoing-{m.id}")}
        </p>
    </div>"""


def _comment(era: H2Era, corpus: SiteCorpus, req: FakeRequest, a: FakeAnnotation) -> str:
    box = " box" if era.box else ""
    quote_img = "" if era.times else '\n        <img class="comment_quote" src="/images/quote.png" alt="">'
    text = simple_format(a.paragraphs, links=True)
    text = text[3:-4] if text.startswith("<p>") and text.count("<p>") == 1 else text
    return f"""<div class="comment_in_request{box}" id="comment-{a.id}">
    <h2>
        <a href="/user/{esc(a.user_url_name)}">{esc(a.user_name)}</a> left an annotation ({_date(era, a.created_at)})
    </h2>
    <div class="comment_in_request_text">
        <p>{quote_img}
        {text}
        </p>
    </div>
    <p class="event_actions">
            {_link_to_this(era, req, f"comment-{a.id}")}
    </p>
</div>"""


def request_page(era: H2Era, corpus: SiteCorpus, req: FakeRequest, *, unfold: bool = False, json_link: bool = True) -> str:
    auth = corpus.authority_of(req)
    status = req.calculated_status(corpus.today, auth)
    law = "Environmental Information Regulations" if req.law == "eir" else "Freedom of Information"
    slug = esc(req.url_title)
    if era.old_subtitle:
        article = "An" if req.law == "eir" else "A"
        subtitle = (f"{article} {law} request\n    to \n    {body_link(corpus, req)}\n    by \n    "
                    f"{requester_html(corpus, req)}")
    else:
        subtitle = f"{requester_html(corpus, req)} made this {law} request\n            to {body_link(corpus, req)}"
    blocks = []
    for ev in shown_events(req):
        obj = ev["_obj"]
        if ev["event_type"] == "comment":
            html = _comment(era, corpus, req, obj)
        elif ev["event_type"] == "response":
            html = _incoming(era, corpus, req, obj, unfold)
        else:
            html = _outgoing(era, corpus, req, obj)
        if not html:
            continue
        if era.print_fix:
            html = '<div class="ff-print-fix"></div>\n' + html
        blocks.append(html)
    hidden_banner = ""
    if req.prominence in ("hidden", "requester_only"):
        hidden_banner = ('\n    <p id="hidden_request">\n    This request is hidden, so that only you the requester can see it. '
                         'Please\n    <a href="/help/contact">contact us</a> if you are not sure why.\n    </p>')
    describe = ""
    if req.awaiting_description:
        describe = ('\n    <div class="describe_state_form" id="describe_state_form_1">\n'
                    '        <h2>What best describes the status of this request now?</h2>\n'
                    '        <p>Only the requester can answer; <a href="/profile/sign_in">sign in</a>.</p>\n    </div>')
    if era.column_id == "request_main":
        sidebar = f"""<div id="request_sidebar">
    <h2>Track this request</h2>
    <div class="feed_link"><a href="/track/request/{slug}">Track this request by email</a></div>
    <h2>Act on what you've learnt</h2>
    <div class="act_link"><a href="http://www.writetothem.com">Write to your politician</a></div>
    <p><a href="/details/request/{slug}">Event history details</a></p>
    <p><a href="/help/about#commercial">Are you the owner of any commercial copyright on this page?</a></p>
</div>"""
    else:
        sidebar = f"""<div id="right_column">
  <div id="follow_box">
    <h2>Follow this request</h2>
    <p>There are 3 people following this request</p>
    <div class="feed_link feed_link_sidebar"><a href="/track/request/{slug}" class="link_button_green">Follow</a></div>
  </div>
  <h2>Offensive? Unsuitable?</h2>
  <p>Requests for personal information and vexatious requests are not considered valid for FOI purposes.</p>
  <h2>Act on what you've learnt</h2>
  <div class="act_link"><a href="http://www.writetothem.com">Write to your politician</a></div>
  <p><a href="/details/request/{slug}">Event history details</a></p>
</div>"""
    thread = "\n\n".join(blocks)
    content = f"""{hidden_banner}{describe}

{sidebar}

<div id="{era.column_id}">
    <h1>{esc(req.title)}</h1>

    <p class="subtitle">
    {subtitle}
    </p>

    <p id="request_status" class="request_icon_line icon_{status}">
        {_status_sentence(era, corpus, req, status)}
    </p>

{thread}

    <div id="after_actions">
        <h2>Things to do with this request</h2>
        <div id="anyone_actions">
            <strong>Anyone:</strong>
            <ul><li><a href="/annotate/request/{slug}">Add an annotation</a> (to help the requester or others)</li></ul>
        </div>
    </div>
</div>"""
    json_head = (f'\n        <link rel="alternate" type="application/json" title="JSON version of this page" '
                 f'href="{SITE}/request/{slug}.json">') if json_link else ""
    lang = "en-gb" if era.column_id == "request_main" else "en"
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<html lang="{lang}">
    <head>
        <title>
            {esc(req.title)} - a {law} request to {esc(auth.name)} - WhatDoTheyKnow
        </title>
        <link rel="shortcut icon" href="/favicon.ico">
        <link href="/stylesheets/main.css" media="all" rel="stylesheet" title="Main" type="text/css" />
        <link rel="alternate" type="application/atom+xml" title="New updates for the request '{esc(req.title)}'" href="{SITE}/feed/request/{slug}">{json_head}
    </head>
    <body class=" ">
<div class="entirebody">
    <div id="banner">
      <div id="banner_inner">
        <div id="logged_in_bar"><a href="/profile/sign_in?r=%2Frequest%2F{slug}">Sign in or sign up</a></div>
        <div id="navigation_search">
            <form action="/search" id="navigation_search_form" method="post"><p>
               <input id="navigation_search_query" name="query" size="40" type="text" />
               <input name="commit" type="submit" value="Search" />
            </p></form>
        </div>
      </div>
    </div>
    <div id="wrapper">
        <div id="content">
            <div id="request_show">
{content}
            </div>
        </div>
    </div>
    <div id="footer">
        Built by <a href="http://www.mysociety.org/">mySociety</a>.
    </div>
</div>
    </body>
</html>
"""


def page_2009(corpus: SiteCorpus, req: FakeRequest, **kw) -> str:
    return request_page(ERA_2009, corpus, req, **kw)


def page_2011(corpus: SiteCorpus, req: FakeRequest, **kw) -> str:
    return request_page(ERA_2011, corpus, req, **kw)


def page_2014(corpus: SiteCorpus, req: FakeRequest, **kw) -> str:
    return request_page(ERA_2014, corpus, req, **kw)
