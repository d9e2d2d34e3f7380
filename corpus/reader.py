"""Reading the corpus from a notebook or script without ever holding up a sync.

DuckDB lets no process write a file while another has it open, even
read-only.  A notebook that keeps a connection open therefore stops
``corpus sync`` from writing its next batch.  :class:`Reader` never keeps one:
each :meth:`Reader.sql` opens the file read-only, runs the query, reads the
whole result into memory (an Arrow table) and closes the file again, so a sync
waits at most for one query.  When the sync is writing a batch at that moment,
the reader waits with back-off and tries again::

    from corpus import Reader

    r = Reader("foi.duckdb")            # or Reader() to find it (see find_database)
    r.sql("SELECT count(*) FROM requests").fetchall()
    r.sql("SELECT * FROM request_timeline WHERE year = ?", [2023]).df()   # pandas
    r.query("response_times", min_requests=5).pl()                       # polars
    with r.session() as con:            # a few queries on one connection: keep it short
        con.sql("...")

Results are in memory: select what you need (aggregate in SQL) rather than
whole large tables.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from corpus import DEFAULT_DB
from corpus.db import connect, read_lock_holder, write_wanted
from corpus.errors import CorpusError, DatabaseLocked

DEMO_DB = "foi-demo.duckdb"
DEFAULT_WAIT = 120.0  # seconds a query waits for a writer before giving up
_NOTICE_AFTER = 2.0  # say that we are waiting once it has taken this long
_GIVE_UP_ON_OTHERS = 5.0  # a writer that is not the corpus's own will not let go by itself


def find_database(start: str | os.PathLike | None = None) -> Path:
    """Where the corpus is: ``$CORPUS_DB``, else ``foi.duckdb`` in ``start`` (default: the
    working directory) or the nearest folder above it, else ``foi-demo.duckdb`` found the same way.

    Raises ``CorpusError`` saying how to point at the file when none is found.
    """
    env = os.environ.get("CORPUS_DB")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise CorpusError(f"$CORPUS_DB is {env}, but there is no file there; set it to your corpus database")
        return path
    here = Path(start or Path.cwd()).resolve()
    folders = [here, *here.parents]
    for name in (DEFAULT_DB, DEMO_DB):
        for folder in folders:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    raise CorpusError(
        f"no {DEFAULT_DB} (or {DEMO_DB}) in {here} or any folder above it; pass the path, "
        f"e.g. Reader('/path/to/foi.duckdb'), or set CORPUS_DB=/path/to/foi.duckdb before starting Python"
    )


def _need(module: str) -> None:
    try:
        found = sys.modules.get(module, True) is not None and importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ImportError(f"{module} is not installed: pip install {module}")


class Result:
    """A query result held in memory (an Arrow table); the database file is already closed.

    ``df()`` (pandas), ``pl()`` (polars), ``arrow()``, ``fetchall()``, ``fetchone()``
    convert it the way DuckDB itself would.
    """

    def __init__(self, table: pa.Table):
        self._table = table

    def _relation(self) -> duckdb.DuckDBPyRelation:
        return duckdb.connect().from_arrow(self._table)

    @property
    def columns(self) -> list[str]:
        return list(self._table.column_names)

    def __len__(self) -> int:
        return self._table.num_rows

    def arrow(self) -> pa.Table:
        return self._table

    def df(self):
        """A pandas DataFrame; ``ImportError`` when pandas is not installed (``pip install pandas``)."""
        _need("pandas")
        return self._relation().df()

    def pl(self):
        """A polars DataFrame; ``ImportError`` when polars is not installed (``pip install polars``)."""
        _need("polars")
        return self._relation().pl()

    def show(self, **options) -> None:
        """Print as DuckDB's text table (``max_width=``, ``max_rows=``, ``max_col_width=`` as DuckDB's ``show``)."""
        self._relation().show(**options)

    def fetchall(self) -> list[tuple]:
        return self._relation().fetchall()

    def fetchone(self) -> tuple | None:
        rows = self._relation().limit(1).fetchall()
        return rows[0] if rows else None

    def __repr__(self) -> str:
        return repr(self._relation())

    def _repr_html_(self) -> str | None:  # notebooks show a DataFrame when pandas is there
        try:
            return self.df()._repr_html_()
        except ImportError:
            return None


class Reader:
    """Read-only access to a corpus database that holds the file only for the length of one query.

    ``path``: the database (default: :func:`find_database`).  ``wait``: how many
    seconds a query may wait for a writer (``corpus sync`` writing a batch, or
    rebuilding its derived tables) before it raises ``DatabaseLocked``.
    ``notify``: print one line to stderr when a query has to wait.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, wait: float = DEFAULT_WAIT, notify: bool = True):
        self.path = Path(path) if path is not None else find_database()
        self.wait = wait
        self.notify = notify

    def __repr__(self) -> str:
        return f"Reader({str(self.path)!r})"

    @contextlib.contextmanager
    def session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection for a short block of queries, closed at the end of the block.

        A sync cannot write while the block runs: keep it to a few queries.
        """
        con = self._open()
        try:
            yield con
        finally:
            con.close()

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Result:
        """Run one SQL statement (with ``?`` or ``$name`` parameters) and return its result in memory."""
        with self.session() as con:
            rel = con.sql(query, params=params) if params is not None else con.sql(query)
            table = rel.to_arrow_table() if rel is not None else pa.table({})
        return Result(table)

    def query(self, name: str, **params: Any) -> Result:
        """Run the canned query ``name`` (see ``corpus queries``) with its parameters."""
        from corpus.queries import run_query

        with self.session() as con:
            table = run_query(con, name, {k: v for k, v in params.items()})
        return Result(table)

    def tables(self) -> list[str]:
        """The tables in the corpus."""
        return [r[0] for r in self.sql(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY 1"
        ).fetchall()]

    def _open(self) -> duckdb.DuckDBPyConnection:
        """Open read-only, waiting (with back-off) while a writer holds the file or is waiting for it."""
        start = time.monotonic()
        delay = 0.02
        told = False
        while True:
            waited = time.monotonic() - start
            writer_waiting = write_wanted(self.path)  # a writer kept out by readers: let it in first
            if not writer_waiting or waited >= self.wait:
                try:
                    return connect(self.path, read_only=True)
                except DatabaseLocked:
                    writer = read_lock_holder(self.path)
                    if waited >= self.wait or (writer is None and not writer_waiting and waited >= _GIVE_UP_ON_OTHERS):
                        raise
            if self.notify and not told and waited >= _NOTICE_AFTER:
                writer = read_lock_holder(self.path)
                who = f"{writer.command} (pid {writer.pid})" if writer else "another program"
                print(f"{self.path.name}: waiting for {who} to finish writing…", file=sys.stderr, flush=True)
                told = True
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
