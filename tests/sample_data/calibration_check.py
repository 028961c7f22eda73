"""County figures of a synthetic extract and MOI's, side by side (shared by the calibration
test and benchmarks/calibration_report.py). Reads the extract back with polars only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from sample_data import demography as demo
from sample_data.calibration import moi_2024_monthly
from stats.data import CALIBRATION, CALIBRATION_MONTHLY
from stats.periods import Month

COUNTY = pl.col("village_code").str.slice(0, 5).alias("county")


def _median_age(ages: pl.DataFrame) -> pl.DataFrame:
    """county, median_age from county × single-age counts (interpolated within the year)."""
    ranked = ages.sort("county", "age").with_columns(
        pl.col("n").cum_sum().over("county").alias("upto"),
        (pl.col("n").sum().over("county") / 2).alias("half"),
    )
    crossing = ranked.filter(pl.col("upto") >= pl.col("half")).group_by("county").agg(
        pl.all().sort_by("age").first())
    return crossing.select(
        "county",
        (pl.col("age") + (pl.col("half") - (pl.col("upto") - pl.col("n"))) / pl.col("n"))
        .alias("median_age"),
    )


def simulated(folder: Path, month: Month) -> pl.DataFrame:
    """Per county (and ``00000``): population, households, shares 0-14 and 65+ (%), median
    age, ageing index, and the month's births and deaths."""
    residents = pl.scan_parquet(folder / f"residents_{month.compact}.parquet")
    last = pl.lit(month.last_day)
    age = (last.dt.year() - pl.col("birth_date").dt.year()
           - ((last.dt.month() * 100 + last.dt.day())
              < (pl.col("birth_date").dt.month().cast(pl.Int32) * 100
                 + pl.col("birth_date").dt.day())).cast(pl.Int32))
    people = residents.select(pl.col("village_code").cast(pl.String), "household_id",
                              age.alias("age"))
    people = people.with_columns(COUNTY)
    both = pl.concat([people, people.with_columns(pl.lit("00000").alias("county"))])
    stock = both.group_by("county").agg(
        pl.len().alias("population"),
        pl.col("household_id").n_unique().alias("households"),
        ((pl.col("age") <= 14).mean() * 100).alias("share_0_14"),
        ((pl.col("age") >= 65).mean() * 100).alias("share_65"),
        ((pl.col("age") >= 65).sum() / (pl.col("age") <= 14).sum() * 100).alias("ageing_index"),
    ).collect()
    ages = both.group_by("county", "age").agg(pl.len().alias("n")).collect()
    events = pl.scan_parquet(folder / f"events_{month.compact}.parquet").filter(
        pl.col("event_type").cast(pl.String).is_in(["BIRTH", "DEATH"])).select(
        pl.col("event_type").cast(pl.String), pl.col("village_code").cast(pl.String))
    events = events.with_columns(COUNTY)
    events = pl.concat([events, events.with_columns(pl.lit("00000").alias("county"))])
    flows = events.group_by("county").agg(
        (pl.col("event_type") == "BIRTH").sum().alias("births"),
        (pl.col("event_type") == "DEATH").sum().alias("deaths"),
    ).collect()
    return stock.join(_median_age(ages), on="county").join(flows, on="county", how="left") \
        .fill_null(0).sort("county")


def targets(month: Month, scale: float = 1.0) -> pl.DataFrame:
    """The calibration targets per county and national, at ``scale``: population, households
    and age shares as shipped (end of 2024), the median age those shares give with the
    national pyramid, and births and deaths of the month: MOI's 2024 monthly mean by county
    times the national seasonal factor of that calendar month (2021-2024)."""
    village = pl.read_parquet(CALIBRATION).with_columns(COUNTY)
    both = pl.concat([village, village.with_columns(pl.lit("00000").alias("county"))])
    per = both.group_by("county").agg(
        ((pl.col("male") + pl.col("female")).sum() * scale).alias("population"),
        (pl.col("households").sum() * scale).alias("households"),
        pl.col("age_0_14").sum(), pl.col("age_15_64").sum(), pl.col("age_65").sum(),
    ).with_columns(
        (pl.col("age_0_14") / pl.col("population") * scale * 100).alias("share_0_14"),
        (pl.col("age_65") / pl.col("population") * scale * 100).alias("share_65"),
        (pl.col("age_65") / pl.col("age_0_14") * 100).alias("ageing_index"),
    )
    # median age: the bands filled with the national pyramid's single ages
    pyramid = demo.age_sex_distribution(month.year + month.month / 12).reshape(2, -1).sum(axis=0)
    band = np.searchsorted([14, 64, demo.MAX_AGE], demo.AGES, side="left")
    within = pyramid / np.bincount(band, weights=pyramid)[band]
    grid = pl.DataFrame({"age": demo.AGES.astype(np.int32), "band": band, "within": within})
    ages = per.select("county", pl.concat_list("age_0_14", "age_15_64", "age_65").alias("b")) \
        .join(grid, how="cross").with_columns(
            (pl.col("b").list.get(pl.col("band")) * pl.col("within")).alias("n"))
    per = per.join(_median_age(ages.select("county", "age", "n")), on="county")
    moi = moi_2024_monthly()
    factor = pl.read_parquet(CALIBRATION_MONTHLY).filter(
        pl.col("kind") == "season", pl.col("month_of_year") == month.month)
    mean = moi.group_by("area_code").agg(pl.col("births", "deaths").mean())
    flows = mean.select(pl.col("area_code").alias("county"),
                        pl.col("births") * scale * factor["births"][0],
                        pl.col("deaths") * scale * factor["deaths"][0])
    return per.select("county", "population", "households", "share_0_14", "share_65",
                      "median_age", "ageing_index").join(flows, on="county").sort("county")
