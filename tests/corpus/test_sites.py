"""The sites table: built-in sites, the user's sites.toml, and how a site is matched."""

from __future__ import annotations

import duckdb
import pytest

from corpus.errors import UsageError
from corpus.sites import (
    BUILT_IN_SITES,
    REGIMES,
    UK_FAMILY,
    UNKNOWN,
    all_sites,
    host_key,
    host_key_sql,
    is_scottish,
    load_sites_file,
    scottish_sql,
    sites_file_for,
    write_sites,
)


def test_built_in_sites_and_their_regimes():
    by_host = {s.host: s for s in BUILT_IN_SITES}
    assert by_host["whatdotheyknow.com"].regime == UK_FAMILY
    assert by_host["fyi.org.nz"].timezone == "Pacific/Auckland"
    assert by_host["asktheeu.org"].regime == "EU_1049"
    assert by_host["dostup.pravda.com.ua"].regime == "UA_PUBLIC_INFO"
    assert "dostup.org.ua" in by_host["dostup.pravda.com.ua"].hosts
    assert by_host["righttoknow.org.au"].regime == UNKNOWN  # federal only, by tag
    for site in BUILT_IN_SITES:
        for rule in site.rules:
            assert rule.regime in REGIMES or rule.regime == UNKNOWN
    for r in REGIMES.values():
        assert r.source_url.startswith("https://") and r.days > 0


@pytest.mark.parametrize("url, host", [
    ("https://www.whatdotheyknow.com", "whatdotheyknow.com"),
    ("http://WhatDoTheyKnow.com/", "whatdotheyknow.com"),
    ("https://fyi.org.nz:443", "fyi.org.nz"),
    ("http://127.0.0.1:8765", "127.0.0.1"),
    ("https://www2.example.org/", "www2.example.org"),
])
def test_host_key_in_python_and_sql_agree(url, host):
    assert host_key(url) == host
    assert duckdb.connect().execute(f"SELECT {host_key_sql('?')}", [url]).fetchone()[0] == host


def test_sites_file_location(tmp_path, monkeypatch):
    monkeypatch.delenv("CORPUS_SITES", raising=False)
    assert sites_file_for(tmp_path / "foi.duckdb") == tmp_path / "sites.toml"
    assert sites_file_for(None) is None
    monkeypatch.setenv("CORPUS_SITES", str(tmp_path / "elsewhere.toml"))
    assert sites_file_for(tmp_path / "foi.duckdb") == tmp_path / "elsewhere.toml"


def test_a_sites_file_adds_and_overrides(tmp_path):
    path = tmp_path / "sites.toml"
    path.write_text("""
[[site]]
url = "https://www.informationsfreiheit.example"
name = "Example site"
country = "XX"
timezone = "Europe/Vienna"
regime = "unknown"

[[site]]   # a built-in site, changed: RightToKnow's bodies without a tag taken as federal
url = "https://righttoknow.org.au"
regime = "AU_FOI"
default_basis = "taken as federal"
""", encoding="utf-8")
    sites = {s.host: s for s in all_sites(path)}
    assert sites["informationsfreiheit.example"].timezone == "Europe/Vienna"
    rtk = sites["righttoknow.org.au"]
    assert rtk.regime == "AU_FOI" and rtk.default_basis == "taken as federal"
    assert rtk.rules == {s.host: s for s in BUILT_IN_SITES}["righttoknow.org.au"].rules  # kept
    assert rtk.timezone == "Australia/Sydney" and rtk.source == str(path)
    assert sites["whatdotheyknow.com"].source == "built-in"


@pytest.mark.parametrize("text, words", [
    ('[[site]]\nurl = "https://a.example"\nregime = "GDPR"\n', ["unknown regime 'GDPR'", "use one of"]),
    ('[[site]]\nurl = "https://a.example"\n', ["no regime", 'add regime = "..."']),
    ('[[site]]\nname = "x"\nregime = "FOIA"\n', ["has no url"]),
    ('[[site]]\nurl = "https://a.example"\nregime = "FOIA"\ntimezone = "Mars/Olympus"\n', ["unknown time zone"]),
    ('[[site]]\nurl = "https://a.example"\nregime = "FOIA"\n[[site.rule]]\ntags = ["x"]\n', ["needs a regime"]),
    ('[[site]]\nurl = "https://a.example"\nregime = "FOIA"\n[[site.rule]]\ntags = ["x"]\nregime = "UK"\n',
     ["unknown regime 'UK'"]),
    ('[[site]]\nurl = "https://a.example"\nregime = "FOIA"\ncolour = "red"\n', ["unknown key 'colour'"]),
    ('[[site]]\nurl = "a.example"\nregime = "FOIA"\n', ["has no scheme"]),
    ('[[site]\nurl = 1\n', ["not valid TOML"]),
    ('[[site]]\nurl = "https://a.example"\nregime = "FOIA"\n[[site]]\nurl = "https://www.a.example"\nregime = "EIR"\n',
     ["declared twice"]),
])
def test_bad_sites_file_says_what_and_how_to_fix(tmp_path, text, words):
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as exc:
        load_sites_file(path)
    message = str(exc.value)
    assert "\n" not in message and message.startswith(str(path))
    for w in words:
        assert w in message


