"""Cell marks (``stats.marks``: r revised, p provisional) in the files that have room for them.

``with_marks`` puts a table's marks on its ``ExportMeta`` and states the marks that occur in
the footnotes (zh-TW and English), which every format already carries. Writers then ask for
the marks laid out as they lay out cells: ``frame_marks`` (aligned with the frame's rows, for
spreadsheets) or ``cube_marks`` (aligned with a cube's flat values, for PX, JSON-stat and
SDMX). Without marks (no previous published revision, not provisional) both give None and
every file is written exactly as before: a mark is only ever an addition.

A frame whose keys are not the marks' (a delivery's grouped or banded selection) gets no
marks: a band's value is a sum of cells, and whether it changed is not the cells' marks.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl

from exports.meta import ExportMeta
from stats.marks import NONE, mark_notes, marks_used

if TYPE_CHECKING:
    from exports.jsonstat import TableCube

SUFFIX = "__mark_"  # the aligned mark column of a measure: ``__mark_population``
# the formats with room for a cell's mark; the others (CSV, SPSS, Stata, Parquet, netCDF,
# MOI's layout) get neither marks nor the footnote that would explain them
MARKED_FORMATS = ("xlsx", "ods", "px", "jsonstat", "sdmx-csv")


def with_marks(meta: ExportMeta, marks: pl.DataFrame | None) -> ExportMeta:
    """The metadata carrying ``marks`` (as ``stats.revision_marks.release_marks`` gives
    them), their meaning appended to both languages' footnotes. None changes nothing."""
    measures = [c for c in marks.columns if c not in ("area_level", "area_code", *meta.spec.keys)
                ] if marks is not None else []
    used = marks_used(marks, measures)
    if not used:
        return meta
    zh, en = mark_notes(used)
    spec = replace(meta.spec, footnotes_zh=(*meta.spec.footnotes_zh, *zh),
                   footnotes_en=(*meta.spec.footnotes_en, *en))
    return replace(meta, spec=spec, marks=marks)


def _keys(meta: ExportMeta, columns: list[str]) -> list[str] | None:
    """The join keys of the marks with a frame or cube, or None if the frame's keys differ."""
    marks = meta.marks
    if marks is None:
        return None
    keys = ["area_code", *meta.spec.keys]
    if not all(k in columns for k in keys):
        return None
    return keys


def frame_marks(frame: pl.DataFrame, meta: ExportMeta, measures: list[str]) -> pl.DataFrame | None:
    """One column ``__mark_<measure>`` per measure, aligned with ``frame``'s rows (empty
    text for an unmarked cell), or None when there are no marks for this frame."""
    keys = _keys(meta, frame.columns)
    if keys is None or meta.marks is None:
        return None
    marked = [m for m in measures if m in meta.marks.columns]
    marks = meta.marks.select(*keys, *(pl.col(m).alias(SUFFIX + m) for m in marked))
    try:  # a whole release table in release order: the rows are the marks' rows
        same = frame.height == marks.height and frame.select(keys).equals(marks.select(keys))
    except pl.exceptions.PolarsError:
        same = False
    aligned = marks if same else frame.select(keys).join(marks, on=keys, how="left",
                                                          maintain_order="left")
    return aligned.select(pl.col(SUFFIX + m).fill_null(NONE) for m in marked)


def cube_marks(cube: TableCube, meta: ExportMeta) -> pl.Series | None:
    """The marks aligned with ``cube.values()`` (measure fastest), or None."""
    keys = _keys(meta, ["area_code", *cube.keys])
    if keys is None:
        return None
    columns = frame_marks(cube.rows, meta, list(cube.measures))
    if columns is None:
        return None
    names = [SUFFIX + m for m in cube.measures]
    missing = [pl.lit(NONE).alias(n) for n in names if n not in columns.columns]
    return (columns.with_columns(missing).select(pl.concat_list(names).alias("mark"))
            .explode("mark")["mark"])


__all__ = ["MARKED_FORMATS", "SUFFIX", "cube_marks", "frame_marks", "with_marks"]
