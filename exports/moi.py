"""MOI's open-data layouts, byte for byte in header and field formatting.

Agencies' existing scripts keep working on files from a release.

Two layouts exist, one per table; any other table is refused:

``vital_events`` → MOI dataset 131138 (village × month births, deaths, marriages, divorces),
  in its current single-header form (MOI's files from 2024-07 on; earlier ones carry an
  extra row of English codes). Columns 統計年月 (ROC ``yyyMM``), 區域別代碼 (11-digit
  village code), 區域別 (county + township name, 新北市板橋區), 村里名稱, then the counts.
  MOI splits couples into opposite-sex and same-sex; the release counts all couples, so
  結婚對數_異性 = marriages − marriages_same_sex (likewise for divorces). The file is a
  month's: quarters and years are refused (MOI publishes no such file; export their months).
``population_by_age`` → MOI dataset 77132 (village households and single-year-of-age
  population): 統計年月, 區域別, 村里, 戶數, 人口數, 人口數-男, 人口數-女, 0歲-男, 0歲-女, …,
  100歲以上-男, 100歲以上-女, and a trailing comma on every line (MOI's header ends with an
  empty column). Households come from the release's ``population`` table: load the frame
  with ``load_for_moi``. A stock is taken on the period's reference date, so a quarter or
  year is written with the ``yyyMM`` of its last month, whose month-end stock it equals.

Formatting as in MOI's files: UTF-8 with BOM by default (``utf-8-sig``; other encodings on
request), CRLF after every line including the last, no quoting (a field needing it would
be quoted as in RFC 4180; no official name does), integers without separators, village
rows only.

Row order as in MOI's files: counties in MOI's publication order (the municipalities, the
counties and cities of Taiwan Province, Kinmen, Lienchiang), townships in MOI's order (code
order except in the five counties listed in ``MOI_TOWN_ORDER``), villages by code (131138)
or by name in code-point order (77132). Both orders were read off MOI's files: the township
sequence is identical in all 48 monthly files of 131138 (2021-01…2024-12) and in a 2021-03
village table derived from 77132; unknown counties and townships follow in code order.

MOI's files carry its made characters (戶政造字) as private-use code points; ``exports.write``
maps them to standard Unicode by default, and ``private_use={}`` keeps them as MOI does
(only possible in UTF-8). 統計年月 is ``stats.periods.roc_yyymm`` (three-digit ROC year).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from exports import UnknownFormat
from exports.delimited import write_safe_csv
from exports.meta import ExportMeta, load_for_export
from exports.safety import neutralise_formulas
from stats.periods import Period, roc_yyymm
from stats.release import read_table
from stats.schemas import AGES, SEXES

SUPPORTED = ("vital_events", "population_by_age")

VITAL_HEADER = (
    "統計年月", "區域別代碼", "區域別", "村里名稱",
    "出生數", "出生數-男", "出生數-女", "死亡數", "死亡數-男", "死亡數-女",
    "結婚對數_異性", "結婚對數_同性", "結婚對數_同性_男", "結婚對數_同性_女",
    "離婚對數_異性", "離婚對數_同性", "離婚對數_同性_男", "離婚對數_同性_女",
)
# MOI's counts from the release's columns: opposite-sex couples are all couples − same-sex
VITAL_COUNTS: tuple[pl.Expr, ...] = (
    pl.col("births"), pl.col("births_male"), pl.col("births_female"),
    pl.col("deaths"), pl.col("deaths_male"), pl.col("deaths_female"),
    pl.col("marriages") - pl.col("marriages_same_sex"), pl.col("marriages_same_sex"),
    pl.col("marriages_same_sex_male"), pl.col("marriages_same_sex_female"),
    pl.col("divorces") - pl.col("divorces_same_sex"), pl.col("divorces_same_sex"),
    pl.col("divorces_same_sex_male"), pl.col("divorces_same_sex_female"),
)
SEX_LABEL = {1: "男", 2: "女"}
AGE_HEADER = tuple(
    f"{age}歲{'以上' if age == AGES[-1] else ''}-{SEX_LABEL[sex]}" for age in AGES for sex in SEXES
)
SINGLE_AGE_HEADER = ("統計年月", "區域別", "村里", "戶數", "人口數", "人口數-男", "人口數-女",
                     *AGE_HEADER)

# 新北 臺北 桃園 臺中 臺南 高雄, 宜蘭 … 嘉義市 (Taiwan Province), 金門 連江 (Fuchien Province)
MOI_COUNTY_ORDER = (
    "65000", "63000", "68000", "66000", "67000", "64000",
    "10002", "10004", "10005", "10007", "10008", "10009", "10010", "10013", "10014",
    "10015", "10016", "10017", "10018", "10020", "09020", "09007",
)
# Counties whose townships MOI lists out of code order (the last three digits of the
# 8-digit township code, in MOI's order); all other counties list townships by code.
MOI_TOWN_ORDER: dict[str, tuple[str, ...]] = {
    "10004": ("010", "040", "030", "020", "050", "080", "060", "070", "100", "090", "110", "120",
              "130"),
    "10005": ("010", "050", "020", "030", "040", "060", "070", "080", "090", "100", "110", "120",
              "130", "140", "150", "160", "170", "180"),
    "10007": ("010", "100", "020", "030", "190", "110", "120", "200", "040", "050", "060", "070",
              "080", "090", "130", "140", "150", "160", "170", "180", "210", "220", "230", "240",
              "250", "260"),
    "10014": ("010", "020", "030", "040", "100", "090", "070", "080", "050", "060", "110", "130",
              "120", "150", "140", "160"),
    "09020": ("010", "030", "020", "040", "050", "060"),
}


class MoiLayoutError(UnknownFormat):
    """A table or period that MOI's open-data layouts cannot carry."""


