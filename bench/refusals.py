"""Refusal citations: grounds relied on, and role accuracy, on labelled letters.

    python bench/refusals.py                  # every set, speed, MISSED line
    python bench/refusals.py --misses tune    # also list the letters where tune disagrees
    python bench/refusals.py --quick          # a few letters of each set (the tests run this)

Sets: two frozen test splits, never tuned on: A (tests/data/refusal_letters_test.toml)
and B (refusal_letters_test_b.toml, written blind by another hand); the TUNING
split (refusal_letters_tune.toml) and tuning set C (refusal_letters_tune_c.toml);
and the authority messages of the real 2019 WhatDoTheyKnow pages (labels in
refusal_real_2019.toml, text read from ../shared/reference at run time; skipped
when absent).

For each set: precision and recall of the grounds relied on (role relied_on or
upheld), at section level (EIR/EI(S)R at exception level), and the share of
labelled grounds given the right role; beside them the "every section number"
baseline, which counts every ground the extractor finds whatever its role.
Speed: milliseconds per letter for the full extractor, against finding the
mentions alone (no roles), measured in the same run.  Targets (frozen test
splits A and B): precision >= 0.95 and recall >= 0.95.  The last line lists
missed targets.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corpus.derive import refusals  # noqa: E402
from corpus.derive.refusal_eval import Letter, evaluate, load_letters, load_real_2019  # noqa: E402
from corpus.derive.refusal_text import prepare  # noqa: E402

DATA = ROOT / "tests" / "data"
SHARED = Path(os.environ.get("CORPUS_SHARED", ROOT.parent / "shared"))
PAGES_2019 = SHARED / "reference" / "wdtk_2019_request_pages"
TARGETS = {
    "test": {"precision": 0.95, "recall": 0.95},
    "testb": {"precision": 0.95, "recall": 0.95},
}
NAMES = {
    "test": "TEST split (frozen) A",
    "testb": "TEST split (frozen) B, written blind",
    "tune": "TUNING split",
    "tunec": "TUNING set C",
    "real": "real 2019 messages",
}


def load_sets(quick: bool) -> dict[str, list[Letter]]:
    sets = {
        "test": load_letters(DATA / "refusal_letters_test.toml"),
        "testb": load_letters(DATA / "refusal_letters_test_b.toml"),
        "tune": load_letters(DATA / "refusal_letters_tune.toml"),
        "tunec": load_letters(DATA / "refusal_letters_tune_c.toml"),
    }
    if PAGES_2019.is_dir():
        sets["real"] = load_real_2019(DATA / "refusal_real_2019.toml", PAGES_2019)
    else:
        print(f"real 2019 pages not found at {PAGES_2019}: that set is skipped (set CORPUS_SHARED)")
    if quick:
        sets = {k: v[:12] for k, v in sets.items()}
    return sets


def _mentions_only(letter: Letter) -> None:
    text = prepare(letter.text)
    list(refusals._mentions(text, refusals._letter_regime(text, letter.regime)))


def ms_per_letter(letters: list[Letter], fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for letter in letters:
            fn(letter)
        best = min(best, (time.perf_counter() - t) / len(letters))
    return best * 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few letters of each set, one timing pass")
    ap.add_argument("--misses", choices=sorted(NAMES), action="append", default=[],
                    help="list the letters of this set where extractor and label disagree")
    args = ap.parse_args(argv)
    sets = load_sets(args.quick)
    missed: list[str] = []
    for key, letters in sets.items():
        score = evaluate(letters)
        base = evaluate(letters, every_row_counts=True)
        wanted = score.true_pos + score.false_neg
        hard = sum(1 for x in letters if x.hard)
        print(f"\n{NAMES[key]}: {len(letters)} letters ({hard} with a hard kind), {wanted} grounds relied on, "
              f"{score.roles_labelled} grounds labelled")
        for metric, value, baseline in (("precision", score.precision, base.precision), ("recall", score.recall, base.recall)):
            target = TARGETS.get(key, {}).get(metric)
            note = f"target >= {target:.2f}" if target is not None else "no target"
            print(f"  {metric:<14} {value:.3f}   ({note})   every-section-number baseline {baseline:.3f}")
            if target is not None and value < target:
                missed.append(f"{key} {metric} {value:.3f} < {target:.2f}")
        print(f"  {'role accuracy':<14} {score.role_accuracy:.3f}   (no target)   baseline (every ground relied on) {base.role_accuracy:.3f}")
        print(f"  relied on: {score.true_pos} found, {score.false_pos} wrongly, {score.false_neg} missed")
        if key in args.misses:
            for ident, expected, found in score.misses:
                print(f"    {ident}: labelled {expected}; found {found}")
    every = [x for letters in sets.values() for x in letters]
    repeats = 1 if args.quick else 5
    full = ms_per_letter(every, lambda x: refusals.extract_citations(x.text, x.regime, request_texts=x.request), repeats)
    bare = ms_per_letter(every, _mentions_only, repeats)
    print(f"\nspeed: {full:.3f} ms per letter with roles; finding the mentions alone {bare:.3f} ms "
          f"({full / bare:.2f}x), over {len(every)} letters, best of {repeats}")
    print("MISSED: " + ("; ".join(missed) if missed else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
