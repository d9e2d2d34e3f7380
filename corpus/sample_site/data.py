"""The sample site's data model: authorities, users, requests and their events.

These classes hold what an Alaveteli database would hold for the pages the
sample site serves.  Rendering lives in ``render``; the HTTP layer in
``server``.  Times are timezone-aware (Europe/London), as WhatDoTheyKnow shows
them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from corpus.workdays import add_working_days as _add_working_days

LONDON = ZoneInfo("Europe/London")

# Event types that Xapian indexes, so that listings can show them.
INDEXED_EVENT_TYPES = ("sent", "followup_sent", "response", "comment")

DESCRIBED_STATES = (
    "waiting_response",
    "waiting_clarification",
    "gone_postal",
    "not_held",
    "rejected",
    "successful",
    "partially_successful",
    "internal_review",
    "error_message",
    "requires_admin",
    "user_withdrawn",
    "attention_requested",
    "vexatious",
    "not_foi",
)

CALCULATED_ONLY_STATES = (
    "waiting_classification",
    "waiting_response_overdue",
    "waiting_response_very_overdue",
)

STATUS_LABELS = {
    "waiting_classification": "Awaiting classification",
    "waiting_response": "Awaiting response",
    "waiting_response_overdue": "Delayed",
    "waiting_response_very_overdue": "Long overdue",
    "not_held": "Information not held",
    "rejected": "Refused",
    "partially_successful": "Partially successful",
    "successful": "Successful",
    "waiting_clarification": "Waiting clarification",
    "gone_postal": "Handled by postal mail",
    "internal_review": "Awaiting internal review",
    "error_message": "Delivery error",
    "requires_admin": "Unusual response",
    "attention_requested": "Reported for administrator attention",
    "user_withdrawn": "Withdrawn by the requester",
    "vexatious": "Considered by administrators as vexatious",
    "not_foi": "Considered by administrators as not an FOI request",
}

# /list/<view> and /body/<slug>/<view> filters.
VIEW_STATES = {
    "successful": {"successful", "partially_successful"},
    "unsuccessful": {"rejected", "not_held"},
    "awaiting": {
        "waiting_response",
        "waiting_response_overdue",
        "waiting_response_very_overdue",
        "waiting_clarification",
        "waiting_classification",
        "internal_review",
        "gone_postal",
        "error_message",
        "requires_admin",
    },
}


# --------------------------------------------------------------------------- working days

# The site's due dates use the corpus's own UK working-day calendar (weekends and
# the bank holidays of any part of the UK), as WhatDoTheyKnow's holiday table does.
add_working_days = functools.lru_cache(maxsize=65536)(_add_working_days)


# --------------------------------------------------------------------------- records


@dataclass
class FakeAuthority:
    id: int
    url_name: str
    name: str
    short_name: str = ""
    tags: list[str] = field(default_factory=list)
    home_page: str | None = None
    created_at: datetime | None = None
    notes: str = ""
    old_url_names: list[str] = field(default_factory=list)  # renamed: these 302 to url_name

    @property
    def very_late_days(self) -> int:
        plain = {t.split(":", 1)[0] for t in self.tags}
        return 60 if plain & {"school", "academy_trust"} else 40

    @property
    def eir_only(self) -> bool:
        return "eir_only" in self.tags

    @property
    def not_subject_to_foi(self) -> bool:
        return "foi_no" in self.tags


@dataclass
class FakeUser:
    id: int
    url_name: str
    name: str
    about_me: str = ""
    ban_text: str = ""
    joined_year: int = 2012
    old_url_names: list[str] = field(default_factory=list)  # renamed: still answered (200) at these


@dataclass
class FakeAttachment:
    part: int  # url_part_number: the N of /attach/N/ in its links
    filename: str
    content_type: str
    size_text: str
    erased: bool = False
    data: bytes | None = None
    text: str | None = None  # words the generated file holds (PDF text layer, CSV, plain text)
    database_id: int | None = None  # Alaveteli's id of the attachment row (li#attachment-<id>); None: derived
    hidden: bool = False  # prominence hidden: listed with a notice, no name or links


@dataclass
class FakeMessage:
    id: int
    direction: str  # 'incoming' | 'outgoing'
    event_id: int
    event_type: str  # sent, followup_sent, response, resent, followup_resent
    sender_name: str
    sent_at: datetime
    paragraphs: list[str]
    quoted: list[str] | None = None
    prominence: str = "normal"
    attachments: list[FakeAttachment] = field(default_factory=list)
    calculated_state: str | None = None
    delivery_status: str | None = "delivered"
    received_at: datetime | None = None  # response event time; defaults to sent_at

    @property
    def event_time(self) -> datetime:
        if self.direction == "incoming" and self.received_at is not None:
            return self.received_at
        return self.sent_at

    @property
    def body_part(self) -> int:
        """url_part_number of the main body (attachments are numbered after it)."""
        return 1

    def part_database_id(self, part: int) -> int:
        """The database id of this message's part ``part`` (body or attachment).

        Real ids come from one table-wide sequence, so they bear no relation to
        the part number; the derived ones here are far from any part number
        too, so a reader that takes one for the other is caught.
        """
        for a in self.attachments:
            if a.part == part and a.database_id is not None:
                return a.database_id
        return 7_300_000 + self.id * 64 + part

    def plain_text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass
class FakeAnnotation:
    id: int
    event_id: int
    user_url_name: str
    user_name: str
    created_at: datetime
    paragraphs: list[str]
    visible: bool = True


def _ts(dt: datetime | None) -> datetime | None:
    return dt.astimezone(LONDON) if dt is not None else None


@dataclass
class FakeRequest:
    id: int
    url_title: str
    title: str
    authority_url_name: str
    user_url_name: str | None
    external_name: str | None
    law: str
    described_state: str
    created_at: datetime
    updated_at: datetime
    messages: list[FakeMessage] = field(default_factory=list)
    annotations: list[FakeAnnotation] = field(default_factory=list)
    prominence: str = "normal"
    batch_id: int | None = None
    tags: list[tuple[str, str | None]] = field(default_factory=list)
    allow_new_responses_from: str = "anybody"
    awaiting_description: bool = False
    extra_events: list[dict] = field(default_factory=list)
    hidden_reason: str | None = None
    batch_size: int | None = None
    clarification_message_id: int | None = None  # follow-up that restarts the clock
    from_name: str | None = None  # the requester's name as sent (safe_from_name)

    # ----------------------------------------------------------------- people

    @property
    def is_external(self) -> bool:
        return self.user_url_name is None

    # ----------------------------------------------------------------- events

    def events(self) -> list[dict]:
        """Every event as the JSON lists it, ordered by (created_at, id).

        Message and comment events also carry ``_obj``, the FakeMessage or
        FakeAnnotation itself (not part of the JSON).  A ``resent`` /
        ``followup_resent`` message shares the id of the message it resends.
        """
        out: list[dict] = []
        for m in self.messages:
            calc = m.calculated_state
            described = None
            if m.direction == "outgoing":
                if m.event_type in ("sent", "resent"):
                    calc = calc or "waiting_response"
                if m.event_type in ("sent", "followup_sent") and calc in ("waiting_response", "internal_review"):
                    described = calc
            ev = {
                "id": m.event_id,
                "event_type": m.event_type,
                "created_at": m.event_time,
                "described_state": described,
                "calculated_state": calc,
                "last_described_at": m.event_time + timedelta(milliseconds=289) if calc else None,
                "incoming_message_id": m.id if m.direction == "incoming" else None,
                "outgoing_message_id": m.id if m.direction == "outgoing" else None,
                "comment_id": None,
                "_obj": m,
            }
            if m.direction == "incoming":
                ev["display_status"] = STATUS_LABELS.get(calc, "Response") if calc else "Response"
            else:
                ev["display_status"] = {
                    "internal_review": "Internal review request",
                    "waiting_response": "Clarification",
                }.get(calc or "", "Follow up")
            out.append(ev)
        for a in self.annotations:
            out.append(
                {
                    "id": a.event_id,
                    "event_type": "comment",
                    "created_at": a.created_at,
                    "described_state": None,
                    "calculated_state": None,
                    "last_described_at": None,
                    "incoming_message_id": None,
                    "outgoing_message_id": None,
                    "comment_id": a.id,
                    "_obj": a,
                }
            )
        for e in self.extra_events:
            ev = {
                "id": e["id"],
                "event_type": e["event_type"],
                "created_at": e["created_at"],
                "described_state": e.get("described_state"),
                "calculated_state": e.get("calculated_state"),
                "last_described_at": e.get("last_described_at"),
                "incoming_message_id": None,
                "outgoing_message_id": None,
                "comment_id": None,
            }
            out.append(ev)
        out.sort(key=lambda ev: (ev["created_at"], ev["id"]))
        return out

    def indexed_events(self) -> list[dict]:
        """Events a listing can show: sent, followup_sent, response, visible comments."""
        hidden_msgs = {(m.direction, m.id) for m in self.messages if m.prominence != "normal"}
        hidden_comments = {a.id for a in self.annotations if not a.visible}
        out = []
        for ev in self.events():
            if ev["event_type"] not in INDEXED_EVENT_TYPES:
                continue
            if ev["incoming_message_id"] and ("incoming", ev["incoming_message_id"]) in hidden_msgs:
                continue
            if ev["outgoing_message_id"] and ("outgoing", ev["outgoing_message_id"]) in hidden_msgs:
                continue
            if ev["comment_id"] and ev["comment_id"] in hidden_comments:
                continue
            out.append(ev)
        return out

    def latest_listing_event(self) -> dict | None:
        evs = self.indexed_events()
        return evs[-1] if evs else None

    # ----------------------------------------------------------------- due dates

    def clock_start(self) -> date:
        """Day zero: the last sent/resent event, or a clarification follow-up."""
        start = None
        for m in self.messages:
            if m.direction == "outgoing" and m.event_type in ("sent", "resent"):
                start = m.sent_at
            if self.clarification_message_id is not None and m.id == self.clarification_message_id and m.direction == "outgoing":
                start = m.sent_at
        if start is None:
            start = self.created_at
        return start.astimezone(LONDON).date()

    def due_date(self, authority: FakeAuthority | None = None) -> date:
        return add_working_days(self.clock_start(), 20)

    def very_overdue_date(self, authority: FakeAuthority | None = None) -> date:
        n = authority.very_late_days if authority is not None else 40
        return add_working_days(self.clock_start(), n)

    def calculated_status(self, today: date, authority: FakeAuthority | None = None) -> str:
        if self.awaiting_description:
            return "waiting_classification"
        if self.described_state == "waiting_response":
            if today > self.very_overdue_date(authority):
                return "waiting_response_very_overdue"
            if today > self.due_date(authority):
                return "waiting_response_overdue"
        return self.described_state

    def display_status(self, today: date, authority: FakeAuthority | None = None) -> str:
        return STATUS_LABELS[self.calculated_status(today, authority)]

    def initial_text(self) -> str:
        for m in self.messages:
            if m.direction == "outgoing":
                return m.plain_text()
        return ""


@dataclass
class SiteCorpus:
    authorities: dict[str, FakeAuthority]
    users: dict[str, FakeUser]
    requests: list[FakeRequest]
    today: date
    version: int = 0  # bumped by the helpers that change the corpus

    def _maps(self) -> tuple[dict[str, FakeRequest], dict[int, FakeRequest]]:
        cache = self.__dict__.get("_map_cache")
        key = (len(self.requests), self.version)
        if cache is None or cache[0] != key:
            by_slug = {r.url_title: r for r in self.requests}
            by_id = {r.id: r for r in self.requests}
            cache = (key, by_slug, by_id)
            self.__dict__["_map_cache"] = cache
        return cache[1], cache[2]

    def find(self, url_title: str) -> FakeRequest | None:
        req = self._maps()[0].get(url_title)
        if req is not None and req.url_title == url_title:
            return req
        # changed by hand since the map was built: look the slow way
        for r in self.requests:
            if r.url_title == url_title:
                return r
        return None

    def by_slug(self, url_title: str) -> FakeRequest:
        req = self.find(url_title)
        if req is None:
            raise KeyError(url_title)
        return req

    def by_id(self, request_id: int) -> FakeRequest | None:
        req = self._maps()[1].get(request_id)
        if req is not None and req.id == request_id:
            return req
        for r in self.requests:
            if r.id == request_id:
                return r
        return None

    def authority_of(self, req: FakeRequest) -> FakeAuthority:
        return self.authorities[req.authority_url_name]

    # ----------------------------------------------------------------- id allocation

    def _max(self, what: str) -> int:
        best = 0
        for r in self.requests:
            if what == "event":
                for m in r.messages:
                    best = max(best, m.event_id)
                for a in r.annotations:
                    best = max(best, a.event_id)
                for e in r.extra_events:
                    best = max(best, e["id"])
            elif what == "comment":
                for a in r.annotations:
                    best = max(best, a.id)
            else:
                for m in r.messages:
                    if m.direction == what:
                        best = max(best, m.id)
        return best

    def next_ids(self, direction: str) -> tuple[int, int]:
        """(next message id for direction, next event id)."""
        return self._max(direction) + 1, self._max("event") + 1

    def add_message(
        self,
        url_title: str,
        *,
        direction: str = "incoming",
        event_type: str | None = None,
        paragraphs: list[str] | None = None,
        sender_name: str | None = None,
        sent_at: datetime | None = None,
        calculated_state: str | None = None,
        described_state: str | None = None,
        attachments: list[FakeAttachment] | None = None,
        awaiting_description: bool | None = None,
    ) -> FakeMessage:
        """Append a new message to a request (new ids, later than everything else)."""
        req = self.by_slug(url_title)
        mid, eid = self.next_ids(direction)
        last = max((ev["created_at"] for ev in req.events()), default=req.created_at)
        when = sent_at or (last + timedelta(days=1))
        auth = self.authorities[req.authority_url_name]
        if sender_name is None:
            sender_name = auth.name if direction == "incoming" else (req.from_name or req.external_name or "")
        msg = FakeMessage(
            id=mid,
            direction=direction,
            event_id=eid,
            event_type=event_type or ("response" if direction == "incoming" else "followup_sent"),
            sender_name=sender_name,
            sent_at=when,
            paragraphs=paragraphs or ["Dear requester,", "Please find our reply attached.", "Information Governance Team"],
            attachments=attachments or [],
            calculated_state=calculated_state,
        )
        req.messages.append(msg)
        if described_state is not None:
            req.described_state = described_state
        if awaiting_description is not None:
            req.awaiting_description = awaiting_description
        elif direction == "incoming":
            req.awaiting_description = calculated_state is None
        req.updated_at = max(req.updated_at, when)
        self.version += 1
        return msg
