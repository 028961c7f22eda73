"""How much one caller may ask of the online query API: requests per token and per agency
in a sliding window (``RateLimiter``, ``admit_request``; one audit entry per window of
refusals) and answer bytes per agency per Taipei day (``ApiLimits``). Counted in the
database, so every worker of a multi-worker server shares the counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select, text, update
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


def over_volume(session: Session, user: User, limits: ApiLimits, size: int,
                 now: datetime) -> ApiResponse | None:
    """429 when this answer of ``size`` bytes would take the agency past its daily volume
    (the first refusal of the day is audited); None when it fits."""
    if limits.daily_bytes is None:
        return None
    assert user.agency_id is not None
    row = volume_row(session, user.agency_id, local_date(now))
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
    return error_answer(429, f"your agency's online-query volume for today ({row.bytes} of "
                  f"{limits.daily_bytes} bytes) has no room for this answer ({size} bytes); "
                  "it resets at 00:00 Taipei time. Ask for smaller pages or a file transfer",
                  (("Retry-After", str(wait)),))


def charge_volume(session: Session, agency_id: int, size: int, now: datetime) -> None:
    """Add an answer's bytes to the agency's day, in one UPDATE (workers may race)."""
    row = volume_row(session, agency_id, local_date(now))
    session.execute(update(ApiVolume).where(ApiVolume.agency_id == row.agency_id,
                                            ApiVolume.day == row.day)
                    .values(bytes=ApiVolume.bytes + size, answers=ApiVolume.answers + 1))
