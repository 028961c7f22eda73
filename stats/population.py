"""Stocks at a reference date: population, age, marital status, indigenous status, households."""

from __future__ import annotations

from datetime import date

import polars as pl

from stats.areas import area_code_at
from stats.schemas import MAX_AGE


def age_at(reference: date, birth_date: pl.Expr) -> pl.Expr:
    """Completed years on ``reference``, capped at 100 ("100 and over").

    The age goes up on the birthday itself; someone born on 29 February has their
    birthday on 1 March in common years, because (2, 29) sorts after (2, 28).
    """
    month, day = birth_date.dt.month(), birth_date.dt.day()
    had_birthday = (month < reference.month) | ((month == reference.month) & (day <= reference.day))
    years = pl.lit(reference.year, pl.Int32) - birth_date.dt.year().cast(pl.Int32)
    return (years - (~had_birthday).cast(pl.Int32)).clip(upper_bound=MAX_AGE).cast(pl.Int16)


def resident_cells(residents: pl.LazyFrame, reference: date) -> pl.LazyFrame:
    """Residents counted by village × sex × age × marital status × indigenous status.

    The one pass over the snapshot that every stock table is derived from.
    """
    return residents.group_by(
        "village_code",
        "sex",
        age_at(reference, pl.col("birth_date")).alias("age"),
        "marital_status",
        "indigenous",
    ).agg(pl.len().cast(pl.Int64).alias("population"))


def village_population(residents: pl.LazyFrame) -> pl.LazyFrame:
    """Residents per village (for the start stock, where nothing else is needed)."""
    return residents.group_by("village_code").agg(pl.len().cast(pl.Int64).alias("population"))


def household_pairs(residents: pl.LazyFrame) -> pl.LazyFrame:
    """Distinct (village, household) pairs of a snapshot."""
    return residents.select("village_code", "household_id").unique()


def households_by_level(pairs: pl.DataFrame, levels: list[str]) -> pl.DataFrame:
    """Distinct households within each area at each level.

    A household normally lives in one village, so higher levels are sums; when some
    household id appears in several villages, higher levels count distinct ids instead.
    """
    split = pairs.height != pairs["household_id"].n_unique()
    frames = []
    for level in levels:
        code = area_code_at(level, pl.col("village_code")).alias("area_code")
        if level == "village" or not split:
            agg = pl.len()
        else:
            agg = pl.col("household_id").n_unique()
        frames.append(
            pairs.group_by(code)
            .agg(agg.cast(pl.Int64).alias("households"))
            .select(pl.lit(level).alias("area_level"), "area_code", "households")
        )
    return pl.concat(frames)
