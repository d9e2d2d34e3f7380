"""Run Python code in a fresh process and measure its whole process tree: time and peak memory.

Two memory figures, because neither alone is enough:

* ``tree_mb`` -- the largest sum of resident memory over the process and all
  its descendants, sampled every 10 ms from ``/proc`` (it sees the tree at
  once, but could miss a spike shorter than a sample);
* ``process_mb`` -- the exact peak resident memory of the single largest
  process in the tree, which no spike escapes: the measured code ends with
  :data:`REPORT_MAXRSS`, reading ``getrusage`` for itself and for every
  descendant it waited for (its workers, and their Tesseract runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    out: dict
    seconds: float
    tree_mb: float
    process_mb: float


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(k) for k in fh.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return kids


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def tree_rss(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _rss(current)
        todo.extend(_children(current))
    return total


def run_measured(code: str, *args: str, timeout: float = 240, env: dict[str, str] | None = None) -> Measured:
    """Run ``code`` (which prints one JSON object last) with ``args``; measure it."""
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, [full_env.get("PYTHONPATH")])])
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            done.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        done.set()
        sampler.join()
    seconds = time.monotonic() - started
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    result = json.loads(out.decode().strip().splitlines()[-1])
    return Measured(result, seconds, peak / 2**20, float(result.get("maxrss_mb", 0.0)))


#: Code that ends a measured script: the peak of this process and of every descendant it waited for.
#: (``VmHWM`` for itself: ``ru_maxrss`` would still count the test runner it was forked from.)
REPORT_MAXRSS = """
import resource as _r
_own = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
_kids = _r.getrusage(_r.RUSAGE_CHILDREN).ru_maxrss / 1024
RESULT["maxrss_mb"] = max(_own, _kids)
print(json.dumps(RESULT))
"""
