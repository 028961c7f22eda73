"""Area levels: deriving higher-level codes from village codes, rolling up, zero-filling."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from stats.codes import NATIONAL_CODE

LEVEL_ORDER = {"national": 0, "county": 1, "township": 2, "village": 3}


def area_code_at(level: str, village_code: pl.Expr) -> pl.Expr:
    """The code of the area at ``level`` containing a village (null village -> null)."""
    if level == "national":
        return pl.when(village_code.is_not_null()).then(pl.lit(NATIONAL_CODE))
    if level == "county":
        return village_code.str.slice(0, 5)
    if level == "township":
        return village_code.str.slice(0, 8)
    return village_code


def roll_up(
    village_level: pl.LazyFrame,
    keys: Sequence[str],
    measures: Sequence[str],
    levels: Sequence[str],
) -> pl.LazyFrame:
    """Sum village-level counts (column ``village_code``) to every requested level.

    The input may hold several rows per village and key (finer cells); each level is
    summed from the one below it (villages → townships → counties → nation), so only the
    first step touches the large input. Only additive measures
    may be rolled up; distinct counts and migration are computed per level instead.
    """
    def summed(frame: pl.LazyFrame, level: str) -> pl.LazyFrame:
        code = area_code_at(level, pl.col("area_code")).alias("area_code")
        return (
            frame.group_by(code, *keys)
            .agg([pl.col(m).sum() for m in measures])
            .select(pl.lit(level).alias("area_level"), "area_code", *keys, *measures)
        )

    current = summed(village_level.rename({"village_code": "area_code"}), "village").cache()
    frames = {"village": current}
    for level in ("township", "county", "national"):
        current = summed(current, level).cache()
        frames[level] = current
    return pl.concat([frames[level] for level in levels])


def complete(
    values: pl.LazyFrame,
    areas: pl.DataFrame,
    grid: pl.DataFrame | None,
    measures: Sequence[str],
    levels: Sequence[str],
) -> pl.LazyFrame:
    """Every area of the period × every key combination, with zeros where nothing was counted.

    Values for areas outside ``areas`` (codes not valid in the period) are dropped.
    """
    frame = areas.lazy().filter(pl.col("area_level").is_in(list(levels))).select(
        "area_level", "area_code"
    )
    keys: list[str] = []
    if grid is not None:
        frame = frame.join(grid.lazy(), how="cross")
        keys = grid.columns
    joined = frame.join(values, on=["area_level", "area_code", *keys], how="left")
    return joined.with_columns([pl.col(m).fill_null(0) for m in measures])


def level_sort_key() -> pl.Expr:
    """Sort expression putting national first, then county, township, village."""
    return pl.col("area_level").replace_strict(LEVEL_ORDER, return_dtype=pl.Int8)
