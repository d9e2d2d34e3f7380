"""Opening the corpus database: creation, forward migrations, locks.

DuckDB lets one process write a file, and while it does no other process may
open it, not even read-only.  So a long ``corpus sync`` holds :class:`SyncLock`
(an advisory lock file beside the database) for the whole run and opens the
database only for each batch write, through :func:`batch`.  Between batches the
file is free, so a notebook or ``duckdb -readonly foi.duckdb`` can read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from corpus.errors import CorpusError, DatabaseLocked
from corpus.schema import CURRENT_VERSION, MIGRATIONS

# A DuckDB file starts with an 8-byte checksum, then the magic bytes "DUCK".
_MAGIC = b"DUCK"
_MAGIC_OFFSET = 8
_PID_IN_LOCK_ERROR = re.compile(r"\(PID (\d+)\)")
_HOLDER_IN_LOCK_ERROR = re.compile(r"lock is held in (.+?) \(PID")


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating and migrating if needed) the corpus database at ``path``.

    Raises ``CorpusError`` for a file that is not a corpus database, an
    unwritable location or a database written by a newer version, and
    ``DatabaseLocked`` when another process has the file open.
    """
    path = Path(path)
    _check_path(path, read_only=read_only)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise _translate_open_error(path, exc) from None
    try:
        _check_and_migrate(con, path, read_only=read_only)
    except BaseException:
        con.close()
        raise
    return con


def _check_path(path: Path, *, read_only: bool) -> None:
    if path.is_dir():
        raise CorpusError(f"{path} is a directory; give --db the path of a database file, e.g. {path / 'foi.duckdb'}")
    if path.exists():
        if not os.access(path, os.R_OK):
            raise CorpusError(f"cannot read {path}: permission denied; fix its permissions or use another --db")
        if not read_only and not os.access(path, os.W_OK):
            raise CorpusError(f"cannot write {path}: permission denied; fix its permissions or use another --db")
        size = path.stat().st_size
        if size > 0:
            with open(path, "rb") as fh:
                head = fh.read(_MAGIC_OFFSET + len(_MAGIC))
            if head[_MAGIC_OFFSET:] != _MAGIC:
                raise CorpusError(
                    f"{path} is not a corpus database (not a DuckDB file); it was left untouched: "
                    "give --db a new file name or an existing corpus database"
                )
        elif read_only:
            raise CorpusError(f"{path} is an empty file, not a corpus database yet; run `corpus sync` or `corpus import` first")
        else:
            # Empty: made by `touch`, or a first run killed before DuckDB wrote its
            # header.  Nothing to lose, and DuckDB refuses empty files: start afresh.
            path.unlink()
        return
    if read_only:
        raise CorpusError(f"no corpus database at {path}; run `corpus sync` or `corpus import` first, or check --db")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CorpusError(f"cannot create {path}: folder {parent} does not exist; create it or use another --db")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CorpusError(f"cannot create {path}: folder {parent} is not writable; use another --db")


def _translate_open_error(path: Path, exc: duckdb.Error) -> CorpusError:
    text = str(exc)
    if "Conflicting lock" in text or "Could not set lock" in text:
        pid = _PID_IN_LOCK_ERROR.search(text)
        holder = _HOLDER_IN_LOCK_ERROR.search(text)
        who = f"process {pid.group(1)}" if pid else "another process"
        if holder:
            who += f" ({os.path.basename(holder.group(1))})"
        return DatabaseLocked(
            f"{path.name} is open in {who}; close that program (or wait for it) and try again, or use another --db",
            pid=int(pid.group(1)) if pid else None,
        )
    if "not a valid DuckDB database" in text:
        return CorpusError(
            f"{path} is not a corpus database (not a DuckDB file); it was left untouched: "
            "give --db a new file name or an existing corpus database"
        )
    if "version" in text.lower() and "storage" in text.lower():
        return CorpusError(f"{path} was written by a different DuckDB version ({text.splitlines()[0]}); open it with that version")
    return CorpusError(f"cannot open {path} ({text.splitlines()[0]}); check that its folder is writable, or use another --db")


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether ``name`` is a (non-temporary) table or a view of the database."""
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary "
        "UNION ALL SELECT count(*) FROM duckdb_views() WHERE view_name = ?",
        [name, name],
    ).fetchall()
    return sum(r[0] for r in rows) > 0


def table_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    """The columns of table ``name`` in order; empty when there is no such table."""
    return [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", [name]
    ).fetchall()]


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version recorded in the database (0 for an empty database)."""
    has = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' AND table_schema = 'main'"
    ).fetchall()[0][0]
    if not has:
        return 0
    got = con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0]
    return int(got or 0)


