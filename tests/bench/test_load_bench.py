"""Smoke tests: the load and reparse benchmarks run with --quick and print their figures.

No timing is asserted here; the figures are for people reading the output.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick"], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_load_bench_quick_prints_its_figures():
    text = _run("load.py")
    assert re.search(r"baseline \(row-at-a-time INSERT, 100 threads\): [\d,]+ threads/s", text)
    assert re.search(r"bulk load \(2,000 threads.*[\d,]+ threads/s, [\d,]+ messages/s \[2000 new threads", text)
    assert re.search(r"re-load of the same threads \(nothing new\).*\[0 new threads, 0 changed, 2000 unchanged; 0 new messages", text)
    assert re.search(r"re-load / first load speed: [\d.]+x", text)
    last = text.strip().splitlines()[-1]
    assert re.fullmatch(r"headline: bulk load is [\d.]+x the row-at-a-time baseline \(target >= 30x\)", last)


def test_reparse_bench_quick_prints_its_figures():
    pytest.importorskip("scraper.pages.request")
    text = _run("reparse.py")
    assert re.search(r"stored [\d,]+ pages", text)
    assert re.search(r"first rebuild .*: 300 pages in [\d.]+ s with \d+ workers \[300 threads, 0 failures", text)
    again = text[text.index("rebuild again"):]
    assert re.search(r"\[300 threads, 0 failures; 0 new threads, 0 changed, 300 unchanged.*; 0 texts scanned", again)
    for stage in ("parse", "load", "attachments", "timeline", "citations"):
        assert re.search(rf"\n  {stage} +[\d.]+ +[\d.]+ min", again), stage
    headline, missed = text.strip().splitlines()[-2:]
    assert re.fullmatch(r"headline: a rebuild of a million threads would take [\d.]+ min .*target < 20 min", headline)
    assert missed.startswith("MISSED: ")
