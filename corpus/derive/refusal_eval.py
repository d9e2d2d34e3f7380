"""Scoring the refusal-citation extractor against labelled letters.

Used by ``bench/refusals.py`` and by the tests; nothing in the build imports it.
It lives beside the extractor (not under ``tests/`` or ``bench/``) so both can
import one public copy.

Labelled letters are TOML files (``tests/data/refusal_letters_*.toml``), one
``[[letter]]`` table each::

    [[letter]]
    id = "T07"
    regime = "FOIA"                    # the request's law, as request_timeline gives it
    kind = "review"                    # free text: what sort of letter it is
    hard = ["history", "negation"]     # which hard kinds it holds (may be empty)
    request = ['''the requester's text''', '''their review request''']  # optional
    grounds = ["FOIA:s40 upheld", "FOIA:s43 overturned"]
    text = '''the letter'''

Every ground a letter mentions is labelled once, at *scoring level*
(``score_key``), with the role that decides it.  The real 2019 pages are
labelled by file and message id only (``refusal_real_2019.toml``); their text
is read from the pages at run time.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from corpus.derive.refusals import COUNTED_ROLES, ROLES, extract_citations

# When a letter gives a ground several roles, the one that decides it.
ROLE_PRECEDENCE = ("upheld", "relied_on", "overturned", "considering", "not_relied_on",
                   "earlier_decision", "quoted_request", "boilerplate", "other_law")
assert set(ROLE_PRECEDENCE) == set(ROLES)


def score_key(regime: str, provision: str) -> str:
    """``FOIA:s40`` for any s40(...); EIR/EISR at exception level (``EIR:reg12(5)(e)``).

    Regulation 12(3) (10(3) in Scotland) is the gateway to the personal-data
    exception, so it scores as ``reg13`` (``reg11``).  Not held found from a
    phrase under FOIA is ``FOIA:not_held``; neither-confirm-nor-deny ``FOIA:ncnd``.
    """
    if provision == "s1(1)(a)":
        return f"{regime}:not_held"
    if provision == "ncnd":
        return f"{regime}:ncnd"
    if provision.startswith("reg"):
        m = re.match(r"reg(\d+)((?:\([0-9a-z]+\)){0,2})", provision)
        if m is None:
            raise ValueError(f"{provision!r} is not a regulation number such as reg12(4)(b)")
        num, subs = m.group(1), m.group(2)
        gate = {"EIR": ("12", "13"), "EISR": ("10", "11")}.get(regime)
        if gate and num == gate[0] and subs.startswith("(3)"):
            return f"{regime}:reg{gate[1]}"
        if gate and num == gate[0]:
            return f"{regime}:reg{num}{subs}"
        return f"{regime}:reg{num}"
    m = re.match(r"s(\d+[A-Z]?)", provision)
    return f"{regime}:s{m.group(1)}" if m else f"{regime}:{provision}"


@dataclass(slots=True)
class Letter:
    id: str
    regime: str
    text: str
    grounds: dict[str, str]  # score key -> role
    request: tuple[str, ...] = ()
    kind: str = ""
    hard: tuple[str, ...] = ()


def _parse_grounds(raw: Iterable[str], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw:
        key, _, role = item.strip().partition(" ")
        role = role.strip()
        if role not in ROLES or ":" not in key:
            raise ValueError(f"{where}: bad ground label {item!r}; write 'REGIME:key role' with a role from {', '.join(ROLES)}")
        if key in out:
            raise ValueError(f"{where}: {key} labelled twice; give each ground the one role that decides it")
        out[key] = role
    return out


def load_letters(path: Path) -> list[Letter]:
    """The ``[[letter]]`` tables of a labelled TOML file."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    letters = []
    for i, raw in enumerate(data.get("letter", [])):
        where = f"{path.name} letter {raw.get('id', i)}"
        req = raw.get("request", ())
        req = (req,) if isinstance(req, str) else tuple(req)
        letters.append(Letter(raw["id"], raw["regime"], raw["text"], _parse_grounds(raw.get("grounds", []), where),
                              req, raw.get("kind", ""), tuple(raw.get("hard", ()))))
    ids = [x.id for x in letters]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path.name}: letter ids repeat")
    return letters


