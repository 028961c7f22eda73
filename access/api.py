"""The online query API of CONTRACT §6 as framework-free handlers (``popstats serve`` routes
map each request to one call and send back the ``ApiResponse``).

401 without or with a bad token; 403, audited, for a table, area or period outside the
caller's grant or a suspended, lapsed or terminated agency; every answer is recorded as an
online-query delivery kept 1 day (point 17) and in the audit log (point 18).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from access import audit
from access.accounts import hash_secret, token_user
from access.calendar import local_date
from access.deliveries import Forbidden, authorize, record_answer
from access.grants import granted_areas
from access.models import ApiRequest, User
from access.packages import granted_rows
from access.reports import agency_report
from exports.delimited import safe_csv_bytes
from stats.catalogue import TABLES
from stats.publication import list_releases, published_revision_dir
from stats.release import read_manifest, read_table

CHANNEL = "online_query"


@dataclass(frozen=True)
class ApiResponse:
    """Status, body bytes and content type of one answer."""

    status: int
    body: bytes
    content_type: str = "application/json"

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def _error(status: int, message: str) -> ApiResponse:
    return ApiResponse(status, json.dumps({"error": message}, ensure_ascii=False).encode())


def bearer_user(session: Session, authorization: str | None, now: datetime) -> User | None:
    """The agency user of an ``Authorization: Bearer TOKEN`` header, or None."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    user = token_user(session, authorization.removeprefix("Bearer ").strip(), now)
    return user if user is not None and user.agency_id is not None else None


@dataclass(frozen=True)
class RateLimiter:
    """At most ``limit`` requests per key (a token, else the caller's address) in any
    ``window`` (sliding), counted in the database so that every worker of a multi-worker
    server shares the count. Two workers racing at the limit may let one request more
    through; the count never drifts further."""

    limit: int = 120
    window: timedelta = timedelta(minutes=1)

    def allow(self, session: Session, key: str, now: datetime) -> bool:
        """Count a request (the caller commits); False once the key is over its limit."""
        digest = hash_secret(key)
        start = now - self.window
        session.execute(delete(ApiRequest).where(ApiRequest.key_hash == digest,
                                                 ApiRequest.at <= start))
        recent = session.scalar(select(func.count()).select_from(ApiRequest).where(
            ApiRequest.key_hash == digest, ApiRequest.at > start))
        if (recent or 0) >= self.limit:
            return False
        session.add(ApiRequest(key_hash=digest, at=now))
        return True


def releases_answer(
    session: Session, authorization: str | None, releases: Path, now: datetime
) -> ApiResponse:
    """``GET /api/v1/releases``: the periods published, with revision and publication time."""
    user = bearer_user(session, authorization, now)
    if user is None:
        return _error(401, "missing or invalid bearer token")
    rows = [
        {
            "period": r["period"],
            "kind": r["kind"],
            "revision": r["revision"],
            "published_at": r["published_at"],
        }
        for r in list_releases(releases, now)
        if r["state"] == "published"
    ]
    audit.record(
        session,
        user.username,
        "query",
        "api:releases",
        now,
        {"channel": CHANNEL},
        agency_id=user.agency_id,
    )
    session.commit()
    return ApiResponse(200, json.dumps({"releases": rows}, ensure_ascii=False).encode())


def rows_json(frame: pl.DataFrame) -> str:
    """The rows as a JSON array of arrays in column order, encoded by polars: national
    village-level tables have millions of rows, too many for a Python loop.

    Each cell is its column's one-field struct encoded as ``{"name":value}`` with the
    ``{"name":`` prefix and the closing brace cut off, which leaves the JSON value.
    """
    if frame.is_empty():
        return "[]"
    cells = []
    for name in frame.columns:
        prefix = len("{" + json.dumps(name) + ":")
        encoded = pl.struct(pl.col(name)).struct.json_encode()
        cells.append(encoded.str.slice(prefix).str.head(-1))
    row = pl.lit("[") + pl.concat_str(cells, separator=",") + pl.lit("]")
    return "[" + frame.select(row.str.join(",")).item() + "]"


def _refuse(session: Session, user: User, table: str, now: datetime, reason: str) -> ApiResponse:
    audit.record(
        session,
        user.username,
        "access.refused",
        f"table:{table}",
        now,
        {"channel": CHANNEL, "reason": reason},
        agency_id=user.agency_id,
    )
    session.commit()
    return _error(403, reason)


