"""The ``corpus`` command: a thin click layer over importable functions.

Every command parses its options, then calls one plain function that a notebook
could call too.  Expected failures (``CorpusError``, and the scraper's
``ScraperError``, mapped here to option names and exit codes) become one line
on stderr and a non-zero exit code; nothing else is caught.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from datetime import date

import click

from corpus import DEFAULT_DB, DEFAULT_SITE, __version__
from corpus.errors import (
    EXIT_BLOCKED,
    EXIT_FAILURES,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CorpusError,
)
from scraper.errors import ChallengeDetected, InvalidInput, ScraperError, Stopped


def _db_option_saying(help_text: str, *, default=None, show_default: str = "./foi.duckdb, or $CORPUS_DB"):
    """``--db``, the same on every verb; ``help_text`` says whether the verb reads or writes the file."""
    def option(f):
        return click.option(
            "--db",
            "db_path",
            default=default or (lambda: os.environ.get("CORPUS_DB") or DEFAULT_DB),
            show_default=show_default,
            type=click.Path(dir_okay=False),
            help=help_text,
        )(f)

    return option


_db_option = _db_option_saying("DuckDB database file to read and write.")
_read_db_option = _db_option_saying("DuckDB database file to read (opened read-only).")

SITE_ENV = "CORPUS_SITE"


def _env_site() -> str | None:
    """``$CORPUS_SITE``, normalised as a stored site address is (None when unset)."""
    raw = (os.environ.get(SITE_ENV) or "").strip()
    if not raw:
        return None
    from scraper.urls import normalise_site

    try:
        return normalise_site(raw)
    except InvalidInput as exc:
        raise CorpusError(f"${SITE_ENV}: {exc}") from None


def _site_option(f):
    return click.option(
        "--site",
        default=lambda: (os.environ.get(SITE_ENV) or "").strip() or DEFAULT_SITE,
        show_default=f"{DEFAULT_SITE}, or ${SITE_ENV}",
        help="Base URL of the Alaveteli site (WhatDoTheyKnow or any other).",
    )(f)


def _site_filter_option(help_text: str):
    """``--site`` as a filter on what is read: given, or ``$CORPUS_SITE``, or every site in the file."""
    return click.option("--site", "site_filter", metavar="URL", help=help_text + f" Default: ${SITE_ENV} when set.")


def _site_filter(value: str | None) -> str | None:
    if value:
        from scraper.urls import normalise_site

        try:
            return normalise_site(value)
        except InvalidInput as exc:
            raise CorpusError(f"--site: {exc}") from None
    return _env_site()


# ---------------------------------------------------------------- logs, progress and errors


def _settings() -> dict:
    """The global options (``corpus --quiet --log-format json VERB``), kept on the root context."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return {}
    root = ctx.find_root()
    if not isinstance(root.obj, dict):
        root.obj = {}
    return root.obj


def _reporter(quiet: bool = False, log_format: str | None = None):
    """The command's reporter: the global options, overridden by the verb's own ``--quiet``/``--log-format``."""
    from corpus.progress import Reporter

    settings = _settings()
    if log_format:
        settings["log_format"] = log_format
    rep = Reporter(quiet=quiet or settings.get("quiet", False), log_format=settings.get("log_format") or "text")
    settings["reporter"] = rep
    return rep


def _error(message: str, code: int, settings: dict | None = None, **fields) -> None:
    """``Error: message`` on stderr, or an ``error`` JSON object with ``--log-format json``."""
    from corpus.progress import Reporter

    settings = _settings() if settings is None else settings
    rep = settings.get("reporter")
    if rep is not None:
        rep.stop()
    else:
        rep = Reporter(log_format=settings.get("log_format") or "text")
    rep.error(message, exit_code=code, **fields)


# The option that gave a value the scraper refused (``InvalidInput.subject``).
_OPTION_OF_SUBJECT = {
    "site": "--site",
    "request": "--request",
    "contact": "--contact",
    "rate": "--rate",
    "dates": "--since/--until",
    "authority": "--authority",
    "user": "--user",
    "query": "--query",
    "archive": "--archive",
    "archive_rate": "--archive-rate",
}


