"""The online query API of CONTRACT §6 as framework-free handlers (``popstats serve`` routes
map each request to one call and send back the ``ApiResponse``).

The order of checks for a table query, each answered before the next is tried:

1. 400 — the query itself: only the known parameters, each of its syntax and length
   (``validate_query``), before anything touches the database, the disk or the audit log;
2. 401 — no or a bad token (``Authorization: Bearer TOKEN``, parsed strictly: RFC 6750);
3. 403, audited — a table, area or period outside the caller's grant, or a suspended,
   lapsed or terminated agency;
4. 503 with ``Retry-After``, audited as ``api.outage`` — the provider's release store or
   database is failing (point 15: the agency resends the query after the repair; this is
   never a refusal);
5. 404 — an area code of valid form that the release does not have, or a page past the last;
6. 429 — the agency's daily volume is used up (``ApiLimits.daily_bytes``);
7. 200 — every row asked for (CONTRACT §6), or with ``page``/``page_size`` one page of at
   most ``MAX_PAGE_ROWS`` rows, recorded (committed) as an online-query
   delivery kept 1 day (point 17) and in the audit log (point 18) *before* it is sent. The
   delivery keeps what was asked and the answer's SHA-256 and size, not a copy of its bytes:
   ``reproduce_answer`` makes the same bytes again from the immutable release revision.

The rate limit (``RateLimiter``, ``admit_request``) runs before all of this, per token and per
agency (an unauthenticated caller: per address), with one audit entry per window of refusals;
then, for an answer of more than one area, the agency's in-flight limit (``access.api_inflight``:
one such answer at a time across workers, a bounded wait, then 429).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from access import audit
from access.api_http import CHANNEL, ApiResponse, bearer_user, error_answer, unauthorized
from access.api_limits import ApiLimits, charge_volume
from access.api_params import (
    Query,
    QueryError,
    validate_query,
)
from access.api_release import area_codes, manifest, published_revision
from access.calendar import local_date
from access.deliveries import RETRIED_CHANNELS, Forbidden, authorize, record_online_answer
from access.grants import granted_areas
from access.models import Delivery, User
from access.notices import agency_notices, blocking_notices, notice_text
from access.packages import granted_rows
from access.permissions import area_covers
from access.reports import agency_report
from exports.delimited import safe_csv_bytes
from stats.catalogue import TABLES
from stats.publication import list_releases
from stats.release import REVISIONS, read_manifest, revision_dirs
from stats.said import Said, in_language, said

RETRY_AFTER_SECONDS = 300  # what a 503 tells the agency to wait before resending


# ---------------------------------------------------------------- outages (point 15)


class ProviderOutage(Exception):
    """The provider's side is failing (release store, database): not the agency's doing."""

    def __init__(self, component: str, cause: BaseException | None = None) -> None:
        super().__init__(component)
        self.component, self.cause = component, cause


def release_store_online(releases: Path) -> bool:
    """Whether the release store is there to read (a build always makes ``.revisions``)."""
    try:
        return (releases / REVISIONS).is_dir()
    except OSError:
        return False


def outage_answer(session: Session | None, user: User | None, obj: str, now: datetime,
                  outage: ProviderOutage) -> ApiResponse:
    """503 with ``Retry-After``, audited as ``api.outage`` (if the database still takes it).

    Point 15: a failure of the provider's system is not a refusal; the agency resends the
    query after the repair."""
    if session is not None:
        try:
            session.rollback()
            audit.record(session, user.username if user else "anonymous", "api.outage",
                         obj[:200], now,
                         {"channel": CHANNEL, "component": outage.component,
                          "error": type(outage.cause).__name__ if outage.cause else None},
                         agency_id=user.agency_id if user else None)
            session.commit()
        except SQLAlchemyError:
            session.rollback()  # the database is what fails: the 503 still goes out
    return error_answer(
        503,
        f"the provider's system is failing ({outage.component} unavailable); this is not a "
        f"refusal: resend the query after the repair (try again in {RETRY_AFTER_SECONDS} s)",
        (("Retry-After", str(RETRY_AFTER_SECONDS)),),
        retry_after_seconds=RETRY_AFTER_SECONDS,
    )


# ---------------------------------------------------------------- answers


def releases_answer(
    session: Session, authorization: str | None, releases: Path, now: datetime
) -> ApiResponse:
    """``GET /api/v1/releases``: the periods published, with revision and publication time."""
    user = bearer_user(session, authorization, now)
    if user is None:
        return unauthorized()
    try:
        if not release_store_online(releases):
            raise ProviderOutage("release store")
        listed = list_releases(releases, now)
    except (OSError, ValueError) as error:
        return outage_answer(session, user, "api:releases", now,
                             ProviderOutage("release store", error))
    except ProviderOutage as outage:
        return outage_answer(session, user, "api:releases", now, outage)
    rows = [
        {
            "period": r["period"],
            "kind": r["kind"],
            "revision": r["revision"],
            "published_at": r["published_at"],
        }
        for r in listed
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
    for name, dtype in frame.schema.items():
        if dtype.is_integer():  # an integer's decimal text is its JSON: 3x faster than below
            cells.append(pl.col(name).cast(pl.String).fill_null("null"))
            continue
        prefix = len("{" + json.dumps(name) + ":")
        encoded = pl.struct(pl.col(name)).struct.json_encode()
        cells.append(encoded.str.slice(prefix).str.head(-1))
    row = pl.lit("[") + pl.concat_str(cells, separator=",") + pl.lit("]")
    return "[" + frame.select(row.str.join(",")).item() + "]"


def outside_grant(table: str) -> Said:
    return said(f"table {table!r} is outside your grant", f"資料表 {table} 不在貴機關的授權內")


def not_granted(table: str) -> Said:
    return said(f"table {table!r} is outside your grant, or your agency's access is "
                "suspended, lapsed or terminated",
                f"資料表 {table} 不在貴機關的授權內，或貴機關的連結已暫停、失效或終止")


def unpublished_periods(periods: list[str], single: bool) -> Said:
    listed = ", ".join(periods)[:200]
    named = f"period {periods[0]!r} is" if single else f"period(s) {listed}"
    return said(f"{named} outside your grant (not published)",
                f"統計期 {listed} 不在授權內（尚未公布）")


def refuse(session: Session, user: User, table: str, now: datetime, reason: str) -> ApiResponse:
    """403, audited; when the agency is under a notice (suspended, lapsed, terminated: points
    19 and 20) the answer says so in one line, in English and in Chinese."""
    assert user.agency_id is not None
    told = blocking_notices(agency_notices(session, user.agency_id, now))
    extra = {"notice": " ".join(notice_text(n, "zh") for n in told)} if told else {}
    if told:
        reason = said(f"{reason} — {' '.join(notice_text(n, 'en') for n in told)}",
                      f"{in_language(reason, 'zh')} — {extra['notice']}")
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
    return error_answer(403, reason, **extra)


def notices_answer(session: Session, authorization: str | None, now: datetime) -> ApiResponse:
    """``GET /api/v1/notices``: what the agency must know about its linking (points 19, 20) —
    answered to its token even while its access is suspended, lapsed or terminated, since
    the same-day notice must reach it. Read-only; audited."""
    user = bearer_user(session, authorization, now)
    if user is None:
        return unauthorized()
    assert user.agency_id is not None
    notices = agency_notices(session, user.agency_id, now)
    audit.record(session, user.username, "notices.read", f"agency:{user.agency_id}", now,
                 {"channel": CHANNEL, "notices": len(notices)}, agency_id=user.agency_id)
    session.commit()
    body = {"agency": user.agency.name if user.agency else None,
            "notices": [n.as_json() for n in notices]}
    return ApiResponse(200, json.dumps(body, ensure_ascii=False).encode())


def answer_rows(release: Path, query: Query, areas: list[str]) -> pl.LazyFrame:
    """Every row the query selects within ``areas``, in the release file's order, as a lazy
    scan: counting them and reading one page reads only what they need."""
    if query.table not in TABLES:  # the name goes into a path: only the catalogue's
        raise ValueError(f"unknown table {query.table!r}")
    scan = pl.scan_parquet(release / f"{query.table}.parquet")
    if query.area_code:
        # one area: inside the grant or nothing. An equality alone lets the reader skip
        # every row group whose area_code statistics exclude it (the release is sorted by
        # level and code), where the grant's prefix test would have it decode them all
        inside = any(area_covers(a, query.area_code) for a in areas)
        frame = scan.filter(pl.col("area_code") == query.area_code) if inside else scan.clear()
    else:
        frame = granted_rows(scan, areas)  # type: ignore[arg-type]  # the same filter, lazily
    if query.area_level:
        frame = frame.filter(pl.col("area_level") == query.area_level)
    return frame


def answer_page(rows: pl.LazyFrame, query: Query) -> pl.DataFrame:
    """The query's page of ``rows`` (all of them when no paging was asked for)."""
    if query.page_size is None:
        return rows.collect()
    return rows.slice((query.page - 1) * query.page_size, query.page_size).collect()


