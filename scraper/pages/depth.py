"""How deeply a page's elements nest, estimated from the bytes before any parse (pure).

An HTML parser keeps a stack of open elements, and many start tags (``div``,
``section``, ``ul``, ``blockquote``...) look down the whole stack for an open
``p``.  A page nested N deep therefore costs about N² steps to parse: 200,000
nested ``<div>``s (2.2 MB) take Lexbor over a minute.  Real request pages nest
about 22 deep, so ``nesting_depth`` lets the parser refuse anything past
``MAX_DEPTH`` before it builds a tree.

The estimate needs no tree and runs at C speed over a list of tag names:

* comments and the contents of raw-text elements (``script``, ``style``,
  ``textarea``, ``title``...) are cut out first, so markup-like text inside
  them counts for nothing (in either direction);
* void elements (``br``, ``img``...), elements whose end tag may be left out
  (``p``, ``li``, ``td``...) and SVG leaf shapes are not counted: the parser
  closes them by itself;
* every other start tag adds one, every end tag takes one away, never below
  zero (a stray end tag at the top level closes nothing);
* end tags of a name that outnumber its start tags are strays the parser
  ignores: each could hide one level, so their excess is added back.

It over-counts elements the parser closes implicitly (safe: a real page
stays far below the limit) and is meant as a guard, not a measurement.

``too_deep`` applies it only where it matters: a page with at most
``SCAN_ABOVE_TAGS`` tags parses in well under a quarter of a second however
it nests, so only bigger pages pay for the scan (in C, about 0.3 ms for 280 KB,
a quarter of its parse; in Python, where the C module is missing, 1.4 ms).
It also refuses a page whose tags times depth passes ``MAX_WORK``, the
parser's steps being about that product.
"""

from __future__ import annotations

import re
from collections import Counter

from scraper.pages.speedups import LEXWALK, count_byte

# Real WhatDoTheyKnow request pages nest 22 deep (2019 and today); the limit
# leaves ample room for browser-saved and web-archive copies, which wrap the
# page in a few more levels.
MAX_DEPTH = 256
# Below this many "<", the worst nesting parses in about a tenth of a second
# (thread CPU time on the 2-core test machine, Dec 2026: 6,000 nested <div>s
# 0.04 s, 10,000 0.12 s, 12,000 0.17 s; it grows with the square): no scan
# needed.  Real pages have about 22 tags a KB, so only threads over about
# 450 KB are scanned.
SCAN_ABOVE_TAGS = 10_000
# Tags x depth: about a second of parsing.  A 300 KB real page is near 8,000 x 22.
MAX_WORK = 300_000_000

_TAG = re.compile(rb"<(/?[a-z][a-z0-9]*)")  # on the lower-cased page
_OPENER = re.compile(rb"<!--|<(script|style|textarea|title|xmp|iframe|noembed|noframes)[\s/>]")
_NOT_COUNTED = frozenset(
    (
        # void elements
        b"area base br col embed hr img input link meta param source track wbr keygen frame basefont bgsound "
        # end tag optional: the parser closes them when a sibling or the parent ends
        b"p li dt dd option optgroup tr td th thead tbody tfoot colgroup caption rb rt rp rtc html head body "
        # SVG leaves, usually written self-closing (<path ... />)
        b"path circle rect line polyline polygon ellipse use stop image"
    ).split()
)


def _weights() -> dict[bytes, int]:
    w: dict[bytes, int] = {}
    for name in _NOT_COUNTED:
        w[name] = 0
        w[b"/" + name] = 0
    return w


_WEIGHTS = _weights()


def _without_raw_text(lower: bytes) -> bytes:
    """``lower`` with comments and raw-text elements (start tag to end tag) cut out."""
    out: list[bytes] = []
    pos = 0
    search = _OPENER.search
    while (m := search(lower, pos)) is not None:
        out.append(lower[pos : m.start()])
        name = m.group(1)
        end_marker = b"-->" if name is None else b"</" + name
        close = lower.find(end_marker, m.end())
        if close < 0:
            return b"".join(out)  # unterminated: the rest is text to the parser too
        pos = close + len(end_marker)
    if not out:
        return lower
    out.append(lower[pos:])
    return b"".join(out)


_CHUNK = 1 << 19  # scan this many bytes at a time, so a deep page is refused early


def nesting_depth(html: bytes, stop: int | None = None) -> int:
    """An upper-leaning estimate of the deepest element nesting in ``html``.

    With ``stop``, returns as soon as the running estimate passes it (the
    value returned is then only known to be over ``stop``).  In one pass in C
    when ``_lexwalk`` is built, else :func:`nesting_depth_python` (the same value).
    """
    if LEXWALK is not None:
        return LEXWALK.nesting_depth(html, -1 if stop is None else stop, _NOT_COUNTED)
    return nesting_depth_python(html, stop)


def nesting_depth_python(html: bytes, stop: int | None = None) -> int:
    """:func:`nesting_depth` in Python: the reference the C scan is tested against."""
    text = _without_raw_text(html.lower())
    weights = _WEIGHTS
    counts: Counter[bytes] = Counter()
    step: dict[bytes, int] = {}
    depth = deepest = 0
    pos, n = 0, len(text)
    while pos < n:
        end = text.find(b"<", pos + _CHUNK) if n - pos > _CHUNK else -1
        end = n if end < 0 else end
        tokens = _TAG.findall(text, pos, end)
        pos = end
        chunk_counts = Counter(tokens)
        counts.update(chunk_counts)
        for token in chunk_counts:
            if token not in step:
                step[token] = weights.get(token, -1 if token[:1] == b"/" else 1)
        for token in tokens:
            depth += step[token]
            if depth < 0:
                depth = 0  # an end tag with nothing open closes nothing
            elif depth > deepest:
                deepest = depth
                if stop is not None and deepest > stop:
                    return deepest
    strays = 0
    for token, count in counts.items():
        if token[:1] == b"/" and step[token]:
            excess = count - counts.get(token[1:], 0)
            if excess > 0:
                strays += excess
    return deepest + strays


def too_deep(html: bytes) -> str | None:
    """Why ``html`` would take too long to parse (one sentence), or None when it is safe."""
    tags = count_byte(html, 0x3C)  # "<"
    if tags <= SCAN_ABOVE_TAGS:
        return None
    allowed = min(MAX_DEPTH, MAX_WORK // tags)
    depth = nesting_depth(html, stop=allowed)
    if depth > MAX_DEPTH:
        return (f"elements nest about {depth} deep, past the {MAX_DEPTH} allowed (request pages nest about 22); "
                "not parsed, as such a page takes minutes to parse")
    if depth > allowed:
        return (f"{tags} tags nested {depth} deep would take too long to parse (limit: tags x depth "
                f"{MAX_WORK:,}); not parsed")
    return None
