"""What the online query API reads of a release on every request, read once per process.

A revision folder is immutable once its manifest is there (a rebuild is a new revision,
publications go to an append-only log beside the revisions: stats.publication), so its
manifest and its area list are kept per process, keyed by the folder *and* the file's
identity (inode, size, modification time): a folder removed and built again under the same
name — retention, then a new build numbered as the removed one — is read afresh. Nothing
here is state another worker needs: a cold worker reads the same bytes. Releases in an
object store (s3://) are read every time, as before (their objects have no inode).

The publication state is never cached: it changes with the clock and the log.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from stats.publication import publications
from stats.release import AREAS, MANIFEST, read_manifest, revision_dirs
from stats.store import is_remote

_KEPT = 256  # revisions × files kept per process (a manifest is a few KB, an area list 8 k codes)
_lock = threading.Lock()
_manifests: dict[tuple[Any, ...], dict[str, Any]] = {}
_areas: dict[tuple[Any, ...], frozenset[str]] = {}


def _identity(path: Path) -> tuple[Any, ...] | None:
    """The key of a local file's present content (None: not cacheable)."""
    if is_remote(path):
        return None
    stat = path.stat()
    return (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _kept(cache: dict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> Any:
    with _lock:
        if len(cache) >= _KEPT:
            cache.clear()  # rare (hundreds of revisions served): start again
        cache[key] = value
    return value


def manifest(revision_dir: Path) -> dict[str, Any]:
    """The revision's manifest (``stats.release.read_manifest``), read once per process.
    The caller must not change it."""
    key = _identity(revision_dir / MANIFEST)
    if key is None:
        return read_manifest(revision_dir)
    found = _manifests.get(key)
    if found is not None:
        return found
    return _kept(_manifests, key, json.loads((revision_dir / MANIFEST).read_bytes()))


def area_codes(revision_dir: Path) -> frozenset[str]:
    """Every area code of the revision's area list (``areas.parquet``)."""
    path = revision_dir / AREAS
    key = _identity(path)
    found = _areas.get(key) if key is not None else None
    if found is not None:
        return found
    codes = frozenset(pl.read_parquet(path, columns=["area_code"])["area_code"].to_list())
    return codes if key is None else _kept(_areas, key, codes)


def published_revision(releases: Path, period: str, now: datetime) -> Path | None:
    """The newest public revision of a period, as ``stats.publication.
    published_revision_dir`` finds it, with the manifests read once per process."""
    folders = revision_dirs(releases, period)
    manifests = [manifest(f) for f in folders]
    found = publications(releases, period, {int(m["revision"]): m for m in manifests})
    for folder, kept in reversed(list(zip(folders, manifests, strict=True))):
        publication = found.get(int(kept["revision"]))
        if publication is not None and publication.public(now):
            return folder
    return None
