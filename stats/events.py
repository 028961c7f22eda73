"""Flows registered in a period: births, deaths, marriages, divorces and migration."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from stats.areas import area_code_at
from stats.moves import Moves, moves_of

VITAL_MEASURES = [
    "births", "births_male", "births_female",
    "deaths", "deaths_male", "deaths_female",
    "marriages", "marriages_same_sex", "marriages_same_sex_male", "marriages_same_sex_female",
    "divorces", "divorces_same_sex", "divorces_same_sex_male", "divorces_same_sex_female",
]


def _count(condition: pl.Expr) -> pl.Expr:
    return condition.cast(pl.Int64).sum()


def vital_events_by_village(events: pl.LazyFrame) -> pl.LazyFrame:
    """Births, deaths, marriages and divorces per village where the events are counted.

    Marriages and divorces are rows of couples; a couple is same-sex when
    ``sex == partner_sex``, and the same-sex part is split by that sex.
    """
    kind, sex = pl.col("event_type"), pl.col("sex")
    same_sex = sex == pl.col("partner_sex")
    columns = {
        "births": kind == "BIRTH",
        "births_male": (kind == "BIRTH") & (sex == 1),
        "births_female": (kind == "BIRTH") & (sex == 2),
        "deaths": kind == "DEATH",
        "deaths_male": (kind == "DEATH") & (sex == 1),
        "deaths_female": (kind == "DEATH") & (sex == 2),
    }
    for couple, prefix in (("MARRIAGE", "marriages"), ("DIVORCE", "divorces")):
        columns[prefix] = kind == couple
        columns[f"{prefix}_same_sex"] = (kind == couple) & same_sex
        columns[f"{prefix}_same_sex_male"] = (kind == couple) & same_sex & (sex == 1)
        columns[f"{prefix}_same_sex_female"] = (kind == couple) & same_sex & (sex == 2)
    return (
        events.filter(pl.col("event_type") != "MOVE")
        .group_by("village_code")
        .agg([_count(cond.fill_null(False)).alias(name) for name, cond in columns.items()])
    )


def migration_by_level(events: pl.LazyFrame, levels: Sequence[str],
                       moves: Moves | None = None) -> pl.LazyFrame:
    """In- and out-migration per area at each level (the areas any move enters or leaves;
    ``moves``: the events' moves, when already indexed).

    A move enters an area when its destination lies inside and its origin does not (an
    empty origin lies outside every area), and leaves it in the reverse case; a move
    within an area is not migration at that area's level.

    A year has 1.8 M national moves between a few thousand villages: each end is an index
    into those villages (``stats.moves``), each village's area at a level an index too,
    and the moves are counted with ``bincount`` (cutting and grouping 1.8 M codes per level
    cost more than the rest of the table).
    """
    if moves is None:
        moves = moves_of(events)
    frames = []
    for level in levels:
        containing = pl.select(area_code_at(level, pl.lit(moves.villages)).alias("area_code"))
        codes = containing["area_code"].unique().sort()
        if level == "village":  # each village its own area, in the same order
            origin, destination = moves.origin, moves.destination
        else:
            area = containing["area_code"].cast(pl.Enum(codes)).to_physical().cast(pl.Int64)
            area_of = np.append(area.to_numpy(), -1)  # index -1: an empty end, no area
            origin, destination = area_of[moves.origin], area_of[moves.destination]
        crossing = origin != destination
        inflow = np.bincount(destination[crossing & (destination >= 0)], minlength=len(codes))
        outflow = np.bincount(origin[crossing & (origin >= 0)], minlength=len(codes))
        moved = np.flatnonzero((inflow > 0) | (outflow > 0))
        frames.append(pl.DataFrame({
            "area_level": pl.Series([level] * len(moved), dtype=pl.String),
            "area_code": codes.gather(moved),
            "in_migration": pl.Series(inflow[moved], dtype=pl.Int64),
            "out_migration": pl.Series(outflow[moved], dtype=pl.Int64),
        }))
    return pl.concat(frames).lazy()
