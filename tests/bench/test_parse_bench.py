"""Smoke test: bench/parse.py --quick runs and prints its figures (no timing assertions)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def test_parse_bench_quick_prints_figures():
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "parse.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    text = proc.stdout
    for label in ("bare Lexbor parse", "full extraction", "bs4 + html.parser"):
        m = re.search(rf"{re.escape(label)}\s*:\s*([0-9.]+) pages/s", text)
        assert m and float(m.group(1)) > 0, label
    assert re.search(r"^\(a\) full extraction / bare parse = [0-9.]+x", text, re.M)
    assert re.search(r"^\(b\) bs4 extraction / full extraction = [0-9.]+x", text, re.M)
    assert re.match(r"headline: full extraction is [0-9.]+x faster than BeautifulSoup", lines[-1])
