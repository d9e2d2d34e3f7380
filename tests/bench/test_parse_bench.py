"""Smoke test: bench/parse.py --quick runs and prints its figures (no timing assertions)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def _run(*options: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "parse.py"), "--quick", *options],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_parse_bench_quick_prints_figures():
    proc = _run()
    lines = proc.stdout.strip().splitlines()
    text = proc.stdout
    assert "malloc thresholds pinned" in text  # the script re-executed itself with them set
    assert re.search(r"^extraction: (with the C module|pure Python)", text, re.M)  # which parser was timed
    for label in ("bare Lexbor parse", "full extraction", "bs4 + html.parser"):
        m = re.search(rf"{re.escape(label)}\s*:\s*([0-9.]+) pages/s", text)
        assert m and float(m.group(1)) > 0, label
    assert re.search(r"^all pages, per round: full / bare median [0-9.]+x, quartiles [0-9.]+-[0-9.]+x, range", text, re.M)
    assert re.search(r"^\(a\) full extraction / bare parse = [0-9.]+x", text, re.M)
    assert re.search(r"^\(b\) bs4 extraction / full extraction = [0-9.]+x", text, re.M)
    assert re.search(r"^\(a'\) on current-markup pages = [0-9.]+x   \(target <= 2.5x\)", text, re.M)
    assert re.match(r"headline: full extraction is [0-9.]+x faster than BeautifulSoup", lines[-2])
    assert lines[-1].startswith("MISSED: ")


def test_parse_bench_floor_prints_each_step():
    proc = _run("--floor")
    steps = re.findall(r"^  (checks|one walk|query|texts|records|full) *: ([0-9.]+)x bare$", proc.stdout, re.M)
    assert [name for name, _ in steps] == ["checks", "one walk", "query", "texts", "records", "full"]
    assert all(float(ratio) > 0 for _, ratio in steps)
    assert proc.stdout.strip().splitlines()[-1].startswith("MISSED: ")


def test_generated_pages_stay_within_the_target_size_range():
    """The full run's generated pages are 5-300 KB, from one message up."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_parse", PROJECT_ROOT / "bench" / "parse.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    pages = bench.generated_pages(bench.FULL_SIZES)
    sizes = [len(p) for p in pages]
    assert all(bench.MIN_PAGE_BYTES <= n <= bench.MAX_PAGE_BYTES for n in sizes), sizes
    assert bench.MAX_PAGE_BYTES == 300_000 and bench.MIN_PAGE_BYTES == 5_000
    assert max(sizes) > 250_000  # the large end of the range is exercised
    assert [n for n, _ in bench.FULL_SIZES][0] == 1


def test_parse_bench_times_the_pure_python_parser_when_asked():
    proc = _run("--pure-python")
    assert "extraction: pure Python (the C module is turned off: CORPUS_PURE_PYTHON=1)" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1].startswith("MISSED: ")
