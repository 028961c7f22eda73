"""Derive the shipped reference data from MOI's open data (run by a maintainer, not at run time).

    python -m stats.data.derive ../shared

reads the official code tables, the village population sample, 48 months of village births,
deaths, marriages and divorces, the national reference figures and the boundary files from a
``shared`` folder laid out as the project's reference material, and writes into this package:

``area_codes.parquet``
    every village code seen 2021-01…2026-06 with its township and county, Chinese and English
    names and validity (``valid_from``/``valid_to`` as ``YYYY-MM``, null = open).
``calibration.parquet``
    per village at national scale, sized to the end of 2024: residents (male, female), the
    three age bands, households, and the expected births, deaths, marriages and divorces a
    month; plus each county's net internal migration a month.
``calibration_monthly.parquet``
    national seasonal factors (month of year × event) and the per-county monthly MOI figures
    of 2024 used as calibration targets.
``boundaries/*.json.gz``
    the county, township and village TopoJSON, byte-identical once decompressed.

Every step is a polars expression over whole tables; the outputs are deterministic.
"""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

import polars as pl

from stats.data import AREA_CODES, BOUNDARIES, CALIBRATION, CALIBRATION_MONTHLY

# Resident population by county at the end of 2024, in thousands (MOI), the size the
# synthetic register starts from (the same figures as sample_data.demography).
COUNTY_POPULATION_2024 = {
    "09007": 13.9, "09020": 144.0, "10002": 450.0, "10004": 594.0, "10005": 532.0,
    "10007": 1234.0, "10008": 475.0, "10009": 661.0, "10010": 484.0, "10013": 793.0,
    "10014": 212.0, "10015": 318.0, "10016": 107.0, "10017": 361.0, "10018": 457.0,
    "10020": 262.0, "63000": 2490.0, "64000": 2733.0, "65000": 4045.0, "66000": 2850.0,
    "67000": 1857.0, "68000": 2329.0,
}
SAMPLE_MONTH = "2021-03"  # the village population sample's month (end-of-month stock)
MONTHS_AFTER_SAMPLE = 45  # 2021-04 … 2024-12
# Empirical-Bayes weight of the township rate, in person-months: a village's own 48 months
# count fully once it has far more exposure than this (≈ 500 residents × 48 months).
PRIOR_EXPOSURE = 24_000.0
EVENTS = ("births", "deaths", "marriages", "divorces")
_BDMD = {"出生數": "births", "死亡數": "deaths", "結婚對數_異性": "marriages_opposite",
         "結婚對數_同性": "marriages_same", "離婚對數_異性": "divorces_opposite",
         "離婚對數_同性": "divorces_same"}


def area_codes(shared: Path) -> pl.DataFrame:
    """The official code table with English names (retired villages have none: null)."""
    history = pl.read_csv(shared / "codes" / "villages_history.csv", infer_schema=False)
    towns = pl.read_csv(shared / "codes" / "towns.csv", infer_schema=False)
    counties = pl.read_csv(shared / "codes" / "counties.csv", infer_schema=False)
    blank_null = [pl.when(pl.col(c).str.len_chars() > 0).then(pl.col(c)).alias(c)
                  for c in ("village_name_en", "valid_from", "valid_to")]
    return (
        history.with_columns(blank_null)
        .join(towns.select("town_code", "town_name", "town_name_en"), on="town_code", how="left")
        .join(counties.select("county_code", "county_name", "county_name_en"), on="county_code",
              how="left")
        .select("village_code", "village_name", "village_name_en", "town_code", "town_name",
                "town_name_en", "county_code", "county_name", "county_name_en", "valid_from",
                "valid_to")
        .sort("village_code")
    )


def bdmd(shared: Path) -> pl.DataFrame:
    """All 48 monthly files: month (YYYY-MM), village_code and the six event counts."""
    frames = []
    for path in sorted((shared / "moi" / "bdmd").glob("*.csv.gz")):
        raw = gzip.decompress(path.read_bytes()).decode("utf-8-sig")
        lines = raw.splitlines()
        if lines[0].startswith("statistic_yyymm"):  # files up to 2024-06: English codes first
            lines = lines[1:]
        frame = pl.read_csv("\n".join(lines).encode(), infer_schema=False)
        frames.append(frame.select(
            pl.lit(path.name[:7]).alias("month"),
            pl.col("區域別代碼").alias("village_code"),
            *(pl.col(zh).cast(pl.Int64).alias(en) for zh, en in _BDMD.items()),
        ))
    out = pl.concat(frames)
    return out.with_columns(
        births=pl.col("births"),
        marriages=pl.col("marriages_opposite") + pl.col("marriages_same"),
        divorces=pl.col("divorces_opposite") + pl.col("divorces_same"),
    )


