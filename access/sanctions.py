"""Violations (point 19) and termination (point 20).

Point 19: a violation is notified the same day with a deadline to improve; linking is
suspended at once (every token and session of the agency revoked); the provider restores
it after review; if it is still unimproved six months after the notice, the grant lapses
and the agency must apply again. Point 20: termination is requested in writing at least one
month before its effective date; access ends at the start of that date (Asia/Taipei).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from access import audit
from access.accounts import AccessError, revoke_agency_access
from access.calendar import add_months, local_date, start_of_day
from access.models import Grant, Termination, User, Violation
from access.permissions import area_covers

LAPSE_MONTHS = 6
NOTICE_MONTHS = 1


class SanctionError(AccessError):
    """An illegal violation, restore or termination step."""


def lapse_date(violation: Violation) -> date:
    """The Taipei date from which an unimproved violation's grant lapses (notice + 6 months)."""
    return add_months(local_date(violation.noticed_at), LAPSE_MONTHS)


def sanction_problem(official: User, grant: Grant) -> str:
    """Why ``official`` may not suspend or restore ``grant`` ("" when they may): only a
    provider official whose jurisdiction encloses every area of the grant (point 6)."""
    if official.role != "provider_official" or official.provider is None:
        return f"{official.username!r} is not a provider official; only officials sanction"
    outside = [a for a in grant.areas if not area_covers(official.provider.jurisdiction, a)]
    if outside:
        return (f"grant {grant.id} names areas outside {official.provider.jurisdiction} "
                f"({', '.join(outside)}); only a provider enclosing them all acts (point 6)")
    return ""


def _check_sanctioner(session: Session, official: User, grant: Grant, now: datetime) -> None:
    """Audit a refused sanction, commit that record, raise."""
    problem = sanction_problem(official, grant)
    if problem:
        audit.record(session, official.username, "sanction.refused", f"grant:{grant.id}", now,
                     {"reason": problem}, agency_id=grant.agency_id)
        session.commit()
        raise SanctionError(problem)


def record_violation(
    session: Session, grant: Grant, official: User, description: str, deadline: date, now: datetime
) -> Violation:
    """Record a violation, notify the agency today and suspend its grant and access at once."""
    _check_sanctioner(session, official, grant, now)
    if grant.state in ("lapsed", "terminated"):
        raise SanctionError(f"grant {grant.id} is {grant.state}; nothing to suspend")
    if deadline < local_date(now):
        raise SanctionError(f"deadline {deadline} is before today's notice ({local_date(now)})")
    violation = Violation(
        grant_id=grant.id,
        description=description,
        recorded_by=official.id,
        noticed_at=now,
        deadline=deadline,
    )
    session.add(violation)
    grant.state = "suspended"
    revoked = revoke_agency_access(session, grant.agency_id, now)
    session.flush()
    audit.record(
        session,
        official.username,
        "grant.suspended",
        f"grant:{grant.id}",
        now,
        {
            "violation": violation.id,
            "description": description,
            "notice_date": str(local_date(now)),
            "deadline": str(deadline),
            "revoked_credentials": revoked,
        },
        agency_id=grant.agency_id,
    )
    return violation


def _open_violations(session: Session, grant: Grant) -> list[Violation]:
    return list(
        session.scalars(
            select(Violation)
            .where(
                Violation.grant_id == grant.id,
                Violation.restored_at.is_(None),
                Violation.lapsed_at.is_(None),
            )
            .order_by(Violation.id)
        )
    )


def _lapse(session: Session, violation: Violation, now: datetime, actor: str) -> None:
    grant = violation.grant
    violation.lapsed_at = now
    grant.state = "lapsed"
    audit.record(
        session,
        actor,
        "grant.lapsed",
        f"grant:{grant.id}",
        now,
        {
            "violation": violation.id,
            "noticed": str(local_date(violation.noticed_at)),
            "lapse_date": str(lapse_date(violation)),
        },
        agency_id=grant.agency_id,
    )


def restore(
    session: Session, violation: Violation, official: User, note: str, now: datetime
) -> None:
    """Restore linking after review; refused (and the grant lapses) from notice + 6 months on."""
    _check_sanctioner(session, official, violation.grant, now)
    if violation.restored_at is not None or violation.lapsed_at is not None:
        raise SanctionError(f"violation {violation.id} is already closed")
    if local_date(now) >= lapse_date(violation):
        _lapse(session, violation, now, official.username)
        session.commit()
        raise SanctionError(
            f"violation {violation.id} was unimproved for six months (notice "
            f"{local_date(violation.noticed_at)}); the grant has lapsed and the "
            "agency must apply again (point 19)"
        )
    violation.restored_at, violation.review_note = now, note
    grant = violation.grant
    if grant.state == "suspended" and not _open_violations(session, grant):
        grant.state = "active"
    audit.record(
        session,
        official.username,
        "grant.restored",
        f"grant:{grant.id}",
        now,
        {"violation": violation.id, "note": note},
        agency_id=grant.agency_id,
    )


def lapse_overdue(session: Session, now: datetime, actor: str = "system") -> list[Violation]:
    """Lapse every grant whose violation is still open six months after its notice."""
    overdue = [
        v
        for v in session.scalars(
            select(Violation)
            .where(Violation.restored_at.is_(None), Violation.lapsed_at.is_(None))
            .order_by(Violation.id)
        )
        if local_date(now) >= lapse_date(v)
    ]
    for violation in overdue:
        _lapse(session, violation, now, actor)
    return overdue


def request_termination(
    session: Session,
    grant: Grant,
    letter_ref: str,
    requested_on: date,
    effective_on: date,
    now: datetime,
    actor: str = "system",
) -> Termination:
    """Record a written termination request; the effective date must be ≥ one month after it."""
    earliest = add_months(requested_on, NOTICE_MONTHS)
    if effective_on < earliest:
        raise SanctionError(
            f"termination requested on {requested_on} can take effect on "
            f"{earliest} at the earliest (one month's written notice, point 20), "
            f"not {effective_on}"
        )
    if grant.state in ("lapsed", "terminated"):
        raise SanctionError(f"grant {grant.id} is already {grant.state}")
    if not letter_ref.strip():
        raise SanctionError("a termination needs the reference of the written request")
    termination = Termination(
        grant_id=grant.id,
        letter_ref=letter_ref,
        requested_on=requested_on,
        effective_on=effective_on,
        recorded_at=now,
    )
    session.add(termination)
    ends = start_of_day(effective_on)
    grant.ends_at = ends if grant.ends_at is None else min(grant.ends_at, ends)
    session.flush()
    audit.record(
        session,
        actor,
        "grant.termination_requested",
        f"grant:{grant.id}",
        now,
        {
            "letter": letter_ref,
            "requested_on": str(requested_on),
            "effective_on": str(effective_on),
        },
        agency_id=grant.agency_id,
    )
    return termination


def close_terminated(session: Session, now: datetime, actor: str = "system") -> list[Grant]:
    """Mark grants whose termination date has passed as terminated (`can_view` already refuses)."""
    due = list(
        session.scalars(
            select(Grant).where(
                Grant.ends_at.is_not(None), Grant.ends_at <= now, Grant.state != "terminated"
            )
        )
    )
    for grant in due:
        grant.state = "terminated"
        audit.record(
            session,
            actor,
            "grant.terminated",
            f"grant:{grant.id}",
            now,
            {"ends_at": grant.ends_at.isoformat() if grant.ends_at else None},
            agency_id=grant.agency_id,
        )
    return due
