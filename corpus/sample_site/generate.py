"""Deterministic synthetic corpora for scale tests and benchmarks.

``generate_corpus(n)`` describes ``n`` requests in the same shape as the TOML
sample and hands the description to ``sample.build_corpus``, so ids, events
and due dates follow the same rules.  The same arguments always give the same
corpus.  One "big" authority takes ``big_authority_share`` of the requests so
that listings beyond 500 results (and date slicing) can be exercised.
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, time, timedelta

from corpus.errors import UsageError
from corpus.sample_site.data import LONDON, SiteCorpus
from corpus.sample_site.sample import build_corpus

_PLACES = ["Ashford", "Barnley", "Carrow", "Dunmore", "Eastwick", "Fenby", "Garston", "Holt", "Ilkley", "Jarrow",
           "Kelso", "Lydd", "Marlow", "Nairn", "Oakham", "Penrith", "Quorn", "Ripon", "Selby", "Thirsk"]
_KINDS = [("City Council", ["local_council", "england"]), ("County Council", ["local_council", "county_council", "england"]),
          ("Council", ["local_council", "scotland"]), ("County Borough Council", ["local_council", "wales"]),
          ("Academy Trust", ["school", "academy_trust", "england"]), ("NHS Trust", ["nhs_trust", "england"]),
          ("Police", ["police", "england"])]
_TOPICS = ["serious case reviews", "looked-after children placements", "social worker caseloads", "care leavers",
           "foster carer allowances", "adoption timescales", "child protection plans", "agency staff spending",
           "pothole repairs", "parking fines", "school exclusions", "library closures", "air quality monitoring",
           "housing repairs", "council tax arrears", "youth centre funding", "special guardianship orders",
           "residential care fees", "missing children episodes", "short breaks for disabled children"]
_FIRST = ["Sam", "Jo", "Alex", "Priya", "Tom", "Rachel", "Martin", "Chloë", "Ffion", "Amir", "Grace", "Owen", "Siân", "Li", "Nadia"]
_LAST = ["Patel", "Clarke", "Morgan", "Shah", "O'Neill", "Green", "Hughes", "Davies", "Khan", "Evans", "Murray", "Chen"]
_REFUSALS = [
    "Section 12(1) of the Freedom of Information Act 2000 applies: complying would exceed the appropriate limit of £450.",
    "We consider the request vexatious under section 14(1) of the Act.",
    "The information is personal data and exempt under section 40(2).",
    "Disclosure would prejudice commercial interests, so section 43(2) applies.",
    "The information is reasonably accessible on our website and exempt under section 21.",
    "The information is intended for future publication and exempt under section 22.",
    "Disclosure would prejudice the prevention of crime: section 31(1)(a) applies.",
    "Regulation 12(4)(b) of the Environmental Information Regulations applies: the request is manifestly unreasonable.",
    "Section 38(1)(b) of the Freedom of Information (Scotland) Act 2002 applies.",
]
_WEIGHTS = {
    "successful": 22, "partially_successful": 12, "rejected": 14, "not_held": 9, "waiting_response": 14,
    "waiting_clarification": 3, "gone_postal": 1, "internal_review": 4, "error_message": 2, "requires_admin": 1,
    "user_withdrawn": 3, "attention_requested": 1, "vexatious": 1, "not_foi": 1,
}


_NON_SLUG = re.compile(r"[^a-z0-9]+")


def _slugify(text: str) -> str:
    return _NON_SLUG.sub("_", text.lower()).strip("_")[:32].rstrip("_") or "request"


def _local(dt: datetime) -> datetime:
    return dt.replace(tzinfo=LONDON)


def generate_corpus(
    n_requests: int,
    *,
    seed: int = 0,
    n_authorities: int = 20,
    messages_per_request: tuple[int, int] = (1, 8),
    start: date = date(2015, 1, 1),
    end: date | None = None,
    big_authority_share: float = 0.25,
    n_users: int | None = None,
    today: date | None = None,
) -> SiteCorpus:
    """A synthetic corpus of ``n_requests`` requests, identical for identical arguments.

    ``big_authority_share`` of the requests go to the first authority
    (``big_authority_url_name(seed)``); the rest are spread evenly.
    Requests are created between ``start`` and ``end``; ``today`` (default
    ``end`` + 30 days) decides what is overdue.
    """
    if n_requests < 0:
        raise UsageError(f"n_requests must be 0 or more, not {n_requests}; pass the number of requests to generate")
    lo, hi = messages_per_request
    if lo < 1 or hi < lo:
        raise UsageError(f"messages_per_request {messages_per_request} is not a range; use (min, max) with 1 <= min <= max")
    if n_authorities < 1:
        raise UsageError("n_authorities must be at least 1; pass how many authorities to create")
    end = end or date(2025, 6, 30)
    today = today or end + timedelta(days=30)
    rng = random.Random(seed)

    authorities = []
    for i in range(n_authorities):
        place = _PLACES[i % len(_PLACES)] + ("" if i < len(_PLACES) else f" {i // len(_PLACES) + 1}")
        kind, tags = _KINDS[i % len(_KINDS)]
        name = f"{place} {kind}"
        authorities.append({"url_name": _slugify(name), "name": name, "tags": list(tags),
                            "home_page": f"https://www.{_slugify(place)}.example.org", "id": 3001 + i})
    if n_users is None:
        n_users = max(5, n_requests // 15)
    users = []
    for i in range(n_users):
        name = f"{_FIRST[i % len(_FIRST)]} {_LAST[(i // len(_FIRST)) % len(_LAST)]}"
        suffix = i // (len(_FIRST) * len(_LAST))
        slug = _slugify(name) + (f"_{suffix + 1}" if suffix else "")
        users.append({"url_name": slug, "name": name, "id": 900001 + i})

    span_seconds = int((datetime.combine(end, time()) - datetime.combine(start, time())).total_seconds())
    created = sorted(rng.randrange(max(span_seconds, 1)) for _ in range(n_requests))
    states = list(_WEIGHTS)
    weights = [_WEIGHTS[s] for s in states]
    seen_slugs: dict[str, int] = {}
    used_slugs: set[str] = set()
    requests = []
    base = datetime.combine(start, time())
    for i, offset in enumerate(created):
        when = base + timedelta(seconds=offset)
        if rng.random() < big_authority_share:
            auth = authorities[0]
        else:
            auth = authorities[1 + rng.randrange(len(authorities) - 1)] if len(authorities) > 1 else authorities[0]
        topic = rng.choice(_TOPICS)
        year = when.year - rng.randrange(3)
        title = f"{topic.capitalize()} {year}" + (f" ({rng.choice(_PLACES)})" if rng.random() < 0.5 else "")
        stem = _slugify(title)
        slug = stem
        while slug in used_slugs:
            seen_slugs[stem] = seen_slugs.get(stem, 1) + 1
            slug = f"{stem}_{seen_slugs[stem]}"
        used_slugs.add(slug)
        external = rng.random() < 0.03
        user = None if external else users[rng.randrange(len(users))]
        requester = user["name"] if user else "A journalist"
        state = rng.choices(states, weights)[0]
        n_msgs = rng.randint(lo, hi)
        msgs = [{"dir": "out", "at": _local(when),
                 "paragraphs": [f"Dear {auth['name']},", f"Please provide information about {topic} for {year}, broken down by month.",
                                "Yours faithfully,", requester]}]
        t = when
        for k in range(1, n_msgs):
            t = t + timedelta(days=rng.randint(1, 25), seconds=rng.randrange(36000))
            if k % 2 == 1:
                last = k == n_msgs - 1
                if last and state in ("rejected", "partially_successful"):
                    body = [f"Dear {requester},", rng.choice(_REFUSALS), "Information Governance"]
                elif k == 1 and n_msgs > 2:
                    body = ["Thank you for your request. We will respond within 20 working days."]
                else:
                    body = [f"Dear {requester},", f"The figures for {topic} are {rng.randrange(1, 5000)} in total.", "Information Governance"]
                msg = {"dir": "in", "at": _local(t), "paragraphs": body}
                if rng.random() < 0.3:
                    msg["attachment"] = [{"file": f"FOI {year}-{i}.pdf", "size": f"{rng.randrange(10, 900)}K"}]
                msgs.append(msg)
            else:
                msgs.append({"dir": "out", "at": _local(t),
                             "paragraphs": [f"Dear {auth['name']},", f"Thank you. Could you also give the figures for {year - 1}?",
                                            "Yours faithfully,", requester]})
        has_response = any(m["dir"] == "in" for m in msgs)
        awaiting = has_response and state == "waiting_response" and rng.random() < 0.4
        if state != "waiting_response" and not has_response and state not in ("user_withdrawn", "error_message", "attention_requested", "vexatious", "not_foi"):
            state = "waiting_response"
        req = {"slug": slug, "title": title, "authority": auth["url_name"], "state": state,
               "awaiting": awaiting, "message": msgs}
        if user:
            req["user"] = user["url_name"]
        else:
            req["external"] = "Exampleshire Gazette" if rng.random() < 0.5 else None
            if req["external"] is None:
                del req["external"]
        if rng.random() < 0.05 and has_response:
            commenter = users[rng.randrange(len(users))]
            req["annotation"] = [{"user": commenter["url_name"], "at": _local(t + timedelta(hours=5)),
                                  "paragraphs": ["See also https://www.example.org/statistics for national figures."]}]
        if rng.random() < 0.01:
            req["prominence"] = "hidden"
        requests.append(req)
    raw = {"today": today, "authority": authorities, "user": users, "request": requests}
    return build_corpus(raw)


def big_authority_url_name(n_authorities: int = 20) -> str:
    """The url_name of the authority that takes ``big_authority_share`` of the requests."""
    return _slugify(f"{_PLACES[0]} {_KINDS[0][0]}")
