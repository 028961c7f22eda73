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
agency (an unauthenticated caller: per address), with one audit entry per window of refusals.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from access import audit
from access.accounts import hash_secret
from access.calendar import end_of_day, local_date
from access.deliveries import RETRIED_CHANNELS, Forbidden, authorize, record_online_answer
from access.notices import agency_notices, blocking_notices, notice_text
from access.grants import granted_areas
from access.models import ApiRequest, ApiToken, ApiVolume, Delivery, User
from access.packages import granted_rows
from access.reports import agency_report
from exports.delimited import safe_csv_bytes
from stats.catalogue import TABLES
from stats.codes import level_of_code
from stats.publication import list_releases, published_revision_dir
from stats.release import AREAS, REVISIONS, read_manifest, revision_dirs

CHANNEL = "online_query"
LEVELS = ("national", "county", "township", "village")
MAX_PAGE_ROWS = 10_000  # ≈ 430 KB of JSON for population_by_age: a page costs ≈ 20 ms
# to make, so a token at its rate limit cannot crowd out other agencies' requests
RETRY_AFTER_SECONDS = 300  # what a 503 tells the agency to wait before resending


@dataclass(frozen=True)
class ApiResponse:
    """Status, body bytes, content type and extra headers of one answer."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def _error(status: int, message: str, headers: tuple[tuple[str, str], ...] = (),
           **extra: Any) -> ApiResponse:
    body = json.dumps({"error": message, **extra}, ensure_ascii=False).encode()
    return ApiResponse(status, body, headers=headers)


def _unauthorized() -> ApiResponse:
    return _error(401, "missing or invalid bearer token (Authorization: Bearer TOKEN)",
                  (("WWW-Authenticate", 'Bearer realm="popstats"'),))


# ---------------------------------------------------------------- who is asking

# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; we accept exactly one space (every
# client sends one) and the scheme in any case (RFC 7235 §2.1: schemes are case-insensitive).
BEARER = re.compile(r"(?i:bearer) ([A-Za-z0-9\-._~+/]+=*)")
MAX_AUTHORIZATION = 256


def bearer_token(authorization: str | None) -> str | None:
    """The token of a well-formed ``Authorization: Bearer TOKEN`` header, else None."""
    if not authorization or len(authorization) > MAX_AUTHORIZATION:
        return None
    match = BEARER.fullmatch(authorization)
    return match.group(1) if match else None


def _live_token(session: Session, authorization: str | None, now: datetime) -> ApiToken | None:
    """The unrevoked, unexpired token of an agency user named by the header, or None."""
    value = bearer_token(authorization)
    if value is None:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(value)))
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and now >= token.expires_at:
        return None
    return token if token.user.agency_id is not None else None


def bearer_user(session: Session, authorization: str | None, now: datetime) -> User | None:
    """The agency user of an ``Authorization: Bearer TOKEN`` header, or None."""
    token = _live_token(session, authorization, now)
    return token.user if token is not None else None


# ---------------------------------------------------------------- rate limit


@dataclass(frozen=True)
class RateLimiter:
    """At most ``limit`` requests per key in any ``window`` (sliding), counted in the
    database so that every worker of a multi-worker server shares the count. Keys are a
    token's identity (its row, however the header is spelt) and, with ``agency_limit``, its
    agency (however many tokens it holds); an unauthenticated caller is counted by address.
    Two workers racing at the limit may let one request more through; the count never
    drifts further."""

    limit: int = 120
    window: timedelta = timedelta(minutes=1)
    agency_limit: int | None = None

    def admit(self, session: Session, limits: dict[str, int], now: datetime) -> str | None:
        """Count a request under every key (the caller commits), or, when one key is at its
        limit, count nothing and return that key."""
        start = now - self.window
        digests = {hash_secret(key): key for key in limits}
        session.execute(delete(ApiRequest).where(ApiRequest.key_hash.in_(digests),
                                                 ApiRequest.at <= start))
        recent = dict(session.execute(  # type: ignore[arg-type]
            select(ApiRequest.key_hash, func.count()).where(
                ApiRequest.key_hash.in_(digests), ApiRequest.at > start)
            .group_by(ApiRequest.key_hash)).all())
        for digest, key in digests.items():
            if recent.get(digest, 0) >= limits[key]:
                return key
        session.add_all(ApiRequest(key_hash=digest, at=now) for digest in digests)
        return None

    def allow(self, session: Session, key: str, now: datetime) -> bool:
        """Count a request under one key (the caller commits); False once it is over."""
        return self.admit(session, {key: self.limit}, now) is None

    def first_refusal(self, session: Session, key: str, now: datetime) -> bool:
        """Whether this is the key's first refusal in the window (then it is remembered, as
        a marker row of its own key, so the audit log gets one entry per window)."""
        marker = {f"refused:{key}": 1}
        return self.admit(session, marker, now) is None


def admit_request(session: Session, limiter: RateLimiter, authorization: str | None,
                  address: str | None, now: datetime) -> ApiResponse | None:
    """The rate-limit gate of every ``/api/`` request: None to go on, or the 429 (the first
    one of a window audited as ``api.rate_limited``). Commits."""
    token = _live_token(session, authorization, now)
    if token is None:
        limits = {f"address:{address or 'unknown'}": limiter.limit}
        actor, agency_id = "anonymous", None
    else:
        limits = {f"token:{token.id}": limiter.limit}
        if limiter.agency_limit is not None:
            limits[f"agency:{token.user.agency_id}"] = limiter.agency_limit
        actor, agency_id = token.user.username, token.user.agency_id
    over = limiter.admit(session, limits, now)
    if over is not None and limiter.first_refusal(session, over, now):
        audit.record(session, actor, "api.rate_limited", f"api:{over}"[:200], now,
                     {"channel": CHANNEL, "limit": limits[over],
                      "window_seconds": int(limiter.window.total_seconds()),
                      "note": "first refusal of this window; later ones are not logged"},
                     agency_id=agency_id)
    session.commit()
    if over is None:
        return None
    seconds = int(limiter.window.total_seconds())
    return _error(429, f"too many requests: at most {limits[over]} per {seconds} s for your "
                  f"{over.split(':')[0]}", (("Retry-After", str(seconds)),))


# ---------------------------------------------------------------- the query's own rules

PERIOD = re.compile(r"[0-9]{4}(?:-(?:0[1-9]|1[0-2])|-Q[1-4])?")  # [0-9]: \d takes ６ too
AREA_CODE = re.compile(r"[0-9]{5}|[0-9]{8}|[0-9]{11}")
TABLE_NAME = re.compile(r"[a-z][a-z_]{0,63}")
POSITIVE = re.compile(r"[1-9][0-9]{0,5}")
RULES = {
    "period": "YYYY-MM, YYYY-Qn or YYYY (e.g. 2025-03, 2025-Q1, 2025)",
    "area_level": "one of national, county, township, village",
    "area_code": "00000 (national) or 5, 8 or 11 digits (county, township, village)",
    "page": "a whole number from 1",
    "page_size": f"a whole number from 1 to {MAX_PAGE_ROWS}",
}
MAX_VALUE = 32  # longer than any valid value of any parameter (but a list of periods)
MAX_PERIODS = 240  # periods in one range or list (20 years of months), as in stats.query
MAX_PERIOD_TEXT = MAX_PERIODS * 8  # a comma list of that many months
RULES["period"] += (f"; or a range FROM..TO, or a comma list, of one kind (at most "
                    f"{MAX_PERIODS} periods)")


class QueryError(ValueError):
    """A query that breaks a rule of its own syntax (400); ``parameter`` names the part."""

    def __init__(self, parameter: str, rule: str) -> None:
        super().__init__(f"{parameter}: {rule}")
        self.parameter, self.rule = parameter, rule


@dataclass(frozen=True)
class Query:
    """A table query that passed ``validate_query``: safe to put in paths, logs and records."""

    table: str
    period: str
    area_level: str | None
    area_code: str | None
    page: int
    page_size: int | None  # None: the whole answer (no paging asked for; CONTRACT §6)
    # CONTRACT §7: period=FROM..TO or a comma list; ``period`` is then its normalised text
    periods: tuple[str, ...] | None = None

    def record(self) -> dict[str, Any]:
        """What was asked, as kept with the delivery."""
        asked = {"area_level": self.area_level, "area_code": self.area_code,
                 "page": self.page, "page_size": self.page_size}
        return asked if self.periods is None else {**asked, "periods": list(self.periods)}


def parse_periods(text: str) -> tuple[str, ...] | None:
    """The periods of ``period=FROM..TO`` or ``period=A,B,C`` (one kind, ascending, each
    once); None for a single period (checked by the caller, as before).

    Raises
    ------
    QueryError
        Naming ``period`` and its rule.
    """
    from stats.periods import Period, PeriodError, period_range

    ranged, listed = ".." in text, "," in text
    if not ranged and not listed:
        return None
    if ranged and listed:
        raise QueryError("period", "a range FROM..TO or a comma list, not both")
    parts = text.split("..") if ranged else text.split(",")
    if (ranged and len(parts) != 2) or not all(PERIOD.fullmatch(p) for p in parts):
        raise QueryError("period", RULES["period"])
    found = [Period.parse(p) for p in parts]
    if len({p.kind for p in found}) > 1:
        raise QueryError("period", "every period of one kind (months, quarters or years)")
    if ranged:
        try:
            found = period_range(found[0], found[1])
        except PeriodError as error:
            raise QueryError("period", str(error)) from error
    elif len(set(parts)) != len(parts):
        raise QueryError("period", "a period is named twice")
    if len(found) > MAX_PERIODS:
        raise QueryError("period", f"at most {MAX_PERIODS} periods")
    return tuple(str(p) for p in sorted(found, key=lambda p: (p.year, p.number)))


def validate_query(table: str, params: dict[str, str]) -> Query:
    """Check every parameter's syntax and length (and that the level and code agree with
    each other and the table) before anything else runs.

    Raises
    ------
    QueryError
        Naming the parameter and its rule; the offending value is not echoed or logged.
    """
    if not TABLE_NAME.fullmatch(table):
        raise QueryError("table", "a table name: lower-case letters and _, at most 64")
    for name, value in params.items():
        if name not in RULES:
            raise QueryError(name[:40], f"unknown parameter; allowed: {', '.join(RULES)}")
        limit = MAX_PERIOD_TEXT if name == "period" else MAX_VALUE
        if len(value) > limit:
            raise QueryError(name, f"at most {limit} characters: {RULES[name]}")
    period = params.get("period") or ""
    if not period:
        raise QueryError("period", f"required: {RULES['period']}")
    periods = parse_periods(period)
    if periods is not None:  # checked; the single-period pattern below does not apply
        separator = ".." if ".." in period else ","
        period = separator.join([periods[0], periods[-1]] if separator == ".." else periods)
        params = {k: v for k, v in params.items() if k != "period"}
    checks = {"period": PERIOD, "area_level": re.compile("|".join(LEVELS)),
              "area_code": AREA_CODE, "page": POSITIVE, "page_size": POSITIVE}
    for name, pattern in checks.items():
        if name in params and not pattern.fullmatch(params[name]):
            raise QueryError(name, RULES[name])
    level, code = params.get("area_level"), params.get("area_code")
    if code and level and level_of_code(code) != level:
        raise QueryError("area_code", f"a {level_of_code(code)} code does not match "
                         f"area_level={level}")
    spec = TABLES.get(table)
    for wanted in (level, level_of_code(code) if code else None):
        if spec is not None and wanted and wanted not in spec.levels:
            raise QueryError("area_level" if wanted == level else "area_code",
                             f"{table} has no {wanted} level; its levels: "
                             f"{', '.join(spec.levels)}")
    paged = "page" in params or "page_size" in params
    page_size = int(params.get("page_size", MAX_PAGE_ROWS)) if paged else None
    if page_size is not None and page_size > MAX_PAGE_ROWS:
        raise QueryError("page_size", RULES["page_size"])
    return Query(table, period, level, code, int(params.get("page", 1)), page_size, periods)


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
    return _error(
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
        return _unauthorized()
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


def _refuse(session: Session, user: User, table: str, now: datetime, reason: str) -> ApiResponse:
    """403, audited; when the agency is under a notice (suspended, lapsed, terminated: points
    19 and 20) the answer says so in one line, in English and in Chinese."""
    assert user.agency_id is not None
    told = blocking_notices(agency_notices(session, user.agency_id, now))
    extra = {"notice": " ".join(notice_text(n, "zh") for n in told)} if told else {}
    if told:
        reason = f"{reason} — {' '.join(notice_text(n, 'en') for n in told)}"
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
    return _error(403, reason, **extra)


def notices_answer(session: Session, authorization: str | None, now: datetime) -> ApiResponse:
    """``GET /api/v1/notices``: what the agency must know about its linking (points 19, 20) —
    answered to its token even while its access is suspended, lapsed or terminated, since
    the same-day notice must reach it. Read-only; audited."""
    user = bearer_user(session, authorization, now)
    if user is None:
        return _unauthorized()
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
    frame = granted_rows(scan, areas)  # type: ignore[arg-type]  # the same filter, lazily
    if query.area_code:
        frame = frame.filter(pl.col("area_code") == query.area_code)
    if query.area_level:
        frame = frame.filter(pl.col("area_level") == query.area_level)
    return frame


def _release_has_area(release: Path, area_code: str) -> bool:
    """Whether the release's area list (``areas.parquet``) has the code; reads one column."""
    found = pl.scan_parquet(release / AREAS).filter(pl.col("area_code") == area_code)
    return found.select(pl.len()).collect().item() > 0


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


