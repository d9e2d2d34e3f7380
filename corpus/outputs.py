"""Writing output files without ever harming the corpus.

Every file the tool writes for the user (``corpus query``, ``corpus sql``,
``corpus export``, ``corpus report``) goes through here:

* an output that is the database, a file beside it that belongs to it
  (``foi.duckdb.wal``, ``foi.duckdb.sync.lock``, ``foi.duckdb.files/``,
  ``foi.duckdb.search/`` ..., i.e. any name starting with the database's name and
  a dot, in its folder), any existing DuckDB database (checked by its magic
  bytes, whatever its name), a folder, or a special file (device, FIFO, socket)
  is refused before anything is written;
* the content goes to a temporary file in the same folder, is flushed to disk,
  and only then renamed over the target (an atomic step on one file system):
  a failure (full disk, Ctrl-C) leaves the old file as it was and no partial
  file behind;
* operating-system errors become one line naming the problem and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from corpus.errors import UsageError

_DUCKDB_MAGIC = b"DUCK"
_DUCKDB_MAGIC_OFFSET = 8


def is_duckdb_file(path: Path) -> bool:
    """Whether ``path`` is a regular file that starts like a DuckDB database."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_DUCKDB_MAGIC_OFFSET + len(_DUCKDB_MAGIC))
    except OSError:
        return False
    return head[_DUCKDB_MAGIC_OFFSET:] == _DUCKDB_MAGIC


def _belongs_to_database(target: Path, db_path: str | os.PathLike | None) -> bool:
    """``target`` is the database, or inside/beside it under a name starting with the database's name and a dot."""
    if not db_path:
        return False
    db = Path(os.path.realpath(db_path))
    if target == db:
        return True
    with contextlib.suppress(OSError):
        if target.exists() and db.exists() and os.path.samefile(target, db):
            return True
    for part in [target, *target.parents]:
        if part.parent == db.parent and part.name.startswith(db.name + "."):
            return True
    return False


def _resolve(path: str | os.PathLike) -> Path:
    """The absolute path with symbolic links followed (a link to the database is the database)."""
    return Path(os.path.realpath(os.path.abspath(os.fspath(path))))


def check_output(path: str | os.PathLike, *, db_path: str | os.PathLike | None = None, folder: bool = False) -> Path:
    """Refuse an output that would harm the corpus or cannot be written; return its resolved path.

    ``folder=True`` checks an output folder (``corpus export``): it must be new
    or empty.
    """
    shown = os.fspath(path)
    if not shown:
        raise UsageError("--output is empty; give a file name, e.g. --output result.csv")
    target = _resolve(path)
    if _belongs_to_database(target, db_path):
        raise UsageError(
            f"--output {shown} is the database or one of its files ({os.path.basename(os.fspath(db_path or ''))}); "
            "writing there would destroy the corpus: choose another name"
        )
    if target.exists() or target.is_symlink():
        mode = os.stat(target).st_mode if target.exists() else 0
        if folder:
            if not stat.S_ISDIR(mode):
                raise UsageError(f"--output {shown} is a file; give a new or empty folder")
            if any(target.iterdir()):
                raise UsageError(f"--output {shown} is not empty; give a new or empty folder so no old files mix with the output")
        else:
            if stat.S_ISDIR(mode):
                raise UsageError(f"--output {shown} is a folder; give a file name inside it, e.g. {Path(shown) / 'result'}")
            if not stat.S_ISREG(mode):
                raise UsageError(f"--output {shown} is not a regular file (a device, pipe or socket); give a file name")
            if is_duckdb_file(target):
                raise UsageError(f"--output {shown} is a DuckDB database; it was left untouched: choose another name")
    parent = target.parent
    if not parent.exists():
        raise UsageError(f"cannot write {shown}: folder {parent} does not exist; create it (mkdir -p {parent}) or choose another --output")
    if not parent.is_dir():
        raise UsageError(f"cannot write {shown}: {parent} is not a folder; choose another --output")
    return target


def os_error_message(exc: BaseException, shown: str) -> str:
    """One line for an operating-system error met while writing ``shown``."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code in (errno.ENOSPC, errno.EDQUOT) or "No space left" in text or "Disk quota" in text:
        return f"cannot write {shown}: no space left on the device; free some space or write to another disk (--output)"
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return f"cannot write {shown}: permission denied in its folder; choose a folder you can write to (--output)"
    if code == errno.EROFS or "Read-only file system" in text:
        return f"cannot write {shown}: the file system is read-only; choose another --output"
    if code == errno.ENAMETOOLONG:
        return f"cannot write {shown}: the name is too long; choose a shorter --output"
    reason = getattr(exc, "strerror", None) or (text.splitlines()[0] if text else type(exc).__name__)
    return f"cannot write {shown}: {reason}; choose another --output"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None], *, db_path: str | os.PathLike | None = None) -> Path:
    """Check ``path``, let ``write(tmp)`` fill a temporary file beside it, then rename it into place."""
    target = check_output(path, db_path=db_path)
    tmp = None
    try:
        with _one_line_errors(os.fspath(path)):
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            tmp = Path(tmp_name)
            os.fchmod(fd, 0o666 & ~_umask())
            os.close(fd)
            write(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            check_output(path, db_path=db_path)  # nothing harmful appeared there meanwhile
            os.replace(tmp, target)
            tmp = None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
    return target


def write_text_atomic(path: str | os.PathLike, text: str, *, db_path: str | os.PathLike | None = None) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    data = text.encode("utf-8")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    return write_atomic(path, write, db_path=db_path)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike, *, db_path: str | os.PathLike | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it is renamed to ``path`` (new or empty)."""
    target = check_output(path, db_path=db_path, folder=True)
    tmp: Path | None = None
    try:
        with _one_line_errors(os.fspath(path)):
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
            os.chmod(tmp, 0o777 & ~_umask())
            yield tmp
            check_output(path, db_path=db_path, folder=True)
            if target.is_dir():
                target.rmdir()  # empty (checked): the rename takes its place
            os.rename(tmp, target)
            tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _one_line_errors(shown: str) -> Iterator[None]:
    """Operating-system errors (and DuckDB's failed writes) while writing ``shown`` as one UsageError line."""
    try:
        yield
    except OSError as exc:
        raise UsageError(os_error_message(exc, shown)) from None
    except Exception as exc:
        if _is_io_error(exc):
            raise UsageError(os_error_message(exc, shown)) from None
        raise


def _is_io_error(exc: BaseException) -> bool:
    """DuckDB reports failed file writes as its own IOException, not OSError."""
    try:
        import duckdb
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, duckdb.IOException)
