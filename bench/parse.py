"""Request-page parsing speed: full extraction vs a bare Lexbor parse vs BeautifulSoup.

Run: ``python bench/parse.py`` (or ``--quick`` for a tiny smoke run).

Pages: the 13 real 2019 WhatDoTheyKnow pages (when ../shared/reference is
present) plus current-markup pages made by the sample site's renderer, from
about 13 KB to 282 KB (never outside 5-300 KB; at about 2.2 KB of markup per
message that is up to 128 messages).  Three timings over the same bytes, best of several rounds:

* bare: ``LexborHTMLParser(html)`` only (the floor for any Lexbor parser);
* full: ``scraper.pages.request.parse_request(html)``;
* bs4:  the same fields extracted with BeautifulSoup + html.parser
  (a compact but honest equivalent, defined below).

Times are the thread's CPU time (other processes on a shared machine do not
count), in a process whose glibc malloc thresholds are pinned (the script
re-executes itself with them set; ``--no-pin`` keeps the defaults, under which
the bare parse alone swings about 2x with the allocator's history).  Bare and full alternate page by page in every round, so cache and
allocator state and any remaining noise hit both alike; per page the best round counts, and the
per-round ratios are printed as median, quartiles and range to show the
run-to-run spread.

Targets: full ≤ 2.5× bare on current-markup pages; full ≥ 10× faster than bs4.
The headline gives both; the last line is ``MISSED:``.

``--floor`` adds, before the headline, the least any Lexbor extraction of the
current-markup pages costs, step by step (each step does the one before's work
and more; all steps timed like bare and full):

* checks:  bare + the byte checks every page needs (UTF-8, tag count, page kind, truncation);
* one walk: checks + one pass over the thread column matching nothing and every
  body's text in C: what a walk written in C would cost at least;
* query:   checks + the parser's one thread-wide CSS query, every matched
  node's tag id and attributes;
* texts:   query + every body's text in C (``node.text()``), every attachment box serialised;
* records: texts + the least Python a message needs: its time parsed and a
  ``Message`` built from its text, sender and box (no normalisation, no checks).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bs4 import BeautifulSoup, NavigableString, Tag  # noqa: E402
from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from corpus.sample_site.threads import att, inc, note, out, thread  # noqa: E402
from corpus.sample_site.threads import page as render_page  # noqa: E402
from scraper.pages import request as request_parser  # noqa: E402
from scraper.pages.errors import classify_page  # noqa: E402
from scraper.pages.request import parse_request  # noqa: E402
from scraper.pages.speedups import LEXWALK  # noqa: E402
from scraper.records import Message, ParsedRequest  # noqa: E402

SHARED = Path(os.environ.get("CORPUS_SHARED", ROOT.parent / "shared"))
PAGES_2019 = SHARED / "reference" / "wdtk_2019_request_pages"
GMT = timezone(timedelta(0))
TARGET_FULL_OVER_BARE = 2.5  # on current-markup pages
TARGET_BS4_OVER_FULL = 10

# ------------------------------------------------------------------ generated pages

_WORDS = (
    "the council holds information about the request and will respond within twenty working days "
    "under section 1 of the act we can confirm that some of the data is exempt under section 40 personal data"
).split()


def _paragraphs(seed: int, n: int) -> list[str]:
    out = []
    for p in range(n):
        lines = []
        for line in range(3):
            k = (seed * 7 + p * 3 + line) % len(_WORDS)
            lines.append(" ".join(_WORDS[k:] + _WORDS[:k])[:72])
        out.append("\n".join(lines))
    return out


def generated_pages(sizes: list[tuple[int, int]]) -> list[bytes]:
    """One page per (messages, paragraphs per message), from the sample site's renderer."""
    pages = []
    t0 = datetime(2023, 3, 1, 9, 0, tzinfo=GMT)
    for n_msgs, n_paras in sizes:
        items: list[object] = []
        for i in range(n_msgs):
            when = t0 + timedelta(days=i, minutes=i)
            if i % 2 == 0:
                items.append(out(100_000 + i, when, _paragraphs(i, n_paras), event_type="followup_sent" if i else "sent"))
            else:
                atts = [att(2 + a, f"Response part {a}.pdf", size=f"{50 + a}K") for a in range(i % 3)]
                items.append(inc(200_000 + i, when, _paragraphs(i, n_paras), sender="Jo Bloggs", attachments=atts,
                                 quoted=["Quoted earlier message."] if i % 5 == 1 else None))
            if i % 17 == 16:
                items.append(note(300_000 + i, ("helpful_hannah", "Hannah"), when, ["See https://example.org/x for this."]))
        pages.append(render_page(*thread(items, state="waiting_response", awaiting=True)))
    return pages


