"""Builders of ParsedRequest records for the database tests (no parser needed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from corpus.load import LoadItem
from scraper.records import Annotation, Attachment, Direction, Event, Message, ParsedRequest, Person

SITE = "https://www.whatdotheyknow.com"
T0 = datetime(2024, 3, 1, 9, 30, tzinfo=timezone.utc)


def make_thread(
    n: int,
    *,
    request_id: int | None = None,
    messages: int = 3,
    annotations: int = 0,
    with_json: bool = True,
    url_title: str | None = None,
) -> ParsedRequest:
    """Thread number ``n``: one outgoing request, then alternating replies/follow-ups."""
    base_msg = n * 100
    msgs: list[Message] = []
    events: list[Event] = []
    for i in range(messages):
        direction: Direction = "outgoing" if i % 2 == 0 else "incoming"
        mid = base_msg + i
        sent = T0 + timedelta(days=n % 300, hours=i * 30)
        atts = []
        if direction == "incoming":
            atts = [Attachment(part=2, filename=f"response_{mid}.pdf", size_text="78K",
                               download_url=f"/request/{n}/response/{mid}/attach/2/response_{mid}.pdf",
                               content_icon="pdf")]
        msgs.append(Message(
            message_id=mid, direction=direction, position=i,
            sender="Jo Bloggs" if direction == "outgoing" else "FOI Team",
            sent_at=sent, sent_at_text=sent.isoformat(),
            body=f"Message {i} of thread {n}.\n\nSecond paragraph.",
            delivery_status="delivered" if direction == "outgoing" else None,
            attachments=atts,
        ))
        if with_json:
            events.append(Event(
                event_id=base_msg * 10 + i,
                event_type=("sent" if i == 0 else "followup_sent") if direction == "outgoing" else "response",
                created_at=sent, created_at_text=sent.isoformat(),
                incoming_message_id=mid if direction == "incoming" else None,
                outgoing_message_id=mid if direction == "outgoing" else None,
            ))
    anns = [
        Annotation(comment_id=n * 10 + j, position=messages + j,
                   author=Person(url_name=f"annotator_{j}", name=f"Annotator {j}"),
                   created_at=T0 + timedelta(days=40 + j), created_at_text=None, text=f"Comment {j}")
        for j in range(annotations)
    ]
    return ParsedRequest(
        url_title=url_title or f"thread_{n}",
        title=f"Thread {n}",
        request_id=request_id if request_id is not None else (n if with_json else None),
        requester=Person(url_name=f"user_{n % 7}", name=f"User {n % 7}"),
        authority=Person(url_name=f"council_{n % 5}", name=f"Council {n % 5}"),
        law="foi",
        described_state="waiting_response" if with_json else None,
        calculated_status="waiting_response",
        display_status="Awaiting response" if with_json else None,
        created_at=T0 if with_json else None,
        tags=[("foi", None), ("year", "2024")] if with_json else [],
        messages=msgs,
        annotations=anns,
        events=events,
        has_json=with_json,
    )


def item(parsed: ParsedRequest, *, fetched_at: datetime | None = None, site: str = SITE) -> LoadItem:
    return LoadItem(parsed=parsed, site=site, source="sync",
                    source_url=f"{site}/request/{parsed.url_title}", page_sha256="0" * 64,
                    fetched_at=fetched_at or T0 + timedelta(days=400))
