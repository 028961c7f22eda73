"""The linking-governance schema: parties, accounts, applications, grants, sanctions, audit.

Times are stored in UTC (``UTCDateTime`` returns aware datetimes on every database);
calendar rules (notice periods, lapse, dispute windows) are evaluated in Asia/Taipei by the
modules that apply them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NATIONAL = "00000"
# Roles of point 3/6: providers' staff and the linking agencies' users.
ROLES = ("provider_official", "provider_statistician", "auditor", "agency_user")
PROVIDER_ROLES = ("provider_official", "provider_statistician", "auditor")
# Point 2: the three delivery channels.
CHANNELS = ("online_query", "file_transfer", "media_exchange")
# Point 3: linking parties are 公務機關, which the Personal Data Protection Act (art. 2(7))
# defines as central or local government agencies and administrative corporations.
AGENCY_KINDS = {
    "central": "中央機關 / central government agency",
    "local": "地方機關 / local government agency",
    "administrative_corporation": "行政法人 / administrative corporation",
}

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; pass an aware (UTC) time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with deterministic constraint names (stable migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class Provider(Base):
    """MOI (national) or one of the 22 city/county governments (its own area) — point 6."""

    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # "MOI" or the county code
    name: Mapped[str] = mapped_column(String(100))
    jurisdiction: Mapped[str] = mapped_column(String(5))  # "00000" or a county code


class Agency(Base):
    """A linking agency; only public agencies may link (point 3).

    ``code`` is its official agency code (機關代碼) and ``kind`` one of ``AGENCY_KINDS``;
    both are required of every agency registered from migration 0007 on (rows from before
    stay null and may not apply until an official records them).
    """

    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str | None] = mapped_column(String(10), unique=True)
    kind: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class User(Base):
    """A person: belongs to exactly one agency or one provider."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("(agency_id IS NULL) <> (provider_id IS NULL)", name="one_party"),
        CheckConstraint("role IN ('" + "','".join(ROLES) + "')", name="role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    agency: Mapped[Agency | None] = relationship()
    provider: Mapped[Provider | None] = relationship()


class ApiToken(Base):
    """An API bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship()


class LoginSession(Base):
    """A signed-in session (dashboards); only the SHA-256 of its cookie value is stored."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    # the last request seen (to a minute): the idle timeout holds across workers and restarts
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship()


class ServerSecret(Base):
    """A server-side secret shared by every worker (e.g. the key of the CSRF tokens), made
    once on first use when no environment variable provides it."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class ApiRequest(Base):
    """One online-query API request, by the SHA-256 of its token (or address): the rate limit
    counts these, so every worker of a multi-worker server sees the same count."""

    __tablename__ = "api_requests"
    __table_args__ = (Index("ix_api_requests_key_at", "key_hash", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class ApiVolume(Base):
    """Bytes of online-query answers an agency obtained on one Asia/Taipei day: the API's
    per-agency daily volume limit counts these (every worker shares the count).
    ``refused_at`` is the first refusal of the day, so the audit log gets one entry per day
    rather than one per refused request."""

    __tablename__ = "api_volume"
    agency_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    answers: Mapped[int] = mapped_column(Integer, default=0)
    refused_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """A web login whose password was checked, by the SHA-256 of the user name as typed and
    of the client address: the login throttle (``access.login_throttle``) counts these, so
    every worker sees the same count. Migration 0006."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_name_at", "name_hash", "at"),
        Index("ix_login_attempts_client_at", "client_hash", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name_hash: Mapped[str] = mapped_column(String(64))
    client_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    succeeded: Mapped[bool]


class Application(Base):
    """An agency's application (point 10): data items, areas, channels, purpose, rules."""

    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint("status IN ('submitted','returned','approved','rejected')", name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    tables: Mapped[list[str]]
    areas: Mapped[list[str]]
    channels: Mapped[list[str]]
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)  # required from 0007 on (point 13(1))
    rules: Mapped[dict[str, Any]]  # point 13 item -> the agency's text
    requested_from: Mapped[date | None] = mapped_column(Date)  # the validity asked for
    requested_to: Mapped[date | None] = mapped_column(Date)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    agency: Mapped[Agency] = relationship()
    provider: Mapped[Provider] = relationship()


class Grant(Base):
    """The permissions a provider set (point 11): tables × areas × channels × validity."""

    __tablename__ = "grants"
    __table_args__ = (
        CheckConstraint("state IN ('active','suspended','lapsed','terminated')", name="state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    tables: Mapped[list[str]]
    areas: Mapped[list[str]]
    channels: Mapped[list[str]]
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime]  # exclusive
    state: Mapped[str] = mapped_column(String(16), default="active")
    ends_at: Mapped[datetime | None]  # termination effective time (point 20)
    created_at: Mapped[datetime]
    agency: Mapped[Agency] = relationship()
    provider: Mapped[Provider] = relationship()


class PersonnelChange(Base):
    """A reported change of case officer or unit supervisor (point 12)."""

    __tablename__ = "personnel_changes"
    __table_args__ = (CheckConstraint("post IN ('case_officer','unit_supervisor')", name="post"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    post: Mapped[str] = mapped_column(String(32))
    person: Mapped[str] = mapped_column(String(200))
    effective_on: Mapped[date] = mapped_column(Date)
    reported_at: Mapped[datetime]
    letter_ref: Mapped[str | None] = mapped_column(String(200))  # the agency's letter (函)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    departing_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Violation(Base):
    """A violation (point 19): same-day notice, deadline, suspension, restore or lapse."""

    __tablename__ = "violations"
    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    noticed_at: Mapped[datetime]  # the notice goes out the day it is recorded
    deadline: Mapped[date] = mapped_column(Date)
    restored_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)
    lapsed_at: Mapped[datetime | None]
    grant: Mapped[Grant] = relationship()


class Termination(Base):
    """A written request to end linking (point 20), at least one month ahead."""

    __tablename__ = "terminations"
    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), index=True)
    letter_ref: Mapped[str] = mapped_column(String(200))
    requested_on: Mapped[date] = mapped_column(Date)
    effective_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AuditEntry(Base):
    """One link of the append-only, hash-chained audit log (point 18)."""

    __tablename__ = "audit_entries"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    agency_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no FK: never blocks
    action: Mapped[str] = mapped_column(String(64), index=True)
    object: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Delivery(Base):
    """Data handed to an agency through one channel (points 2, 15, 17), kept until expiry.

    The id is server-generated; files are found by id only, never by a client's path.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending','ready','failed')", name="status"),
        CheckConstraint(
            "channel IN ('online_query','file_transfer','media_exchange')", name="channel"
        ),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(16))
    tables: Mapped[list[str]]
    period: Mapped[str] = mapped_column(String(16))
    areas: Mapped[list[str]]
    options: Mapped[dict[str, Any]]  # how to (re)produce it: format, encoding, release folder
    status: Mapped[str] = mapped_column(String(16), default="ready")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(Text)  # server-side file or folder
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]  # the agency received it (dispute window starts)
    expires_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]


class Extension(Base):
    """An agency's request, before expiry, to keep a delivery longer (point 17)."""

    __tablename__ = "extensions"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    approved: Mapped[bool | None]


class Dispute(Base):
    """An agency's doubt about received data (point 16) and the provider's resolution."""

    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    raised_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    raised_at: Mapped[datetime]
    description: Mapped[str] = mapped_column(Text)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)


class AuditCheckpoint(Base):
    """A chain head kept beside the log (point 18): issued by ``audit checkpoint`` and by every
    ``maintain`` run, so that a later ``audit verify`` notices a log cut short or emptied,
    which the chain alone cannot show. ``document`` is the checkpoint as issued (signed:
    ed25519 or hmac-sha256; ``unsigned`` when no key was configured)."""

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    form: Mapped[str] = mapped_column(String(16))
    document: Mapped[str] = mapped_column(Text)
