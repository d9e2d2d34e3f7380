import json
from pathlib import Path

import pytest

from corpus.derive.refusal_eval import load_letters
from corpus.derive.refusals import COUNTED_ROLES, extract_citations
from corpus.errors import CorpusError

DATA = Path(__file__).resolve().parent.parent / "data"
FORMS = DATA / "refusal_forms.jsonl"


def provisions(text, regime="FOIA"):
    """The grounds relied on, as (regime, provision)."""
    return [(c.regime, c.provision) for c in extract_citations(text, regime) if c.role in COUNTED_ROLES]


def test_one_line_forms_keep_their_grounds():
    """Numbering forms, other Acts and FOISA numbering, one line each: the grounds relied on are exactly the labelled ones."""
    rows = [json.loads(line) for line in FORMS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 50
    wrong = []
    for row in rows:
        found = sorted({f"{c.regime}:{c.provision}" for c in extract_citations(row["text"], row["regime"]) if c.role in COUNTED_ROLES})
        if found != sorted(row["expected"]):
            wrong.append((row["text"][:60], row["expected"], found))
    assert not wrong


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Refused under s.12 of the Act.", [("FOIA", "s12")]),
        ("We rely on section 12(1).", [("FOIA", "s12(1)")]),
        ("Section 40 (2) applies to the names.", [("FOIA", "s40(2)")]),
        ("Withheld under s40(2).", [("FOIA", "s40(2)")]),
        ("We apply regulation 12(4)(b).", [("EIR", "reg12(4)(b)")]),
        ("Names withheld under Reg. 13.", [("EIR", "reg13")]),
        ("This exceeds the appropriate limit.", [("FOIA", "s12")]),
        ("We neither confirm nor deny holding it.", [("FOIA", "ncnd")]),
        ("We do not hold this information.", [("FOIA", "s1(1)(a)")]),
        ("The request is manifestly unreasonable.", [("EIR", "reg12(4)(b)")]),
    ],
)
def test_forms_that_count(text, expected):
    assert provisions(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The child was seen under section 47 of the Children Act 1989.",
        "Support was given under section 17 of the Children Act.",
        "Your rights come from the Data Protection Act 2018 section 45.",
        "The board exists under section 11 of the Children Act 2004.",
        "See section 3 of the attached report.",
        "We served 12 section 21 notices.",
        "You may complain under section 50 of the Freedom of Information Act 2000.",
        "The Council's 12 schools replied.",
    ],
)
def test_other_acts_and_other_sections_do_not_count(text):
    assert provisions(text) == []


def test_foisa_numbering_is_not_foia_numbering():
    foisa = extract_citations("Section 38(1)(b) applies to the names.", "FOISA")
    assert [(c.regime, c.provision, c.ground) for c in foisa] == [("FOISA", "s38(1)(b)", "personal information")]
    foia = extract_citations("Section 38 applies.", "FOIA")
    assert [(c.regime, c.ground) for c in foia] == [("FOIA", "health and safety")]
    # an explicit Scottish Act wins over the request's law
    named = extract_citations("Section 30(b)(i) of the Freedom of Information (Scotland) Act 2002 applies.", "FOIA")
    assert [(c.regime, c.ground) for c in named] == [("FOISA", "prejudice to effective conduct of public affairs")]
    assert provisions("Section 17 of FOISA: we do not hold it.", "FOISA") == [("FOISA", "s17")]


def test_one_row_per_ground():
    cites = extract_citations(
        "Section 12 applies. Section 12(1) says we need not comply where the cost exceeds the appropriate limit. "
        "Names are withheld under section 40(2) by virtue of section 40(3A)(a).",
        "FOIA",
    )
    assert [(c.provision, c.cited_by) for c in cites] == [("s12(1)", "number"), ("s40(2)", "number")]


def test_lists_and_sentences():
    cites = extract_citations("Dear Sir. Parts are exempt under sections 40(2), 41 and 43(2) of FOIA. Regards.", "FOIA")
    assert [c.provision for c in cites] == ["s40(2)", "s41", "s43(2)"]
    assert cites[0].sentence == "Parts are exempt under sections 40(2), 41 and 43(2) of FOIA."
    assert cites[1].ground == "confidential information"
    assert cites[2].section == "43" and cites[2].subsection == "(2)"


