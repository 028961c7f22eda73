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
from access.login_throttle import name_key
from access.models import ApiToken, AuditEntry, LoginAttempt, LoginSession, User
from tests.access.conftest import NOW, World

PASSWORD = "lantern-river-4821"  # the password of every user of the World


def _failure(session: Session, username: str, password: str, when: object = NOW) -> str:
    with pytest.raises(LoginFailed) as caught:
        login(session, username, password, when)  # type: ignore[arg-type]
    return str(caught.value)


def test_login_success_audited_and_session_usable(session: Session, world: World) -> None:
    result = login(session, "alice", PASSWORD, NOW)
    assert result.user.username == "alice"
    assert session_user(session, result.session_token, NOW).username == "alice"  # type: ignore[union-attr]
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "alice")).all()
    assert "login" in actions


def test_password_stored_as_argon2(session: Session, world: World) -> None:
    stored = session.scalars(select(User.password_hash).where(User.username == "alice")).one()
    assert stored.startswith("$argon2") and PASSWORD not in stored


def test_lockout_same_generic_message_for_every_failure(session: Session, world: World) -> None:
    unknown = _failure(session, "nobody", "whatever")
    wrong = _failure(session, "alice", "wrong")
    for _ in range(MAX_FAILURES - 1):  # the fifth consecutive failure locks the account
        _failure(session, "alice", "wrong")
    locked = _failure(session, "alice", PASSWORD, NOW + timedelta(minutes=1))  # right password
    assert unknown == wrong == locked == GENERIC_LOGIN_ERROR
    # after the lockout period the right password works again
    assert login(session, "alice", PASSWORD, NOW + LOCKOUT + timedelta(seconds=1)).user.username
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
    login(session, "alice", PASSWORD, NOW)
    _failure(session, "alice", "wrong")
    assert login(session, "alice", PASSWORD, NOW).user.username == "alice"


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

    value = login(session, "alice", PASSWORD, NOW).session_token
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
    active = login(session, "alice", PASSWORD, NOW).session_token
    idle = login(session, "alice", PASSWORD, NOW).session_token
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


# --- the login throttle: slow the attacker, not the owner ----------------------------------

HOME, ATTACKER, OTHER = "203.0.113.5", "198.51.100.7", "192.0.2.9"


def _try(session: Session, username: str, password: str, when: object, client: str) -> int:
    """Seconds the throttle asked to wait (0: the password was checked and was wrong)."""
    with pytest.raises(LoginFailed) as caught:
        login(session, username, password, when, client=client)  # type: ignore[arg-type]
    return caught.value.retry_after


def test_five_failures_lock_only_that_address_not_the_owner(session: Session, world: World) -> None:
    for k in range(MAX_FAILURES):  # one a second from the attacker's address
        assert _try(session, "alice", "guess", NOW + timedelta(seconds=k), ATTACKER) == 0
    # the pair is locked 15 minutes from its first of the five failures: 900 - 5 s left
    assert _try(session, "alice", PASSWORD, NOW + timedelta(seconds=5), ATTACKER) == 895
    # the owner, at home, logs in at once
    assert login(session, "alice", PASSWORD, NOW + timedelta(seconds=6), client=HOME).user
    # the lock ends exactly when the first failure is 15 minutes old
    last = NOW + LOCKOUT - timedelta(seconds=1)
    assert _try(session, "alice", PASSWORD, last, ATTACKER) == 1
    assert login(session, "alice", PASSWORD, NOW + LOCKOUT, client=ATTACKER).user


def test_spraying_one_password_over_many_names_stops_that_address(
    session: Session, world: World
) -> None:
    from access.login_throttle import CLIENT_LIMIT, CLIENT_WINDOW

    names = [f"user{k:02d}" for k in range(CLIENT_LIMIT)]
    for k, name in enumerate(names):  # unknown names count too: nothing tells them apart
        assert _try(session, name, "Spring2026!!", NOW + timedelta(seconds=k), ATTACKER) == 0
    # the 21st guess, at second 20, waits until the first failure is 15 minutes old
    waited = _try(session, "alice", PASSWORD, NOW + timedelta(seconds=20), ATTACKER)
    assert waited == CLIENT_WINDOW.total_seconds() - 20
    assert login(session, "alice", PASSWORD, NOW + timedelta(seconds=21), client=HOME).user
    assert login(session, "alice", PASSWORD, NOW + CLIENT_WINDOW, client=ATTACKER).user


