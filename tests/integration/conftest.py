"""Helpers for the integration tests: the real CLI against the sample site on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cli_env(**extra) -> dict:
    env = dict(os.environ)
    env.pop("CORPUS_CONTACT", None)
    env.pop("CORPUS_DB", None)
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["CORPUS_BACKOFF_BASE"] = "0.01"  # tiny back-off: these tests exercise retries, not patience
    env.update(extra)
    return env


def run_cli(*args, timeout: float = 120, **popen) -> subprocess.CompletedProcess:
    """Run ``corpus ARGS...`` as a subprocess (the real command line)."""
    return subprocess.run(
        [sys.executable, "-m", "corpus.cli", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=cli_env(), cwd=PROJECT_ROOT, **popen,
    )


def start_cli(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "corpus.cli", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=PROJECT_ROOT,
    )


def query(db_path, sql, params=()):
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def visible_threads(corpus):
    """Requests the site serves publicly (hidden and requester-only ones answer 403)."""
    return [r for r in corpus.requests if r.prominence in ("normal", "backpage")]


def simple_thread(corpus):
    """A public request whose messages and annotations are all shown, with at least one annotation."""
    for r in visible_threads(corpus):
        if r.annotations and all(a.visible for a in r.annotations) and all(
            m.prominence == "normal" for m in r.messages
        ) and len(r.messages) >= 2:
            return r
    pytest.skip("the sample corpus has no public thread with annotations")


FAST = ["--rate", "300"]
