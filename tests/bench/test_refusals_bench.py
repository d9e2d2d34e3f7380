"""Smoke test: the refusal benchmark runs with --quick and prints every figure and the MISSED line.

No score or timing is asserted here; tests/corpus/test_refusal_eval.py holds the accuracy bars.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_refusals_bench_quick_prints_its_figures():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "refusals.py"), "--quick", "--misses", "tune"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for name in ("TEST split (frozen) A", "TEST split (frozen) B", "TUNING split", "TUNING set C"):
        assert name in text
    assert re.search(r"precision\s+[\d.]+\s+\(target >= 0\.95\)\s+every-section-number baseline [\d.]+", text)
    assert re.search(r"recall\s+[\d.]+\s+\(no target\)\s+every-section-number baseline [\d.]+", text)
    assert re.search(r"role accuracy\s+[\d.]+", text)
    assert re.search(r"speed: [\d.]+ ms per letter with roles; finding the mentions alone [\d.]+ ms \([\d.]+x\)", text)
    assert text.rstrip().splitlines()[-1].startswith("MISSED: ")
