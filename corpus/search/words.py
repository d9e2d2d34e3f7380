r"""Words, and the regular expressions that check a search hit against the text.

A word is a run of letters and digits (Unicode categories L and N); anything
else separates words, and case is ignored.  The index tokenizes the same way
(Tantivy's simple tokenizer, then lower case), and every hit it returns is
checked against the stored text, so a phrase hit is a phrase in the text, not
words that merely occur together.

The check is written twice, to the same rules: in ``queries/search.sql`` for
DuckDB's RE2 (``(?i)(?:^|[^\pL\pN])zebra[^\pL\pN]+crossing(?:[^\pL\pN]|$)``,
where ``[^\pL\pN]`` is "not a letter or digit"), and here for Python's ``re`` on
the index's hits (the same class is ``[\W_]``).  Both find the leftmost hit,
edges included, and the snippet is the text from 80 characters before it to 80
after, runs of whitespace made one space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

MATCHES = ("phrase", "all", "any")
LONGEST_INDEXED_WORD = 39  # bytes: the index drops longer tokens (base64, hashes), so those need a scan

SNIPPET_CONTEXT = 80  # characters either side of the first hit
_WHITESPACE = re.compile(r"[\t\n\f\r ]+")  # RE2's \s, which search.sql collapses


@dataclass(frozen=True)
class Terms:
    """The words of a query and how they must occur."""

    words: tuple[str, ...]
    match: str = "phrase"  # phrase | all | any

    # On the lower-cased text a pattern starts with a literal word, which Python's re finds quickly; the
    # edges are look-arounds, and the span is widened by the edge characters the RE2 pattern consumes.
    @staticmethod
    def _compile(core: str, flags: int = 0) -> re.Pattern:
        return re.compile(r"(?<![^\W_])" + core + r"(?![^\W_])", flags)

    @cached_property
    def _regexes(self) -> tuple[tuple[re.Pattern, re.Pattern], list[tuple[re.Pattern, re.Pattern]]]:
        """(the hit pattern, each word's pattern), each as (for lower-cased text, case-blind)."""
        # for 'all', the hit shown is the first of any word, as in search.sql
        core = r"[\W_]+".join(map(re.escape, self.words)) if self.match == "phrase" else \
            "(?:" + "|".join(map(re.escape, self.words)) + ")"
        both = lambda c: (self._compile(c), self._compile(c, re.IGNORECASE))  # noqa: E731
        return both(core), [both(re.escape(w)) for w in self.words]

    def first_hit(self, text: str | None) -> tuple[int, int] | None:
        """Where the first hit is, edges included (as RE2 matches ``pattern()``); None when the text holds none.

        For match='all' every word must be there; the hit is the first of any of them.
        """
        if not text:
            return None
        (hit, hit_ci), words = self._regexes
        low = text.lower()
        same = len(low) == len(text)  # lower() changed a length (rare letters): match case-blind on the text itself
        if not same:
            low, hit = text, hit_ci
        if self.match == "all" and not all((w if same else w_ci).search(low) for w, w_ci in words):
            return None
        m = hit.search(low)
        if m is None:
            return None
        return (m.start() - 1 if m.start() > 0 else 0), (m.end() + 1 if m.end() < len(text) else m.end())

    def found_in(self, text: str | None) -> bool:
        """Whether ``text`` holds the phrase (match='phrase'), every word ('all') or any word ('any')."""
        return self.first_hit(text) is not None

    def snippet(self, text: str | None, hit: tuple[int, int] | None = None) -> str | None:
        """The text from 80 characters before the first hit to 80 after, whitespace collapsed (as search.sql cuts it)."""
        hit = hit or self.first_hit(text)
        if hit is None or text is None:
            return None
        piece = text[max(hit[0] - SNIPPET_CONTEXT, 0): hit[1] + SNIPPET_CONTEXT]
        return _WHITESPACE.sub(" ", piece).strip(" ")

    @property
    def indexable(self) -> bool:
        return all(len(w.encode("utf-8")) <= LONGEST_INDEXED_WORD for w in self.words)

