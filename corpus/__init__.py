"""The DuckDB corpus: schema, loading, derived tables, sync orchestration and the CLI."""

from scraper import __version__

DEFAULT_SITE = "https://www.whatdotheyknow.com"
DEFAULT_DB = "foi.duckdb"

__all__ = ["__version__", "DEFAULT_SITE", "DEFAULT_DB"]