def _county_rank(code: str) -> int:
    """Position of a county in MOI's order; unknown counties after all known ones."""
    return MOI_COUNTY_ORDER.index(code) if code in MOI_COUNTY_ORDER else len(MOI_COUNTY_ORDER)


def _town_rank(town_code: str) -> int:
    """Position of a township within its county in MOI's order (code order by default)."""
    listed = MOI_TOWN_ORDER.get(town_code[:5], ())
    suffix = town_code[5:8]
    return listed.index(suffix) if suffix in listed else 1000 + int(suffix)


def moi_order(codes: pl.Series) -> pl.DataFrame:
    """County and township ranks of village codes (columns ``_county``, ``_town``)."""
    distinct = codes.unique().to_list()
    return pl.DataFrame(
        {
            "area_code": distinct,
            "_county": [_county_rank(c[:5]) for c in distinct],
            "_town": [_town_rank(c[:8]) for c in distinct],
        },
        schema={"area_code": pl.String, "_county": pl.Int32, "_town": pl.Int32},
    )


def _villages(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Village rows with ``town_name`` (county + township) and ``village_name`` added.

    Both are split off ``area_name`` (county + township + village) by the table's own
    township rows.

    Raises
    ------
    MoiLayoutError
        When the frame has no village rows or lacks the township row of some village.
    """
    villages = frame.filter(pl.col("area_level") == "village")
    if villages.height == 0:
        raise MoiLayoutError(f"MOI's {table} layout lists villages; the table has no village rows")
    towns = frame.filter(pl.col("area_level") == "township").select(
        pl.col("area_code").alias("_town_code"), pl.col("area_name").alias("town_name")
    ).unique("_town_code")  # one row per township (keyed tables repeat it per key)
    named = villages.with_columns(pl.col("area_code").str.slice(0, 8).alias("_town_code")).join(
        towns, on="_town_code", how="left", maintain_order="left")
    missing = named.filter(pl.col("town_name").is_null())["_town_code"].unique().sort().to_list()
    if missing:
        raise MoiLayoutError(f"MOI's {table} layout needs the township names of "
                             f"{', '.join(missing)}; export the table with its township rows")
    return named.with_columns(
        pl.col("area_name").fill_null("").str.strip_prefix(pl.col("town_name")).alias("village_name"),
    ).join(moi_order(named["area_code"]), on="area_code", how="left")


def _month_label(meta: ExportMeta) -> str:
    """統計年月 of the file: ROC ``yyyMM`` of the month (or of a stock period's last month).

    Raises
    ------
    MoiLayoutError
        For flows (vital events) of a quarter or year, which MOI publishes by month only.
    """
    period = Period.parse(meta.period)
    if period.kind != "month" and meta.spec.table == "vital_events":
        months = ", ".join(str(m) for m in period.months)
        raise MoiLayoutError(f"MOI's vital-events file is monthly (統計年月 yyyMM); "
                             f"{meta.period!r} is a {period.kind}: export each of its months "
                             f"instead ({months})")
    return roc_yyymm(period.end_month)


def vital_rows(frame: pl.DataFrame, meta: ExportMeta) -> pl.DataFrame:
    """The 131138 layout as a frame of MOI's columns, rows in MOI's order."""
    month = _month_label(meta)
    villages = _villages(frame, "vital_events").sort("_county", "_town", "area_code")
    return villages.select(
        pl.lit(month).alias(VITAL_HEADER[0]),
        pl.col("area_code").alias(VITAL_HEADER[1]),
        pl.col("town_name").alias(VITAL_HEADER[2]),
        pl.col("village_name").alias(VITAL_HEADER[3]),
        *[expr.alias(name) for expr, name in zip(VITAL_COUNTS, VITAL_HEADER[4:], strict=True)],
    )


def single_age_rows(frame: pl.DataFrame, meta: ExportMeta) -> pl.DataFrame:
    """The 77132 layout as a frame of MOI's columns, rows in MOI's order.

    Raises
    ------
    MoiLayoutError
        Without the ``households`` column (see ``load_for_moi``) or with an incomplete grid.
    """
    if "households" not in frame.columns:
        raise MoiLayoutError("MOI's single-age layout needs households from the population "
                             "table: load the frame with "
                             "exports.moi.load_for_moi(release_dir, 'population_by_age')")
    month = _month_label(meta)
    villages = _villages(frame, "population_by_age").sort(
        "_county", "_town", "village_name", "area_code", "age", "sex")
    cells = len(AGES) * len(SEXES)
    areas = villages.select("area_code", "town_name", "village_name", "households").unique(
        "area_code", maintain_order=True)
    if villages.height != areas.height * cells:
        raise MoiLayoutError(f"every village needs all {cells} sex × age rows; got "
                             f"{villages.height} rows for {areas.height} villages")
    # rows sorted by age then sex: reshaping gives 0歲-男, 0歲-女, 1歲-男, … per village
    counts = villages["population"].to_numpy().reshape(areas.height, cells)
    male, female = counts[:, 0::2].sum(axis=1), counts[:, 1::2].sum(axis=1)
    wide = pl.DataFrame(counts, schema=list(AGE_HEADER), orient="row")
    return pl.concat([
        areas.select(
            pl.lit(month).alias(SINGLE_AGE_HEADER[0]),
            pl.col("town_name").alias(SINGLE_AGE_HEADER[1]),
            pl.col("village_name").alias(SINGLE_AGE_HEADER[2]),
            pl.col("households").alias(SINGLE_AGE_HEADER[3]),
            pl.Series(SINGLE_AGE_HEADER[4], np.asarray(male + female)),
            pl.Series(SINGLE_AGE_HEADER[5], np.asarray(male)),
            pl.Series(SINGLE_AGE_HEADER[6], np.asarray(female)),
        ),
        wide,
    ], how="horizontal")


def moi_rows(frame: pl.DataFrame, meta: ExportMeta) -> tuple[pl.DataFrame, bool]:
    """(MOI's columns and rows, whether lines end with MOI's trailing comma).

    Raises
    ------
    MoiLayoutError
        For tables other than the two with an MOI layout.
    """
    table = meta.spec.table
    if table == "vital_events":
        return vital_rows(frame, meta), False
    if table == "population_by_age":
        return single_age_rows(frame, meta), True
    raise MoiLayoutError(f"MOI's open-data layouts exist for {' and '.join(SUPPORTED)} only, "
                         f"not {table!r}; use --format csv for it")


def write_moi(frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO, *, encoding: str) -> None:
    """Write the table in MOI's open-data layout (``utf-8-sig`` reproduces MOI's bytes)."""
    rows, trailing = moi_rows(neutralise_formulas(frame), meta)
    if trailing:  # MOI's single-age file ends every line, the header too, with a comma
        rows = rows.with_columns(pl.lit(None, pl.String).alias(""))
    write_safe_csv(rows, dest, encoding=encoding)  # the one CSV writer: no loop over rows


def load_for_moi(release_dir: Path, table: str) -> tuple[pl.DataFrame, ExportMeta]:
    """A release table ready for ``write_moi``, with households joined in where needed.

    This is ``load_for_export``'s frame; for ``population_by_age`` the ``households`` of
    the release's ``population`` table are joined in (MOI's single-age file carries them).

    Raises
    ------
    MoiLayoutError
        For tables other than the two with an MOI layout.
    """
    if table not in SUPPORTED:
        raise MoiLayoutError(f"MOI's open-data layouts exist for {' and '.join(SUPPORTED)} only, "
                             f"not {table!r}; use --format csv for it")
    frame, meta = load_for_export(release_dir, table)
    if table == "population_by_age":
        households = read_table(release_dir, "population").select(
            "area_level", "area_code", "households")
        frame = frame.join(households, on=["area_level", "area_code"], how="left",
                           maintain_order="left")
    return frame, meta
