"""Persons marrying by sex and original nationality (CONTRACT §8; v2 extracts).

A MARRIAGE row is one couple: spouse 1 counts under (``sex``, ``nationality``), spouse 2
under (``partner_sex``, ``partner_nationality``), both where the marriage is registered;
``persons_same_sex`` is the part from couples with ``sex = partner_sex``.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from stats.areas import roll_up

MARRIAGE_MEASURES = ["persons", "persons_same_sex"]


def marriages_by_nationality(events: pl.LazyFrame, levels: Sequence[str]) -> pl.LazyFrame:
    """Spouses by sex × nationality at each level (zeros left to the caller)."""
    couples = events.filter(pl.col("event_type") == "MARRIAGE").with_columns(
        (pl.col("sex") == pl.col("partner_sex")).alias("same_sex"))
    spouses = pl.concat([
        couples.select("village_code", pl.col(sex).cast(pl.Int8).alias("sex"),
                       pl.col(nat).cast(pl.Int8).alias("nationality"), "same_sex")
        for sex, nat in (("sex", "nationality"), ("partner_sex", "partner_nationality"))
    ])
    cells = spouses.group_by("village_code", "sex", "nationality").agg(
        pl.len().cast(pl.Int64).alias("persons"),
        pl.col("same_sex").sum().cast(pl.Int64).alias("persons_same_sex"))
    return roll_up(cells, ["sex", "nationality"], MARRIAGE_MEASURES, levels)
