"""Ratios, rates and the median age (CONTRACT §3 definitions)."""

from __future__ import annotations

import polars as pl

AREA = ["area_level", "area_code"]


def ratio(numerator: pl.Expr, denominator: pl.Expr, scale: float = 1.0) -> pl.Expr:
    """numerator / denominator × scale, null when the denominator is zero (never inf/NaN)."""
    return (
        pl.when(denominator != 0)
        .then(numerator.cast(pl.Float64) / denominator.cast(pl.Float64) * scale)
        .otherwise(None)
    )


def median_age(by_age: pl.LazyFrame) -> pl.LazyFrame:
    """Median age per area from single-year counts (both sexes).

    median = a + (N/2 − C) / n, where a is the first age at which the cumulative count
    reaches N/2, C the count below a and n the count at a; null when N = 0.
    """
    counts = by_age.group_by(*AREA, "age").agg(pl.col("population").sum().alias("n"))
    cumulative = counts.sort("age").with_columns(
        pl.col("n").cum_sum().over(AREA).alias("cum"),
        pl.col("n").sum().over(AREA).alias("total"),
    )
    first_half = (
        cumulative.filter(pl.col("total") > 0, pl.col("cum") >= pl.col("total") / 2)
        .sort("age")
        .group_by(AREA)
        .first()
    )
    return first_half.select(
        *AREA,
        (
            pl.col("age")
            + (pl.col("total") / 2 - (pl.col("cum") - pl.col("n"))) / pl.col("n")
        ).alias("median_age"),
    )


def age_groups(by_age: pl.LazyFrame) -> pl.LazyFrame:
    """Population aged 0–14, 15–64 and 65+ per area."""
    age = pl.col("age")
    pop = pl.col("population")
    return by_age.group_by(AREA).agg(
        pop.filter(age <= 14).sum().alias("young"),
        pop.filter((age >= 15) & (age <= 64)).sum().alias("working"),
        pop.filter(age >= 65).sum().alias("old"),
    )


def indicators(
    population: pl.LazyFrame,
    by_age: pl.LazyFrame,
    vital: pl.LazyFrame,
    reconciliation: pl.LazyFrame,
    annualisation: float,
    ages: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """The indicators table from the other tables of the same period.

    Crude rates are per 1,000 of the average population (start + end) / 2, multiplied by
    ``annualisation`` (365 / days for months and quarters, 1 for years). ``ages``: the
    age groups and median age by area already made from the same counts
    (``age_cube.AgeCube.summary``), else computed here from ``by_age``.
    """
    if ages is None:
        ages = age_groups(by_age).join(median_age(by_age), on=AREA, how="left")
    base = (
        population.join(ages, on=AREA, how="left")
        .join(vital.drop("period"), on=AREA, how="left")
        .join(reconciliation.select(*AREA, "population_start"), on=AREA, how="left")
    )
    pop, young, working, old = (pl.col(c) for c in ("population", "young", "working", "old"))
    average = (pl.col("population_start") + pop).cast(pl.Float64) / 2
    per_mille = 1000.0 * annualisation
    return base.select(
        "period",
        *AREA,
        ratio(pl.col("male"), pl.col("female"), 100).alias("sex_ratio"),
        ratio(pop, pl.col("households")).alias("avg_household_size"),
        ratio(young, pop, 100).alias("share_0_14"),
        ratio(working, pop, 100).alias("share_15_64"),
        ratio(old, pop, 100).alias("share_65_plus"),
        ratio(young + old, working, 100).alias("dependency_ratio"),
        ratio(young, working, 100).alias("child_dependency_ratio"),
        ratio(old, working, 100).alias("old_age_dependency_ratio"),
        ratio(old, young, 100).alias("aging_index"),
        pl.col("median_age").cast(pl.Float64),
        ratio(pl.col("births"), average, per_mille).alias("crude_birth_rate"),
        ratio(pl.col("deaths"), average, per_mille).alias("crude_death_rate"),
        ratio(pl.col("natural_increase"), average, per_mille).alias("natural_increase_rate"),
        ratio(pl.col("marriages"), average, per_mille).alias("crude_marriage_rate"),
        ratio(pl.col("divorces"), average, per_mille).alias("crude_divorce_rate"),
    )
