"""Parse ``/request/<url_title>.json`` (``InfoRequest#json_for_api(true)``), pure.

Keys (Alaveteli): ``id, url_title, title, created_at, updated_at,
described_state, display_status, awaiting_description, prominence, law_used,
tags`` and, in deep mode, ``user`` (or ``user_name`` for external requests,
``null`` when anonymous), ``public_body`` and ``info_request_events``.

Older shapes are read too:

* before October 2010 ``user`` and ``public_body`` were plain url_name strings
  (``"user": "sam_patel"``), not objects, and there was no ``display_status``;
* Rails 2 sites (WhatDoTheyKnow until 2013) wrote times as
  ``2010/10/04 11:11:57 +0000``, not ISO 8601.

Anything else of an unexpected type is ignored with a typed warning
(``json_shape``, ``json_time``); nothing is dropped silently.  Values no
database could hold are a ``bad_json`` failure, so the page is loaded without
its JSON rather than crashing the loader: an id outside 1..2⁶³-1, or text
holding a lone UTF-16 surrogate (``"\\ud800"``), which cannot be stored as UTF-8.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scraper.pages.text import parse_site_time
from scraper.records import Event, ParseFailure, ParseWarning, Person

MAX_ID = 2**63 - 1  # BIGINT: the widest id a site's database (and the corpus) holds


@dataclass(slots=True)
class RequestJson:
    """The typed content of a request's JSON page."""

    request_id: int
    url_title: str | None
    title: str | None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_at_text: str | None = None
    described_state: str | None = None
    display_status: str | None = None
    awaiting_description: bool | None = None
    prominence: str | None = None
    law_used: str | None = None
    tags: list[tuple[str, str | None]] = field(default_factory=list)
    user: Person | None = None  # internal requests (name "" when the JSON gives only the url_name)
    external: bool = False  # True when the JSON has user_name instead of user
    user_name: str | None = None  # external requester's name (None: anonymous)
    public_body: Person | None = None  # name "" when the JSON gives only the url_name
    public_body_short_name: str | None = None
    public_body_home_page: str | None = None
    public_body_tags: list[tuple[str, str | None]] | None = None
    events: list[Event] = field(default_factory=list)
    warnings: list[ParseWarning] = field(default_factory=list)
    shape: str = "current"  # "current" | "2010" (url_name strings for user and public_body)


class _Bad(Exception):
    """A value the corpus cannot hold: the whole JSON is refused."""


def _fail(message: str) -> ParseFailure:
    return ParseFailure("bad_json", message)