def load_real_2019(labels: Path, pages: Path) -> list[Letter]:
    """The authority messages of the real 2019 pages, text read from the pages, labels from ``labels``.

    Each message's request context is the outgoing messages above it on its page.
    """
    from scraper.pages.request import parse_request
    from scraper.records import ParseFailure

    data = tomllib.loads(labels.read_text(encoding="utf-8"))
    wanted = {(m["file"], int(m["message_id"])): m for m in data.get("message", [])}
    letters = []
    for f in sorted(pages.glob("*.html")):
        parsed = parse_request(f.read_bytes())
        if isinstance(parsed, ParseFailure):
            raise ValueError(f"{f.name}: the page cannot be read ({parsed.message})")
        law = "EIR" if parsed.law == "eir" else "FOIA"
        outgoing: list[str] = []
        for m in sorted(parsed.messages, key=lambda m: m.position):
            if m.direction == "outgoing":
                outgoing.append(m.body)
                continue
            lab = wanted.pop((f.name, m.message_id), None)
            if lab is None:
                raise ValueError(f"{labels.name}: no label for {f.name} message {m.message_id}")
            where = f"{labels.name} {f.name}#{m.message_id}"
            letters.append(Letter(f"{f.name}#{m.message_id}", law, m.body,
                                  _parse_grounds(lab.get("grounds", []), where), tuple(outgoing)))
    if wanted:
        raise ValueError(f"{labels.name}: labels for messages not on the pages: {sorted(wanted)}")
    return letters


# ----------------------------------------------------------------------------- scoring
Extractor = Callable[[Letter], list]


def run_extractor(letter: Letter) -> list:
    return extract_citations(letter.text, letter.regime, request_texts=letter.request)


def found_roles(cites) -> dict[str, str]:
    """Score key -> the deciding role among the rows the extractor gave for it."""
    out: dict[str, str] = {}
    for c in cites:
        key = score_key(c.regime, c.provision)
        role = getattr(c, "role", "relied_on")
        if key not in out or ROLE_PRECEDENCE.index(role) < ROLE_PRECEDENCE.index(out[key]):
            out[key] = role
    return out


@dataclass(slots=True)
class Score:
    """Grounds relied on (relied_on or upheld), and role agreement on every labelled ground."""

    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    roles_right: int = 0
    roles_labelled: int = 0
    misses: list[tuple[str, dict, dict]] = field(default_factory=list)  # (letter id, expected, found)

    @property
    def precision(self) -> float:
        n = self.true_pos + self.false_pos
        return self.true_pos / n if n else 1.0

    @property
    def recall(self) -> float:
        n = self.true_pos + self.false_neg
        return self.true_pos / n if n else 1.0

    @property
    def role_accuracy(self) -> float:
        return self.roles_right / self.roles_labelled if self.roles_labelled else 1.0


def evaluate(letters: Iterable[Letter], *, extractor: Extractor = run_extractor, every_row_counts: bool = False) -> Score:
    """Score ``extractor`` on ``letters``.

    ``every_row_counts``: the "every section number" baseline: each ground the
    extractor finds counts as relied on, whatever its role.
    """
    score = Score()
    for letter in letters:
        found = found_roles(extractor(letter))
        if every_row_counts:
            found = {k: "relied_on" for k in found}
        want = {k for k, r in letter.grounds.items() if r in COUNTED_ROLES}
        got = {k for k, r in found.items() if r in COUNTED_ROLES}
        score.true_pos += len(want & got)
        score.false_pos += len(got - want)
        score.false_neg += len(want - got)
        for key, role in letter.grounds.items():
            score.roles_labelled += 1
            score.roles_right += found.get(key) == role
        if want != got or any(found.get(k) != r for k, r in letter.grounds.items()):
            score.misses.append((letter.id, dict(letter.grounds), found))
    return score
