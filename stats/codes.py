"""Area code tables: counties, townships and villages with their validity periods.

A code table is one row per village code with the township and county it belongs to and
the months in which it is valid. Township and county codes are the first 8 and 5 digits of
a village code; they are valid whenever one of their villages is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from stats.periods import Month, Period

NATIONAL_CODE = "00000"
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


class CodeTableError(ValueError):
    """A code table file that cannot be read as an official code table."""


def month_index(month: Month) -> int:
    """Months since year 0, so that validity ranges compare as integers."""
    return month.year * 12 + month.month - 1


@dataclass(frozen=True)
class CodeTable:
    """Village codes with names and validity, plus where the table came from."""

    villages: pl.DataFrame  # columns of CODE_TABLE_SCHEMA
    source: str
    version: str

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
        """Every area of the period at every level: area_level, area_code, area_name."""
        villages = self.villages_valid_in(period.months)
        towns = villages.group_by("town_code").agg(
            pl.col("county_name").first(), pl.col("town_name").first()
        )
        counties = villages.group_by("county_code").agg(pl.col("county_name").first())
        return pl.concat(
            [
                pl.DataFrame(
                    {"area_level": ["national"], "area_code": [NATIONAL_CODE], "area_name": ["全國"]}
                ),
                counties.select(
                    pl.lit("county").alias("area_level"),
                    pl.col("county_code").alias("area_code"),
                    pl.col("county_name").alias("area_name"),
                ).sort("area_code"),
                towns.select(
                    pl.lit("township").alias("area_level"),
                    pl.col("town_code").alias("area_code"),
                    (pl.col("county_name") + pl.col("town_name")).alias("area_name"),
                ).sort("area_code"),
                villages.select(
                    pl.lit("village").alias("area_level"),
                    pl.col("village_code").alias("area_code"),
                    (pl.col("county_name") + pl.col("town_name") + pl.col("village_name")).alias(
                        "area_name"
                    ),
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
    villages = df.with_columns(village_code=code).select(
        "village_code",
        pl.col("village_name"),
        pl.col("village_code").str.slice(0, 8).alias("town_code"),
        town_name.alias("town_name"),
        pl.col("village_code").str.slice(0, 5).alias("county_code"),
        county_name.alias("county_name"),
        _parse_month_column("valid_from") if "valid_from" in df.columns
        else pl.lit(None, pl.Int32).alias("valid_from"),
        _parse_month_column("valid_to") if "valid_to" in df.columns
        else pl.lit(None, pl.Int32).alias("valid_to"),
    ).cast(CODE_TABLE_SCHEMA)  # type: ignore[arg-type]
    bad = villages.filter(~pl.col("village_code").str.contains(r"^\d{11}$"))
    if bad.height:
        raise CodeTableError(
            f"{path}: {bad.height} malformed village codes, e.g. {bad['village_code'][0]!r}"
        )
    return CodeTable(villages, source=str(path), version="sha256:" + hashlib.sha256(raw).hexdigest())


# --- the built-in demo geography -------------------------------------------------------

# Common elements of Taiwanese place names, with a romanisation for English labels.
_STEMS = (
    ("中正", "Zhongzheng"), ("中山", "Zhongshan"), ("復興", "Fuxing"), ("民生", "Minsheng"),
    ("和平", "Heping"), ("忠孝", "Zhongxiao"), ("仁愛", "Renai"), ("信義", "Xinyi"),
    ("光明", "Guangming"), ("建國", "Jianguo"), ("民權", "Minquan"), ("民族", "Minzu"),
    ("成功", "Chenggong"), ("永安", "Yongan"), ("長安", "Changan"), ("福德", "Fude"),
    ("興隆", "Xinglong"), ("東興", "Dongxing"), ("西門", "Ximen"), ("南興", "Nanxing"),
    ("北勢", "Beishi"), ("新庄", "Xinzhuang"), ("大埔", "Dapu"), ("頂寮", "Dingliao"),
    ("下坑", "Xiakeng"), ("竹圍", "Zhuwei"), ("溪洲", "Xizhou"), ("港口", "Gangkou"),
    ("山腳", "Shanjiao"), ("田寮", "Tianliao"), ("後厝", "Houcuo"), ("番社", "Fanshe"),
    ("水源", "Shuiyuan"), ("富貴", "Fugui"), ("安和", "Anhe"), ("文化", "Wenhua"),
    ("德興", "Dexing"), ("明德", "Mingde"), ("崙背", "Lunbei"), ("新興", "Xinxing"),
    ("龍潭", "Longtan"), ("鳳山", "Fengshan"), ("林口", "Linkou"), ("埔心", "Puxin"),
    ("湖內", "Hunei"), ("社口", "Shekou"), ("橋頭", "Qiaotou"), ("潭墘", "Tanqian"),
)
_CITY_CODES = {"63000", "64000", "65000", "66000", "67000", "68000", "10017", "10018", "10020"}
DEMO_VERSION = "demo-1"


def _demo_names(rng: np.random.Generator, count: int) -> list[tuple[str, str]]:
    """``count`` distinct two-stem place names, deterministic for the generator."""
    n = len(_STEMS)
    picks = rng.permutation(n * n)
    names = []
    for p in picks:
        a, b = divmod(int(p), n)
        if a == b:
            continue
        names.append((_STEMS[a][0][0] + _STEMS[b][0][1], f"{_STEMS[a][1]}-{_STEMS[b][1]}"))
        if len(names) == count:
            break
    return names


def demo_code_table() -> CodeTable:
    """The built-in demo geography: real counties, invented townships and villages.

    Every county has as many townships and villages as in reality; all codes are valid
    throughout, so no external file is needed.
    """
    rng = np.random.default_rng(20240101)
    rows: dict[str, list[str]] = {k: [] for k in CODE_TABLE_SCHEMA if not k.startswith("valid")}
    for county_code, county_name, _, n_towns, n_villages in COUNTIES:
        town_names = _demo_names(rng, n_towns)
        # every township at least one village, the rest spread unevenly
        extra = rng.multinomial(n_villages - n_towns, rng.dirichlet(np.full(n_towns, 2.0)))
        village_names = _demo_names(rng, int(extra.max()) + 1)
        for t, ((stem, _), n_extra) in enumerate(zip(town_names, extra, strict=True)):
            if county_code in _CITY_CODES:
                suffix = "區"
            else:
                suffix = "市" if t == 0 else ("鎮" if t % 4 == 1 else "鄉")
            town_code = f"{county_code}{(t + 1) * 10:03d}"
            for v in range(int(n_extra) + 1):
                rows["village_code"].append(f"{town_code}{v + 1:03d}")
                rows["village_name"].append(
                    village_names[v][0] + ("里" if suffix in "區市鎮" else "村")
                )
                rows["town_code"].append(town_code)
                rows["town_name"].append(stem + suffix)
                rows["county_code"].append(county_code)
                rows["county_name"].append(county_name)
    villages = pl.DataFrame(rows).with_columns(
        pl.lit(None, pl.Int32).alias("valid_from"), pl.lit(None, pl.Int32).alias("valid_to")
    )
    return CodeTable(villages.cast(CODE_TABLE_SCHEMA), source="built-in demo", version=DEMO_VERSION)  # type: ignore[arg-type]


def code_table(path: str | Path | None) -> CodeTable:
    """The official table at ``path``, or the demo table when no path is given."""
    return demo_code_table() if path is None else load_code_table(path)
