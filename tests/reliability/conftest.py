"""Fixtures for the reliability tests: sample sites on 127.0.0.1 shared by a module."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def small_site():
    """A 40-thread synthetic site (two authorities), shared by the tests of one module; faults cleared per test."""
    from corpus.sample_site import generate_corpus
    from tests.support.site import TestSite

    corpus = generate_corpus(40, seed=7, n_authorities=2)
    site = TestSite(corpus, serve_2019_pages_from=False)
    site.start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture
def site(small_site):
    small_site.clear_faults()
    small_site.clear_hits()
    yield small_site
    small_site.clear_faults()
