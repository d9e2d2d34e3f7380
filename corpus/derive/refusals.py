"""Which FOI / EIR / FOISA grounds an authority's message cites, and what each is doing there.

``extract_citations(text, regime, request_texts=())`` is pure: a letter (a
message body or attachment text), its law, and the requester's own messages
earlier in the thread in; ``Citation`` records out, each with a ``role``.
It is used for message bodies and for attachment text alike.

Rules (the README's "Refusal citations" section says the same in prose):

* Numbered references: ``section 12``, ``s.12``, ``s12``, ``S 40(2)``,
  ``Section 40 (2)``, ``sections 40(2) and 43(2)``, ``regulation 12(4)(b)``,
  ``Reg. 13``, ``the exception at 12(5)(e)``.  A reference counts only when its
  section is a refusal ground of the law it belongs to (``GROUNDS``): section 50
  (complaints to the Commissioner), section 1 (the right of access), section 17
  (the refusal notice itself) and the like are procedure, not grounds.
* ``section``/``s`` belongs to the Act (FOIA, or FOISA when the request is
  Scottish); ``regulation``/``reg`` to the EIR (or EI(S)R).  An explicit name
  after or before the number wins: ``of the Freedom of Information (Scotland)
  Act`` makes it FOISA; ``of the Children Act 1989``, ``(Children Act 2004)``
  or ``Data Protection Act 2018 section 45`` make it another law (role
  ``other_law`` when the number would otherwise be an FOI ground);
  ``section 3 of the report`` is a document section, and ``section 21
  notice`` a housing notice.
* Phrase-only citations (``exceeds the appropriate limit``, ``neither confirm
  nor deny``, ``we do not hold``, ``manifestly unreasonable``, ...) count, with
  the provision the phrase implies under the letter's law.
* Every mention gets a role (``corpus.derive.refusal_roles``); only
  ``COUNTED_ROLES`` are refusals on that ground.
* One row per ground and role per message: a numbered hit beats a phrase for
  the same ground and role; two numbered hits keep the first, unless a later
  one refines it (``section 12`` then ``section 12(1)`` keeps ``s12(1)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from corpus.db import table_columns, table_exists
from corpus.derive.refusal_roles import (
    LetterContext,
    anaphoric_negations,
    bare_mentions_follow_the_decision,
    global_review_decision,
    ncnd_hypotheticals,
    role_of,
)
from corpus.derive.refusal_text import prepare
from corpus.errors import UsageError

# What a cited ground is doing in the letter (README: "Refusal citations").
ROLES = ("relied_on", "upheld", "overturned", "considering", "not_relied_on",
         "earlier_decision", "quoted_request", "boilerplate", "other_law")
# Only these count as a refusal on that ground.
COUNTED_ROLES = ("relied_on", "upheld")


@dataclass(frozen=True, slots=True)
class Citation:
    regime: str  # FOIA | EIR | FOISA | EISR
    provision: str  # normalised: s12, s40(2), reg12(4)(b), reg13, ncnd
    section: str  # "12", "40", "12" (for reg12(4)(b)), "ncnd"
    subsection: str | None  # "(2)", "(4)(b)", None
    ground: str  # short name, e.g. "cost limit"
    cited_by: str  # number | phrase
    sentence: str  # the sentence it came from
    start: int  # offset of the match in the prepared text
    role: str = "relied_on"  # one of ROLES
    cue: str | None = None  # the words (or the other Act) that decided the role


# ----------------------------------------------------------------------------- grounds
# provision key (most specific first at lookup) -> ground.  Only these count.
_FOIA = {
    "s11": "means of communication",
    "s12": "cost limit",
    "s14": "vexatious",
    "s14(1)": "vexatious",
    "s14(2)": "repeated request",
    "s21": "information accessible by other means",
    "s22": "future publication",
    "s22A": "research",
    "s23": "security bodies",
    "s24": "national security",
    "s26": "defence",
    "s27": "international relations",
    "s28": "relations within the UK",
    "s29": "the economy",
    "s30": "investigations and proceedings",
    "s31": "law enforcement",
    "s32": "court records",
    "s33": "audit functions",
    "s34": "parliamentary privilege",
    "s35": "formulation of government policy",
    "s36": "prejudice to effective conduct of public affairs",
    "s37": "communications with the Sovereign and honours",
    "s38": "health and safety",
    "s39": "environmental information",
    "s40": "personal information",
    "s41": "confidential information",
    "s42": "legal professional privilege",
    "s43": "commercial interests",
    "s44": "prohibitions on disclosure",
    # reachable by phrase only (numbered s1 is the right of access, not a ground)
    "s1(1)(a)": "not held",
    "ncnd": "neither confirm nor deny",
}
_FOISA = {
    "s12": "cost limit",
    "s14": "vexatious",
    "s14(1)": "vexatious",
    "s14(2)": "repeated request",
    "s17": "not held",
    "s18": "neither confirm nor deny",
    "s25": "information accessible by other means",
    "s26": "prohibitions on disclosure",
    "s27": "future publication",
    "s28": "relations within the UK",
    "s29": "formulation of government policy",
    "s30": "prejudice to effective conduct of public affairs",
    "s31": "national security",
    "s32": "international relations",
    "s33": "commercial interests",
    "s34": "investigations and proceedings",
    "s35": "law enforcement",
    "s36": "confidential information",
    "s36(1)": "legal professional privilege",
    "s37": "court records",
    "s38": "personal information",
    "s39": "health and safety",
    "s40": "audit functions",
    "s41": "communications with the Sovereign and honours",
}
_EIR = {
    "reg12(3)": "personal information",
    "reg12(4)(a)": "not held",
    "reg12(4)(b)": "manifestly unreasonable",
    "reg12(4)(c)": "request too general",
    "reg12(4)(d)": "unfinished material",
    "reg12(4)(e)": "internal communications",
    "reg12(5)(a)": "international relations, defence, national security or public safety",
    "reg12(5)(b)": "course of justice",
    "reg12(5)(c)": "intellectual property rights",
    "reg12(5)(d)": "confidentiality of proceedings",
    "reg12(5)(e)": "commercial interests",
    "reg12(5)(f)": "interests of the person who provided the information",
    "reg12(5)(g)": "protection of the environment",
    "reg12(6)": "neither confirm nor deny",
    "reg13": "personal information",
}
# The EI(S)R number their exceptions 10 (and 11 for personal data).
_EISR = {
    "reg10(4)(a)": "not held",
    "reg10(4)(b)": "manifestly unreasonable",
    "reg10(4)(c)": "request too general",
    "reg10(4)(d)": "unfinished material",
    "reg10(4)(e)": "internal communications",
    "reg10(5)(a)": "international relations, defence, national security or public safety",
    "reg10(5)(b)": "course of justice",
    "reg10(5)(c)": "intellectual property rights",
    "reg10(5)(d)": "confidentiality of proceedings",
    "reg10(5)(e)": "commercial interests",
    "reg10(5)(f)": "interests of the person who provided the information",
    "reg10(5)(g)": "protection of the environment",
    "reg10(8)": "neither confirm nor deny",
    "reg11": "personal information",
}
GROUNDS = {"FOIA": _FOIA, "FOISA": _FOISA, "EIR": _EIR, "EISR": _EISR}
_PHRASE_ONLY = {("FOIA", "s1(1)(a)"), ("FOIA", "ncnd")}

_SCOTTISH = {"FOISA", "EISR"}
_ACT_OF = {"FOIA": "FOIA", "EIR": "FOIA", "FOISA": "FOISA", "EISR": "FOISA"}
_REGS_OF = {"FOIA": "EIR", "EIR": "EIR", "FOISA": "EISR", "EISR": "EISR"}


def ground_of(regime: str, provision: str) -> str | None:
    """The ground a numbered provision stands for, or None when it is not a ground."""
    table = GROUNDS[regime]
    if (regime, provision) in _PHRASE_ONLY:
        return None
    key = provision
    while True:
        if key in table and (regime, key) not in _PHRASE_ONLY:
            return table[key]
        cut = key.rfind("(")
        if cut <= 0:
            return None
        key = key[:cut]


# ----------------------------------------------------------------------------- sentences
def _sentence_at(spans: list[tuple[int, int]], text: str, pos: int) -> str:
    for a, b in spans:
        if a <= pos < b:
            s = " ".join(text[a:b].split())
            return s if len(s) <= 500 else s[:497] + "..."
    return ""


# ----------------------------------------------------------------------------- numbered references
_SUB = r"(?:\s?\(\s?(?:\d{1,2}[A-Z]?|[a-z]{1,4})\s?\))"
_NUM = rf"(?:\d{{1,3}}[A-Z]?(?![\d.,]\d)(?:{_SUB})*)"
_KW_ACT = r"(?:sections?|adran(?:nau)?|(?<!['\w])(?:ss?|secs?|sects?)(?:\b|(?=\d))\.?)"  # adran: Welsh for section
_KW_REG = r"(?:regulations?|rh?eoliad(?:au)?|(?<!['\w])regs?(?:\b|(?=\d))\.?)"  # rheoliad: Welsh for regulation
_KW_BARE = r"(?:exemptions?|exceptions?)\s+(?:(?:at|under|in|of)\s+)?"
_LIST_SEP = rf"\s*(?:,\s*(?:and|or)?|\band/or\b|\band\b|\bor\b|&|\bto\b(?=\s*\d)|-(?=\s*\d)|\b(?:a|ac|neu)\b(?=\s*\d))\s*(?:(?:{_KW_ACT}|{_KW_REG})\s*)?"
# "30 (investigations)": the ground's name in brackets (not another law's: "11 (Children Act)")
_NAMED = r"(?:\s?\((?![^)]{0,40}\b(?:Act|Regulations|Order|Rules|DPA|GDPR|FOIA?|FOISA|EIRs?)\b)(?=[a-z ]{5})[a-z][a-z ,'-]{4,40}\))?"
_REF = re.compile(
    rf"(?P<kw>{_KW_ACT}|{_KW_REG}|{_KW_BARE})\s*(?P<list>{_NUM}{_NAMED}(?:{_LIST_SEP}(?:{_NUM}{_NAMED}|{_SUB}+))*)",
    re.I,
)
# After the number: a postcode's inward half ("S40 1LP", "SS14 3EF") or the rest of a reference code ("S12/2023").
_NOT_A_SECTION_AFTER = re.compile(r"\s\d[A-Z]{2}\b|/\d")
# "Section 12 – Appeals lodged: 64": a line that heads part of a document, not an exemption.
_HEADING_LINE = re.compile(r"[ \t]*(?:[-:.]|\u2013)?[ \t]*(?P<title>[^\n]*)")
_NUM_RE = re.compile(rf"(?P<kw>{_KW_ACT}|{_KW_REG})?\s*(?:(?P<num>\d{{1,3}}[A-Z]?)(?P<subs>{_SUB}*)|(?P<bare>{_SUB}+))", re.I)
_SUB_RE = re.compile(r"\(\s?([0-9A-Za-z]+)\s?\)")

_MARKERS = [
    ("FOISA", re.compile(r"Freedom of Information \(Scotland\)|\bFOI\(S\)A\b|\bFOISA\b", re.I)),
    ("EISR", re.compile(r"Environmental Information \(Scotland\)|\bEI\(S\)Rs?\b|\bEISRs?\b", re.I)),
    ("FOIA", re.compile(r"Freedom of Information|Rhyddid Gwybodaeth|\bFOIA?\b|\bFoI\b", re.I)),
    ("EIR", re.compile(r"Environmental Information Regulations|Rh?eoliadau Gwybodaeth Amgylcheddol|\bEIRs?\b", re.I)),
]
_GENERIC = re.compile(r"^\s*(?:the\s+)?(?:said\s+)?(?:Act|Regulations|legislation|above Act|EIRs?|EISRs?|D?deddf|Rh?eoliadau)\b", re.I)
_OTHER_LAW = re.compile(r"\b(?:Act|Regulations|Order|Rules|DPA|GDPR|Bill|Code|Measure|Ordinance)\b")
_TRAIL_OF = re.compile(
    r"^(?:\s*(?:,|and|or|&|a)?\s*\(\s?[0-9a-z]{1,4}\s?\))*\s*,?\s*(?:of|o'r|o)\s+(?P<rest>.{0,90})", re.I | re.S
)  # "30(b)(i) and (ii) of FOISA"
_TRAIL_BARE_LAW = re.compile(
    r"^\s*,?\s*\(?\s*(?:(?:the\s+)?[A-Z][\w()'-]*\s+(?:(?:[A-Z][\w()'-]*|of|and|for|the|on|to|in|\(\w+\))\s+){0,7}(?:Act|Regulations|DPA|GDPR)\b"
    r"|DPA\b|GDPR\b|FOI\(S\)A|EI\(S\)Rs?\b|FOIA?\b|FOISA\b|EIRs?\b|EISRs?\b)"
)
_TRAIL_NOT_FOI = re.compile(
    r"^\s*(?:(?:care|supervision|possession|planning|adoption|highways?|dispersal|closure|tenancy|grant|licensing)\s+"
    r"(?:orders?|notices?|agreements?|applications?|payments?|powers?)|"
    r"notices?|agreements?|evictions?|funding|aftercare|orders?|applications?|licen[cs]es?|"
    r"payments?|grants?|officers?|properties|property|accommodation|duty|duties|assessments?|"
    r"plans?|policy|budget|tenancy|powers?|proceedings|enquir(?:y|ies)|investigations?|"
    r"referrals?|cases?|appeals?|of your|of my|of this|of that|of our)\b",
    re.I,
)
_LEAD_LAW = re.compile(
    r"(?:\b(?:Act|Regulations|DPA|GDPR)(?:\s+\d{4})?(?:\s*\([A-Za-z()]+\))?|\bFOIA?|\bFOISA|\bEIRs?|\bEISRs?)\s*,?\s*(?:at|under|in)?\s*$"
)


def _law_named(snippet: str) -> str | None:
    """Which FOI law an explicit name in ``snippet`` points at, if any."""
    for regime, rx in _MARKERS:
        if rx.search(snippet):
            return regime
    return None


def _context_regime(text: str, start: int, end: int, default: str) -> tuple[str | None, str | None]:
    """The regime of a reference from the words around it.

    ``(regime, None)`` for an FOI law; ``(None, words)`` when the number belongs
    to another law or document, ``words`` saying which.
    """
    trail = text[end : end + 100].split("\n", 1)[0]
    m = _TRAIL_OF.match(trail)
    if m:
        rest = m.group("rest")
        # "section 12 of the Freedom of Information Act", "of the Act", "of FOISA"
        head = rest[:80]
        upto_law = re.split(r"[.;:]", head, maxsplit=1)[0]
        law = _law_named(upto_law[:70])
        if law and re.match(r"^\s*(?:the\s+)?(?:UK\s+)?(?:Freedom|Environmental|FOI|FoI|EIR|EISR|EI\(S\)R|D?deddf\s+Rhyddid|Rh?eoliadau\s+Gwybodaeth)", upto_law, re.I):
            return law, None
        if _GENERIC.match(upto_law):
            return default, None
        return None, _words(upto_law, "of ")  # section N of the Children Act / of the report / of your request
    m = _TRAIL_NOT_FOI.match(trail)
    if m:
        return None, _words(m.group(), "section N ")
    m = _TRAIL_BARE_LAW.match(trail)
    if m:
        law = _law_named(m.group())
        return (law, None) if law else (None, _words(m.group()))  # "s.47 Children Act 1989"; "s12 FOIA"
    lead = text[max(0, start - 80) : start].split("\n")[-1]
    if _LEAD_LAW.search(lead):
        tail = re.split(r"[.;]", lead)[-1]
        # the last law named before the number decides
        names = list(re.finditer(
            r"[A-Z][\w()'-]*\s+(?:(?:[A-Z][\w()'-]*|of|and|for|the|on|to|in|\(\w+\))\s+){0,7}(?:Act|Regulations)\b"
            r"|\bFOIA?\b|\bFOISA\b|\bEIRs?\b|\bEISRs?\b|\bDPA\b|\bGDPR\b", tail))
        if names:
            law = _law_named(names[-1].group())
            return (law, None) if law else (None, _words(names[-1].group()))
    return default, None


def _words(s: str, prefix: str = "") -> str:
    return (prefix + " ".join(s.strip(" ,()").split()))[:60]


def _provision(prefix: str, num: str, subs: str) -> tuple[str, str, str | None]:
    parts = []
    for s in _SUB_RE.findall(subs):
        parts.append(s.lower() if s.isalpha() else s.upper())
    sub = "".join(f"({p})" for p in parts) or None
    return f"{prefix}{num.upper() if not num.isdigit() else num}{sub or ''}", num.upper(), sub


def _numbered(text: str, regime: str):
    """(regime, provision, section, subsection, ground, start, end, other_law) for each numbered reference.

    ``other_law`` names the other Act or document when the number is not an FOI
    reference although it would be a ground under the letter's law.
    """
    for m in _REF.finditer(text):
        kw = m.group("kw").lower()
        is_reg = kw.startswith(("reg", "rheol", "reol", "exception"))
        family = _REGS_OF[regime] if is_reg else _ACT_OF[regime]
        ctx, other = _context_regime(text, m.start(), m.end(), family)
        if ctx is None:
            ctx = family
        if is_reg and ctx in ("FOIA", "FOISA"):
            ctx = _REGS_OF[ctx]
        if not is_reg and ctx in ("EIR", "EISR"):
            # "section 39 ... of the EIR" is odd; keep the Act family for sections
            ctx = _ACT_OF[ctx]
        bare = kw.startswith("exemption") or kw.startswith("exception")
        prev_row = None  # rows are yielded one behind, so that a span ("21 to 44") can re-mark its first end
        if other is None and _document_heading(text, m):
            other = "a heading of the document"
        prev: tuple[bool, str, list[str]] | None = None  # the last number of the list: (is reg, number, subsections)
        lst = m.group("list")
        fixed: str | tuple[str, str] | None  # the other law's name, or a (role, cue) fixed by the reference's form
        for n in _NUM_RE.finditer(lst):
            if n.group("bare"):
                # "(e) and (f)" in "regulations 12(5)(b), (e) and (f)": siblings of the last subsection before
                if prev is None:
                    continue
                this_reg, num, subs = prev
                new = _SUB_RE.findall(n.group("bare"))
                subs = subs[: max(0, len(subs) - len(new))] + new
                sub_text = "".join(f"({x})" for x in subs)
                this_regime = ctx if this_reg == is_reg else (_REGS_OF[ctx] if this_reg else _ACT_OF[ctx])
                start, stop = m.start("list") + n.start("bare"), m.start("list") + n.end("bare")
                fixed = other
            else:
                sub_kw = (n.group("kw") or "").lower()
                this_reg = is_reg if not sub_kw else sub_kw.startswith(("reg", "rheol", "reol"))
                this_regime = ctx if this_reg == is_reg else (_REGS_OF[ctx] if this_reg else _ACT_OF[ctx])
                if bare and not n.group("subs") and this_reg:
                    continue  # "exception 12" without subsections is too vague
                num, sub_text = n.group("num"), n.group("subs")
                fixed = other
                if _span_of_sections(lst, n, prev):
                    # "Part II of the Act (sections 21 to 44)": the span of the Act's exemptions, not a citation
                    fixed = _A_RANGE
                    if prev_row is not None and prev_row[-1] is other:
                        yield prev_row[:-1] + (_A_RANGE,)
                        prev_row = None
                prev = (this_reg, num, _SUB_RE.findall(sub_text))
                start, stop = m.start("list") + n.start("num"), m.start("list") + n.end()
                if _NOT_A_SECTION_AFTER.match(text, m.start("list") + n.end("num")):
                    continue  # a postcode ("S40 1LP") or a reference code ("S12/2023")
            prov, section, sub = _provision("reg" if this_reg else "s", num, sub_text)
            ground = ground_of(this_regime, prov)
            if ground is None:
                continue
            if prev_row is not None:
                yield prev_row
            prev_row = (this_regime, prov, section, sub, ground, start, stop, fixed)
        if prev_row is not None:
            yield prev_row


# A role fixed by the form of the reference: both ends of a span of sections ("sections 21 to 44").
_A_RANGE = ("boilerplate", "a range of sections")


def _span_of_sections(lst: str, n: re.Match, prev) -> bool:
    """Whether the number ``n`` closes a span ("21 to 44", "21-44") of at least four sections."""
    if prev is None or not re.search(r"(?:\bto|-)\s*$", lst[: n.start("num")]):
        return False
    try:
        return int(re.sub(r"\D", "", n.group("num"))) - int(re.sub(r"\D", "", prev[1])) >= 3
    except ValueError:
        return False


# Words of the grounds' names and of refusals: a heading that holds one is about an exemption.
_GROUND_WORDS = frozenset(
    w for table in GROUNDS.values() for name in table.values() for w in re.findall(r"[a-z]{4,}", name)
) | {"exempt", "exemption", "exemptions", "exception", "withheld", "refusal", "refused", "cost", "costs", "limit",
     "privilege", "confidence", "prejudice", "absolute", "qualified", "harm", "data", "personal", "vexatious",
     "repeated", "publication", "crime", "enforcement", "security", "safety", "commercial", "policy", "held"}
_LINE_LEAD = re.compile(r"(?:^|\n)[ \t]*(?:[A-Z]?\d{1,2}[.)]?[ \t]+|[A-Z][.)][ \t]+)?$")


def _document_heading(text: str, m: re.Match) -> bool:
    """Whether ``m`` ("Section 12") begins a line that heads part of a document, not an exemption:
    a single plain number, then a title none of whose words belongs to a ground or a refusal."""
    if not m.group("kw").lower().startswith("section") or not re.fullmatch(r"\d{1,2}", m.group("list")):
        return False
    if not _LINE_LEAD.search(text, max(0, m.start() - 8), m.start()):
        return False
    head = _HEADING_LINE.match(text, m.end())
    title = head.group("title") if head else ""
    if re.search(r":\s*[\d£]", title):
        return True  # a row of figures: "Section 12 - Appeals lodged: 64"
    words = re.findall(r"[a-z]{4,}", title.lower())
    return bool(words) and not any(w in _GROUND_WORDS or w.rstrip("s") in _GROUND_WORDS for w in words)


# ----------------------------------------------------------------------------- phrases
class _Guarded:
    """Alternative patterns, each run only when one of its lower-case words is in the letter.

    Gives the matches of every part that runs (in order of position), as one big
    alternation would, at a fraction of the cost on letters that hold few of the words.
    """

    __slots__ = ("parts",)

    def __init__(self, *parts: tuple[tuple[str, ...], str]) -> None:
        self.parts = [(keys, re.compile(pattern, re.I)) for keys, pattern in parts]

    def finditer(self, text: str, low: str | None = None):
        low = text.lower() if low is None else low
        found = [m for keys, rx in self.parts if any(k in low for k in keys) for m in rx.finditer(text)]
        return sorted(found, key=lambda m: m.start())


# (pattern, {letter regime -> (regime, provision)})
_ACT_PHRASE = lambda foia, foisa, eir=None, eisr=None: {  # noqa: E731
    "FOIA": ("FOIA", foia),
    "FOISA": ("FOISA", foisa),
    "EIR": ("EIR", eir) if eir else None,
    "EISR": ("EISR", eisr) if eisr else None,
}
_PHRASES: list[tuple[re.Pattern | _Guarded, dict]] = [
    (
        re.compile(
            r"\b(?:appropriate|cost|costs|fees?) limit\b|\b(?:in excess of|exceed\w*|more than|over|within)\s+(?:the\s+)?(?:18|24|eighteen|twenty[- ]four) hours\b",
            re.I,
        ),
        _ACT_PHRASE("s12", "s12"),
    ),
    (
        re.compile(r"\b(?:is|as|be|being|deemed|considered|regarded|found|was)\s+(?:to be\s+)?vexatious\b|\bvexatious (?:request|under)\b", re.I),
        _ACT_PHRASE("s14(1)", "s14(1)", "reg12(4)(b)", "reg10(4)(b)"),
    ),
    (
        re.compile(r"\brepeat(?:ed)? request\b|\bidentical (?:or|to) (?:a )?substantially similar\b", re.I),
        _ACT_PHRASE("s14(2)", "s14(2)"),
    ),
    (
        _Guarded(  # not held: each wording is tried only when one of its words is in the letter
            (("t hold", "t have", "t keep", "t record", "not currently"),
             r"\b(?:we|i|it|department|council|authority|trust|ministry|office|board|service|force|university|college|school|body)\s+"
             r"(?:(?:simply|just|also|therefore|currently|unfortunately|still)\s+)?(?:do|does|did)\s*(?:not|n['’]?t)\s+(?:currently\s+)?"
             r"(?:hold|have|keep|record)\b(?!\s+to\b)"),
            (("held",),
             r"\b(?:is|are|was|were)\s+not\s+held\b|\bnot\s+be\s+held\b"
             r"|\bno\s+(?:such\s+|recorded\s+|relevant\s+)?(?:information|info|records?|data)\s+(?:(?:is|are|was|were)\s+)?held\b"
             r"|\b(?:information|info|data|records?)\s+not\s+held\b|(?:^|[:\n]|\s-)\s*not\s+held\b|\bnothing\s+(?:is\s+)?held\b"),
            (("no recorded", "no relevant", "hold", "no record"),
             r"\bno (?:recorded|relevant) information\b"
             r"|\bholds?\s+no\s+(?:recorded\s+|relevant\s+|such\s+)?(?:information|records?|data|documents?)\b"
             r"|\bnot hold (?:any|the|this|that) (?:recorded )?information\b"
             r"|\b(?:has|have)\s+no\s+(?:record|records|recorded information)\b(?!\s+of\s+(?:\w+ing|ever|it|this|that|any\s+such)\b)"),
            (("returned no", "found no", "located no", "identified no", "revealed no"),
             r"\b(?:returned|found|located|identified|revealed)\s+no\s+(?:relevant\s+|such\s+)?(?:records?|information|documents?|data|trace)\b"),
            (("not recorded", "not captured", "not collected", "not kept", "not retained"),
             r"\b(?:is|are|was|were)\s+not\s+(?:recorded|captured|collected|kept|retained)\b|(?:^|[:\n]|\s-)\s*not\s+recorded\b"),
        ),
        {
            "FOIA": ("FOIA", "s1(1)(a)"),
            "EIR": ("EIR", "reg12(4)(a)"),
            "FOISA": ("FOISA", "s17"),
            "EISR": ("EISR", "reg10(4)(a)"),
        },
    ),
    (
        re.compile(
            r"\bneither\s+confirm(?:s|ed|ing)?\s+n?or\s+den(?:y|ies|ied|ying)\b|\bNCND\b"
            r"|\b(?:not\s+obliged|not\s+required|no\s+duty|refus(?:e|es|ed|ing))\s+to\s+confirm\s+or\s+deny\b"
            r"|\bduty\s+to\s+confirm\s+or\s+deny\s+(?:does\s+not|doesn't|did\s+not)\s+(?:arise|apply)\b",
            re.I,
        ),
        {"FOIA": ("FOIA", "ncnd"), "EIR": ("EIR", "reg12(6)"), "FOISA": ("FOISA", "s18"), "EISR": ("EISR", "reg10(8)")},
    ),
    (
        re.compile(r"\bmanifestly unreasonable\b", re.I),
        {"FOIA": ("EIR", "reg12(4)(b)"), "EIR": ("EIR", "reg12(4)(b)"), "FOISA": ("EISR", "reg10(4)(b)"), "EISR": ("EISR", "reg10(4)(b)")},
    ),
    (
        re.compile(r"\breasonably accessible\b|\baccessible (?:to you )?by other means\b|\botherwise accessible\b", re.I),
        _ACT_PHRASE("s21", "s25"),
    ),
    (
        re.compile(r"\b(?:intended|intends|intention) (?:for|to) (?:future )?publi\w*|\bfuture publication\b", re.I),
        _ACT_PHRASE("s22", "s27"),
    ),
    (
        re.compile(r"\bcommercially sensitive\b|\bprejudic\w*\s+(?:to\s+)?the commercial interests\b|\bcommercial (?:or industrial )?confidentiality\b", re.I),
        _ACT_PHRASE("s43", "s33", "reg12(5)(e)", "reg10(5)(e)"),
    ),
    (re.compile(r"\blegal professional privilege\b", re.I), _ACT_PHRASE("s42", "s36(1)", "reg12(5)(b)", "reg10(5)(b)")),
    (re.compile(r"\bactionable breach of confidence\b", re.I), _ACT_PHRASE("s41", "s36")),
    (re.compile(r"\bprevention (?:or|and) detection of crime\b", re.I), _ACT_PHRASE("s31", "s35", "reg12(5)(b)", "reg10(5)(b)")),
    (re.compile(r"\bformulation (?:or|and) development of (?:government|Scottish Administration) policy\b", re.I), _ACT_PHRASE("s35", "s29")),
    (re.compile(r"\bfree and frank\b|\beffective conduct of public affairs\b|\bqualified person\b", re.I), _ACT_PHRASE("s36", "s30")),
    (re.compile(r"\bendanger (?:the )?(?:physical or mental )?(?:health|safety)\b", re.I), _ACT_PHRASE("s38", "s39", "reg12(5)(a)", "reg10(5)(a)")),
    (
        re.compile(
            r"\bdata protection principles\b|\b(?:breach|contravene|contravention of)\s+(?:the\s+)?(?:UK\s+)?GDPR\b"
            r"|\bthird[- ]part(?:y|ies)'? personal (?:data|information)\b|\bpersonal (?:data|information) of (?:a )?third part(?:y|ies)\b",
            re.I,
        ),
        _ACT_PHRASE("s40(2)", "s38(1)(b)", "reg13", "reg11"),
    ),
]


# Lower-case words one of which each phrase needs, in _PHRASES order: a substring
# test is far cheaper than running the pattern over a long letter.
_PHRASE_KEYS: list[tuple[str, ...]] = [
    ("limit", "hours"),
    ("vexatious",),
    ("repeat", "substantially"),
    ("hold", "have", "held", "information", "keep", "record", "returned", "found", "located", "identified", "revealed",
     "captured", "collected", "kept", "retained"),
    ("confirm", "ncnd"),
    ("unreasonable",),
    ("accessible",),
    ("publi",),
    ("commercial",),
    ("privilege",),
    ("confidence",),
    ("crime",),
    ("formulation",),
    ("frank", "public affairs", "qualified"),
    ("endanger",),
    ("data protection", "gdpr", "personal", "third"),
]
assert len(_PHRASE_KEYS) == len(_PHRASES)
# Lower-case words one of which each law's marker needs (a substring test first, the pattern after).
_MARKER_KEYS = {
    "FOISA": ("(scotland)", "foi(s)a", "foisa"),
    "EISR": ("(scotland)", "ei(s)r", "eisr"),
    "FOIA": ("freedom of information", "foi", "rhyddid gwybodaeth"),
    "EIR": ("environmental information regulations", "eir", "gwybodaeth amgylcheddol"),
}


def _letter_regime(text: str, regime: str) -> str:
    """The law a letter's phrases belong to: its own words first, the request's law otherwise."""
    lower = text.lower()
    named = {law for law, rx in _MARKERS if any(k in lower for k in _MARKER_KEYS[law]) and rx.search(text)}
    scottish = regime in _SCOTTISH or bool(named & _SCOTTISH)
    eir = bool(named & {"EIR", "EISR"}) or ("regulation" in lower and bool(re.search(r"\bregulation\s+1[023]\b", text, re.I)))
    act = bool(named & {"FOIA", "FOISA"})
    if eir and not act:
        return "EISR" if scottish else "EIR"
    if act and not eir:
        return "FOISA" if scottish else "FOIA"
    return regime


# ----------------------------------------------------------------------------- public
def extract_citations(text: str, regime: str = "FOIA", request_texts=()) -> list[Citation]:
    """Grounds cited in ``text`` (an authority's message or attachment), each with its role.

    ``request_texts``: the requester's own messages earlier in the same thread
    (the request, follow-ups, a review request); words the letter repeats from
    them are the quoted request, not a citation.
    """
    if regime not in GROUNDS:
        raise UsageError(f"unknown FOI regime {regime!r}; use one of FOIA, EIR, FOISA, EISR.")
    if not text:
        return []
    text = prepare(text)
    # A letter that names only one law (e.g. "FOISA") decides unqualified numbers too.
    letter = _letter_regime(text, regime)
    mentions = list(_mentions(text, letter))
    if not mentions:
        return []
    ctx = LetterContext(text, [_prepared_request(r) for r in request_texts if r])
    spans = ctx.sentences
    rows: list[list] = []  # [regime, prov, section, sub, ground, cited_by, pos, role, cue]
    for reg, prov, section, sub, ground, cited_by, pos, end, other in mentions:
        if isinstance(other, tuple):
            role, cue = other
        elif other is not None:
            # a request set out as such ("Request: ...") naming another Act's section is still the request;
            # words merely shared with it are the answer's
            quoted = ctx.quoted(pos, end)
            role, cue = ("quoted_request", quoted) if quoted and quoted != "repeats the request" else ("other_law", other)
        else:
            negatable = ground not in ("not held", "neither confirm nor deny")
            role, cue = role_of(ctx, pos, end, phrase_only=not negatable)
        rows.append([reg, prov, section, sub, ground, cited_by, pos, role, cue])
    ncnd_hypotheticals(ctx, rows)
    anaphoric_negations(ctx, rows)
    bare_mentions_follow_the_decision(ctx, rows)
    _review_roles(ctx, rows)
    chosen: dict[tuple[str, str, str], Citation] = {}
    numbered = {(r[4], r[7]) for r in rows if r[5] == "number"}
    for reg, prov, section, sub, ground, cited_by, pos, role, cue in sorted(rows, key=lambda r: r[6]):
        if cited_by == "phrase" and (ground, role) in numbered:
            continue  # a phrase only adds a ground no number gave in that role, under any law
        key = (reg, ground, role)
        old = chosen.get(key)
        if old is not None and not prov.startswith(old.provision + "(") and not prov.startswith(_GATEWAY.get((reg, old.provision), "-")):
            continue  # same ground again: keep the first unless this refines it (or is what the gateway leads to)
        start = old.start if old is not None else pos
        chosen[key] = Citation(reg, prov, section, sub, ground, cited_by, _sentence_at(spans, text, start), start, role,
                               cue if old is None else old.cue)
    return sorted(chosen.values(), key=lambda c: (c.start, ROLES.index(c.role)))


@lru_cache(maxsize=64)
def _prepared_request(text: str) -> str:
    """A requester's message, prepared like a letter (several letters of a thread share it)."""
    return prepare(text)


# EIR 12(3) (EI(S)R 10(3)) is the gateway to the personal-data exception itself.
_GATEWAY = {("EIR", "reg12(3)"): "reg13", ("EISR", "reg10(3)"): "reg11"}


def _section_of(prov: str) -> str:
    """The section or regulation number of a provision: "40" for s40(2), "12" for reg12(4)(b)."""
    if prov == "ncnd":
        return "ncnd"
    m = re.match(r"(?:s|reg)?(\w+?)(?=\(|$)", prov)
    if m is None:
        raise ValueError(f"{prov!r} is not a provision such as s40(2) or reg12(4)(b)")
    return m.group(1)


def _mentions(text: str, letter: str):
    """Every numbered and phrase mention of a ground, in no particular order."""
    for reg, prov, section, sub, ground, pos, end, other in _numbered(text, letter):
        yield reg, prov, section, sub, ground, "number", pos, end, other
    lower = text.lower()
    for (rx, mapping), keys in zip(_PHRASES, _PHRASE_KEYS):
        target = mapping.get(letter)
        if not target or not any(k in lower for k in keys):
            continue
        reg, prov = target
        ground = GROUNDS[reg][prov] if prov in GROUNDS[reg] else ground_of(reg, prov)
        section = _section_of(prov)
        sub = prov[len(prov.split("(")[0]) :] or None
        for m in (rx.finditer(text, lower) if isinstance(rx, _Guarded) else rx.finditer(text)):
            if ground == "neither confirm nor deny" and _COST_NEAR.search(text, max(0, m.start() - 200), m.end() + 200):
                continue  # "section 12(2): we are not required to confirm or deny": the cost of confirming, not NCND
            if ground == "not held" and (
                _HELD_ELSEWHERE.match(text, m.end()) or m.group()[-1:] == "d" and _BY_DIMENSION.match(text, m.end())
            ):
                continue  # "we do not hold this centrally", "does not have a system that records",
                # "hours are not recorded by review status": held, but hard to reach
            yield reg, prov, section, sub, ground, "phrase", m.start(), m.end(), None


_COST_NEAR = re.compile(r"\b(?:section|s\.?)\s?12\b|\b(?:appropriate|cost|costs|fees?)\s+limit\b", re.I)
# "not recorded by park": recorded, but not broken down that way ("not recorded by the Council" is not held)
_BY_DIMENSION = re.compile(r"\s+(?:by|against|per)\s+(?!(?:the|this|our|any|a|an|us|them|staff|officers)\b)\w", re.I)
_HELD_ELSEWHERE = re.compile(
    r"[^.;:\n]{0,50}?\b(?:centrally|electronically|separately|in\s+(?:a|an|one|the|that|this|any)\s+(?:\w+\s+)?"
    r"(?:format|form|way|place|system|database|report|list|searchable|reportable|retrievable|readily)|"
    r"(?:a|any|one)\s+(?:central\s+|centralised\s+|single\s+|specific\s+|dedicated\s+|separate\s+)?(?:system|database|way|means|"
    r"mechanism|facility|field|flag)\b(?!\s+of\s+(?:the|this|that|your)\s+(?:information|request))|"
    r"(?:a|any|one)\s+(?:central|centralised|single|specific|dedicated|separate|searchable|combined|consolidated)\s+"
    r"(?:register|record|list|log|index|spreadsheet)\b)",
    re.I,
)


def _review_roles(ctx: LetterContext, rows: list[list]) -> None:
    """What a review letter decides about the earlier response, ground by ground.

    A ground applied in a review with no cue of its own is ``upheld`` when the
    earlier decision used it (as this letter or the requester's messages
    describe it), and ``relied_on`` when it is new.  A review that upholds or
    overturns the earlier response as a whole ("the original decision is
    upheld") decides the grounds it only describes.
    """
    if not ctx.review:
        return
    earlier = {r[2] for r in rows if r[7] in ("earlier_decision", "quoted_request")} | set(ctx.requested_numbers)
    for r in rows:
        if r[7] == "relied_on" and r[8] is None and r[2] in earlier:
            r[7], r[8] = "upheld", "review of the earlier decision"
    whole = global_review_decision(ctx)
    if whole is None:
        return
    decided = {r[2] for r in rows if r[7] in ("relied_on", "upheld", "overturned", "not_relied_on")}
    for r in rows:
        if r[7] == "earlier_decision" and r[2] not in decided:
            r[7], r[8] = whole, f"review: earlier decision {whole}"


# ----------------------------------------------------------------------------- table
CITATION_COLUMNS = (
    "site", "request_key", "authority_url_name", "message_id", "source", "attachment_part",
    "sent_at", "year", "regime", "provision", "section", "subsection", "ground", "cited_by", "sentence",
    "role", "cue",
)

# A cheap RE2 filter run in DuckDB before Python reads a message: every pattern
# extract_citations can match contains one of these words.
PREFILTER_RX = (
    r"(?i)(?:\bs(?:ections?|ecs?|ects?)?\.?\s?|\bss\.?\s?|\bregs?(?:ulations?)?\.?\s?|\badran(?:nau)?\s?|\brh?eoliad(?:au)?\s?|exempt\w*\s+(?:(?:at|under|in|of)\s+)?|exception\w*\s+(?:(?:at|under|in|of)\s+)?)"
    r"(?:1[0-8]|2\d|3\d|4[0-4])"
    r"|(?:sec|regu|ex(?:em|ce)p)\w*-\s*\n"
    r"|(?:appropriate|cost|costs|fees?) limit|(?:18|24|eighteen|twenty[- ]four) hours|vexatious|repeat(?:ed)? request|substantially similar"
    r"|(?:do|does|did)\s*(?:not|n['’]?t)\s+(?:currently\s+)?(?:hold|have|keep|record)|not (?:be )?held|no (?:recorded|relevant) information|holds? no"
    r"|nothing (?:is )?held|(?:returned|found|located|identified|revealed) no|not (?:recorded|captured|collected|kept|retained)"
    r"|(?:has|have) no record|(?:information|records?|data) (?:is|are|was|were) held"
    r"|confirm\w* n?or den|ncnd|manifestly unreasonable|reasonably accessible|other means|otherwise accessible"
    r"|future publication|(?:intended|intends|intention) (?:for|to)|commercially sensitive|commercial interests|commercial (?:or industrial )?confidentiality"
    r"|legal professional privilege|breach of confidence|detection of crime|formulation (?:or|and) development|free and frank"
    r"|conduct of public affairs|qualified person|endanger|data protection principles|gdpr|third[- ]part(?:y|ies)'? personal"
    r"|personal (?:data|information) of"
)

_CREATE = """
CREATE OR REPLACE TABLE refusal_citations (
    site VARCHAR, request_key VARCHAR, authority_url_name VARCHAR, message_id BIGINT,
    source VARCHAR, attachment_part INTEGER, sent_at TIMESTAMPTZ, year INTEGER,
    regime VARCHAR, provision VARCHAR, section VARCHAR, subsection VARCHAR, ground VARCHAR,
    cited_by VARCHAR, sentence VARCHAR, role VARCHAR, cue VARCHAR
)
"""

def create_refusal_citations(con) -> None:
    """An empty ``refusal_citations`` (replacing any), for a build that fills it a scope at a time."""
    con.execute(_CREATE)


# Bump when extract_citations changes, so the cache of scanned texts is thrown away.
EXTRACTOR_VERSION = 4

_CACHE_DDL = """
CREATE TABLE IF NOT EXISTS refusal_scan_cache (
    site VARCHAR, source VARCHAR, message_id BIGINT, part INTEGER,
    text_md5 VARCHAR, regime VARCHAR, context_md5 VARCHAR, extractor_version INTEGER,
    citations STRUCT(regime VARCHAR, provision VARCHAR, section VARCHAR, subsection VARCHAR,
                     ground VARCHAR, cited_by VARCHAR, sentence VARCHAR, role VARCHAR, cue VARCHAR)[]
)
"""

_CIT_FIELDS = ("regime", "provision", "section", "subsection", "ground", "cited_by", "sentence", "role", "cue")

# Separates the requester's messages in a text's context (a character no message holds).
_CONTEXT_SEP = "\x1e"


def _prefilter(col: str) -> str:
    return f"regexp_matches(translate({col}, '\u00a0\u2019', ' ''') , {_sql_quote(PREFILTER_RX)})"


# The extractor knows the UK laws only: requests under other regimes (or none known) are not scanned.
_UK_ONLY = "coalesce(t.regime, 'FOIA') IN ('FOIA', 'EIR', 'FOISA', 'EISR')"


def _context_sql(alias: str) -> str:
    """The requester's messages sent before the text ``alias`` (its site, request_key, position, sent_at), in order."""
    return f"""(SELECT string_agg(o.body, chr(30) ORDER BY o.position, o.sent_at, o.message_id)
               FROM messages o
               WHERE o.site = {alias}.site AND o.request_key = {alias}.request_key AND o.direction = 'outgoing'
                 AND o.body IS NOT NULL AND o.body <> ''
                 AND CASE WHEN o.position IS NOT NULL AND {alias}.position IS NOT NULL THEN o.position < {alias}.position
                          ELSE o.sent_at < {alias}.sent_at END)"""


def _candidate_sql(con, scoped: bool = False) -> str:
    """Every text worth scanning: incoming bodies and extracted attachment text, prefiltered.

    Each comes with the md5 of its text and of its context (the requester's
    earlier messages in the thread), which together with the regime and the
    extractor version decide whether a cached scan still holds.
    ``scoped``: only those of the requests listed in ``_derive_scope``.
    """
    messages = "(SELECT * FROM messages SEMI JOIN _derive_scope USING (site, request_key))" if scoped else "messages"
    parts = [
        f"""SELECT m.site, m.request_key, m.position, m.sent_at, 'message' AS source, m.message_id,
                   CAST(NULL AS INTEGER) AS part, coalesce(t.regime, 'FOIA') AS regime, m.body AS text
            FROM {messages} m LEFT JOIN request_timeline t ON t.site = m.site AND t.request_key = m.request_key
            WHERE m.direction = 'incoming' AND m.body IS NOT NULL AND {_prefilter('m.body')}
              AND {_UK_ONLY}"""
    ]
    if table_exists(con, "attachment_texts"):
        parts.append(
            f"""SELECT x.site, m.request_key, m.position, m.sent_at, 'attachment' AS source, x.incoming_message_id AS message_id,
                       x.part, coalesce(t.regime, 'FOIA') AS regime, x.text
                FROM attachment_texts x
                JOIN {messages} m ON m.site = x.site AND m.direction = 'incoming' AND m.message_id = x.incoming_message_id
                LEFT JOIN attachments a ON a.site = x.site AND a.incoming_message_id = x.incoming_message_id AND a.part = x.part
                LEFT JOIN request_timeline t ON t.site = m.site AND t.request_key = m.request_key
                WHERE x.status = 'ok' AND x.text IS NOT NULL
                  AND NOT coalesce(a.hidden, false) AND NOT coalesce(a.erased, false)
                  AND {_prefilter('x.text')} AND {_UK_ONLY}"""
        )
    union = "\nUNION ALL\n".join(parts)
    return f"""SELECT c.*, md5(c.text) AS text_md5, coalesce(md5({_context_sql('c')}), '') AS context_md5
               FROM ({union}) c"""


def _scan_texts(rows: list[tuple]) -> list[tuple]:
    """Extract citations for (site, source, message_id, part, text md5, regime, context md5, text, context) rows.

    Module-level so worker processes can run it.
    """
    out = []
    for site, source, mid, part, md5, regime, ctx_md5, text, context in rows:
        requests = context.split(_CONTEXT_SEP) if context else ()
        cits = [{f: getattr(c, f) for f in _CIT_FIELDS} for c in extract_citations(text, regime, request_texts=requests)]
        out.append((site, source, mid, part, md5, regime, ctx_md5, EXTRACTOR_VERSION, cits))
    return out


def _scan_pool(n_texts: int, workers: int | None):
    """A process pool for many texts, or None to scan in this process."""
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor

    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    if workers <= 1 or n_texts < 4000:
        return None
    # forkserver, not fork: the parent holds a DuckDB connection and its threads
    return ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver"))


def _scan_chunk(rows: list[tuple], pool) -> list[tuple]:
    if pool is None:
        return _scan_texts(rows)
    step = max(250, len(rows) // (pool._max_workers * 4))
    out: list[tuple] = []
    for scanned in pool.map(_scan_texts, [rows[i:i + step] for i in range(0, len(rows), step)]):
        out.extend(scanned)
    return out


def _store_scans(con, scanned: list[tuple]) -> None:
    import pyarrow as pa

    cit_type = pa.list_(pa.struct([(n, pa.string()) for n in _CIT_FIELDS]))
    names = ("site", "source", "message_id", "part", "text_md5", "regime", "context_md5", "extractor_version", "citations")
    types = {"message_id": pa.int64(), "part": pa.int32(), "extractor_version": pa.int32(), "citations": cit_type}
    table = pa.table({n: pa.array(list(v), types.get(n, pa.string())) for n, v in zip(names, zip(*scanned))})
    con.register("_new_scans", table)
    try:
        # one cache row per text key: a changed text (or context) replaces its earlier scan
        con.execute(
            """DELETE FROM refusal_scan_cache k USING _new_scans n
               WHERE k.site = n.site AND k.source = n.source AND k.message_id = n.message_id
                 AND k.part IS NOT DISTINCT FROM n.part"""
        )
        con.execute(f"INSERT INTO refusal_scan_cache SELECT {', '.join(names)} FROM _new_scans")
    finally:
        con.unregister("_new_scans")


_SAME_TEXT = """k.site = c.site AND k.source = c.source AND k.message_id = c.message_id
            AND k.part IS NOT DISTINCT FROM c.part AND k.text_md5 = c.text_md5 AND k.regime = c.regime
            AND k.context_md5 = c.context_md5"""


def build_refusal_citations(con, batch_size: int = 5000, *, workers: int | None = None, scoped: bool = False) -> int:
    """(Re)create refusal_citations from incoming message bodies and extracted attachment text.

    Needs request_timeline (for each request's regime).  DuckDB picks the
    candidate texts with ``PREFILTER_RX`` (RE2).  A text already scanned (same
    key, same md5 of the text, same regime, same md5 of its context -- the
    requester's earlier messages, which decide what is quoted request -- and
    same EXTRACTOR_VERSION) is taken from ``refusal_scan_cache``, so a rebuild
    after a sync reads only new or changed texts through Python; many new
    texts are scanned in a process pool.  Returns the number of citation rows.
    """
    if "context_md5" not in (table_columns(con, "refusal_scan_cache") or ["context_md5"]):
        con.execute("DROP TABLE refusal_scan_cache")  # from a build before roles: its key lacks the context
    con.execute(_CACHE_DDL)
    con.execute("DELETE FROM refusal_scan_cache WHERE extractor_version <> ?", [EXTRACTOR_VERSION])
    con.execute(f"CREATE OR REPLACE TEMP TABLE _cit_candidates AS {_candidate_sql(con, scoped)}")
    # Texts not scanned yet, numbered so they can be read a chunk at a time:
    # memory stays bounded however many there are.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _cit_todo AS
            SELECT row_number() OVER () AS rn, c.site, c.source, c.message_id, c.part, c.text_md5, c.regime,
                   c.context_md5, c.text, {_context_sql('c')} AS context
            FROM _cit_candidates c ANTI JOIN refusal_scan_cache k ON {_SAME_TEXT}"""
    )
    n_todo = con.execute("SELECT count(*) FROM _cit_todo").fetchall()[0][0]
    pool = _scan_pool(n_todo, workers)
    try:
        for lo in range(0, n_todo, batch_size):
            rows = con.execute(
                """SELECT site, source, message_id, part, text_md5, regime, context_md5, text, context
                   FROM _cit_todo WHERE rn > ? AND rn <= ?""",
                [lo, lo + batch_size],
            ).fetchall()
            _store_scans(con, _scan_chunk(rows, pool))
    finally:
        if pool is not None:
            pool.shutdown()
    con.execute("DROP TABLE IF EXISTS _cit_todo")
    if scoped:  # only the rows of the requests in scope are replaced
        con.execute(
            """DELETE FROM refusal_citations c USING _derive_scope s
               WHERE c.site = s.site AND c.request_key = s.request_key"""
        )
    else:
        con.execute(_CREATE)
    con.execute(
        f"""INSERT INTO refusal_citations ({', '.join(CITATION_COLUMNS)})
            SELECT c.site, m.request_key, t.authority_url_name, c.message_id, c.source, c.part, m.sent_at,
                   CAST(year(timezone('Europe/London', m.sent_at)) AS INTEGER),
                   x.cit.regime, x.cit.provision, x.cit.section, x.cit.subsection, x.cit.ground,
                   x.cit.cited_by, x.cit.sentence, x.cit.role, x.cit.cue
            FROM _cit_candidates c
            JOIN refusal_scan_cache k ON {_SAME_TEXT}
            CROSS JOIN LATERAL (SELECT unnest(k.citations) AS cit) x
            LEFT JOIN messages m ON m.site = c.site AND m.direction = 'incoming' AND m.message_id = c.message_id
            LEFT JOIN request_timeline t ON t.site = m.site AND t.request_key = m.request_key"""
    )
    con.execute("DROP TABLE IF EXISTS _cit_candidates")
    return con.execute("SELECT count(*) FROM refusal_citations").fetchall()[0][0]


def _sql_quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