def render_page(page: pl.DataFrame, query: Query, revision: int | dict[str, int],
                fmt: str) -> bytes:
    """The bytes of one page as JSON or CSV (deterministic: the same release revision and
    query give the same bytes, which is what a delivery records). ``revision`` is a
    period → revision mapping for a range or list of periods (JSON key ``revisions``)."""
    if fmt == "csv":
        return safe_csv_bytes(page)
    key = "revisions" if isinstance(revision, dict) else "revision"
    head = {"table": query.table, "period": query.period, key: revision,
            "columns": page.columns}
    return (json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": ' + rows_json(page)
            + "}").encode()


def _paging_headers(query: Query, total: int, pages: int) -> tuple[tuple[str, str], ...]:
    """``X-Total-Rows``, ``X-Page``, ``X-Page-Count`` and RFC 8288 ``Link`` next/prev."""
    if query.page_size is None:
        return (("X-Total-Rows", str(total)),)

    def link(page: int) -> str:
        params = {"period": query.period, "area_level": query.area_level,
                  "area_code": query.area_code, "page": page, "page_size": query.page_size}
        shown = urlencode({k: v for k, v in params.items() if v is not None})
        return f"</api/v1/tables/{query.table}?{shown}>"
    links = [f'{link(query.page + 1)}; rel="next"'] if query.page < pages else []
    links += [f'{link(query.page - 1)}; rel="prev"'] if query.page > 1 else []
    headers = [("X-Total-Rows", str(total)), ("X-Page", str(query.page)),
               ("X-Page-Count", str(pages))]
    return tuple(headers + ([("Link", ", ".join(links))] if links else []))


