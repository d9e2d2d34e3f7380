"""Running the real ``corpus`` command line as a subprocess, for the integration and reliability tests."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def cli_env(**extra) -> dict:
    """The environment of a test run: no stray contact or database, the project importable, tiny back-off."""
    env = dict(os.environ)
    env.pop("CORPUS_CONTACT", None)
    env.pop("CORPUS_DB", None)
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["CORPUS_BACKOFF_BASE"] = "0.01"  # retries are exercised, not waited for
    env.update({k: str(v) for k, v in extra.items()})
    return env


def cli_args(*args) -> list[str]:
    return [sys.executable, "-m", "corpus.cli", *map(str, args)]


def run_cli(*args, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """``corpus ARGS...`` as a subprocess, to completion."""
    return subprocess.run(cli_args(*args), capture_output=True, text=True, timeout=timeout,
                          env=env or cli_env(), cwd=PROJECT_ROOT)


def start_cli(*args, env: dict | None = None, stdout=subprocess.DEVNULL) -> subprocess.Popen:
    """``corpus ARGS...`` started in the background; stderr is piped, stdout discarded unless asked for."""
    return subprocess.Popen(cli_args(*args), stdout=stdout, stderr=subprocess.PIPE, text=True,
                            env=env or cli_env(), cwd=PROJECT_ROOT)
