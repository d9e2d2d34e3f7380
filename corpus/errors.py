"""Errors the CLI turns into one clear line and an exit code.

Library code raises these; ``corpus.cli`` prints ``Error: <message>`` and exits
with ``exit_code``.  Exit codes are documented in the README.
"""

from __future__ import annotations

# Exit codes (README: "Exit codes").
EXIT_OK = 0
EXIT_FAILURES = 1  # the run finished but some URLs failed for good
EXIT_USAGE = 2  # bad input: nothing was written
EXIT_BLOCKED = 3  # the site challenged us as a bot: we stopped asking, queue kept
EXIT_LOCKED = 4  # another process holds the database
EXIT_INTERRUPTED = 130  # Ctrl-C: state saved, run again to resume


class CorpusError(Exception):
    """An expected failure with a one-line message that names the problem and the fix."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CorpusError):
    exit_code = EXIT_USAGE


class DatabaseLocked(CorpusError):
    exit_code = EXIT_LOCKED


class BlockedByChallenge(CorpusError):
    exit_code = EXIT_BLOCKED
