"""A builder query for the session's user: checked against the grant (and audited), sized
before any table is read, then run by the one query code path (``run_on_releases``).

The areas a query reads are exactly the ones authorised: the codes picked, the area it
reaches into (``within``), or — neither — the areas the grant allows. The preview and the
file both read through ``allowed = inside(those areas)``, so the preview is the file's table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from flask import g

from access.deliveries import Forbidden, record_view
from access.models import User
from access.query_api import inside, period_span
from dashboards.data import offered_roots, published_periods, refuse_unknown, release_dir
from dashboards.web import Refused, services
from stats.query import COUNTIES_AND_OUTSIDE, DEFAULT_MAX_CELLS, Query, QueryError, QueryResult
from stats.query_marks import marks_for_query
from stats.query_plan import area_count
from stats.query_source import run_on_releases
from stats.schemas import TABLE_KEY_VALUES


def max_cells() -> int:
    """The largest result the builder makes (``POPSTATS_QUERY_MAX_CELLS``, default 5 M)."""
    try:
        return max(1, int(os.environ.get("POPSTATS_QUERY_MAX_CELLS", DEFAULT_MAX_CELLS)))
    except ValueError:
        return DEFAULT_MAX_CELLS


class TooLarge(Exception):
    """More cells than ``max_cells``: refused before anything is read."""

    def __init__(self, cells: int, rows: int, limit: int) -> None:
        super().__init__(f"{cells:,} cells > {limit:,}")
        self.cells, self.rows, self.limit = cells, rows, limit


@dataclass(frozen=True)
class Plan:
    """A query the user may run: its areas (authorised), folders and size."""

    query: Query
    areas: list[str]
    folders: dict[str, Path]
    n_areas: int
    cells: int
    rows: int


def sizes(query: Query, n_areas: int) -> dict[str, int]:
    """How many values each dimension of the result has."""
    per_key = {k: len(v) for k, v in TABLE_KEY_VALUES.get(query.table, {}).items()}
    per_key["to_code"] = COUNTIES_AND_OUTSIDE
    found = {"area": n_areas, "period": len(query.periods), "measure": len(query.measures)}
    for key in query.keep:
        banded = key == "age" and query.age_bands
        found["age_band" if banded else key] = (len(query.age_bands or ()) if banded
                                                else per_key.get(key, 1))
    return found


def published_folders(query: Query) -> dict[str, Path]:
    """The published revision folder of each period; ``QueryError`` naming any other."""
    published = set(published_periods())
    folders = {p: release_dir(p) for p in query.periods if p in published}
    if missing := [p for p in query.periods if folders.get(p) is None]:
        raise QueryError([f"periods: {', '.join(missing)} not published"])
    never = [p for p, f in folders.items() if f is not None
             and not (f / f"{query.table}.parquet").is_file()]
    if never:
        raise QueryError([f"periods: {query.table} is not in the release of {', '.join(never)}"])
    return {p: f for p, f in folders.items() if f is not None}


def plan(user: User, query: Query, granted: list[str], *, viewed: bool = True) -> Plan:
    """Check ``query`` for ``user`` whose grant (for the channel used) is ``granted``: codes
    that are no area of its releases are refused and audited (``Refused``); with ``viewed``
    (the preview) the areas are authorised for online viewing and the view audited, else
    (a download) the delivery authorises them for its channel; ``TooLarge`` above the limit.
    """
    folders = published_folders(query)
    asked = list(query.areas) if query.areas is not None else (
        [query.within] if query.within is not None else [])
    if asked:  # made-up codes pass a prefix check: they must be areas of these releases
        refuse_unknown(user, query.table, asked, list(query.periods))
    areas = asked or list(granted)
    if viewed:
        try:  # every area read is granted (none: refused and audited by authorize)
            record_view(g.db, user, query.table, areas, period_span(query.periods),
                        services().now())
        except Forbidden as error:
            raise Refused(str(error)) from error
        g.db.commit()
    n_areas = area_count(folders[query.periods[-1]], query, inside(areas))
    found = sizes(query, n_areas)
    cells = 1
    for size in found.values():
        cells *= size
    across = 1
    for dim in query.heading:
        across *= found.get(dim, 1)
    rows = cells // across if across else 0
    if cells > max_cells():
        raise TooLarge(cells, rows, max_cells())
    return Plan(query, areas, folders, n_areas, cells, rows)


def result_of(found: Plan) -> QueryResult:
    """The result table (the same call ``popstats query`` and the API make)."""
    return run_on_releases(found.query, found.folders, allowed=inside(found.areas))


def marks_of(found: Plan, result: QueryResult) -> pl.DataFrame | None:
    """The result's r/p marks (as ``popstats query`` writes them), or None: the preview shows
    what the file will hold, marks included."""
    return marks_for_query(found.query, found.folders, services().now(), current=result,
                           allowed=inside(found.areas))


def online_roots(user: User, table: str) -> list[str]:
    """The areas the user's grant lets them view online (for the preview)."""
    return offered_roots(user, [table])


__all__ = ["Plan", "TooLarge", "marks_of", "max_cells", "online_roots", "plan", "published_folders",
           "result_of", "sizes"]
