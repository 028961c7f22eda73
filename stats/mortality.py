"""Deaths by age and the abridged life table (CONTRACT §8; both built from v1 extracts).

``deaths_by_age``: deaths registered in the period by sex and age group at death (0, 1–4,
5–9, …, 95–99, 100+), where the event's code says. ``life_table``: for a year, by sex (0 =
both) and age group (0, 1–4, 5–9, …, 80–84, 85+), the abridged period life table of the
contract: mx from the year's deaths over the mean of the start and end stocks (each aged on
its own reference date), ax = 0.1 at 0, n/2 for other closed groups, 1/mx for 85+; qx, lx
from a radix of 100,000, dx, nLx, Tx and ex. If any group of an area and sex has no
population, or the open group has no deaths, that area and sex has no life table (nulls).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from stats.areas import roll_up
from stats.population import age_on
from stats.stocks import AgeCounts

DEATH_GROUPS = (0, 1, *range(5, 101, 5))  # 100 = 100 and over
LIFE_GROUPS = (0, 1, *range(5, 86, 5))  # 85 = 85 and over
OPEN_GROUP = 85
RADIX = 100_000.0
LIFE_MEASURES = ["mx", "qx", "ax", "lx", "dx", "nLx", "Tx", "ex"]


def age_group(age: pl.Expr, top: int) -> pl.Expr:
    """0, 1 (1–4), then the lower bound of five-year groups, ``top`` and over as ``top``."""
    five = (age // 5 * 5).clip(upper_bound=top)
    return pl.when(age == 0).then(0).when(age < 5).then(1).otherwise(five).cast(pl.Int16)


def deaths_by_single_age(events: pl.LazyFrame) -> AgeCounts:
    """The period's deaths by village × sex × age at death (on the occurrence date), one
    count for both tables that group them (``deaths_by_age``, the life table)."""
    died = (events.filter(pl.col("event_type") == "DEATH")
            .select("village_code", "sex",
                    age_on(pl.col("occurrence_date"), pl.col("birth_date")).alias("age"),
                    pl.lit(1, pl.Int64).alias("population"))
            .collect())
    return AgeCounts.of_cells(died)


def deaths_by_age(events: pl.LazyFrame, levels: list[str], died: AgeCounts | None = None
                  ) -> pl.LazyFrame:
    """Deaths by sex and age group at each level (to be completed with zeros by the caller;
    ``died``: the events' ``deaths_by_single_age``, when already counted)."""
    if died is None:
        died = deaths_by_single_age(events)
    return roll_up(died.grouped(DEATH_GROUPS, "deaths"), ["sex", "age_group"], ["deaths"],
                   levels)


def population_by_group(residents: pl.LazyFrame, reference: date, levels: list[str]
                        ) -> pl.LazyFrame:
    """A snapshot counted by sex × life-table age group, aged on ``reference``."""
    age = age_on(pl.lit(reference), pl.col("birth_date"))
    cells = residents.group_by("village_code", "sex",
                               age_group(age, OPEN_GROUP).alias("age_group")
                               ).agg(pl.len().cast(pl.Int64).alias("population"))
    return roll_up(cells, ["sex", "age_group"], ["population"], levels)


def _with_both_sexes(frame: pl.LazyFrame, keys: list[str], measures: list[str]) -> pl.LazyFrame:
    both = (frame.group_by(*[k for k in keys if k != "sex"])
            .agg(pl.col(m).sum() for m in measures)
            .with_columns(pl.lit(0, pl.Int8).alias("sex")))
    return pl.concat([frame.with_columns(pl.col("sex").cast(pl.Int8)), both],
                     how="diagonal_relaxed")


def life_table(deaths: pl.LazyFrame, start: pl.LazyFrame, end: pl.LazyFrame) -> pl.LazyFrame:
    """The life table per area and sex from complete grids.

    ``deaths``: area_level, area_code, sex, age_group (life-table groups), deaths;
    ``start``/``end``: the same keys with ``population``. Every area × sex (1, 2) × group
    must be present (zeros included); sex 0 is added here by pooling.
    """
    keys = ["area_level", "area_code", "sex", "age_group"]
    exposure = (start.rename({"population": "start"})
                .join(end.rename({"population": "end"}), on=keys, how="full", coalesce=True)
                .join(deaths, on=keys, how="full", coalesce=True)
                .with_columns(pl.col("start", "end", "deaths").fill_null(0)))
    exposure = _with_both_sexes(exposure, keys, ["start", "end", "deaths"])
    area_sex = ["area_level", "area_code", "sex"]
    n = (pl.when(pl.col("age_group") == 0).then(1.0)
         .when(pl.col("age_group") == 1).then(4.0).otherwise(5.0))
    is_open = pl.col("age_group") == OPEN_GROUP
    mean = (pl.col("start") + pl.col("end")) / 2
    table = (
        exposure.sort(*area_sex, "age_group")
        .with_columns(n.alias("n"), (pl.col("deaths") / mean).alias("mx"))
        .with_columns(
            pl.when(pl.col("age_group") == 0).then(0.1)
            .when(is_open).then(1 / pl.col("mx"))
            .otherwise(pl.col("n") / 2).alias("ax"))
        .with_columns(
            pl.when(is_open).then(1.0)
            .otherwise((pl.col("n") * pl.col("mx")
                        / (1 + (pl.col("n") - pl.col("ax")) * pl.col("mx"))).clip(upper_bound=1.0)
                       ).alias("qx"))
        .with_columns(
            (RADIX * (1 - pl.col("qx")).cum_prod().shift(1, fill_value=1.0).over(area_sex)
             ).alias("lx"))
        .with_columns((pl.col("lx") * pl.col("qx")).alias("dx"))
        .with_columns(
            pl.when(is_open).then(pl.col("lx") / pl.col("mx"))
            .otherwise(pl.col("n") * (pl.col("lx") - pl.col("dx")) + pl.col("ax") * pl.col("dx"))
            .alias("nLx"))
        .with_columns(pl.col("nLx").reverse().cum_sum().reverse().over(area_sex).alias("Tx"))
        .with_columns(pl.when(pl.col("lx") > 0).then(pl.col("Tx") / pl.col("lx")).alias("ex"))
    )
    # an area and sex with an empty group, or no deaths in the open group, has no table
    defined = ((mean > 0).all() & (pl.col("deaths").filter(is_open).sum() > 0)).over(area_sex)
    return table.with_columns(
        pl.when(defined).then(pl.col(m)).otherwise(None).cast(pl.Float64).alias(m)
        for m in LIFE_MEASURES
    ).select(*keys, *LIFE_MEASURES)
