"""An extract's files by name, and their checksums — without polars, so that ``popstats
build`` can start hashing its inputs before it imports the libraries that read them.

Hashing a national month's two snapshots takes ≈ 0.3 CPU-s, about as long as importing
polars, numpy and pyarrow takes on one core: started first, on a thread of its own, the
checksums are ready (or nearly) when the reading begins, instead of taking a core from it.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from stats.periods import Month, Period

CHUNK = 16 * 1024 * 1024


def find_source(folder: Path, kind: str, month: Month) -> Path | None:
    """The ``<kind>_YYYYMM.parquet`` or ``.csv`` file of a month, if present."""
    for suffix in (".parquet", ".csv"):
        path = folder / f"{kind}_{month.compact}{suffix}"
        if path.exists():
            return path
    return None


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hashing_inputs(folder: Path, period: Period) -> dict[Path, Future[str]]:
    """The checksums of the files a build of ``period`` reads, under way on a thread (the
    snapshots first: they are nearly all of the bytes). A file that is missing is left out;
    the build reports it."""
    months = [("residents", period.start_month), ("residents", period.end_month),
              *(("events", month) for month in period.months)]
    paths = [path for kind, month in months if (path := find_source(folder, kind, month))]
    hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inputs-sha256")
    try:
        return {path: hashing.submit(sha256_of, path) for path in dict.fromkeys(paths)}
    finally:
        hashing.shutdown(wait=False)  # the queued checksums still run; the thread then ends