def village_sample(shared: Path) -> pl.DataFrame:
    """The 2021-03 village stock: population by sex and age band, households."""
    raw = pl.read_csv(shared / "moi" / "samples" / "village_pop_ageband_2021-03.csv",
                      infer_schema=False)
    return raw.select(
        pl.col("村里代碼").str.replace("-", "", literal=True).alias("village_code"),
        pl.col("戶數").cast(pl.Int64).alias("households"),
        pl.col("男性人口").cast(pl.Int64).alias("male"),
        pl.col("女性人口").cast(pl.Int64).alias("female"),
        pl.col("未滿15歲").cast(pl.Int64).alias("age_0_14"),
        pl.col("15-64歲").cast(pl.Int64).alias("age_15_64"),
        pl.col("超過64歲").cast(pl.Int64).alias("age_65"),
    )


def reference_figure(shared: Path, year: int, indicator: str) -> float:
    """One value of the national reference figures."""
    ref = pl.read_csv(shared / "reference" / "national_reference_figures.csv")
    row = ref.filter((pl.col("year") == year) & (pl.col("indicator") == indicator))
    return float(row["value"][0])


def _successor_stock(codes: pl.DataFrame, sample: pl.DataFrame) -> pl.DataFrame:
    """The 2021-03 stock on the villages valid at the end of 2024.

    A village retired since 2021-03 hands its residents to the villages of its township
    that appeared since (split equally), or, when none appeared, to the township's other
    villages in proportion to their size; a village created since then has no stock of its
    own and receives only such shares.
    """
    valid = codes.filter(pl.col("valid_to").is_null() | (pl.col("valid_to") >= "2024-12"),
                         pl.col("valid_from").is_null() | (pl.col("valid_from") <= "2024-12"))
    stock_cols = [c for c in sample.columns if c != "village_code"]
    kept = valid.select("village_code", "town_code").join(sample, on="village_code", how="left")
    kept = kept.with_columns(pl.col(stock_cols).fill_null(0))
    retired = sample.join(valid.select("village_code"), on="village_code", how="anti")
    retired = retired.with_columns(pl.col("village_code").str.slice(0, 8).alias("town_code"))
    new = valid.filter(pl.col("valid_from").is_not_null()).select("village_code", "town_code")
    # receivers: the township's new villages if any, else all its villages by population
    has_new = new.select("town_code").unique()
    receivers = pl.concat([
        new.with_columns(pl.lit(1.0).alias("weight")),
        kept.join(has_new, on="town_code", how="anti").select(
            "village_code", "town_code", (pl.col("male") + pl.col("female") + 1)
            .cast(pl.Float64).alias("weight")),
    ])
    receivers = receivers.with_columns(pl.col("weight") / pl.col("weight").sum().over("town_code"))
    handed = retired.group_by("town_code").agg(pl.col(stock_cols).sum()).join(
        receivers, on="town_code").select(
        "village_code", *((pl.col(c) * pl.col("weight")).alias(c) for c in stock_cols))
    stock = pl.concat([kept.select("village_code", *(pl.col(c).cast(pl.Float64)
                                                     for c in stock_cols)), handed]).group_by(
        "village_code").agg(pl.col(stock_cols).sum())
    # a village split off since 2021-03 with nothing handed over (its parent kept its code)
    # takes a median village's share of its township from the others
    stock = stock.with_columns(pl.col("village_code").str.slice(0, 8).alias("town_code"),
                               (pl.col("male") + pl.col("female")).alias("people"))
    empty = pl.col("people") == 0
    share = (pl.col("people").filter(~empty).median() / pl.col("people").sum()).over("town_code")
    stock = stock.with_columns(pl.when(empty).then(share).otherwise(0.0).alias("taken"))
    stock = stock.with_columns(pl.col("taken").sum().over("town_code").alias("given"))
    return stock.with_columns(
        pl.when(empty).then(pl.col(c).sum().over("town_code") * pl.col("taken"))
        .otherwise(pl.col(c) * (1 - pl.col("given"))).alias(c) for c in stock_cols
    ).select("village_code", *stock_cols).sort("village_code")


