"""Each cited ground gets a role: one small letter per rule, in words not used in the labelled sets."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from corpus.derive.refusals import COUNTED_ROLES, ROLES, extract_citations


def roles(text: str, regime: str = "FOIA", requests: Sequence[str] = ()) -> dict[str, set[str]]:
    """{provision: {roles}} of every row the extractor gives."""
    out: dict[str, set[str]] = {}
    for c in extract_citations(text, regime, request_texts=requests):
        assert c.role in ROLES
        out.setdefault(c.provision, set()).add(c.role)
    return out


def relied(text, regime="FOIA", requests=()):
    return sorted({c.provision for c in extract_citations(text, regime, request_texts=requests) if c.role in COUNTED_ROLES})


def test_a_plain_refusal_relies_on_its_ground():
    assert roles("The tender scores are withheld under section 43(2) of the Act.") == {"s43(2)": {"relied_on"}}


@pytest.mark.parametrize(
    "text",
    [
        "Many thanks for your email. We shall tell you if any exemptions apply, or if we do not hold what you want.",
        "Your request is logged as R/1181 and will be answered within twenty working days. Should the information not be held, you will be told.",
        "Please note that this reply should not be read as an indication that the information is or is not held.",
    ],
)
def test_acknowledgement_hedges_are_kept_as_boilerplate_and_not_counted(text):
    found = roles(text)
    assert found, "the hedge is kept as a row, so analysts can see it"
    assert all(r == {"boilerplate"} for r in found.values())
    assert relied(text) == []


def test_request_quoted_back_is_not_a_citation():
    request = "Please send the rota. If you hold back anything under section 38 or section 24, tell me which part."
    letter = (
        "Dear Ms Vale\n\nYou asked: \"Please send the rota. If you hold back anything under section 38 or section 24, "
        "tell me which part.\"\n\nThe rota is attached. Staff surnames are removed under section 40(2)."
    )
    assert roles(letter, requests=[request]) == {"s38": {"quoted_request"}, "s24": {"quoted_request"}, "s40(2)": {"relied_on"}}


def test_request_repeated_without_any_marker_is_found_by_its_words():
    request = "How many fixed penalty notices for littering were issued in 2022? I am not asking for names, so section 40 need not come into it."
    letter = (
        "How many fixed penalty notices for littering were issued in 2022? I am not asking for names, so section 40 need "
        "not come into it.\n\n1,204 notices were issued."
    )
    assert roles(letter, requests=[request]) == {"s40": {"quoted_request"}}
    # the same letter, with no request to compare with, would seem to rely on s40
    assert relied(letter) == ["s40"]


def test_gt_quoted_lines_are_the_request():
    letter = "> please do not use section 12 to avoid this\n> question\n\nThe answer is 14."
    assert roles(letter) == {"s12": {"quoted_request"}}


@pytest.mark.parametrize(
    "text",
    [
        "The Board has not applied section 31 to any part of this reply.",
        "We have decided not to rely on section 14, and the documents follow.",
        "Section 12 (the cost limit) does not apply to requests for environmental information.",
        "Neither section 41 nor section 43 applies to the expired lease.",
        "We do not think that section 22 applies, as no publication date has been set.",
    ],
)
def test_negated_grounds_are_not_relied_on(text):
    found = roles(text)
    assert found and all(r == {"not_relied_on"} for r in found.values()), found


def test_refusing_is_not_negation():
    # "not obliged", "will not be disclosed" refuse; they do not negate the ground
    assert relied("Under section 12 of the Act the Trust is not obliged to comply with your request.") == ["s12"]
    assert relied("The names will not be disclosed, as section 40(2) applies.") == ["s40(2)"]


def test_ncnd_by_virtue_of_an_exemption_relies_on_it():
    text = "The force will neither confirm nor deny that it holds this, as the duty in section 1(1)(a) does not arise by virtue of section 30(3)."
    assert relied(text) == ["ncnd", "s30(3)"]


@pytest.mark.parametrize(
    "text, provision",
    [
        ("We are weighing whether section 36(2)(c) is engaged and will write again by 9 May.", "s36(2)(c)"),
        ("We need more time to consider the public interest in relation to section 27.", "s27"),
        ("Parts of the survey may be exempt under section 43, and we are asking the contractor for its view.", "s43"),
        ("So that we can answer within the appropriate limit, could you choose one school year?", "s12"),
    ],
)
def test_grounds_still_being_decided_are_under_consideration(text, provision):
    assert roles(text) == {provision: {"considering"}}


def test_history_described_in_a_later_letter():
    text = (
        "In our reply of 12 April the college withheld the names under section 40(2). "
        "Since then the staff have agreed to be named, and the list is attached."
    )
    assert roles(text) == {"s40(2)": {"earlier_decision"}}


def test_review_upholds_one_ground_and_overturns_another():
    requests = ["Please send the audit.", "I want an internal review of your refusal."]
    text = (
        "Internal review\n\nThe first response withheld the audit under sections 33(2) and 42. "
        "I am satisfied that section 33(2) was correctly applied. Section 42 should not have been applied, "
        "as no legal advice is in the audit, but the audit stays withheld under section 33(2)."
    )
    found = roles(text, requests=requests)
    assert "upheld" in found["s33(2)"]
    assert "overturned" in found["s42"]
    assert relied(text, requests=requests) == ["s33(2)"]


def test_review_that_upholds_as_a_whole_decides_the_grounds_it_describes():
    requests = ["Please send the report.", "Please carry out an internal review."]
    text = "I have reviewed the response, which withheld the report under section 36(2)(b). The original decision is upheld."
    assert roles(text, requests=requests) == {"s36(2)(b)": {"upheld"}}


@pytest.mark.parametrize(
    "text, provision",
    [
        ("Members of the partnership have duties under section 11 (Children Act 2004).", "s11"),
        ("Relief was granted under section 43 of the Local Government Finance Act 1988.", "s43"),
        ("Officers searched 40 people under s.23 Misuse of Drugs Act 1971.", "s23"),
        ("We received 300 section 21 notices last year.", "s21"),
    ],
)
def test_another_law_is_other_law(text, provision):
    found = extract_citations(text)
    assert [(c.provision, c.role) for c in found] == [(provision, "other_law")]
    assert found[0].cue  # says which law or document


def test_lists_give_every_section():
    assert relied("Withheld under Section 31(1)(a) and (b), and under sections 40(2) and (3A)(a).") == ["s31(1)(a)", "s40(2)"]
    # 12(3) is the gateway to regulation 13: one row, for the exception itself
    assert relied("Names are withheld under regulations 12(3) and 13 of the EIR.", "EIR") == ["reg13"]


def test_pdf_text_with_broken_words_and_page_furniture():
    text = (
        "Dear Mr Ash\nThe report is withheld under sec-\ntion 30(1)(b) of the Act, as the investi-\n"
        "gation is still open.\n\nRef FOI/9                                   Page 1 of 2\n\n"
        "Ref FOI/9                                   Page 2 of 2"
    )
    found = extract_citations(text)
    assert [(c.provision, c.role) for c in found] == [("s30(1)(b)", "relied_on")]
    assert "investigation is still open" in found[0].sentence


def test_not_held_centrally_is_not_a_not_held_claim():
    text = "We do not hold these figures centrally, and reading each file would take well over 18 hours, so section 12 applies."
    assert relied(text) == ["s12"]


def test_one_row_per_ground_and_role():
    text = (
        "You asked about section 43. The prices are withheld under section 43(2). "
        "The names are withheld under section 40(2); section 43 also covers the rates."
    )
    rows = [(c.provision, c.role) for c in extract_citations(text)]
    assert rows.count(("s43(2)", "relied_on")) == 1
    assert ("s43", "quoted_request") in rows


# ----------------------------------------------------------------------------- forms added for letters from other writers
@pytest.mark.parametrize(
    "text",
    [
        "Please write to the Records Office, Mill House, Worksop S81 0PQ, or to our depot at Dronfield S18 1UN.",
        "Our ref: FOI/S12/2024-07. The figures you asked for are attached.",
        "Section 14 - Bus shelters repaired: 212\nSection 31 - Bus shelters replaced: 9",
    ],
)
def test_postcodes_reference_codes_and_figure_headings_are_not_citations(text):
    assert relied(text) == []


def test_a_span_of_sections_is_boilerplate_and_bracketed_names_keep_a_list_going():
    found = roles("Part II of the Act (sections 21 to 44) lists the exemptions that can apply to any request.")
    assert found == {"s21": {"boilerplate"}, "s44": {"boilerplate"}}
    assert relied("Withheld under sections 24 (national security), 26 (defence) and 27 (international relations).") == [
        "s24", "s26", "s27"]


def test_sibling_subsections_are_separate_exceptions():
    assert relied("The plans are excepted under regulations 12(5)(a), (c) and (g).", "EIR") == [
        "reg12(5)(a)", "reg12(5)(c)", "reg12(5)(g)"]


@pytest.mark.parametrize(
    "text",
    [
        "Searches of the archive found no trace of any such survey.",
        "The Board holds no recorded information about the meeting.",
        "Flight times: not recorded.",
        "Info not held - the vessel is owned by the harbour trust.",
        "We simply do not keep a register of licence refusals.",
    ],
)
def test_more_ways_of_saying_not_held(text):
    assert relied(text) == ["s1(1)(a)"]


def test_a_breakdown_that_is_not_recorded_is_not_a_not_held_claim():
    assert relied("Callers are not recorded by postcode, so each of the 9,000 logs would need reading; section 12 applies.") == ["s12"]


@pytest.mark.parametrize(
    "text, provision",
    [
        ("Although we could have refused this under section 12, the answers are attached.", "s12"),
        ("Section 31(1)(b) was looked at but not relied upon, since the figures are already public.", "s31(1)(b)"),
        ("This is not a refusal under section 14, although the subject has come up before.", "s14"),
        ("The grant has now been paid, and we no longer consider that section 43 applies to the letters.", "s43"),
    ],
)
def test_counterfactual_elliptical_and_withdrawn_grounds_are_not_relied_on(text, provision):
    assert roles(text) == {provision: {"not_relied_on"}}


def test_we_have_not_applied_it_takes_back_the_ground_named_just_before():
    text = (
        "Section 22 covers information meant for publication at a later date. No date has been fixed here, "
        "so we have not applied it.\n\nThe drafts are attached."
    )
    assert relied(text) == []
    assert roles(text) == {"s22": {"not_relied_on"}}


def test_not_a_negation_when_not_belongs_to_a_relative_clause():
    assert relied("The rotas of wards that are not staffed at night are withheld under section 38(1)(a).") == ["s38(1)(a)"]


def test_a_headed_paragraph_is_read_whole_in_a_review():
    requests = ["Please send the valuations.", "I ask for an internal review."]
    text = (
        "Internal review\n\nSection 43(2): the sale completed in June. I do not accept that the valuations "
        "could now harm anyone's commercial position, and they are enclosed.\n\n"
        "Section 40(2): the buyer's home address stays redacted, and I uphold the original decision on it."
    )
    found = roles(text, requests=requests)
    assert found["s43(2)"] == {"overturned"} and found["s40(2)"] == {"upheld"}


def test_a_ground_dropped_in_a_review_stays_dropped_when_mentioned_in_passing():
    requests = ["Please send the minutes.", "Please review your refusal."]
    text = (
        "Internal review\n\nOn review, section 36 is no longer maintained. No opinion was given by the qualified "
        "person, which section 36 requires. The minutes are attached."
    )
    assert relied(text, requests=requests) == []


def test_ncnd_letters_rely_on_the_hypothetical_grounds():
    text = (
        "The Service will neither confirm nor deny that it holds the information. If any were held, "
        "it could be exempt under section 31(1)(g)."
    )
    assert relied(text) == ["ncnd", "s31(1)(g)"]


def test_not_obliged_to_confirm_or_deny_is_ncnd_but_not_when_it_is_the_cost_of_confirming():
    assert relied("We are not obliged to confirm or deny holding it, by virtue of section 40(5B).") == ["ncnd", "s40(5B)"]
    assert relied("Finding out would exceed the appropriate limit, so section 12(2) means we need not confirm or deny "
                  "whether it is held, and we are not obliged to confirm or deny it.") == ["s12(2)"]


def test_reported_questions_and_relative_clauses():
    # "you want to know whether ... section 40": the question; "the plans you asked for": the object
    assert roles("We understand you want to know whether anything was withheld under section 40. Nothing was.") == {
        "s40": {"quoted_request"}}
    assert relied("The plans you have asked for engage section 24(1), and are withheld.") == ["s24(1)"]


def test_history_that_continues_and_history_a_review_undoes():
    assert relied("The Commissioner found that the Council was entitled to rely on section 42(1), and the advice remains withheld.") == [
        "s42(1)"]
    requests = ["Please send the survey.", "I request an internal review."]
    text = "Internal review\n\nI have decided to release the survey that was previously withheld under section 43(2)."
    assert roles(text, requests=requests) == {"s43(2)": {"overturned"}}


def test_welsh_section_words_and_law_names():
    assert relied("Mae'r wybodaeth wedi'i heithrio o dan adran 43(2) o Ddeddf Rhyddid Gwybodaeth 2000.") == ["s43(2)"]
    assert relied("Gwrthodwyd y cais o dan reoliad 12(4)(b) o Reoliadau Gwybodaeth Amgylcheddol 2004.", "EIR") == [
        "reg12(4)(b)"]
