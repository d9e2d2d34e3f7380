"""The real ``corpus`` command in a child process that reports its own peak memory and wall time.

The child reads its peak resident memory as it exits (``VmHWM`` from
``/proc/self/status``, else ``ru_maxrss``) and writes it to a file, so the
figure is the sync's own, not the test runner's.
An address-space limit is set in the child as a safety net: if a regression
lets a decompression bomb through, the child fails fast instead of taking the
machine's memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from tests.cli_runner import cli_env
from tests.conftest import PROJECT_ROOT

# Far above what a sync needs (under 400 MB resident, and a few GB of address
# space for thread stacks and DuckDB's reservations), far below a bomb's size.
ADDRESS_SPACE_LIMIT = 6 * 1024**3

_CHILD = """
import atexit, os, resource, sys
limit = int(os.environ["CORPUS_TEST_AS_LIMIT"])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
def _report():
    # VmHWM is this program's own high-water mark; ru_maxrss would also count the
    # test runner's memory, which a child started by vfork inherits across exec.
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status") as status:
            peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        pass
    with open(os.environ["CORPUS_TEST_PEAK_FILE"], "w") as f:
        f.write(str(peak_kb))
atexit.register(_report)
from corpus.cli import main
sys.argv = ["corpus", *sys.argv[1:]]
main()
"""


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float


def run_cli_measured(*args, timeout: float = 120) -> Measured:
    """``corpus ARGS...`` in a child process; its exit code, output, peak RSS (MB) and wall time."""
    with tempfile.NamedTemporaryFile("r", suffix=".peak", delete=False) as f:
        peak_file = f.name
    env = cli_env(CORPUS_TEST_PEAK_FILE=peak_file, CORPUS_TEST_AS_LIMIT=ADDRESS_SPACE_LIMIT)
    started = time.monotonic()
    try:
        res = subprocess.run([sys.executable, "-c", _CHILD, *map(str, args)], capture_output=True, text=True,
                             timeout=timeout, env=env, cwd=PROJECT_ROOT)
        seconds = time.monotonic() - started
        text = open(peak_file).read().strip()
    finally:
        os.unlink(peak_file)
    peak_kb = int(text) if text else 0
    return Measured(res.returncode, res.stdout, res.stderr, peak_kb / 1024, seconds)
