"""The optional C module ``scraper.pages._lexwalk``, set up over selectolax's Lexbor, and its byte helpers.

``setup.py`` builds ``_lexwalk`` from ``_lexwalk.c`` when a C compiler is
found.  It reads the tree selectolax has parsed, through Lexbor's exported
accessors, and does what the Python walks in ``text`` and ``request`` do, step
for step; those stay the reference and the fallback, and the tests compare the
two.  ``LEXWALK`` is the module once :func:`load` has found Lexbor's accessors
and where a text node keeps its text, else None: never built, a selectolax that
keeps them elsewhere, or ``CORPUS_PURE_PYTHON=1`` (to compare, or to rule the
module out).
"""

from __future__ import annotations

import os
import re
from types import ModuleType

import selectolax.lexbor
from selectolax.lexbor import LexborHTMLParser

__all__ = ["LEXWALK", "count_byte", "request_ids", "utf8_valid"]

_PROBE = "probe \u00e9\u20ac walk"


def load() -> ModuleType | None:
    if os.environ.get("CORPUS_PURE_PYTHON") == "1":
        return None
    try:
        from scraper.pages import _lexwalk
    except ImportError:
        return None
    # A probe whose nodes around it differ: links and tags are found on them (_lexwalk.c, find_fields).
    p = LexborHTMLParser(f"<!DOCTYPE html><html><head><title>t</title></head><body><div>a<b>b</b>"
                         f"<p>{_PROBE}<i>i</i></p><em>c</em></div></body></html>").css_first("p")
    text = p.child if p is not None else None
    if text is None:
        return None
    try:
        _lexwalk.setup(selectolax.lexbor.__file__, text.mem_id, _PROBE.encode())
    except (ImportError, TypeError):  # Lexbor lacks what the walk reads, or a build older than this file
        return None
    return _lexwalk


LEXWALK = load()


def count_byte(data: bytes, byte: int) -> int:
    """``data.count(bytes([byte]))``, in C when it is built (several times faster)."""
    if LEXWALK is not None:
        return LEXWALK.count_byte(data, byte)
    return data.count(bytes((byte,)))


def utf8_valid(data: bytes) -> bool:
    """Whether ``data.decode("utf-8")`` succeeds, without making the string when the C module is built."""
    if LEXWALK is not None:
        return LEXWALK.utf8_valid(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def request_ids(data: bytes, end: int, pattern: re.Pattern[bytes]) -> list[bytes]:
    """``pattern.findall(data, 0, end)`` for ``rb"/request/(\\d+)/(?:response|followups|report)/"``, in C when built."""
    if LEXWALK is not None:
        return LEXWALK.request_ids(data, end)
    return pattern.findall(data, 0, end)
