"""``/request/<slug>.json`` in the shapes older sites served.

* ``2010``: until October 2010 the request controller built the JSON itself:
  ``user`` and ``public_body`` are url_name strings, events carry no
  ``display_status``, and times are Rails 2's ``2010/10/04 11:11:57 +0000``;
* ``2012``: ``json_for_api`` (objects for ``user`` and ``public_body``), still
  with Rails 2 times, as WhatDoTheyKnow served until its move to Rails 3 (2013).
"""

from __future__ import annotations

import json
from datetime import datetime

from corpus.sample_site.data import LONDON, FakeRequest, SiteCorpus
from corpus.sample_site.render import request_json, to_json

_TIME_KEYS = ("created_at", "updated_at", "last_described_at")


def rails2_time(text: str | None) -> str | None:
    if text is None:
        return None
    when = datetime.fromisoformat(text).astimezone(LONDON)
    return when.strftime("%Y/%m/%d %H:%M:%S %z")


def _retime(obj: dict) -> None:
    for key in _TIME_KEYS:
        if key in obj:
            obj[key] = rails2_time(obj[key])


def json_2012(corpus: SiteCorpus, req: FakeRequest) -> bytes:
    data = json.loads(request_json(corpus, req))
    _retime(data)
    _retime(data["public_body"])
    for ev in data["info_request_events"]:
        _retime(ev)
    return to_json(data)


def json_2010(corpus: SiteCorpus, req: FakeRequest) -> bytes:
    data = json.loads(json_2012(corpus, req))
    out = {
        "id": data["id"],
        "url_title": data["url_title"],
        "title": data["title"],
        "user": data["user"]["url_name"],
        "public_body": data["public_body"]["url_name"],
        "created_at": data["created_at"],
        "updated_at": data["updated_at"],
        "described_state": data["described_state"],
        "awaiting_description": data["awaiting_description"],
        "prominence": data["prominence"],
        "law_used": data["law_used"],
        "tags": data["tags"],
        "info_request_events": [{k: v for k, v in ev.items() if k != "display_status"} for ev in data["info_request_events"]],
    }
    return to_json(out)
