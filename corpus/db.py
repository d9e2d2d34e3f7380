"""Opening the corpus database: creation, forward migrations, locks.

DuckDB lets one process write a file, and while it does no other process may
open it, not even read-only.  So a long ``corpus sync`` holds :class:`SyncLock`
(an advisory lock file beside the database) for the whole run and opens the
database only for each batch write, through :func:`batch`.  Between batches the
file is free, so a notebook (``corpus.Reader``) or ``duckdb -readonly
foi.duckdb`` can read it.

New files are written in DuckDB's v1.1 storage format (:data:`STORAGE_VERSION`),
which DuckDB 1.1 and later open, not in DuckDB 2.0's own format, which only
DuckDB 2.x opens.  Existing files keep the format they were written in;
:func:`convert_storage` rewrites one.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from corpus.errors import CorpusError, DatabaseLocked
from corpus.schema import CURRENT_VERSION, MIGRATIONS

_PID_IN_LOCK_ERROR = re.compile(r"\(PID (\d+)\)")
_HOLDER_IN_LOCK_ERROR = re.compile(r"lock is held in (.+?) \(PID")

# The storage format new databases are written in.  DuckDB 2.0 writes its own
# format by default, which DuckDB 1.x (the CLI on PyPI, R, DBeaver's driver)
# refuses.  "v1.1.0" is the oldest that keeps everything the corpus uses: the
# formats before it do not hold the primary-key indexes that the loader's
# upserts need in a form DuckDB 0.10 and 1.0 can read (checked with those
# versions: they stop at "expected end of object, but found field id: 103").
STORAGE_VERSION = "v1.1.0"
MIN_READER_VERSION = "1.1.0"  # the oldest DuckDB that opens files written in STORAGE_VERSION

# Rows per row group in what this package writes (DuckDB's default is 122,880).
# At each checkpoint DuckDB rewrites the whole last row group of every table
# that gained rows, and a sync checkpoints after every batch (it closes the file
# so readers can open it).  With the default, a batch's checkpoint rewrote every
# stored message and event until a table passed 122,880 rows: measured on a
# synced copy of 20,000 threads, one batch's close took 0.42 s (0.10 s at 2,000
# threads) and the batch peaked 14 MB higher.  With 16,384 rows it rewrites at
# most that many rows of a table (0.15 s).  Row groups are self-describing: any reader, DuckDB
# 1.1 included, opens the file, and rows written by others keep their size.
ROW_GROUP_SIZE = 16_384


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating and migrating if needed) the corpus database at ``path``.

    Raises ``CorpusError`` for a file that is not a corpus database, an
    unwritable location or a database written by a newer version, and
    ``DatabaseLocked`` when another process has the file open.
    """
    path = Path(path)
    creating = _check_path(path, read_only=read_only)
    # Only a new file takes the storage version: an existing one keeps its own.
    try:
        con = duckdb.connect(str(path), read_only=True) if read_only else _open_for_writing(path, creating)
    except duckdb.Error as exc:
        raise _translate_open_error(path, exc, read_only=read_only) from None
    try:
        _check_and_migrate(con, path, read_only=read_only)
    except BaseException:
        con.close()
        raise
    return con


WRITING_ALIAS = "corpus"  # the catalog name of a corpus opened for writing (``current_database()``)


def _open_for_writing(path: Path, creating: bool) -> duckdb.DuckDBPyConnection:
    """The file attached to a fresh in-memory DuckDB with this package's row-group size, and made the default.

    DuckDB takes the row-group size only as an ``ATTACH`` option.  The in-memory
    database is detached, so cursors of the connection default to the file too.
    """
    options = [f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}"]
    if creating:
        options.append(f"STORAGE_VERSION {_sql_text(STORAGE_VERSION)}")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {_sql_text(str(path))} AS {WRITING_ALIAS} ({', '.join(options)})")
        con.execute(f"USE {WRITING_ALIAS}")
        con.execute("DETACH memory")
    except BaseException:
        con.close()
        raise
    return con


_FILE_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def _describe_special(path: Path, mode: int) -> str:
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    if path.is_symlink():
        return f"a symbolic link to {os.path.realpath(path)}, {kind}"
    return kind


