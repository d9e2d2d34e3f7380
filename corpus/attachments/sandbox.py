"""Extraction in worker processes bounded in wall-clock time and memory.

:class:`ExtractorPool` keeps up to ``workers`` long-lived worker processes
(:mod:`corpus.attachments.worker`), each limited to ``limits.memory`` bytes of
address space (``RLIMIT_AS``).  Every job is bounded on its own:

* past ``limits.seconds`` of wall-clock time the worker's whole process group
  (Tesseract or a converter included) is killed with SIGKILL, the attachment is
  recorded ``timeout``, and a fresh worker takes the next job;
* an extraction that runs out of memory is recorded ``too_large`` (the worker
  answers, then exits and is replaced);
* a worker that dies (a crash inside a C library) is recorded ``failed`` with
  the signal, and replaced.

Workers run in their own session, so a Ctrl-C at the terminal reaches only
the parent, which decides: cancelling :meth:`ExtractorPool.extract_async`
kills the worker of that job at once.  Each worker gets a private temporary
folder (removed with it), so files left by a killed Tesseract do not pile up.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Self

from corpus.attachments.limits import DEFAULT_LIMITS, Limits, MiB
from corpus.attachments.result import Extraction, bad, valid_text
from corpus.attachments.worker import _LENGTH, READY

#: Seconds a new worker may take to start (import its modules) before it is given up.
START_SECONDS = 60.0
_POLL = 0.2


class _Cancelled(Exception):
    pass


_CANCELLED = Extraction("", None, None, "failed", "extraction cancelled: the run was stopping")
_STALE = Extraction("", None, None, "failed", "the worker had exited")


def _project_root() -> str:
    import corpus

    return str(Path(corpus.__file__).resolve().parent.parent)


def _worker_env(tmpdir: str) -> dict[str, str]:
    env = dict(os.environ)
    root = _project_root()
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    env["TMPDIR"] = tmpdir
    # One thread each: the machine's cores belong to the sync, and every thread's
    # stack and malloc arena counts against the address-space limit.
    for name in ("OMP_THREAD_LIMIT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    env["MALLOC_ARENA_MAX"] = "2"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class _Worker:
    """One worker process and the pipes to it."""

    def __init__(self, limits: Limits) -> None:
        self.tmpdir = tempfile.mkdtemp(prefix="corpus-extract-")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "corpus.attachments.worker", str(limits.memory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_worker_env(self.tmpdir),
            start_new_session=True,
            close_fds=True,
        )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.close()

    def close(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def _read_exact(self, size: int, deadline: float, cancel: threading.Event) -> bytes | None:
        """``size`` bytes from the worker, or None at end of file; TimeoutError past ``deadline``."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        chunks: list[bytes] = []
        got = 0
        while got < size:
            if cancel.is_set():
                raise _Cancelled
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            readable, _, _ = select.select([fd], [], [], min(left, _POLL))
            if not readable:
                continue
            chunk = os.read(fd, min(size - got, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def read_frame(self, deadline: float, cancel: threading.Event) -> bytes | None:
        head = self._read_exact(_LENGTH.size, deadline, cancel)
        if head is None:
            return None
        (size,) = _LENGTH.unpack(head)
        return self._read_exact(size, deadline, cancel)

    def send(self, header: bytes, data: bytes) -> None:
        assert self.proc.stdin is not None
        stdin = self.proc.stdin
        stdin.write(_LENGTH.pack(len(header)) + header)
        stdin.write(_LENGTH.pack(len(data)))
        stdin.write(data)
        stdin.flush()

    def death(self) -> str:
        """How the worker ended, in words."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        if code < 0:
            try:
                return f"it was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"it was killed by signal {-code}"
        return f"it exited with code {code}"


def _from_json(payload: bytes) -> Extraction:
    fields = json.loads(payload)
    for key in ("text", "method", "reason", "status", "text_source"):
        if isinstance(fields.get(key), str):
            fields[key] = valid_text(fields[key])
    return Extraction(**fields)


class ExtractorPool:
    """Worker processes that extract attachments within ``limits`` (see the module docstring).

    Thread-safe; use as a context manager, or call :meth:`close`.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS, workers: int = 1) -> None:
        self.limits = limits
        self._slots = threading.Semaphore(max(1, workers))
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.started = 0  # workers started so far (a replaced worker counts again)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = self._idle + list(self._busy)
            self._idle.clear()
        for worker in workers:
            worker.kill()

    def _take(self, deadline: float, cancel: threading.Event) -> tuple[_Worker, bool]:
        """An idle worker, or a new one once it is ready; and whether it is new."""
        with self._lock:
            if self._closed:
                raise _Cancelled
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    self._busy.add(worker)
                    return worker, False
                worker.close()
            worker = _Worker(self.limits)
            self.started += 1
            self._busy.add(worker)
        try:
            hello = worker.read_frame(deadline, cancel)
        except BaseException:
            self._drop(worker)
            raise
        if hello != READY:
            self._drop(worker)
            raise RuntimeError(f"the extraction worker did not start ({worker.death()})")
        return worker, True

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            keep = not self._closed and worker.alive
            if keep:
                self._idle.append(worker)
        if not keep:
            worker.kill()

    def _drop(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        worker.kill()

    def extract(
        self, data: bytes, filename: str | None, content_type: str | None, *, cancel: threading.Event | None = None
    ) -> Extraction:
        """Extract one attachment in a worker process.  Total: never raises.

        Setting ``cancel`` stops the job within a fifth of a second (its worker is
        killed) and returns a ``failed`` extraction saying so.
        """
        limits = self.limits
        cancel = cancel or threading.Event()
        if len(data) > limits.max_bytes:  # no need to ship it anywhere
            return bad("too_large", f"{len(data):,} bytes, over the {limits.max_bytes:,}-byte cap")
        header = json.dumps({"filename": filename or "", "content_type": content_type, "limits": asdict(limits)}).encode()
        with self._slots:
            for _ in range(2):  # a second go only when an idle worker had quietly exited
                result = self._run(header, data, cancel)
                if result is not _STALE:
                    return result
            return bad("failed", "the extraction workers keep exiting before taking a job")

    def _run(self, header: bytes, data: bytes, cancel: threading.Event) -> Extraction:
        limits = self.limits
        try:
            worker, fresh = self._take(time.monotonic() + START_SECONDS, cancel)
        except _Cancelled:
            return _CANCELLED
        except (RuntimeError, OSError, TimeoutError) as exc:
            return bad("failed", f"the extraction worker could not start ({type(exc).__name__}: {exc})")
        deadline = time.monotonic() + limits.seconds
        try:
            worker.send(header, data)
            answer = worker.read_frame(deadline, cancel)
        except TimeoutError:
            self._drop(worker)
            return bad(
                "timeout",
                f"extraction did not finish within the {limits.seconds:g}-second limit; its worker process was stopped",
            )
        except _Cancelled:
            self._drop(worker)
            return _CANCELLED
        except OSError:  # BrokenPipeError: it had gone
            answer = None
        if answer is None:
            how = worker.death()
            self._drop(worker)
            if not fresh and how == "it exited with code 0":
                return _STALE
            return bad(
                "failed",
                f"the extraction worker died ({how}); the file may need more than the "
                f"{limits.memory // MiB} MiB memory limit or crash a library",
            )
        try:
            result = _from_json(answer)
        except (ValueError, TypeError) as exc:
            self._drop(worker)
            return bad("failed", f"the extraction worker sent an unreadable answer ({type(exc).__name__})")
        if result.out_of_memory:
            self._drop(worker)  # it exits by itself; never hand it another job
        else:
            self._give_back(worker)
        return result

    async def extract_async(self, data: bytes, filename: str | None, content_type: str | None) -> Extraction:
        """:meth:`extract` in a thread; cancelling the task stops the job's worker at once."""
        cancel = threading.Event()
        try:
            return await asyncio.to_thread(self.extract, data, filename, content_type, cancel=cancel)
        except asyncio.CancelledError:
            cancel.set()  # the thread sees it within a fifth of a second and kills the worker
            raise
