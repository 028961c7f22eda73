"""Births by the mother's age and nationality, and fertility rates (CONTRACT §8; v2 extracts).

``births_by_mother``: births registered in the period, where their code says, by the
mother's age group on the child's birth date (0 unknown, 14 under 15, 15, 20, …, 45, 50 =
50 and over) and her original nationality.

``fertility``: age-specific rates for 15–19 … 45–49 (under 15 counted in 15–19, 50+ in
45–49, unknown age left out) over the women of the group, averaged over the start and end
stocks (each aged on its own reference date), per 1,000 and annualised like the crude
rates; the general rate over women 15–49; the total rate 5 × Σ ASFR / 1,000; the mean age
at birth, the mean of completed age + 0.5 over births with a known mother's age.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from stats.areas import roll_up
from stats.population import age_on
from stats.schemas import AGES, SEXES
from stats.stocks import AgeCounts

FERTILITY_GROUPS = tuple(range(15, 50, 5))
ASFR = [f"asfr_{g}_{g + 4}" for g in FERTILITY_GROUPS]
FERTILITY_MEASURES = [*ASFR, "general_fertility_rate", "total_fertility_rate",
                      "mean_age_at_birth"]
BIRTH_MEASURES = ["births", "births_male", "births_female"]
_BIRTHS = [f"b_{g}" for g in FERTILITY_GROUPS]
_WOMEN = [f"w_{g}" for g in FERTILITY_GROUPS]


def mother_age() -> pl.Expr:
    """The mother's completed years on the child's birth date (null when unknown)."""
    return age_on(pl.col("birth_date"), pl.col("mother_birth_date"))


def mother_age_group(age: pl.Expr) -> pl.Expr:
    """0 unknown, 14 under 15, the lower bound of five-year groups, 50 for 50 and over."""
    return (pl.when(age.is_null()).then(0).when(age < 15).then(14).when(age >= 50).then(50)
            .otherwise(age // 5 * 5).cast(pl.Int8))


def _births(events: pl.LazyFrame) -> pl.LazyFrame:
    return events.filter(pl.col("event_type") == "BIRTH")


def births_by_mother(events: pl.LazyFrame, levels: Sequence[str]) -> pl.LazyFrame:
    """Births by mother's age group × nationality at each level (zeros left to the caller)."""
    cells = _births(events).group_by(
        "village_code", mother_age_group(mother_age()).alias("mother_age_group"),
        pl.col("mother_nationality").cast(pl.Int8),
    ).agg(pl.len().cast(pl.Int64).alias("births"),
          (pl.col("sex") == 1).sum().cast(pl.Int64).alias("births_male"),
          (pl.col("sex") == 2).sum().cast(pl.Int64).alias("births_female"))
    return roll_up(cells, ["mother_age_group", "mother_nationality"], BIRTH_MEASURES, levels)


def fertility_births(events: pl.LazyFrame, levels: Sequence[str]) -> pl.LazyFrame:
    """Per area: births in each ASFR group (``b_15`` …), births with a known mother's age
    (``known``) and the sum of those mothers' completed ages (``age_sum``)."""
    age = mother_age()
    group = (age.clip(15, 49) // 5 * 5)  # under 15 into 15–19, 50+ into 45–49
    cells = _births(events).group_by("village_code").agg(
        *((group == g).sum().cast(pl.Int64).alias(name)
          for g, name in zip(FERTILITY_GROUPS, _BIRTHS, strict=True)),
        age.is_not_null().sum().cast(pl.Int64).alias("known"),
        age.sum().cast(pl.Int64).alias("age_sum"),
    )
    return roll_up(cells, [], [*_BIRTHS, "known", "age_sum"], levels)


def women_by_group(ages: AgeCounts, levels: Sequence[str]) -> pl.LazyFrame:
    """Per area: women of each group 15–19 … 45–49 (``w_15`` …) in a stock's village × sex
    × single age counts (aged on the stock's own reference date)."""
    women = ages.counts[:, SEXES.index(2), :]
    lived_in = np.flatnonzero(women.sum(axis=1))  # the villages with a woman of any age
    per_village = pl.DataFrame({
        "village_code": ages.villages.gather(lived_in),
        **{name: women[lived_in, AGES.index(g):AGES.index(g) + 5].sum(axis=1).astype(np.int64)
           for g, name in zip(FERTILITY_GROUPS, _WOMEN, strict=True)},
    })
    return roll_up(per_village.lazy(), [], _WOMEN, levels)


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    return pl.when(denominator > 0).then(numerator / denominator)


def fertility(births: pl.LazyFrame, women_start: pl.LazyFrame, women_end: pl.LazyFrame,
              annualisation: float) -> pl.LazyFrame:
    """The fertility table from complete per-area frames (``fertility_births`` and
    ``women_by_group`` of the start and end stocks, zeros included)."""
    area = ["area_level", "area_code"]
    start = women_start.rename({w: f"{w}_s" for w in _WOMEN})
    frame = births.join(start, on=area, how="left").join(women_end, on=area, how="left")
    mean_women = {g: (pl.col(f"w_{g}_s") + pl.col(f"w_{g}")) / 2 for g in FERTILITY_GROUPS}
    scale = 1000.0 * annualisation
    all_women = pl.sum_horizontal(*mean_women.values())
    return frame.with_columns(
        *(_ratio(pl.col(f"b_{g}") * scale, mean_women[g]).alias(name)
          for g, name in zip(FERTILITY_GROUPS, ASFR, strict=True)),
        _ratio(pl.col("known") * scale, all_women).alias("general_fertility_rate"),
        _ratio(pl.col("age_sum") + 0.5 * pl.col("known"), pl.col("known"))
        .alias("mean_age_at_birth"),
    ).with_columns(
        pl.when(pl.all_horizontal(pl.col(ASFR).is_not_null()))
        .then(5 * pl.sum_horizontal(ASFR) / 1000).alias("total_fertility_rate"),
    ).select(*area, *FERTILITY_MEASURES)
