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


def _db_option_saying(help_text: str):
    def option(f):
        return click.option(
            "--db",
            "db_path",
            default=lambda: os.environ.get("CORPUS_DB", DEFAULT_DB),
            show_default="./foi.duckdb, or $CORPUS_DB",
            type=click.Path(dir_okay=False),
            help=help_text,
        )(f)

    return option


_db_option = _db_option_saying("DuckDB database file to read and write.")
_read_db_option = _db_option_saying("DuckDB database file to read (opened read-only).")


def _site_option(f):
    return click.option(
        "--site",
        default=DEFAULT_SITE,
        show_default=True,
        help="Base URL of the Alaveteli site (WhatDoTheyKnow or any other).",
    )(f)


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
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except ScraperError as exc:
            message, code = scraper_failure(exc)
            click.echo(f"Error: {message}", err=True)
            sys.exit(code)

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
            if exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
            click.echo(f"Error: {exc.format_message()}{hint}", err=True)
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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="corpus")
def main():
    """Build a DuckDB corpus of Freedom of Information threads from
    WhatDoTheyKnow (or any Alaveteli site) and analyse it.

    \b
    Typical use:
      corpus sync --authority <body slug> --contact you@example.org
      corpus query response_times --param authority=<body slug>
      corpus report --output report.html

    With no network, `corpus demo` runs the whole pipeline against the bundled
    sample site.
    """


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
@click.option("--authorities", "fetch_authorities", is_flag=True, help="Also load authority names and tags from /body/all-authorities.csv.")
@click.option("--attachments", type=click.Choice(["none", "text", "files"]), default="none", show_default=True, help="Download incoming attachments and extract their text (text), also keeping the files (files).")
@click.option("--archive", metavar="URL", help="A Wayback-compatible archive to fall back on when the site challenges us, e.g. https://web.archive.org or a pywb collection URL.")
@click.option("--archive-rate", type=float, metavar="REQ_PER_S", help="Ceiling on requests per second to the archive (default 1 every 3 s; at most 0.4 for public archives).")
@click.option("--source", type=click.Choice(["site", "archive"]), default="site", show_default=True, help="Where threads come from: the live site (the archive behind it), or the archive alone.")
@click.option("--quiet", is_flag=True, help="No progress display; only the final summary.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Log lines as text or as JSON objects (for machines).")
@_expected_errors
def sync(quiet, log_format, **options):
    """Politely collect FOI threads from the site into the database.

    Honours robots.txt, never exceeds --rate, retries with back-off, and stops
    (exit 3) if the site presents a bot challenge -- or, with --archive, takes
    what was refused from the archive instead and carries on. Killing it at any
    moment is safe: run it again to resume. Re-runs only fetch threads that changed.
    """
    from corpus.progress import Reporter
    from corpus.sync import SyncOptions, run_sync

    summary = run_sync(SyncOptions.build(**options), reporter=Reporter(quiet=quiet, log_format=log_format))
    click.echo(summary.describe())
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

    summary = import_paths(db_path=db_path, site=site, paths=list(paths))
    for name, problem in summary.bad_json:
        click.echo(f"warning: {name}: JSON not used, loaded from the page alone ({problem})", err=True)
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(summary.describe())
    sys.exit(summary.exit_code)


@main.command()
@_db_option
@_expected_errors
def reparse(db_path):
    """Rebuild every table from the stored raw pages with the current parser (no network)."""
    from corpus.reparse import reparse as do_reparse

    def bad_json(url: str, problem: str) -> None:
        click.echo(f"warning: {url}: JSON not used, loaded from the page alone ({problem})", err=True)

    stats = do_reparse(db_path, on_bad_json=bad_json)
    click.echo(stats.describe())


@main.command()
@_db_option
@_expected_errors
def status(db_path):
    """Show what the database holds: threads, messages, queue, failures, last runs."""
    from corpus.status import status_report

    click.echo(status_report(db_path))


@main.command(name="queries")
@_expected_errors
def list_queries():
    """List the canned queries with their descriptions and parameters."""
    from corpus.queries import describe_queries

    click.echo(describe_queries())


_FLAG_NAMES = {"db_path": "--db", "fmt": "--format", "params": "--param", "site_filter": "--site",
               "name": "NAME", "statement": "STATEMENT"}


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
@click.option("--site", "site_filter", metavar="URL", help="Only threads from this site (base URL): the query's site parameter.")
@_output_options
@_expected_errors
@_text_arguments
def query(db_path, name, params, authority, since, until, site_filter, fmt, output):
    """Run the canned query NAME (see `corpus queries`)."""
    from corpus.queries import run_query_cli

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
    for line in notes:
        click.echo(line, err=True)


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

    click.echo(export_parquet(db_path=db_path, out_dir=output))


@main.command()
@_db_option
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="HTML file to write (never the database).")
@click.option("--authority", "authorities", multiple=True, metavar="SLUG", help="Only these authorities. Repeatable.")
@click.option("--since", callback=_parse_date, metavar="DATE", help="Only requests sent on or after this date (YYYY-MM-DD, UK time).")
@click.option("--until", callback=_parse_date, metavar="DATE", help="Only requests sent on or before this date (YYYY-MM-DD, UK time).")
@click.option("--site", metavar="URL", help="Only requests from this site (when the file holds more than one).")
@click.option("--query", metavar="TEXT", help="Only requests whose title contains TEXT.")
@click.option("--top", type=click.IntRange(min=0), default=15, show_default=True, metavar="N",
              help="How many authorities the charts and table show, by number of requests (0: all).")
@_expected_errors
def report(db_path, output, authorities, since, until, site, query, top):
    """Write one self-contained HTML report with charts (no network needed to view).

    It says what it shows ("top 15 of 40 authorities"), links authorities and
    threads to their pages on the site, names its source and explains its method.
    """
    from corpus.report import build_report

    click.echo(build_report(db_path=db_path, output=output, authorities=list(authorities), query=query,
                            since=since, until=until, site=site, top=top))


@main.command()
@click.option(
    "--db",
    "db_path",
    default="foi-demo.duckdb",
    show_default="./foi-demo.duckdb (never $CORPUS_DB)",
    type=click.Path(dir_okay=False),
    help="Demo database to (re)build. A file holding any other site's threads is refused.",
)
@_expected_errors
def demo(db_path):
    """Serve the bundled sample site on 127.0.0.1, sync it into its own file, and show some results.

    The demo file is rebuilt on every run, under the stable site address
    https://sample-site.invalid, so running it again changes nothing.
    """
    from corpus.demo import run_demo

    sys.exit(run_demo(db_path=db_path))


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
