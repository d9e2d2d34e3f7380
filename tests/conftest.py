"""Shared test helpers.

Reference pages live in ../shared/reference (beside the clone, in CI and on
developers' machines). They are read at run time and never copied into the
project; tests that need them skip with a clear reason where they are absent,
and fail instead when ``CORPUS_REQUIRE_REFERENCE=1`` (as in CI, where the
folder is always there: a missing folder must not pass silently).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CORPUS_SHARED", PROJECT_ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"
PAGES_2019 = REFERENCE / "wdtk_2019_request_pages"


def require_shared(path: Path) -> Path:
    """``path`` (under ../shared), or skip the test naming it; with ``CORPUS_REQUIRE_REFERENCE=1``, fail instead."""
    if not path.exists():
        reason = f"{path} not found (set CORPUS_SHARED to the shared/ folder)"
        if os.environ.get("CORPUS_REQUIRE_REFERENCE") == "1":
            pytest.fail(f"{reason}; CORPUS_REQUIRE_REFERENCE=1 says it must be there", pytrace=False)
        pytest.skip(reason)
    return path


def require_reference() -> Path:
    """Return the 2019 reference page folder, or skip (or fail: see ``require_shared``)."""
    return require_shared(PAGES_2019)


@pytest.fixture
def pages_2019() -> Path:
    return require_reference()


# ---------------------------------------------------------------- sample site


@pytest.fixture
def fake_site():
    """A started sample site serving ``sample_corpus()`` on 127.0.0.1 (one per test), with hits and faults."""
    from corpus.sample_site import sample_corpus
    from tests.support.site import TestSite

    site = TestSite(sample_corpus())
    site.start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture
def fake_site_factory():
    """``make(corpus, **kwargs) -> started TestSite``; every site is stopped at teardown."""
    from tests.support.site import TestSite

    sites = []

    def make(corpus, **kwargs):
        site = TestSite(corpus, **kwargs)
        site.start()
        sites.append(site)
        return site

    try:
        yield make
    finally:
        for site in sites:
            site.stop()
