"""Where the releases, the delivery outbox, the access database and the map boundaries live.

Resolved once, when a command or a server starts, and only here: a local path becomes
absolute (against the folder the command was started in; symlinks are kept, since
``RELEASES/P`` is one), the file of an SQLite URL likewise. Everything recorded later
(delivery files, staff files) then names an absolute place, so a scheduled job started from
another folder deletes the files it says it deletes, and a web server whose code lives
elsewhere sends the files it was asked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stats.store import ObjectPath, Place, is_remote

ENVIRONMENT = {
    "releases": "POPSTATS_RELEASES",
    "outbox": "POPSTATS_OUTBOX",
    "db": "POPSTATS_DB",
    "boundaries": "POPSTATS_BOUNDARIES",
}
DEFAULT_RELEASES = "demo/releases"
DEFAULT_DB = "sqlite:///popstats.db"
OBJECT_STORE_SCHEMES = ("s3://",)


class LocationError(ValueError):
    """A location this version cannot use."""


def is_object_store(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` names an object store (``s3://bucket/prefix``)."""
    return str(location).startswith(OBJECT_STORE_SCHEMES)


def absolute_path(location: str | os.PathLike[str], base: Path | None = None) -> Path:
    """``location`` as an absolute local path (``~`` expanded, ``..`` folded, links kept)."""
    if is_object_store(location):
        raise LocationError(f"{location}: only the releases and the outbox may be in object "
                            "storage (s3://); this must be a local path")
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return Path(os.path.normpath(path))


def store_place(location: str | os.PathLike[str], base: Path | None = None) -> Place:
    """A place that may be in an object store (the releases, the outbox): ``s3://bucket/prefix``
    as an :class:`~stats.store.ObjectPath`, anything else as :func:`absolute_path`."""
    if isinstance(location, ObjectPath):
        return location
    if is_object_store(location):
        try:
            return ObjectPath(str(location))
        except ValueError as exc:
            raise LocationError(str(exc)) from None
    return absolute_path(location, base)


def absolute_db_url(url: str, base: Path | None = None) -> str:
    """An SQLite URL with an absolute file path; other URLs (and in-memory SQLite) as given."""
    scheme, sep, rest = url.partition(":///")
    if not sep or not scheme.split("+")[0] == "sqlite" or not rest or rest.startswith(":memory:"):
        return url
    if rest.startswith("/"):  # sqlite:////abs/path
        return url
    file_part, query_sep, query = rest.partition("?")
    absolute = absolute_path(file_part, base)
    return f"{scheme}:///{absolute}{query_sep}{query}"


@dataclass(frozen=True)
class Locations:
    """The resolved places one process works with."""

    releases: Place  # a local Path, or an ObjectPath for s3://bucket/prefix
    outbox: Place  # likewise (stats.outbox writes and deletes delivery files in either)
    db_url: str
    boundaries: Path | None = None


def resolve_locations(
    *,
    releases: str | os.PathLike[str] | None = None,
    outbox: str | os.PathLike[str] | None = None,
    db: str | None = None,
    boundaries: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    base: Path | None = None,
) -> Locations:
    """The places given, else those of the ``POPSTATS_*`` variables, else the defaults
    (``demo/releases``, ``outbox`` beside the releases, the SQLite file ``popstats.db``),
    every local one made absolute against ``base`` (default: the current folder). The
    releases and the outbox may be ``s3://bucket/prefix`` (stats.store, stats.outbox: with
    several hosts, a bucket or a shared mount); the database and the boundaries are local.
    Releases in a bucket and no outbox given: ``outbox`` in the current folder."""
    env = os.environ if environ is None else environ
    releases_path = store_place(releases or env.get(ENVIRONMENT["releases"]) or DEFAULT_RELEASES,
                                base)
    outbox_text = outbox or env.get(ENVIRONMENT["outbox"])
    outbox_path = (store_place(outbox_text, base) if outbox_text
                   else absolute_path("outbox", base) if is_remote(releases_path)
                   else releases_path.parent / "outbox")
    boundaries_text = boundaries or env.get(ENVIRONMENT["boundaries"])
    return Locations(
        releases=releases_path,
        outbox=outbox_path,
        db_url=absolute_db_url(db or env.get(ENVIRONMENT["db"]) or DEFAULT_DB, base),
        boundaries=absolute_path(boundaries_text, base) if boundaries_text else None,
    )