@dataclass(frozen=True)
class ApiLimits:
    """Per-agency daily volume of online-query answers (bytes, Asia/Taipei day); None: none."""

    daily_bytes: int | None = None


def _volume(session: Session, agency_id: int, day: date) -> ApiVolume:
    """The agency's row for the day, made if missing (another worker may make it first)."""
    row = session.get(ApiVolume, (agency_id, day))
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = ApiVolume(agency_id=agency_id, day=day, bytes=0, answers=0)
            session.add(row)
    except IntegrityError:
        row = session.get(ApiVolume, (agency_id, day), populate_existing=True)
        assert row is not None
    return row


def _over_volume(session: Session, user: User, limits: ApiLimits, size: int,
                 now: datetime) -> ApiResponse | None:
    """429 when this answer of ``size`` bytes would take the agency past its daily volume
    (the first refusal of the day is audited); None when it fits."""
    if limits.daily_bytes is None:
        return None
    assert user.agency_id is not None
    row = _volume(session, user.agency_id, local_date(now))
    if row.bytes + size <= limits.daily_bytes:
        return None
    if row.refused_at is None:
        row.refused_at = now
        audit.record(session, user.username, "api.volume_exceeded", "api:volume", now,
                     {"channel": CHANNEL, "used": row.bytes, "limit": limits.daily_bytes,
                      "note": "first refusal of the day; later ones are not logged"},
                     agency_id=user.agency_id)
    session.commit()
    midnight = end_of_day(local_date(now))
    wait = max(1, int((midnight - now).total_seconds()))
    return _error(429, f"your agency's online-query volume for today ({row.bytes} of "
                  f"{limits.daily_bytes} bytes) has no room for this answer ({size} bytes); "
                  "it resets at 00:00 Taipei time. Ask for smaller pages or a file transfer",
                  (("Retry-After", str(wait)),))


