"""A period's end population by area × sex × single age as one dense array (every area of
the period at every level, in the tables' own order), and what the tables take from it.

``population_by_age`` is every area × sex × age, zeros included (1.6 M rows for the
national areas): completing it with ``areas.complete`` joins that many rows on string keys
and ``tables._finish`` sorts them, and the indicators then group them again by area and
age. Summed once into a dense array in the table's order — areas national → village by
code, then sex, then age — the table, the totals by sex and the age summary (broad age
groups, median age) are read off it directly, with the same values bit for bit.

Every village of the stock adds to the area holding it at each level (as ``roll_up``);
areas not in the period's list are left out (as ``complete``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from stats.areas import area_code_at, level_sort_key
from stats.codes import LEVELS
from stats.periods import Period
from stats.schemas import AGES, SEXES, table_schema
from stats.stocks import AgeCounts

YOUNG, OLD = 14, 65  # 0–14, 15–64, 65+ (indicators.age_groups)


@dataclass(frozen=True)
class AgeCube:
    """``counts[i, s, a]``: persons of area ``keys[i]`` (area_level, area_code), sex
    ``SEXES[s]``, age ``AGES[a]``."""

    keys: pl.DataFrame
    counts: np.ndarray

    def table(self, period: Period) -> pl.DataFrame:
        """The finished ``population_by_age`` table (contract columns, types and order)."""
        n, cells = self.keys.height, len(SEXES) * len(AGES)
        area = np.repeat(np.arange(n), cells)
        frame = pl.DataFrame({
            "area_level": self.keys["area_level"].gather(area),
            "area_code": self.keys["area_code"].gather(area),
            "sex": np.tile(np.repeat(np.array(SEXES), len(AGES)), n),
            "age": np.tile(np.array(AGES), len(SEXES) * n),
            "population": self.counts.ravel(),
        }).with_columns(pl.lit(str(period)).alias("period"))
        return frame.select([pl.col(name).cast(dtype)
                             for name, dtype in table_schema("population_by_age").items()])

    def totals(self) -> pl.LazyFrame:
        """Residents by area: ``male``, ``female``."""
        by_sex = self.counts.sum(axis=2)
        return self.keys.with_columns(
            pl.Series("male", by_sex[:, 0], dtype=pl.Int64),
            pl.Series("female", by_sex[:, 1], dtype=pl.Int64),
        ).lazy()

    def summary(self) -> pl.LazyFrame:
        """By area: ``young`` (0–14), ``working`` (15–64), ``old`` (65+) and ``median_age``
        — ``indicators.age_groups`` and ``indicators.median_age`` on the same counts, each
        figure made by the same operations (median = a + (N/2 − C) / n at the first age a
        whose cumulative count reaches N/2; null when N = 0)."""
        n = self.counts.sum(axis=1)  # area × age, both sexes
        ages = np.array(AGES)
        cum = np.cumsum(n, axis=1)
        total = cum[:, -1]
        half = total / 2
        first = np.argmax(cum >= half[:, None], axis=1)
        rows = np.arange(n.shape[0])
        at, cum_at = n[rows, first], cum[rows, first]
        with np.errstate(divide="ignore", invalid="ignore"):
            median = ages[first] + (half - (cum_at - at)) / at
        return self.keys.with_columns(
            pl.Series("young", n[:, ages <= YOUNG].sum(axis=1), dtype=pl.Int64),
            pl.Series("working", n[:, (ages > YOUNG) & (ages < OLD)].sum(axis=1),
                      dtype=pl.Int64),
            pl.Series("old", n[:, ages >= OLD].sum(axis=1), dtype=pl.Int64),
            pl.Series("median_age", np.where(total > 0, median, np.nan))
            .fill_nan(None).cast(pl.Float64),
        ).lazy()


def age_cube(ages: AgeCounts, areas: pl.DataFrame) -> AgeCube:
    """The cube of a stock's village × sex × age counts (``Stock.ages``) over the period's
    ``areas``."""
    keys = areas.select("area_level", "area_code").sort(level_sort_key(), "area_code")
    rows = keys.with_row_index("row")
    cells = len(SEXES) * len(AGES)
    villages = ages.villages
    summed = ages.counts.reshape(villages.len(), cells)
    counts = np.zeros((keys.height, cells), dtype=np.int64)
    codes = villages
    levels = reversed(LEVELS) if villages.len() else ()
    for level in levels:  # village, township, county, national
        # the areas at this level holding the ones below, in code order: each a run of
        # them, summed (the villages themselves at the first step)
        holding = pl.select(area_code_at(level, pl.lit(codes)).alias("area_code"))["area_code"]
        first = np.flatnonzero(np.r_[True, (holding[1:] != holding[:-1]).to_numpy()])
        codes = holding.gather(first)
        summed = np.add.reduceat(summed, first, axis=0)
        # each area's row among the period's areas (-1: not an area of the period)
        at = (pl.DataFrame({"area_level": level, "area_code": codes})
              .join(rows, on=["area_level", "area_code"], how="left", maintain_order="left")
              ["row"].cast(pl.Int64).fill_null(-1).to_numpy())
        counts[at[at >= 0]] = summed[at >= 0]
    return AgeCube(keys, counts.reshape(keys.height, len(SEXES), len(AGES)))
