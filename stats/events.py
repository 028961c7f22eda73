"""Flows registered in a period: births, deaths, marriages, divorces and migration."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from stats.areas import area_code_at

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


def migration_by_level(events: pl.LazyFrame, levels: Sequence[str]) -> pl.LazyFrame:
    """In- and out-migration per area at each level.

    A move enters an area when its destination lies inside and its origin does not (an
    empty origin lies outside every area), and leaves it in the reverse case; a move
    within an area is not migration at that area's level.
    """
    moves = events.filter(pl.col("event_type") == "MOVE").select(
        "from_village_code", "to_village_code"
    )
    frames = []
    for level in levels:
        origin = area_code_at(level, pl.col("from_village_code")).alias("origin")
        destination = area_code_at(level, pl.col("to_village_code")).alias("destination")
        crossing = moves.select(origin, destination).filter(
            pl.col("origin").ne_missing(pl.col("destination"))
        )
        inflow = (
            crossing.filter(pl.col("destination").is_not_null())
            .group_by(pl.col("destination").alias("area_code"))
            .agg(pl.len().cast(pl.Int64).alias("in_migration"))
        )
        outflow = (
            crossing.filter(pl.col("origin").is_not_null())
            .group_by(pl.col("origin").alias("area_code"))
            .agg(pl.len().cast(pl.Int64).alias("out_migration"))
        )
        frames.append(
            inflow.join(outflow, on="area_code", how="full", coalesce=True).select(
                pl.lit(level).alias("area_level"),
                "area_code",
                pl.col("in_migration").fill_null(0),
                pl.col("out_migration").fill_null(0),
            )
        )
    return pl.concat(frames)