def test_many_addresses_get_a_growing_delay_never_a_lockout(session: Session, world: World) -> None:
    from access.login_throttle import MAX_DELAY, NAME_FREE

    login(session, "alice", PASSWORD, NOW - timedelta(days=1), client=HOME)  # her usual place
    for k in range(NAME_FREE):  # ten addresses, one guess each, a second apart
        assert _try(session, "alice", "guess", NOW + timedelta(seconds=k), f"10.0.0.{k}") == 0
    at = NOW + timedelta(seconds=NAME_FREE - 1)  # the tenth failure
    # the 11th attempt waits 2 ** (10 - 10) = 1 s after the last failure, then goes ahead
    assert _try(session, "alice", "guess", at, "10.0.1.1") == 1
    assert _try(session, "alice", "guess", at + timedelta(seconds=1), "10.0.1.1") == 0
    # now 11 failures: 2 s; then 12: 4 s … capped at 60 s
    assert _try(session, "alice", "guess", at + timedelta(seconds=2), "10.0.1.2") == 1
    assert _try(session, "alice", "guess", at + timedelta(seconds=3), "10.0.1.2") == 0
    assert _try(session, "alice", "guess", at + timedelta(seconds=4), "10.0.1.3") == 3
    # the owner's usual address is exempt from the delay
    assert login(session, "alice", PASSWORD, at + timedelta(seconds=4), client=HOME).user
    # and a new address of hers waits at most MAX_DELAY, however many failures
    for _ in range(40):  # 40 more failures from elsewhere at one moment
        session.add(LoginAttempt(name_hash=name_key("alice"), client_hash="f" * 64,
                                 at=at + timedelta(seconds=5), succeeded=False))
    session.flush()
    assert _try(session, "alice", PASSWORD, at + timedelta(seconds=5), OTHER) == \
        MAX_DELAY.total_seconds()
    assert login(session, "alice", PASSWORD, at + timedelta(seconds=5) + MAX_DELAY,
                 client=OTHER).user


def test_refusals_are_audited_with_the_address_and_a_bounded_name(
    session: Session, world: World
) -> None:
    _try(session, "=HYPERLINK(\"http://x\")" + "a" * 5000, "x", NOW, ATTACKER)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "login.failed")).one()
    assert len(entry.actor) <= 64 and entry.details == {
        "reason": "unknown user", "reason_zh": "無此帳號", "client": ATTACKER}


# --- user names and passwords -------------------------------------------------------------

@pytest.mark.parametrize("username", ["=HYPERLINK(\"http://evil\")", "Alice", "a", "1alice",
                                      "al ice", "alice@example", "a" * 33, "ａlice", ""])
def test_user_names_outside_the_pattern_are_refused(
    session: Session, world: World, username: str
) -> None:
    with pytest.raises(PartyError, match="pattern"):
        add_user(session, username, "a-long-enough-secret", "agency_user", NOW,
                 agency=world.agency)


@pytest.mark.parametrize(("password", "rule"), [
    ("short-pw-1", "too short"),
    ("aaaaaaaaaaaaaaaa", "repeats"),
    ("Password1234", "common"),
    ("POPSTATS1234", "common"),
    ("my-name-is-carol-ok", "user name"),
    ("x" * 1025 + "abcde", "too long"),
])
def test_passwords_below_the_policy_are_refused(
    session: Session, world: World, password: str, rule: str
) -> None:
    with pytest.raises(PartyError, match=rule):
        add_user(session, "carol", password, "agency_user", NOW, agency=world.agency)
    assert add_user(session, "carol", "twelve-chars", "agency_user", NOW, agency=world.agency)


def test_setting_a_password_follows_the_policy_too(session: Session, world: World) -> None:
    from access.accounts import set_password

    for weak, rule in (("alice-in-wonderland", "user name"), ("changeme", "too short")):
        with pytest.raises(PartyError, match=rule):
            set_password(session, world.user, weak)
    set_password(session, world.user, "a-new-long-secret")
    assert login(session, "alice", "a-new-long-secret", NOW).user.username == "alice"


def test_a_new_password_lifts_the_locks(session: Session, world: World) -> None:
    from access.accounts import set_password

    for _ in range(MAX_FAILURES):
        _try(session, "alice", "guess", NOW, ATTACKER)
    assert _try(session, "alice", PASSWORD, NOW, ATTACKER) > 0
    set_password(session, world.user, "a-new-long-secret")
    assert login(session, "alice", "a-new-long-secret", NOW, client=ATTACKER).user
