"""Fetching, politeness, discovery and pure page parsing for Alaveteli sites.

Knows HTTP and HTML, and nothing of DuckDB or of the program built on it: it
imports nothing from ``corpus``, and its expected failures are its own
(``scraper.errors``), for the caller to show as it likes.
"""

__version__ = "0.1.0"
