"""Parse ``/request/<url_title>.json`` (``InfoRequest#json_for_api(true)``), pure.

Keys (Alaveteli): ``id, url_title, title, created_at, updated_at,
described_state, display_status, awaiting_description, prominence, law_used,
tags`` and, in deep mode, ``user`` (or ``user_name`` for external requests,
``null`` when anonymous), ``public_body`` and ``info_request_events``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scraper.pages.text import parse_iso_datetime
from scraper.records import Event, ParseFailure, Person


@dataclass(slots=True)
class RequestJson:
    """The typed content of a request's JSON page."""

    request_id: int
    url_title: str | None
    title: str | None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    described_state: str | None = None
    display_status: str | None = None
    awaiting_description: bool | None = None
    prominence: str | None = None
    law_used: str | None = None
    tags: list[tuple[str, str | None]] = field(default_factory=list)
    user: Person | None = None  # internal requests
    external: bool = False  # True when the JSON has user_name instead of user
    user_name: str | None = None  # external requester's name (None: anonymous)
    public_body: Person | None = None
    public_body_short_name: str | None = None
    public_body_home_page: str | None = None
    public_body_tags: list[tuple[str, str | None]] | None = None
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _fail(message: str) -> ParseFailure:
    return ParseFailure("bad_json", message)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _tags(value: Any, warnings: list[str]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    if value is None:
        return out
    if not isinstance(value, list):
        warnings.append("JSON tags is not a list; ignored")
        return out
    for item in value:
        if isinstance(item, list) and item and isinstance(item[0], str):
            tag_value = item[1] if len(item) > 1 else None
            out.append((item[0], tag_value if isinstance(tag_value, str) else None))
        elif isinstance(item, str):
            name, _, tag_value = item.partition(":")
            out.append((name, tag_value or None))
        else:
            warnings.append(f"JSON tag {item!r} is not a [name, value] pair; ignored")
    return out


def _person(value: Any, id_key: str = "id") -> Person | None:
    if not isinstance(value, dict):
        return None
    url_name = _str_or_none(value.get("url_name"))
    name = _str_or_none(value.get("name")) or url_name or ""
    return Person(url_name=url_name, name=name, site_id=_int_or_none(value.get(id_key)))


def _event(raw: Any) -> Event | None:
    if not isinstance(raw, dict):
        return None
    event_id = _int_or_none(raw.get("id"))
    event_type = _str_or_none(raw.get("event_type"))
    if event_id is None or event_type is None:
        return None
    created_text = _str_or_none(raw.get("created_at"))
    return Event(
        event_id=event_id,
        event_type=event_type,
        created_at=parse_iso_datetime(created_text),
        created_at_text=created_text,
        described_state=_str_or_none(raw.get("described_state")),
        calculated_state=_str_or_none(raw.get("calculated_state")),
        last_described_at=parse_iso_datetime(_str_or_none(raw.get("last_described_at"))),
        incoming_message_id=_int_or_none(raw.get("incoming_message_id")),
        outgoing_message_id=_int_or_none(raw.get("outgoing_message_id")),
        comment_id=_int_or_none(raw.get("comment_id")),
        display_status=_str_or_none(raw.get("display_status")),
    )


def parse_request_json(json_bytes: bytes) -> RequestJson | ParseFailure:
    """Read a request's JSON; never raises: a ParseFailure('bad_json', …) says what was wrong."""
    if not json_bytes or not json_bytes.strip():
        return _fail("request JSON is empty; fetch /request/<url_title>.json again")
    try:
        data = json.loads(json_bytes)
    except UnicodeDecodeError:
        return _fail("request JSON is not UTF-8 text; save it as UTF-8 and import again")
    except ValueError as exc:
        return _fail(f"request JSON is not valid JSON ({exc.msg} at char {getattr(exc, 'pos', '?')}); fetch it again")
    except RecursionError:
        return _fail("request JSON is nested too deeply to read; fetch it again")
    if not isinstance(data, dict):
        return _fail(f"request JSON is a {type(data).__name__}, not an object; check it is a request's .json page")
    request_id = _int_or_none(data.get("id"))
    if request_id is None:
        return _fail("request JSON has no numeric 'id'; check it is a /request/<url_title>.json page")
    warnings: list[str] = []
    law = _str_or_none(data.get("law_used"))
    if law is not None:
        law = law.lower()
    awaiting = data.get("awaiting_description")
    result = RequestJson(
        request_id=request_id,
        url_title=_str_or_none(data.get("url_title")),
        title=_str_or_none(data.get("title")),
        created_at=parse_iso_datetime(_str_or_none(data.get("created_at"))),
        updated_at=parse_iso_datetime(_str_or_none(data.get("updated_at"))),
        described_state=_str_or_none(data.get("described_state")),
        display_status=_str_or_none(data.get("display_status")),
        awaiting_description=awaiting if isinstance(awaiting, bool) else None,
        prominence=_str_or_none(data.get("prominence")),
        law_used=law,
        tags=_tags(data.get("tags"), warnings),
        warnings=warnings,
    )
    if "user" in data and isinstance(data["user"], dict):
        result.user = _person(data["user"])
    elif "user_name" in data:
        result.external = True
        result.user_name = _str_or_none(data.get("user_name"))
    result.public_body = _person(data.get("public_body"))
    body = data.get("public_body")
    if isinstance(body, dict):
        result.public_body_short_name = _str_or_none(body.get("short_name")) or None
        result.public_body_home_page = _str_or_none(body.get("home_page")) or None
        if "tags" in body:
            result.public_body_tags = _tags(body.get("tags"), warnings)
    raw_events = data.get("info_request_events")
    if raw_events is not None:
        if not isinstance(raw_events, list):
            warnings.append("JSON info_request_events is not a list; ignored")
        else:
            seen: set[int] = set()
            for raw in raw_events:
                event = _event(raw)
                if event is None:
                    warnings.append("a JSON event without a numeric id or event_type was skipped")
                elif event.event_id in seen:
                    warnings.append(f"JSON event {event.event_id} listed twice; kept the first")
                else:
                    seen.add(event.event_id)
                    result.events.append(event)
    return result
