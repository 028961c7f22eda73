"""Parties and accounts: providers, agencies, users, argon2 passwords, lockout, tokens.

A failed login never reveals why it failed: unknown user, wrong password and locked account
all get ``GENERIC_LOGIN_ERROR``; the reason goes only to the audit log (point 18).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access import audit, login_throttle
from access.models import (
    NATIONAL,
    PROVIDER_ROLES,
    ROLES,
    Agency,
    ApiToken,
    LoginSession,
    Provider,
    ServerSecret,
    User,
)
from stats.codes import COUNTY_NAMES
from stats.said import Said, said
from stats.taipei import format_time

GENERIC_LOGIN_ERROR = "invalid username or password, or the account is locked"
MAX_FAILURES = login_throttle.PAIR_LIMIT  # from one address: that address is locked out
LOCKOUT = login_throttle.PAIR_LOCK
SESSION_LIFETIME = timedelta(hours=8)  # one working day
IDLE_TIMEOUT = timedelta(minutes=30)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most once a minute
TOKEN_PREFIX = "pst_"
# A user name: a lower-case letter, then lower-case letters, digits, "_", "." or "-", 2 to 32
# characters in all. Nothing a spreadsheet reads as a formula (=HYPERLINK(...), +, -, @),
# no spaces or look-alike letters, safe in file names and log lines.
USERNAME = re.compile(r"[a-z][a-z0-9_.-]{1,31}")
MAX_USERNAME = 100  # the column's width: a longer name typed at login cannot exist
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes any length; a megabyte "password" is only a cost
MIN_DISTINCT = 5  # "aaaaaaaaaaaa" and "abababababab" are not passwords
# refused whatever the case: the lists' favourites of 12+ characters and this system's own
# names (the demo's accounts have random passwords and never need these)
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "12345678901234", "123456789qwe", "1q2w3e4r5t6y",
    "qwertyuiop12", "qwertyuiopas", "qwerty123456", "password1234", "password12345",
    "passwordpassword", "password123!", "iloveyou1234", "abcdefghijkl", "abc123456789",
    "changeme1234", "welcome12345", "letmein12345", "administrator", "admin1234567",
    "p@ssw0rd1234", "passw0rd1234", "popstats1234", "popstatspopstats", "demo-password",
    "demopassword", "population12", "taiwan123456", "zaq12wsxcde3", "1qaz2wsx3edc",
})
TOKEN_LIFETIME = timedelta(days=90)  # default; POPSTATS_TOKEN_DAYS overrides
MAX_TOKEN_DAYS = 366

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password")  # verified for unknown users: same cost


class AccessError(Exception):
    """Base of the access layer's domain errors."""


LOGIN_REASONS_ZH = {
    "unknown user": "無此帳號",
    "wrong password": "密碼錯誤",
    "locked": "帳號與來源暫時鎖定",
    "throttled: too many failures from this address": "此來源失敗次數過多，暫緩登入",
    "delayed: too many failures for this user name": "此帳號失敗次數過多，延遲登入",
}


def login_reason_zh(reason: str) -> str:
    """Why a login failed, in Chinese (for the audit log an official reads)."""
    return LOGIN_REASONS_ZH.get(reason, reason)


