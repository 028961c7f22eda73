"""Before a query reads any data: which release folder each period comes from is the
caller's business; this module counts the areas the query touches (from the release's small
area list) and refuses a query whose result would be too large to make in one go."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from stats.query import DEFAULT_MAX_CELLS, Query, query_cells
from stats.release import AREAS

__all__ = ["DEFAULT_MAX_CELLS", "TooLarge", "area_count", "check_size"]


class TooLarge(ValueError):
    """A query whose result holds more cells than allowed."""


def area_count(release_dir: Path, query: Query,
               allowed: Callable[[pl.Expr], pl.Expr] | None = None) -> int:
    """How many areas of the query's level (within ``within``/``areas`` and ``allowed``) the
    release lists: reads ``areas.parquet`` only."""
    code = pl.col("area_code")
    condition = pl.col("area_level") == query.area_level
    if query.within is not None:
        condition &= code.str.starts_with(query.within)
    if query.areas is not None:
        condition &= code.is_in(list(query.areas))
    if allowed is not None:
        condition &= allowed(code)
    scan = pl.scan_parquet(release_dir / AREAS).filter(condition)
    return int(scan.select(pl.col("area_code").n_unique()).collect().item())


def check_size(query: Query, n_areas: int, max_cells: int = DEFAULT_MAX_CELLS) -> int:
    """The result's number of cells; raises ``TooLarge`` (with the advice to split) above
    ``max_cells``."""
    cells = query_cells(query, n_areas)
    if cells > max_cells:
        raise TooLarge(
            f"the query would make {cells:,} cells ({n_areas:,} areas × "
            f"{len(query.periods)} periods × keys × {len(query.measures)} measures), more "
            f"than the limit of {max_cells:,}: split it into smaller queries (fewer periods "
            "or areas, a coarser area level, fewer kept keys or measures, or age bands)")
    return cells
