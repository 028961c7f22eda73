"""The CONTRACT §8 measures the Trends and Map pages offer (issue 14), read through ``view``.

Trends gains ``fertility`` (TFR, GFR, mean age at birth, the ASFRs) and
``marriages_by_nationality`` (the foreign-spouse share, persons marrying); the map gains the
total fertility rate and the net migration of each county. Two of them are derived from
published rows (``dashboards.programme_figures``); everything is read with ``view`` (grant
checked, audited), and a period whose release lacks the table is left out or named, never
an error.
"""

from __future__ import annotations

import polars as pl

from dashboards import programme_figures as pf
from dashboards.data import periods_with, release_areas, view
from dashboards.i18n import period_label, t
from stats.catalogue import TABLES
from stats.schemas import OUTSIDE_CODE, TABLE_COLUMNS, TABLE_LEVELS

FERTILITY = ["total_fertility_rate", "general_fertility_rate", "mean_age_at_birth",
             *(f"asfr_{g}_{g + 4}" for g in range(15, 50, 5))]
TREND_MEASURES = {
    "fertility": FERTILITY,
    "marriages_by_nationality": ["foreign_spouse_share", "persons", "persons_same_sex"],
}
TREND_TABLES = tuple(TREND_MEASURES)
DEFAULT_MEASURE = {"fertility": "total_fertility_rate",
                   "marriages_by_nationality": "foreign_spouse_share"}
SUMMED = {"marriages_by_nationality": ("（兩性及各原屬國籍合計）",
                                       " (both sexes and every nationality together)")}
MAP_MEASURES = {"fertility:total_fertility_rate": ("fertility", "total_fertility_rate"),
                "migration_flows:net_migration": ("migration_flows", "net_migration")}
MAP_TABLE_NAMES = {"fertility": ("生育率", "fertility"),
                   "migration_flows": ("縣市間遷徙", "migration flows")}


def levels(table: str) -> tuple[str, ...]:
    """The levels a table is published at (fertility: national and county)."""
    return TABLE_LEVELS[table]


def is_count(table: str, measure: str) -> bool:
    """Whether a measure is a count (thousands separators) rather than a ratio."""
    if measure in pf.DERIVED:
        return measure == "net_migration"
    return TABLE_COLUMNS[table][measure].is_integer()


def summed_note(table: str) -> tuple[str, str] | None:
    """What a trend line sums over, when the table has keys besides the area."""
    return SUMMED.get(table)


def held(table: str, periods: list[str]) -> list[str]:
    """Those of ``periods`` whose release holds ``table``."""
    having = set(periods_with(table))
    return [p for p in periods if p in having]


def not_in_releases(table: str, periods: list[str]) -> str:
    """The message for periods whose releases lack ``table`` (v1 extracts, months' life
    table): named, so the reader knows it is the release, not the grant."""
    spec = TABLES[table]
    shown = "、".join(period_label(p) for p in periods[:6]) + ("…" if len(periods) > 6 else "")
    return t(f"所選統計期（{shown}）之發布不含「{spec.title_zh}」（以未含此表之資料產製）。",
             f"The releases of the chosen periods ({shown}) do not hold “{spec.title_en}” "
             "(they were built without it).")


def trend_frame(table: str, measure: str, areas: list[str], periods: list[str]) -> pl.DataFrame:
    """period, area_code, ``measure`` from one ``view`` (raises ``Refused``)."""
    if measure == "foreign_spouse_share":
        rows = view(table, areas, periods, columns=["period", "area_code", "nationality",
                                                    "persons"])
        return pf.foreign_spouse_share(rows)
    return view(table, areas, periods, columns=["period", "area_code", measure])


def map_problem(table: str, level: str, period: str) -> str | None:
    """Why ``table`` cannot be mapped at ``level`` for ``period`` (None: it can)."""
    if table not in MAP_TABLE_NAMES:
        return None
    if level not in levels(table) or level == "national":
        return t("此指標僅有縣市層級，請選擇「縣市」。",
                 "This measure exists for counties only: choose the county level.")
    if period not in periods_with(table):
        return not_in_releases(table, [period])
    return None


def map_frame(table: str, column: str, codes: list[str], period: str) -> pl.DataFrame:
    """area_code, ``column`` of ``codes`` (raises ``Refused``). Net migration reads every
    origin's rows (99999 too): moves into a county are other counties' rows, so it needs a
    grant of every county's flows."""
    if column != "net_migration":
        return view(table, codes, [period], columns=["area_code", column])
    counties = release_areas(period).filter(pl.col("area_level") == "county")
    origins = [*counties["area_code"].to_list(), OUTSIDE_CODE]
    rows = view(table, origins, [period], columns=["area_code", "to_code", "moves"])
    return pf.net_migration(rows, codes)


def map_refusal(table: str, column: str) -> str | None:
    """The refusal to show for a derived map measure (None: the page's own)."""
    if column == "net_migration":
        return t("淨遷徙人數需讀取所有縣市（含戶籍以外）遷出之資料，"
                 "您的授權未涵蓋全國之縣市間遷徙表。",
                 "Net migration needs the flows leaving every county (and from outside the "
                 "register): your grant does not cover the national migration flows.")
    return None

