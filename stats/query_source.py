"""Where a query's tables come from: one release folder per period (I/O at the edge).

The caller decides which revision of each period it may read (the current one for provider
staff, within embargo rules; the newest public one for agencies) and passes the folders in;
this module only scans them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from stats.query import Query, QueryError, QueryResult, run_query
from stats.release import read_manifest

AREAS_FILE = "areas.parquet"


def run_on_releases(query: Query, release_dirs: Mapping[str, Path], *,
                    allowed: Callable[[pl.Expr], pl.Expr] | None = None) -> QueryResult:
    """Run ``query`` on the release folder of each of its periods (``allowed``: a filter on
    ``area_code`` for the caller's grant).

    Raises
    ------
    QueryError
        A period without a folder, or a folder without the query's table.
    """
    missing = [p for p in query.periods if p not in release_dirs]
    absent = [p for p, folder in release_dirs.items()
              if p in query.periods and not (folder / f"{query.table}.parquet").is_file()]
    if missing or absent:
        raise QueryError(
            ([f"periods: {', '.join(missing)} not released"] if missing else [])
            + ([f"{query.table} is not in the release of {', '.join(absent)}"] if absent else []))
    tables = {p: pl.scan_parquet(release_dirs[p] / f"{query.table}.parquet")
              for p in query.periods}
    revisions = {p: int(read_manifest(release_dirs[p])["revision"]) for p in query.periods}
    names = area_names([release_dirs[p] for p in query.periods])
    return run_query(query, tables, revisions, names=names, allowed=allowed)


def area_names(folders: list[Path]) -> pl.DataFrame | None:
    """Area names of the releases (a code's latest name wins: villages get renamed)."""
    frames = [pl.scan_parquet(f / AREAS_FILE) for f in folders if (f / AREAS_FILE).is_file()]
    if not frames:
        return None
    return (pl.concat(frames, how="diagonal_relaxed").collect()
            .unique("area_code", keep="last", maintain_order=True))