# ------------------------------------------------------------------ the bs4 equivalent

_BLOCK = {"p", "div", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "tr"}
_ID = re.compile(r"^(incoming|outgoing|comment)-(\d+)$")


def _bs_text(node: Tag | None) -> str:
    if node is None:
        return ""
    parts: list[str] = []
    for el in node.descendants:
        if isinstance(el, NavigableString):
            if el.previous_sibling is not None and getattr(el.previous_sibling, "name", None) in _BLOCK:
                parts.append("\x00")
            parts.append(str(el))
        elif isinstance(el, Tag) and el.name == "br":
            parts.append("\x01")
        elif isinstance(el, Tag) and el.name in _BLOCK:
            parts.append("\x00")
    paras = []
    for para in "".join(parts).split("\x00"):
        lines = [" ".join(line.split()) for line in para.split("\x01")]
        text = "\n".join(lines).strip("\n")
        if text:
            paras.append(text)
    return re.sub(r"\n{3,}", "\n\n", "\n\n".join(paras))


def _bs_inline(node: Tag | None) -> str:
    return " ".join(node.get_text().split()) if node is not None else ""


def _one(node: Tag | None, selector: str) -> Tag | None:
    return node.select_one(selector) if node is not None else None


def _attr(node: Tag | None, name: str) -> str:
    """An attribute as one string ("" when absent; a multi-valued one joined by spaces)."""
    value = node.get(name) if node is not None else None
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def bs4_extract(html: bytes) -> dict:
    soup = BeautifulSoup(html, "html.parser")
    header = soup.select_one("div.request-header")
    h1 = header.find("h1") if header is not None else None
    out: dict = {"title": _bs_inline(h1 if isinstance(h1, Tag) else None), "messages": [], "annotations": []}
    sub = _one(header, "p.request-header__subtitle")
    for a in sub.select("a") if sub is not None else []:
        href = _attr(a, "href")
        if "/user/" in href:
            out["requester"] = (href.rsplit("/", 1)[-1], _bs_inline(a))
        elif "/body/" in href:
            out["authority"] = (href.rsplit("/", 1)[-1], _bs_inline(a))
    status = _one(header, "#request_status")
    sentence = _one(status, "p")
    out["status"] = [c for c in _attr(status, "class").split() if c.startswith("request-status-message--")]
    out["sentence"] = _bs_inline(sentence)
    t = _one(sentence, "time")
    out["due"] = _attr(t, "datetime") or None
    out["closed"] = _one(sub, "span.request-header__closed_to_correspondence") is not None
    for meta in soup.select("head meta[property]"):
        out[_attr(meta, "property")] = _attr(meta, "content") or None
    left = soup.select_one("#left_column")
    for node in left.select("div.correspondence, div.comment_in_request") if left is not None else []:
        m = _ID.match(_attr(node, "id"))
        if not m:
            continue
        when = _attr(_one(node, "time[datetime]"), "datetime") or None
        if m.group(1) == "comment":
            out["annotations"].append((m.group(2), _bs_inline(_one(node, "h2 a")), when,
                                       _bs_text(_one(node, "div.comment_in_request_text"))))
            continue
        text = _one(node, "div.correspondence_text")
        atts = []
        block = _one(text, "div.attachments")
        if block is not None:
            for li in block.select("li.attachment"):
                links = [_attr(a, "href") for a in li.select("p.attachment__meta a[href]")]
                meta_p = li.select_one("p.attachment__meta")
                size = next((s.strip() for s in meta_p.strings if s.strip()), None) if meta_p else None
                img = li.select_one("img.attachment__image")
                atts.append((_attr(li, "id") or None, _bs_inline(li.select_one("p.attachment__name")), size, links,
                             _attr(img, "src") or None))
            block.decompose()
        body_node = _one(text, 'div[id^="attachment-"]') or text
        unfold = _one(body_node, "span.unfold_link")
        if unfold is not None:
            unfold.decompose()
        delivery = node.select_one("a.toggle-delivery-log")
        out["messages"].append((
            m.group(1), m.group(2), _bs_inline(node.select_one("span.correspondence__header__author")), when,
            node.get("class"), _attr(delivery, "data-delivery-status") or None,
            node.select_one("p.hidden_message") is not None, _bs_text(body_node), unfold is not None, atts,
        ))
    return out


