"""Cell marks (r revised, p provisional) of a query's result (CONTRACT §7): the same rule as a
release table's (``stats.marks.cell_marks``), applied to the result cells.

A result cell is revised when the same query run on the previous published revision of each
period gives it another value (a band or a sum is revised when any cell in it is); it is
provisional when its period's revision was published provisional. A period with no previous
published revision is compared with itself (so nothing of it is revised).

``query_marks`` is pure (two results → marks); ``marks_for_query`` finds the previous
revisions and runs the query on them. The builder's preview calls ``marks_for_query`` (or
``query_marks``) and shows ``shown_with_marks``; ``popstats query`` writes the marks into
the formats that have room for them (``exports.query``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from pathlib import Path

import polars as pl

from stats.marks import NONE, PROVISIONAL, cell_marks, marks_used
from stats.periods import Period
from stats.query import SEPARATOR, Query, QueryResult
from stats.query_source import run_on_releases
from stats.revision_marks import mark_basis


def result_stub(query: Query) -> list[str]:
    """The result's stub columns (``area_name`` after ``area_code`` when labelled)."""
    names = []
    for dim in query.stub:
        names.append("area_code" if dim == "area" else dim)
        if dim == "area" and query.labels != "codes":
            names.append("area_name")
    return names


def period_label(query: Query, period: str) -> str:
    """A period as the result writes it (code, or its label in the query's language)."""
    if query.labels == "codes":
        return period
    return Period.parse(period).label("en" if query.labels == "en" else "zh")


def query_marks(current: QueryResult, previous: QueryResult | None,
                provisional: Collection[str] = ()) -> pl.DataFrame | None:
    """The marks of ``current``'s cells: its stub columns and one mark column per value
    column, row for row, or None when no cell is marked. ``previous``: the same query on
    the previous published revisions; ``provisional``: the periods published provisional."""
    query = current.query
    stub = result_stub(query)
    now_frame = current.frame
    old_frame = previous.frame if previous is not None else None
    values = [c for c in now_frame.columns if c not in stub]
    keys = stub
    if not stub:  # one row, every dimension across: the row is its own key
        keys = ["__row"]
        now_frame = now_frame.with_row_index("__row")
        old_frame = old_frame.with_row_index("__row") if old_frame is not None else None
    labels = {period_label(query, p) for p in provisional}
    by_row = pl.col("period").is_in(sorted(labels)) if "period" in query.stub and labels else False
    marks = cell_marks(now_frame, old_frame, keys, values, provisional=by_row)
    if "period" in query.heading and labels:  # a period is part of each column's name
        at = list(query.heading).index("period")
        columns = [c for c in values if c.split(SEPARATOR)[at] in labels]
        marks = marks.with_columns(pl.lit(PROVISIONAL).alias(c) for c in columns)
    if not stub:
        marks = marks.drop("__row")
    return marks if marks_used(marks, values) else None


def previous_revisions(folders: Mapping[str, Path], now: datetime
                       ) -> tuple[dict[str, Path], set[str]]:
    """For each period, the folder to compare with (its previous published revision, else
    its own folder) and the periods whose revision was published provisional."""
    compare, provisional = {}, set()
    for period, folder in folders.items():
        basis = mark_basis(folder, now)
        compare[period] = basis.previous or folder
        if basis.provisional:
            provisional.add(period)
    return compare, provisional


def marks_for_query(query: Query, folders: Mapping[str, Path], now: datetime, *,
                    current: QueryResult | None = None,
                    allowed: Callable[[pl.Expr], pl.Expr] | None = None) -> pl.DataFrame | None:
    """The marks of the query's result on ``folders`` (period → the revision folder read),
    or None when no cell is marked. ``current``: the result, if already computed."""
    current = current or run_on_releases(query, folders, allowed=allowed)
    compare, provisional = previous_revisions(folders, now)
    changed = any(compare[p] != folders[p] for p in folders)
    if not changed and not provisional:
        return None
    previous = run_on_releases(query, compare, allowed=allowed) if changed else None
    return query_marks(current, previous, provisional)


def shown_with_marks(frame: pl.DataFrame, marks: pl.DataFrame | None,
                     values: list[str]) -> pl.DataFrame:
    """The result as a preview shows it: each value column as text with its mark after
    the figure (``1,234 r``), other columns as they are."""
    if marks is None:
        return frame
    marked = frame.with_columns(marks.select(pl.col(v).alias(f"__mark_{v}") for v in values))
    return marked.select(
        *(pl.when(pl.col(f"__mark_{c}") != NONE)
          .then(pl.concat_str([pl.col(c).cast(pl.String), pl.lit(" "), pl.col(f"__mark_{c}")]))
          .otherwise(pl.col(c).cast(pl.String)).alias(c) if c in values else pl.col(c)
          for c in frame.columns))


__all__ = ["marks_for_query", "previous_revisions", "query_marks", "result_stub",
           "shown_with_marks"]
