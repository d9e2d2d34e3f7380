"""The example notebook and its plain-script twin: same code, and it runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.corpus.test_queries import known_db, known_template  # noqa: F401  (fixtures)

EXAMPLES = PROJECT_ROOT / "examples"


def _script_cells() -> list[str]:
    parts = re.split(r"^# %%\n", (EXAMPLES / "explore.py").read_text(), flags=re.M)
    return [p.strip("\n") for p in parts[1:]]


def _notebook_cells() -> list[str]:
    nb = json.loads((EXAMPLES / "explore.ipynb").read_text())
    assert nb["nbformat"] == 4
    return ["".join(c["source"]).strip("\n") for c in nb["cells"] if c["cell_type"] == "code"]


def test_notebook_and_script_hold_the_same_code():
    assert _script_cells() == _notebook_cells()
    assert len(_script_cells()) == 6


def test_notebook_has_no_stored_outputs():
    nb = json.loads((EXAMPLES / "explore.ipynb").read_text())
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


def test_script_runs_on_a_small_corpus(known_db, tmp_path):
    env = {**os.environ, "CORPUS_DB": str(known_db), "CORPUS_PLOTS": str(tmp_path / "plots"), "MPLBACKEND": "Agg"}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    run = subprocess.run([sys.executable, str(EXAMPLES / "explore.py")], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "14 requests" in out.splitlines()[0]
    assert re.search(r"council_a\s+requests=7\s+median=20.0 p90=34.0 in_time=0.5", out)
    assert "2019 {'successful': 4, 'partially_successful': 1, 'not_held': 0, 'refused': 2}" in out
    assert re.search(r"s12\s+cost limit\s+requests=3 share=0.5", out)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in out
        return
    for name in ("response_times.png", "outcomes.png", "refusal_grounds.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"
