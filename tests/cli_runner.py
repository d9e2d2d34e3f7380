"""Running the real ``corpus`` command line as a subprocess, for the integration and reliability tests.

The helpers live in ``bench/harness.py`` (the kill soak uses them too, and benchmarks import nothing from the tests).
"""

from bench.harness import cli_args, cli_env, run_cli, start_cli

__all__ = ["cli_args", "cli_env", "run_cli", "start_cli"]
