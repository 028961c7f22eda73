"""``POST /api/v1/query`` (CONTRACT §7 under the rules of §6), framework-free like
``access.api``, whose guards and records it reuses.

Order of checks, each answered before the next is tried:

1. 400 — the body: JSON of at most ``MAX_BODY`` bytes, a valid query document
   (``{"error", "problems"}`` with every reason), before anything touches the database;
2. 401 — no or a bad token;
3. 403, audited — the table outside the grant, any area the query can touch outside it
   (``areas``: each code; ``within``: the code itself; neither: the areas the grant allows,
   which then bound the answer), a period not published, or a suspended, lapsed or
   terminated agency;
4. 503 — the release store or database failing (point 15), audited as ``api.outage``;
   404 — a period whose release never held the table (a month's life table);
5. 400 — a result of more than ``max_cells`` cells (with the advice to split);
6. 429 — the agency's daily volume used up;
7. 200 — ``{"query", "columns", "rows", "revisions"}`` (or CSV with ``Accept: text/csv``),
   recorded as an online-query delivery (the normalised query, the revisions, the answer's
   SHA-256 and size) and audited, committed before it is sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from access import audit
from access.api import (
    ProviderOutage,
    not_granted,
    outage_answer,
    refuse,
    release_store_online,
    revision_folder,
    rows_json,
    unpublished_periods,
)
from access.api_http import CHANNEL, ApiResponse, bearer_user, error_answer, unauthorized
from access.api_limits import ApiLimits, charge_volume
from access.deliveries import Forbidden, authorize, record_online_answer
from access.grants import granted_areas
from access.models import NATIONAL, Delivery, User
from exports.delimited import safe_csv_bytes
from stats.publication import published_revision_dir
from stats.query import DEFAULT_MAX_CELLS, Query, QueryError, QueryResult, parse_query
from stats.query_plan import TooLarge, area_count, check_size
from stats.query_source import run_on_releases
from stats.release import read_manifest
from stats.said import said

MAX_BODY = 512 * 1024  # 20,000 area codes fit with room to spare


def inside(areas: list[str]) -> Callable[[pl.Expr], pl.Expr] | None:
    """A filter on ``area_code`` for areas inside any of ``areas`` (None: national, all)."""
    if NATIONAL in areas:
        return None
    lengths = sorted({len(a) for a in areas})

    def allowed(code: pl.Expr) -> pl.Expr:
        if not lengths:
            return pl.lit(False)
        return pl.any_horizontal(code.str.slice(0, n).is_in([a for a in areas if len(a) == n])
                                 for n in lengths)
    return allowed


def period_span(periods: tuple[str, ...] | list[str]) -> str:
    """What a delivery's ``period`` (16 characters) holds: the period, or ``FIRST..LAST``."""
    return periods[0] if len(periods) == 1 else f"{periods[0]}..{periods[-1]}"


def parse_body(body: bytes) -> Query:
    """The normalised query of a request body.

    Raises
    ------
    QueryError
        Every reason the body is not a valid query document.
    """
    if len(body) > MAX_BODY:
        raise QueryError([f"the body is larger than {MAX_BODY:,} bytes"])
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise QueryError([f"the body is not JSON (UTF-8): {error}"]) from error
    return parse_query(doc)


def render_result(result: QueryResult, fmt: str) -> bytes:
    """JSON exactly as §7 shows (rows encoded by polars; column titles stay as they are) or
    CSV by the formula-safe writer. Deterministic for a release revision and a query."""
    frame = result.frame
    if fmt == "csv":
        return safe_csv_bytes(frame)
    plain = frame.rename({c: f"c{i}" for i, c in enumerate(frame.columns)})
    head = {"query": result.query.as_json(), "columns": frame.columns}
    tail = json.dumps({"revisions": result.revisions}, ensure_ascii=False)[1:]
    return (json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": ' + rows_json(plain)
            + ", " + tail).encode()


def query_answer(session: Session, authorization: str | None, releases: Path, body: bytes,
                 accept: str | None, now: datetime, limits: ApiLimits = ApiLimits(),
                 max_cells: int = DEFAULT_MAX_CELLS) -> ApiResponse:
    """``POST /api/v1/query``, in the order of the module's description."""
    try:
        query = parse_body(body)
    except QueryError as error:
        return error_answer(400, "invalid query", problems=error.problems)
    user = bearer_user(session, authorization, now)
    if user is None:
        return unauthorized()
    obj = f"query:{query.table}"
    try:
        return _answer(session, user, releases, query, accept, now, limits, max_cells)
    except ProviderOutage as outage:
        return outage_answer(session, user, obj, now, outage)
    except SQLAlchemyError as error:
        return outage_answer(session, user, obj, now, ProviderOutage("database", error))