def calibration(shared: Path, codes: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-village calibration (scale 1, end of 2024) and the monthly national/county table."""
    sample = village_sample(shared)
    stock = _successor_stock(codes, sample).with_columns(
        pl.col("village_code").str.slice(0, 5).alias("county_code"),
        pl.col("village_code").str.slice(0, 8).alias("town_code"),
        (pl.col("male") + pl.col("female")).alias("population"),
    )
    # -- size: the 2021-03 village shares of each county, at the county's 2024 population
    county_2024 = pl.DataFrame({"county_code": list(COUNTY_POPULATION_2024),
                                "county_2024": [v * 1000 for v in COUNTY_POPULATION_2024.values()]})
    stock = stock.join(county_2024, on="county_code").with_columns(
        (pl.col("county_2024") / pl.col("population").sum().over("county_code")).alias("grow"))
    # -- age bands raked to the national 2024 shares (MOI: 0-14 11.72 %, 65+ 19.18 %)
    bands = ("age_0_14", "age_15_64", "age_65")
    targets = {"age_0_14": reference_figure(shared, 2024, "pop_0_14_share") / 100,
               "age_65": reference_figure(shared, 2024, "pop_65plus_share") / 100}
    targets["age_15_64"] = 1 - targets["age_0_14"] - targets["age_65"]
    grown = stock.with_columns(pl.col(b) * pl.col("grow") for b in bands)
    for _ in range(6):  # raking: national band totals, then each village's own total
        national = grown.select(pl.col(b).sum() for b in bands).row(0)
        total = sum(national)
        grown = grown.with_columns(pl.col(b) * (targets[b] * total / n)
                                   for b, n in zip(bands, national, strict=True))
        village_total = pl.sum_horizontal(bands)
        grown = grown.with_columns(
            pl.when(village_total > 0).then(pl.col(b) * pl.col("population") * pl.col("grow")
                                            / village_total).otherwise(0.0).alias(b)
            for b in bands)
    # -- households: each village's 2021-03 household size, shrunk by the national trend to
    # MOI's 2024 year-end total (9,487,480)
    households_2024 = reference_figure(shared, 2024, "households_year_end")
    grown = grown.with_columns((pl.col("households") * pl.col("grow")).alias("households"))
    grown = grown.with_columns(pl.col("households") * (households_2024
                                                       / grown["households"].sum()))
    grown = grown.with_columns(
        (pl.col("population") * pl.col("grow")).alias("population"),
        (pl.col("male") * pl.col("grow")).alias("male"),
        (pl.col("female") * pl.col("grow")).alias("female"),
    )

    # -- vital events: village shares of the county's 48 months (shrunk towards the
    # township's rate), at the county's 2024 monthly level
    events = bdmd(shared)
    months = events["month"].n_unique()
    per_village = events.group_by("village_code").agg(pl.col(EVENTS).sum())
    exposure = stock.select("village_code", "town_code", "county_code",
                            (pl.col("population") * months).alias("exposure"))
    rates = exposure.join(per_village, on="village_code", how="left").with_columns(
        pl.col(EVENTS).fill_null(0))
    town_rate = [(pl.col(e).sum() / pl.col("exposure").sum()).over("town_code").alias(f"{e}_t")
                 for e in EVENTS]
    rates = rates.with_columns(town_rate).with_columns(
        ((pl.col(e) + PRIOR_EXPOSURE * pl.col(f"{e}_t")) / (pl.col("exposure") + PRIOR_EXPOSURE)
         * pl.col("exposure") / months).alias(f"{e}_raw") for e in EVENTS)
    in_2024 = events.filter(pl.col("month").str.starts_with("2024")).with_columns(
        pl.col("village_code").str.slice(0, 5).alias("county_code")).group_by(
        "county_code").agg((pl.col(e).sum() / 12).alias(f"{e}_2024") for e in EVENTS)
    rates = rates.join(in_2024, on="county_code", how="left").with_columns(
        (pl.col(f"{e}_raw") / pl.col(f"{e}_raw").sum().over("county_code")
         * pl.col(f"{e}_2024")).alias(f"{e}_per_month") for e in EVENTS)

    # -- net internal migration per county a month: change 2021-03 → 2024-12 less the
    # natural increase of the same months, less the county's share of the national residual
    after = events.filter(pl.col("month") > SAMPLE_MONTH).with_columns(
        pl.col("village_code").str.slice(0, 5).alias("county_code")).group_by(
        "county_code").agg((pl.col("births").sum() - pl.col("deaths").sum()).alias("natural"))
    county = stock.group_by("county_code").agg(pl.col("population").sum().alias("pop_2021"),
                                               pl.col("county_2024").first())
    county = county.join(after, on="county_code").with_columns(
        (pl.col("county_2024") - pl.col("pop_2021") - pl.col("natural")).alias("net"))
    county = county.with_columns(
        ((pl.col("net") - pl.col("net").sum() * pl.col("county_2024")
          / pl.col("county_2024").sum()) / MONTHS_AFTER_SAMPLE).alias("net_migration_per_month"))

    village = grown.join(rates.select("village_code", *(f"{e}_per_month" for e in EVENTS)),
                         on="village_code").join(
        county.select("county_code", "net_migration_per_month"), on="county_code")
    village = village.select(
        "village_code",
        *(pl.col(c).cast(pl.Float32) for c in ("male", "female", *bands, "households",
                                               *(f"{e}_per_month" for e in EVENTS),
                                               "net_migration_per_month")),
    ).sort("village_code")

    # -- seasonality: each calendar month's mean of (count / that year's monthly mean)
    national = events.group_by("month").agg(pl.col(EVENTS).sum()).with_columns(
        pl.col("month").str.slice(0, 4).alias("year"),
        pl.col("month").str.slice(5, 2).cast(pl.Int32).alias("month_of_year"))
    season = national.with_columns(pl.col(e) / pl.col(e).mean().over("year") for e in EVENTS) \
        .group_by("month_of_year").agg(pl.col(EVENTS).mean()).sort("month_of_year")
    season = season.with_columns(pl.col(e) / pl.col(e).mean() for e in EVENTS).select(
        pl.lit("season").alias("kind"), pl.lit("00000").alias("area_code"),
        "month_of_year", *(pl.col(e).cast(pl.Float64) for e in EVENTS))
    actual = events.filter(pl.col("month").str.starts_with("2024")).with_columns(
        pl.col("village_code").str.slice(0, 5).alias("area_code"),
        pl.col("month").str.slice(5, 2).cast(pl.Int32).alias("month_of_year"))
    actual = actual.group_by("area_code", "month_of_year").agg(pl.col(EVENTS).sum())
    actual = pl.concat([actual, actual.group_by("month_of_year").agg(pl.col(EVENTS).sum())
                        .select(pl.lit("00000").alias("area_code"), "month_of_year", *EVENTS)])
    actual = actual.select(pl.lit("moi_2024").alias("kind"), "area_code", "month_of_year",
                           *(pl.col(e).cast(pl.Float64) for e in EVENTS)).sort(
        "area_code", "month_of_year")
    return village, pl.concat([season, actual])


def main(shared: Path) -> None:
    """Write every shipped data file from ``shared``."""
    codes = area_codes(shared)
    codes.write_parquet(AREA_CODES, compression="zstd", statistics=False)
    village, monthly = calibration(shared, codes)
    village.write_parquet(CALIBRATION, compression="zstd", statistics=False)
    monthly.write_parquet(CALIBRATION_MONTHLY, compression="zstd", statistics=False)
    BOUNDARIES.mkdir(exist_ok=True)
    for path in sorted((shared / "boundaries").glob("*.json")):
        # mtime=0 and no file name in the header: the same input gives the same bytes
        with path.open("rb") as source, (BOUNDARIES / f"{path.name}.gz").open("wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
            shutil.copyfileobj(source, out)
    shutil.copyfile(shared / "boundaries" / "LICENSE", BOUNDARIES / "LICENSE")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared"))