class LoginFailed(AccessError):
    """A login that did not succeed (one message whatever the reason); ``retry_after``:
    seconds the login throttle asks to wait (0 when the password was checked)."""

    def __init__(self, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PartyError(AccessError):
    """An invalid provider, agency or user."""


def hash_secret(value: str) -> str:
    """SHA-256 hex of a token or session value (what is stored instead of it)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def ensure_provider(session: Session, code: str, name: str, jurisdiction: str) -> Provider:
    """The provider with ``code``, created if missing; MOI is national, a county its own area."""
    if jurisdiction != NATIONAL and jurisdiction not in COUNTY_NAMES:
        raise PartyError(f"unknown jurisdiction {jurisdiction!r}; expected 00000 or a county code")
    provider = session.scalar(select(Provider).where(Provider.code == code))
    if provider is None:
        provider = Provider(code=code, name=name, jurisdiction=jurisdiction)
        session.add(provider)
        session.flush()
    return provider


def ensure_standard_providers(session: Session) -> dict[str, Provider]:
    """MOI and the 22 city/county governments (point 6), keyed by code (created if missing)."""
    wanted = {"MOI": ("內政部", NATIONAL)}
    wanted |= {code: (f"{name}政府", code) for code, name in COUNTY_NAMES.items()}
    existing = {
        p.code: p for p in session.scalars(select(Provider).where(Provider.code.in_(wanted)))
    }
    for code, (name, jurisdiction) in wanted.items():
        if code not in existing:
            existing[code] = Provider(code=code, name=name, jurisdiction=jurisdiction)
            session.add(existing[code])
    session.flush()
    return existing


def add_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    now: datetime,
    *,
    agency: Agency | None = None,
    provider: Provider | None = None,
    actor: str = "system",
) -> User:
    """Create a user of one agency (role ``agency_user``) or one provider (the other roles)."""
    if role not in ROLES:
        raise PartyError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if (agency is None) == (provider is None):
        raise PartyError("a user belongs to exactly one agency or one provider")
    if (role in PROVIDER_ROLES) != (provider is not None):
        raise PartyError(
            f"role {role!r} does not fit a user of {'a provider' if provider else 'an agency'}"
        )
    check_username(username)
    check_password(username, password)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise PartyError(f"user {username!r} already exists")
    user = User(
        username=username,
        password_hash=_hasher.hash(password),
        role=role,
        agency_id=agency.id if agency else None,
        provider_id=provider.id if provider else None,
        failed_logins=0,
        created_at=now,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.added",
        f"user:{user.id}",
        now,
        {"username": username, "role": role},
        agency_id=user.agency_id,
    )
    return user


def check_username(username: str) -> None:
    """Refuse a user name outside ``USERNAME`` (PartyError naming the rule)."""
    if not USERNAME.fullmatch(username):
        raise PartyError(f"user name {username[:40]!r} does not fit the pattern: a lower-case "
                         "letter, then lower-case letters, digits, _ . or -, 2 to 32 in all")


def check_password(username: str, password: str) -> None:
    """Refuse a password below the policy: at least ``MIN_PASSWORD`` characters (at most
    ``MAX_PASSWORD``), ``MIN_DISTINCT`` different ones, not a common or demo password, not
    containing the user name (PartyError saying which rule; never echoing the password)."""
    folded = password.casefold()
    if len(password) < MIN_PASSWORD:
        raise PartyError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise PartyError(f"the password is too long: at most {MAX_PASSWORD} characters")
    if len(set(password)) < MIN_DISTINCT:
        raise PartyError(f"the password repeats itself: use at least {MIN_DISTINCT} different "
                         "characters")
    if folded in COMMON_PASSWORDS:
        raise PartyError("the password is on the list of common passwords; choose another")
    if username and username.casefold() in folded:
        raise PartyError("the password contains the user name; choose another")


def set_password(session: Session, user: User, password: str) -> None:
    """Replace a user's password (checked against the policy) and lift its login locks."""
    check_password(user.username, password)
    login_throttle.forget(session, user.username)
    user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until = 0, None
    session.flush()


@dataclass(frozen=True)
class LoginResult:
    """A successful login: the user and the session value for the cookie."""

    user: User
    session_token: str


def login(session: Session, username: str, password: str, now: datetime,
          client: str = "unknown") -> LoginResult:
    """Check a password from ``client`` (the caller's address), unless the login throttle
    (``access.login_throttle``: per name and address pair, per address, per name with a
    progressive delay) says to wait; then nothing is checked.

    Every attempt is audited and committed (a failure's record survives the refusal).

    Raises
    ------
    LoginFailed
        With ``GENERIC_LOGIN_ERROR`` for an unknown user, a wrong password or a locked
        account; ``retry_after`` says how many seconds to wait when the throttle refused.
    """
    actor = username if len(username) <= 64 else username[:61] + "..."  # fits the audit row
    waiting = login_throttle.wait(session, username, client, now)
    user = None if waiting.seconds or len(username) > MAX_USERNAME else \
        session.scalar(select(User).where(User.username == username))
    reason = None
    if waiting.seconds:
        _verify(_DUMMY_HASH, password)
        reason = waiting.reason
    elif user is None:
        _verify(_DUMMY_HASH, password)
        reason = "unknown user"
    elif not _verify(user.password_hash, password):
        reason = "wrong password"
    if reason is not None:
        if not waiting.seconds:
            login_throttle.record(session, username, client, now, succeeded=False)
            locked = login_throttle.wait(session, username, client, now)
            if locked.reason == "locked":
                until = now + timedelta(seconds=locked.seconds)
                reason = said(f"{reason}; locked until {until.isoformat()}",
                              f"{login_reason_zh(reason)}；鎖定至 "
                              f"{format_time(until, 'zh', seconds=True)}")
        reason = reason if isinstance(reason, Said) else said(reason, login_reason_zh(reason))
        audit.record(
            session,
            actor,
            "login.failed",
            f"user:{user.id if user else '?'}",
            now,
            {"reason": reason, "client": client},
            agency_id=user.agency_id if user else None,
        )
        session.commit()
        raise LoginFailed(GENERIC_LOGIN_ERROR, retry_after=waiting.seconds)
    assert user is not None
    login_throttle.record(session, username, client, now, succeeded=True)
    value = secrets.token_urlsafe(32)
    session.add(LoginSession(user_id=user.id, token_hash=hash_secret(value), created_at=now,
                             last_seen_at=now))
    audit.record(session, username, "login", f"user:{user.id}", now, agency_id=user.agency_id)
    session.commit()
    return LoginResult(user, value)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def session_user(
    session: Session, value: str, now: datetime, idle: timedelta | None = IDLE_TIMEOUT
) -> User | None:
    """The user of a live login session, or None: unknown, revoked, older than its lifetime,
    or idle for ``idle`` (then it is revoked and audited). Touches ``last_seen_at``; the
    caller commits. Kept in the database so every worker and a restart agree.
    """
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == hash_secret(value)))
    if row is None or row.revoked_at is not None or now >= row.created_at + SESSION_LIFETIME:
        return None
    seen = row.last_seen_at or row.created_at
    if idle is not None and now - seen >= idle:
        row.revoked_at = now
        audit.record(session, row.user.username, "session.idle", f"user:{row.user_id}", now,
                     {"last_seen_at": seen.isoformat()}, agency_id=row.user.agency_id)
        return None
    if now - seen >= TOUCH_EVERY:
        row.last_seen_at = now
    return row.user


