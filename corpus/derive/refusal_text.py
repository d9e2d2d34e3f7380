"""Text preparation for the refusal-citation extractor (pure functions).

Letters reach the corpus as e-mail bodies (wrapped at ~72 characters) or as
text pulled out of PDFs (hard line breaks mid-sentence, words hyphenated
across lines, running page headers and "Page 2 of 3" footers).  ``prepare``
turns either into running text whose newlines mean something (a paragraph,
a list item, a heading), so that sentences and clauses can be found.
"""

from __future__ import annotations

import re

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f]+")
_QUOTES = str.maketrans({
    "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u00ad": "", "\ufeff": "",
})

# A line that is only a page marker: "Page 2 of 3", "- 2 -", "2 | Page", "Page 2",
# possibly beside a running reference ("FOI 24/0381      Page 1 of 2").
_PAGE_LINE = re.compile(
    r"^[^\n]{0,60}?(?:\bpage\s+\d+\s*(?:of|/)\s*\d+|^\s*-\s*\d+\s*-|\b\d+\s*\|\s*page\b|^\s*page\s+\d+)[ \t]*(?:\n|$)",
    re.I | re.M,
)
_HYPHEN_BREAK = re.compile(r"(?<=[a-z])-\n[ \t]*(?=[a-z])")
_BULLET = re.compile(r"^\s*(?:[-*\u2022>]|\(?\d{1,2}[.)]\s|\(?[a-z][.)]\s|Q\d|A\d|Question\b|Applicant\b|Response\b|Answer\b)", re.I)
_CONNECTOR_END = re.compile(r"\b(?:under|and|or|of|the|at|in|to|by|with|for|on|a|an|section|sections|regulation|regulations|s\.?)\s*$", re.I)


def normalise(text: str) -> str:
    """Plain quotes and dashes, one kind of newline, runs of spaces collapsed."""
    text = text.translate(_QUOTES).replace("\r\n", "\n").replace("\r", "\n")
    return _SPACES.sub(" ", text)


def _drop_repeated_headers(lines: list[str]) -> list[str]:
    """Lines repeated verbatim (a running header or footer) are kept only the first time."""
    seen: set[str] = set()
    out = []
    for line in lines:
        key = line.strip()
        if key and len(key) >= 6 and key in seen and not key.startswith(">"):
            continue
        if key:
            seen.add(key)
        out.append(line)
    return out


def _joins(prev: str, nxt: str) -> bool:
    """Whether the line break between ``prev`` and ``nxt`` is a soft wrap inside a sentence."""
    p, n = prev.rstrip(), nxt.strip()
    if not p or not n:
        return False
    if p.lstrip().startswith(">") != nxt.lstrip().startswith(">"):
        return False
    if (prev[:1] == " ") != (nxt[:1] == " ") and not p.lstrip().startswith(">"):
        return False  # an indented block begins or ends
    if p[-1] in ".!?:;" and not _CONNECTOR_END.search(p):
        return False
    body = n.lstrip("> ").strip()
    if not body:
        return False
    if body[0].islower() or body[0].isdigit() and not re.match(r"\d{1,2}[.)]\s", body) or body[0] in "(£$%&":
        return True
    if _CONNECTOR_END.search(p):
        return True
    return len(p) >= 60 and not _BULLET.match(body)


def prepare(text: str) -> str:
    """Normalised text with page furniture removed and soft line wraps joined."""
    text = normalise(text)
    if "page" in text.lower() or "\n-" in text or "\n -" in text:
        text = _PAGE_LINE.sub("", text)
    if "-\n" in text:
        text = _HYPHEN_BREAK.sub("", text)
    lines = _drop_repeated_headers(text.split("\n"))
    out: list[str] = []
    for line in lines:
        if out and _joins(out[-1], line):
            tail = line.strip()
            if out[-1].lstrip().startswith(">"):
                tail = tail.lstrip(">").strip()
            out[-1] = out[-1].rstrip() + " " + tail
        else:
            out.append(line)
    return "\n".join(out).rstrip()


# ----------------------------------------------------------------------------- sentences and clauses
_ABBREV = re.compile(r"(?:\b(?:s|ss|reg|regs|no|para|paras|e\.g|i\.e|mr|mrs|ms|dr|st|etc|cf|art|ref|nos|vol)|\d)\.$", re.I)
_BOUNDARY = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*\u2022>]|\d+[.)]\s|[A-Z(\"]))|[.!?](?=\s+[\"'(\[]?[A-Z0-9])|:(?=\s*\n)")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, heading or list item."""
    cuts = [0]
    for m in _BOUNDARY.finditer(text):
        if m.group().startswith(".") and _ABBREV.search(text[max(0, m.start() - 6) : m.start() + 1]):
            continue
        cuts.append(m.end())
    cuts.append(len(text))
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


_CLAUSE_CUT = re.compile(
    r";|:(?=\s)|,?\s+\bbut\b(?!\s+(?:(?:was|is|has|have)\s+)?not\b)|,?\s+\bhowever\b|(?:^|,)\s*\balthough\b|\bthough\b|,\s*\bwhereas\b"
    r"|,\s*\bwhile\b|,\s*\bexcept\b|,\s*\b(?:since|because)\b|,\s*\bas\s+(?=(?:it|they|this|these|there|its|their|we|disclosure|release)\b)"
    r"|\.\s+(?=[A-Z])",
    re.I,
)


def clause_cuts(text: str, sent: tuple[int, int]) -> list[int]:
    """Where the clauses of the sentence ``sent`` start, and (last) where it ends.

    A clause ends at ``;`` or ``:``, or before "but" (not "but not", which
    goes on with the clause before it), "however", "although", "whereas",
    "while", "except", or a reason (", since", ", because", ", as it ...").
    """
    a, b = sent
    cuts = [a]
    for m in _CLAUSE_CUT.finditer(text, a, b):
        if m.start() > cuts[-1]:
            cuts.append(m.start() if m.group()[:1] not in ";:" else m.end())
    cuts.append(b)
    return cuts


_WORD = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[tuple[str, int]]:
    """Lower-case word tokens with their offsets (``40(2)`` gives ``40`` and ``2``)."""
    return [(m.group(), m.start()) for m in _WORD.finditer(text.lower())]