def _check_and_migrate(con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
    version = schema_version(con)
    if version == 0:
        others = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()[0][0]
        if others:
            raise CorpusError(
                f"{path} is a DuckDB database but not a corpus database (it has tables but no schema_version); "
                "it was left untouched: give --db another file"
            )
    if version > CURRENT_VERSION:
        raise CorpusError(
            f"{path} was written by a newer corpus (schema {version} > {CURRENT_VERSION}); "
            "upgrade foi-corpus (pip install -U foi-corpus) to open it"
        )
    if version == CURRENT_VERSION:
        return
    if read_only:
        raise CorpusError(
            f"{path} uses schema {version}, older than this corpus ({CURRENT_VERSION}); "
            "run any writing command once (e.g. `corpus reparse`) to upgrade it in place"
        )
    for target in range(version, CURRENT_VERSION):
        step = MIGRATIONS[target]
        con.execute("BEGIN TRANSACTION")
        try:
            if callable(step):
                step(con)
            else:
                con.execute(step)
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [target + 1])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def connect_when_free(path: str | Path, *, wait_seconds: float = 10.0,
                      max_interval: float = 1.0) -> duckdb.DuckDBPyConnection:
    """:func:`connect` for writing, retrying for up to ``wait_seconds`` while another process has the file open.

    The retries start 50 ms apart and back off to ``max_interval``: a writer
    that must find a moment between many readers' queries keeps it short.
    """
    deadline = time.monotonic() + wait_seconds
    delay = min(0.05, max_interval)
    while True:
        try:
            return connect(path)
        except DatabaseLocked:
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, max_interval)


@contextlib.contextmanager
def batch(path: str | Path, *, wait_seconds: float = 10.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database, BEGIN, yield the connection, COMMIT (ROLLBACK on error), close.

    If a reader holds the file, opening is retried for up to ``wait_seconds``
    before ``DatabaseLocked`` is raised.
    """
    con = connect_when_free(path, wait_seconds=wait_seconds)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.close()


def lock_path(db_path: str | Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".sync.lock")


class SyncLock:
    """Exclusive advisory lock ``<db>.sync.lock`` held for a whole sync run.

    Uses ``fcntl.flock``, so the kernel releases it when the holder dies: a lock
    file left behind by a killed process never blocks the next run.
    """

    def __init__(self, path: str | Path):
        self.db_path = Path(path)
        self.path = lock_path(self.db_path)
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            raise CorpusError(f"the sync lock on {self.db_path.name} is already held by this process")
        parent = self.path.parent
        if not parent.is_dir():
            raise CorpusError(f"cannot lock {self.db_path}: folder {parent} does not exist; create it or use another --db")
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise CorpusError(f"cannot create lock file {self.path}: {exc.strerror}; use a writable --db location") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                who = f"pid {pid}" if pid else "another process"
                raise DatabaseLocked(
                    f"another corpus sync ({who}) is writing to {self.db_path.name}; wait for it or use another --db"
                ) from None
            # The holder before us may have unlinked the file after we opened it:
            # only a lock on the file still at this path counts.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)  # still holding the lock: nobody else can own this inode
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> SyncLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        data = os.pread(fd, 32, 0)
    except OSError:
        return None
    text = data.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None