def _check_path(path: Path, *, read_only: bool) -> bool:
    """Refuse what cannot be a corpus database, naming the fix; True when a new file will be created.

    Only a regular file is ever opened, and only an empty regular file is ever
    replaced: a device, a FIFO or a socket (or a link to one) is left untouched,
    so ``--db /dev/null`` cannot delete ``/dev/null``.
    """
    try:
        st = os.stat(path)  # follows symbolic links: the target is what DuckDB would open
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise CorpusError(f"cannot open {path}: {exc.strerror}; check the path or use another --db") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise CorpusError(f"{path} is a directory; give --db the path of a database file, e.g. {path / 'foi.duckdb'}")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise CorpusError(
            f"{path} is {_describe_special(path, st.st_mode)}, not a database file; it was left untouched: "
            "give --db the path of a regular file"
        )
    if st is None and path.is_symlink():
        raise CorpusError(
            f"{path} is a symbolic link to {os.path.realpath(path)}, which does not exist; "
            "give --db the real path of a database file"
        )
    if st is not None:
        if not os.access(path, os.R_OK):
            raise CorpusError(f"cannot read {path}: permission denied; fix its permissions or use another --db")
        if not read_only and not os.access(path, os.W_OK):
            raise CorpusError(f"cannot write {path}: permission denied; fix its permissions or use another --db")
        if st.st_size > 0:
            # DuckDB itself refuses a file that is not a DuckDB database, without
            # touching it.  The file is never opened here: closing any descriptor
            # of a file drops the POSIX locks this process holds on it, which
            # would leave a DuckDB connection still open in this process unguarded.
            return False
        if read_only:
            raise CorpusError(f"{path} is an empty file, not a corpus database yet; run `corpus sync` or `corpus import` first")
        # An empty regular file: made by `touch`, or a first run killed before
        # DuckDB wrote its header.  Nothing to lose, and DuckDB refuses empty
        # files: start afresh (at the link's target when --db is a link).
        os.unlink(os.path.realpath(path))
        return True
    if read_only:
        raise CorpusError(f"no corpus database at {path}; run `corpus sync` or `corpus import` first, or check --db")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CorpusError(f"cannot create {path}: folder {parent} does not exist; create it or use another --db")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CorpusError(f"cannot create {path}: folder {parent} is not writable; use another --db")
    return True


def _translate_open_error(path: Path, exc: duckdb.Error, *, read_only: bool = False) -> CorpusError:
    text = str(exc)
    if "Conflicting lock" in text or "Could not set lock" in text:
        pid = _PID_IN_LOCK_ERROR.search(text)
        return DatabaseLocked(_busy_message(path, text, read_only=read_only),
                              pid=int(pid.group(1)) if pid else None)
    if "not a valid DuckDB database" in text:
        return CorpusError(
            f"{path} is not a corpus database (not a DuckDB file); it was left untouched: "
            "give --db a new file name or an existing corpus database"
        )
    if "version" in text.lower() and "storage" in text.lower():
        return CorpusError(f"{path} was written by a different DuckDB version ({text.splitlines()[0]}); open it with that version")
    return CorpusError(f"cannot open {path} ({text.splitlines()[0]}); check that its folder is writable, or use another --db")


def _busy_message(path: Path, text: str, *, read_only: bool) -> str:
    """Say who holds the file: the corpus writer (pid in ``<db>.sync.lock``) or some other program."""
    pid_match = _PID_IN_LOCK_ERROR.search(text)
    pid = int(pid_match.group(1)) if pid_match else None
    holder = _HOLDER_IN_LOCK_ERROR.search(text)
    program = os.path.basename(holder.group(1)) if holder else None
    writer = read_lock_holder(path)
    if pid is not None and writer is not None and writer.pid == pid:
        return (f"{path.name} is busy: {writer.command} (pid {pid}) is writing to it; it holds the file only while "
                "it writes, so try again in a moment (corpus.Reader waits by itself)")
    who = f"process {pid}" if pid is not None else "another process"
    if program:
        who += f" ({program})"
    if read_only:
        return (f"{path.name} is open for writing in {who}, which is not a corpus sync: a notebook or DuckDB "
                "shell that opened it without read-only; close it, or open it read-only "
                "(duckdb -readonly, read_only=True, corpus.Reader), and try again")
    return (f"{path.name} is open in {who}, a reader such as a notebook or DuckDB shell, and DuckDB lets no one "
            "write while it is open; close it and try again (corpus.Reader closes the file after each query), "
            "or use another --db")


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


