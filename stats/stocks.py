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

import polars as pl

from stats.codes import LEVELS
from stats.periods import Month
from stats.population import household_pairs, households_by_level, resident_cells

CELL_KEYS = ["village_code", "sex", "age", "marital_status", "indigenous"]
TRIBE_KEYS = ["village_code", "sex", "tribe"]


@dataclass(frozen=True)
class Stock:
    """One snapshot's counts (see the module's docstring), each frame holding only the
    cells with someone in them, ``population`` the count:

    ``sex_age``: village_code, sex, age; ``marital``: village_code, sex, marital_status
    (aged 15 and over); ``indigenous``: village_code, sex, indigenous (1, 2);
    ``tribes``: village_code, sex, tribe (tribe > 0), or None for a v1 snapshot;
    ``households``: area_level, area_code, households at every level, or None when not
    counted (a start stock: the tables read only its ``sex_age``, and the one-read
    scanner, ``stats.snapshot_scan``, leaves its ``marital``, ``indigenous`` and ``tribes``
    empty).
    """

    month: Month
    rows: int
    sex_age: pl.DataFrame
    marital: pl.DataFrame
    indigenous: pl.DataFrame
    tribes: pl.DataFrame | None
    households: pl.DataFrame | None

    @property
    def v2(self) -> bool:
        """Whether the snapshot carries the §8 ``tribe`` column."""
        return self.tribes is not None

    def by_village(self) -> pl.LazyFrame:
        """Residents per village."""
        return self.sex_age.lazy().group_by("village_code").agg(pl.col("population").sum())

    def by_sex_age(self) -> pl.LazyFrame:
        """Residents by village × sex × age."""
        return self.sex_age.lazy()


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
    return Stock(month, int(cells["population"].sum()), sex_age, marital, indigenous, tribes,
                 counted)
