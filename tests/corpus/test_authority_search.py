"""Finding a body's slug: ranked matches on name, short name and slug."""

from __future__ import annotations

import pytest

from corpus.authority_search import Body, find_authorities, rank, words_of
from corpus.db import connect
from corpus.errors import UsageError

S = "https://foi.example.net"
BODIES = [
    Body(S, "department_for_work_and_pensions", "Department for Work and Pensions", "DWP", 0),
    Body(S, "dept_health_social_care", "Department of Health & Social Care", "DHSC", 0),
    Body(S, "home_office", "Home Office", None, 0),
    Body(S, "homes_england", "Homes England", None, 0),
    Body(S, "bro_morgannwg_nhs", "Bro Morgannwg University Health Board", None, 0),
    Body(S, "conwy_cbc", "Conwy County Borough Council", "Cyngor Bwrdeistref Sirol Conwy", 0),
    Body(S, "comhairle_nan_eilean_siar", "Comhairle nan Eilean Siar", "Western Isles Council", 0),
    Body(S, "ofcom", "Office of Communications", "Ofcom", 0),
    Body(S, "cafe_regulator", "Régulateur des Cafés", None, 0),
    Body(S, "health_and_safety_executive", "Health and Safety Executive", "HSE", 0),
    Body(S, "driver_and_vehicle_licensing_agency", "Driver and Vehicle Licensing Agency", None, 0),
]


def slugs(query: str) -> list[str]:
    return [b.slug for b in rank(BODIES, query)]


def test_words_fold_case_accents_ampersands_and_slugs():
    assert words_of("Department of Health & Social Care") == ["department", "of", "health", "and", "social", "care"]
    assert words_of("Régulateur des Cafés") == ["regulateur", "des", "cafes"]
    assert words_of("dept_health-social") == ["dept", "health", "social"]


@pytest.mark.parametrize("query, first", [
    ("home office", "home_office"),  # the whole name before "Homes England" and "Office of Communications"
    ("DWP", "department_for_work_and_pensions"),  # a short name
    ("work pensions", "department_for_work_and_pensions"),
    ("health social care", "dept_health_social_care"),
    ("health & safety", "health_and_safety_executive"),
    ("western isles", "comhairle_nan_eilean_siar"),  # the short name, in another language than the name
    ("conwy", "conwy_cbc"),
    ("cafes", "cafe_regulator"),  # accents forgiven
    ("morgannwg", "bro_morgannwg_nhs"),
    ("ofcom", "ofcom"),
])
def test_the_meant_body_comes_first(query, first):
    assert slugs(query)[0] == first


def test_bodies_matching_more_words_hide_those_matching_fewer():
    assert slugs("home office") == ["home_office"]
    assert set(slugs("council")) == {"conwy_cbc", "comhairle_nan_eilean_siar"}


def test_a_word_cut_short_an_initialism_and_a_typo_still_find_it():
    assert slugs("morgan")[0] == "bro_morgannwg_nhs"
    assert slugs("dvla") == ["driver_and_vehicle_licensing_agency"]  # no short name: its initials
    assert slugs("helth executive")[0] == "health_and_safety_executive"
    assert slugs("dhcs") == []  # too far from any word or initials


def test_nothing_matches_nonsense_and_stop_words_alone_do_not_match_everything():
    assert slugs("zzzz qqqq") == []
    assert len(slugs("the")) < len(BODIES)


def _db(tmp_path, rows):
    con = connect(tmp_path / "a.duckdb")
    for b in rows:
        con.execute("INSERT INTO authorities (site, url_name, name, short_name) VALUES (?, ?, ?, ?)",
                    [b.site, b.slug, b.name, b.short_name])
    return con


def test_find_authorities_limits_and_says_so_and_filters_by_site(tmp_path):
    con = _db(tmp_path, BODIES + [Body("https://other.example", "home_office", "Home Office", None, 0)])
    got = find_authorities(con, search=None, site=S, limit=3)
    assert got.table.num_rows == 3 and got.found == len(BODIES)
    assert got.notes == [f"Showing 3 of {len(BODIES)} authorities; --limit 0 shows all."]
    assert got.table.column_names == ["slug", "name", "short_name", "requests_held", "site"]
    everywhere = find_authorities(con, search="home office", limit=0)
    assert sorted(everywhere.table.column("site").to_pylist()) == sorted(["https://other.example", S])
    none = find_authorities(con, search="zzzz", site=S)
    assert none.table.num_rows == 0 and "No stored authority matches" in none.notes[0]


def test_an_empty_table_says_how_to_fill_it(tmp_path):
    con = _db(tmp_path, [])
    with pytest.raises(UsageError, match="--authority-list"):
        find_authorities(con, search="home office")
    con.close()
    (tmp_path / "a.duckdb").unlink()
    with pytest.raises(UsageError, match="--search needs words"):
        find_authorities(_db(tmp_path, BODIES), search=" -- ")