# ------------------------------------------------------------------ the floor (--floor)


def _checks(html: bytes) -> None:
    html.decode("utf-8")
    html.count(b"<")
    classify_page(html)
    request_parser._looks_truncated(html)


def _thread_column(html: bytes):
    _checks(html)
    return LexborHTMLParser(html).css_first("#left_column")


def floor_checks(html: bytes) -> object:
    _checks(html)
    return LexborHTMLParser(html)


def floor_one_walk(html: bytes) -> object:
    left = _thread_column(html)
    left.css("x-none")  # one pass over every element, nothing matched
    return [n.text() for n in left.css("div.correspondence_text")]


def floor_query(html: bytes) -> object:
    return [(n.tag_id, n.attributes) for n in _thread_column(html).css(request_parser._THREAD_QUERY)]


def floor_texts(html: bytes) -> object:
    out = []
    for n in _thread_column(html).css(request_parser._THREAD_QUERY):
        tag_id, attrs = n.tag_id, n.attributes
        cls = attrs.get("class") or ""
        if tag_id == request_parser._DIV and "correspondence_text" in cls:
            out.append(n.text())
        elif tag_id == request_parser._DIV and cls == "attachments":
            out.append(n.html)
    return out


def floor_records(html: bytes) -> object:
    messages: list[Message] = []
    boxes: list[str | None] = []  # serialised, as the parser reads a box
    current = None
    for n in _thread_column(html).css(request_parser._THREAD_QUERY):
        tag_id, attrs = n.tag_id, n.attributes
        cls = attrs.get("class") or ""
        if tag_id == request_parser._DIV and "correspondence " in cls:
            current = Message(message_id=0, direction="incoming", position=len(messages), sender=None,
                              sent_at=None, sent_at_text=None)
            messages.append(current)
        elif current is None:
            continue
        elif tag_id == request_parser._TIME:
            current.sent_at_text = when = attrs.get("datetime") or ""
            current.sent_at = datetime.fromisoformat(when)
        elif tag_id == request_parser._SPAN and "author" in cls:
            current.sender = n.text().strip()
        elif tag_id == request_parser._DIV and "correspondence_text" in cls:
            current.body = n.text()
        elif tag_id == request_parser._DIV and cls == "attachments":
            boxes.append(n.html)
    return messages, boxes


FLOOR_STEPS = (("checks", floor_checks), ("one walk", floor_one_walk), ("query", floor_query),
               ("texts", floor_texts), ("records", floor_records))


def print_floor(pages: list[bytes], rounds: int, repeat: int) -> None:
    fns = [LexborHTMLParser, *(fn for _, fn in FLOOR_STEPS), parse_request]
    per_fn = timings(fns, pages, rounds, repeat)
    bare = best_total(per_fn[0])
    print("floor on current-markup pages (each step adds to the one before; one walk is checks + a C walk's least):")
    for (label, _), t in zip(FLOOR_STEPS, per_fn[1:]):
        print(f"  {label:8s}: {best_total(t) / bare:.2f}x bare")
    print(f"  full    : {best_total(per_fn[-1]) / bare:.2f}x bare")


# ------------------------------------------------------------------ timing

