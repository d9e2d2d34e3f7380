"""Typed records produced by the pure page parsers.

These dataclasses are the contract between ``scraper.pages`` (bytes in, records
out) and ``corpus.load`` (records in, rows out).  They hold plain Python values
only, so they can be built from live pages, saved pages or stored raw pages alike.

Times are timezone-aware ``datetime`` objects; the original ISO text with its UTC
offset is kept beside them (``*_text``) because DuckDB's TIMESTAMPTZ keeps the
instant but not the offset the site displayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Direction = Literal["incoming", "outgoing"]
Prominence = Literal["normal", "hidden", "requester_only", "backpage"]


@dataclass(slots=True)
class Person:
    """A requester, annotator or authority as shown on a page.

    ``url_name`` is the site slug (``/user/<url_name>``, ``/body/<url_name>``);
    it is ``None`` for external requesters and "An anonymous user".
    """

    url_name: str | None
    name: str
    site_id: int | None = None  # numeric id, only known from JSON


@dataclass(slots=True)
class Attachment:
    part: int  # url_part_number, from li#attachment-N or the URL
    filename: str
    size_text: str | None = None  # as displayed, e.g. "78K"
    download_url: str | None = None  # absolute or site-relative, as on the page
    html_url: str | None = None  # the "View" / "View as HTML" link
    content_icon: str | None = None  # icon_<type>_large -> "<type>", e.g. "pdf"
    erased: bool = False
    hidden: bool = False


@dataclass(slots=True)
class Message:
    """One correspondence item, in page order."""

    message_id: int  # the N of incoming-N / outgoing-N
    direction: Direction
    position: int  # 0-based order among all items on the page (messages and annotations)
    sender: str | None
    sent_at: datetime | None  # from <time datetime>, timezone-aware
    sent_at_text: str | None  # the raw datetime attribute, offset kept
    prominence: str = "normal"  # normal | hidden | requester_only
    body: str = ""  # new text, paragraphs separated by a blank line
    quoted_text: str | None = None  # quoted/previous text kept apart, when on the page
    quoted_folded: bool = False  # True when the page folded quotes behind "show quoted sections"
    body_placeholder: bool = False  # "[Email has no body, please see attachments]" and the like
    subject_only: bool = False  # body was "[Subject only] ..."
    resent: bool = False  # a resent / followup_resent event block shows this message sent again
    resent_at: datetime | None = None  # time of the (last) resent block, from its <time datetime>
    resent_at_text: str | None = None
    delivery_status: str | None = None  # delivered | sent | failed | unknown (outgoing)
    hidden_notice: str | None = None  # text of p.hidden_message when present
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(slots=True)
class Annotation:
    comment_id: int
    position: int
    author: Person
    created_at: datetime | None
    created_at_text: str | None
    text: str


@dataclass(slots=True)
class Event:
    """One entry of the JSON ``info_request_events`` list."""

    event_id: int
    event_type: str
    created_at: datetime | None
    created_at_text: str | None
    described_state: str | None = None
    calculated_state: str | None = None
    last_described_at: datetime | None = None
    incoming_message_id: int | None = None
    outgoing_message_id: int | None = None
    comment_id: int | None = None
    display_status: str | None = None


@dataclass(slots=True)
class ParsedRequest:
    """Everything known about one request thread after parsing its page (+ JSON)."""

    url_title: str
    title: str
    request_id: int | None = None
    requester: Person | None = None
    requester_external: bool = False  # no site user: external or anonymous
    authority: Person | None = None
    law: str | None = None  # "foi" | "eir"
    described_state: str | None = None  # JSON described_state
    calculated_status: str | None = None  # request-status-message--<x>
    display_status: str | None = None  # JSON label, e.g. "Long overdue"
    status_sentence: str | None = None  # plain text of #request_status p
    due_date: date | None = None  # from the <time> in the status sentence
    awaiting_description: bool | None = None
    closed_to_correspondence: bool = False
    restricted_correspondence: bool = False  # "anti-spam measures" banner
    authority_not_subject: bool = False  # "not subject to FOI law"
    eir_only: bool = False
    hidden: bool = False  # p#hidden_request on the page
    prominence: str | None = None  # JSON prominence
    created_at: datetime | None = None
    updated_at: datetime | None = None
    batch_id: int | None = None
    batch_size: int | None = None
    tags: list[tuple[str, str | None]] = field(default_factory=list)
    # The authority's own details, from the JSON's public_body (None: not known, no JSON)
    authority_short_name: str | None = None
    authority_home_page: str | None = None
    authority_tags: list[tuple[str, str | None]] | None = None
    messages: list[Message] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # empty when no JSON
    markup_era: str = "current"  # "current" | "2019"
    has_json: bool = False
    warnings: list[str] = field(default_factory=list)  # non-fatal oddities


ParseErrorKind = Literal[
    "empty",  # no bytes
    "encoding",  # bytes are not text in any plausible encoding
    "truncated",  # page cut short (no closing structure, missing end)
    "challenge",  # bot/anti-automation challenge page
    "error_page",  # the site's 404/403/500 page ("Request has been removed" etc.)
    "not_request",  # some other kind of page
    "markup_changed",  # looks like a request page but required parts are missing
    "bad_json",  # the JSON companion could not be read
]


@dataclass(slots=True)
class ParseFailure:
    """A typed, expected failure: the caller records it and moves on."""

    kind: str  # one of ParseErrorKind
    message: str  # one human sentence saying what was wrong
    url_title: str | None = None
