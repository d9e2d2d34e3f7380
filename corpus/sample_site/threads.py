"""One-request sample-site corpora in a line or two, for the parser's tests and ``bench/parse.py``.

The page itself comes from the sample site's renderer
(``corpus.sample_site.render.request_page``): tests, the benchmark and
``corpus demo`` see the same markup.  (In the package, not under ``tests/``,
because benchmarks import nothing from the tests.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from itertools import count

from corpus.sample_site import render
from corpus.sample_site.data import (
    FakeAnnotation,
    FakeAttachment,
    FakeAuthority,
    FakeMessage,
    FakeRequest,
    FakeUser,
    SiteCorpus,
)

SITE = "https://www.whatdotheyknow.com"
BST = timezone(timedelta(hours=1))
GMT = timezone(timedelta(0))

_DEFAULT_OUT = ["Dear Sir or Madam,", "Please send me the list.", "Yours faithfully,\nA Person"]
_DEFAULT_IN = ["Dear Requester,", "Please find attached our response.", "Yours sincerely,\nFOI Team"]


def att(part: int, filename: str, content_type: str = "application/pdf", size: str = "78K", *,
        erased: bool = False, hidden: bool = False, database_id: int | None = None) -> FakeAttachment:
    return FakeAttachment(part, filename, content_type, size, erased=erased, hidden=hidden, database_id=database_id)


def out(message_id: int, when: datetime, paragraphs: list[str] | None = None, *, event_type: str = "sent",
        delivery: str | None = "delivered", prominence: str = "normal", state: str | None = None) -> FakeMessage:
    return FakeMessage(message_id, "outgoing", 0, event_type, "", when, list(paragraphs or _DEFAULT_OUT),
                       prominence=prominence, delivery_status=delivery, calculated_state=state)


def inc(message_id: int, when: datetime, paragraphs: list[str] | None = None, *, sender: str = "",
        attachments: list[FakeAttachment] | tuple = (), quoted: list[str] | None = None,
        prominence: str = "normal", state: str | None = None) -> FakeMessage:
    return FakeMessage(message_id, "incoming", 0, "response", sender, when, list(paragraphs or _DEFAULT_IN),
                       quoted=quoted, prominence=prominence, attachments=list(attachments), calculated_state=state,
                       delivery_status=None)


def note(comment_id: int, user: tuple[str, str], when: datetime, paragraphs: list[str]) -> FakeAnnotation:
    return FakeAnnotation(comment_id, 0, user[0], user[1], when, list(paragraphs))


def thread(
    items: list,
    *,
    slug: str = "allotment_waiting_lists",
    title: str = "Allotment waiting lists",
    request_id: int = 1290477,
    user: tuple[str, str] | None = ("sam_patel_3", "Sam Patel"),
    external: str | None = None,
    authority: tuple[str, str] = ("exampleshire_county_council", "Exampleshire County Council"),
    authority_tags: list[str] | tuple = (),
    law: str = "foi",
    state: str = "waiting_response",
    awaiting: bool = False,
    today: date | None = None,
    prominence: str = "normal",
    batch: tuple[int, int] | None = None,
    allow: str = "anybody",
    created: datetime | None = None,
) -> tuple[SiteCorpus, FakeRequest]:
    """A corpus holding one request whose events are ``items`` (messages and annotations) in order."""
    body = FakeAuthority(id=2291, url_name=authority[0], name=authority[1], tags=list(authority_tags))
    users = {}
    if user is not None:
        users[user[0]] = FakeUser(id=884201, url_name=user[0], name=user[1])
    event_ids = count(5_123_001)
    messages, notes = [], []
    for item in items:
        item.event_id = next(event_ids)
        if isinstance(item, FakeAnnotation):
            users.setdefault(item.user_url_name, FakeUser(id=900000 + item.id % 1000, url_name=item.user_url_name,
                                                          name=item.user_name))
            notes.append(item)
        else:
            if item.direction == "outgoing" and not item.sender_name:
                item.sender_name = user[1] if user is not None else (external or "An anonymous user")
            if item.direction == "incoming" and not item.sender_name:
                item.sender_name = body.name
            messages.append(item)
    first = messages[0].sent_at if messages else datetime(2025, 7, 14, 9, 12, 5, tzinfo=BST)
    times = [m.sent_at for m in messages] + [a.created_at for a in notes]
    req = FakeRequest(
        id=request_id,
        url_title=slug,
        title=title,
        authority_url_name=body.url_name,
        user_url_name=user[0] if user is not None else None,
        external_name=external,
        law=law,
        described_state=state,
        created_at=created or first - timedelta(seconds=2),
        updated_at=max(times) if times else first,
        messages=messages,
        annotations=notes,
        prominence=prominence,
        batch_id=batch[0] if batch else None,
        batch_size=batch[1] if batch else None,
        allow_new_responses_from=allow,
        awaiting_description=awaiting,
    )
    if today is None:
        today = (max(times) if times else first).date() + timedelta(days=1)
    corpus = SiteCorpus(authorities={body.url_name: body}, users=users, requests=[req], today=today)
    return corpus, req


def page(corpus: SiteCorpus, req: FakeRequest, *, unfold: bool = False, base: str = SITE) -> bytes:
    return render.request_page(corpus, req, base, unfold=unfold).encode("utf-8")


def json_for(corpus: SiteCorpus, req: FakeRequest) -> bytes:
    return render.request_json(corpus, req)
