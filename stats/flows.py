"""County-to-county migration flows (CONTRACT §8, ``migration_flows``; built from v1 extracts).

A MOVE is a flow from the county of its origin to the county of its destination; an empty
origin or destination is ``99999``, outside the register (abroad, first registration,
de-registration). A move within one county is not a flow. Every ordered pair of the
period's counties and ``99999`` with origin ≠ destination gets a row (zeros included),
except ``99999 → 99999``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from stats.moves import Moves, moves_of

OUTSIDE = "99999"
FLOW_MEASURES = ["moves", "moves_male", "moves_female"]


def migration_flows(events: pl.LazyFrame, areas: pl.DataFrame, moves: Moves | None = None
                    ) -> pl.LazyFrame:
    """Moves by origin county (``area_code``) and destination county (``to_code``)
    (``moves``: the events' moves, when already indexed, ``stats.moves``)."""
    if moves is None:
        moves = moves_of(events)
    # each village's county as an index into the counties moved between, then outside
    county = moves.villages.str.slice(0, 5)
    ends = pl.concat([county.unique().sort(), pl.Series([OUTSIDE])])
    width = ends.len()
    end_of = np.append(county.cast(pl.Enum(ends)).to_physical().cast(pl.Int64).to_numpy(),
                       width - 1)  # index -1: an empty end, outside
    origin, destination = end_of[moves.origin], end_of[moves.destination]
    between = origin != destination
    pair = origin[between] * width + destination[between]
    sex = moves.sex[between]
    by_sex = {name: np.bincount(pair, weights=None if wanted is None else sex == wanted,
                                minlength=width * width).astype(np.int64)
              for name, wanted in zip(FLOW_MEASURES, (None, 1, 2), strict=True)}
    met = np.flatnonzero(by_sex["moves"])
    counted = pl.DataFrame({
        "area_code": ends.gather(met // width),
        "to_code": ends.gather(met % width),
        **{name: pl.Series(counts[met], dtype=pl.Int64) for name, counts in by_sex.items()},
    }).lazy()
    counties = areas.filter(pl.col("area_level") == "county").select("area_code")
    places = pl.concat([counties, pl.DataFrame({"area_code": [OUTSIDE]})]).unique(maintain_order=True)
    pairs = (places.lazy().join(places.lazy().rename({"area_code": "to_code"}), how="cross")
             .filter(pl.col("area_code") != pl.col("to_code")))
    return (
        pairs.join(counted, on=["area_code", "to_code"], how="left")
        .with_columns(pl.col(m).fill_null(0) for m in FLOW_MEASURES)
        .with_columns(pl.lit("county").alias("area_level"))
    )
