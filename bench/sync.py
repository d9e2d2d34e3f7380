"""Sync benchmark: `corpus sync` against the sample site served by another process.

    python bench/sync.py [--quick]

Figures (each printed on its own line, the headline last):

* achieved rate as a share of the allowed --rate (target >= 0.9), first run of
  a 2,000-thread site at --rate 50;
* HTTP requests per new thread (target <= 2.1: page, JSON and a share of a
  listing page);
* a second run over the unchanged site: thread pages fetched again (target 0)
  and total requests (target <= threads/25 + 5);
* peak RSS of the sync process at 2,000 threads, and again for a site ten
  times larger (20,000 threads) synced at a high local rate: the larger run
  within 1.1x of the smaller (flat), and both under 250 MB.

The site runs as ``python -m corpus.sample_site`` in its own process so it does
not compete with the sync inside one interpreter.  The last line is
``MISSED: ...`` naming every target missed (``MISSED: none`` when all are met).
``--quick`` shrinks every size for a smoke test (its figures mean little).  At
full size the run takes about 7 minutes on a 2-core machine, most of it the
20,000-thread sync.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import cli_env  # noqa: E402
from corpus.sample_site import generate_corpus  # noqa: E402

FLAT = 1.1  # peak memory at 10x the threads may grow this much and still count as flat
PEAK_MB = 250  # peak memory of either sync

SUMMARY = re.compile(r"(\d+) fetched \((\d+) new, (\d+) updated, (\d+) unchanged\).*?(\d+) requests in ([\d.]+) s \(([\d.]+) req/s\)", re.S)


class Site:
    """``python -m corpus.sample_site --generate N`` in a child process."""

    def __init__(self, n: int, seed: int):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "corpus.sample_site", "--generate", str(n), "--seed", str(seed)],
            stdout=subprocess.PIPE, text=True, env=cli_env(), cwd=ROOT)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            raise SystemExit(f"the sample site did not start (said {self.url!r})")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_sync(site_url: str, db: Path, authorities: list[str], rate: float) -> dict:
    args = [sys.executable, "-m", "corpus.cli", "sync", "--site", site_url, "--db", str(db), "--rate", f"{rate:g}",
            "--quiet", *[a for s in authorities for a in ("--authority", s)]]
    started = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=ROOT)
    out, err = proc.communicate()
    # the exit status was collected by communicate(); ask the kernel for this child's own peak RSS
    elapsed = time.monotonic() - started
    rss_kb = _child_peak_rss_kb(proc.pid)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"corpus sync exited {proc.returncode}: {err.strip()[-500:]}")
    m = SUMMARY.search(out)
    if not m:
        raise SystemExit(f"no summary in the sync output: {out[-500:]!r}")
    fetched, new, updated, unchanged, requests, secs, achieved = m.groups()
    return {"fetched": int(fetched), "new": int(new), "updated": int(updated), "unchanged": int(unchanged),
            "requests": int(requests), "net_seconds": float(secs), "achieved": float(achieved),
            "elapsed": elapsed, "rss_mb": rss_kb / 1024 if rss_kb else float("nan")}


_rss_by_pid: dict[int, int] = {}


def _child_peak_rss_kb(pid: int) -> int | None:
    return _rss_by_pid.pop(pid, None)


def _install_wait4_hook():
    """Make Popen collect children with os.wait4, keeping each child's own ru_maxrss."""
    real_waitpid = os.waitpid

    def waitpid(pid, options):
        if pid > 0:
            got, status, usage = os.wait4(pid, options)
            if got:
                _rss_by_pid[got] = usage.ru_maxrss
            return got, status
        return real_waitpid(pid, options)

    subprocess.os.waitpid = waitpid  # only subprocess's view of os is patched


def truth_counts(n: int, seed: int):
    corpus = generate_corpus(n, seed=seed)
    listed = [r for r in corpus.requests if r.prominence == "normal" and r.indexed_events()]
    return sorted(corpus.authorities), len(listed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark corpus sync against the sample site.")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not a measurement")
    ap.add_argument("--rate", type=float, default=50.0, help="allowed rate of the first run (default 50)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    small, large = (50, 250) if args.quick else (2000, 20000)
    high_rate = 2000.0
    _install_wait4_hook()
    work = Path(tempfile.mkdtemp(prefix="bench_sync_"))
    try:
        authorities, n_threads = truth_counts(small, args.seed)
        site = Site(small, args.seed)
        try:
            first = run_sync(site.url, work / "small.duckdb", authorities, args.rate)
            second = run_sync(site.url, work / "small.duckdb", authorities, args.rate)
        finally:
            site.stop()
        big_authorities, big_threads = truth_counts(large, args.seed)
        site = Site(large, args.seed)
        try:
            big = run_sync(site.url, work / "large.duckdb", big_authorities, high_rate)
        finally:
            site.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    share = first["achieved"] / args.rate
    per_thread = first["requests"] / max(first["new"], 1)
    allowed_second = n_threads / 25 + 5
    growth = big["rss_mb"] / first["rss_mb"]
    peak = max(first["rss_mb"], big["rss_mb"])
    missed = [name for name, ok in (
        ("rate", share >= 0.9), ("requests per thread", per_thread <= 2.1),
        ("re-run thread pages", second["fetched"] == 0), ("re-run requests", second["requests"] <= allowed_second),
        ("peak memory", peak < PEAK_MB), ("memory growth", growth <= FLAT)) if not ok]
    print(f"site: {n_threads} listed threads ({small} generated), first run at --rate {args.rate:g}")
    print(f"first run: {first['new']} new threads, {first['requests']} requests in {first['net_seconds']:.1f} s "
          f"({first['elapsed']:.1f} s with start-up)")
    print(f"achieved rate: {first['achieved']:.2f} req/s = {share:.2f} of the allowed rate (target >= 0.9)")
    print(f"requests per new thread: {per_thread:.3f} (target <= 2.1)")
    print(f"second run, unchanged site: {second['fetched']} thread pages fetched again (target 0), "
          f"{second['requests']} requests (target <= {allowed_second:.0f})")
    print(f"peak RSS of the sync process: {first['rss_mb']:.0f} MB for {n_threads} threads "
          f"(target < {PEAK_MB} MB)")
    print(f"peak RSS at {big_threads} threads (--rate {high_rate:g}, {big['new']} new, {big['elapsed']:.0f} s): "
          f"{big['rss_mb']:.0f} MB = {growth:.2f}x the {n_threads}-thread run (target: flat, <= {FLAT:.1f}x, "
          f"and < {PEAK_MB} MB)")
    print(f"headline: {share:.2f} of the allowed rate, {per_thread:.2f} requests per thread, "
          f"re-run {second['requests']} requests, peak RSS {peak:.0f} MB "
          f"({growth:.2f}x from {n_threads} to {big_threads} threads)")
    print("MISSED: " + (", ".join(missed) if missed else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
