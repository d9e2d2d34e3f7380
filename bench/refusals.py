"""Precision and recall of refusal-citation extraction on the labelled set.

    python bench/refusals.py [tests/data/refusals_labelled.jsonl]

Prints the scores and every message where the extractor and the label differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from corpus.derive.refusals import evaluate

DEFAULT = Path(__file__).resolve().parent.parent / "tests" / "data" / "refusals_labelled.jsonl"


def main(path: Path = DEFAULT) -> int:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    score = evaluate(rows)
    cited = sum(1 for r in rows if r["expected"])
    print(f"labelled messages: {len(rows)} ({cited} citing at least one ground, {len(rows) - cited} citing none)")
    print(f"citations expected: {score.true_pos + score.false_neg}, found: {score.true_pos + score.false_pos}")
    print(f"precision: {score.precision:.3f}   recall: {score.recall:.3f}")
    for i, source, expected, found in score.misses:
        print(f"  row {i} [{source}]: expected {expected}, found {found}")
        print(f"    {rows[i]['text'][:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