def scraper_failure(exc: ScraperError) -> tuple[str, int]:
    """The one line and the exit code the CLI gives for an error raised by the scraper."""
    if isinstance(exc, InvalidInput):
        option = _OPTION_OF_SUBJECT.get(exc.subject)
        return (f"{option}: {exc}" if option else str(exc)), EXIT_USAGE
    if isinstance(exc, ChallengeDetected):
        return (f"{exc}. The queue is kept: try again later, or load pages saved from a browser with "
                "`corpus import` (or try `corpus demo`)"), EXIT_BLOCKED
    if isinstance(exc, Stopped):
        return f"interrupted ({exc}); run the same command again to resume", EXIT_INTERRUPTED
    return str(exc), EXIT_FAILURES  # robots.txt or a listing unreadable: nothing more could be done


def _expected_errors(f):
    """Turn CorpusError and ScraperError into `Error: ...` and an exit code, without a traceback."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except CorpusError as exc:
            _error(str(exc), exc.exit_code)
            sys.exit(exc.exit_code)
        except ScraperError as exc:
            message, code = scraper_failure(exc)
            _error(message, code)
            sys.exit(code)
        except Exception as exc:  # a bug: a traceback for people, one JSON object for machines
            if _settings().get("log_format") != "json":
                raise
            import traceback

            _error(f"internal error: {exc!r}", EXIT_FAILURES, traceback=traceback.format_exc())
            sys.exit(EXIT_FAILURES)

    return wrapper


def _parse_date(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a real date; use YYYY-MM-DD, e.g. 2024-01-31.") from None


class _Group(click.Group):
    """Group whose errors are one line (click's default is a usage block)."""

    def main(self, args=None, prog_name=None, **kwargs):
        try:
            rv = super().main(args=args, prog_name=prog_name, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(EXIT_USAGE)
        except click.UsageError as exc:
            hint = ""
            settings: dict = {}
            if exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
                root = exc.ctx.find_root()
                settings = root.obj if isinstance(root.obj, dict) else {}
            _error(f"{exc.format_message()}{hint}", EXIT_USAGE, settings)
            sys.exit(EXIT_USAGE)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        if isinstance(rv, int):
            sys.exit(rv)
        sys.exit(0)


_QUIET_HELP = "No progress display or stats lines; only warnings, errors and the result."
_LOG_FORMAT_HELP = ("Log lines, stats lines, the summary and errors on stderr as text, or as one JSON object "
                    "per line (json, for machines).")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="corpus")
@click.option("--quiet", is_flag=True, help=_QUIET_HELP)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help=_LOG_FORMAT_HELP)
@click.pass_context
def main(ctx, quiet, log_format):
    """Build a DuckDB corpus of Freedom of Information threads from
    WhatDoTheyKnow (or any Alaveteli site) and analyse it.

    \b
    Typical use:
      corpus authorities --search "home office"     (find a body's slug)
      corpus sync --authority <body slug> --contact you@example.org
      corpus query response_times --authority <body slug>
      corpus report --output report.html

    With no network, `corpus demo` runs the whole pipeline against the bundled
    sample site.  --quiet and --log-format go before the verb
    (`corpus --log-format json sync ...`).  $CORPUS_DB and $CORPUS_SITE set
    the default --db and --site of every verb.
    """
    settings = ctx.ensure_object(dict)
    settings.update(quiet=quiet, log_format=log_format)


@main.command()
@_db_option
@_site_option
@click.option("--authority", "authorities", multiple=True, metavar="SLUG", help="Collect every request to this authority (/body/SLUG). Repeatable.")
@click.option("--user", "users", multiple=True, metavar="SLUG", help="Collect every request made by this user (/user/SLUG). Repeatable.")
@click.option("--request", "requests", multiple=True, metavar="SLUG|URL|ID", help="Collect this request thread. Repeatable.")
@click.option("--query", metavar="TEXT", help="Collect requests matching this /list search query.")
@click.option("--since", callback=_parse_date, metavar="DATE", help="Only requests with events on or after this date (YYYY-MM-DD).")
@click.option("--until", callback=_parse_date, metavar="DATE", help="Only requests with events on or before this date (YYYY-MM-DD).")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Fetch at most N new threads this run.")
@click.option("--rate", type=float, default=0.5, show_default=True, metavar="REQ_PER_S", help="Ceiling on requests per second to the site (max 5 for public sites).")
@click.option("--contact", envvar="CORPUS_CONTACT", metavar="EMAIL", help="Your contact address, sent in the User-Agent (or $CORPUS_CONTACT). Required for remote sites.")
@click.option("--refresh", is_flag=True, help="Re-fetch every known thread, not only those whose listing changed.")
@click.option("--authority-list", "fetch_authorities", is_flag=True, help="Also load the site's list of every authority (names, short names, tags, home pages) from /body/all-authorities.csv, for `corpus authorities --search`. Collects no requests by itself.")
@click.option("--authorities", "old_authority_list", is_flag=True, hidden=True)  # the old name of --authority-list
@click.option("--attachments", type=click.Choice(["none", "text", "files"]), default="none", show_default=True, help="Download incoming attachments and extract their text (text), also keeping the files (files).")
@click.option("--reader-wait", type=click.FloatRange(min=0), default=None, metavar="SECONDS", help="While a reader (notebook, DuckDB shell) keeps the database open and nothing else is left to do, wait this long before leaving the fetched threads in <db>.spool/ for the next command (exit 5). Default 300, or $CORPUS_READER_WAIT.")
@click.option("--archive", metavar="URL", help="A Wayback-compatible archive to fall back on when the site challenges us, e.g. https://web.archive.org or a pywb collection URL.")
@click.option("--archive-rate", type=float, metavar="REQ_PER_S", help="Ceiling on requests per second to the archive (default 1 every 3 s; at most 0.4 for public archives).")
@click.option("--source", type=click.Choice(["site", "archive"]), default="site", show_default=True, help="Where threads come from: the live site (the archive behind it), or the archive alone.")
@click.option("--quiet", is_flag=True, help=_QUIET_HELP + " Also accepted before the verb.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None, show_default="text",
              help=_LOG_FORMAT_HELP + " Also accepted before the verb.")