MIN_PAGE_BYTES, MAX_PAGE_BYTES = 5_000, 300_000
# (messages, paragraphs per message): about 13 KB to 282 KB.  Each message of
# the current markup carries about 2.2 KB of header, footer and link markup, so
# 300 KB holds at most about 130 messages.
FULL_SIZES = [(1, 2), (4, 3), (10, 4), (30, 5), (60, 4), (100, 3), (128, 1)]
QUICK_SIZES = [(2, 1), (20, 3)]


def timings(fns, pages: list[bytes], rounds: int, repeat: int) -> list[list[list[float]]]:
    """CPU seconds per call: ``result[k][r][i]`` for function k, round r, page i.

    Timed with the thread's CPU clock, not the wall clock: on a shared machine
    the wall clock also counts the time other processes hold the core.
    Functions alternate page by page inside every round (A/B interleaving), so
    a burst of load on a shared machine hits them alike.
    """
    out = [[[0.0] * len(pages) for _ in range(rounds)] for _ in fns]
    clock = time.thread_time  # CPU time of this thread: other processes' load does not count
    for r in range(rounds):
        for i, page in enumerate(pages):
            for k, fn in enumerate(fns):
                t = clock()
                for _ in range(repeat):
                    fn(page)
                out[k][r][i] = (clock() - t) / repeat
    return out


def best_total(per_round: list[list[float]], subset: range | None = None) -> float:
    """Sum over pages of each page's best time over the rounds."""
    pages = subset if subset is not None else range(len(per_round[0]))
    return sum(min(rnd[i] for rnd in per_round) for i in pages)


def round_ratios(num: list[list[float]], den: list[list[float]], subset: range | None = None) -> list[float]:
    """Per round, (sum of num over pages) / (sum of den over pages)."""
    pages = subset if subset is not None else range(len(num[0]))
    return [sum(a[i] for i in pages) / sum(b[i] for i in pages) for a, b in zip(num, den)]


