"""Alaveteli sites and the access-to-information laws their requests run under.

A **regime** is one law's clock: how long a body has to answer, counted in
working or calendar days, on which calendar of non-working days (the calendars
themselves are in ``corpus.workdays``).  A **site** is one Alaveteli
installation: its time zone, and how each of its requests gets a regime (a
default, and rules on the authority's tags or ``url_name``, first match wins).
WhatDoTheyKnow's requests take FOIA, EIR, FOISA or EISR from the request's law
and the authority's Scottish tags (regime ``UK``).  A site that is not listed,
and a rule that names ``unknown``, give regime ``unknown``: no deadline at all,
never a borrowed UK clock.

The built-in sites are below.  Users add sites, or change a built-in one, in a
``sites.toml`` file beside the database (or the file named by
``$CORPUS_SITES``); see the README section "Sites and laws" for the format.
``write_sites`` puts the merged list into the ``regimes``, ``sites`` and
``site_rules`` tables, which the timeline joins.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from corpus.errors import UsageError
from scraper.errors import InvalidInput
from scraper.urls import normalise_site

UNKNOWN = "unknown"
UK_FAMILY = "UK"  # WhatDoTheyKnow's rule: FOIA / EIR / FOISA / EISR per request
SITES_FILE = "sites.toml"
SITES_ENV = "CORPUS_SITES"


@dataclass(frozen=True)
class Regime:
    code: str
    law: str  # the law's name
    provision: str  # where it sets the limit
    source_url: str  # the official text
    days: int  # the response limit
    unit: str  # 'working' or 'calendar' days
    calendar: str  # the non-working-day calendar in corpus.workdays
    long_overdue_days: int | None  # the latest date even with the longest extension (same unit); None when open-ended
    long_overdue_days_school: int | None = None  # WhatDoTheyKnow's longer limit for schools
    long_overdue_basis: str = ""


# Tags WhatDoTheyKnow gives public authorities in Scotland: their requests fall under FOISA, or the EISR for
# environmental information.  ``is_scottish`` (Python, at load) and ``scottish_sql`` (the timeline) both read it.
SCOTTISH_TAGS = ("scotland", "scottish", "foisa")


def is_scottish(tags) -> bool | None:
    """Whether an authority's tags ("name" or "name:value" strings) mark it as Scottish; None when tags are unknown."""
    if tags is None:
        return None
    return any(str(t).split(":", 1)[0].strip().lower() in SCOTTISH_TAGS for t in tags)


def scottish_sql(tag_names: str, jurisdiction: str | None = None) -> str:
    """``is_scottish`` in DuckDB SQL over a list of lower-cased tag names (and the stored jurisdiction, if given)."""
    names = ", ".join(f"'{t}'" for t in SCOTTISH_TAGS)
    test = f"list_has_any({tag_names}, [{names}])"
    if jurisdiction is not None:
        test = f"{jurisdiction} = 'scotland' OR {test}"
    return f"coalesce({test}, false)"


_WDTK_LONG = "WhatDoTheyKnow's long-overdue mark (40 working days, 60 for schools)"


def _uk(code: str, law: str, provision: str, url: str, calendar: str) -> Regime:
    """A UK law: 20 working days, and WhatDoTheyKnow's long-overdue marks."""
    return Regime(code, law, provision, url, 20, "working", calendar, 40, 60, _WDTK_LONG)


