"""Area code tables: counties, townships and villages with their validity periods.

A code table is one row per village code with the township and county it belongs to and
the months in which it is valid. Township and county codes are the first 8 and 5 digits of
a village code; they are valid whenever one of their villages is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

from stats.data import AREA_CODES
from stats.periods import Month, Period

NATIONAL_CODE = "00000"
NATIONAL_NAME, NATIONAL_NAME_EN = "全國", "Taiwan"
BUILTIN_SOURCE = "built-in official code table (MOI, 2021-01…2026-06)"
LEVELS = ("national", "county", "township", "village")
CODE_LENGTH = {"national": 5, "county": 5, "township": 8, "village": 11}

# The 22 counties and cities: code, name, English name, townships, villages (as of 2026).
COUNTIES: tuple[tuple[str, str, str, int, int], ...] = (
    ("09007", "連江縣", "Lienchiang County", 4, 22),
    ("09020", "金門縣", "Kinmen County", 6, 37),
    ("10002", "宜蘭縣", "Yilan County", 12, 237),
    ("10004", "新竹縣", "Hsinchu County", 13, 193),
    ("10005", "苗栗縣", "Miaoli County", 18, 277),
    ("10007", "彰化縣", "Changhua County", 26, 591),
    ("10008", "南投縣", "Nantou County", 13, 263),
    ("10009", "雲林縣", "Yunlin County", 20, 392),
    ("10010", "嘉義縣", "Chiayi County", 18, 358),
    ("10013", "屏東縣", "Pingtung County", 33, 443),
    ("10014", "臺東縣", "Taitung County", 16, 139),
    ("10015", "花蓮縣", "Hualien County", 13, 178),
    ("10016", "澎湖縣", "Penghu County", 6, 96),
    ("10017", "基隆市", "Keelung City", 7, 157),
    ("10018", "新竹市", "Hsinchu City", 3, 122),
    ("10020", "嘉義市", "Chiayi City", 2, 84),
    ("63000", "臺北市", "Taipei City", 12, 456),
    ("64000", "高雄市", "Kaohsiung City", 38, 890),
    ("65000", "新北市", "New Taipei City", 29, 1032),
    ("66000", "臺中市", "Taichung City", 29, 625),
    ("67000", "臺南市", "Tainan City", 37, 650),
    ("68000", "桃園市", "Taoyuan City", 13, 529),
)
COUNTY_NAMES = {code: name for code, name, *_ in COUNTIES}
COUNTY_NAMES_EN = {code: en for code, _, en, *_ in COUNTIES}

def level_of_code(code: str) -> str | None:
    """The level a code's form implies: ``00000`` national, then 5 / 8 / 11 digits
    (None for anything else)."""
    if code == NATIONAL_CODE:
        return "national"
    lengths = {5: "county", 8: "township", 11: "village"}
    return lengths.get(len(code)) if code.isdigit() else None


CODE_TABLE_SCHEMA = {
    "village_code": pl.String,
    "village_name": pl.String,
    "town_code": pl.String,
    "town_name": pl.String,
    "county_code": pl.String,
    "county_name": pl.String,
    "valid_from": pl.Int32,  # month index (year * 12 + month - 1); null = always before
    "valid_to": pl.Int32,  # month index; null = still valid
}


# English names, optional: a table built without them gets them as nulls
ENGLISH_SCHEMA = {
    "village_name_en": pl.String,  # null when MOI gives none (retired villages)
    "town_name_en": pl.String,
    "county_name_en": pl.String,
}


class CodeTableError(ValueError):
    """A code table file that cannot be read as an official code table."""


def month_index(month: Month) -> int:
    """Months since year 0, so that validity ranges compare as integers."""
    return month.year * 12 + month.month - 1


@dataclass(frozen=True)
class CodeTable:
    """Village codes with names and validity, plus where the table came from."""

    villages: pl.DataFrame  # columns of CODE_TABLE_SCHEMA, and of ENGLISH_SCHEMA if known
    source: str
    version: str

    def __post_init__(self) -> None:
        missing = [pl.lit(None, dtype).alias(name) for name, dtype in ENGLISH_SCHEMA.items()
                   if name not in self.villages.columns]
        if missing:  # frozen: the filled frame replaces the given one once, here
            object.__setattr__(self, "villages", self.villages.with_columns(missing))

    def villages_valid_in(self, months: Iterable[Month]) -> pl.DataFrame:
        """Villages valid on at least one day of the given months."""
        indices = [month_index(m) for m in months]
        first, last = min(indices), max(indices)
        return self.villages.filter(
            pl.col("valid_from").is_null() | (pl.col("valid_from") <= last),
            pl.col("valid_to").is_null() | (pl.col("valid_to") >= first),
        )

    def valid_codes_by_month(self, months: Iterable[Month]) -> pl.DataFrame:
        """One row per (month, village_code) valid in that month: the validation lookup."""
        frames = [
            self.villages_valid_in([m]).select(
                pl.lit(str(m)).alias("month"), "village_code"
            )
            for m in months
        ]
        return pl.concat(frames)

    def areas(self, period: Period) -> pl.DataFrame:
        """Every area of the period at every level: area_level, area_code, area_name and
        area_name_en (``Jieshou Vil., Nangan Township, Lienchiang County``; null when a part
        has no English name, e.g. a retired village: readers show the Chinese name then)."""
        villages = self.villages_valid_in(period.months).with_columns(
            # MOI's English names carry stray double spaces ("Lianxin  Vil.")
            pl.col(c).str.replace_all(r"\s+", " ").str.strip_chars()
            for c in ("county_name_en", "town_name_en", "village_name_en")
        )
        towns = villages.group_by("town_code").agg(
            pl.col("county_name", "town_name", "county_name_en", "town_name_en").first()
        )
        counties = villages.group_by("county_code").agg(
            pl.col("county_name", "county_name_en").first()
        )
        return pl.concat(
            [
                pl.DataFrame({"area_level": ["national"], "area_code": [NATIONAL_CODE],
                              "area_name": [NATIONAL_NAME], "area_name_en": [NATIONAL_NAME_EN]}),
                counties.select(
                    pl.lit("county").alias("area_level"),
                    pl.col("county_code").alias("area_code"),
                    pl.col("county_name").alias("area_name"),
                    pl.col("county_name_en").alias("area_name_en"),
                ).sort("area_code"),
                towns.select(
                    pl.lit("township").alias("area_level"),
                    pl.col("town_code").alias("area_code"),
                    (pl.col("county_name") + pl.col("town_name")).alias("area_name"),
                    pl.concat_str("town_name_en", "county_name_en", separator=", ")
                    .alias("area_name_en"),
                ).sort("area_code"),
                villages.select(
                    pl.lit("village").alias("area_level"),
                    pl.col("village_code").alias("area_code"),
                    (pl.col("county_name") + pl.col("town_name") + pl.col("village_name")).alias(
                        "area_name"
                    ),
                    pl.concat_str("village_name_en", "town_name_en", "county_name_en",
                                  separator=", ").alias("area_name_en"),
                ).sort("area_code"),
            ]
        )


def normalise_village_code(expr: pl.Expr) -> pl.Expr:
    """Accept both ``63000010001`` and the hyphenated ``63000010-001`` form."""
    return expr.str.strip_chars().str.replace("-", "", literal=True)


def _parse_month_column(name: str) -> pl.Expr:
    """A ``YYYY-MM`` column (empty = open-ended) as a month index."""
    text = pl.col(name).cast(pl.String).str.strip_chars()
    year = text.str.slice(0, 4).cast(pl.Int32, strict=False)
    month = text.str.slice(5, 2).cast(pl.Int32, strict=False)
    return pl.when(text.str.len_chars() > 0).then(year * 12 + month - 1).alias(name)


def load_code_table(path: str | Path) -> CodeTable:
    """Read an official code table: the ``villages_history.csv`` or ``villages.csv`` layout.

    Raises
    ------
    CodeTableError
        When required columns are missing or codes are malformed.
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        df = pl.read_csv(raw, infer_schema=False, encoding="utf8")
    except Exception as exc:  # polars raises several kinds for unreadable CSV
        raise CodeTableError(f"{path}: cannot read code table: {exc}") from exc
    df = df.rename({c: c.lstrip("\ufeff") for c in df.columns})
    if "village_code" not in df.columns:
        raise CodeTableError(f"{path}: no 'village_code' column; columns are {df.columns!r}")
    county_names = pl.col("county_code").replace_strict(COUNTY_NAMES, default=None)
    if "county_name" in df.columns:
        county_name = pl.col("county_name")
    else:
        county_name = county_names
    if "town_name" in df.columns:
        town_name = pl.col("town_name")
    elif "county_town_name" in df.columns:
        town_name = pl.col("county_town_name").str.slice(3)
    else:
        raise CodeTableError(f"{path}: no 'town_name' or 'county_town_name' column")
    code = normalise_village_code(pl.col("village_code"))
    town_en, county_en = english_names()
    village_en = pl.col("village_name_en") if "village_name_en" in df.columns else pl.lit(None)
    villages = df.with_columns(village_code=code).select(
        "village_code",
        pl.col("village_name"),
        pl.col("village_code").str.slice(0, 8).alias("town_code"),
        town_name.alias("town_name"),
        pl.col("village_code").str.slice(0, 5).alias("county_code"),
        county_name.alias("county_name"),
        pl.when(village_en.str.len_chars() > 0).then(village_en).alias("village_name_en"),
        pl.col("village_code").str.slice(0, 8).replace_strict(town_en, default=None)
        .alias("town_name_en"),
        pl.col("village_code").str.slice(0, 5).replace_strict(county_en, default=None)
        .alias("county_name_en"),
        _parse_month_column("valid_from") if "valid_from" in df.columns
        else pl.lit(None, pl.Int32).alias("valid_from"),
        _parse_month_column("valid_to") if "valid_to" in df.columns
        else pl.lit(None, pl.Int32).alias("valid_to"),
    ).cast({**CODE_TABLE_SCHEMA, **ENGLISH_SCHEMA})  # type: ignore[arg-type]
    bad = villages.filter(~pl.col("village_code").str.contains(r"^\d{11}$"))
    if bad.height:
        raise CodeTableError(
            f"{path}: {bad.height} malformed village codes, e.g. {bad['village_code'][0]!r}"
        )
    return CodeTable(villages, source=str(path), version="sha256:" + hashlib.sha256(raw).hexdigest())


