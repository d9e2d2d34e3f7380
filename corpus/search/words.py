"""Words, and the regular expressions that check a search hit against the text.

A word is a run of letters and digits (Unicode categories L and N); anything
else separates words, and case is ignored.  The index tokenizes the same way
(Tantivy's simple tokenizer, then lower case), and every hit it returns is
checked against the stored text with these expressions (RE2, run by DuckDB), so
a phrase hit is a phrase in the text, not words that merely occur together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MATCHES = ("phrase", "all", "any")
LONGEST_INDEXED_WORD = 39  # bytes: the index drops longer tokens (base64, hashes), so those need a scan

_WORD = re.compile(r"[^\W_]+")
_EDGE_BEFORE = r"(?:^|[^\pL\pN])"
_EDGE_AFTER = r"(?:[^\pL\pN]|$)"
_BETWEEN = r"[^\pL\pN]+"


@dataclass(frozen=True, slots=True)
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

    def snippet_pattern(self) -> str:
        """RE2 whose leftmost match is the first hit with up to 80 characters either side."""
        return "(?s).{0,80}" + self.pattern() + ".{0,80}"

    @property
    def indexable(self) -> bool:
        return all(len(w.encode("utf-8")) <= LONGEST_INDEXED_WORD for w in self.words)


def python_words(text: str) -> list[str]:
    """The words of ``text`` by Python's rules (letters and digits, lower case); the index's own tokenizer decides in the end."""
    return [w.lower() for w in _WORD.findall(text)]
