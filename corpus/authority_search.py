"""``corpus authorities --search WORDS``: find a public body's slug from the authorities stored in the corpus.

The ``authorities`` table holds every body a request page named, and the
site's whole list after ``corpus sync --authority-list``.  Matching is on the
body's name, short name and slug, word by word, forgiving case, accents,
``&`` for "and", a word cut short ("depart"), an initialism ("dwp" for the
Department for Work and Pensions) and a small typo ("helth").  Bodies that
match the most words come first; among them the closest match (a whole name
or short name, then whole words, then word starts), then the shorter name.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from corpus.errors import UsageError

DEFAULT_LIMIT = 20
# Words that say little about which body is meant; ignored when other words are given.
STOP_WORDS = frozenset({"of", "the", "and", "for", "in", "on", "at", "to", "a", "an"})
_NOT_WORD = re.compile(r"[^0-9a-z]+")

COLUMNS = ("slug", "name", "short_name", "requests_held", "site")


def words_of(text: str | None) -> list[str]:
    """Lower-case ASCII words: accents dropped, ``&`` read as "and", slugs' ``_`` and ``-`` as spaces."""
    if not text:
        return []
    folded = unicodedata.normalize("NFKD", text.replace("&", " and ")).encode("ascii", "ignore").decode().lower()
    return [w for w in _NOT_WORD.split(folded) if w]


@dataclass(frozen=True)
class Body:
    site: str
    slug: str
    name: str | None
    short_name: str | None
    requests_held: int


def _initials(words: list[str]) -> str:
    return "".join(w[0] for w in words if w not in STOP_WORDS)


def rank(bodies: list[Body], query: str) -> list[Body]:
    """The bodies matching ``query``, best first (see the module's docstring); [] when nothing matches."""
    q_all = words_of(query)
    q_words = [w for w in q_all if w not in STOP_WORDS] or q_all
    if not q_words:
        return []
    phrase = " ".join(q_all)
    vocabulary = {w for b in bodies for w in words_of(b.name) + words_of(b.short_name) + words_of(b.slug)}
    near = {q: set(difflib.get_close_matches(q, vocabulary, n=8, cutoff=0.8)) if len(q) >= 4 else set()
            for q in q_words}
    scored: list[tuple[tuple, Body]] = []
    for b in bodies:
        name, short, slug = words_of(b.name), words_of(b.short_name), words_of(b.slug)
        every = set(name) | set(short) | set(slug)
        matched, score = 0, 0
        for q in q_words:
            if q in short or q in name:
                s = 6
            elif q in slug:
                s = 5
            elif len(q) >= 2 and any(w.startswith(q) for w in every):
                s = 3
            elif q in near and near[q] & every:
                s = 2
            elif len(q) >= 3 and any(q in w for w in every):
                s = 1
            elif len(q_words) == 1 and len(q) >= 2 and q in (_initials(name), _initials(short)):
                s = 6
            else:
                continue
            matched += 1
            score += s
        if not matched:
            continue
        whole = 0
        if phrase in (" ".join(short), " ".join(name), " ".join(slug)):
            whole = 3
        elif " ".join(name).startswith(phrase):
            whole = 2
        elif f" {phrase} " in f" {' '.join(name)} ":
            whole = 1
        scored.append(((-matched, -whole, -score, len(name) or 999, " ".join(name), b.slug), b))
    if not scored:
        return []
    best = min(key[0] for key, _ in scored)  # the most words matched (negated)
    return [b for key, b in sorted(scored, key=lambda kb: kb[0]) if key[0] == best]


def load_bodies(con: Any, site: str | None) -> list[Body]:
    """Every stored authority (of ``site`` when given) with how many of its requests the corpus holds."""
    rows = con.execute(
        """SELECT a.site, a.url_name, a.name, a.short_name, count(r.request_key) AS n
           FROM authorities a
           LEFT JOIN requests r ON r.site = a.site AND r.authority_url_name = a.url_name
           WHERE $site IS NULL OR a.site = $site
           GROUP BY ALL""",
        {"site": site},
    ).fetchall()
    return [Body(s, slug, name, short, int(n)) for s, slug, name, short, n in rows]


def as_table(bodies: list[Body]) -> pa.Table:
    return pa.table({
        "slug": pa.array([b.slug for b in bodies], pa.string()),
        "name": pa.array([b.name for b in bodies], pa.string()),
        "short_name": pa.array([b.short_name for b in bodies], pa.string()),
        "requests_held": pa.array([b.requests_held for b in bodies], pa.int64()),
        "site": pa.array([b.site for b in bodies], pa.string()),
    })


@dataclass
class AuthorityMatches:
    table: pa.Table
    found: int  # matches (or stored bodies, without a search) before --limit
    notes: list[str]


def find_authorities(con: Any, *, search: str | None, site: str | None = None,
                     limit: int = DEFAULT_LIMIT) -> AuthorityMatches:
    """Stored authorities matching ``search`` (all of them, by name, without one), at most ``limit`` (0: all)."""
    bodies = load_bodies(con, site)
    if not bodies:
        where = f" for {site}" if site else ""
        raise UsageError(
            f"no authorities are stored{where} yet; load the site's list with "
            "`corpus sync --authority-list --contact you@example.org` (every synced request adds its own body too)")
    if search is not None and not words_of(search):
        raise UsageError("--search needs words of a body's name, e.g. --search 'health department'")
    found = rank(bodies, search) if search is not None else sorted(
        bodies, key=lambda b: (" ".join(words_of(b.name)) or b.slug, b.slug))
    shown = found[:limit] if limit else found
    notes = []
    if search is not None and not found:
        notes.append(f"No stored authority matches {search!r}; try fewer or shorter words "
                     "(`corpus authorities` lists them all).")
    elif len(shown) < len(found):
        notes.append(f"Showing {len(shown)} of {len(found)} {'matches' if search is not None else 'authorities'}; "
                     "--limit 0 shows all.")
    return AuthorityMatches(as_table(shown), len(found), notes)
