"""Load a corpus described as data (TOML) into the sample site's model.

The file gives authorities, users and requests with their messages and
annotations in plain words and local (Europe/London) times.  This loader
allocates every id (request, message, comment, event) in chronological order,
adds the events the site would log by itself (``status_update`` after a
classification, ``overdue`` / ``very_overdue`` from the cron job) and checks
that the description is consistent.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from corpus.errors import CorpusError
from corpus.sample_site.data import (
    DESCRIBED_STATES,
    LONDON,
    FakeAnnotation,
    FakeAttachment,
    FakeAuthority,
    FakeMessage,
    FakeRequest,
    FakeUser,
    SiteCorpus,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
SAMPLE_FILE = DATA_DIR / "sample_corpus.toml"


class SampleDataError(CorpusError):
    """The corpus description file is inconsistent."""


def _local(value) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time(9, 0))
    else:
        dt = datetime.fromisoformat(str(value))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=LONDON)
    return dt


def paragraphs(text: str) -> list[str]:
    """Blank lines separate paragraphs; single newlines stay inside one."""
    text = text.strip("\n")
    if "\n\n" not in text and " \n" not in text:
        return [text.strip()] if text.strip() else []
    out = []
    for block in text.split("\n\n"):
        para = "\n".join(ln.rstrip() for ln in block.split("\n")).strip()
        if para:
            out.append(para)
    return out


def load_corpus(path: Path = SAMPLE_FILE) -> SiteCorpus:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SampleDataError(f"cannot read the sample corpus {path}: {exc}; fix the file or reinstall the package") from exc
    return build_corpus(raw)


def build_corpus(raw: dict) -> SiteCorpus:
    today = raw["today"]
    authorities: dict[str, FakeAuthority] = {}
    for i, a in enumerate(raw.get("authority", [])):
        authorities[a["url_name"]] = FakeAuthority(
            id=a.get("id", 2201 + i * 17),
            url_name=a["url_name"],
            name=a["name"],
            short_name=a.get("short_name", ""),
            tags=list(a.get("tags", [])),
            home_page=a.get("home_page"),
            created_at=_local(a.get("created", datetime(2008, 4, 22, 11, 30, 18))),
            notes=a.get("notes", ""),
            old_url_names=list(a.get("old_url_names", [])),
        )
    users: dict[str, FakeUser] = {}
    for i, u in enumerate(raw.get("user", [])):
        users[u["url_name"]] = FakeUser(
            id=u.get("id", 884201 + i * 311),
            url_name=u["url_name"],
            name=u["name"],
            about_me=u.get("about_me", ""),
            ban_text=u.get("ban_text", ""),
            joined_year=u.get("joined", 2012 + i % 10),
            old_url_names=list(u.get("old_url_names", [])),
        )

    # First pass: build requests with placeholder ids, remembering each item's time.
    items: list[tuple[datetime, int, str, Any]] = []  # (time, seq, kind, message / annotation / event dict)
    requests: list[FakeRequest] = []
    seq = 0
    for r in raw.get("request", []):
        slug = r["slug"]
        if r["authority"] not in authorities:
            raise SampleDataError(f"request {slug}: unknown authority {r['authority']!r}; add it to [[authority]]")
        user_slug = r.get("user")
        if user_slug is not None and user_slug not in users:
            raise SampleDataError(f"request {slug}: unknown user {user_slug!r}; add it to [[user]]")
        state = r["state"]
        if state not in DESCRIBED_STATES:
            raise SampleDataError(f"request {slug}: {state!r} is not a described state; use one of {', '.join(DESCRIBED_STATES)}")
        auth = authorities[r["authority"]]
        requester = users[user_slug].name if user_slug else (r.get("external") or "")
        msgs: list[FakeMessage] = []
        clarification_idx = None
        n_out = 0
        for k, m in enumerate(r.get("message", [])):
            direction = "outgoing" if m["dir"] == "out" else "incoming"
            if direction == "outgoing":
                etype = m.get("type", "sent" if n_out == 0 else "followup_sent")
                n_out += 1
            else:
                etype = m.get("type", "response")
            at = _local(m["at"])
            calc = m.get("state")
            if m.get("clarification"):
                calc = "waiting_response"
                clarification_idx = k
            atts = [
                FakeAttachment(
                    part=j + 2,
                    filename=a["file"],
                    content_type=a.get("type", "application/pdf"),
                    size_text=a.get("size", "64K"),
                    erased=a.get("erased", False),
                    text=a.get("text"),
                )
                for j, a in enumerate(m.get("attachment", []))
            ]
            sender = m.get("from")
            if sender is None:
                sender = requester if direction == "outgoing" else auth.name
            msg = FakeMessage(
                id=0,
                direction=direction,
                event_id=0,
                event_type=etype,
                sender_name=sender,
                sent_at=at,
                paragraphs=m["paragraphs"] if "paragraphs" in m else paragraphs(m.get("text", "")),
                quoted=paragraphs(m["quoted"]) if m.get("quoted") else None,
                prominence=m.get("prominence", "normal"),
                attachments=atts,
                calculated_state=calc,
                delivery_status=m.get("delivery", "delivered") if direction == "outgoing" else None,
                received_at=at + timedelta(seconds=m.get("receipt_delay", 41)) if direction == "incoming" else None,
            )
            msgs.append(msg)
        if not msgs or msgs[0].direction != "outgoing":
            raise SampleDataError(f"request {slug}: the first message must be the outgoing request (dir = \"out\")")
        awaiting = r.get("awaiting", False)
        responses = [m for m in msgs if m.direction == "incoming"]
        if awaiting and not responses:
            raise SampleDataError(f"request {slug}: awaiting = true needs a response to classify")
        if responses and not awaiting and state != "waiting_response" and responses[-1].calculated_state is None:
            responses[-1].calculated_state = state
        created = msgs[0].sent_at - timedelta(milliseconds=r.get("created_offset_ms", 1650))
        req = FakeRequest(
            id=r.get("id", 0),
            url_title=slug,
            title=r["title"],
            authority_url_name=auth.url_name,
            user_url_name=user_slug,
            external_name=r.get("external") if user_slug is None else None,
            law=r.get("law", "foi"),
            described_state=state,
            created_at=created,
            updated_at=created,
            messages=msgs,
            prominence=r.get("prominence", "normal"),
            batch_id=r.get("batch"),
            batch_size=r.get("batch_size"),
            tags=[(t[0], t[1] if len(t) > 1 and t[1] != "" else None) for t in r.get("tags", [])],
            allow_new_responses_from=r.get("allow_new_responses_from", "anybody"),
            awaiting_description=awaiting,
            hidden_reason=r.get("hidden_reason"),
            from_name=r.get("from_name"),
        )
        req._clarification_idx = clarification_idx  # type: ignore[attr-defined]
        for m in msgs:
            seq += 1
            items.append((m.event_time, seq, "message", m))
        for a in r.get("annotation", []):
            if a["user"] not in users:
                raise SampleDataError(f"request {slug}: annotation by unknown user {a['user']!r}; add it to [[user]]")
            ann = FakeAnnotation(
                id=0,
                event_id=0,
                user_url_name=a["user"],
                user_name=users[a["user"]].name,
                created_at=_local(a["at"]),
                paragraphs=a["paragraphs"] if "paragraphs" in a else paragraphs(a["text"]),
                visible=a.get("visible", True),
            )
            req.annotations.append(ann)
            seq += 1
            items.append((ann.created_at, seq, "comment", ann))
        # Events the site logs by itself.
        last_msg_time = max(m.event_time for m in msgs)
        if not awaiting and state != "waiting_response":
            at = _local(r["status_at"]) if "status_at" in r else last_msg_time + timedelta(hours=17, minutes=23, seconds=11)
            ev = {"id": 0, "event_type": r.get("status_event", "status_update"), "created_at": at,
                  "described_state": state, "calculated_state": state,
                  "last_described_at": at + timedelta(milliseconds=138)}
            req.extra_events.append(ev)
            seq += 1
            items.append((at, seq, "extra", ev))
        requests.append(req)

    # Message and comment ids, in time order.
    items.sort(key=lambda it: (it[0], it[1]))
    next_out, next_in, next_comment = 1_400_011, 3_000_007, 120_003
    for _, _, kind, obj in items:
        if kind == "message":
            if obj.direction == "outgoing":
                obj.id = next_out
                next_out += 3
            else:
                obj.id = next_in
                next_in += 5
        elif kind == "comment":
            obj.id = next_comment
            next_comment += 2
    for req in requests:
        # a resend is the same outgoing message sent again: it keeps that message's id
        last_by_type: dict[str, int] = {}
        for m in req.messages:
            if m.direction != "outgoing":
                continue
            if m.event_type in ("resent", "followup_resent"):
                original = last_by_type.get("sent" if m.event_type == "resent" else "followup_sent")
                if original is None:
                    raise SampleDataError(f"request {req.url_title}: a {m.event_type} message needs an earlier message to resend")
                m.id = original
            else:
                last_by_type[m.event_type] = m.id
        idx = req._clarification_idx  # type: ignore[attr-defined]
        if idx is not None:
            req.clarification_message_id = req.messages[idx].id
        del req._clarification_idx  # type: ignore[attr-defined]

    # The cron job's overdue / very_overdue events (they need the clock start).
    for req in requests:
        auth = authorities[req.authority_url_name]
        if req.described_state == "waiting_response" and not req.awaiting_description:
            for when, etype in ((req.due_date(auth), "overdue"), (req.very_overdue_date(auth), "very_overdue")):
                if today > when:
                    at = datetime.combine(when + timedelta(days=1), time(3, 5, 41), tzinfo=LONDON)
                    ev = {"id": 0, "event_type": etype, "created_at": at, "described_state": None,
                          "calculated_state": None, "last_described_at": None}
                    req.extra_events.append(ev)
                    seq += 1
                    items.append((at, seq, "extra", ev))

    # Event ids, in time order, as a database would allocate them.
    items.sort(key=lambda it: (it[0], it[1]))
    next_event = 5_000_101
    for _, _, kind, obj in items:
        if kind == "extra":
            obj["id"] = next_event
        else:
            obj.event_id = next_event
        next_event += 7
    requests.sort(key=lambda r: r.created_at)
    next_request = 1_290_001
    for req in requests:
        if not req.id:
            req.id = next_request
            next_request += 13
        req.updated_at = max(
            [m.event_time for m in req.messages] + [a.created_at for a in req.annotations]
            + [e["created_at"] for e in req.extra_events])
    _check(requests)
    return SiteCorpus(authorities=authorities, users=users, requests=requests, today=today)


def _check(requests: list[FakeRequest]) -> None:
    seen: set[str] = set()
    for r in requests:
        if r.url_title in seen:
            raise SampleDataError(f"duplicate request slug {r.url_title!r}; give the second one a _2 suffix")
        seen.add(r.url_title)


def sample_corpus() -> SiteCorpus:
    """The bundled hand-described corpus (a fresh copy each call: tests may change it)."""
    return load_corpus(SAMPLE_FILE)