def table_answer(
    session: Session,
    authorization: str | None,
    releases: Path,
    table: str,
    params: dict[str, str],
    accept: str | None,
    outbox: Path,
    now: datetime,
) -> ApiResponse:
    """``GET /api/v1/tables/{table}?period=P[&area_level=L][&area_code=C]`` (CONTRACT §6).

    Parameters
    ----------
    params : the query string; ``period`` required.
    accept : the ``Accept`` header; ``text/csv`` answers CSV, anything else JSON.
    outbox : where online-query answers are kept for 1 day.
    """
    user = bearer_user(session, authorization, now)
    if user is None:
        return _error(401, "missing or invalid bearer token")
    period = params.get("period")
    if not period:
        return _error(400, "the query parameter period is required (YYYY-MM, YYYY-Qn or YYYY)")
    if table not in TABLES:
        return _refuse(session, user, table, now, f"table {table!r} is outside your grant")
    release = published_revision_dir(releases, period, now)
    if release is None:
        return _refuse(
            session, user, table, now, f"period {period!r} is outside your grant (not published)"
        )
    area_code = params.get("area_code")
    granted = granted_areas(session, user, table, CHANNEL, now)
    if not granted:
        return _refuse(
            session,
            user,
            table,
            now,
            f"table {table!r} is outside your grant, or "
            "your agency's access is suspended, lapsed or terminated",
        )
    try:
        if area_code:
            authorize(session, user, [table], [area_code], CHANNEL, now)
    except Forbidden:
        return _error(403, f"area {area_code!r} is outside your grant")
    frame = granted_rows(read_table(release, table), [area_code] if area_code else granted)
    if area_code:
        frame = frame.filter(pl.col("area_code") == area_code)
    if level := params.get("area_level"):
        frame = frame.filter(pl.col("area_level") == level)
    revision = int(read_manifest(release)["revision"])
    if accept and "text/csv" in accept:
        body, content_type = safe_csv_bytes(frame), "text/csv; charset=utf-8"
    else:
        head = {"table": table, "period": period, "revision": revision, "columns": frame.columns}
        text = json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": ' + rows_json(frame) + "}"
        body, content_type = text.encode(), "application/json"
    areas = [area_code] if area_code else granted
    delivery = record_answer(session, user, CHANNEL, [table], period, areas, body, outbox, now)
    audit.record(
        session,
        user.username,
        "query",
        f"delivery:{delivery.id}",
        now,
        {
            "channel": CHANNEL,
            "table": table,
            "period": period,
            "revision": revision,
            "rows": frame.height,
            "area_code": area_code,
            "area_level": params.get("area_level"),
        },
        agency_id=user.agency_id,
    )
    session.commit()
    return ApiResponse(200, body, content_type)


LOG_FIELDS = ("seq", "time", "actor", "action", "object", "channel", "details")
MAX_LOG_DAYS = 366


def log_answer(
    session: Session,
    authorization: str | None,
    params: dict[str, str],
    accept: str | None,
    now: datetime,
) -> ApiResponse:
    """``GET /api/v1/log?from=YYYY-MM-DD&to=YYYY-MM-DD``: the agency's own log of the data it
    obtained (point 18), as JSON or CSV; by default the last 30 days (Asia/Taipei)."""
    user = bearer_user(session, authorization, now)
    if user is None:
        return _error(401, "missing or invalid bearer token")
    today = local_date(now)
    try:
        last = date.fromisoformat(params["to"]) if params.get("to") else today
        first = date.fromisoformat(params["from"]) if params.get("from") else last - timedelta(
            days=29)
    except ValueError:
        return _error(400, "from and to are dates: YYYY-MM-DD")
    if first > last or (last - first).days >= MAX_LOG_DAYS:
        return _error(400, f"from must not be after to, and the span at most {MAX_LOG_DAYS} days")
    assert user.agency_id is not None
    obtained = agency_report(session, user.agency_id, first, last)["obtained"]
    rows = [
        {**{k: e[k] for k in ("seq", "time", "actor", "action", "object")},
         "channel": e["details"].get("channel"),
         "details": json.dumps(e["details"], ensure_ascii=False, sort_keys=True)}
        for e in obtained
    ]
    audit.record(session, user.username, "log.exported", "api:log", now,
                 {"channel": CHANNEL, "from": str(first), "to": str(last), "rows": len(rows)},
                 agency_id=user.agency_id)
    session.commit()
    if accept and "text/csv" in accept:
        frame = pl.DataFrame(rows, schema=dict.fromkeys(LOG_FIELDS, pl.String) | {
            "seq": pl.Int64}, orient="row") if rows else pl.DataFrame(
            schema=dict.fromkeys(LOG_FIELDS, pl.String))
        return ApiResponse(200, safe_csv_bytes(frame), "text/csv; charset=utf-8")
    body = {"agency": user.agency.name if user.agency else None, "from": str(first),
            "to": str(last), "entries": rows}
    return ApiResponse(200, json.dumps(body, ensure_ascii=False).encode())


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "popstats online query API", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/releases": {
            "get": {
                "summary": "The periods published, with revision and publication time",
                "responses": {
                    "200": {"description": "published releases"},
                    "401": {"description": "no or bad token"},
                },
            }
        },
        "/api/v1/tables/{table}": {
            "get": {
                "summary": "The rows of a release table the caller's grant allows",
                "parameters": [
                    {
                        "name": "table",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(TABLES)},
                    },
                    {
                        "name": "period",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "area_level",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": ["national", "county", "township", "village"],
                        },
                    },
                    {"name": "area_code", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "{table, period, revision, columns, rows} or CSV "
                        "(Accept: text/csv); kept 1 day as an online-query delivery"
                    },
                    "401": {"description": "no or bad token"},
                    "403": {
                        "description": "outside the grant, or the agency is suspended, lapsed "
                        "or terminated (audited)"
                    },
                    "429": {"description": "rate limit exceeded"},
                },
            }
        },
        "/api/v1/log": {
            "get": {
                "summary": "The agency's own log of the data it obtained (point 18)",
                "parameters": [
                    {"name": "from", "in": "query", "schema": {"type": "string",
                                                               "format": "date"}},
                    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                ],
                "responses": {
                    "200": {"description": "{agency, from, to, entries} or CSV "
                            "(Accept: text/csv); at most 366 days, default the last 30"},
                    "400": {"description": "bad dates"},
                    "401": {"description": "no or bad token"},
                },
            }
        },
    },
}
