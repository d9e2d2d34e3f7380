"""Shared test helpers.

Reference pages live in ../shared/reference (beside the clone, in CI and on
developers' machines). They are read at run time and never copied into the
project; tests that need them skip with a clear reason where they are absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CORPUS_SHARED", PROJECT_ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"
PAGES_2019 = REFERENCE / "wdtk_2019_request_pages"


def require_reference() -> Path:
    """Return the 2019 reference page folder, or skip the test with the reason."""
    if not PAGES_2019.is_dir():
        pytest.skip(f"reference pages not found at {PAGES_2019} (set CORPUS_SHARED to the shared/ folder)")
    return PAGES_2019


@pytest.fixture
def pages_2019() -> Path:
    return require_reference()


# ---------------------------------------------------------------- sample site


@pytest.fixture
def fake_site():
    """A started sample site serving ``sample_corpus()`` on 127.0.0.1 (one per test)."""
    from corpus.sample_site import FakeSite, sample_corpus

    site = FakeSite(sample_corpus())
    site.start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture
def fake_site_factory():
    """``make(corpus, **kwargs) -> started FakeSite``; every site is stopped at teardown."""
    from corpus.sample_site import FakeSite

    sites = []

    def make(corpus, **kwargs):
        site = FakeSite(corpus, **kwargs)
        site.start()
        sites.append(site)
        return site

    try:
        yield make
    finally:
        for site in sites:
            site.stop()