# A writer kept waiting by readers says so in ``<db>.write-wanted`` (its mtime
# refreshed at each retry); corpus.Reader opens nothing while a fresh one
# exists, so readers querying in a loop cannot starve a writer.  DuckDB's own
# file lock is not fair: without this, overlapping readers can keep it forever.
WRITE_WANTED_FRESH = 3.0  # seconds: an older marker was left by a writer that died


def write_wanted_path(db_path: str | Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".write-wanted")


def write_wanted(db_path: str | Path) -> bool:
    """Whether a writer is waiting for the file right now (a fresh ``<db>.write-wanted``)."""
    try:
        age = time.time() - os.stat(write_wanted_path(db_path)).st_mtime
    except OSError:
        return False
    return -WRITE_WANTED_FRESH < age < WRITE_WANTED_FRESH


def connect_when_free(path: str | Path, *, wait_seconds: float = 10.0,
                      max_interval: float = 1.0) -> duckdb.DuckDBPyConnection:
    """:func:`connect` for writing, retrying for up to ``wait_seconds`` while another process has the file open.

    While it waits it keeps ``<db>.write-wanted`` fresh, so that readers going
    through ``corpus.Reader`` let the file go and hold off until it has written.
    The retries start 50 ms apart and back off to ``max_interval``: a writer
    that must find a moment between other readers' queries keeps it short.
    """
    deadline = time.monotonic() + wait_seconds
    delay = min(0.05, max_interval)
    marker = write_wanted_path(path)
    marked = False
    try:
        while True:
            try:
                return connect(path)
            except DatabaseLocked:
                if time.monotonic() >= deadline:
                    raise
                try:
                    marker.write_text(f"{os.getpid()}\n")  # creates it, or refreshes its mtime
                    marked = True
                except OSError:
                    pass  # a read-only folder: we cannot ask readers to wait, only wait ourselves
                time.sleep(delay)
                delay = min(delay * 2, max_interval)
    finally:
        if marked:
            with contextlib.suppress(OSError):
                marker.unlink()