def _id(value: Any, where: str, warnings: list[ParseWarning] | None = None) -> int | None:
    """A database id: a positive integer below 2⁶³ (digit strings accepted); None when absent.

    Another type is no id (None), with a ``json_shape`` warning when ``warnings`` is given.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (
        isinstance(value, str) and not (value.isdigit() and value.isascii())
    ):
        if warnings is not None:
            warnings.append(ParseWarning("json_shape", f"JSON {where} {str(value)[:30]!r} is not an integer id; left empty"))
        return None
    if isinstance(value, str):
        if len(value) > 19:
            raise _Bad(f"{where} {value[:30]} is beyond the 64-bit ids a site's database can hold")
        value = int(value)
    if not isinstance(value, int):
        return None
    if value <= 0 or value > MAX_ID:
        shown = str(value) if len(str(value)) <= 30 else str(value)[:27] + "..."
        raise _Bad(f"{where} {shown} is outside the ids a site's database can hold (1 to 2^63-1)")
    return value


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _time(raw: dict, key: str, where: str, warnings: list[ParseWarning]) -> tuple[datetime | None, str | None]:
    value = raw.get(key)
    if value is None:
        return None, None
    if not isinstance(value, str):
        warnings.append(ParseWarning("json_shape", f"JSON {where}{key} is a {type(value).__name__}, not a time; left empty"))
        return None, None
    when = parse_site_time(value)
    if when is None:
        warnings.append(ParseWarning("json_time", f"JSON {where}{key} {value[:40]!r} is not a time format Alaveteli writes; left empty"))
    return when, value


def _tags(value: Any, where: str, warnings: list[ParseWarning]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    if value is None:
        return out
    if not isinstance(value, list):
        warnings.append(ParseWarning("json_shape", f"JSON {where}tags is a {type(value).__name__}, not a list; ignored"))
        return out
    for item in value:
        if isinstance(item, list) and item and isinstance(item[0], str):
            tag_value = item[1] if len(item) > 1 else None
            out.append((item[0], tag_value if isinstance(tag_value, str) else None))
        elif isinstance(item, str):
            name, _, tag_value = item.partition(":")
            out.append((name, tag_value or None))
        else:
            warnings.append(ParseWarning("json_shape", f"JSON {where}tag {str(item)[:40]} is not a [name, value] pair; ignored"))
    return out


def _person(value: Any, key: str, warnings: list[ParseWarning]) -> tuple[Person | None, bool]:
    """(person, from_string): an object, or the pre-2010 plain url_name string."""
    if value is None:
        return None, False
    if isinstance(value, str):
        if not value.strip():
            warnings.append(ParseWarning("json_shape", f"JSON {key} is an empty string; ignored"))
            return None, False
        return Person(url_name=value, name=""), True
    if not isinstance(value, dict):
        warnings.append(ParseWarning("json_shape", f"JSON {key} is a {type(value).__name__}, not an object or url_name; ignored"))
        return None, False
    url_name = _str_or_none(value.get("url_name"))
    name = _str_or_none(value.get("name"))
    if url_name is None and name is None:
        warnings.append(ParseWarning("json_shape", f"JSON {key} object has neither url_name nor name; ignored"))
        return None, False
    return Person(url_name=url_name, name=name or url_name or "", site_id=_id(value.get("id"), f"{key}.id", warnings)), False


def _event(raw: Any, warnings: list[ParseWarning]) -> Event | None:
    if not isinstance(raw, dict):
        warnings.append(ParseWarning("json_shape", f"a JSON event is a {type(raw).__name__}, not an object; skipped"))
        return None
    event_id = _id(raw.get("id"), "event id")
    event_type = _str_or_none(raw.get("event_type"))
    if event_id is None or event_type is None:
        warnings.append(ParseWarning("json_shape", "a JSON event without a numeric id or event_type was skipped"))
        return None
    where = f"event {event_id} "
    created, created_text = _time(raw, "created_at", where, warnings)
    described, _ = _time(raw, "last_described_at", where, warnings)
    return Event(
        event_id=event_id,
        event_type=event_type,
        created_at=created,
        created_at_text=created_text,
        described_state=_str_or_none(raw.get("described_state")),
        calculated_state=_str_or_none(raw.get("calculated_state")),
        last_described_at=described,
        incoming_message_id=_id(raw.get("incoming_message_id"), f"{where}incoming_message_id", warnings),
        outgoing_message_id=_id(raw.get("outgoing_message_id"), f"{where}outgoing_message_id", warnings),
        comment_id=_id(raw.get("comment_id"), f"{where}comment_id", warnings),
        display_status=_str_or_none(raw.get("display_status")),
    )


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: Any, path: str = "") -> str | None:
    """The key path of the first string holding a lone surrogate, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "(top level)"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _lone_surrogate(k, path) or _lone_surrogate(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _lone_surrogate(v, f"{path}[{i}]")
            if found:
                return found
    return None


def parse_request_json(json_bytes: bytes) -> RequestJson | ParseFailure:
    """Read a request's JSON; never raises: a ParseFailure('bad_json', …) says what was wrong."""
    if not json_bytes or not json_bytes.strip():
        return _fail("request JSON is empty; fetch /request/<url_title>.json again")
    try:
        data = json.loads(json_bytes)
    except UnicodeDecodeError:
        return _fail("request JSON is not UTF-8 text; save it as UTF-8 and import again")
    except ValueError as exc:
        pos = getattr(exc, "pos", None)
        where = f" at char {pos}" if pos is not None else ""
        return _fail(f"request JSON is not valid JSON ({getattr(exc, 'msg', str(exc))[:80]}{where}); fetch it again")
    except RecursionError:
        return _fail("request JSON is nested too deeply to read; fetch it again")
    if not isinstance(data, dict):
        return _fail(f"request JSON is a {type(data).__name__}, not an object; check it is a request's .json page")
    if _SURROGATE_ESCAPE.search(json_bytes):
        path = _lone_surrogate(data)
        if path is not None:
            return _fail(f"request JSON text at {path[:60]} holds a lone UTF-16 surrogate, which no UTF-8 text can hold; "
                         "the site sent broken text, so the page is loaded without its JSON")
    try:
        return _read(data)
    except _Bad as exc:
        return _fail(f"request JSON {exc}; the page is loaded without its JSON")


def _read(data: dict) -> RequestJson | ParseFailure:
    request_id = _id(data.get("id"), "id")
    if request_id is None:
        return _fail("request JSON has no numeric 'id'; check it is a /request/<url_title>.json page")
    warnings: list[ParseWarning] = []
    law = _str_or_none(data.get("law_used"))
    if law is not None:
        law = law.lower()
    awaiting = data.get("awaiting_description")
    created, created_text = _time(data, "created_at", "", warnings)
    updated, _ = _time(data, "updated_at", "", warnings)
    result = RequestJson(
        request_id=request_id,
        url_title=_str_or_none(data.get("url_title")),
        title=_str_or_none(data.get("title")),
        created_at=created,
        updated_at=updated,
        created_at_text=created_text,
        described_state=_str_or_none(data.get("described_state")),
        display_status=_str_or_none(data.get("display_status")),
        awaiting_description=awaiting if isinstance(awaiting, bool) else None,
        prominence=_str_or_none(data.get("prominence")),
        law_used=law,
        tags=_tags(data.get("tags"), "", warnings),
        warnings=warnings,
    )
    old_shape = False
    if "user" in data and data["user"] is not None:
        result.user, from_string = _person(data["user"], "user", warnings)
        old_shape |= from_string
    elif "user_name" in data:
        result.external = True
        result.user_name = _str_or_none(data.get("user_name"))
    body = data.get("public_body")
    result.public_body, from_string = _person(body, "public_body", warnings)
    old_shape |= from_string
    if isinstance(body, dict):
        result.public_body_short_name = _str_or_none(body.get("short_name")) or None
        result.public_body_home_page = _str_or_none(body.get("home_page")) or None
        if "tags" in body:
            result.public_body_tags = _tags(body.get("tags"), "public_body.", warnings)
    if old_shape:
        result.shape = "2010"
    raw_events = data.get("info_request_events")
    if raw_events is not None:
        if not isinstance(raw_events, list):
            warnings.append(ParseWarning("json_shape", f"JSON info_request_events is a {type(raw_events).__name__}, not a list; ignored"))
        else:
            seen: set[int] = set()
            for raw in raw_events:
                event = _event(raw, warnings)
                if event is None:
                    continue
                if event.event_id in seen:
                    warnings.append(ParseWarning("duplicate", f"JSON event {event.event_id} listed twice; kept the first"))
                else:
                    seen.add(event.event_id)
                    result.events.append(event)
    return result
