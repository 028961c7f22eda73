"""The query document (CONTRACT §7) of what a chart page shows: the same table, measure,
areas and periods, laid out as the chart's own table beneath it reads. Pure: a page calls
these with its checked choices, so "download the data" gives exactly the chart's
selection, made as the table builder makes any query (``stats.query``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboards.figures import NATIONAL, OLDEST, level_of

LABELS = {"zh": "zh-TW", "en": "en"}


def trends_query(table: str, measure: str, periods: Sequence[str], areas: Sequence[str],
                 lang: str) -> dict[str, Any]:
    """One measure of the chosen areas over the chosen periods: a row per period, a column
    per area (as the chart's table). Further keys (indigenous 1/2) are summed, as the lines
    are."""
    return {"table": table, "periods": list(periods), "area_level": level_of(areas[0]),
            "areas": list(areas), "measures": [measure], "keep": [],
            "stub": ["period", "measure"], "heading": ["area"], "labels": LABELS[lang]}


def age_bands(width: int) -> list[list[int]] | None:
    """The pyramid's groups as query bands: 0-4 … 95-99 and 100+ (None: single years)."""
    if width == 1:
        return None
    return [[low, low + width - 1] for low in range(0, OLDEST, width)] + [[OLDEST, OLDEST]]


def pyramid_query(area: str, periods: Sequence[str], width: int, lang: str) -> dict[str, Any]:
    """Persons by sex and age group of one area in one or two periods: a row per age group,
    a column per period and sex (as the pyramid's table; percentages are the chart's own
    arithmetic on these counts)."""
    bands = age_bands(width)
    query: dict[str, Any] = {
        "table": "population_by_age", "periods": sorted(set(periods)),
        "area_level": level_of(area), "areas": [area], "measures": ["population"],
        "keep": ["sex", "age"], "stub": ["area", "age_band" if bands else "age"],
        "heading": ["period", "sex", "measure"], "labels": LABELS[lang]}
    if bands:
        query["age_bands"] = bands
    return query


def map_query(table: str, measure: str, level: str, root: str, period: str,
              lang: str) -> dict[str, Any]:
    """One measure of every area of ``level`` inside ``root`` in one period: a row per area
    (as the map's table)."""
    query: dict[str, Any] = {"table": table, "periods": [period], "area_level": level,
                             "measures": [measure], "stub": ["area"],
                             "heading": ["period", "measure"], "labels": LABELS[lang]}
    if root != NATIONAL:
        query["within"] = root
    return query
