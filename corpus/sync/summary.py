"""What a sync did: the one set of counters, shown live and stored in ``sync_runs``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from corpus.errors import EXIT_BLOCKED, EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_OK
from corpus.pipeline import ThreadOutcome
from corpus.writer import WriteResult

OUTCOMES = ("complete", "interrupted", "blocked", "failed")


@dataclass
class SyncSummary:
    discovered: int = 0  # request URLs seen in listings or given with --request
    fetched: int = 0  # threads fetched with an answer (200 or 304)
    new_threads: int = 0
    updated_threads: int = 0
    unchanged: int = 0  # fetched but identical (304, or same content)
    failed: int = 0  # URLs that failed for good this run
    parse_failures: int = 0  # pages kept but not understood (see parse_failures)
    removed: int = 0  # 404/410/403-hidden: flagged removed, rows kept
    json_missing: int = 0  # threads loaded from their HTML alone
    bad_json: int = 0  # ... of which the JSON came but could not be read
    new_messages: int = 0
    new_annotations: int = 0
    requests_made: int = 0
    elapsed: float = 0.0
    rate_achieved: float = 0.0
    queued_left: int = 0  # queued in the frontier (kept up to date during the run)
    outcome: str = "complete"  # complete | interrupted | blocked | failed
    exit_code: int = EXIT_OK
    message: str | None = None
    warnings: list[str] = field(default_factory=list)
    run_id: str | None = None
    attachments: dict[str, Any] | None = None  # figures of the --attachments step, when it ran
    from_archive: int = 0  # threads loaded from the --archive capture (the site refused them)
    not_archived: int = 0  # threads the site refused and the archive had no usable copy of (left blocked)
    withheld: int = 0  # archive copies of requests the live site reported removed: not used
    archive: dict[str, Any] | None = None  # figures of the --archive fallback, when there was one
    archive_text: str | None = None  # ... in one sentence

    def count_parsed(self, outcome: ThreadOutcome) -> None:
        """A thread fetched and parsed (written later)."""
        self.fetched += outcome.kind in ("loaded", "unchanged", "parse_failed")
        if outcome.origin == "archive":
            self.not_archived += outcome.kind == "failed"
        self.parse_failures += outcome.kind == "parse_failed"
        self.removed += outcome.kind == "removed"
        self.json_missing += outcome.json_missing
        self.bad_json += bool(outcome.json_problem)

    def count_written(self, result: WriteResult) -> None:
        """A batch written: what the loader found new, what failed for good, what could not be stored."""
        self.new_threads += result.load.requests_new
        self.updated_threads += result.load.requests_changed
        self.unchanged += result.load.unchanged + sum(o.kind == "unchanged" for o in result.outcomes)
        self.new_messages += result.load.messages_new
        self.new_annotations += result.load.annotations_new
        self.failed += len(result.failed_for_good)
        self.from_archive += sum(o.origin == "archive" and o.kind in ("loaded", "stale", "parse_failed")
                                 for o in result.outcomes)
        self.withheld += sum(o.kind == "withheld" for o in result.outcomes)
        self.parse_failures += len(result.isolated)
        if result.pending is not None:
            self.queued_left = result.pending

    def finish(self, elapsed: float, network_seconds: float) -> SyncSummary:
        """Set the timings and the exit code from the outcome and the counters."""
        self.elapsed = elapsed
        self.rate_achieved = self.requests_made / network_seconds if network_seconds > 0 else 0.0
        if self.outcome == "blocked":
            self.exit_code = EXIT_BLOCKED
        elif self.outcome == "interrupted":
            self.exit_code = EXIT_INTERRUPTED
            if not self.message:
                self.message = "Interrupted: everything fetched so far is saved; run the same command again to resume."
        elif self.failed or self.parse_failures or self.not_archived:
            self.exit_code = EXIT_FAILURES
        else:
            self.exit_code = EXIT_OK
        return self

    def describe(self) -> str:
        """One paragraph for people."""
        head = {
            "complete": "Sync complete.",
            "interrupted": "Sync interrupted; state saved.",
            "blocked": "Sync stopped: the site challenged us as a bot.",
            "failed": "Sync failed.",
        }.get(self.outcome, f"Sync {self.outcome}.")
        without_json = f"{self.json_missing} without JSON"
        if self.bad_json:
            without_json += f" ({self.bad_json} whose JSON could not be read)"
        parts = [
            head,
            f"{self.discovered} threads discovered, {self.fetched} fetched "
            f"({self.new_threads} new, {self.updated_threads} updated, {self.unchanged} unchanged), "
            f"{self.new_messages} new messages, {self.new_annotations} new annotations;",
            f"{self.failed} failed, {self.parse_failures} not understood (pages kept), "
            f"{self.removed} removed from the site, {without_json}.",
            f"{self.requests_made} requests in {self.elapsed:.1f} s ({self.rate_achieved:.2f} req/s).",
        ]
        if self.archive_text:
            parts.append(self.archive_text.replace("Archive:", f"Archive ({self.from_archive} threads from it):", 1))
        if self.queued_left:
            parts.append(f"{self.queued_left} threads remain queued; run the same command again to resume.")
        if self.failed or self.parse_failures:
            parts.append("`corpus status` lists what failed.")
        if self.message:
            parts.append(self.message)
        return " ".join(parts)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["elapsed"] = round(self.elapsed, 3)
        data["rate_achieved"] = round(self.rate_achieved, 3)
        return data
