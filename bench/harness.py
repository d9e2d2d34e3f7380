"""What the benchmarks share with the reliability tests: the real CLI as a subprocess, and a sample site's ground truth.

After any number of kills and restarts a corpus must hold exactly the site's
public threads, each complete (all its messages and annotations), with no
duplicate key and the raw page of every thread kept: :func:`site_truth`
says what that is, :func:`compare` checks a database against it.

It lives here, not under ``tests/``, because benchmarks import nothing from
the tests; the tests import it from here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- the real command line


def cli_env(**extra) -> dict:
    """The environment of a CLI run: no stray contact, database, site or stats interval, the project importable,
    tiny back-off."""
    env = dict(os.environ)
    env.pop("CORPUS_CONTACT", None)
    env.pop("CORPUS_DB", None)
    env.pop("CORPUS_SITE", None)
    env.pop("CORPUS_STATS_INTERVAL", None)
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["CORPUS_BACKOFF_BASE"] = "0.01"  # retries are exercised, not waited for
    env.update({k: str(v) for k, v in extra.items()})
    return env


def cli_args(*args) -> list[str]:
    return [sys.executable, "-m", "corpus.cli", *map(str, args)]


def run_cli(*args, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """``corpus ARGS...`` as a subprocess, to completion."""
    return subprocess.run(cli_args(*args), capture_output=True, text=True, timeout=timeout,
                          env=env or cli_env(), cwd=PROJECT_ROOT)


def start_cli(*args, env: dict | None = None, stdout=subprocess.DEVNULL) -> subprocess.Popen:
    """``corpus ARGS...`` started in the background; stderr is piped, stdout discarded unless asked for."""
    return subprocess.Popen(cli_args(*args), stdout=stdout, stderr=subprocess.PIPE, text=True,
                            env=env or cli_env(), cwd=PROJECT_ROOT)


def kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL ``proc`` after ``delay`` seconds; False when it had already finished."""
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    if proc.stderr is not None:
        proc.stderr.close()
    return True


# ---------------------------------------------------------------- ground truth


@dataclass
class Truth:
    """What a complete sync of some authorities must hold."""

    messages: dict[str, set[tuple[str, int]]]  # url_title -> {(direction, message id)}
    annotations: dict[str, set[int]]  # url_title -> {comment id}

    @property
    def slugs(self) -> set[str]:
        return set(self.messages)


def site_truth(corpus, authorities=None) -> Truth:
    """The threads a listing walk of ``authorities`` (default: all) finds, with their items.

    Only plain public threads are counted (hidden ones answer 403 and are not
    listed); every message and visible annotation of them is on the page.
    """
    msgs: dict[str, set[tuple[str, int]]] = {}
    notes: dict[str, set[int]] = {}
    for r in corpus.requests:
        if r.prominence != "normal" or not r.indexed_events():
            continue
        if authorities is not None and r.authority_url_name not in authorities:
            continue
        msgs[r.url_title] = {(m.direction, m.id) for m in r.messages}
        notes[r.url_title] = {a.id for a in r.annotations if a.visible}
    return Truth(msgs, notes)


@dataclass
class Comparison:
    threads_expected: int = 0
    threads_found: int = 0
    messages_expected: int = 0
    messages_found: int = 0
    annotations_expected: int = 0
    annotations_found: int = 0
    lost: list[str] = field(default_factory=list)  # missing threads/items, or pages
    duplicated: list[str] = field(default_factory=list)  # duplicate keys
    wrong: list[str] = field(default_factory=list)  # half threads, extra rows, bad pages

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.wrong)

    def problems(self) -> list[str]:
        return [f"lost: {x}" for x in self.lost] + [f"duplicated: {x}" for x in self.duplicated] + \
            [f"wrong: {x}" for x in self.wrong]

    def line(self) -> str:
        return (f"{len(self.lost)} lost, {len(self.duplicated)} duplicated, {len(self.wrong)} inconsistent "
                f"(compared {self.threads_found}/{self.threads_expected} threads, "
                f"{self.messages_found}/{self.messages_expected} messages, "
                f"{self.annotations_found}/{self.annotations_expected} annotations)")


