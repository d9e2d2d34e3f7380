"""The CLI's shape: every command has help, bad usage is one line and exit 2."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from corpus.cli import main

COMMANDS = ["sync", "import", "reparse", "status", "queries", "query", "export", "report", "demo"]


def test_top_level_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help(name):
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    # the first help line is the command's own docstring, not empty
    assert len(result.output.splitlines()) > 3


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["nope"], "No such command"),
        (["sync", "--bogus"], "No such option"),
        (["sync", "--since", "2021-02-30"], "not a real date"),
        (["sync", "--limit", "0"], "--limit"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(argv, needle):
    proc = subprocess.run([sys.executable, "-m", "corpus.cli", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0]
