"""Violations (point 19) and termination (point 20).

Point 19: a violation is notified the same day with a deadline to improve; linking is
suspended at once (the grant refuses every read; the agency's users and tokens are told
why, on every page and in every API answer: ``access.notices``); the provider restores
it after review; an agency unimproved for more than six months (逾半年) must apply again.
The six months are counted as the Civil Code counts periods (arts. 120-121): the notice day
is not counted, and the period ends at the end (24:00, Taipei) of the day before the
corresponding day six months on — notice on 3/10: the period runs 3/11 … 9/10 and the grant
lapses at 9/10 24:00 (9/11 00:00).

Point 20: the agency gives written notice at least one month before termination. The
notice date is the day it is recorded, or the earlier date of the letter whose reference is
recorded, never before the grant; the effective date is at least a month later and after
the day of recording, so access never ends retroactively; access ends at the start of that
date (Asia/Taipei). Only an official whose jurisdiction encloses the grant records it.
"""

from __future__ import annotations

import calendar as _cal
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from access import audit
from access.accounts import AccessError
from access.calendar import add_months, end_of_day, local_date, start_of_day
from access.models import Grant, Termination, User, Violation
from access.permissions import area_covers
from access.words import state_label
from stats.said import said

LAPSE_MONTHS = 6
NOTICE_MONTHS = 1


class SanctionError(AccessError):
    """An illegal violation, restore or termination step."""


def period_last_day(event_day: date, months: int) -> date:
    """The last day of a period of ``months`` months counted from ``event_day`` under the
    Civil Code: the event day itself is not counted (art. 120 II); the period ends on the day
    before the day of the last month corresponding to its first day, or on the last month's
    last day when that month has no corresponding day (art. 121 II)."""
    first = event_day + timedelta(days=1)
    year, month = divmod(first.year * 12 + first.month - 1 + months, 12)
    month += 1
    days = _cal.monthrange(year, month)[1]
    if first.day > days:
        return date(year, month, days)
    return date(year, month, first.day) - timedelta(days=1)


def lapse_at(violation: Violation) -> datetime:
    """The moment an unimproved violation's grant lapses: 24:00 (Taipei) of the last day of
    the six months after the notice."""
    return end_of_day(period_last_day(local_date(violation.noticed_at), LAPSE_MONTHS))


def lapse_date(violation: Violation) -> date:
    """The first Taipei date on which an unimproved violation's grant is lapsed."""
    return local_date(lapse_at(violation))


def sanction_problem(official: User, grant: Grant) -> str:
    """Why ``official`` may not suspend or restore ``grant`` ("" when they may): only a
    provider official whose jurisdiction encloses every area of the grant (point 6)."""
    if official.role != "provider_official" or official.provider is None:
        return said(f"{official.username!r} is not a provider official; only officials sanction",
                    f"{official.username} 不是提供機關的核定人員；只有核定人員能處分")
    outside = [a for a in grant.areas if not area_covers(official.provider.jurisdiction, a)]
    if outside:
        return said(f"grant {grant.id} names areas outside {official.provider.jurisdiction} "
                    f"({', '.join(outside)}); only a provider enclosing them all acts (point 6)",
                    f"授權 {grant.id} 含轄區（{official.provider.jurisdiction}）外的地區"
                    f"（{'、'.join(outside)}）；須由轄區涵蓋全部地區的提供機關處理（第六點）")
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
    """Record a violation, notify the agency today (``access.notices``) and suspend its
    grant at once."""
    _check_sanctioner(session, official, grant, now)
    if grant.state in ("lapsed", "terminated"):
        raise SanctionError(said(f"grant {grant.id} is {grant.state}; nothing to suspend",
                                 f"授權 {grant.id} 目前為「{state_label(grant.state)}」，"
                                 "無可暫停的連結"))
    if deadline < local_date(now):
        raise SanctionError(said(
            f"deadline {deadline} is before today's notice ({local_date(now)})",
            f"改善期限 {deadline} 早於今天的通知日（{local_date(now)}）"))
    violation = Violation(
        grant_id=grant.id,
        description=description,
        recorded_by=official.id,
        noticed_at=now,
        deadline=deadline,
    )
    session.add(violation)
    # Suspended at once: ``can_view`` refuses the grant's data (and its files) from now on.
    # Tokens and sessions stay, so that the agency can still be told (access.notices): on
    # every page, in every API refusal and at GET /api/v1/notices — not only logged out.
    grant.state = "suspended"
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
            "lapse_at": lapse_at(violation).isoformat(),
        },
        agency_id=grant.agency_id,
    )


