"""Files of a dashboard chart (issue 13) beside the table builder's query files
(``access.query_files``, which makes an agency's chart data): the picture of a chart as a
file-transfer delivery under the agency's grant, and the pieces a provider staff member's
own chart files need (their jurisdiction bounds the rows).

A picture is made while the user waits and recorded ready or not at all: one that could
not be written leaves no delivery behind (the savepoint takes it back and
``delivery.unwritable`` says why), and the user asks again — a browser draws it from the
page's figure, so it cannot be made again from stored options (its options hold no
``query`` key, so ``access.packages.retry`` never takes it for a query file).

What a file holds is named in ``options["describes"]`` (page, kind, format, table,
periods), which the download's audit entry repeats: a picture is an access to data too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from access import audit
from access.deliveries import (
    DeliveryError,
    UnproducibleRequest,
    authorize,
    create,
    produce,
)
from access.grants import granted_areas, providing_code
from access.models import Delivery, User
from access.query_api import inside, period_span
from exports.query import query_meta, write_query
from stats.catalogue import table_spec
from stats.outbox import discard, outbox_place, writing  # the outbox may be s3://…
from stats.publication import published_revision_dir
from stats.query import DEFAULT_MAX_CELLS, Query
from stats.query_plan import area_count, check_size
from stats.query_source import run_on_releases
from stats.store import Place

CHANNEL = "file_transfer"
PICTURE_FORMATS = ("png", "svg")


def asked_areas(query: Query) -> list[str]:
    """The areas a query names: its explicit codes, or the area it reaches into (none: the
    caller's grant bounds it)."""
    if query.areas is not None:
        return list(query.areas)
    return [query.within] if query.within is not None else []


def file_name(provider: str, query: Query, suffix: str, what: str) -> str:
    """``<provider>_<table code>_<first>[_<last>]_<level>_<what>.<suffix>`` from checked
    values only, e.g. ``MOI_POP01_2025-01_2025-03_county_trends.png``."""
    first, last = query.periods[0], query.periods[-1]
    span = first if first == last else f"{first}_{last}"
    if not provider.isalnum() or not what.isalpha() or not suffix.isalpha():
        raise ValueError(f"unsafe name part in {provider!r}, {what!r}, {suffix!r}")
    return f"{provider}_{table_spec(query.table).code}_{span}_{query.area_level}_{what}.{suffix}"


def published_folders(releases: Path, query: Query, now: datetime) -> dict[str, Path]:
    """The newest public revision folder of each period of the query.

    Raises
    ------
    DeliveryError
        A period without a public revision, or whose release never held the table.
    """
    folders = {p: published_revision_dir(releases, p, now) for p in query.periods}
    if missing := [p for p, f in folders.items() if f is None]:
        raise DeliveryError(f"period(s) {', '.join(missing)} not published")
    found = {p: f for p, f in folders.items() if f is not None}
    if never := [p for p, f in found.items() if not (f / f"{query.table}.parquet").is_file()]:
        raise DeliveryError(f"{query.table} is not in the release(s) of {', '.join(never)}")
    return found


def check_cells(query: Query, folders: dict[str, Path], areas: list[str],
                max_cells: int = DEFAULT_MAX_CELLS) -> None:
    """Refuse (``stats.query_plan.TooLarge``, with the advice to split) a result above
    ``max_cells`` before any table is read."""
    check_size(query, area_count(folders[query.periods[-1]], query, inside(areas)), max_cells)


def write_result(query: Query, folders: dict[str, Path], areas: list[str], fmt: str,
                 encoding: str, dest: Path, now: datetime) -> dict[str, int]:
    """Run the query on ``folders`` within ``areas``, write it to ``dest`` (atomically);
    the revision of each period read."""
    result = run_on_releases(query, folders, allowed=inside(areas))
    write_query(result, fmt, dest, encoding=encoding, meta=query_meta(result, now=now))
    return dict(result.revisions)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bounded_areas(session: Session, user: User, query: Query, now: datetime) -> list[str]:
    """What a delivery is authorised for: the areas the query names, else the agency's
    file-transfer grant of the table (which then bounds the rows)."""
    return asked_areas(query) or sorted(granted_areas(session, user, query.table, CHANNEL, now))


def _deliver(session: Session, user: User, query: Query, areas: list[str],
             options: dict[str, Any], now: datetime,
             write: Callable[[Path], Path]) -> Delivery:
    """Record one file-transfer delivery and write its file into ``<outbox>/<id>/``; on any
    failure nothing stays recorded but the refusal (the caller commits)."""
    if user.agency_id is None:
        raise DeliveryError("deliveries are made to agencies")
    outbox = outbox_place(options["outbox"])

    def make(delivery: Delivery) -> tuple[str, str]:
        target = outbox / delivery.id
        try:
            with writing(target) as folder:  # in a bucket: staged, then put whole
                folder.mkdir(parents=True, exist_ok=True)
                path = write(folder)
                return str(target), _sha256(path)
        except Exception as error:  # noqa: BLE001 - said to the user, who asks again
            discard(target)  # nothing half-written stays
            raise UnproducibleRequest(f"{type(error).__name__}: {error}") from error

    attempt = session.begin_nested()
    try:
        delivery = create(session, user, CHANNEL, [query.table], period_span(query.periods),
                          areas, now, options)
        produce(session, delivery, make, now)
    except UnproducibleRequest as error:
        attempt.rollback()
        audit.record(session, user.username, "delivery.unwritable", f"tables:{query.table}",
                     now, {"channel": CHANNEL, "describes": options["describes"],
                           "error": str(error)[:2000]}, agency_id=user.agency_id)
        raise
    attempt.commit()
    return delivery


def deliver_picture(session: Session, user: User, query: Query, fmt: str, data: bytes,
                    outbox: Place, now: datetime, describes: dict[str, Any]) -> Delivery:
    """A chart's picture (``data``, drawn from the figure the user was shown) as a
    file-transfer delivery: the same grant as the chart's data, kept 7 days.

    Raises
    ------
    Forbidden
        The table or an area outside the agency's file-transfer grant (audited).
    """
    if fmt not in PICTURE_FORMATS:
        raise ValueError(f"pictures are {', '.join(PICTURE_FORMATS)}, not {fmt!r}")
    areas = bounded_areas(session, user, query, now)
    authorize(session, user, [query.table], areas, CHANNEL, now)
    provider = providing_code(session, user, [query.table], areas, CHANNEL, now)
    name = file_name(provider, query, fmt, str(describes["page"]))
    options = {"figure": {"kind": "picture", "document": query.as_json()}, "format": fmt,
               "outbox": str(outbox), "provider": provider, "describes": describes}

    def write(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    return _deliver(session, user, query, areas, options, now, write)


def staff_areas(user: User) -> list[str]:
    """A provider staff member's jurisdiction (their files are bounded by it)."""
    return [user.provider.jurisdiction] if user.provider else []
