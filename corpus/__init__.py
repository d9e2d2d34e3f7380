"""The DuckDB corpus: schema, loading, derived tables, sync orchestration and the CLI."""

from scraper import __version__

DEFAULT_SITE = "https://www.whatdotheyknow.com"
DEFAULT_DB = "foi.duckdb"

__all__ = ["__version__", "DEFAULT_SITE", "DEFAULT_DB", "Reader"]


def __getattr__(name: str):
    # Imported on first use: the CLI starts without DuckDB or pyarrow loaded.
    if name == "Reader":
        from corpus.reader import Reader

        return Reader
    raise AttributeError(f"module 'corpus' has no attribute {name!r}")
