"""``corpus sync`` in the test process, with the command's option names."""

from __future__ import annotations

from typing import Any

from corpus.sync import SyncOptions, SyncSummary, run_sync


def sync(**options: Any) -> SyncSummary:
    """Build the options once (as the CLI does) and run; nothing is shown on the terminal."""
    return run_sync(SyncOptions.build(**options))