def restore(
    session: Session, violation: Violation, official: User, note: str, now: datetime
) -> None:
    """Restore linking after review; refused (and the grant lapses) once more than six months
    have passed since the notice (``lapse_at``)."""
    _check_sanctioner(session, official, violation.grant, now)
    if violation.restored_at is not None or violation.lapsed_at is not None:
        raise SanctionError(said(f"violation {violation.id} is already closed",
                                 f"違規 {violation.id} 已結案"))
    if now >= lapse_at(violation):
        _lapse(session, violation, now, official.username)
        session.commit()
        noticed = local_date(violation.noticed_at)
        raise SanctionError(said(
            f"violation {violation.id} was unimproved for six months (notice {noticed}); the "
            "grant has lapsed and the agency must apply again (point 19)",
            f"違規 {violation.id} 自通知（{noticed}）起六個月未改善；授權已失效，申請機關須重新申請"
            "（第十九點）"))
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
        if now >= lapse_at(v)
    ]
    for violation in overdue:
        _lapse(session, violation, now, actor)
    return overdue


def request_termination(
    session: Session,
    grant: Grant,
    letter_ref: str,
    requested_on: date | None,
    effective_on: date,
    now: datetime,
    *,
    by: User,
) -> Termination:
    """Record an agency's written termination notice (point 20), by official ``by``.

    ``requested_on`` is the notice date: None for today (Taipei); an earlier date is the date
    of the letter ``letter_ref``, never before the grant was approved, never after today.

    Raises
    ------
    SanctionError
        ``by`` is not an official enclosing the grant (audited, committed); no letter; a
        notice date after today or before the grant; an effective date less than a month
        after the notice or not after today; a grant already lapsed or terminated.
    """
    if problem := sanction_problem(by, grant):
        audit.record(session, by.username, "termination.refused", f"grant:{grant.id}", now,
                     {"reason": problem}, agency_id=grant.agency_id)
        session.commit()
        raise SanctionError(problem)
    letter_ref = " ".join((letter_ref or "").split())
    if not letter_ref:
        raise SanctionError(said("a termination needs the reference of the agency's written "
                                 "notice (書面通知, point 20)",
                                 "終止須填寫申請機關書面通知的文號（第二十點）"))
    today = local_date(now)
    notice = requested_on or today
    granted_on = local_date(grant.created_at)
    if notice > today:
        raise SanctionError(said(f"the notice is dated {notice}, after today ({today}, Taipei); "
                                 "record it once it has been given",
                                 f"通知日 {notice} 晚於今天（{today}，臺北時間）；"
                                 "請於收到通知後再登錄"))
    if notice < granted_on:
        raise SanctionError(said(f"the notice is dated {notice}, before grant {grant.id} was "
                                 f"approved ({granted_on})",
                                 f"通知日 {notice} 早於授權 {grant.id} 的核准日（{granted_on}）"))
    earliest = max(add_months(notice, NOTICE_MONTHS), today + timedelta(days=1))
    if effective_on < earliest:
        raise SanctionError(said(
            f"termination notified on {notice} and recorded on {today} can take effect on "
            f"{earliest} at the earliest (one month's written notice, point 20; access never "
            f"ends before it is recorded), not {effective_on}",
            f"{notice} 通知、{today} 登錄的終止最早於 {earliest} 生效"
            "（須一個月前書面通知，第二十點；"
            f"連結不會在登錄前結束），不能是 {effective_on}"))
    if grant.state in ("lapsed", "terminated"):
        raise SanctionError(said(f"grant {grant.id} is already {grant.state}",
                                 f"授權 {grant.id} 已是「{state_label(grant.state)}」"))
    termination = Termination(
        grant_id=grant.id,
        letter_ref=letter_ref,
        requested_on=notice,
        effective_on=effective_on,
        recorded_at=now,
        recorded_by=by.id,
    )
    session.add(termination)
    ends = start_of_day(effective_on)
    grant.ends_at = ends if grant.ends_at is None else min(grant.ends_at, ends)
    session.flush()
    audit.record(
        session,
        by.username,
        "grant.termination_requested",
        f"grant:{grant.id}",
        now,
        {
            "letter": letter_ref,
            "requested_on": str(notice),
            "effective_on": str(effective_on),
            "ends_at": ends.isoformat(),
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