def test_s21_with_link():
    cites = extract_citations(
        "This is exempt under section 21 as it is reasonably accessible: https://example.gov.uk/data.csv", "FOIA"
    )
    assert [(c.provision, c.ground, c.cited_by) for c in cites] == [("s21", "information accessible by other means", "number")]


def test_bad_regime():
    with pytest.raises(CorpusError):
        extract_citations("section 12", "XYZ")


def test_real_2019_not_held_reply(pages_2019):
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser((pages_2019 / "1404563.html").read_bytes())
    node = tree.css_first("#incoming-1404563 .correspondence_text")
    cites = extract_citations(node.text(separator=" "), "FOIA")
    assert [(c.provision, c.ground, c.cited_by) for c in cites] == [("s1(1)(a)", "not held", "phrase")]
    assert "because we do not have it" in cites[0].sentence


def test_sql_prefilter_keeps_every_message_the_extractor_finds_a_ground_in():
    import duckdb

    from corpus.derive.refusals import PREFILTER_RX

    con = duckdb.connect()
    texts = [json.loads(line)["text"] for line in FORMS.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += [x.text for name in ("test", "tune", "test_b", "tune_c") for x in load_letters(DATA / f"refusal_letters_{name}.toml")]
    checked = 0
    for text in texts:
        if extract_citations(text):
            checked += 1
            kept = con.execute(
                "SELECT regexp_matches(translate(?, '\u00a0\u2019', ' \'\''), ?)", [text, PREFILTER_RX]
            ).fetchall()[0][0]
            assert kept, text[:80]
    assert checked >= 150


def test_subsection_lists_before_the_law_name_keep_that_law():
    found = provisions(
        "The papers are exempt under section 30(b)(i) and (ii) of FOISA: disclosure would "
        "substantially inhibit the free and frank provision of advice.",
        "FOIA",
    )
    assert found == [("FOISA", "s30(b)(i)")]


def test_a_phrase_does_not_repeat_a_numbered_ground_under_another_law():
    found = provisions(
        "We refuse under section 12 of the Freedom of Information Act 2000 as it exceeds the appropriate limit.",
        "FOISA",
    )
    assert found == [("FOIA", "s12")]


def test_build_reads_new_texts_in_bounded_chunks_and_in_a_pool(tmp_path):
    """Many new texts: scanned chunk by chunk, in worker processes, same rows as one pass."""
    from datetime import date

    from corpus.db import connect
    from corpus.derive import rebuild
    from corpus.derive.refusals import build_refusal_citations

    con = connect(tmp_path / "many.duckdb")
    con.execute(
        "INSERT INTO requests (site, request_key, url_title, authority_url_name) "
        "SELECT 'https://www.whatdotheyknow.com', 'id:' || i, 't' || i, 'council' FROM range(4500) r(i)"
    )
    con.execute(
        "INSERT INTO messages (site, request_key, message_id, direction, sent_at, body) "
        "SELECT 'https://www.whatdotheyknow.com', 'id:' || i, i, 'incoming', TIMESTAMPTZ '2024-05-01 10:00:00+00', "
        "CASE WHEN i % 3 = 0 THEN 'We refuse under section 12 as it exceeds the appropriate limit.' "
        "ELSE 'The information is exempt under section 40(2) of the Act.' END FROM range(4500) r(i)"
    )
    rebuild(con, today=date(2025, 1, 6))  # one pass, pool (4,500 texts >= 4,000)
    pooled = con.execute("SELECT * FROM refusal_citations ORDER BY ALL").fetchall()
    con.execute("DELETE FROM refusal_scan_cache")
    build_refusal_citations(con, batch_size=700, workers=1)  # many small chunks, no pool
    assert con.execute("SELECT * FROM refusal_citations ORDER BY ALL").fetchall() == pooled
    assert len(pooled) == 4500
    assert con.execute("SELECT count(*) FROM refusal_citations WHERE provision = 's12'").fetchall()[0][0] == 1500
    con.close()