def spread(values: list[float]) -> str:
    v = sorted(values)
    q1, q3 = v[len(v) // 4], v[(3 * len(v)) // 4]
    return f"median {statistics.median(v):.2f}x, quartiles {q1:.2f}-{q3:.2f}x, range {v[0]:.2f}-{v[-1]:.2f}x over {len(v)} rounds"


# glibc reads these at start-up; fixed values stop its dynamic mmap threshold
# from flipping a Lexbor document's memory between reused heap and fresh
# kernel pages (page faults), which made the bare parse of the same page cost
# 1.1 ms in one run and 2.7 ms in the next.
PINNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(256 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny run: few pages, one round (a smoke test)")
    ap.add_argument("--no-pin", action="store_true", help="keep glibc's default (dynamic) malloc thresholds")
    ap.add_argument("--floor", action="store_true", help="also time the least any extraction costs, step by step")
    ap.add_argument("--pure-python", action="store_true",
                    help="time the extraction without the C module (as CORPUS_PURE_PYTHON=1 does)")
    args = ap.parse_args(argv)
    raw_argv = sys.argv[1:] if argv is None else list(argv)
    wanted_env = {**(PINNED_MALLOC if not args.no_pin else {}), **({"CORPUS_PURE_PYTHON": "1"} if args.pure_python else {})}
    if any(os.environ.get(k) != v for k, v in wanted_env.items()):  # the parser reads CORPUS_PURE_PYTHON at import
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *raw_argv], {**os.environ, **wanted_env})
    pinned = all(os.environ.get(k) == v for k, v in PINNED_MALLOC.items())

    real = [p.read_bytes() for p in sorted(PAGES_2019.glob("*.html"))] if PAGES_2019.is_dir() else []
    if args.quick:
        sizes = QUICK_SIZES
        real = real[:3]
        rounds, repeat, bs_rounds = 1, 1, 1
    else:
        sizes = FULL_SIZES
        rounds, repeat, bs_rounds = 15, 2, 2
    gen = generated_pages(sizes)
    for page, (n_msgs, _) in zip(gen, sizes):
        if not MIN_PAGE_BYTES <= len(page) <= MAX_PAGE_BYTES:
            raise SystemExit(f"generated page with {n_msgs} messages is {len(page)} bytes, outside "
                             f"{MIN_PAGE_BYTES}-{MAX_PAGE_BYTES}; adjust FULL_SIZES")
    pages = real + gen

    for p in pages:  # every page must parse fully, or the timings mean nothing
        result = parse_request(p)
        assert isinstance(result, ParsedRequest), result

    print(f"pages: {len(real)} real 2019 ({_kb_range(real)}) + {len(gen)} generated current-markup "
          f"({_kb_range(gen)}, up to {max(n for n, _ in sizes)} messages); {sum(map(len, pages)) / 1e6:.2f} MB in all")
    print("extraction: " + ("with the C module scraper.pages._lexwalk" if LEXWALK is not None else
                            "pure Python (the C module is " + ("turned off: CORPUS_PURE_PYTHON=1)" if
                                                                os.environ.get("CORPUS_PURE_PYTHON") == "1" else
                                                                "not built or not usable here)")))
    print(f"timing: thread CPU time, {rounds} rounds x {repeat} calls per page, bare and full interleaved "
          "page by page; per page the best round counts; malloc thresholds "
          + ("pinned" if pinned else "glibc defaults (bare parse times swing with allocator state)"))

    bare_t, full_t = timings([LexborHTMLParser, parse_request], pages, rounds, repeat)
    bs4_t = timings([bs4_extract], pages, bs_rounds, 1)[0]
    bare, full, bs4 = best_total(bare_t), best_total(full_t), best_total(bs4_t)
    n = len(pages)
    print(f"bare Lexbor parse : {n / bare:9.1f} pages/s")
    print(f"full extraction   : {n / full:9.1f} pages/s")
    print(f"bs4 + html.parser : {n / bs4:9.1f} pages/s")
    groups = (("real 2019", range(0, len(real))), ("generated", range(len(real), n)))
    for label, subset in groups:
        if len(subset):
            ratio = best_total(full_t, subset) / best_total(bare_t, subset)
            print(f"  {label:9s}: full / bare = {ratio:.2f}x   (per round: {spread(round_ratios(full_t, bare_t, subset))})")
    if gen:
        print("  generated pages, one by one (best round):")
        for i, (n_msgs, _) in zip(range(len(real), n), sizes):
            b, f = best_total(bare_t, range(i, i + 1)), best_total(full_t, range(i, i + 1))
            print(f"    {len(pages[i]) / 1024:6.1f} KB, {n_msgs:3d} messages: bare {b * 1e3:6.2f} ms, "
                  f"full {f * 1e3:6.2f} ms, full / bare = {f / b:.2f}x")
    print(f"all pages, per round: full / bare {spread(round_ratios(full_t, bare_t))}")
    current = range(len(real), n) if gen else range(n)
    current_ratio = best_total(full_t, current) / best_total(bare_t, current)
    missed = []
    print(f"(a) full extraction / bare parse = {full / bare:.2f}x, all pages")
    print(f"(a') on current-markup pages = {current_ratio:.2f}x   (target <= {TARGET_FULL_OVER_BARE}x)")
    if current_ratio > TARGET_FULL_OVER_BARE:
        missed.append(f"full / bare on current markup {current_ratio:.2f}x (target <= {TARGET_FULL_OVER_BARE}x)")
    print(f"(b) bs4 extraction / full extraction = {bs4 / full:.1f}x   (target >= {TARGET_BS4_OVER_FULL}x)")
    if bs4 / full < TARGET_BS4_OVER_FULL:
        missed.append(f"bs4 / full {bs4 / full:.1f}x (target >= {TARGET_BS4_OVER_FULL}x)")
    if args.floor:
        print_floor(gen or pages, rounds, repeat)
    print(f"headline: full extraction is {bs4 / full:.1f}x faster than BeautifulSoup, at {current_ratio:.2f}x a bare "
          f"Lexbor parse on current markup (target <= {TARGET_FULL_OVER_BARE}x)")
    print("MISSED: " + ("; ".join(missed) if missed else "none"))
    return 0


def _kb_range(pages: list[bytes]) -> str:
    if not pages:
        return "none"
    kb = sorted(len(p) / 1024 for p in pages)
    return f"{kb[0]:.0f}-{kb[-1]:.0f} KB"


if __name__ == "__main__":
    raise SystemExit(main())
