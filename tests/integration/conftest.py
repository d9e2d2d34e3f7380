"""Helpers for the integration tests: the real CLI against the sample site on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.cli_runner import run_cli, start_cli  # noqa: F401  (the tests import them from here)
from tests.support.corpus_db import rows as query  # noqa: F401


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
