"""The worker pool itself: reuse, a worker that dies, cancellation, and the protocol's safety."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

from corpus.attachments.limits import Limits, MiB
from corpus.attachments.sandbox import ExtractorPool

from . import bombs, samples
from .treerss import _children

# A job that keeps its worker busy for a long time: only a kill stops it.
SLOW = Limits(max_stream_bytes=80 * MiB, max_stream_tokens=50_000_000, seconds=60, soft_fraction=10, memory=1024 * MiB)


def _workers() -> set[int]:
    return set(_children(os.getpid()))


def test_one_worker_serves_many_attachments():
    with ExtractorPool() as pool:
        first = pool.extract(samples.pdf_with_text(), "a.pdf", "application/pdf")
        second = pool.extract(samples.docx_letter(), "b.docx", None)
        assert (first.status, second.status) == ("ok", "ok")
        assert "section 40(2)" in first.text and "section 40(2)" in second.text
        assert pool.started == 1


def test_a_worker_killed_mid_job_is_recorded_and_replaced():
    before = _workers()
    with ExtractorPool(SLOW) as pool:
        results = {}
        job = threading.Thread(target=lambda: results.update(r=pool.extract(bombs.pdf_shared_stream_bomb(pages=2), "x.pdf", None)))
        job.start()
        deadline = time.monotonic() + 30
        while not (_workers() - before) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # let it get into the page
        (worker,) = _workers() - before
        os.kill(worker, signal.SIGSEGV)
        job.join(30)
        assert results["r"].status == "failed"
        assert results["r"].reason.startswith("the extraction worker died (it was killed by SIGSEGV)")
        after = pool.extract(b"Refused under section 14(1).", "note.txt", "text/plain")
        assert after.status == "ok" and pool.started == 2
    assert not (_workers() - before), "closing the pool ends its workers"


def test_cancelling_the_task_stops_the_worker_at_once():
    before = _workers()

    async def main():
        with ExtractorPool(SLOW) as pool:
            task = asyncio.create_task(pool.extract_async(bombs.pdf_shared_stream_bomb(pages=2), "x.pdf", None))
            await asyncio.sleep(1.5)
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            waited = time.monotonic() - started
            # The worker of the cancelled job is gone well before its 60-second limit.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # polls the process table: there is no event to await
                if not (_workers() - before):
                    break
                await asyncio.sleep(0.05)
            assert not (_workers() - before)
            again = await pool.extract_async(samples.pdf_with_text(), "a.pdf", None)
            return waited, again

    waited, again = asyncio.run(main())
    assert waited < 1.0
    assert again.status == "ok"


def test_oversized_files_are_not_shipped_to_a_worker():
    with ExtractorPool(Limits(max_bytes=1000)) as pool:
        result = pool.extract(b"x" * 1001, "big.txt", None)
        assert result.status == "too_large" and "1,000-byte cap" in result.reason
        assert pool.started == 0


def test_worker_output_is_data_not_code(monkeypatch):
    # Whatever the worker says is parsed as JSON into an Extraction; a surrogate
    # that slipped into the text is made storable.
    from corpus.attachments.sandbox import _from_json

    got = _from_json(b'{"text": "a\\ud800b", "pages": null, "method": "m 1", "status": "ok", '
                     b'"reason": null, "text_source": "text_layer", "ocr_confidence": null}')
    assert got.text == "a?b"
    with pytest.raises(ValueError):
        _from_json(b"\x80\x04\x95")  # a pickle is not accepted