_DUPLICATE_CHECKS = {
    "requests by url_title": "SELECT url_title, count(*) FROM requests GROUP BY ALL HAVING count(*) > 1",
    "requests by key": "SELECT request_key, count(*) FROM requests GROUP BY ALL HAVING count(*) > 1",
    "messages": "SELECT direction || '-' || message_id, count(*) FROM messages GROUP BY ALL HAVING count(*) > 1",
    "annotations": "SELECT comment_id::VARCHAR, count(*) FROM annotations GROUP BY ALL HAVING count(*) > 1",
    "attachments": "SELECT incoming_message_id || '/' || part, count(*) FROM attachments GROUP BY ALL HAVING count(*) > 1",
    "events": "SELECT event_id::VARCHAR, count(*) FROM events GROUP BY ALL HAVING count(*) > 1",
    "authorities": "SELECT url_name, count(*) FROM authorities GROUP BY ALL HAVING count(*) > 1",
    "users": "SELECT url_name, count(*) FROM users GROUP BY ALL HAVING count(*) > 1",
    "pages": "SELECT url, count(*) FROM pages GROUP BY ALL HAVING count(*) > 1",
    "frontier": "SELECT url, count(*) FROM frontier GROUP BY ALL HAVING count(*) > 1",
}


def compare(db_path, truth: Truth, *, complete: bool = True) -> Comparison:
    """Check the database against ``truth``.

    ``complete=False`` (after a kill, before the rerun) allows threads to be
    missing but still requires every thread present to be whole, with its page.
    """
    c = Comparison(threads_expected=len(truth.slugs),
                   messages_expected=sum(len(v) for v in truth.messages.values()),
                   annotations_expected=sum(len(v) for v in truth.annotations.values()))
    if not Path(db_path).exists():
        if complete:
            c.lost.append("the database file does not exist")
        return c
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = {t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
        if "schema_version" not in tables:
            # killed while the schema was being created: that transaction never committed
            if tables:
                c.wrong.append(f"tables {sorted(tables)} without schema_version (a half-created schema)")
            elif complete:
                c.lost.append("the database has no tables")
            return c
        for what, sql in _DUPLICATE_CHECKS.items():
            for key, n in con.execute(sql).fetchall():
                c.duplicated.append(f"{what} {key} x{n}")
        rows = con.execute(
            "SELECT r.url_title, r.request_key, r.source_url, r.page_sha256, p.sha256, p.kind, p.body IS NOT NULL "
            "FROM requests r LEFT JOIN pages p ON p.url = r.source_url"
        ).fetchall()
        keys = {}
        for slug, key, source_url, sha, page_sha, kind, has_body in rows:
            keys[key] = slug
            if slug not in truth.messages:
                c.wrong.append(f"thread {slug} is not on the site")
            if kind != "request_html" or not has_body:
                c.lost.append(f"raw page of {slug} ({source_url})")
            elif page_sha != sha:
                c.wrong.append(f"thread {slug} was parsed from page {sha}, but the stored page is {page_sha}")
        got_msgs: dict[str, set] = {}
        for key, direction, mid in con.execute("SELECT request_key, direction, message_id FROM messages").fetchall():
            got_msgs.setdefault(keys.get(key, f"?{key}"), set()).add((direction, int(mid)))
        got_notes: dict[str, set] = {}
        for key, cid in con.execute("SELECT request_key, comment_id FROM annotations").fetchall():
            got_notes.setdefault(keys.get(key, f"?{key}"), set()).add(int(cid))
        orphans = [s for s in list(got_msgs) + list(got_notes) if s.startswith("?")]
        c.wrong.extend(f"messages or annotations of request_key {s[1:]} with no request row" for s in set(orphans))
        present = set(keys.values())
        c.threads_found = len(present & truth.slugs)
        for slug in sorted(truth.slugs):
            if slug not in present:
                if complete:
                    c.lost.append(f"thread {slug}")
                continue
            want_m, have_m = truth.messages[slug], got_msgs.get(slug, set())
            want_a, have_a = truth.annotations[slug], got_notes.get(slug, set())
            c.messages_found += len(want_m & have_m)
            c.annotations_found += len(want_a & have_a)
            if want_m - have_m:
                c.lost.append(f"messages {sorted(want_m - have_m)} of {slug} (half-written thread)")
            if have_m - want_m:
                c.wrong.append(f"messages {sorted(have_m - want_m)} of {slug} are not on the site")
            if want_a - have_a:
                c.lost.append(f"annotations {sorted(want_a - have_a)} of {slug}")
            if have_a - want_a:
                c.wrong.append(f"annotations {sorted(have_a - want_a)} of {slug} are not on the site")
        if complete:
            states = dict(con.execute(
                "SELECT url_title, state FROM frontier WHERE kind = 'request'").fetchall())
            for slug in sorted(truth.slugs):
                if states.get(slug) != "done":
                    c.wrong.append(f"frontier state of {slug} is {states.get(slug)!r}, not 'done'")
    finally:
        con.close()
    return c