def server_secret(session: Session, name: str, now: datetime) -> bytes:
    """A random secret shared by every worker: made once, then read (a racing worker's
    insert loses to the first one's and reads it)."""
    found = session.get(ServerSecret, name)
    if found is None:
        try:
            with session.begin_nested():
                session.add(ServerSecret(name=name, value=secrets.token_hex(32), created_at=now))
        except IntegrityError:
            pass
        found = session.get(ServerSecret, name, populate_existing=True)
        assert found is not None
    return bytes.fromhex(found.value)


def logout(session: Session, value: str, now: datetime) -> None:
    """End a login session (audited)."""
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == hash_secret(value)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        audit.record(
            session,
            row.user.username,
            "logout",
            f"user:{row.user_id}",
            now,
            agency_id=row.user.agency_id,
        )


def token_lifetime() -> timedelta:
    """How long a new API token lives: ``POPSTATS_TOKEN_DAYS`` days, else 90 (a token that
    never expires outlives the person and the grant it was issued for)."""
    raw = os.environ.get("POPSTATS_TOKEN_DAYS", "").strip()
    if not raw:
        return TOKEN_LIFETIME
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_TOKEN_DAYS:
        raise PartyError(f"POPSTATS_TOKEN_DAYS={raw!r}; expected whole days from 1 to "
                         f"{MAX_TOKEN_DAYS}")
    return timedelta(days=int(raw))


def issue_token(
    session: Session,
    user: User,
    now: datetime,
    valid_for: timedelta | None = None,
    *,
    by: User | None = None,
) -> str:
    """A new API token for an agency user, expiring after ``valid_for`` (default
    ``token_lifetime()``); only its SHA-256 is stored. ``by`` is the acting account: the
    user themself (the default) or a provider official."""
    if user.agency_id is None:
        raise PartyError(f"{user.username!r} is not an agency user; API tokens are for agencies")
    by = by or user
    if by.id != user.id and by.role != "provider_official":
        raise PartyError(f"{by.username!r} may not issue tokens for {user.username!r}; the user "
                         "themself or a provider official does")
    lifetime = token_lifetime() if valid_for is None else valid_for
    if not timedelta(0) < lifetime <= timedelta(days=MAX_TOKEN_DAYS):
        raise PartyError(f"a token lives from 1 to {MAX_TOKEN_DAYS} days, not {lifetime}")
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        token_hash=hash_secret(value),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(token)
    session.flush()
    audit.record(
        session, by.username, "token.issued", f"token:{token.id}", now,
        {"user": user.username, "expires_at": token.expires_at.isoformat()},
        agency_id=user.agency_id,
    )
    return value


def token_user(session: Session, value: str, now: datetime) -> User | None:
    """The user an API token belongs to, or None (unknown, revoked or expired). A token issued
    before tokens expired (no ``expires_at``) lives ``TOKEN_LIFETIME`` from its issue."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(value)))
    if token is None or token.revoked_at is not None:
        return None
    if now >= token_expiry(token):
        return None
    return token.user


def token_expiry(token: ApiToken) -> datetime:
    """When a token stops working (tokens issued before expiry existed: issue + 90 days)."""
    return token.expires_at or token.created_at + TOKEN_LIFETIME


def _revoke(session: Session, user_ids: Any, now: datetime) -> int:
    count = 0
    for model in (ApiToken, LoginSession):
        result = session.execute(
            update(model)
            .where(model.user_id.in_(user_ids), model.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        count += result.rowcount  # type: ignore[attr-defined]
    return count


def revoke_agency_access(session: Session, agency_id: int, now: datetime) -> int:
    """Revoke every token and session of an agency's users at once; returns how many."""
    return _revoke(session, select(User.id).where(User.agency_id == agency_id).scalar_subquery(),
                   now)


def revoke_user_access(session: Session, user: User, now: datetime) -> int:
    """Revoke every token and session of one user (e.g. a departing case officer, point 12);
    returns how many. The caller audits, naming who acted."""
    return _revoke(session, [user.id], now)


def user_tokens(session: Session, user: User | None = None,
                agency_id: int | None = None) -> list[ApiToken]:
    """Tokens (never their values), of one user or one agency's users, oldest first."""
    query = select(ApiToken).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    if agency_id is not None:
        query = query.where(User.agency_id == agency_id)
    return list(session.scalars(query))
