"""A residents snapshot reduced to what every table needs from it (one read per snapshot).

Every stock table of a period (CONTRACT §3, §8) is a sum over the persons of a snapshot:
by village × sex × single age (on the snapshot's own reference date, its month's last
day), by village × sex × marital status (aged 15 and over), by village × sex ×
indigenous status, by village × sex × tribe (v2), and the distinct households per area.
A ``Stock`` holds exactly those counts, so the tables are rolled up from at most a million
cells instead of re-reading 23 M persons for each table and level, and a snapshot read
once serves every period that uses it (a month's end stock is the next month's start
stock, aged on the same day).

Both stocks of a period are aged on their own month's last day: the end stock's is the
period's reference date and the start stock's the day before the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from stats.codes import LEVELS
from stats.periods import Month
from stats.population import household_pairs, households_by_level, resident_cells
from stats.schemas import AGES, SEXES

CELL_KEYS = ["village_code", "sex", "age", "marital_status", "indigenous"]
TRIBE_KEYS = ["village_code", "sex", "tribe"]


@dataclass(frozen=True)
class AgeCounts:
    """Persons by village × sex × single age as one dense array: ``counts[v, s, a]`` for
    the village ``villages[v]`` (codes in order), sex ``SEXES[s]``, age ``AGES[a]``.

    The tables read a stock's ages several ways (the by-age cube, the life table's groups,
    the women of fertile ages, the population per village); each is a sum along this
    array's axes, instead of a group-by over a million and more village × sex × age rows."""

    villages: pl.Series
    counts: np.ndarray

    @classmethod
    def of_cells(cls, sex_age: pl.DataFrame) -> AgeCounts:
        """The array of village × sex × age cells (village_code, sex, age, population)."""
        sex_age = sex_age.filter(pl.col("village_code").is_not_null())
        # each cell's village as an index, cast run by run (a stock's cells come village by
        # village; rows in any other order only make more runs)
        runs = sex_age["village_code"].rle()
        run_village = runs.struct.field("value")
        villages = run_village.unique().sort()
        village = np.repeat(run_village.cast(pl.Enum(villages)).to_physical().to_numpy()
                            .astype(np.int64), runs.struct.field("len").to_numpy())
        cells = len(SEXES) * len(AGES)
        cell = ((sex_age["sex"].cast(pl.Int64) - SEXES[0]) * len(AGES)
                + sex_age["age"].cast(pl.Int64) - AGES[0]).to_numpy()
        # sums of whole numbers far below 2**53: exact in float64
        counts = np.bincount(village * cells + cell, weights=sex_age["population"].to_numpy(),
                             minlength=villages.len() * cells).astype(np.int64)
        return cls(villages, counts.reshape(villages.len(), len(SEXES), len(AGES)))

    def cells(self) -> pl.DataFrame:
        """The cells with someone in them: village_code, sex, age, population."""
        return nonzero_cells(self.counts, self.villages, "age", AGES[0])

    def grouped(self, groups: tuple[int, ...], measure: str) -> pl.LazyFrame:
        """village_code, sex, age_group, ``measure``: the counts summed into age groups
        (each named by its first age, the last open), the groups with someone in them."""
        first = np.searchsorted(np.array(AGES), np.array(groups))
        sums = np.add.reduceat(self.counts, first, axis=2)
        village, sex, group = np.nonzero(sums)
        return pl.DataFrame({
            "village_code": self.villages.gather(village),
            "sex": (sex + 1).astype(np.int8),
            "age_group": np.array(groups, dtype=np.int16)[group],
            measure: sums[village, sex, group].astype(np.int64),
        }).lazy()

    def per_village(self) -> pl.DataFrame:
        """Residents per village (the villages with someone): village_code, population."""
        total = self.counts.sum(axis=(1, 2))
        lived_in = np.flatnonzero(total)
        return pl.DataFrame({"village_code": self.villages.gather(lived_in),
                             "population": total[lived_in].astype(np.int64)})


def nonzero_cells(counts: np.ndarray, villages: pl.Series, key: str, first: int) -> pl.DataFrame:
    """The non-zero cells of a village × sex × ``key`` array (key values from ``first``)."""
    village, sex, value = np.nonzero(counts)
    return pl.DataFrame({
        "village_code": villages.gather(village),
        "sex": (sex + 1).astype(np.int8),
        key: (value + first).astype(np.int16 if key == "age" else np.int8),
        "population": counts[village, sex, value].astype(np.int64),
    })


@dataclass(frozen=True)
class Stock:
    """One snapshot's counts (see the module's docstring), each frame holding only the
    cells with someone in them, ``population`` the count:

    ``ages``: village × sex × age (``AgeCounts``; ``sex_age`` the same as a frame:
    village_code, sex, age); ``marital``: village_code, sex, marital_status
    (aged 15 and over); ``indigenous``: village_code, sex, indigenous (1, 2);
    ``tribes``: village_code, sex, tribe (tribe > 0), or None for a v1 snapshot;
    ``households``: area_level, area_code, households at every level, or None when not
    counted (a start stock: the tables read only its ages, and the one-read scanner,
    ``stats.snapshot_scan``, leaves its ``marital``, ``indigenous`` and ``tribes`` empty).
    """

    month: Month
    rows: int
    ages: AgeCounts
    marital: pl.DataFrame
    indigenous: pl.DataFrame
    tribes: pl.DataFrame | None
    households: pl.DataFrame | None

    @property
    def v2(self) -> bool:
        """Whether the snapshot carries the §8 ``tribe`` column."""
        return self.tribes is not None

    @cached_property
    def sex_age(self) -> pl.DataFrame:
        """Residents by village × sex × age (the cells with someone in them)."""
        return self.ages.cells()

    def by_village(self) -> pl.LazyFrame:
        """Residents per village."""
        return self.ages.per_village().lazy()


def marginals(cells: pl.LazyFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``Stock.sex_age``, ``marital`` and ``indigenous`` from village × sex × age × marital
    × indigenous counts."""
    population = pl.col("population").sum()
    return tuple(pl.collect_all([  # type: ignore[return-value]
        cells.group_by("village_code", "sex", "age").agg(population),
        cells.filter(pl.col("age") >= 15)
        .group_by("village_code", "sex", "marital_status").agg(population),
        cells.filter(pl.col("indigenous") > 0)
        .group_by("village_code", "sex", "indigenous").agg(population),
    ]))


def stock_from_frame(residents: pl.LazyFrame, month: Month, *, households: bool = True) -> Stock:
    """The stock of a typed residents frame (``validate.typed_residents``), aged on the
    last day of ``month``: the general path, for CSV and any Parquet the fast scanner
    (``stats.snapshot_scan``) leaves alone."""
    cells = resident_cells(residents, month.last_day).collect()
    sex_age, marital, indigenous = marginals(cells.lazy())
    tribes = None
    if "tribe" in residents.collect_schema():
        tribes = (residents.filter(pl.col("tribe") > 0)
                  .group_by("village_code", "sex", pl.col("tribe").cast(pl.Int8))
                  .agg(pl.len().cast(pl.Int64).alias("population")).collect())
    counted = None
    if households:
        counted = households_by_level(household_pairs(residents).collect(), list(LEVELS))
    return Stock(month, int(cells["population"].sum()), AgeCounts.of_cells(sex_age), marital,
                 indigenous, tribes, counted)
