"""A period built twice, the second time with one correction, for the marks and the
revision comparison (issue 13): counts of changed cells are worked out by hand here.

Three residents on the tiny code table (tests.helpers), no events, period 2024-05:
  a: 甲里 63000010001, born 1990-01-01 (34), never married, not indigenous
  b: 甲里 63000010001, woman, born 1950-06-01 (73), married
  c: 戊里 64000010001, man, born 2010-01-01 (14)
Revision 1 has ``a`` a man; the correction (revision 2) makes ``a`` a woman in both
snapshots. What changes, level by level (village 63000010001, township 63000010, county
63000, national: 4 areas; population_by_marital_status has no villages: 3):
  population: male −1 and female +1 in 4 areas → 8 cells
  population_by_age: (male, 34) −1 and (female, 34) +1 in 4 areas → 8 cells
  indicators: sex_ratio in 4 areas (甲里 and up in 臺北市 100 → 0; national 200 → 50) → 4
  population_by_marital_status: (male, never married) and (female, never married) → 6
  every other table: nothing (no events; ``a`` is not indigenous) → 0
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from stats.periods import Month, Period
from stats.publication import publish
from stats.release import build_release
from tests.helpers import person, tiny_codes, write_extract

PERIOD = "2024-05"
CHANGED = {"population": 8, "population_by_age": 8, "indicators": 4,
           "population_by_marital_status": 6}
CHANGED_AREAS = {"63000010001": "village", "63000010": "township", "63000": "county",
                 "00000": "national"}
# the moment tests publish at, and a later "now" at which both publications are public
PUBLISHED = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
LATER = PUBLISHED + timedelta(days=30)


def residents(a_sex: int) -> list[dict]:
    return [person("a", "63000010001", sex=a_sex, born=date(1990, 1, 1), household="h1"),
            person("b", "63000010001", sex=2, born=date(1950, 6, 1), household="h1", marital=2),
            person("c", "64000010001", sex=1, born=date(2010, 1, 1), household="h2")]


def build(root: Path, a_sex: int, note: str = "") -> None:
    """Build (or rebuild) the period from an extract where ``a`` has sex ``a_sex``."""
    extract = root / f"extract-{a_sex}"
    write_extract(extract, {Month(2024, 4): residents(a_sex), Month(2024, 5): residents(a_sex)},
                  {Month(2024, 5): []})
    build_release(extract, Period.parse(PERIOD), root / "releases", tiny_codes(), note=note)


def revised_releases(root: Path, *, first_provisional: bool = False,
                     second_provisional: bool = False, publish_second: bool = True) -> Path:
    """RELEASES with revision 1 published (provisional or not) and revision 2, the
    correction, published a day later (or left a draft)."""
    releases = root / "releases"
    build(root, 1)
    publish(releases, PERIOD, by="stat", now=PUBLISHED, provisional=first_provisional)
    build(root, 2, note="a's sex corrected")
    if publish_second:
        publish(releases, PERIOD, by="stat", now=PUBLISHED + timedelta(days=1),
                provisional=second_provisional)
    return releases
