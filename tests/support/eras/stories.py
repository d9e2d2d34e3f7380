"""The threads the era fixtures show: one data model, rendered in every era.

``council_tax_story(year)`` is a complete thread (initial request, an
acknowledgement from a named officer, the request resent to a new address,
a response with two attachments and a folded quote, an annotation, a
requester-only response, an internal review request and its answer with an
attachment), dated in ``year``.  ``water_story(year)`` is a short
Environmental Information Regulations request from an external requester,
still unanswered and overdue, so its status sentence carries a due date.
The words are made up for these fixtures.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from corpus.sample_site.data import (
    LONDON,
    FakeAnnotation,
    FakeAttachment,
    FakeAuthority,
    FakeMessage,
    FakeRequest,
    FakeUser,
    SiteCorpus,
)


def _at(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=LONDON)


def council_tax_story(year: int = 2012, *, ids: int = 0) -> tuple[SiteCorpus, FakeRequest]:
    """A finished thread (partially successful after an internal review); ``ids`` shifts every id."""
    body = FakeAuthority(id=2291, url_name="northbridge_city_council", name="Northbridge City Council",
                         tags=["local_council", "unitary"])
    user = FakeUser(id=48102 + ids, url_name="ellen_marsh", name="Ellen Marsh")
    annotator = FakeUser(id=51733 + ids, url_name="tom_reeve_2", name="Tom Reeve")
    o1, i1, i2, i3, i4, o2 = (110011 + ids, 260311 + ids, 262845 + ids, 270001 + ids, 271555 + ids, 114502 + ids)
    e = 500100 + ids
    messages = [
        FakeMessage(o1, "outgoing", e + 1, "sent", "Ellen Marsh", _at(year, 3, 5, 9, 14, 22),
                    ["Dear Northbridge City Council,",
                     "Please send me the number of care leavers given a council tax exemption in each of the last three years.",
                     "Yours faithfully,\nEllen Marsh"]),
        FakeMessage(i1, "incoming", e + 2, "response", "Freedom of Information Team", _at(year, 3, 6, 10, 2, 51),
                    ["Dear Ms Marsh,", "Thank you for your request, which we received on 5 March.",
                     "We will reply within 20 working days.", "FOI Team"],
                    calculated_state="waiting_response", received_at=_at(year, 3, 6, 10, 3, 30)),
        FakeMessage(o1, "outgoing", e + 3, "resent", "Ellen Marsh", _at(year, 3, 7, 8, 0, 5), []),
        FakeMessage(i2, "incoming", e + 4, "response", "Priya Shah", _at(year, 3, 29, 16, 45, 10),
                    ["Dear Ms Marsh,",
                     "Please find attached our response & the figures (2009–2011).",
                     "Figures below five are withheld under section 40(2).",
                     "Yours sincerely,\nPriya Shah\nInformation Governance"],
                    quoted=["-----Original Message-----", "From: Ellen Marsh", "Please send me the number of care leavers."],
                    attachments=[
                        FakeAttachment(2, "Response FOI 4471.pdf", "application/pdf", "88K"),
                        FakeAttachment(3, "Exemptions 2009-11.xls", "application/vnd.ms-excel", "23K"),
                    ],
                    calculated_state="partially_successful", received_at=_at(year, 3, 29, 16, 46, 2)),
        FakeMessage(i3, "incoming", e + 6, "response", "Priya Shah", _at(year, 4, 20, 11, 30, 0),
                    ["Dear Ms Marsh,", "A correction to one figure, with the named officer's details."],
                    prominence="requester_only", calculated_state="partially_successful",
                    received_at=_at(year, 4, 20, 11, 31, 0)),
        FakeMessage(o2, "outgoing", e + 7, "followup_sent", "Ellen Marsh", _at(year, 4, 23, 19, 5, 41),
                    ["Dear Northbridge City Council,",
                     "Please pass this on to the person who conducts Freedom of Information reviews.",
                     "I ask for an internal review of the use of section 40(2) for small numbers."],
                    calculated_state="internal_review"),
        FakeMessage(i4, "incoming", e + 8, "response", "Northbridge City Council", _at(year, 5, 18, 14, 20, 0),
                    ["Dear Ms Marsh,", "The review upholds the original decision; the reasons are attached."],
                    attachments=[FakeAttachment(2, "IR outcome.pdf", "application/pdf", "41K")],
                    calculated_state="partially_successful", received_at=_at(year, 5, 18, 14, 21, 9)),
    ]
    notes = [FakeAnnotation(19876 + ids, e + 5, "tom_reeve_2", "Tom Reeve", _at(year, 3, 30, 21, 12, 3),
                            ["Worth asking for the totals without the breakdown: see https://ico.org.uk/for-the-public/ for how."])]
    req = FakeRequest(
        id=105337 + ids,
        url_title="council_tax_exemptions_for_car",
        title="Council tax exemptions for care leavers",
        authority_url_name=body.url_name,
        user_url_name=user.url_name,
        external_name=None,
        law="foi",
        described_state="partially_successful",
        created_at=_at(year, 3, 5, 9, 14, 20),
        updated_at=_at(year, 5, 18, 14, 21, 9),
        messages=messages,
        annotations=notes,
        tags=[],
    )
    corpus = SiteCorpus(authorities={body.url_name: body}, users={user.url_name: user, annotator.url_name: annotator},
                        requests=[req], today=date(year, 6, 1))
    return corpus, req


def water_story(year: int = 2012) -> tuple[SiteCorpus, FakeRequest]:
    """An overdue EIR request from an external requester (no site account)."""
    body = FakeAuthority(id=3310, url_name="westmere_water_services", name="Westmere Water Services Ltd",
                         tags=["water_company"])
    o1, i1 = 121907, 288410
    e = 610000
    sent = _at(year, 10, 1, 13, 0, 0)
    messages = [
        FakeMessage(o1, "outgoing", e + 1, "sent", "Riverside Residents", sent,
                    ["Dear Westmere Water Services Ltd,",
                     "Under the Environmental Information Regulations please send the storm overflow spill logs for 2011."]),
        FakeMessage(i1, "incoming", e + 2, "response", "Customer Relations", _at(year, 10, 2, 8, 15, 0),
                    ["Thank you for contacting us. Your reference is CR-55012."],
                    calculated_state="waiting_response", received_at=_at(year, 10, 2, 8, 16, 0)),
    ]
    req = FakeRequest(
        id=123456, url_title="storm_overflow_spill_logs", title="Storm overflow spill logs",
        authority_url_name=body.url_name, user_url_name=None, external_name="Riverside Residents", law="eir",
        described_state="waiting_response", created_at=sent - timedelta(seconds=2), updated_at=_at(year, 10, 2, 8, 16, 0),
        messages=messages,
    )
    # Today: past the 20-working-day due date, before the 40-day one.
    corpus = SiteCorpus(authorities={body.url_name: body}, users={}, requests=[req],
                        today=req.due_date(body) + timedelta(days=3))
    return corpus, req
