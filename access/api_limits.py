"""How much one caller may ask of the online query API: requests per token and per agency
in a sliding window (``RateLimiter``, ``admit_request``; one audit entry per window of
refusals) and answer bytes per agency per Taipei day (``ApiLimits``). Counted in the
database, so every worker of a multi-worker server shares the counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access import audit
from access.accounts import hash_secret
from access.api_http import CHANNEL, ApiResponse, error_answer, live_token
from access.calendar import end_of_day, local_date
from access.models import ApiRequest, ApiVolume, User


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
        limit, count nothing and return that key.

        One query counts each key's rows in the window and those that left it; the rows that
        left are deleted only once a key holds as many of them as its limit (about once a
        window for a busy key, instead of a DELETE on every request), so a key never keeps
        more than twice its limit."""
        start = now - self.window
        digests = {hash_secret(key): key for key in limits}
        counts = session.execute(
            select(ApiRequest.key_hash, func.count(),
                   func.count(case((ApiRequest.at > start, 1))))
            .where(ApiRequest.key_hash.in_(digests)).group_by(ApiRequest.key_hash)).all()
        recent = {digest: inside for digest, _kept, inside in counts}
        if stale := [d for d, kept, inside in counts if kept - inside >= limits[digests[d]]]:
            session.execute(delete(ApiRequest).where(ApiRequest.key_hash.in_(stale),
                                                     ApiRequest.at <= start))
        for digest, key in digests.items():
            if recent.get(digest, 0) >= limits[key]:
                return key
        # one statement for every key (the ORM would send one INSERT per row to get its id)
        session.execute(insert(ApiRequest), [{"key_hash": d, "at": now} for d in digests])
        return None

    def allow(self, session: Session, key: str, now: datetime) -> bool:
        """Count a request under one key (the caller commits); False once it is over."""
        return self.admit(session, {key: self.limit}, now) is None

    def first_refusal(self, session: Session, key: str, now: datetime) -> bool:
        """Whether this is the key's first refusal in the window (then it is remembered, as
        a marker row of its own key, so the audit log gets one entry per window)."""
        marker = {f"refused:{key}": 1}
        return self.admit(session, marker, now) is None


def counted_only(session: Session) -> None:
    """A transaction that only counts requests commits without waiting for the disk, on
    PostgreSQL: a crash may forget the last fraction of a second of counts (a few requests
    let through again), never an audit entry or a delivery — their transactions wait as
    always. Every request commits one of these; waiting for its flush is most of its cost."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def admit_request(session: Session, limiter: RateLimiter, authorization: str | None,
                  address: str | None, now: datetime) -> ApiResponse | None:
    """The rate-limit gate of every ``/api/`` request: None to go on, or the 429 (the first
    one of a window audited as ``api.rate_limited``). Commits."""
    token = live_token(session, authorization, now)
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
    else:
        counted_only(session)
    session.commit()
    if over is None:
        return None
    seconds = int(limiter.window.total_seconds())
    return error_answer(429, f"too many requests: at most {limits[over]} per {seconds} s for your "
                  f"{over.split(':')[0]}", (("Retry-After", str(seconds)),))


# INSERT … ON CONFLICT of each database the access layer runs on
UPSERT = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}


@dataclass(frozen=True)
class ApiLimits:
    """Per-agency daily volume of online-query answers (bytes, Asia/Taipei day); None: none."""

    daily_bytes: int | None = None


def volume_row(session: Session, agency_id: int, day: date) -> ApiVolume:
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


def charge_volume(session: Session, user: User, limits: ApiLimits, size: int,
                  now: datetime) -> ApiResponse | None:
    """Add an answer of ``size`` bytes to the agency's day when it fits the daily volume
    (None: charged, the caller commits with its record), else the 429 (the first refusal of
    the day audited; committed).

    One statement checks and charges — ``INSERT … ON CONFLICT DO UPDATE … WHERE it fits``,
    nothing returned when it does not — where a read of the row and an UPDATE were two round
    trips (three with the savepoint of the day's first answer), and two workers racing at
    the limit cannot both pass. The agency's row stays locked until the caller commits."""
    assert user.agency_id is not None
    day, limit = local_date(now), limits.daily_bytes
    if limit is None or size <= limit:
        upsert = UPSERT[session.get_bind().dialect.name]
        statement = upsert(ApiVolume).values(agency_id=user.agency_id, day=day, bytes=size,
                                             answers=1).on_conflict_do_update(
            index_elements=[ApiVolume.agency_id, ApiVolume.day],
            set_={"bytes": ApiVolume.bytes + size, "answers": ApiVolume.answers + 1},
            where=None if limit is None else ApiVolume.bytes + size <= limit,
        ).returning(ApiVolume.bytes)
        if session.execute(statement).first() is not None:
            return None
    row = volume_row(session, user.agency_id, day)
    session.refresh(row)
    if row.refused_at is None:
        row.refused_at = now
        audit.record(session, user.username, "api.volume_exceeded", "api:volume", now,
                     {"channel": CHANNEL, "used": row.bytes, "limit": limit,
                      "note": "first refusal of the day; later ones are not logged"},
                     agency_id=user.agency_id)
    session.commit()
    midnight = end_of_day(day)
    wait = max(1, int((midnight - now).total_seconds()))
    return error_answer(429, f"your agency's online-query volume for today ({row.bytes} of "
                  f"{limit} bytes) has no room for this answer ({size} bytes); "
                  "it resets at 00:00 Taipei time. Ask for smaller pages or a file transfer",
                  (("Retry-After", str(wait)),))
