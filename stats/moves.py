"""A period's moves with each end's village as an index, made once for the tables that
count moves (``events.migration_by_level``, ``flows.migration_flows``).

A national year has 1.8 M moves between a few thousand villages: finding those villages
and indexing the 3.5 M ends is most of what counting moves costs, so it is done once, on
both ends together, and each table counts the indices with ``bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

ENDS = ("from_village_code", "to_village_code")


@dataclass(frozen=True)
class Moves:
    """``origin[i]``, ``destination[i]``: move i's villages as indices into ``villages``
    (sorted codes), -1 for outside the register (an empty end); ``sex[i]``: the person's."""

    villages: pl.Series
    origin: np.ndarray
    destination: np.ndarray
    sex: np.ndarray


def moves_of(events: pl.LazyFrame, villages: pl.Series | None = None) -> Moves:
    """The MOVE events of typed ``events``, their ends indexed (``villages``: the sorted
    codes every end is expected among — the period's — which spares finding them; when an
    end is not among them, they are found from the ends)."""
    moves = events.filter(pl.col("event_type") == "MOVE").select(*ENDS, "sex").collect()
    ends = pl.concat([moves[name] for name in ENDS])  # the origins, then the destinations
    index = None
    if villages is not None:
        index = ends.cast(pl.Enum(villages), strict=False).to_physical()
        if index.null_count() != ends.null_count():  # a code not among them
            index = None
    if index is None:
        villages = ends.drop_nulls().unique().sort()
        index = ends.cast(pl.Enum(villages)).to_physical()
    both = index.cast(pl.Int64).fill_null(-1).to_numpy()
    return Moves(villages, both[:moves.height], both[moves.height:], moves["sex"].to_numpy())
