"""Re-extract text from kept original files (``corpus reparse``; no network).

Only attachments downloaded with ``--attachments files`` can be redone: their
bytes are in ``<db>.files``.  Each row's text, method, status and reason are
replaced by a fresh extraction (in worker processes bounded in time and memory,
as during a sync); where the file has gone missing or no longer
matches its hash, the row is left as it was and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corpus.attachments.limits import DEFAULT_LIMITS, Limits
from corpus.attachments.sandbox import ExtractorPool
from corpus.attachments.store import (
    COLUMNS,
    extraction_columns,
    files_root,
    read_kept,
    utc_now,
    write_rows,
)
from corpus.errors import CorpusError


@dataclass
class ReextractStats:
    files: int = 0
    redone: int = 0
    missing: int = 0  # kept file gone, unreadable or changed: row left as it was
    changed: int = 0  # status or text differs from before
    statuses: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        parts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        text = f"attachments: {self.redone} of {self.files} kept files re-extracted ({self.changed} changed)"
        if parts:
            text += f"; {parts}"
        if self.missing:
            text += f"; {self.missing} kept files missing or altered (rows left as they were)"
        return text


def reextract_all(con, db_path, *, batch_size: int = 200, limits: Limits = DEFAULT_LIMITS, workers: int = 1) -> ReextractStats:
    """Redo the text of every attachment whose original file was kept; return what happened."""
    root = files_root(db_path)
    names = [name for name, _ in COLUMNS]
    cur = con.execute(f"SELECT {', '.join(names)} FROM attachment_texts WHERE stored_path IS NOT NULL ORDER BY site, incoming_message_id, part")
    rows = [dict(zip(names, values)) for values in cur.fetchall()]
    stats = ReextractStats(files=len(rows))
    out: list[dict[str, object]] = []
    with ExtractorPool(limits, workers) as pool:
        for row in rows:
            try:
                data = read_kept(root, row["stored_path"], row["sha256"])
            except (OSError, CorpusError):
                stats.missing += 1
                continue
            extraction = pool.extract(data, row["filename"] or "", row["content_type"])
            fresh = dict(row)
            fresh.update(extraction_columns(extraction))
            fresh["extracted_at"] = utc_now()
            if (fresh["status"], fresh["text"]) != (row["status"], row["text"]):
                stats.changed += 1
            stats.redone += 1
            stats.statuses[extraction.status] = stats.statuses.get(extraction.status, 0) + 1
            out.append(fresh)
            if len(out) >= batch_size:
                write_rows(con, out)
                out.clear()
    write_rows(con, out)
    return stats