def _published(releases: Path, query: Query, now: datetime) -> dict[str, Path | None]:
    try:
        if not release_store_online(releases):
            raise ProviderOutage("release store")
        return {p: published_revision_dir(releases, p, now) for p in query.periods}
    except (OSError, ValueError) as error:
        raise ProviderOutage("release store", error) from error


def _answer(session: Session, user: User, releases: Path, query: Query, accept: str | None,
            now: datetime, limits: ApiLimits, max_cells: int) -> ApiResponse:
    table = query.table
    granted = granted_areas(session, user, table, CHANNEL, now)
    if not granted:
        return refuse(session, user, table, now, not_granted(table))
    asked = list(query.areas) if query.areas is not None else (
        [query.within] if query.within is not None else [])
    try:
        if asked:  # every code named, or the area the query reaches into, must be granted
            authorize(session, user, [table], asked, CHANNEL, now)
    except Forbidden:
        outside = ", ".join(a for a in asked if a not in granted)[:200]
        return error_answer(403, f"area(s) {outside or ', '.join(asked)[:200]} outside your grant")
    dirs = _published(releases, query, now)
    if unpublished := [p for p, d in dirs.items() if d is None]:
        return refuse(session, user, table, now, unpublished_periods(unpublished, False))
    allowed = inside(granted)
    folders = {p: d for p, d in dirs.items() if d is not None}
    try:
        never = [p for p, d in folders.items() if table not in
                 {t["table"] for t in read_manifest(d).get("tables", [])}]
    except (OSError, ValueError) as error:
        raise ProviderOutage("release store", error) from error
    if never:  # not an outage: those releases never held it (v2-only tables, life tables)
        return error_answer(404, f"{table} is not in the release(s) of {', '.join(never)}",
                      problems=[f"periods: {table} is not in the release of "
                                f"{', '.join(never)}"])
    try:
        n_areas = area_count(folders[query.periods[-1]], query, allowed)
        # areas of the level there are, but none of them granted: outside the grant
        none_granted = n_areas == 0 and area_count(folders[query.periods[-1]], query) > 0
    except (OSError, pl.exceptions.PolarsError) as error:
        raise ProviderOutage("release store", error) from error
    if none_granted:
        return refuse(session, user, table, now, said(
            f"no {query.area_level} area the query asks for is within your grant",
            "查詢所列地區都不在貴機關的授權內"))
    try:
        check_size(query, n_areas, max_cells)
    except TooLarge as error:
        return error_answer(400, "query too large", problems=[str(error)])
    try:
        result = run_on_releases(query, folders, allowed=allowed)
        revisions = {p: int(read_manifest(d)["revision"]) for p, d in folders.items()}
    except (OSError, ValueError, pl.exceptions.PolarsError) as error:
        raise ProviderOutage("release store", error) from error
    fmt = "csv" if accept and "text/csv" in accept else "json"
    body = render_result(result, fmt)
    # the agency's own row first: the audit chain's lock (every agency's) is taken last
    refused = charge_volume(session, user, limits, len(body), now)
    if refused is not None:
        return refused
    digest = hashlib.sha256(body).hexdigest()
    areas = asked or granted
    answer = {"endpoint": "POST /api/v1/query", "table": table, "query": query.as_json(),
              "revisions": revisions, "format": fmt, "rows": result.frame.height,
              "size": len(body), "sha256": digest}
    delivery = record_online_answer(session, user, table, period_span(query.periods), areas,
                                    answer, now)
    audit.record(session, user.username, "query", f"delivery:{delivery.id}", now,
                 {"channel": CHANNEL, "endpoint": "POST /api/v1/query", "table": table,
                  "query": query.as_json(), "revisions": revisions,
                  "rows": result.frame.height, "sha256": digest, "size": len(body)},
                 agency_id=user.agency_id)
    session.commit()  # recorded before it is sent, or there is no 200
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return ApiResponse(200, body, content_type,
                       (("X-Delivery-Id", delivery.id), ("X-Content-SHA256", digest)))


def reproduce_query_body(releases: Path, delivery: Delivery) -> bytes:
    """The bytes of a recorded ``POST /api/v1/query`` answer, made again from the release
    revisions it was read from, within the areas recorded (the codes asked for, each inside
    the grant, or the grant's areas: the same rows either way); the caller checks the
    SHA-256."""
    options = delivery.options
    query = parse_query(options["query"])
    folders = {p: revision_folder(releases, p, int(r)) for p, r in options["revisions"].items()}
    result = run_on_releases(query, folders, allowed=inside(list(delivery.areas)))
    return render_result(result, options["format"])