@_expected_errors
def sync(quiet, log_format, old_authority_list, **options):
    """Politely collect FOI threads from the site into the database.

    Honours robots.txt, never exceeds --rate, retries with back-off, and stops
    (exit 3) if the site presents a bot challenge -- or, with --archive, takes
    what was refused from the archive instead and carries on. Killing it at any
    moment is safe: run it again to resume. Re-runs only fetch threads that changed.
    """
    from corpus.sync import SyncOptions, run_sync
    from corpus.sync.run import leave_pandas_out
    from corpus.writer import sync_malloc_policy

    leave_pandas_out()
    sync_malloc_policy()
    rep = _reporter(quiet, log_format)
    if old_authority_list:
        rep.log("deprecated", "--authorities is now called --authority-list; the old name will be removed",
                level="warning", option="--authorities")
        options["fetch_authorities"] = True
    summary = run_sync(SyncOptions.build(**options), reporter=rep)
    click.echo(summary.describe())
    rep.summary(summary.describe(), exit_code=summary.exit_code, summary=summary.as_json())
    sys.exit(summary.exit_code)


@main.command(name="import")
@_db_option
@_site_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@_expected_errors
def import_(db_path, site, paths):
    """Load saved request pages (HTML, with the .json beside them) from files or folders.

    Folders are read recursively. Files that are not request pages are named
    and skipped. Use this when the site cannot be reached or challenges bots.
    """
    from corpus.importer import import_paths

    rep = _reporter()
    try:
        summary = import_paths(db_path=db_path, site=site, paths=list(paths), progress=rep.progress)
    finally:
        rep.stop()
    for name, problem in summary.bad_json:
        rep.log("bad_json", f"{name}: JSON not used, loaded from the page alone ({problem})", level="warning",
                file=name)
    for warning in summary.warnings:
        rep.log("import_warning", warning, level="warning")
    click.echo(summary.describe())
    rep.summary(summary.describe(), exit_code=summary.exit_code, imported=summary.imported,
                new_threads=summary.new_threads, updated_threads=summary.updated_threads,
                parse_failures=len(summary.parse_failures), skipped=len(summary.skipped))
    sys.exit(summary.exit_code)


@main.command()
@_db_option
@_expected_errors
def reparse(db_path):
    """Rebuild every table from the stored raw pages with the current parser (no network)."""
    from corpus.reparse import reparse as do_reparse

    rep = _reporter()

    def bad_json(url: str, problem: str) -> None:
        rep.log("bad_json", f"{url}: JSON not used, loaded from the page alone ({problem})", level="warning", url=url)

    try:
        stats = do_reparse(db_path, on_bad_json=bad_json, progress=rep.progress)
    finally:
        rep.stop()
    click.echo(stats.describe())
    rep.summary(stats.describe(), pages=stats.pages, threads=stats.threads, failures=stats.failures,
                seconds=round(stats.seconds, 3))


@main.command()
@_read_db_option
@_expected_errors
def status(db_path):
    """Show what the database holds: threads, messages, queue, failures, last runs."""
    from corpus.status import status_report

    click.echo(status_report(db_path, notify=_reporter().note))


