"""The delivery outbox: a local folder, or ``s3://bucket/prefix`` in an S3-compatible bucket.

Every writer of delivery files (exports, query results, packages, pictures, staff files)
writes to a local path: the table writers, zip and checksum code need a file system. So a
delivery's folder is written through :func:`writing`, which hands the writer

* the folder itself when the outbox is local (everything exactly as before), or
* a private local staging folder when the outbox is in a bucket, whose files are put as
  objects only once the writer finished without error — each object put whole (one PUT, or
  a multipart upload that becomes visible only when complete), the files that seal or
  describe a folder (``SHA256SUMS``, ``manifest.json``, a staff file's ``meta.json``) last,
  as a release's manifest is put after its tables. An object store has no rename, so this is
  how "no partial file is visible" holds there; a failed write leaves no object at all.

Reading, checking and deleting go through the place itself (``stats.store.ObjectPath``
answers ``iterdir``, ``is_file``, ``read_bytes``), and :func:`exists`, :func:`remove` and
:func:`add_to_zip` do the three things a ``Path`` does through ``os``/``shutil``/``zipfile``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from stats.store import ObjectPath, Place, is_remote, place

# Put after every other file of a folder, in this order: what marks a folder complete.
SEALS = ("README.txt", "SHA256SUMS", "manifest.json", "meta.json")


def outbox_place(location: str | os.PathLike[str]) -> Place:
    """A recorded or given outbox (or delivery folder): ``s3://…`` as an ObjectPath,
    anything else as the ``Path`` it always was."""
    return place(location)


def recorded(location: str) -> str:
    """How a delivery's place is recorded: a local path made absolute (against the folder
    the file was just written from), an ``s3://`` place as it is."""
    # abspath, not resolve: links in the path are kept, as they always were
    return str(location) if is_remote(place(location)) else os.path.abspath(location)  # noqa: PTH100


@contextmanager
def writing(target: Place) -> Iterator[Path]:
    """A local folder in which to write the files of ``target`` (a delivery's folder).

    Local: ``target`` itself — the caller makes it and cleans up after a failure, as before.
    In a bucket: a fresh staging folder; when the block ends without an exception its files
    are put under ``target`` (seals last; if the store refuses one, those already put are
    deleted again) and the staging folder is removed either way.
    """
    if not is_remote(target):
        yield Path(target)
        return
    assert isinstance(target, ObjectPath)
    with tempfile.TemporaryDirectory(prefix="popstats-outbox-") as staging:
        folder = Path(staging) / (target.name or "folder")
        yield folder
        if folder.is_dir():
            try:
                put_folder(folder, target)
            except BaseException:
                discard(target)  # the objects put before the store refused one: none stays
                raise


def put_folder(local: Path, target: ObjectPath) -> None:
    """Put every file under ``local`` at the same relative key under ``target``, the
    :data:`SEALS` last."""
    files = sorted(p for p in local.rglob("*") if p.is_file())
    last = {name: i for i, name in enumerate(SEALS)}
    files.sort(key=lambda p: (p.parent == local and p.name in last,
                              last.get(p.name, -1) if p.parent == local else -1))
    for path in files:
        (target / path.relative_to(local).as_posix()).upload(path)


def exists(target: Place) -> bool:
    """Whether anything is at ``target`` (a local dangling link counts, as before)."""
    return target.exists() if is_remote(target) else os.path.lexists(target)


def remove(target: Place) -> bool:
    """Delete a delivery's file or folder; whether there was anything to delete."""
    if isinstance(target, ObjectPath):
        if target.is_dir():
            target.rmtree()
            return True
        if target.is_file():
            target.unlink(missing_ok=True)
            return True
        return False
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
        return True
    if os.path.lexists(target):
        target.unlink()
        return True
    return False


def remove_tree(folder: Place) -> None:
    """Delete a folder and everything in it (``shutil.rmtree`` locally, errors raised)."""
    if isinstance(folder, ObjectPath):
        folder.rmtree()
    else:
        shutil.rmtree(folder)


def discard(target: Place) -> None:
    """Delete a folder if it is there, quietly (a failed write's leftovers)."""
    if isinstance(target, ObjectPath):
        with suppress(OSError):
            target.rmtree()
    else:
        shutil.rmtree(target, ignore_errors=True)


def add_to_zip(archive: zipfile.ZipFile, source: Place, name: str) -> None:
    """Add a delivered file to a zip under ``name``: a local file as ``ZipFile.write``
    adds it (its time stamp kept), an object with its bytes."""
    if isinstance(source, ObjectPath):
        archive.writestr(name, source.read_bytes())
    else:
        archive.write(source, name)
