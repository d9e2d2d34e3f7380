"""Property: mutated real pages never crash the parser and never invent messages.

Mutations work on element boundaries found in the raw bytes: drop a span of
markup, duplicate it, or cut the page short at a tag.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.pages.request import INTERNAL_ERROR_PREFIX, parse_request
from scraper.records import ParsedRequest, ParseFailure
from tests.conftest import require_reference

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"  # current/ and every era under eras/
_TAG = re.compile(rb"<(?:/?)(?:div|p|span|li|ul|a|time|h1|h2|br)\b")


@lru_cache(maxsize=1)
def _pages() -> tuple[tuple[bytes, tuple[int, ...]], ...]:
    files = sorted(require_reference().glob("*.html")) + sorted(FIXTURES.rglob("*.html"))
    out = []
    for f in files:
        data = f.read_bytes()
        out.append((data, tuple(m.start() for m in _TAG.finditer(data))))
    return tuple(out)


mutation = st.tuples(st.sampled_from(["drop", "dup", "cut", "swap"]), st.integers(0, 10**6), st.integers(1, 40))


def _mutate(data: bytes, tags: tuple[int, ...], ops) -> bytes:
    for op, at, span in ops:
        if not tags:
            break
        i = at % len(tags)
        j = min(i + span, len(tags) - 1)
        a, b = tags[i], tags[j]
        if a >= len(data) or b > len(data):
            continue
        if op == "drop":
            data = data[:a] + data[b:]
        elif op == "dup":
            data = data[:b] + data[a:b] + data[b:]
        elif op == "cut":
            data = data[:a]
        else:  # swap two neighbouring chunks
            k = min(j + span, len(tags) - 1)
            c = tags[k]
            if c <= len(data):
                data = data[:a] + data[b:c] + data[a:b] + data[c:]
        tags = tuple(m.start() for m in _TAG.finditer(data))
    return data


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.integers(0, 10**6), ops=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_pages_never_crash_or_invent_messages(page, ops):
    pages = _pages()
    data, tags = pages[page % len(pages)]
    mutated = _mutate(data, tags, ops)
    result = parse_request(mutated)
    assert isinstance(result, (ParsedRequest, ParseFailure))
    if isinstance(result, ParseFailure):
        assert INTERNAL_ERROR_PREFIX not in result.message, result.message
        assert result.kind in {"empty", "encoding", "truncated", "challenge", "error_page", "not_request", "markup_changed"}
        return
    keys = [(m.direction, m.message_id) for m in result.messages]
    assert len(keys) == len(set(keys))
    for direction, number in keys:
        assert f'id="{direction}-{number}"'.encode() in mutated
    for m in result.messages:
        for a in m.attachments:  # a part is only ever read from an /attach/<part>/ link
            if a.part is not None:
                assert f"/attach/{a.part}/".encode() in mutated or f"/attach/html/{a.part}/".encode() in mutated
            else:
                assert a.erased or a.hidden
    comments = [a.comment_id for a in result.annotations]
    assert len(comments) == len(set(comments))
    for number in comments:
        assert f'id="comment-{number}"'.encode() in mutated
    positions = sorted([m.position for m in result.messages] + [a.position for a in result.annotations])
    assert positions == list(range(len(positions)))


def test_unmutated_pages_parse():
    for data, _tags in _pages():
        assert isinstance(parse_request(data), ParsedRequest)