@main.command(name="queries")
@_db_option_saying("DuckDB database file (not opened: the canned queries are the same for every corpus; "
                   "accepted so that every verb takes --db).")
@_expected_errors
def list_queries(db_path):
    """List the canned queries with their descriptions and parameters."""
    from corpus.queries import describe_queries

    click.echo(describe_queries())


_FLAG_NAMES = {"db_path": "--db", "fmt": "--format", "params": "--param", "site_filter": "--site",
               "name": "NAME", "statement": "STATEMENT", "search": "--search"}


def _text_arguments(f):
    """Refuse arguments that are not UTF-8 text (the shell passed raw bytes) with one line, not a traceback."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        for name, value in kwargs.items():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, str):
                    try:
                        item.encode("utf-8")
                    except UnicodeEncodeError:
                        flag = _FLAG_NAMES.get(name, "--" + name.replace("_", "-"))
                        raise CorpusError(f"{flag} holds bytes that are not UTF-8 text; pass it as UTF-8 "
                                          "(check the terminal's or the script's encoding)") from None
        return f(*args, **kwargs)

    return wrapper


def _output_options(f):
    from corpus.formats import FORMAT_HELP, FORMATS

    f = click.option("--output", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Write to FILE instead of the terminal (never over the database; written whole, then renamed into place).")(f)
    return click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="table", show_default=True,
                        help="Output format. " + FORMAT_HELP)(f)


@main.command()
@_read_db_option
@click.argument("name")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Set a query parameter. Repeatable.")
@click.option("--authority", metavar="SLUG", help="Only this authority: the query's authority parameter.")
@click.option("--since", callback=_parse_date, metavar="DATE", help="Only from this date (YYYY-MM-DD): the query's since parameter.")
@click.option("--until", callback=_parse_date, metavar="DATE", help="Only up to this date (YYYY-MM-DD): the query's until parameter.")
@_site_filter_option("Only threads from this site (base URL): the query's site parameter.")
@_output_options
@_expected_errors
@_text_arguments
def query(db_path, name, params, authority, since, until, site_filter, fmt, output):
    """Run the canned query NAME (see `corpus queries`)."""
    from corpus.queries import get_query, run_query_cli

    if site_filter:
        site_filter = _site_filter(site_filter)
    elif os.environ.get(SITE_ENV) and "site" in get_query(name).param_specs and not any(
            p.split("=", 1)[0].strip() == "site" for p in params):
        site_filter = _env_site()  # $CORPUS_SITE, for the queries that take a site

    filters = {"authority": authority, "since": since, "until": until, "site": site_filter}
    run = run_query_cli(db_path=db_path, name=name, params=list(params), fmt=fmt, output=output, filters=filters,
                        for_terminal=_stdout_is_terminal())
    _show(run.text, run.notes)


@main.command(name="sql")
@_read_db_option
@click.argument("statement")
@_output_options
@_expected_errors
@_text_arguments
def sql_(db_path, statement, fmt, output):
    """Run one read-only SQL STATEMENT on the database (no DuckDB shell needed).

    \b
    Example: corpus sql "SELECT authority_url_name, count(*) FROM requests GROUP BY ALL ORDER BY 2 DESC LIMIT 10"
    The database is opened read-only and the statement cannot reach files,
    other databases or extensions.
    """
    from corpus.adhoc import run_sql
    from corpus.outputs import check_output
    from corpus.queries import write_result

    if output:
        check_output(output, db_path=db_path)
    elif fmt == "parquet":
        raise CorpusError("--format parquet needs --output FILE.parquet (Parquet is not for the terminal)")
    table = run_sql(db_path, statement)
    text = write_result(table, fmt, output, db_path=db_path, for_terminal=_stdout_is_terminal())
    _show(text, [] if text is not None else [f"Wrote {table.num_rows} rows to {output}"])


@main.command(name="authorities")
@_read_db_option
@click.option("--search", metavar="WORDS", help="Words of the body's name or short name (\"home office\", \"dwp\"); "
              "best matches first. Without it, every stored authority by name.")
@_site_filter_option("Only authorities of this site (base URL).")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True, metavar="N",
              help="Show at most N (0: all); a note says when there were more.")
@_output_options
@_expected_errors
@_text_arguments
def authorities_(db_path, search, site_filter, limit, fmt, output):
    """Find a public body's slug (for `sync --authority` and `query --authority`) among the stored authorities.

    \b
    Example: corpus authorities --search "work pensions"
    Every synced request stores its authority; `corpus sync --authority-list`
    stores the site's whole list.
    """
    from corpus.authority_search import find_authorities
    from corpus.outputs import check_output
    from corpus.queries import write_result
    from corpus.reader import Reader

    if output:
        check_output(output, db_path=db_path)
    elif fmt == "parquet":
        raise CorpusError("--format parquet needs --output FILE.parquet (Parquet is not for the terminal)")
    site = _site_filter(site_filter)
    if not os.path.exists(db_path):
        raise CorpusError(f"no database at {db_path}; collect some threads first (corpus sync, corpus import or "
                          "corpus demo) or pass --db")
    with Reader(db_path).session() as con:
        found = find_authorities(con, search=search, site=site, limit=limit)
    text = write_result(found.table, fmt, output, db_path=db_path, for_terminal=_stdout_is_terminal())
    notes = found.notes if text is not None else [f"Wrote {found.table.num_rows} rows to {output}", *found.notes]
    _show(text, notes)


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _show(text: str | None, notes: list[str]) -> None:
    """A result on stdout, notes on stderr; a reader that went away (``| head``) ends the output quietly."""
    if text is not None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
    if notes:
        rep = _settings().get("reporter") or _reporter()
        for line in notes:
            rep.note(line)


@main.command()
@_read_db_option
@click.option("--format", "fmt", type=click.Choice(["parquet"]), default="parquet", show_default=True,
              help="Output format: Parquet files, request tables partitioned by year.")
@click.option("--output", required=True, type=click.Path(file_okay=False), help="New or empty folder to write into (filled in a temporary folder, then renamed).")
@_expected_errors
@_text_arguments
def export(db_path, fmt, output):
    """Write every table as Parquet (request tables partitioned by year)."""
    from corpus.export import export_parquet

    rep = _reporter()
    try:
        line = export_parquet(db_path=db_path, out_dir=output, progress=rep.progress)
    finally:
        rep.stop()
    click.echo(line)
    rep.summary(line)


@main.command()
@_read_db_option
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="HTML file to write (never the database).")
@click.option("--authority", "authorities", multiple=True, metavar="SLUG", help="Only these authorities. Repeatable.")
@click.option("--since", callback=_parse_date, metavar="DATE", help="Only requests sent on or after this date (YYYY-MM-DD, UK time).")
@click.option("--until", callback=_parse_date, metavar="DATE", help="Only requests sent on or before this date (YYYY-MM-DD, UK time).")
@_site_filter_option("Only requests from this site (when the file holds more than one).")
@click.option("--query", metavar="TEXT", help="Only requests whose title contains TEXT.")
@click.option("--top", type=click.IntRange(min=0), default=15, show_default=True, metavar="N",
              help="How many authorities the charts and table show, by number of requests (0: all).")
@_expected_errors
def report(db_path, output, authorities, since, until, site_filter, query, top):
    """Write one self-contained HTML report with charts (no network needed to view).

    It says what it shows ("top 15 of 40 authorities"), links authorities and
    threads to their pages on the site, names its source and explains its method.
    """
    from corpus.report import build_report

    rep = _reporter()
    line = build_report(db_path=db_path, output=output, authorities=list(authorities), query=query,
                        since=since, until=until, site=_site_filter(site_filter), top=top, notify=rep.note)
    click.echo(line)
    rep.summary(line)


@main.command()
@_db_option_saying("Demo database to (re)build (read and written). A file holding any other site's threads is "
                   "refused.", default="foi-demo.duckdb", show_default="./foi-demo.duckdb (never $CORPUS_DB)")
@_expected_errors
def demo(db_path):
    """Serve the bundled sample site on 127.0.0.1, sync it into its own file, and show some results.

    The demo file is rebuilt on every run, under the stable site address
    https://sample-site.invalid, so running it again changes nothing.
    """
    from corpus.demo import run_demo

    sys.exit(run_demo(db_path=db_path, say=click.echo, reporter=_reporter(quiet=True)))


@main.command(name="convert-storage")
@_db_option
@click.option("--keep-original", is_flag=True, help="Keep the file as it was, renamed to <db>.v2-original.")
@_expected_errors
def convert_storage(db_path, keep_original):
    """Rewrite a database written in DuckDB 2.0's format so that DuckDB 1.1 and later open it.

    New databases are written that way already; this is for files made by
    earlier versions of this tool. Row counts are checked before the new file
    replaces the old. Needs as much free disk as the database takes.
    """
    from corpus.db import convert_storage as do_convert

    click.echo(do_convert(db_path, keep_original=keep_original))


if __name__ == "__main__":  # pragma: no cover
    main()
