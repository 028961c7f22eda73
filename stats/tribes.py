"""The indigenous population by people (tribe) at the period's end (CONTRACT §8; v2 extracts).

Tribe 0 means not indigenous and is not a row of the table; 1…16 are the recognised
peoples and 99 not declared.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from stats.areas import roll_up


def indigenous_by_tribe(tribes: pl.LazyFrame, levels: Sequence[str]) -> pl.LazyFrame:
    """Male and female indigenous residents by tribe at each level (zeros left to the
    caller), from a stock's counts by village × sex × tribe (``Stock.tribes``)."""
    population = pl.col("population")
    cells = tribes.filter(pl.col("tribe") > 0).group_by(
        "village_code", pl.col("tribe").cast(pl.Int8)
    ).agg(population.filter(pl.col("sex") == 1).sum().cast(pl.Int64).alias("male"),
          population.filter(pl.col("sex") == 2).sum().cast(pl.Int64).alias("female"))
    return roll_up(cells, ["tribe"], ["male", "female"], levels)
