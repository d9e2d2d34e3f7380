"""Typed records produced by the pure page parsers.

These dataclasses are the contract between ``scraper.pages`` (bytes in, records
out) and ``corpus.load`` (records in, rows out).  They hold plain Python values
only, so they can be built from live pages, saved pages or stored raw pages alike.

Times are timezone-aware ``datetime`` objects; the original ISO text with its UTC
offset is kept beside them (``*_text``) because DuckDB's TIMESTAMPTZ keeps the
instant but not the offset the site displayed.  Pages from before 2014 show
only a date ("5 March 2012", no time, no offset): there the time is ``None``,
the ``*_text`` holds the date in ISO form (``"2012-03-05"``) and ``*_on`` the
date itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Direction = Literal["incoming", "outgoing"]
Prominence = Literal["normal", "hidden", "requester_only", "backpage"]


class ParseWarning(str):
    """A non-fatal oddity met while parsing: the message, with a ``kind``.

    A ``str`` subclass, so code that treats warnings as text keeps working;
    ``kind`` lets callers count and report them by type:

    * ``duplicate``: an id shown twice on the page (the first copy kept);
    * ``bad_json``: the JSON could not be used at all (the page was parsed alone);
    * ``json_shape``: a JSON value of an unexpected type or form (ignored);
    * ``json_time``: a JSON time in a format not known (left empty);
    * ``mismatch``: the page and its JSON disagree (which one was kept is said);
    * ``unknown_text``: a value the page gives only as words in a language or
      form the parser does not read (left unknown rather than guessed);
    * ``other``: anything else.
    """

    __slots__ = ("kind",)
    kind: str

    def __new__(cls, kind: str, message: str) -> ParseWarning:
        self = super().__new__(cls, message)
        self.kind = kind
        return self

    def __reduce__(self):  # picklable (records cross process pools)
        return (ParseWarning, (self.kind, str(self)))


WarningKind = Literal["duplicate", "bad_json", "json_shape", "json_time", "mismatch", "unknown_text", "other"]


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
    """One attachment of a response, as listed on the page.

    ``part`` is the url_part_number, read only from the ``/attach/<part>/``
    links.  Erased and hidden attachments have no link, so their part is
    unknown (``None``); nothing else on the page is taken for it.
    ``database_id`` is Alaveteli's own id of the attachment, shown (since
    2022) as ``li#attachment-<id>``; ``None`` where the page does not show it.
    """

    part: int | None  # url_part_number from the /attach/<part>/ link; None: unknown
    filename: str
    size_text: str | None = None  # as displayed, e.g. "78K"
    download_url: str | None = None  # absolute or site-relative, as on the page
    html_url: str | None = None  # the "View" / "View as HTML" link
    content_icon: str | None = None  # icon_<type>_large -> "<type>", e.g. "pdf"
    erased: bool = False
    hidden: bool = False
    database_id: int | None = None  # li#attachment-<id> (the attachment's database id), when shown
    position: int = 0  # 0-based order in the message's list of attachments

    @property
    def key_part(self) -> int:
        """The part, or ``-(position + 1)`` when the page gives none.

        Attachment rows are keyed by (message, part); an attachment whose part
        is unknown is keyed by a negative number that says where it sits in
        the list (-1: first, -2: second, ...) and can never be taken for a part.
        """
        return self.part if self.part is not None else -(self.position + 1)


@dataclass(slots=True)
class Message:
    """One correspondence item, in page order."""

    message_id: int  # the N of incoming-N / outgoing-N
    direction: Direction
    position: int  # 0-based order among all items on the page (messages and annotations)
    sender: str | None
    sent_at: datetime | None  # from <time datetime>, timezone-aware; None when the page shows only a date
    sent_at_text: str | None  # the raw datetime attribute, offset kept; "YYYY-MM-DD" on date-only pages
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
    sent_on: date | None = None  # the date shown (local to the site), in every era


@dataclass(slots=True)
class Annotation:
    comment_id: int
    position: int
    author: Person
    created_at: datetime | None
    created_at_text: str | None
    text: str
    created_on: date | None = None  # the date shown (local to the site), in every era


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
    markup_era: str = "current"  # see MARKUP_ERAS
    has_json: bool = False
    warnings: list[ParseWarning] = field(default_factory=list)  # non-fatal oddities, typed
    lang: str | None = None  # <html lang>, as the page gives it


# The page layouts the request parser reads, oldest first, named by the years
# Alaveteli served them (README, "Parsing", lists what marks each one).
MARKUP_ERAS = ("2009-2011", "2011-2014", "2014-2016", "2016-2018", "2019", "current")


ParseErrorKind = Literal[
    "empty",  # no bytes
    "encoding",  # bytes are not text in any plausible encoding
    "truncated",  # page cut short (no closing structure, missing end)
    "challenge",  # bot/anti-automation challenge page
    "error_page",  # the site's 404/403/500 page ("Request has been removed" etc.)
    "not_request",  # some other kind of page
    "markup_changed",  # unrecognised markup: a request page, but a part every era has is missing or unreadable
    "bad_json",  # parse_request_json: the JSON could not be used (parse_request then warns and parses the page alone)
    "too_deep",  # elements nested deeper than any real page (checked before the parse)
    "out_of_range",  # an id beyond the 64-bit range a site's database can hold
]


@dataclass(slots=True)
class ParseFailure:
    """A typed, expected failure: the caller records it and moves on."""

    kind: str  # one of ParseErrorKind
    message: str  # one human sentence saying what was wrong
    url_title: str | None = None
