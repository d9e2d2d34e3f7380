r"""Words, and the regular expressions that check a search hit against the text.

A word is a run of letters and digits (Unicode categories L and N); anything
else separates words, and case is ignored.  The index tokenizes the same way
(Tantivy's simple tokenizer, then lower case), and every hit it returns is
checked against the stored text, so a phrase hit is a phrase in the text, not
words that merely occur together.

The check is written twice, to the same rules: for DuckDB's RE2 (``pattern``,
used by ``queries/search.sql``, where ``[^\pL\pN]`` is "not a letter or digit")
and for Python's ``re`` (``regex``, used on the index's hits, where the same
class is ``[\W_]``).  Both find the leftmost hit, and the snippet is the text
from 80 characters before it to 80 after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

MATCHES = ("phrase", "all", "any")
LONGEST_INDEXED_WORD = 39  # bytes: the index drops longer tokens (base64, hashes), so those need a scan

_WORD = re.compile(r"[^\W_]+")
SNIPPET_CONTEXT = 80  # characters either side of the first hit
_WHITESPACE = re.compile(r"[\t\n\f\r ]+")  # RE2's \s, which search.sql collapses
_EDGE_BEFORE = r"(?:^|[^\pL\pN])"
_EDGE_AFTER = r"(?:[^\pL\pN]|$)"
_BETWEEN = r"[^\pL\pN]+"


@dataclass(frozen=True)
class Terms:
    """The words of a query and how they must occur."""

    words: tuple[str, ...]
    match: str = "phrase"  # phrase | all | any

    def pattern(self) -> str:
        """RE2: the phrase (its words in order, only non-letters between), or any one word."""
        if self.match == "phrase":
            core = _BETWEEN.join(self.words)
        else:
            core = "(?:" + "|".join(self.words) + ")"
        return f"(?i){_EDGE_BEFORE}{core}{_EDGE_AFTER}"

    def word_patterns(self) -> list[str]:
        """RE2, one per word (for match='all', every one must be found)."""
        return [f"(?i){_EDGE_BEFORE}{w}{_EDGE_AFTER}" for w in self.words]

    # -------------------------------------------------------------- the same in Python
    def _python(self, core: str) -> re.Pattern:
        return re.compile(r"(?:^|[\W_])" + core + r"(?:[\W_]|\Z)", re.IGNORECASE)

    @cached_property
    def regex(self) -> re.Pattern:
        """``pattern()`` for Python's re."""
        if self.match == "phrase":
            return self._python(r"[\W_]+".join(map(re.escape, self.words)))
        return self._python("(?:" + "|".join(map(re.escape, self.words)) + ")")

    @cached_property
    def word_regexes(self) -> list[re.Pattern]:
        return [self._python(re.escape(w)) for w in self.words]

    def found_in(self, text: str | None) -> bool:
        """Whether ``text`` holds the phrase (match='phrase'), every word ('all') or any word ('any')."""
        if not text:
            return False
        if self.match == "all":
            return all(r.search(text) for r in self.word_regexes)
        return self.regex.search(text) is not None

    def snippet(self, text: str) -> str | None:
        """The text around the first hit, whitespace collapsed (as search.sql cuts it)."""
        m = self.regex.search(text or "")
        if m is None:
            return None
        piece = text[max(m.start() - SNIPPET_CONTEXT, 0): m.end() + SNIPPET_CONTEXT]
        return _WHITESPACE.sub(" ", piece).strip(" ")

    @property
    def indexable(self) -> bool:
        return all(len(w.encode("utf-8")) <= LONGEST_INDEXED_WORD for w in self.words)


def python_words(text: str) -> list[str]:
    """The words of ``text`` by Python's rules (letters and digits, lower case); the index's own tokenizer decides in the end."""
    return [w.lower() for w in _WORD.findall(text)]
