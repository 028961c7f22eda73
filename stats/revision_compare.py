"""Two revisions of one period compared, table by table and area by area (issue 13).

``compare_table`` is the one pure comparison: the cells (row × measure) of a table in an
older and a newer revision, matched on the table's keys. A cell is *changed* when both hold
it and the values differ (a null and a number differ, two nulls do not), *added* when only
the newer revision holds it, *removed* when only the older one does. It gives the counts, the
counts per area (areas with any change, most changes first) and the largest changes by
absolute difference. ``compare_revisions`` reads the two revision folders and compares every
table either holds; ``popstats report --compare`` and the Releases page render its result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from stats.release import (
    ReleaseError,
    current_revision_dir,
    read_areas,
    read_manifest,
    read_table,
    revision_dirs,
)
from stats.revision_marks import table_keys

TOP = 10  # largest changes listed per table
AREAS_SHOWN = 20  # areas listed per table (the counts cover all of them)
_OLD, _NEW = "old", "new"
LEVELS = ("national", "county", "township", "village")


def _long(frame: pl.DataFrame, keys: list[str], measures: list[str]) -> pl.DataFrame:
    """A table's cells as rows: keys, ``measure``, ``value`` (Float64: counts are exact in a
    double up to 2^53)."""
    return (frame.select(*keys, *(pl.col(m).cast(pl.Float64) for m in measures))
            .unpivot(index=keys, on=measures, variable_name="measure", value_name="value"))


def compare_table(old: pl.DataFrame | None, new: pl.DataFrame | None, keys: list[str],
                  measures: list[str], areas: pl.DataFrame | None = None,
                  top: int = TOP, areas_shown: int = AREAS_SHOWN) -> dict[str, Any]:
    """The comparison of one table's cells between an older and a newer revision.

    ``keys`` must include ``area_level`` and ``area_code``; ``areas`` (area_level,
    area_code, area_name) names the areas. A table one revision lacks counts all its cells
    as added (or removed). Returns ``cells`` (compared in both), ``changed``, ``added``,
    ``removed``, ``by_level`` (level → changed cells), ``areas`` (each area with changed
    cells: level, code, name, changed; most first, then by code; the first
    ``areas_shown``, ``areas_changed`` counting all) and ``largest`` (the
    ``top`` changed cells by absolute change: keys, measure, old, new, change).
    """
    if old is None and new is None:
        raise ValueError("nothing to compare: neither revision holds the table")
    sides = [None if frame is None else
             _long(frame, keys, [m for m in measures if m in frame.columns])
             for frame in (old, new)]
    left = sides[0] if sides[0] is not None else sides[1].clear()
    right = sides[1] if sides[1] is not None else left.clear()
    on = [*keys, "measure"]
    both = (left.rename({"value": _OLD}).with_columns(pl.lit(True).alias("_in_old"))
            .join(right.rename({"value": _NEW}).with_columns(pl.lit(True).alias("_in_new")),
                  on=on, how="full", coalesce=True, nulls_equal=True))
    in_old, in_new = pl.col("_in_old").fill_null(False), pl.col("_in_new").fill_null(False)
    cells = both.with_columns(
        (in_old & in_new & pl.col(_OLD).ne_missing(pl.col(_NEW))).alias("changed"),
        (in_new & ~in_old).alias("added"),
        (in_old & ~in_new).alias("removed"),
        (pl.col(_NEW) - pl.col(_OLD)).alias("change"))
    counts = cells.select(pl.len().alias("all"), (in_old & in_new).sum().alias("cells"),
                          pl.col("changed").sum(), pl.col("added").sum(),
                          pl.col("removed").sum()).row(0, named=True)
    changed = cells.filter("changed")
    counted = dict(changed.group_by("area_level").len().iter_rows())
    by_level = {level: counted[level] for level in (*LEVELS, *sorted(counted)) if level in counted}
    per_area = (changed.group_by("area_level", "area_code").len("changed")
                .sort(["changed", "area_code"], descending=[True, False]))
    if areas is not None:
        per_area = per_area.join(areas.select("area_level", "area_code", "area_name"),
                                 on=["area_level", "area_code"], how="left",
                                 maintain_order="left")
    else:
        per_area = per_area.with_columns(pl.lit(None, pl.String).alias("area_name"))
    largest = (changed.sort([pl.col("change").abs(), "area_code", "measure"],
                            descending=[True, False, False], nulls_last=True).head(top))
    if areas is not None:
        largest = largest.join(areas.select("area_level", "area_code", "area_name"),
                               on=["area_level", "area_code"], how="left", maintain_order="left")
    else:
        largest = largest.with_columns(pl.lit(None, pl.String).alias("area_name"))
    return {
        "cells": counts["cells"],
        "changed": counts["changed"],
        "added": counts["added"],
        "removed": counts["removed"],
        "by_level": by_level,
        "areas_changed": per_area.height,
        "areas": per_area.head(areas_shown).select("area_level", "area_code", "area_name",
                                                   "changed").to_dicts(),
        "largest": [
            {"area_level": r["area_level"], "area_code": r["area_code"],
             "area_name": r["area_name"],
             "keys": {k: r[k] for k in keys if k not in ("area_level", "area_code")},
             "measure": r["measure"], "old": r[_OLD], "new": r[_NEW], "change": r["change"]}
            for r in largest.iter_rows(named=True)],
    }


def _revision_dir(releases: Path, period: str, revision: int | None) -> Path:
    if revision is None:
        return current_revision_dir(releases, period)
    for folder in revision_dirs(releases, period):
        if int(read_manifest(folder)["revision"]) == revision:
            return folder
    known = [int(read_manifest(f)["revision"]) for f in revision_dirs(releases, period)]
    raise ReleaseError(f"{period} has no revision {revision} (revisions: "
                       f"{', '.join(map(str, known)) or 'none'})")


def compare_revisions(releases: Path, period: str, old: int, new: int | None = None,
                      top: int = TOP) -> dict[str, Any]:
    """Every table of revision ``old`` and ``new`` (default: the current revision) of a
    period compared (``compare_table``), in catalogue order.

    Raises
    ------
    ReleaseError
        For a period never built or a revision it does not have.
    """
    from stats.catalogue import TABLES

    old_dir, new_dir = _revision_dir(releases, period, old), _revision_dir(releases, period, new)
    manifests = read_manifest(old_dir), read_manifest(new_dir)
    held = [{t["table"] for t in m["tables"]} for m in manifests]
    areas = pl.concat([read_areas(new_dir), read_areas(old_dir)]).unique(
        ["area_level", "area_code"], keep="first", maintain_order=True)
    tables = []
    for table in [t for t in TABLES if t in held[0] | held[1]]:
        keys, measures = table_keys(table)
        before = read_table(old_dir, table) if table in held[0] else None
        after = read_table(new_dir, table) if table in held[1] else None
        tables.append({"table": table, **compare_table(before, after, keys, measures, areas, top)})
    return {"period": period, "old": int(manifests[0]["revision"]),
            "new": int(manifests[1]["revision"]), "tables": tables,
            "changed": sum(t["changed"] for t in tables),
            "cells": sum(t["cells"] for t in tables)}


__all__ = ["compare_revisions", "compare_table"]
