"""Accounts: argon2 passwords, lockout with one generic message, tokens hashed at rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.accounts import (
    GENERIC_LOGIN_ERROR,
    IDLE_TIMEOUT,
    LOCKOUT,
    MAX_FAILURES,
    LoginFailed,
    PartyError,
    add_user,
    hash_secret,
    issue_token,
    login,
    revoke_agency_access,
    server_secret,
    session_user,
    token_user,
)
from access.models import ApiToken, AuditEntry, LoginSession, User
from tests.access.conftest import NOW, World


def _failure(session: Session, username: str, password: str, when: object = NOW) -> str:
    with pytest.raises(LoginFailed) as caught:
        login(session, username, password, when)  # type: ignore[arg-type]
    return str(caught.value)


def test_login_success_audited_and_session_usable(session: Session, world: World) -> None:
    result = login(session, "alice", "pw-alice", NOW)
    assert result.user.username == "alice"
    assert session_user(session, result.session_token, NOW).username == "alice"  # type: ignore[union-attr]
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "alice")).all()
    assert "login" in actions


def test_password_stored_as_argon2(session: Session, world: World) -> None:
    stored = session.scalars(select(User.password_hash).where(User.username == "alice")).one()
    assert stored.startswith("$argon2") and "pw-alice" not in stored


def test_lockout_same_generic_message_for_every_failure(session: Session, world: World) -> None:
    unknown = _failure(session, "nobody", "whatever")
    wrong = _failure(session, "alice", "wrong")
    for _ in range(MAX_FAILURES - 1):  # the fifth consecutive failure locks the account
        _failure(session, "alice", "wrong")
    locked = _failure(session, "alice", "pw-alice", NOW + timedelta(minutes=1))  # right password
    assert unknown == wrong == locked == GENERIC_LOGIN_ERROR
    # after the lockout period the right password works again
    assert login(session, "alice", "pw-alice", NOW + LOCKOUT + timedelta(seconds=1)).user.username
    reasons = [
        e.details["reason"]
        for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "login.failed").order_by(AuditEntry.seq)
        )
    ]
    assert reasons[0] == "unknown user" and reasons[1] == "wrong password"
    assert reasons[MAX_FAILURES].startswith("wrong password; locked until")
    assert reasons[-1] == "locked" and len(reasons) == MAX_FAILURES + 2


def test_success_resets_failure_count(session: Session, world: World) -> None:
    for _ in range(MAX_FAILURES - 1):
        _failure(session, "alice", "wrong")
    login(session, "alice", "pw-alice", NOW)
    _failure(session, "alice", "wrong")
    assert login(session, "alice", "pw-alice", NOW).user.username == "alice"


def test_token_hashed_at_rest_and_revocable(session: Session, world: World) -> None:
    token = issue_token(session, world.user, NOW)
    session.commit()
    stored = session.scalars(select(ApiToken.token_hash)).all()
    assert stored == [hash_secret(token)] and token not in stored
    assert token_user(session, token, NOW).username == "alice"  # type: ignore[union-attr]
    assert token_user(session, token + "x", NOW) is None
    assert revoke_agency_access(session, world.agency.id, NOW) == 1
    session.expire_all()
    assert token_user(session, token, NOW) is None


def test_token_expiry(session: Session, world: World) -> None:
    token = issue_token(session, world.user, NOW, valid_for=timedelta(days=1))
    assert token_user(session, token, NOW + timedelta(hours=23)) is not None
    assert token_user(session, token, NOW + timedelta(days=1)) is None


def test_provider_users_get_no_api_token(session: Session, world: World) -> None:
    with pytest.raises(PartyError):
        issue_token(session, world.moi_official, NOW)


def test_only_public_agencies_and_consistent_roles(session: Session, world: World) -> None:
    from access.agencies import add_agency

    with pytest.raises(PartyError, match="public"):
        add_agency(session, "某股份有限公司", NOW, code="A99000000Z", kind="central",
                   by=world.moi_official)
    with pytest.raises(PartyError):
        add_user(session, "bob", "pw", "agency_user", NOW, provider=world.moi)
    with pytest.raises(PartyError):
        add_user(session, "bob", "pw", "provider_official", NOW, agency=world.agency)
    with pytest.raises(PartyError):
        add_user(session, "bob", "pw", "root", NOW, agency=world.agency)


def test_session_lifetime_and_logout(session: Session, world: World) -> None:
    from access.accounts import SESSION_LIFETIME, logout

    value = login(session, "alice", "pw-alice", NOW).session_token
    end = NOW + SESSION_LIFETIME  # the absolute limit holds however busy the session is
    step = timedelta(minutes=20)
    moments = [NOW + step * k for k in range(1, SESSION_LIFETIME // step)]
    assert all(session_user(session, value, moment) is not None for moment in moments)
    assert session_user(session, value, end - timedelta(seconds=1)) is not None
    assert session_user(session, value, end) is None
    logout(session, value, NOW)
    assert session_user(session, value, NOW) is None


def test_idle_session_is_revoked_and_audited_activity_keeps_it(
    session: Session, world: World
) -> None:
    """Idle 30 minutes: gone (revoked, audited). Active every 20 minutes: alive after 1 h."""
    active = login(session, "alice", "pw-alice", NOW).session_token
    idle = login(session, "alice", "pw-alice", NOW).session_token
    for minutes in (20, 40, 60):
        assert session_user(session, active, NOW + timedelta(minutes=minutes)) is not None
    assert session_user(session, idle, NOW + IDLE_TIMEOUT - timedelta(seconds=1)) is not None
    later = NOW + IDLE_TIMEOUT - timedelta(seconds=1) + IDLE_TIMEOUT
    assert session_user(session, idle, later) is None
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == hash_secret(idle)))
    assert row is not None and row.revoked_at == later
    assert session_user(session, idle, later - timedelta(minutes=29)) is None  # stays revoked
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "alice")).all()
    assert actions.count("session.idle") == 1


def test_server_secret_is_made_once_and_shared(session: Session, world: World) -> None:
    first = server_secret(session, "dashboards", NOW)
    session.commit()
    assert len(first) == 32
    assert server_secret(session, "dashboards", NOW + timedelta(days=1)) == first
    assert server_secret(session, "other", NOW) != first
