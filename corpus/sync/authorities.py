"""``corpus sync --authorities``: every authority's name, tags and home page from ``/body/all-authorities.csv``.

The rows are upserted by the loader's own rules (``corpus.load.upsert_authorities``),
so a value the CSV leaves empty never blanks one a request page gave.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from corpus import pagestore
from corpus.load import authority_row, upsert_authorities
from corpus.progress import Reporter
from corpus.writer import Writer
from scraper.fetch import Fetcher

CSV_PATH = "/body/all-authorities.csv"


def parse_authorities_csv(data: bytes, site: str, seen: datetime) -> list[tuple]:
    """``authorities`` rows from the CSV (with or without its "Internal ID" column).

    Tags are space-separated (``name`` or ``name:value``).  Rows without a URL
    name are skipped.
    """
    text = data.decode("utf-8-sig", errors="replace")
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        norm = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        url_name = norm.get("url name")
        if not url_name:
            continue
        raw_id = norm.get("internal id") or ""
        out.append(authority_row(
            site, url_name, authority_id=int(raw_id) if raw_id.isdigit() else None, name=norm.get("name") or None,
            short_name=norm.get("short name") or None, tags=[t for t in (norm.get("tags") or "").split() if t],
            home_page=norm.get("home page") or None, seen=seen,
        ))
    return out


async def load_authorities(fetcher: Fetcher, writer: Writer, site: str, reporter: Reporter) -> int:
    """Fetch the CSV, keep it as a page and upsert its rows; returns how many (0 when it could not be read)."""
    res = await fetcher.fetch(CSV_PATH)
    if res.error or res.status != 200 or res.body is None:
        reporter.log("authorities_failed", f"could not read {CSV_PATH} ({res.error or res.status})", level="warning")
        return 0
    page = pagestore.make_page(url=res.final_url, site=site, kind="authorities_csv", status=res.status,
                               final_url=res.final_url, headers=res.headers, body=res.body)
    rows = parse_authorities_csv(res.body, site, datetime.now(timezone.utc))

    def job(con) -> int:
        pagestore.store_pages(con, [page])
        return upsert_authorities(con, rows)

    n = await writer.call_async(job)
    reporter.log("authorities", f"{n} authorities loaded from all-authorities.csv")
    return n