REGIMES: dict[str, Regime] = {
    r.code: r
    for r in (
        _uk("FOIA", "Freedom of Information Act 2000", "s10(1); working day s10(6)",
            "https://www.legislation.gov.uk/ukpga/2000/36/section/10", "UK"),
        _uk("EIR", "Environmental Information Regulations 2004", "reg 5(2); working day reg 2(1)",
            "https://www.legislation.gov.uk/uksi/2004/3391/regulation/5", "UK"),
        _uk("FOISA", "Freedom of Information (Scotland) Act 2002", "s10(1); working day s73",
            "https://www.legislation.gov.uk/asp/2002/13/section/10", "SCT"),
        _uk("EISR", "Environmental Information (Scotland) Regulations 2004", "reg 5(2)(a); working day reg 2(1)",
            "https://www.legislation.gov.uk/ssi/2004/520/regulation/5", "SCT"),
        Regime("NZ_OIA", "Official Information Act 1982 (New Zealand)", "s15(1); working day s2",
               "https://www.legislation.govt.nz/act/public/1982/0156/latest/whole.html", 20, "working", "NZ_OIA", None),
        Regime("NZ_LGOIMA", "Local Government Official Information and Meetings Act 1987 (New Zealand)",
               "s13(1); working day s2",
               "https://www.legislation.govt.nz/act/public/1987/0174/latest/whole.html", 20, "working", "NZ_LGOIMA",
               None),
        Regime("EU_1049", "Regulation (EC) No 1049/2001", "Art 7(1); confirmatory applications Art 8(1)",
               "https://eur-lex.europa.eu/eli/reg/2001/1049/oj", 15, "working", "EU", 30, None,
               "Art 7(3): one extension of 15 working days"),
        Regime("AU_FOI", "Freedom of Information Act 1982 (Commonwealth of Australia)",
               "s15(5)(b); counting: Acts Interpretation Act 1901 s36",
               "https://www.legislation.gov.au/C2004A02562/latest/text", 30, "calendar", "AU", None),
        Regime("UA_PUBLIC_INFO", "Law of Ukraine \"On Access to Public Information\" (No. 2939-VI)", "Art 20(1)",
               "https://zakon.rada.gov.ua/laws/show/2939-17", 5, "working", "UA", 20, None,
               "Art 20(4): extension to 20 working days"),
    )
}


@dataclass(frozen=True)
class Rule:
    """Requests to authorities with any of ``tags`` (or named in ``authorities``) get ``regime``."""

    regime: str
    tags: tuple[str, ...] = ()
    authorities: tuple[str, ...] = ()
    basis: str = ""  # what regime_basis says; defaults to the matching tag or authority


@dataclass(frozen=True)
class Site:
    url: str  # base URL; the site is matched by its host, without "www." and port
    name: str
    country: str
    timezone: str  # dates of instants are taken in this zone
    regime: str  # default regime code, UK_FAMILY, or UNKNOWN
    rules: tuple[Rule, ...] = ()
    default_basis: str = ""  # regime_basis of requests no rule matched
    notes: str = ""
    source: str = "built-in"
    aliases: tuple[str, ...] = ()  # other addresses of the same site

    @property
    def host(self) -> str:
        return host_key(self.url)

    @property
    def hosts(self) -> tuple[str, ...]:
        return (self.host, *(host_key(a) for a in self.aliases))


_STATE_TAGS = ("ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA")

BUILT_IN_SITES: tuple[Site, ...] = (
    Site("https://www.whatdotheyknow.com", "WhatDoTheyKnow", "GB", "Europe/London", UK_FAMILY,
         notes="FOIA/EIR by the request's law; FOISA/EISR for authorities in Scotland"),
    Site("http://127.0.0.1", "Sample site (a WhatDoTheyKnow replica served by `corpus demo` and the tests)", "GB",
         "Europe/London", UK_FAMILY, notes="any port on 127.0.0.1"),
    Site("https://fyi.org.nz", "FYI", "NZ", "Pacific/Auckland", UNKNOWN,
         rules=(
             Rule("NZ_LGOIMA", tags=("city_council", "district_council", "regional_council", "unitary_authority",
                                     "law:lgoima")),
             Rule("NZ_OIA", tags=("ministry", "minister", "departmental_agency", "dhb", "university",
                                  "crown_research_institute", "law:oia")),
         ),
         default_basis="authority not tagged as central or local government",
         notes="OIA for central government, LGOIMA for local government, from the authority's tags"),
    Site("https://www.asktheeu.org", "AskTheEU", "EU", "Europe/Brussels", "EU_1049",
         rules=(Rule(UNKNOWN, authorities=("cjeu",),
                     basis="Court of Justice: its own access rules (one month), not built in"),),
         default_basis="Regulation 1049/2001",
         notes="the Commission's holiday calendar for every institution"),
    Site("https://www.righttoknow.org.au", "Right To Know", "AU", "Australia/Sydney", UNKNOWN,
         rules=tuple(Rule(UNKNOWN, tags=(t,), basis=f"authority tagged {t}: state or territory law, not built in")
                     for t in _STATE_TAGS)
         + (Rule("AU_FOI", tags=("federal",)),),
         default_basis="authority has no jurisdiction tag",
         notes="Commonwealth FOI Act for authorities tagged federal; state and territory laws are not built in"),
    Site("https://dostup.pravda.com.ua", "Доступ до правди", "UA", "Europe/Kyiv", "UA_PUBLIC_INFO",
         default_basis="Law on Access to Public Information", aliases=("https://dostup.org.ua",)),
)


