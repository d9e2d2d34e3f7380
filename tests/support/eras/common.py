"""Pieces every era renderer shares (on top of the sample site's own renderer).

The sample site (``corpus.sample_site.render``) renders today's markup; the
modules beside this one render the markup Alaveteli served in earlier years,
from the same data model (``FakeRequest`` and friends), so one story can be
shown in every era and the parser's reading compared with the story itself.
"""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote

from corpus.sample_site.data import LONDON, FakeMessage, FakeRequest, SiteCorpus
from corpus.sample_site.render import content_icon, date_text, esc, time_tag

SITE = "http://www.whatdotheyknow.com"  # how pages linked to themselves before the site moved to https

__all__ = [
    "SITE",
    "date_words",
    "old_body",
    "old_attachment_url",
    "icon_path_images",
    "icon_path_assets",
    "time_tag",
    "date_text",
    "esc",
    "requester_name",
    "requester_html",
    "body_link",
    "shown_events",
]


def date_words(when: date | datetime, *, padded: bool = True) -> str:
    """WhatDoTheyKnow's ``%e %B %Y`` in the site's time zone; ``padded=False`` strips the leading space (2008-2011)."""
    text = date_text(when.astimezone(LONDON) if isinstance(when, datetime) else when)
    return text if padded else text.strip()


def old_body(paragraphs: list[str], *, fold_id: int | None = None, unfolded: list[str] | None = None) -> str:
    """``get_body_for_html_display`` before 2014: escaped text, newlines as ``<br>``,
    a blank line between paragraphs, the fold link where quoted text was cut."""
    text = "\n\n".join(esc(p) for p in paragraphs)
    if fold_id is not None and unfolded is None:
        text += f'\n\n<span class="unfold_link"><a href="?unfold=1#incoming-{fold_id}">show quoted sections</a></span>\n\n'
    elif fold_id is not None and unfolded is not None:
        text += "\n\n" + "\n\n".join(esc(p) for p in unfolded)
        text += f'\n\n<span class="unfold_link"><a href="?#incoming-{fold_id}">hide quoted sections</a></span>'
    text = text.strip().replace("\n", "<br>")
    while "<br><br><br>" in text:
        text = text.replace("<br><br><br>", "<br><br>")
    return text


def old_attachment_url(req: FakeRequest, m: FakeMessage, part: int, filename: str, *, html: bool = False) -> str:
    """``get_attachment_url``: links by the numeric request id (until 2024)."""
    if html:
        return f"/request/{req.id}/response/{m.id}/attach/html/{part}/{quote(filename)}.html"
    return f"/request/{req.id}/response/{m.id}/attach/{part}/{quote(filename)}"


def icon_path_images(content_type: str) -> str:
    """Before the asset pipeline (to 2013): ``/images/icon_<type>_large.png`` or ``/images/icon_unknown.png``."""
    return f"/images/{content_icon(content_type)}.png"


def icon_path_assets(content_type: str, *, folder: str = "") -> str:
    """The asset pipeline (2014 onwards): ``/assets/[content_type/]icon_…-<digest>.png``."""
    import hashlib

    name = content_icon(content_type)
    digest = hashlib.md5(name.encode()).hexdigest()  # Sprockets 2 wrote 32-hex digests
    return f"/assets/{folder}{name}-{digest}.png"


def requester_name(corpus: SiteCorpus, req: FakeRequest) -> str:
    if req.user_url_name:
        return req.from_name or corpus.users[req.user_url_name].name
    return req.external_name or "An anonymous user"


def requester_html(corpus: SiteCorpus, req: FakeRequest) -> str:
    if req.user_url_name:
        return f'<a href="/user/{esc(req.user_url_name)}">{esc(requester_name(corpus, req))}</a>'
    return esc(requester_name(corpus, req))


def body_link(corpus: SiteCorpus, req: FakeRequest) -> str:
    auth = corpus.authority_of(req)
    return f'<a href="/body/{esc(auth.url_name)}">{esc(auth.name)}</a>'


def shown_events(req: FakeRequest) -> list[dict]:
    """The events a request page shows a block for, in page order."""
    out = []
    for ev in req.events():
        obj = ev.get("_obj")
        if ev["event_type"] in ("sent", "followup_sent", "send_error", "resent", "followup_resent", "response"):
            out.append(ev)
        elif ev["event_type"] == "comment" and obj is not None and obj.visible:
            out.append(ev)
    return out
