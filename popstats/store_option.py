"""The command-line type of a releases place: a local folder, or ``s3://bucket/prefix``.

``click.Path`` would take ``s3://b/p`` for a relative folder named ``s3:``; this type hands
a bucket URL to stats.store (checking, when asked, that something is there) and anything
else to ``click.Path`` as before, so local folders are checked and typed as they were.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stats.locations import LocationError, is_object_store, store_place
from stats.store import StoreError


class ReleasesPlace(click.ParamType):
    """A releases folder (``exists``: it must hold something) or a release in one
    (``resolve``: a bucket's ``RELEASES/P`` pointer is followed to its revision, as the
    local symlink is by the file system)."""

    name = "path"

    def __init__(self, *, exists: bool = False, resolve: bool = False,
                 file_okay: bool = False) -> None:
        self.exists = exists
        self.resolve = resolve
        # file_okay as each option had it before, so local paths are refused as before
        self.local = click.Path(exists=exists, file_okay=file_okay, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if not is_object_store(value):
            return self.local.convert(value, param, ctx)
        try:
            place = store_place(value)
            if self.resolve:
                place = place.resolve()
            if self.exists and not place.is_dir():
                self.fail(f"{value}: nothing is stored there (no objects under that prefix)",
                          param, ctx)
        except LocationError as error:
            self.fail(str(error), param, ctx)
        except StoreError as error:
            self.fail(f"the object store could not be read: {error}", param, ctx)
        return place


class OutboxPlace(ReleasesPlace):
    """The delivery outbox: a local folder (``click.Path`` as before) or
    ``s3://bucket/prefix`` (stats.outbox writes, sends and deletes delivery files there)."""