# --------------------------------------------------------------------------- matching


def host_key(url: str) -> str:
    """The part of a site URL sites are matched on: lower-case host without ``www.`` and port."""
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip().lower()).split("/", 1)[0]
    host = re.sub(r":\d+$", "", host)
    return host.removeprefix("www.")


HOST_KEY_SQL = (
    "regexp_replace(regexp_replace(regexp_replace(lower({col}), '^[a-z][a-z0-9+.-]*://', ''), "
    "'[:/].*$', ''), '^www\\.', '')"
)


def host_key_sql(column: str) -> str:
    """``host_key`` in DuckDB SQL, for a column of site URLs."""
    return HOST_KEY_SQL.format(col=column)


# --------------------------------------------------------------------------- the sites file


def sites_file_for(db_path: str | os.PathLike | None) -> Path | None:
    """The user's sites file: ``$CORPUS_SITES``, else ``sites.toml`` beside the database (None for in-memory)."""
    env = os.environ.get(SITES_ENV)
    if env:
        return Path(env)
    if not db_path:
        return None
    return Path(db_path).resolve().parent / SITES_FILE


def _bad(path: Path, where: str, problem: str, fix: str) -> UsageError:
    return UsageError(f"{path}: {where}: {problem}; {fix}")


def _strings(path: Path, where: str, value, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _bad(path, where, f"'{key}' must be a list of names", f'write e.g. {key} = ["a", "b"]')
    return tuple(v.strip() for v in value)


def _regime_code(path: Path, where: str, code, allow_family: bool) -> str:
    allowed = sorted(REGIMES) + [UNKNOWN] + ([UK_FAMILY] if allow_family else [])
    if not isinstance(code, str) or (code not in REGIMES and code not in (UNKNOWN, UK_FAMILY)) \
            or (code == UK_FAMILY and not allow_family):
        raise _bad(path, where, f"unknown regime {code!r}", f"use one of {', '.join(allowed)}")
    return code


def _parse_site(path: Path, i: int, raw: dict, built_in: dict[str, Site]) -> Site:
    where = f"[[site]] number {i}"
    if not isinstance(raw, dict):
        raise _bad(path, where, "is not a table", "write each site as a [[site]] table")
    unknown_keys = set(raw) - {"url", "aliases", "name", "country", "timezone", "regime", "rule", "notes",
                               "default_basis"}
    if unknown_keys:
        raise _bad(path, where, f"unknown key {min(unknown_keys)!r}",
                   "keys are url, aliases, name, country, timezone, regime, default_basis, notes and [[site.rule]]")
    if "url" not in raw:
        raise _bad(path, where, "has no url", 'add url = "https://your.alaveteli.site"')
    try:
        url = normalise_site(str(raw["url"]))
    except InvalidInput as exc:
        raise _bad(path, where, str(exc), "give the site's base URL") from None
    aliases = []
    for a in _strings(path, where, raw["aliases"], "aliases") if "aliases" in raw else ():
        try:
            aliases.append(normalise_site(a))
        except InvalidInput as exc:
            raise _bad(path, where, f"alias {a!r}: {exc}", "give each other address as a base URL") from None
    base = built_in.get(host_key(url))
    if base is None and "regime" not in raw:
        raise _bad(path, where, f"{url} is not a built-in site and has no regime",
                   f'add regime = "..." (one of {", ".join(sorted(REGIMES))}, {UK_FAMILY} or {UNKNOWN})')
    tz = raw.get("timezone", base.timezone if base else "UTC")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad(path, where, f"unknown time zone {tz!r}", 'use an IANA name such as "Europe/London"') from None
    regime = _regime_code(path, where, raw.get("regime", base.regime if base else UNKNOWN), allow_family=True)
    rules = base.rules if base and "rule" not in raw else ()
    if "rule" in raw:
        if not isinstance(raw["rule"], list):
            raise _bad(path, where, "'rule' must be [[site.rule]] tables", "write each rule as [[site.rule]]")
        parsed = []
        for j, r in enumerate(raw["rule"], start=1):
            rw = f"{where}, rule {j}"
            if not isinstance(r, dict) or set(r) - {"tags", "authorities", "regime", "basis"}:
                raise _bad(path, rw, "has keys other than tags, authorities, regime and basis", "remove them")
            if "regime" not in r or not ("tags" in r or "authorities" in r):
                raise _bad(path, rw, "needs a regime and tags or authorities",
                           'write e.g. tags = ["federal"] and regime = "AU_FOI"')
            parsed.append(Rule(
                regime=_regime_code(path, rw, r["regime"], allow_family=False),
                tags=_strings(path, rw, r["tags"], "tags") if "tags" in r else (),
                authorities=_strings(path, rw, r["authorities"], "authorities") if "authorities" in r else (),
                basis=str(r.get("basis", "")),
            ))
        rules = tuple(parsed)
    return Site(
        url=url,
        name=str(raw.get("name", base.name if base else host_key(url))),
        country=str(raw.get("country", base.country if base else "")),
        timezone=str(tz),
        regime=regime,
        rules=rules,
        default_basis=str(raw.get("default_basis", base.default_basis if base and "regime" not in raw else "")),
        notes=str(raw.get("notes", base.notes if base else "")),
        source=str(path),
        aliases=tuple(dict.fromkeys(a for a in (*((base.url, *base.aliases) if base else ()), *aliases)
                                    if host_key(a) != host_key(url))),
    )


def load_sites_file(path: str | os.PathLike) -> list[Site]:
    """The sites a ``sites.toml`` declares (each over a built-in site of the same host, key by key)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such sites file; create it or unset ${SITES_ENV}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc}); fix the file (README: Sites and laws)") from None
    extra = set(data) - {"site"}
    if extra:
        raise _bad(path, "top level", f"unknown key {min(extra)!r}", "declare sites as [[site]] tables")
    raw_sites = data.get("site", [])
    if not isinstance(raw_sites, list):
        raise _bad(path, "top level", "'site' must be [[site]] tables", "write each site as [[site]]")
    built_in = {h: s for s in BUILT_IN_SITES for h in s.hosts}
    out: dict[str, Site] = {}
    for i, raw in enumerate(raw_sites, start=1):
        site = _parse_site(path, i, raw, built_in)
        if site.host in out:
            raise _bad(path, f"[[site]] number {i}", f"{site.url} is declared twice", "keep one [[site]] per site")
        out[site.host] = site
    return list(out.values())


def all_sites(sites_file: str | os.PathLike | None = None) -> list[Site]:
    """Built-in sites, overridden or extended by ``sites_file`` when it exists."""
    merged = {h: s for s in BUILT_IN_SITES for h in s.hosts}
    if sites_file is not None:
        path = Path(sites_file)
        if path.exists() or os.environ.get(SITES_ENV):
            for s in load_sites_file(path):
                for h in s.hosts:
                    merged[h] = s
    return list({id(s): s for s in merged.values()}.values())


def database_path(con) -> str | None:
    """The file behind a DuckDB connection, None for an in-memory database."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return row[0] if row and row[0] else None


# --------------------------------------------------------------------------- tables


def site_rows(sites: list[Site]) -> tuple[list[tuple], list[tuple]]:
    """(sites rows, site_rules rows) for ``write_sites``."""
    by_host = {h: s for s in sites for h in s.hosts}  # a later entry for a host wins
    srows = [(h, s.url, s.name, s.country, s.timezone, s.regime, s.default_basis or None, s.notes or None, s.source)
             for h, s in sorted(by_host.items())]
    rrows = []
    for h, s in by_host.items():
        pos = 0
        for rule in s.rules:
            for kind, values in (("tag", rule.tags), ("authority", rule.authorities)):
                for v in values:
                    pos += 1
                    basis = rule.basis or f"authority {'tagged' if kind == 'tag' else 'is'} {v}"
                    rrows.append((h, pos, kind, v.lower(), rule.regime, basis))
    return srows, sorted(rrows)


def _stored_rows(con, table: str) -> Counter | None:
    """The rows of ``table`` as stored (None when there is no such table)."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?",
                       [table]).fetchall()[0][0]:
        return None
    return Counter(tuple(r) for r in con.execute(f"SELECT * FROM {table}").fetchall())


def write_sites(con, sites: list[Site] | None = None) -> list[Site]:
    """(Re)create ``regimes``, ``sites`` and ``site_rules`` from the built-ins and the user's sites file.

    Tables that already hold these rows are left alone: a table created in the
    caller's transaction has no statistics yet, and the derived-table build
    that joins it next took several times the memory (a sync's rebuild went
    past its DuckDB memory cap and ran again uncapped).
    """
    if sites is None:
        sites = all_sites(sites_file_for(database_path(con)))
    srows, rrows = site_rows(sites)
    regime_rows = [(r.code, r.law, r.provision, r.source_url, r.days, r.unit, r.calendar, r.long_overdue_days,
                    r.long_overdue_days_school, r.long_overdue_basis or None) for r in REGIMES.values()]
    if _stored_rows(con, "regimes") == Counter(regime_rows) and _stored_rows(con, "sites") == Counter(srows) \
            and _stored_rows(con, "site_rules") == Counter(rrows):
        return sites
    con.execute("""CREATE OR REPLACE TABLE regimes (
        regime VARCHAR PRIMARY KEY, law VARCHAR, provision VARCHAR, source_url VARCHAR,
        response_days INTEGER, day_unit VARCHAR, calendar VARCHAR,
        long_overdue_days INTEGER, long_overdue_days_school INTEGER, long_overdue_basis VARCHAR)""")
    con.executemany("INSERT INTO regimes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", regime_rows)
    con.execute("""CREATE OR REPLACE TABLE sites (
        host VARCHAR PRIMARY KEY, url VARCHAR, name VARCHAR, country VARCHAR, timezone VARCHAR,
        regime VARCHAR, default_basis VARCHAR, notes VARCHAR, source VARCHAR)""")
    con.executemany("INSERT INTO sites VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", srows)
    con.execute("""CREATE OR REPLACE TABLE site_rules (
        host VARCHAR, position INTEGER, match VARCHAR, value VARCHAR, regime VARCHAR, basis VARCHAR)""")
    if rrows:
        con.executemany("INSERT INTO site_rules VALUES (?, ?, ?, ?, ?, ?)", rrows)
    return sites


__all__ = [
    "BUILT_IN_SITES", "REGIMES", "SCOTTISH_TAGS", "UK_FAMILY", "UNKNOWN", "Regime", "Rule", "Site",
    "all_sites", "host_key", "host_key_sql", "is_scottish", "load_sites_file", "scottish_sql", "sites_file_for",
    "write_sites",
]
