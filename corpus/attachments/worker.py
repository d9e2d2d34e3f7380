"""The extraction worker: ``python -m corpus.attachments.worker <memory bytes>``.

Started by :class:`corpus.attachments.sandbox.ExtractorPool`, never by hand.
It limits its own address space (``RLIMIT_AS``) and core dumps first, points
its standard output and error at ``/dev/null`` (libraries print; the protocol
must stay clean), says it is ready, then answers jobs until its input closes:

* a job is a frame holding a JSON header (``filename``, ``content_type``,
  ``limits``) followed by a frame holding the file's bytes;
* an answer is a frame holding the :class:`Extraction` as JSON.

A frame is a 4-byte big-endian length and that many bytes.  Answers are JSON,
never pickle: a file that took control of an extractor must not be able to
make the parent run code.  After running out of memory the worker answers and
exits, so the next job starts in a fresh process.

This module imports nothing heavy at start: the address-space limit counts
every library's reservations (pyarrow alone reserves about 290 MB).
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import struct
import sys
from typing import BinaryIO

_LENGTH = struct.Struct(">I")
READY = b"ready"

#: Libraries the worker never needs but that would be imported because they are
#: installed: pytesseract imports pandas and numpy (about 100 MB resident, 1.5 s)
#: only to accept arrays and return DataFrames, and openpyxl imports numpy to
#: recognise its number types.  Blocked, each of them just goes without.
UNUSED = ("pandas", "numpy")


def read_frame(stream: BinaryIO) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    body = stream.read(size)
    return body if len(body) == size else None


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


def _limit_self(memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def main(argv: list[str]) -> int:
    memory = int(argv[1]) if len(argv) > 1 else 0
    _limit_self(memory)
    for name in UNUSED:
        sys.modules[name] = None  # type: ignore[assignment]  # "import pandas" now raises ImportError
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(1), "wb")
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)

    from corpus.attachments.extract import extract_text
    from corpus.attachments.limits import Limits

    write_frame(answers, READY)
    while True:
        header = read_frame(requests)
        data = read_frame(requests) if header is not None else None
        if header is None or data is None:
            return 0
        job = json.loads(header)
        result = extract_text(data, job["filename"], job["content_type"], limits=Limits(**job["limits"]))
        del data
        write_frame(answers, json.dumps(dataclasses.asdict(result)).encode("utf-8"))
        if result.out_of_memory:
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