def _charge(session: Session, agency_id: int, size: int, now: datetime) -> None:
    """Add an answer's bytes to the agency's day, in one UPDATE (workers may race)."""
    row = _volume(session, agency_id, local_date(now))
    session.execute(update(ApiVolume).where(ApiVolume.agency_id == row.agency_id,
                                            ApiVolume.day == row.day)
                    .values(bytes=ApiVolume.bytes + size, answers=ApiVolume.answers + 1))


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
        return _error(400, f"bad query: {error}", parameter=error.parameter, rule=error.rule)
    user = bearer_user(session, authorization, now)
    if user is None:
        return _unauthorized()
    if table not in TABLES:
        return _refuse(session, user, table, now, f"table {table!r} is outside your grant")
    obj = f"table:{table}"
    try:
        if query.periods is not None:
            return _periods_answer(session, user, releases, query, accept, now, limits)
        return _table_answer(session, user, releases, query, accept, now, limits)
    except ProviderOutage as outage:
        return outage_answer(session, user, obj, now, outage)
    except SQLAlchemyError as error:
        return outage_answer(session, user, obj, now, ProviderOutage("database", error))


def _table_answer(session: Session, user: User, releases: Path, query: Query,
                  accept: str | None, now: datetime, limits: ApiLimits) -> ApiResponse:
    table, period = query.table, query.period
    try:
        if not release_store_online(releases):
            raise ProviderOutage("release store")
        release = published_revision_dir(releases, period, now)
    except (OSError, ValueError) as error:
        raise ProviderOutage("release store", error) from error
    if release is None:
        return _refuse(
            session, user, table, now, f"period {period!r} is outside your grant (not published)"
        )
    area_code = query.area_code
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
    areas = [area_code] if area_code else granted
    try:
        manifest = read_manifest(release)
        revision = int(manifest["revision"])
        if table not in {t["table"] for t in manifest.get("tables", [])}:
            # not an outage: the release never held it (v2-only tables need a v2 extract;
            # life_table is built for years)
            return _error(404, f"{table} is not in release {period} r{revision}",
                          parameter="table")
        if area_code and not _release_has_area(release, area_code):
            return _error(404, f"area {area_code} is not in release {period} r{revision}",
                          parameter="area_code")
        rows = answer_rows(release, query, areas)
        total = rows.select(pl.len()).collect().item()
        offset = (query.page_size or 0) * (query.page - 1)
        page = answer_page(rows, query) if offset < total or offset == 0 else None
    except (OSError, ValueError, pl.exceptions.PolarsError) as error:
        raise ProviderOutage("release store", error) from error
    pages = max(1, -(-total // query.page_size)) if query.page_size else 1
    if page is None:
        return _error(404, f"page {query.page} does not exist: the answer has {pages} "
                      f"page(s) of at most {query.page_size} rows", parameter="page")
    fmt = "csv" if accept and "text/csv" in accept else "json"
    body = render_page(page, query, revision, fmt)
    refused = _over_volume(session, user, limits, len(body), now)
    if refused is not None:
        return refused
    digest = hashlib.sha256(body).hexdigest()
    answer = {"table": table, "revision": revision, "format": fmt, **query.record(),
              "rows": page.height,
              "size": len(body), "sha256": digest}
    delivery = record_online_answer(session, user, table, period, areas, answer, now)
    assert user.agency_id is not None
    _charge(session, user.agency_id, len(body), now)
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
            "rows": answer["rows"],
            "area_code": area_code,
            "area_level": query.area_level,
            "page": query.page,
            "pages": pages,
            "sha256": digest,
            "size": len(body),
        },
        agency_id=user.agency_id,
    )
    session.commit()  # the record is written before the answer is sent, or there is no 200
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    headers = (("X-Delivery-Id", delivery.id), ("X-Content-SHA256", digest))
    return ApiResponse(200, body, content_type,
                       headers + _paging_headers(query, total, pages))


