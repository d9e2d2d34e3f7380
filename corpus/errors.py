"""Errors the CLI turns into one clear line and an exit code.

Library code raises these; ``corpus.cli`` prints ``Error: <message>`` and exits
with ``exit_code``.  Exit codes are documented in the README.
"""

from __future__ import annotations

# Exit codes (README: "Troubleshooting").
EXIT_OK = 0
EXIT_FAILURES = 1  # the run finished but some URLs failed for good
EXIT_USAGE = 2  # bad input: nothing was written
EXIT_BLOCKED = 3  # the site challenged us as a bot: we stopped asking, queue kept
EXIT_LOCKED = 4  # another process holds the database
EXIT_SPOOLED = 5  # a reader kept the database past the wait: threads wait in <db>.spool/ for the next writing command
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
    """Another process has the database open.  ``pid`` is that process, when DuckDB named it."""

    exit_code = EXIT_LOCKED

    def __init__(self, message: str, exit_code: int | None = None, *, pid: int | None = None):
        super().__init__(message, exit_code)
        self.pid = pid


class HeldByReader(DatabaseLocked):
    """A writer that holds its work while a reader has the file gave up waiting for it (``waited`` seconds)."""

    exit_code = EXIT_SPOOLED

    def __init__(self, message: str, *, pid: int | None = None, waited: float = 0.0):
        super().__init__(message, pid=pid)
        self.waited = waited


class SpoolRefused(CorpusError):
    """A spool beside the database that this database cannot take (another database's, or a newer format)."""


class BlockedByChallenge(CorpusError):
    exit_code = EXIT_BLOCKED