def test_a_missing_file_named_by_the_environment_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CORPUS_SITES", str(tmp_path / "nope.toml"))
    with pytest.raises(UsageError, match="no such sites file"):
        all_sites(sites_file_for(tmp_path / "foi.duckdb"))


def test_a_site_with_two_addresses_is_changed_as_one(tmp_path):
    path = tmp_path / "sites.toml"
    path.write_text('[[site]]\nurl = "https://dostup.org.ua"\ntimezone = "UTC"\n', encoding="utf-8")
    con = duckdb.connect()
    write_sites(con, all_sites(path))
    rows = dict(con.execute("SELECT host, timezone FROM sites WHERE host LIKE 'dostup%'").fetchall())
    assert rows == {"dostup.org.ua": "UTC", "dostup.pravda.com.ua": "UTC"}


def test_a_users_site_may_have_other_addresses(tmp_path):
    path = tmp_path / "sites.toml"
    path.write_text('[[site]]\nurl = "https://foi.example.org"\naliases = ["http://www.old-foi.example.org:8080/"]\n'
                    'regime = "EU_1049"\n', encoding="utf-8")
    con = duckdb.connect()
    write_sites(con, all_sites(path))
    assert con.execute("SELECT host, regime FROM sites WHERE host LIKE '%foi.example.org' ORDER BY host").fetchall() == [
        ("foi.example.org", "EU_1049"), ("old-foi.example.org", "EU_1049")]
    path.write_text('[[site]]\nurl = "https://foi.example.org"\naliases = ["not a url"]\nregime = "unknown"\n',
                    encoding="utf-8")
    with pytest.raises(UsageError, match="alias 'not a url'"):
        all_sites(path)


def test_write_sites_tables():
    con = duckdb.connect()
    write_sites(con, list(BUILT_IN_SITES))
    assert con.execute("SELECT count(*) FROM regimes").fetchone()[0] == len(REGIMES)
    assert con.execute("SELECT regime FROM sites WHERE host = 'fyi.org.nz'").fetchone()[0] == UNKNOWN
    rules = con.execute("SELECT match, value, regime FROM site_rules WHERE host = 'righttoknow.org.au' "
                        "ORDER BY position").fetchall()
    assert rules[0] == ("tag", "act", UNKNOWN) and rules[-1] == ("tag", "federal", "AU_FOI")
    assert con.execute("SELECT day_unit FROM regimes WHERE regime = 'AU_FOI'").fetchone()[0] == "calendar"


@pytest.mark.parametrize("tags, scottish", [
    (["local_council", "scotland"], True),
    (["Scottish", "nhs"], True),
    (["foisa:yes"], True),
    (["local_council", "wales", "gss:S12000033"], False),  # a Scottish GSS code is not the tag
    (["scotland_council"], False),
    ([], False),
    (None, None),
])
def test_the_scottish_rule_is_the_same_at_load_and_in_the_timeline(tags, scottish):
    from corpus.load import jurisdiction_from_tags

    assert is_scottish(tags) is scottish
    assert jurisdiction_from_tags(tags) == {True: "scotland", False: "uk", None: None}[scottish]
    con = duckdb.connect()
    names = con.execute("SELECT list_transform(?::VARCHAR[], lambda t: lower(split_part(t, ':', 1)))", [tags]).fetchone()[0]
    got = con.execute(f"SELECT {scottish_sql('?::VARCHAR[]')}", [names]).fetchone()[0]
    assert got is bool(scottish)
    # the stored jurisdiction alone also decides (authorities loaded before their tags were kept)
    by_jurisdiction = scottish_sql("[]::VARCHAR[]", "'scotland'")
    assert con.execute(f"SELECT {by_jurisdiction}").fetchone()[0] is True
