"""Cell marks of published tables: ``r`` revised, ``p`` provisional (issue 13).

One pure function, ``cell_marks``, compares the cells of a table from one revision with the
same cells of the previous published revision of that period and gives every cell its mark:

- ``p`` (provisional): the revision was published with ``popstats publish --provisional``.
  Every one of its cells is provisional; the mark goes when a final (not provisional)
  revision supersedes it, since that revision's cells are then marked on their own.
- ``r`` (revised): the cell's value differs from the previous published revision's (a null
  and a number differ; two nulls do not), or that revision did not hold the cell at all.
- ``""``: neither.

A cell carries one mark; ``p`` wins over ``r`` because a provisional value is to be revised
anyway, and formats with one status per cell (SDMX's OBS_STATUS) cannot hold two. With no
previous published revision and not provisional, every mark is empty and writers add
nothing, so v1 files stay exactly as they were.

The same function serves release exports (keys: the table's ``area_code`` and key columns)
and query exports (keys: the result's dimensions, ``value`` the one measure).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

REVISED = "r"
PROVISIONAL = "p"
NONE = ""
# What each mark means, as footnotes say it (zh-TW, English).
MARK_NOTES: dict[str, tuple[str, str]] = {
    REVISED: ("r：修正數，與本期前次公布之版次不同。",
              "r: revised, differs from the previous published revision of this period."),
    PROVISIONAL: ("p：初步數，日後將發布正式數取代。",
                  "p: provisional, to be superseded by a final revision."),
}
_PREVIOUS = "__previous_"
_SEEN = "__in_previous"


def cell_marks(
    current: pl.DataFrame,
    previous: pl.DataFrame | None,
    keys: Sequence[str],
    measures: Sequence[str],
    *,
    provisional: bool | pl.Expr = False,
) -> pl.DataFrame:
    """The mark of every cell of ``current``: its ``keys`` and one mark column (String:
    ``r``, ``p`` or empty) per measure, in ``current``'s row order.

    ``previous`` is the same table from the previous published revision of the period
    (None when there is none). ``provisional`` is True for a provisional revision, or a
    boolean expression over ``current``'s columns saying which rows are (a query's cells
    span periods whose revisions differ). A measure ``previous`` lacks is compared with
    nothing and so not marked revised.

    Raises
    ------
    ValueError
        If ``keys`` do not identify ``current``'s rows (the marks would be ambiguous).
    """
    keys, measures = list(keys), list(measures)
    marked = current.select(*keys, *measures)
    compared = [m for m in measures if previous is not None and m in previous.columns]
    if previous is not None and _same_cells(current, previous, keys):
        # the usual case: a rebuild writes the same rows in the same order, so cells pair
        # up by position and no join (seconds for a village × age table) is needed
        marked = marked.with_columns(
            *(previous[m].alias(_PREVIOUS + m) for m in compared), pl.lit(True).alias(_SEEN))
    else:
        if current.select(keys).is_duplicated().any():
            raise ValueError(f"{', '.join(keys)} do not identify the rows: cells cannot be "
                             "marked")
        if previous is not None:
            old = previous.select(*keys, *(pl.col(m).alias(_PREVIOUS + m) for m in compared),
                                  pl.lit(True).alias(_SEEN)).unique(keys, keep="first")
            marked = marked.join(old, on=keys, how="left", maintain_order="left",
                                 nulls_equal=True)
    flag = provisional if isinstance(provisional, pl.Expr) else pl.lit(provisional)
    marks = []
    for measure in measures:
        if measure in compared:
            differs = (pl.col(_SEEN).is_null()
                       | pl.col(measure).ne_missing(pl.col(_PREVIOUS + measure)))
        else:
            differs = pl.lit(False)
        marks.append(pl.when(flag).then(pl.lit(PROVISIONAL))
                     .when(differs).then(pl.lit(REVISED))
                     .otherwise(pl.lit(NONE)).alias(measure))
    return marked.select(*keys, *marks)


def _same_cells(current: pl.DataFrame, previous: pl.DataFrame, keys: list[str]) -> bool:
    """Whether both hold the same keys in the same row order (cells then pair by position,
    even were a key repeated)."""
    if current.height != previous.height:
        return False
    try:
        same = current.select(keys).equals(previous.select(keys))
    except pl.exceptions.PolarsError:  # key types differ between the revisions
        return False
    return same


def marks_used(marks: pl.DataFrame | None, measures: Sequence[str]) -> list[str]:
    """The marks that occur among ``measures``' cells, in the order footnotes list them."""
    if marks is None or not len(measures):
        return []
    found = set(marks.select(pl.concat_list(list(measures)).explode().unique())
                .to_series().to_list())
    return [m for m in (REVISED, PROVISIONAL) if m in found]


def mark_notes(used: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The footnotes (zh-TW, English) stating the marks ``used``."""
    return (tuple(MARK_NOTES[m][0] for m in used), tuple(MARK_NOTES[m][1] for m in used))


__all__ = ["MARK_NOTES", "NONE", "PROVISIONAL", "REVISED", "cell_marks", "mark_notes",
           "marks_used"]
