"""County-to-county migration flows (CONTRACT §8, ``migration_flows``; built from v1 extracts).

A MOVE is a flow from the county of its origin to the county of its destination; an empty
origin or destination is ``99999``, outside the register (abroad, first registration,
de-registration). A move within one county is not a flow. Every ordered pair of the
period's counties and ``99999`` with origin ≠ destination gets a row (zeros included),
except ``99999 → 99999``.
"""

from __future__ import annotations

import polars as pl

OUTSIDE = "99999"
FLOW_MEASURES = ["moves", "moves_male", "moves_female"]


def migration_flows(events: pl.LazyFrame, areas: pl.DataFrame) -> pl.LazyFrame:
    """Moves by origin county (``area_code``) and destination county (``to_code``)."""
    ends = {"from_village_code": "area_code", "to_village_code": "to_code"}
    counted = (
        events.filter(pl.col("event_type") == "MOVE")
        .select(*(pl.col(v).str.slice(0, 5).fill_null(OUTSIDE).alias(c) for v, c in ends.items()),
                "sex")
        .filter(pl.col("area_code") != pl.col("to_code"))
        .group_by("area_code", "to_code")
        .agg(pl.len().cast(pl.Int64).alias("moves"),
             (pl.col("sex") == 1).sum().cast(pl.Int64).alias("moves_male"),
             (pl.col("sex") == 2).sum().cast(pl.Int64).alias("moves_female"))
    )
    counties = areas.filter(pl.col("area_level") == "county").select("area_code")
    places = pl.concat([counties, pl.DataFrame({"area_code": [OUTSIDE]})]).unique(maintain_order=True)
    pairs = (places.lazy().join(places.lazy().rename({"area_code": "to_code"}), how="cross")
             .filter(pl.col("area_code") != pl.col("to_code")))
    return (
        pairs.join(counted, on=["area_code", "to_code"], how="left")
        .with_columns(pl.col(m).fill_null(0) for m in FLOW_MEASURES)
        .with_columns(pl.lit("county").alias("area_level"))
    )
