"""Release directories: atomic, immutable, checksummed, with revisions (CONTRACT §3).

Layout of a releases folder::

    RELEASES/
      .revisions/2025-03/r0001/   population.parquet … manifest.json
      .revisions/2025-03/r0002/   a rebuild: a new revision, the old one kept
      2025-03 -> .revisions/2025-03/r0002    (symlink to the current revision)

A revision is written into a temporary folder beside its final place and renamed into
place; the ``RELEASES/P`` link is then replaced by ``os.replace`` of a new link. Both
renames are atomic, so a build killed at any moment leaves the previous state intact.

One build of a period runs at a time: a build holds an exclusive lock on
``.revisions/P/.build.lock`` (which names its pid) from start to end, so a second one is
refused at once with that pid, and the holder clears what a killed build left behind
(``.building-*`` folders, stray link files). Folders and files get the permissions of the
process's umask, as any other program's would (``tempfile`` alone would make them 0700),
so a dashboards service account in the builders' group can read a new release.

In an object store (``s3://bucket/prefix``, stats.store) the same layout is kept by other
means: the revision is built in a local scratch folder, its objects are put, its manifest
last (a revision without a manifest is invisible), then the pointer object ``RELEASES/P``
(one PUT) — so a build killed at any moment leaves the previous revision current. The
build lock is an object put only if absent, naming host and pid.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from stats import __version__
from stats.codes import CodeTable
from stats.extract import Shared, load_extract
from stats.io import sha256_of
from stats.periods import Period
from stats.schemas import TABLE_COLUMNS
from stats.store import ObjectPath, complete_revisions, is_remote
from stats.store_lock import object_build_lock
from stats.tables import stock_tables

REVISIONS = ".revisions"
MANIFEST = "manifest.json"
AREAS = "areas.parquet"  # area_level, area_code, area_name of the period


class ReleaseError(ValueError):
    """A release that does not exist or cannot be changed as asked."""


@dataclass(frozen=True)
class BuiltRelease:
    """What a build produced."""

    period: Period
    revision: int
    path: Path
    manifest: dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def revision_dirs(releases: Path, period: str) -> list[Path]:
    """Existing revision folders of a period, oldest first."""
    folder = releases / REVISIONS / period
    if is_remote(folder):
        return complete_revisions(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("r"))


def read_manifest(revision_dir: Path) -> dict[str, Any]:
    """The manifest of one revision folder."""
    return json.loads((revision_dir / MANIFEST).read_text(encoding="utf-8"))


def current_umask() -> int:
    """The process's umask, read without changing it (``os.umask`` can only swap it, which
    would race with other threads creating files meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:  # no /proc: swap it briefly
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def as_umask_allows(path: Path, folder: bool = False) -> None:
    """Give a file made by ``tempfile`` (0600/0700) the mode a plain ``open``/``mkdir``
    would have given it."""
    os.chmod(path, (0o777 if folder else 0o666) & ~current_umask())


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace a JSON file in one step (temp file + rename; in an object store one PUT)."""
    if is_remote(path):
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    as_umask_allows(Path(tmp))
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _point_current(releases: Path, period: str, target: Path) -> None:
    """Atomically make ``RELEASES/period`` point at ``target``."""
    link = releases / period
    if is_remote(link):  # one PUT of the pointer object replaces the old one whole
        link.symlink_to(target)
        return
    if link.exists() and not link.is_symlink():
        raise ReleaseError(f"{link} is a plain folder, not a release link; refusing to replace it")
    tmp = releases / f".{period}.link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.relative_to(releases))
    os.replace(tmp, link)


class BuildRunning(ReleaseError):
    """Another build of the same period holds the build lock."""


BUILD_LOCK = ".build.lock"


@contextmanager
def build_lock(releases: Path, period: str) -> Iterator[Path]:
    """Hold the period's build lock (yields the period's revisions folder).

    The lock is ``flock`` on a file that stays in place: the kernel drops it when the
    holder exits however it dies, so a killed build never blocks the next one. Holding it,
    no other build of the period runs, so every ``.building-*`` folder is a dead build's and
    is removed.

    Raises
    ------
    BuildRunning
        At once, naming the pid of the build that holds the lock.
    """
    if is_remote(releases):
        with object_build_lock(releases / REVISIONS / period / BUILD_LOCK, period,
                               BuildRunning) as scratch:
            yield scratch  # a local folder: the revision is staged here, then put
        return
    period_dir = releases / REVISIONS / period
    period_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(period_dir / BUILD_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise BuildRunning(
                f"a build of {period} is running, pid {holder}; wait for it to finish "
                f"(each build makes a new revision)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        for stale in period_dir.glob(".building-*"):
            shutil.rmtree(stale, ignore_errors=True)
        for stale in releases.glob(f".{period}.link-*"):
            stale.unlink(missing_ok=True)
        yield period_dir
    finally:
        os.close(fd)  # releases the lock


def build_release(
    extract_dir: Path,
    period: Period,
    releases: Path,
    codes: CodeTable,
    *,
    encoding: str = "utf-8",
    note: str = "",
    progress: Callable[[str], None] = lambda _: None,
    shared: Shared | None = None,
) -> BuiltRelease:
    """Validate the extract, compute the seven tables and write a new revision
    (``shared``: snapshots read for the builds of neighbouring periods, stats.backfill).

    Raises
    ------
    ValidationError
        When the extract has problems; nothing is written.
    """
    new_folders = [] if is_remote(releases) else [
        f for f in (releases / REVISIONS / str(period), releases / REVISIONS, releases)
        if not f.exists()]  # deepest first
    with build_lock(releases, str(period)) as period_dir:
        try:
            return _build_locked(extract_dir, period, releases, period_dir, codes,
                                 encoding=encoding, note=note, progress=progress, shared=shared)
        except BaseException:
            if new_folders:  # a failed first build leaves nothing, not an empty lock folder
                _remove_if_empty(period_dir / BUILD_LOCK, *new_folders)
            raise


def _remove_if_empty(lock: Path, *folders: Path) -> None:
    """Remove the lock file, then each folder unless something else is in it (another
    period's build may be running in the same new releases folder)."""
    lock.unlink(missing_ok=True)
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _build_locked(
    extract_dir: Path,
    period: Period,
    releases: Path,
    period_dir: Path,
    codes: CodeTable,
    *,
    encoding: str,
    note: str,
    progress: Callable[[str], None],
    shared: Shared | None = None,
) -> BuiltRelease:
    extract = load_extract(extract_dir, period, codes, encoding, progress, shared)
    areas = codes.areas(period)
    try:
        progress(f"computing tables for {period}")
        tables = stock_tables(extract.start_stock, extract.end_stock, extract.events, areas,
                              period)
    finally:
        extract.cleanup()
    previous = revision_dirs(releases, str(period))
    revision = int(previous[-1].name[1:]) + 1 if previous else 1
    staging = Path(tempfile.mkdtemp(dir=period_dir, prefix=".building-"))
    as_umask_allows(staging, folder=True)
    try:
        def written(name: str, frame: pl.DataFrame) -> dict[str, Any]:
            path = staging / f"{name}.parquet"
            # one chunk: the pages of a Parquet file follow the frame's chunks, which vary
            # from run to run; a rebuild of the same input then writes the same bytes
            frame.rechunk().write_parquet(path, statistics=True)
            return {"table": name, "file": path.name, "sha256": sha256_of(path),
                    "rows": frame.height, "columns": frame.columns}

        # two at a time: writing and hashing release the GIL
        with ThreadPoolExecutor(max_workers=2) as writers:
            table_entries = list(writers.map(written, tables, tables.values()))
        # the area names of the period travel with the release, for labelled exports
        areas_path = staging / AREAS
        areas.write_parquet(areas_path)
        manifest = {
            "period": str(period),
            "kind": period.kind,
            "label_roc": period.roc_label,
            "reference_date": period.reference_date.isoformat(),
            "created_at": _now(),
            "software": {"name": "popstats", "version": __version__},
            "revision": revision,
            "note": note or ("first release" if revision == 1 else f"rebuild of revision {revision - 1}"),
            "supersedes": revision - 1 if revision > 1 else None,
            "code_table": {"source": codes.source, "version": codes.version},
            "encoding": encoding,
            "inputs": [
                {"file": s.path.name, "kind": s.kind, "month": str(s.month), "sha256": s.sha256,
                 "rows": s.rows}
                for s in extract.sources
            ],
            "tables": table_entries,
            "areas": {"file": AREAS, "sha256": sha256_of(areas_path), "rows": areas.height},
            "status": "draft",
            "publication": None,
        }
        write_json_atomic(staging / MANIFEST, manifest)
        final = _put_in_place(staging, releases, period_dir, str(period), revision)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _point_current(releases, str(period), final)
    progress(f"wrote {releases / str(period)} (revision {revision})")
    return BuiltRelease(period, revision, final, manifest)


def _put_in_place(staging: Path, releases: Path | ObjectPath, period_dir: Path, period: str,
                  revision: int) -> Path | ObjectPath:
    """Move a finished staging folder to its revision's place: one rename locally; in an
    object store every object put, the manifest last (then the local staging removed)."""
    if not is_remote(releases):
        final = period_dir / f"r{revision:04d}"
        os.rename(staging, final)
        return final
    final = releases / REVISIONS / period / f"r{revision:04d}"
    final.rmtree()  # objects a killed build put there (without a manifest: never seen)
    files = sorted(p for p in staging.iterdir() if p.name != MANIFEST)
    for path in [*files, staging / MANIFEST]:
        (final / path.name).upload(path)
    shutil.rmtree(staging, ignore_errors=True)
    return final


def current_revision_dir(releases: Path, period: str) -> Path:
    """The folder of the period's current revision.

    Raises
    ------
    ReleaseError
        When the period has never been built.
    """
    link = releases / period
    if not (link / MANIFEST).exists():
        raise ReleaseError(f"no release of {period!r} in {releases}")
    return link.resolve()


def read_table(release_dir: Path, table: str) -> pl.DataFrame:
    """One table of a release folder (``RELEASES/P`` or a revision folder).

    Raises
    ------
    ReleaseError
        For an unknown table name, or a table this release does not hold.
    """
    if table not in TABLE_COLUMNS:
        raise ReleaseError(f"unknown table {table!r}; expected one of {', '.join(TABLE_COLUMNS)}")
    path = release_dir / f"{table}.parquet"
    if not path.is_file():  # CONTRACT §8: v2-only tables and the life table are not in every release
        raise ReleaseError(f"table {table!r} is not in this release (built from a v1 extract, "
                           "or not a year for the life table)")
    return pl.read_parquet(path)


def read_areas(release_dir: Path) -> pl.DataFrame:
    """The areas of a release with their names (area_level, area_code, area_name)."""
    return pl.read_parquet(release_dir / AREAS)


def verify_release(release_dir: Path) -> list[str]:
    """Files whose SHA-256 no longer matches the manifest (empty when intact)."""
    manifest = read_manifest(release_dir)
    entries = [*manifest["tables"], manifest["areas"]]
    return [
        entry["file"]
        for entry in entries
        if not (release_dir / entry["file"]).exists()
        or _sha256(release_dir / entry["file"]) != entry["sha256"]
    ]


def _sha256(path: Path | ObjectPath) -> str:
    if is_remote(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return sha256_of(path)