@contextlib.contextmanager
def batch(path: str | Path, *, wait_seconds: float = 10.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database, BEGIN, yield the connection, COMMIT (ROLLBACK on error), close.

    If a reader holds the file, opening is retried for up to ``wait_seconds``
    before ``DatabaseLocked`` is raised.
    """
    with transaction_on(connect_when_free(path, wait_seconds=wait_seconds)) as con:
        yield con


@contextlib.contextmanager
def transaction_on(con: duckdb.DuckDBPyConnection, *,
                   memory_limit: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN on an open connection, yield it, COMMIT (ROLLBACK on error), close it.

    ``memory_limit`` caps DuckDB's memory for the transaction.
    """
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            if memory_limit:
                con.execute(f"SET memory_limit = '{memory_limit}'")
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.close()


def checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    """Write what was committed into the file now, outside any transaction.

    DuckDB keeps the rows a transaction appended in memory until the next
    checkpoint, which it makes only when the WAL reaches 16 MiB or the file is
    closed.  A job that commits many times on one connection (a sync's rebuild
    of the derived tables, a chunk at a time) would otherwise hold every
    chunk's rows until its end.  The memory cap is lifted while the checkpoint
    runs: a checkpoint that runs out of memory is fatal to the open database.
    """
    cap = _settable(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    con.execute("RESET memory_limit")
    try:
        con.execute("CHECKPOINT")
    finally:
        con.execute(f"SET memory_limit = {_sql_text(cap)}")


def _settable(shown: str) -> str:
    """A memory size as DuckDB shows it (``'45.7 MiB'``, cut to one decimal), to set it again without shrinking it.

    Set back as shown, the limit would lose up to a tenth of its unit each time;
    half a tenth more keeps it where it was, however many times it is done.
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]iB)\s*", shown)
    return f"{float(m.group(1)) + 0.05:.2f} {m.group(2)}" if m else shown


def storage_format(con: duckdb.DuckDBPyConnection) -> str:
    """The storage format of the open database as DuckDB names it, e.g. ``'v1.0.0+'`` or ``'v2.0.0+'``."""
    row = con.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return str(row[0]) if row and row[0] else "unknown"


def oldest_reader(fmt: str) -> str | None:
    """The oldest DuckDB release that opens a corpus in storage format ``fmt`` (e.g. ``'1.1'``); None if unknown.

    A corpus needs at least DuckDB 1.1 whatever the format says (see
    :data:`STORAGE_VERSION`); a newer format needs the release that introduced it.
    """
    m = re.match(r"v(\d+)\.(\d+)", fmt)
    if not m:
        return None
    major, minor = max((int(m.group(1)), int(m.group(2))), (1, 1))
    return f"{major}.{minor}"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def convert_storage(db_path: str | Path, *, keep_original: bool = False) -> str:
    """Rewrite the corpus at ``db_path`` in :data:`STORAGE_VERSION` so that DuckDB 1.1 and later open it.

    Holds the sync lock throughout, copies every table into a new file beside
    it, checks that each table has the same number of rows, then renames the
    new file over the old (kept as ``<db>.v2-original`` with
    ``keep_original``).  Returns a one-line summary.  A file already in an
    older format is left as it is.
    """
    path = Path(db_path)
    if not path.exists():
        raise CorpusError(f"no corpus database at {path}; check --db")
    with SyncLock(path, command="corpus convert-storage"):
        con = connect(path)
        try:
            before = storage_format(con)
            if before != "unknown" and oldest_reader(before) is not None and not before.startswith("v2"):
                return f"{path} is already in storage format {before}: DuckDB {oldest_reader(before)} and later open it; nothing to do"
            tmp = path.with_name(path.name + ".converting")
            for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
                leftover.unlink(missing_ok=True)
            source = con.execute("SELECT current_database()").fetchall()[0][0]
            tables = [r[0] for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary ORDER BY 1"
            ).fetchall()]
            con.execute(f"ATTACH {_sql_text(str(tmp))} AS corpus_converted (STORAGE_VERSION {_sql_text(STORAGE_VERSION)})")
            try:
                con.execute(f'COPY FROM DATABASE "{source}" TO corpus_converted')
                for table in tables:
                    a = con.execute(f'SELECT count(*) FROM "{source}".main."{table}"').fetchall()[0][0]
                    b = con.execute(f'SELECT count(*) FROM corpus_converted.main."{table}"').fetchall()[0][0]
                    if a != b:
                        raise CorpusError(f"converting {path} failed: table {table} has {a} rows but the copy {b}; the original was left untouched")
                after = con.execute(
                    "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 'corpus_converted'"
                ).fetchall()[0][0]
                con.execute("DETACH corpus_converted")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("DETACH corpus_converted")
                tmp.unlink(missing_ok=True)
                raise
        finally:
            con.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if keep_original:
            os.replace(path, path.with_name(path.name + ".v2-original"))
        os.replace(tmp, path)
        kept = f"; the original is kept as {path.name}.v2-original" if keep_original else ""
        return (f"Rewrote {path} from storage format {before} to {after} ({len(tables)} tables, row counts checked): "
                f"DuckDB {oldest_reader(after)} and later open it now{kept}")


def lock_path(db_path: str | Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".sync.lock")


@dataclass(frozen=True)
class LockHolder:
    """Who holds ``<db>.sync.lock``: a process id and the command it runs (e.g. ``corpus sync``)."""

    pid: int | None
    command: str


def _lock_primitives():
    """filelock's cross-platform lock on a descriptor: ``fcntl.flock`` on Unix, ``LockFileEx`` on Windows.

    Both are dropped by the operating system when the holder dies, so a lock
    file left behind by a killed process never blocks the next run.
    """
    from filelock import lock_descriptor, unlock_descriptor

    return lock_descriptor, unlock_descriptor


def _try_lock(fd: int) -> bool:
    lock, _ = _lock_primitives()
    try:
        return lock(fd, blocking=False)
    except OSError as exc:
        raise CorpusError(
            f"this system offers no file locking (neither fcntl.flock nor Windows LockFileEx: {exc.strerror}), "
            "so a corpus sync cannot guard the database; run it on Linux, macOS or Windows"
        ) from None


def _unlock(fd: int) -> None:
    _, unlock = _lock_primitives()
    unlock(fd)


_WRITING_VERBS = ("sync", "import", "reparse", "demo", "convert-storage")


def _this_command() -> str:
    """``corpus <verb>`` when run from the command line, else ``corpus sync`` (the usual writer)."""
    name = os.path.basename(sys.argv[0]).lower() if sys.argv and sys.argv[0] else ""
    from_cli = name.startswith("corpus") or name in ("cli.py", "__main__.py")
    verb = next((a for a in sys.argv[1:] if a in _WRITING_VERBS), None) if from_cli else None
    return f"corpus {verb}" if verb else "corpus sync"


def _read_holder(fd: int) -> LockHolder:
    # Byte 0 is the one Windows locks (and then no other process can read it):
    # the pid and command start after it.
    try:
        os.lseek(fd, 1, os.SEEK_SET)
        data = os.read(fd, 256)
    except OSError:
        data = b""
    lines = data.decode("utf-8", "replace").split("\n")
    pid_text = lines[0].strip() if lines else ""
    command = lines[1].strip() if len(lines) > 1 and lines[1].strip() else "corpus sync"
    return LockHolder(int(pid_text) if pid_text.isdigit() else None, command)


def read_lock_holder(db_path: str | Path) -> LockHolder | None:
    """Who holds the sync lock of ``db_path`` now, or None when nobody does.

    Probes the lock without waiting (taking and at once dropping it when it is
    free; :meth:`SyncLock.acquire` allows for such a probe), so a lock file left
    by a killed process reads as free.
    """
    path = lock_path(db_path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        try:
            free = _try_lock(fd)
        except CorpusError:
            return None  # no locking here: nobody can be holding it either
        if free:
            _unlock(fd)
            return None
        return _read_holder(fd)
    finally:
        os.close(fd)


class SyncLock:
    """Exclusive advisory lock ``<db>.sync.lock`` held for a whole sync, import or reparse.

    Uses ``filelock``'s descriptor lock (``fcntl.flock`` on Linux and macOS,
    ``LockFileEx`` on Windows), so the operating system releases it when the
    holder dies: a lock file left behind by a killed process never blocks the
    next run.  The file holds the holder's pid and command, for messages.
    """

    # How long acquire() keeps trying before it says the lock is taken: long
    # enough to outlast read_lock_holder()'s probe, short enough to be instant.
    probe_grace = 1.0

    def __init__(self, path: str | Path, command: str | None = None):
        self.db_path = Path(path)
        self.path = lock_path(self.db_path)
        self.command = command or _this_command()
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            raise CorpusError(f"the sync lock on {self.db_path.name} is already held by this process")
        parent = self.path.parent
        if not parent.is_dir():
            raise CorpusError(f"cannot lock {self.db_path}: folder {parent} does not exist; create it or use another --db")
        deadline = time.monotonic() + self.probe_grace
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
            except OSError as exc:
                raise CorpusError(f"cannot create lock file {self.path}: {exc.strerror}; use a writable --db location") from None
            try:
                locked = _try_lock(fd)
            except BaseException:
                os.close(fd)
                raise
            if not locked:
                holder = _read_holder(fd)
                os.close(fd)
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                who = f"pid {holder.pid}" if holder.pid else "another process"
                raise DatabaseLocked(
                    f"another {holder.command} ({who}) is writing to {self.db_path.name}; wait for it or use another --db"
                )
            # The holder before us may have unlinked the file after we opened it:
            # only a lock on the file still at this path counts.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            _unlock(fd)
            os.close(fd)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"\n{os.getpid()}\n{self.command}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if os.name == "nt":  # Windows cannot delete a file that is open: unlock, close, then tidy up
            try:
                _unlock(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)  # still holding the lock: nobody else can own this inode
        finally:
            try:
                _unlock(fd)
            finally:
                os.close(fd)

    def __enter__(self) -> SyncLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
