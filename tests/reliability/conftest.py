"""Fixtures for the reliability tests: sample sites on 127.0.0.1 shared by a module."""

from __future__ import annotations

import contextlib

import pytest


@contextlib.contextmanager
def serving(n_threads: int, *, seed: int, n_authorities: int, site_class=None):
    """A synthetic site of ``n_threads`` served on 127.0.0.1 for the block (a ``TestSite``, or ``site_class``)."""
    from corpus.sample_site import generate_corpus
    from tests.support.site import TestSite

    site = (site_class or TestSite)(generate_corpus(n_threads, seed=seed, n_authorities=n_authorities),
                                    serve_2019_pages_from=False)
    site.start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="module")
def small_site():
    """A 40-thread synthetic site (two authorities), shared by the tests of one module; faults cleared per test."""
    with serving(40, seed=7, n_authorities=2) as site:
        yield site


@pytest.fixture
def site(small_site):
    small_site.clear_faults()
    small_site.clear_hits()
    yield small_site
    small_site.clear_faults()
