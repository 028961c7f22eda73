"""Stocks at a reference date: population, age, marital status, indigenous status, households."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from stats.areas import area_code_at, roll_up
from stats.schemas import MAX_AGE


def age_at(reference: date, birth_date: pl.Expr) -> pl.Expr:
    """Completed years on ``reference``, capped at 100 ("100 and over")."""
    return age_on(pl.lit(reference, pl.Date), birth_date)


def age_on(day: pl.Expr, birth_date: pl.Expr) -> pl.Expr:
    """Completed years on ``day`` (a date per row, e.g. an event's occurrence date), capped
    at 100 ("100 and over").

    The age goes up on the birthday itself; someone born on 29 February has their
    birthday on 1 March in common years, because (2, 29) sorts after (2, 28).
    """
    month, day_of = birth_date.dt.month(), birth_date.dt.day()
    on_month, on_day = day.dt.month(), day.dt.day()
    had_birthday = (month < on_month) | ((month == on_month) & (day_of <= on_day))
    years = day.dt.year().cast(pl.Int32) - birth_date.dt.year().cast(pl.Int32)
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

    A household normally lives in one village, so an area's count is the sum of its
    villages' counts. A household found in several villages of one area would be counted
    several times by that sum: those few are found and the excess subtracted.
    """
    per_village = pairs.lazy().group_by("village_code").agg(
        pl.len().cast(pl.Int64).alias("households")
    )
    spread = pairs.filter(pl.col("household_id").is_in(repeated_values(pairs["household_id"]).implode()))
    return households_summed(per_village, spread, levels)


def households_summed(per_village: pl.LazyFrame, spread: pl.DataFrame,
                      levels: list[str]) -> pl.DataFrame:
    """``households_by_level`` from each village's distinct households (village_code,
    households) and the distinct (village_code, household_id) pairs of the households
    found in more than one village (any superset of them: a household in one village
    has no excess)."""
    summed = roll_up(per_village, [], ["households"], levels)
    if spread.is_empty():
        return summed.collect()
    excess = pl.concat(
        [
            spread.lazy()
            .group_by(area_code_at(level, pl.col("village_code")).alias("area_code"))
            .agg((pl.len() - pl.col("household_id").n_unique()).cast(pl.Int64).alias("excess"))
            .select(pl.lit(level).alias("area_level"), "area_code", "excess")
            for level in levels
        ]
    )
    return (
        summed.join(excess, on=["area_level", "area_code"], how="left")
        .select("area_level", "area_code",
                pl.col("households") - pl.col("excess").fill_null(0))
        .collect()
    )


def repeated_values(values: pl.Series) -> pl.Series:
    """The values that occur more than once in a string column (nulls ignored).

    Sorting 64-bit hashes finds candidates much faster than hashing the strings into a
    set; candidates are then confirmed on the strings, so a hash collision cannot give a
    wrong answer.
    """
    values = values.drop_nulls()
    hashes = values.hash(seed=0)
    ordered = np.sort(hashes.to_numpy())
    again = ordered[1:] == ordered[:-1]
    if not again.any():  # distinct hashes: distinct values (the usual case)
        return values.clear()
    clashing = np.unique(ordered[1:][again])
    candidates = values.filter(hashes.is_in(pl.Series(clashing).implode()))
    return candidates.filter(candidates.is_duplicated()).unique()
