"""Invariants of the sample and generated corpora."""

from __future__ import annotations

from datetime import date

import pytest

from corpus.errors import CorpusError
from corpus.sample_site import generate_corpus, sample_corpus
from corpus.sample_site.data import CALCULATED_ONLY_STATES, DESCRIBED_STATES, add_working_days
from corpus.sample_site.sample import build_corpus


def _check_ids(corpus):
    request_ids = [r.id for r in corpus.requests]
    assert len(set(request_ids)) == len(request_ids)
    slugs = [r.url_title for r in corpus.requests]
    assert len(set(slugs)) == len(slugs)
    for direction in ("incoming", "outgoing"):
        ids = [m.id for r in corpus.requests for m in r.messages
               if m.direction == direction and m.event_type not in ("resent", "followup_resent")]
        assert len(set(ids)) == len(ids)
    comment_ids = [a.id for r in corpus.requests for a in r.annotations]
    assert len(set(comment_ids)) == len(comment_ids)
    events = [ev for r in corpus.requests for ev in r.events()]
    assert len({ev["id"] for ev in events}) == len(events)
    # ids grow with time, across the whole site
    ordered = sorted(events, key=lambda ev: ev["id"])
    assert [ev["created_at"] for ev in ordered] == sorted(ev["created_at"] for ev in ordered)
    for r in corpus.requests:
        parts = [a.part for m in r.messages for a in m.attachments]
        assert all(p >= 2 for p in parts)
        assert r.authority_url_name in corpus.authorities
        assert r.user_url_name is None or r.user_url_name in corpus.users


def test_sample_ids_unique_and_time_ordered():
    _check_ids(sample_corpus())


def test_sample_covers_every_state():
    c = sample_corpus()
    described = {r.described_state for r in c.requests}
    assert described == set(DESCRIBED_STATES)
    calculated = {r.calculated_status(c.today, c.authority_of(r)) for r in c.requests}
    assert set(CALCULATED_ONLY_STATES) <= calculated
    assert len(c.requests) >= 40


def test_sample_covers_the_awkward_cases():
    c = sample_corpus()
    assert {"scotland"} <= set(c.authorities["glenmore_council"].tags)
    assert any("academy_trust" in a.tags for a in c.authorities.values())
    assert {r.prominence for r in c.requests} == {"normal", "hidden", "requester_only", "backpage"}
    assert any(r.batch_id for r in c.requests)
    assert any(r.user_url_name is None and r.external_name for r in c.requests)
    assert any(r.user_url_name is None and r.external_name is None for r in c.requests)
    assert any(r.law == "eir" for r in c.requests)
    assert any(m.prominence == "hidden" for r in c.requests for m in r.messages)
    assert any(a.erased for r in c.requests for m in r.messages for a in m.attachments)
    texts = "\n".join(p for r in c.requests for m in r.messages for p in m.paragraphs)
    for phrase in ("Section 12(1)", "section 14(1)", "section 40(2)", "section 43(2)", "s21", "section 22",
                   "Section 31(1)", "regulation 12(4)(b)", "regulation 13", "section 38(1)(b)", "section 30(b)",
                   "section 47 of the Children Act 1989", "[Email has no body, please see attachments]", "<script>"):
        assert phrase in texts, phrase
    offsets = {m.sent_at.utcoffset().total_seconds() for r in c.requests for m in r.messages}
    assert offsets == {0.0, 3600.0}


def test_working_days_skip_weekends_and_any_uk_bank_holiday():
    # Thu 18 Apr 2019 + 1: Good Friday, Easter Monday (E&W, NI) skipped -> Tue 23 Apr
    assert add_working_days(date(2019, 4, 18), 1) == date(2019, 4, 23)
    # 2 January is a Scottish bank holiday, so it is skipped too
    assert add_working_days(date(2024, 12, 31), 1) == date(2025, 1, 3)
    # day zero on a Saturday: Monday is day 1
    assert add_working_days(date(2025, 11, 8), 1) == date(2025, 11, 10)


def test_events_json_rules():
    c = sample_corpus()
    req = c.by_slug("serious_case_review_child_t")
    evs = req.events()
    types = [e["event_type"] for e in evs]
    assert types == ["sent", "response", "followup_sent", "response", "status_update"]
    assert evs[2]["calculated_state"] == "internal_review" and evs[2]["display_status"] == "Internal review request"
    assert evs[3]["calculated_state"] == "rejected" and evs[3]["display_status"] == "Refused"
    assert "display_status" not in evs[4]
    overdue = c.by_slug("serious_case_review_publication").events()
    assert [e["event_type"] for e in overdue] == ["sent", "overdue", "very_overdue", "followup_sent"]


def test_generate_is_deterministic_and_sized():
    a = generate_corpus(300, seed=5)
    b = generate_corpus(300, seed=5)
    c = generate_corpus(300, seed=6)
    assert len(a.requests) == 300
    assert [(r.url_title, r.id, len(r.messages)) for r in a.requests] == [(r.url_title, r.id, len(r.messages)) for r in b.requests]
    assert [r.url_title for r in a.requests] != [r.url_title for r in c.requests]
    _check_ids(a)
    assert all(1 <= len(r.messages) <= 8 for r in a.requests)


def test_generate_big_authority_share():
    c = generate_corpus(800, seed=1, big_authority_share=0.8)
    from collections import Counter

    top, n = Counter(r.authority_url_name for r in c.requests).most_common(1)[0]
    assert n > 500


def test_generate_rejects_bad_arguments():
    with pytest.raises(CorpusError):
        generate_corpus(-1)
    with pytest.raises(CorpusError):
        generate_corpus(10, messages_per_request=(3, 2))


def test_bad_description_names_the_problem():
    raw = {"today": date(2025, 1, 1), "authority": [{"url_name": "a", "name": "A"}], "user": [],
           "request": [{"slug": "x", "title": "X", "authority": "b", "state": "successful", "message": []}]}
    with pytest.raises(CorpusError, match="unknown authority 'b'"):
        build_corpus(raw)
    raw["request"][0]["authority"] = "a"
    raw["request"][0]["state"] = "great"
    with pytest.raises(CorpusError, match="not a described state"):
        build_corpus(raw)


def test_resent_message_keeps_the_original_id():
    req = sample_corpus().by_slug("short_breaks_statement")
    sent, resent = [m for m in req.messages if m.direction == "outgoing"]
    assert resent.event_type == "resent" and resent.id == sent.id and resent.event_id != sent.event_id
    evs = [e for e in req.events() if e["outgoing_message_id"] == sent.id]
    assert [e["event_type"] for e in evs] == ["sent", "resent"]
