"""The example notebook and its plain-script twin: same code, and both run, from any working directory."""

from __future__ import annotations

import json
import os
import re
import shutil
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
    assert len(_script_cells()) == 5
    code = "\n".join(_script_cells())
    assert "Reader()" in code and "duckdb.connect" not in code  # never a connection held between queries


def test_notebook_has_no_stored_outputs():
    nb = json.loads((EXAMPLES / "explore.ipynb").read_text())
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb["cells"] if c["cell_type"] == "code")


@pytest.fixture
def project_folder(known_db, tmp_path) -> tuple[Path, Path]:
    """A corpus at the top of a folder, and a working directory two levels below it."""
    db = Path(shutil.copy(known_db, tmp_path / "foi.duckdb"))
    cwd = tmp_path / "analysis" / "notebooks"
    cwd.mkdir(parents=True)
    return db, cwd


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CORPUS_DB", "MPLBACKEND")}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def test_script_runs_from_a_subfolder(project_folder, tmp_path):
    db, cwd = project_folder
    env = _env(CORPUS_PLOTS=str(tmp_path / "plots"), MPLBACKEND="Agg")
    run = subprocess.run([sys.executable, str(EXAMPLES / "explore.py")], capture_output=True, text=True, env=env,
                         timeout=180, cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert out.splitlines()[0] == f"{db.resolve()}: 14 requests"
    assert re.search(r"│ council_a\s+│ Council A\s+│ [A-Z, ]+│\s+7 │", out)  # slug, name, regimes, requests
    assert re.search(r"│\s+2019 │\s+4 │\s+1 │\s+0 │\s+2 │\s+0 │", out)  # successful, partial, not held, refused, other
    s12 = [line for line in out.splitlines() if re.search(r"│ s12\s+│ cost limit\s+│", line)]
    assert len(s12) == 1 and re.search(r"│\s+3 │", s12[0])  # 3 requests cite s12 (whatever columns sit between)
    assert re.search(r"│ Council A\s+│ Care placements out of area\s+│ 2020-06-01 │", out)  # the long-overdue one
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in out
        return
    for name in ("response_times.png", "outcomes.png", "refusal_grounds.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"


def test_script_says_how_to_find_the_database(tmp_path):
    run = subprocess.run([sys.executable, str(EXAMPLES / "explore.py")], capture_output=True, text=True, env=_env(),
                         timeout=180, cwd=tmp_path)
    assert run.returncode != 0
    assert "set CORPUS_DB=/path/to/foi.duckdb" in run.stderr and "Reader('/path/to/foi.duckdb')" in run.stderr


def test_notebook_runs_headless_with_inline_plots_and_dataframes(project_folder, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat/nbclient/ipykernel run the notebook (test extra)")
    nbclient = pytest.importorskip("nbclient", reason="nbclient runs the notebook (test extra)")
    pytest.importorskip("ipykernel", reason="the notebook needs a Python kernel (pip install ipykernel)")
    pytest.importorskip("matplotlib", reason="the inline charts need matplotlib (test extra)")
    db, cwd = project_folder
    for key, value in _env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CORPUS_DB", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(EXAMPLES / "explore.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    client.execute()  # raises CellExecutionError, with the traceback, if a cell fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert f"{db.resolve()}: 14 requests" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # the three charts, inline
    assert not (cwd / "plots").exists()  # nothing saved to disk in a notebook
    tables = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    try:
        import pandas  # noqa: F401
    except ImportError:
        return
    assert len(tables) == 5 and all("<table" in t and "dataframe" in t for t in tables)  # pandas DataFrames
    assert "council_a" in tables[1] and "s12" in tables[3]
