"""Smoke test: bench/sync.py --quick runs against the sample site and prints its figures (no timing assertions)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def test_sync_bench_quick_prints_figures():
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "sync.py"), "--quick"],
                          capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    share = re.search(r"^achieved rate: [0-9.]+ req/s = ([0-9.]+) of the allowed rate", text, re.M)
    assert share and 0 < float(share.group(1)) <= 1.2
    per = re.search(r"^requests per new thread: ([0-9.]+)", text, re.M)
    assert per and float(per.group(1)) >= 2.0  # a page and its JSON at least
    again = re.search(r"^second run, unchanged site: (\d+) thread pages fetched again .*?, (\d+) requests", text, re.M)
    assert again and int(again.group(2)) >= 1
    rss = re.findall(r"peak RSS.*?: ([0-9]+) MB", text)
    assert len(rss) == 2 and all(int(x) > 10 for x in rss)
    lines = text.strip().splitlines()
    assert re.match(r"headline: [0-9.]+ of the allowed rate, [0-9.]+ requests per thread, re-run \d+ requests, "
                    r"peak RSS \d+ MB", lines[-2])
    assert re.match(r"MISSED: (none|[a-z -]+(, [a-z -]+)*)$", lines[-1]), lines[-1]
