"""Personnel changes of linking agencies (point 12: 連結機關承辦人員及單位主管異動時，應函送
人員異動名單予提供機關備查).

A change is the agency's letter (函) reporting a new case officer or unit supervisor, put on
record by a provider official who reaches the agency (point 6). It names the post, the
person, the date the change took effect (today or earlier: a change is reported once made)
and the letter's reference. Recording it may revoke, in the same step, every API token and
login session of the departing person's account.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from access import audit
from access.accounts import revoke_user_access
from access.agencies import agency_reach_problem, refuse
from access.calendar import local_date
from access.models import Agency, PersonnelChange, User
from access.rules import ApplicationError, text_problem

POSTS = ("case_officer", "unit_supervisor")
POST_NAMES = {"case_officer": "承辦人 / case officer", "unit_supervisor": "單位主管 / unit supervisor"}


def record_personnel_change(
    session: Session,
    agency: Agency,
    post: str,
    person: str,
    effective_on: date,
    now: datetime,
    *,
    letter_ref: str,
    by: User,
    departing: User | None = None,
) -> PersonnelChange:
    """Put a reported change on record; with ``departing``, revoke that account's tokens and
    sessions at once.

    Raises
    ------
    NotPermitted
        ``by`` is not an official reaching the agency (audited, committed).
    ApplicationError
        An unknown post, no person or letter, a future date, a departing account of another
        agency.
    """
    if problem := agency_reach_problem(session, by, agency):
        refuse(session, by, "personnel.record", f"agency:{agency.id}", now, problem, agency.id)
    if post not in POSTS:
        raise ApplicationError(f"unknown post {post!r}; expected one of {', '.join(POSTS)}")
    person = " ".join((person or "").split())
    letter_ref = " ".join((letter_ref or "").split())
    if not person:
        raise ApplicationError("a personnel change names the person taking the post")
    if not letter_ref or text_problem(letter_ref, 2):
        raise ApplicationError(
            "a personnel change needs the reference of the agency's letter (函, point 12)")
    if effective_on > local_date(now):
        raise ApplicationError(
            f"the change takes effect on {effective_on}, after today ({local_date(now)}, "
            "Taipei); a change is reported once it has been made (point 12)")
    if departing is not None and departing.agency_id != agency.id:
        raise ApplicationError(
            f"{departing.username!r} is not an account of {agency.name}; only its own "
            "departing staff's access is revoked")
    change = PersonnelChange(
        agency_id=agency.id, post=post, person=person, effective_on=effective_on,
        reported_at=now, letter_ref=letter_ref, recorded_by=by.id,
        departing_user_id=departing.id if departing else None,
    )
    session.add(change)
    revoked = revoke_user_access(session, departing, now) if departing is not None else 0
    session.flush()
    audit.record(
        session, by.username, "personnel.changed", f"agency:{agency.id}", now,
        {"change": change.id, "post": post, "person": person, "effective_on": str(effective_on),
         "letter": letter_ref,
         "departing": departing.username if departing else None,
         "revoked_credentials": revoked},
        agency_id=agency.id,
    )
    return change


def personnel_changes(session: Session, agency: Agency | None = None) -> list[PersonnelChange]:
    """Recorded changes, of one agency or all, oldest first."""
    query = select(PersonnelChange).order_by(PersonnelChange.id)
    if agency is not None:
        query = query.where(PersonnelChange.agency_id == agency.id)
    return list(session.scalars(query))