def table_answer(
    session: Session,
    authorization: str | None,
    releases: Path,
    table: str,
    params: dict[str, str],
    accept: str | None,
    now: datetime,
    limits: ApiLimits = ApiLimits(),
) -> ApiResponse:
    """``GET /api/v1/tables/{table}?period=P[&area_level=L][&area_code=C][&page=N]
    [&page_size=K]`` (CONTRACT §6), in the order of the module's description.

    Parameters
    ----------
    params : the query string; ``period`` required.
    accept : the ``Accept`` header; ``text/csv`` answers CSV, anything else JSON.
    limits : the per-agency daily volume.
    """
    try:
        query = validate_query(table, params)
    except QueryError as error:
        return error_answer(400, f"bad query: {error}", parameter=error.parameter, rule=error.rule)
    user = bearer_user(session, authorization, now)
    if user is None:
        return unauthorized()
    if table not in TABLES:
        return refuse(session, user, table, now, outside_grant(table))
    obj = f"table:{table}"
    try:
        return _rows_answer(session, user, releases, query, accept, now, limits)
    except ProviderOutage as outage:
        return outage_answer(session, user, obj, now, outage)
    except SQLAlchemyError as error:
        return outage_answer(session, user, obj, now, ProviderOutage("database", error))


def _rows_answer(session: Session, user: User, releases: Path, query: Query,
                 accept: str | None, now: datetime, limits: ApiLimits) -> ApiResponse:
    """The rows of one period's public revision, or of each period of a range or list
    (CONTRACT §7: periods ascending, every period published, else 403 audited; the answer
    then has ``revisions`` in place of ``revision``), in the order of the module's
    description."""
    table, single = query.table, query.periods is None
    periods = (query.period,) if query.periods is None else query.periods
    try:
        if not release_store_online(releases):
            raise ProviderOutage("release store")
        folders = {p: published_revision(releases, p, now) for p in periods}
    except (OSError, ValueError) as error:
        raise ProviderOutage("release store", error) from error
    if unpublished := [p for p, f in folders.items() if f is None]:
        return refuse(session, user, table, now, unpublished_periods(unpublished, single))
    granted = granted_areas(session, user, table, CHANNEL, now)
    if not granted:
        return refuse(session, user, table, now, not_granted(table))
    area_code = query.area_code
    try:  # inside a granted area: allowed (can_view's rule); else authorize audits the refusal
        if area_code and not any(area_covers(a, area_code) for a in granted):
            authorize(session, user, [table], [area_code], CHANNEL, now)
    except Forbidden:
        return error_answer(403, f"area {area_code!r} is outside your grant")
    # nothing is written before the answer is made: end the reading transaction, so that
    # reading the release holds no lock (SQLite's BEGIN IMMEDIATE) and no snapshot
    session.commit()
    areas = [area_code] if area_code else granted
    public = {p: f for p, f in folders.items() if f is not None}
    try:
        manifests = {p: manifest(f) for p, f in public.items()}
        revisions = {p: int(m["revision"]) for p, m in manifests.items()}
        if never := [p for p, m in manifests.items()
                     if table not in {t["table"] for t in m.get("tables", [])}]:
            # not an outage: the release never held it (v2-only tables need a v2 extract;
            # life_table is built for years)
            where = (f"release {never[0]} r{revisions[never[0]]}" if single
                     else f"the release(s) of {', '.join(never)}")
            return error_answer(404, f"{table} is not in {where}", parameter="table")
        if area_code and not any(area_code in area_codes(f) for f in public.values()):
            where = (f"release {periods[0]} r{revisions[periods[0]]}" if single
                     else "none of the releases asked for")
            return error_answer(404, f"area {area_code} is {'not in ' if single else 'in '}{where}",
                          parameter="area_code")
        rows = pl.concat([answer_rows(f, query, areas) for f in public.values()],
                         how="vertical_relaxed")
        if query.page_size is None:  # every row: one read, counted as it is
            page = rows.collect()
            total = page.height
        else:  # the count from the files' row counts (or the filtered column), then a slice
            total = rows.select(pl.len()).collect().item()
            offset = query.page_size * (query.page - 1)
            page = answer_page(rows, query) if offset < total or offset == 0 else None
    except (OSError, ValueError, pl.exceptions.PolarsError) as error:
        raise ProviderOutage("release store", error) from error
    pages = max(1, -(-total // query.page_size)) if query.page_size else 1
    if page is None:
        return error_answer(404, f"page {query.page} does not exist: the answer has {pages} "
                      f"page(s) of at most {query.page_size} rows", parameter="page")
    fmt = "csv" if accept and "text/csv" in accept else "json"
    # one period: the contract's §6 shape (``revision``); several: ``revisions``
    revision: int | dict[str, int] = revisions[periods[0]] if single else revisions
    body = render_page(page, query, revision, fmt)
    # the agency's own row first: the audit chain's lock (every agency's) is taken last
    refused = charge_volume(session, user, limits, len(body), now)
    if refused is not None:
        return refused
    digest = hashlib.sha256(body).hexdigest()
    which = {"revision": revision} if single else {"period": query.period,
                                                    "revisions": revisions}
    answer = {"table": table, **which, "format": fmt, **query.record(), "rows": page.height,
              "size": len(body), "sha256": digest}
    span = periods[0] if len(periods) == 1 else f"{periods[0]}..{periods[-1]}"  # 16 chars
    delivery = record_online_answer(session, user, table, span, areas, answer, now)
    audit.record(session, user.username, "query", f"delivery:{delivery.id}", now,
                 {"channel": CHANNEL, "table": table, "period": query.period, **which,
                  "rows": page.height, "area_code": area_code, "area_level": query.area_level,
                  "page": query.page, "pages": pages, "sha256": digest, "size": len(body)},
                 agency_id=user.agency_id)
    session.commit()  # the record is written before the answer is sent, or there is no 200
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    headers = (("X-Delivery-Id", delivery.id), ("X-Content-SHA256", digest))
    return ApiResponse(200, body, content_type,
                       headers + _paging_headers(query, total, pages))


def revision_folder(releases: Path, period: str, revision: int) -> Path:
    """The folder of one revision of a period (releases are never changed in place).

    Raises
    ------
    ValueError
        The revision is gone.
    """
    folders = [f for f in revision_dirs(releases, period)
               if int(read_manifest(f)["revision"]) == int(revision)]
    if not folders:
        raise ValueError(f"revision {revision} of {period} is gone")
    return folders[0]


def reproduce_answer(releases: Path, delivery: Delivery) -> bytes:
    """The exact bytes of a recorded online-query answer, made again from its release
    revision(s) (immutable and checksummed) and checked against the recorded SHA-256: a
    table answer of one period, of a range or list of periods, or a query document's
    (``POST /api/v1/query``).

    Raises
    ------
    ValueError
        Not an online-query answer, its revision is gone, or the bytes differ.
    """
    options = delivery.options
    if delivery.channel != CHANNEL or not {"revision", "revisions"} & set(options):
        raise ValueError(f"delivery {delivery.id} is not a recorded online-query answer")
    if "query" in options:
        from access.query_api import reproduce_query_body  # it builds on this module

        body = reproduce_query_body(releases, delivery)
    elif "revisions" in options:
        revisions = {p: int(r) for p, r in options["revisions"].items()}
        query = Query(options["table"], options["period"], options.get("area_level"),
                      options.get("area_code"), int(options["page"]),
                      int(options["page_size"]) if options.get("page_size") else None,
                      tuple(revisions))
        rows = pl.concat([answer_rows(revision_folder(releases, p, r), query,
                                      list(delivery.areas)) for p, r in revisions.items()],
                         how="vertical_relaxed")
        body = render_page(answer_page(rows, query), query, revisions, options["format"])
    else:
        folder = revision_folder(releases, delivery.period, int(options["revision"]))
        query = Query(options["table"], delivery.period, options.get("area_level"),
                      options.get("area_code"), int(options["page"]),
                      int(options["page_size"]) if options.get("page_size") else None)
        page = answer_page(answer_rows(folder, query, list(delivery.areas)), query)
        body = render_page(page, query, int(options["revision"]), options["format"])
    if hashlib.sha256(body).hexdigest() != delivery.sha256:
        raise ValueError(f"delivery {delivery.id}: the answer made again differs from the "
                         "recorded SHA-256")
    return body


LOG_FIELDS = ("seq", "time", "actor", "action", "object", "channel", "details")
MAX_LOG_DAYS = 366
NOTICE_ACTIONS = ("delivery.ready", "delivery.failed", "delivery.notified")
# what the agency is told about its grants: in its own log too (point 19's same-day notice)
SANCTION_ACTIONS = ("grant.suspended", "grant.restored", "grant.lapsed",
                    "grant.termination_requested", "grant.terminated")


def _is_notice(entry: dict[str, Any]) -> bool:
    """An entry telling the agency about one of its file or media requests."""
    return entry["action"] in SANCTION_ACTIONS or (
        entry["action"] in NOTICE_ACTIONS
        and entry["details"].get("channel") in RETRIED_CHANNELS)


def log_answer(
    session: Session,
    authorization: str | None,
    params: dict[str, str],
    accept: str | None,
    now: datetime,
) -> ApiResponse:
    """``GET /api/v1/log?from=YYYY-MM-DD&to=YYYY-MM-DD``: the agency's own log of the data it
    obtained (point 18), as JSON or CSV; by default the last 30 days (Asia/Taipei). It also
    tells what became of its file and media requests (``delivery.ready``, ``delivery.failed``,
    ``delivery.notified``): after a provider outage, the log shows when a pending file is
    ready (point 15)."""
    user = bearer_user(session, authorization, now)
    if user is None:
        return unauthorized()
    today = local_date(now)
    try:
        last = date.fromisoformat(params["to"]) if params.get("to") else today
        first = date.fromisoformat(params["from"]) if params.get("from") else last - timedelta(
            days=29)
    except ValueError:
        return error_answer(400, "from and to are dates: YYYY-MM-DD")
    if first > last or (last - first).days >= MAX_LOG_DAYS:
        return error_answer(400, "from must not be after to, and the span at most "
                            f"{MAX_LOG_DAYS} days")
    assert user.agency_id is not None
    report = agency_report(session, user.agency_id, first, last)
    seen = {e["seq"] for e in report["obtained"]}
    shown = [e for e in report["entries"] if e["seq"] in seen or _is_notice(e)]
    rows = [
        {**{k: e[k] for k in ("seq", "time", "actor", "action", "object")},
         "channel": e["details"].get("channel"),
         "details": json.dumps(e["details"], ensure_ascii=False, sort_keys=True)}
        for e in shown
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
