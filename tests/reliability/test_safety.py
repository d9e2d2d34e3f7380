"""Safety: nothing the user did not choose to share is written down; text from
the site is data (stored as text, escaped in the HTML report)."""

from __future__ import annotations

import html
import json
import zlib

import duckdb

from corpus.errors import EXIT_OK
from tests.reliability.truth import run_cli, site_truth

SECRET_CONTACT = "secret.person@example.org"
COOKIE_VALUE = "c00k1e5ecretZX9"


def _with_cookies(site):
    """Make every answer of ``site`` set session cookies, as a Rails site does."""
    handle = site.handle

    def handle_with_cookies(method, path):
        resp = handle(method, path)
        resp.add("Set-Cookie", f"_wdtk_cookie_session={COOKIE_VALUE}; path=/; HttpOnly; SameSite=Lax")
        resp.add("Set-Cookie", f"tracking_id={COOKIE_VALUE}-2; path=/")
        return resp

    site.handle = handle_with_cookies
    return site


def _text_everywhere(db_path) -> str:
    """Every text-like value of every table, page bodies decompressed, as one string."""
    con = duckdb.connect(str(db_path), read_only=True)
    out = []
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()]
        for t in tables:
            cols = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main'",
                [t]).fetchall()
            for col, typ in cols:
                if typ == "BLOB":
                    for (blob,) in con.execute(f'SELECT "{col}" FROM "{t}" WHERE "{col}" IS NOT NULL').fetchall():
                        raw = bytes(blob)
                        try:
                            raw = zlib.decompress(raw)
                        except zlib.error:
                            pass
                        out.append(raw.decode("utf-8", "replace"))
                else:
                    out.extend(str(v) for (v,) in con.execute(
                        f'SELECT CAST("{col}" AS VARCHAR) FROM "{t}" WHERE "{col}" IS NOT NULL').fetchall())
    finally:
        con.close()
    return "\n".join(out)


def test_no_contact_address_or_cookie_is_written_to_the_corpus_or_the_logs(fake_site_factory, tmp_path):
    from corpus.sample_site import generate_corpus

    site = _with_cookies(fake_site_factory(generate_corpus(8, seed=11, n_authorities=1), serve_2019_pages_from=False))
    dbp = tmp_path / "private.duckdb"
    auth = next(iter(site.corpus.authorities))
    res = run_cli("sync", "--site", site.url, "--db", dbp, "--authority", auth, "--rate", "200",
                  "--contact", SECRET_CONTACT, "--log-format", "json", "--authorities")
    assert res.returncode == EXIT_OK, res.stderr
    # the sync really ran, and the contact really went out in the User-Agent (that is its purpose)
    ours = [h for h in site.hits if SECRET_CONTACT in h.headers.get("User-Agent", "")]
    assert len(ours) >= 2 + 2 * len(site_truth(site.corpus).slugs)
    assert ours[0].headers["User-Agent"] == f"foi-corpus/0.1.0 (FOI research corpus builder; contact: {SECRET_CONTACT})"
    everything = _text_everywhere(dbp)
    assert len(everything) > 10_000
    assert SECRET_CONTACT not in everything and "secret.person" not in everything
    assert COOKIE_VALUE not in everything and "_wdtk_cookie_session" not in everything
    for line in res.stderr.splitlines():
        json.loads(line)  # --log-format json: every log line is one JSON object
    for stream in (res.stdout, res.stderr):
        assert SECRET_CONTACT not in stream and COOKIE_VALUE not in stream


def test_site_cookies_are_never_sent_back(fake_site_factory, tmp_path):
    from corpus.sample_site import generate_corpus

    site = _with_cookies(fake_site_factory(generate_corpus(4, seed=12, n_authorities=1), serve_2019_pages_from=False))
    slugs = sorted(site_truth(site.corpus).slugs)
    res = run_cli("sync", "--site", site.url, "--db", tmp_path / "c.duckdb", "--rate", "200",
                  *[a for s in slugs for a in ("--request", s)])
    assert res.returncode == EXIT_OK, res.stderr
    assert len(site.hits) >= 1 + 2 * len(slugs)
    assert [h.path for h in site.hits if "cookie" in {k.lower() for k in h.headers}] == []


def test_markup_from_the_site_is_stored_as_text_and_escaped_in_the_report(fake_site_factory, tmp_path):
    from corpus.report import build_report
    from corpus.sample_site import generate_corpus

    corpus = generate_corpus(10, seed=5, n_authorities=1, end=__import__("datetime").date(2025, 6, 1))
    evil = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'
    for r in corpus.requests:
        r.title = f"{r.title} {evil}"
        r.messages[0].paragraphs.append(evil)
    for a in corpus.authorities.values():
        a.name = f"{a.name} {evil}"
    corpus.version += 1
    site = fake_site_factory(corpus, serve_2019_pages_from=False)
    dbp = tmp_path / "evil.duckdb"
    auth = next(iter(corpus.authorities))
    res = run_cli("sync", "--site", site.url, "--db", dbp, "--authority", auth, "--rate", "200")
    assert res.returncode == EXIT_OK, res.stderr
    con = duckdb.connect(str(dbp), read_only=True)
    try:
        titles = [t for (t,) in con.execute("SELECT title FROM requests").fetchall()]
        [(bodies,)] = con.execute("SELECT count(*) FROM messages WHERE body LIKE '%<script>alert(\"pwned\")</script>%'").fetchall()
    finally:
        con.close()
    assert titles and all(t.endswith(evil) for t in titles)  # kept verbatim, as text
    assert bodies == len(titles)
    out = tmp_path / "report.html"
    build_report(db_path=str(dbp), output=str(out), authorities=[], query=None)
    page = out.read_text()
    assert "<script>alert" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert html.escape(evil, quote=True) in page  # shown, escaped
    # text typed on the command line is escaped too
    build_report(db_path=str(dbp), output=str(out), authorities=[], query="<script>x")
    assert "<script>x" not in out.read_text() and "&lt;script&gt;x" in out.read_text()