def _periods_answer(session: Session, user: User, releases: Path, query: Query,
                    accept: str | None, now: datetime, limits: ApiLimits) -> ApiResponse:
    """``period=FROM..TO`` or a comma list (CONTRACT §7): the rows of each period's public
    revision, periods ascending, under the same checks as one period; every period must be
    published (else 403, audited), and the answer has ``revisions`` in place of
    ``revision``."""
    table, periods = query.table, query.periods or ()
    try:
        if not release_store_online(releases):
            raise ProviderOutage("release store")
        folders = {p: published_revision_dir(releases, p, now) for p in periods}
    except (OSError, ValueError) as error:
        raise ProviderOutage("release store", error) from error
    if unpublished := [p for p, f in folders.items() if f is None]:
        return _refuse(session, user, table, now, f"period(s) {', '.join(unpublished)[:200]} "
                       "outside your grant (not published)")
    granted = granted_areas(session, user, table, CHANNEL, now)
    if not granted:
        return _refuse(session, user, table, now, f"table {table!r} is outside your grant, or "
                       "your agency's access is suspended, lapsed or terminated")
    area_code = query.area_code
    try:
        if area_code:
            authorize(session, user, [table], [area_code], CHANNEL, now)
    except Forbidden:
        return _error(403, f"area {area_code!r} is outside your grant")
    areas = [area_code] if area_code else granted
    try:
        public = {p: f for p, f in folders.items() if f is not None}
        manifests = {p: read_manifest(f) for p, f in public.items()}
        revisions = {p: int(m["revision"]) for p, m in manifests.items()}
        if never := [p for p, m in manifests.items()
                     if table not in {t["table"] for t in m.get("tables", [])}]:
            # not an outage: those releases never held it (as for one period)
            return _error(404, f"{table} is not in the release(s) of {', '.join(never)}",
                          parameter="table")
        if area_code and not any(_release_has_area(f, area_code) for f in public.values()):
            return _error(404, f"area {area_code} is in none of the releases asked for",
                          parameter="area_code")
        rows = pl.concat([answer_rows(f, query, areas) for f in public.values()],
                         how="vertical_relaxed")
        total = rows.select(pl.len()).collect().item()
        offset = (query.page_size or 0) * (query.page - 1)
        page = answer_page(rows, query) if offset < total or offset == 0 else None
    except (OSError, ValueError, pl.exceptions.PolarsError) as error:
        raise ProviderOutage("release store", error) from error
    pages = max(1, -(-total // query.page_size)) if query.page_size else 1
    if page is None:
        return _error(404, f"page {query.page} does not exist: the answer has {pages} "
                      f"page(s) of at most {query.page_size} rows", parameter="page")
    fmt = "csv" if accept and "text/csv" in accept else "json"
    body = render_page(page, query, revisions, fmt)
    refused = _over_volume(session, user, limits, len(body), now)
    if refused is not None:
        return refused
    digest = hashlib.sha256(body).hexdigest()
    answer = {"table": table, "period": query.period, "revisions": revisions, "format": fmt,
              **query.record(),
              "rows": page.height, "size": len(body), "sha256": digest}
    span = periods[0] if len(periods) == 1 else f"{periods[0]}..{periods[-1]}"  # 16 chars
    delivery = record_online_answer(session, user, table, span, areas, answer, now)
    assert user.agency_id is not None
    _charge(session, user.agency_id, len(body), now)
    audit.record(session, user.username, "query", f"delivery:{delivery.id}", now,
                 {"channel": CHANNEL, "table": table, "period": query.period,
                  "revisions": revisions, "rows": page.height, "area_code": area_code,
                  "area_level": query.area_level, "page": query.page, "pages": pages,
                  "sha256": digest, "size": len(body)}, agency_id=user.agency_id)
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
        return _unauthorized()
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
                "summary": "The rows of a release table the caller's grant allows, whole or "
                "a page at a time",
                "description": (
                    "Without page or page_size the answer holds every row asked for "
                    "(X-Total-Rows says how many). With either, it is paged: at most "
                    f"{MAX_PAGE_ROWS} rows per page (page_size, default and maximum the "
                    "same), page 1 first. Every page carries the "
                    "headers X-Total-Rows, X-Page, X-Page-Count and, when there is one, an "
                    "RFC 8288 Link to the next and previous page; the JSON body keeps the "
                    "contract's shape {table, period, revision, columns, rows} with the "
                    "page's rows. Each page is recorded as an online-query delivery kept 1 "
                    "day (X-Delivery-Id; X-Content-SHA256 is the SHA-256 of the body): the "
                    "provider keeps what was asked and the checksum, and can make the same "
                    "bytes again from the immutable release revision. Every parameter is "
                    "checked for syntax and length before anything else (400 names the "
                    "parameter and its rule). An agency's answers per Asia/Taipei day are "
                    "limited in bytes when the provider configures it (429, Retry-After "
                    "until midnight). Requests are limited per token and per agency (429, "
                    "Retry-After)."
                ),
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
                        "schema": {"type": "string", "maxLength": MAX_PERIOD_TEXT},
                        "description": RULES["period"] + ". With a range or list the JSON "
                        "answer has revisions (period → revision) in place of revision, and "
                        "holds the rows of every period, periods ascending",
                    },
                    {
                        "name": "area_level",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(LEVELS)},
                    },
                    {"name": "area_code", "in": "query",
                     "schema": {"type": "string", "pattern": AREA_CODE.pattern,
                                "maxLength": 11},
                     "description": RULES["area_code"]},
                    {"name": "page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "default": 1}},
                    {"name": "page_size", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_ROWS},
                     "description": f"rows per page (default {MAX_PAGE_ROWS} once paging is "
                     "asked for; without page or page_size the whole answer)"},
                ],
                "responses": {
                    "200": {
                        "description": "{table, period, revision, columns, rows} or CSV "
                        "(Accept: text/csv): the whole answer or one page; recorded as an "
                        "online-query delivery "
                        "kept 1 day"
                    },
                    "400": {"description": "a parameter breaks its rule: {error, parameter, "
                            "rule}"},
                    "401": {"description": "no or bad token"},
                    "403": {
                        "description": "outside the grant, or the agency is suspended, lapsed "
                        "or terminated (audited)"
                    },
                    "404": {"description": "an area code the release does not have, or a "
                            "page past the last"},
                    "429": {"description": "rate limit or daily volume exceeded (Retry-After)"},
                    "503": {"description": "the provider's system is failing (Retry-After): "
                            "not a refusal; resend the query after the repair (point 15)"},
                },
            }
        },
        "/api/v1/query": {
            "post": {
                "summary": "A query document (CONTRACT §7): periods, areas, measures, kept "
                "keys, age bands, stub and heading",
                "description": (
                    "The body is the query document (JSON). The answer is {query, columns, "
                    "rows, revisions}: query the normalised document, one column per stub "
                    "dimension and per heading combination (values joined with |), "
                    "revisions the public revision each period was read from; or CSV with "
                    "Accept: text/csv. The grant is checked for the table, every area the "
                    "query can touch (areas: each code; within: that code; neither: the "
                    "areas the grant allows) and every period (published only). Recorded "
                    "as an online-query delivery kept 1 day (X-Delivery-Id, "
                    "X-Content-SHA256) and in the audit log."
                ),
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "required": ["table", "periods",
                                                              "area_level"]}}}},
                "responses": {
                    "200": {"description": "{query, columns, rows, revisions} or CSV"},
                    "400": {"description": "invalid or too large: {error, problems} with "
                            "every reason"},
                    "401": {"description": "no or bad token"},
                    "403": {"description": "a table, area or period outside the grant, or "
                            "the agency is suspended, lapsed or terminated (audited)"},
                    "429": {"description": "rate limit or daily volume exceeded (Retry-After)"},
                    "503": {"description": "the provider's system is failing (Retry-After)"},
                },
            }
        },
        "/api/v1/notices": {
            "get": {
                "summary": "What the agency must know about its linking: suspension (with "
                "the deadline to improve), lapse, termination (points 19, 20); answered even "
                "while its access is suspended",
                "responses": {
                    "200": {"description": "{agency, notices: [{kind, grant, provider, since, "
                            "deadline, reason, contact, text_zh, text_en}]}"},
                    "401": {"description": "no or bad token"},
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
