"""Which revisions a revision's cells are marked against, and the marks of a release table.

The pure rule is ``stats.marks.cell_marks``; this module only finds its inputs in a releases
folder: the previous *published* revision of the period (the newest revision before this
one that is public at ``now``: a draft or a still-embargoed revision was never seen, so
nothing can be revised against it) and whether this revision was published provisional.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from stats.catalogue import table_spec
from stats.marks import cell_marks, marks_used
from stats.publication import publication_of
from stats.release import REVISIONS, ReleaseError, read_manifest, read_table, revision_dirs


@dataclass(frozen=True)
class MarkBasis:
    """What a revision's marks depend on."""

    period: str
    revision: int
    provisional: bool
    previous: Path | None  # the previous published revision's folder
    previous_revision: int | None


def _root(release_dir: Path) -> Path | None:
    folder = release_dir.resolve()
    return folder.parent.parent.parent if folder.parent.parent.name == REVISIONS else None


def mark_basis(release_dir: Path, now: datetime) -> MarkBasis:
    """The provisional flag and the previous published revision of a release folder
    (``RELEASES/P`` or a revision folder; a folder copied out of its releases folder has no
    previous revision it knows of)."""
    period, mine, found = publication_of(release_dir)
    revision = int(read_manifest(release_dir)["revision"])
    earlier = [r for r, p in found.items() if r < revision and p.public(now)]
    previous = None
    root = _root(release_dir)
    if earlier and root is not None:
        wanted = max(earlier)
        previous = next((f for f in revision_dirs(root, period)
                         if int(read_manifest(f)["revision"]) == wanted), None)
    return MarkBasis(period, revision, bool(mine and mine.provisional), previous,
                     max(earlier) if previous is not None else None)


def table_keys(table: str) -> tuple[list[str], list[str]]:
    """A release table's cell keys and its measures."""
    spec = table_spec(table)
    keys = ["area_level", "area_code", *spec.keys]
    fixed = {"period", *keys}
    return keys, [c.name for c in spec.columns if c.name not in fixed]


def release_marks(release_dir: Path, table: str, now: datetime,
                  frame: pl.DataFrame | None = None) -> pl.DataFrame | None:
    """The marks of a release table's cells (keys and one mark column per measure), or None
    when no cell has one (no previous published revision, final, or nothing changed): then
    files are written exactly as without marks. ``frame``: the table, if already read."""
    basis = mark_basis(release_dir, now)
    keys, measures = table_keys(table)
    current = frame if frame is not None else read_table(release_dir, table)
    measures = [m for m in measures if m in current.columns]
    previous = None
    if basis.previous is not None:
        try:
            previous = read_table(basis.previous, table)
        except ReleaseError:  # the previous revision did not hold this table (v1 extract)
            previous = None
    if previous is None and not basis.provisional:
        return None
    marks = cell_marks(current, previous, keys, measures, provisional=basis.provisional)
    return marks if marks_used(marks, measures) else None


__all__ = ["MarkBasis", "mark_basis", "release_marks", "table_keys"]
