"""Smoke test: bench/timeline.py --quick runs and prints its figures (no timing assertions)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def test_timeline_bench_quick_prints_its_figures():
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "timeline.py"), "--quick", "--sites"],
                          capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert re.search(r"request_timeline: 20,000 rows in [\d.]+ s, [\d,]+ requests/s, [\d.]+x the baseline \(CPU [\d.]+ s, all threads\)", text)
    assert re.search(r"headline: a million requests would take [\d.]+ min for the timeline \(target < 5 min\)", text)
    assert re.fullmatch(r"MISSED: (none|timeline projection .*)", text.strip().splitlines()[-1])