# --- the built-in official table ------------------------------------------------------

@lru_cache(maxsize=1)
def english_names() -> tuple[dict[str, str], dict[str, str]]:
    """English township and county names by code, from the built-in table (a user's
    ``--codes`` file of the villages layout names only its villages in English)."""
    shipped = pl.read_parquet(AREA_CODES, columns=["town_code", "town_name_en", "county_code",
                                                   "county_name_en"])
    towns = shipped.unique("town_code").drop_nulls("town_name_en")
    return (dict(zip(towns["town_code"], towns["town_name_en"], strict=True)), COUNTY_NAMES_EN)


def builtin_code_table() -> CodeTable:
    """The official code table shipped with popstats (``stats/data/area_codes.parquet``).

    Every village code seen in MOI's monthly files 2021-01…2026-06 with its validity,
    Chinese and English names (derived by ``stats/data/derive.py``; provenance in
    ``stats/data/PROVENANCE.md``). ``--codes FILE`` replaces it with a newer official table.
    """
    raw = AREA_CODES.read_bytes()
    shipped = pl.read_parquet(raw)
    villages = shipped.with_columns(
        _parse_month_column("valid_from"), _parse_month_column("valid_to")
    ).select(*CODE_TABLE_SCHEMA, *ENGLISH_SCHEMA).cast(
        {**CODE_TABLE_SCHEMA, **ENGLISH_SCHEMA})  # type: ignore[arg-type]
    return CodeTable(villages, source=BUILTIN_SOURCE,
                     version="sha256:" + hashlib.sha256(raw).hexdigest())


# The invented demo geography is gone; the quick start and tests ask for the built-in table
# under its old name.
demo_code_table = builtin_code_table


def code_table(path: str | Path | None) -> CodeTable:
    """The official table at ``path``, or the built-in official table when no path is given."""
    return builtin_code_table() if path is None else load_code_table(path)
