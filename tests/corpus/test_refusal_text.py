"""Text preparation: PDF furniture, hyphenated line ends and soft wraps."""

from __future__ import annotations

from corpus.derive.refusal_text import clause_cuts, prepare, sentence_spans


def test_page_markers_and_repeated_headers_go():
    text = "ACME COUNCIL   Ref 9\nFirst page text.\nPage 1 of 2\nACME COUNCIL   Ref 9\nSecond page text.\n- 2 -\n3 | Page"
    assert prepare(text) == "ACME COUNCIL Ref 9\nFirst page text.\nSecond page text."


def test_a_page_break_inside_a_sentence_does_not_end_it():
    text = "Disclosure would be likely to prejudice\nRef 12/88        Page 1 of 2\nthe commercial interests of the firm."
    assert prepare(text) == "Disclosure would be likely to prejudice the commercial interests of the firm."


def test_hyphenated_words_are_joined_and_soft_wraps_become_spaces():
    text = ("The council is withholding the report under the exemp-\ntion for information intended for\n"
            "publication, which is section\n22 of the Act.\n\nA new paragraph.")
    assert prepare(text) == ("The council is withholding the report under the exemption for information intended for "
                             "publication, which is section 22 of the Act.\n\nA new paragraph.")


def test_headings_lists_and_quoted_lines_keep_their_breaks():
    text = "Section 31 - Law enforcement\nSection 38 - Health and safety\n> quoted line one\n> quoted line two\n- item"
    out = prepare(text)
    assert out.split("\n") == ["Section 31 - Law enforcement", "Section 38 - Health and safety",
                               "> quoted line one quoted line two", "- item"]


def test_sentences_and_clauses():
    text = "We withhold the names under s.40(2). However, the rest is attached; section 43 does not apply."
    spans = sentence_spans(text)
    assert [text[a:b].strip() for a, b in spans] == ["We withhold the names under s.40(2).",
                                                      "However, the rest is attached; section 43 does not apply."]
    cuts = clause_cuts(text, spans[1])
    assert text[cuts[-2]:cuts[-1]].strip() == "section 43 does not apply."
