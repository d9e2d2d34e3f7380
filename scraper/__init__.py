"""Fetching, politeness, discovery and pure page parsing for Alaveteli sites.

Knows HTTP and HTML, and nothing of DuckDB.
"""

__version__ = "0.1.0"
