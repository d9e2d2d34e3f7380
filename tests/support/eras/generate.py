"""Write the era fixtures under tests/fixtures/eras/ (``python -m tests.support.eras.generate``).

Each fixture is a story from ``stories`` rendered in one era's markup, with
its JSON in the shape that era's site served.  The files are committed: the
tests read them as saved pages, and compare what the parser finds with the
story they were made from.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corpus.sample_site.render import request_json
from tests.support.eras.h2_eras import page_2009, page_2011, page_2014
from tests.support.eras.header_2016 import page_2016
from tests.support.eras.json_shapes import json_2010, json_2012
from tests.support.eras.stories import council_tax_story, water_story
from tests.support.eras.ukrainian import BASE, translate, ukrainian_story

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "eras"


@dataclass(frozen=True)
class EraFixture:
    era: str  # the markup_era the parser should report
    stem: str  # file name without extension
    story: Callable  # () -> (SiteCorpus, FakeRequest)
    page: Callable  # (corpus, req) -> HTML str
    json: Callable | None  # (corpus, req) -> bytes, or None for no JSON file

    @property
    def html_path(self) -> Path:
        return FIXTURES / self.era / f"{self.stem}.html"

    @property
    def json_path(self) -> Path | None:
        return FIXTURES / self.era / f"{self.stem}.json" if self.json is not None else None


def _current_uk(corpus, req) -> str:
    from corpus.sample_site.render import request_page

    return translate(request_page(corpus, req, BASE))


ERA_FIXTURES = [
    EraFixture("2009-2011", "council_tax_exemptions_for_car", lambda: council_tax_story(2010), page_2009, json_2010),
    EraFixture("2011-2014", "council_tax_exemptions_for_car", lambda: council_tax_story(2012), page_2011, json_2012),
    EraFixture("2011-2014", "storm_overflow_spill_logs", lambda: water_story(2012), page_2011, json_2012),
    EraFixture("2014-2016", "council_tax_exemptions_for_car", lambda: council_tax_story(2015, ids=300000), page_2014,
               request_json),
    EraFixture("2016-2018", "council_tax_exemptions_for_car", lambda: council_tax_story(2017, ids=900000), page_2016,
               request_json),
    EraFixture("current", "dogovory_na_remont_dorig", ukrainian_story, _current_uk, None),
]


def write_all(out: Path = FIXTURES) -> list[Path]:
    written = []
    for fx in ERA_FIXTURES:
        corpus, req = fx.story()
        folder = out / fx.era
        folder.mkdir(parents=True, exist_ok=True)
        html_path = folder / f"{fx.stem}.html"
        html_path.write_text(fx.page(corpus, req), encoding="utf-8")
        written.append(html_path)
        if fx.json is not None:
            json_path = folder / f"{fx.stem}.json"
            json_path.write_bytes(fx.json(corpus, req))
            written.append(json_path)
    return written


if __name__ == "__main__":
    for path in write_all():
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    sys.exit(0)
