"""How long a login attempt must wait, so that guessing is slow and the owner is not locked out.

Counting failures per account alone lets anyone lock a known user out (five wrong
passwords) and does nothing against one password tried on many accounts. Failed (and
successful) attempts are kept in ``login_attempts`` (shared by every worker) under the
SHA-256 of the user name as typed (case-folded) and of the client address, and three
limits apply before a password is even checked:

* **pair** — ``PAIR_LIMIT`` failures of one name from one address within ``PAIR_LOCK``
  lock that pair until the oldest of them is ``PAIR_LOCK`` old (a success of the pair
  clears its count). The owner at another address is not affected.
* **client** — ``CLIENT_LIMIT`` failures from one address within ``CLIENT_WINDOW``, whatever
  the names, stop that address until the oldest is ``CLIENT_WINDOW`` old: password
  spraying is slowed to ``CLIENT_LIMIT`` guesses per window and address.
* **name** — beyond ``NAME_FREE`` failures of one name within ``NAME_WINDOW`` from all
  addresses together (an attacker with many addresses), each further attempt waits
  ``2 ** (failures - NAME_FREE)`` seconds after the last failure, at most ``MAX_DELAY``:
  a progressive delay, never a lockout, and an address the name logged in from within
  ``KNOWN_FOR`` (the owner's usual place) is exempt.

Unknown names are counted and delayed exactly like known ones, so a wait reveals nothing
about which names exist. Attempts refused by a wait are not counted (they checked nothing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, false, func, or_, select
from sqlalchemy.orm import Session

from access.models import LoginAttempt

PAIR_LIMIT = 5
PAIR_LOCK = timedelta(minutes=15)
CLIENT_LIMIT = 20
CLIENT_WINDOW = timedelta(minutes=15)
NAME_FREE = 10
NAME_WINDOW = timedelta(hours=1)
MAX_DELAY = timedelta(seconds=60)
KNOWN_FOR = timedelta(days=30)


@dataclass(frozen=True)
class Wait:
    """Seconds to wait (0: the attempt may go ahead) and why, for the audit log."""

    seconds: int
    reason: str = ""


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def name_key(username: str) -> str:
    return _key("name:" + username.strip().casefold())


def client_key(client: str) -> str:
    return _key("client:" + client)


def _failures(session: Session, since: datetime, *conditions: object) -> list[datetime]:
    """Failure times matching ``conditions`` after ``since``, newest first."""
    return list(session.scalars(
        select(LoginAttempt.at)
        .where(LoginAttempt.succeeded.is_(False), LoginAttempt.at > since, *conditions)
        .order_by(LoginAttempt.at.desc())))


def _last_success(session: Session, name: str, client: str) -> datetime | None:
    return session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.name_hash == name, LoginAttempt.client_hash == client,
        LoginAttempt.succeeded.is_(True)))


def _seconds(until: datetime, now: datetime) -> int:
    """Whole seconds from ``now`` to ``until``, rounded up (0 when past)."""
    left = (until - now).total_seconds()
    return max(0, int(-(-left // 1)))


def wait(session: Session, username: str, client: str, now: datetime) -> Wait:
    """How long this attempt of ``username`` from ``client`` must wait (0: go ahead)."""
    name, address = name_key(username), client_key(client)
    success = _last_success(session, name, address)
    since = max(now - PAIR_LOCK, success) if success else now - PAIR_LOCK
    pair = _failures(session, since, LoginAttempt.name_hash == name,
                     LoginAttempt.client_hash == address)
    waits = [Wait(0)]
    if len(pair) >= PAIR_LIMIT:
        waits.append(Wait(_seconds(pair[PAIR_LIMIT - 1] + PAIR_LOCK, now), "locked"))
    spread = _failures(session, now - CLIENT_WINDOW, LoginAttempt.client_hash == address)
    if len(spread) >= CLIENT_LIMIT:
        waits.append(Wait(_seconds(spread[CLIENT_LIMIT - 1] + CLIENT_WINDOW, now),
                          "throttled: too many failures from this address"))
    known = success is not None and now - success < KNOWN_FOR
    named = _failures(session, now - NAME_WINDOW, LoginAttempt.name_hash == name)
    if len(named) >= NAME_FREE and not known:
        delay = min(timedelta(seconds=2 ** (len(named) - NAME_FREE)), MAX_DELAY)
        waits.append(Wait(_seconds(named[0] + delay, now),
                          "delayed: too many failures for this user name"))
    return max(waits, key=lambda w: w.seconds)


def record(session: Session, username: str, client: str, now: datetime,
           succeeded: bool) -> None:
    """Remember an attempt whose password was checked; forget what no limit reads any more
    (failures older than every window, successes older than ``KNOWN_FOR`` or superseded)."""
    name, address = name_key(username), client_key(client)
    oldest = now - max(PAIR_LOCK, CLIENT_WINDOW, NAME_WINDOW)
    session.execute(delete(LoginAttempt).where(or_(
        and_(LoginAttempt.succeeded.is_(False), LoginAttempt.at <= oldest),
        and_(LoginAttempt.succeeded.is_(True), LoginAttempt.at <= now - KNOWN_FOR),
        and_(LoginAttempt.succeeded.is_(True), LoginAttempt.name_hash == name,
             LoginAttempt.client_hash == address) if succeeded else false(),
    )))
    session.add(LoginAttempt(name_hash=name, client_hash=address, at=now, succeeded=succeeded))
    session.flush()


def forget(session: Session, username: str) -> None:
    """Drop the failures of ``username`` (a new password was set: its locks end)."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.name_hash == name_key(username),
                                               LoginAttempt.succeeded.is_(False)))
