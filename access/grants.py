"""Applications (points 10, 13), their review (point 11), grants and personnel changes (point 12).

State machine of an application::

    submitted ──approve──▶ approved (a grant is created)
        │  └──reject───▶ rejected (with a reason)
        └──return────▶ returned ──resubmit──▶ submitted

A provider reviews only within its jurisdiction (point 6): a county government cannot
grant national or other-county areas; MOI can grant any. Refusals are audited and the audit
record is committed before the error is raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from access import audit
from access.accounts import AccessError
from access.calendar import end_of_day, start_of_day
from access.models import (
    CHANNELS,
    NATIONAL,
    Agency,
    Application,
    Grant,
    PersonnelChange,
    Provider,
    User,
)
from access.permissions import Actor, GrantRule, area_covers, grant_in_force
from stats.catalogue import TABLES
from stats.codes import COUNTY_NAMES

# Point 13: the eight items an agency's management rules must address.
RULE_ITEMS: dict[str, str] = {
    "purpose_and_security": "使用目的及安全控管措施 / purpose and security controls",
    "supervision_and_audit": "定期督導及配合稽核 / periodic supervision, cooperation with audits",
    "query_procedure": "查詢作業程序 / query procedure",
    "confidentiality": "保密 / confidentiality",
    "personal_data_liability": "個人資料保護法責任 / liability under the personal-data law",
    "user_liability": "使用人員責任 / user liability",
    "disposal_after_use": "使用後銷毀 / disposal after use",
    "personnel_change_reporting": "人員異動通報 / reporting personnel changes",
}
TRANSITIONS = {"submitted": {"approved", "rejected", "returned"}, "returned": {"submitted"}}
POSTS = ("case_officer", "unit_supervisor")


class ApplicationError(AccessError):
    """An invalid application or an illegal review step."""


class IncompleteApplication(ApplicationError):
    """Management rules that miss items of point 13."""


class JurisdictionError(AccessError):
    """A provider acting outside its own area (point 6), or a user without the role."""


def missing_rule_items(rules: dict[str, Any]) -> list[str]:
    """The point 13 items the rules do not address (empty = complete)."""
    return [key for key in RULE_ITEMS if not str(rules.get(key) or "").strip()]


def check_area(code: str) -> str:
    """A valid area code of a grant: national, a county, or a township/village in a county."""
    if code == NATIONAL or (
        len(code) in (5, 8, 11) and code.isdigit() and code[:5] in COUNTY_NAMES
    ):
        return code
    raise ApplicationError(
        f"unknown area {code!r}; expected 00000, a county code or a "
        "township/village code of a county"
    )


def _check_lists(tables: Sequence[str], areas: Sequence[str], channels: Sequence[str]) -> None:
    if not tables or not areas or not channels:
        raise ApplicationError("an application names at least one table, area and channel")
    if unknown := [t for t in tables if t not in TABLES]:
        raise ApplicationError(f"unknown tables {unknown!r}; expected some of {', '.join(TABLES)}")
    if unknown := [c for c in channels if c not in CHANNELS]:
        raise ApplicationError(
            f"unknown channels {unknown!r}; expected some of {', '.join(CHANNELS)}"
        )
    for area in areas:
        check_area(area)


def submit(
    session: Session,
    agency: Agency,
    provider: Provider,
    tables: Sequence[str],
    areas: Sequence[str],
    channels: Sequence[str],
    purpose: str,
    rules: dict[str, str],
    now: datetime,
    actor: str = "system",
) -> Application:
    """File an application (point 10); incomplete rules are accepted but block approval."""
    _check_lists(tables, areas, channels)
    if outside := [a for a in areas if not area_covers(provider.jurisdiction, a)]:
        raise ApplicationError(
            f"{provider.name} provides only its own area ({provider.jurisdiction}); apply to "
            f"內政部 (MOI) for national or cross-county data: {', '.join(outside)} (point 6)"
        )
    app = Application(
        agency_id=agency.id,
        provider_id=provider.id,
        tables=list(dict.fromkeys(tables)),
        areas=list(dict.fromkeys(areas)),
        channels=list(dict.fromkeys(channels)),
        purpose=purpose,
        rules=dict(rules),
        status="submitted",
        submitted_at=now,
    )
    session.add(app)
    session.flush()
    audit.record(
        session,
        actor,
        "application.submitted",
        f"application:{app.id}",
        now,
        {
            "tables": app.tables,
            "areas": app.areas,
            "channels": app.channels,
            "missing_rules": missing_rule_items(app.rules),
        },
        agency_id=agency.id,
    )
    return app


def _move(app: Application, target: str) -> None:
    if target not in TRANSITIONS.get(app.status, set()):
        raise ApplicationError(
            f"application {app.id} is {app.status!r}; it cannot become {target!r}"
        )
    app.status = target


def _refuse(
    session: Session, reviewer: User, app: Application, now: datetime, message: str
) -> None:
    """Audit a refused review, commit that record, raise."""
    audit.record(
        session,
        reviewer.username,
        "grant.refused",
        f"application:{app.id}",
        now,
        {"reason": message},
        agency_id=app.agency_id,
    )
    session.commit()
    raise JurisdictionError(message)


def _check_reviewer(session: Session, reviewer: User, app: Application, now: datetime) -> None:
    """Only an official of the addressed provider (or of MOI) whose jurisdiction encloses every
    area may decide (point 6)."""
    if reviewer.role != "provider_official" or reviewer.provider is None:
        _refuse(
            session,
            reviewer,
            app,
            now,
            f"{reviewer.username!r} is not a provider official; only officials review",
        )
    assert reviewer.provider is not None
    if reviewer.provider_id != app.provider_id and reviewer.provider.jurisdiction != NATIONAL:
        _refuse(
            session,
            reviewer,
            app,
            now,
            f"application {app.id} is addressed to {app.provider.name}; {reviewer.provider.name} "
            "decides only applications addressed to it, within its jurisdiction",
        )
    outside = [a for a in app.areas if not area_covers(reviewer.provider.jurisdiction, a)]
    if outside:
        _refuse(
            session,
            reviewer,
            app,
            now,
            f"{reviewer.provider.name} may grant only within {reviewer.provider.jurisdiction}; "
            f"areas outside its jurisdiction: {', '.join(outside)}",
        )


def approve(
    session: Session,
    app: Application,
    reviewer: User,
    valid_from: date,
    valid_to: date,
    now: datetime,
) -> Grant:
    """Approve: the grant is the application's tables × areas × channels, from/to (inclusive,
    Asia/Taipei dates).

    Raises
    ------
    JurisdictionError
        The reviewer is not an official of a provider whose area encloses every area.
    IncompleteApplication
        The management rules miss items of point 13.
    ApplicationError
        The application is not awaiting a decision, or the dates are reversed.
    """
    _check_reviewer(session, reviewer, app, now)
    if missing := missing_rule_items(app.rules):
        raise IncompleteApplication(
            f"application {app.id} is incomplete: the management rules do not address "
            + "; ".join(RULE_ITEMS[m] for m in missing)
            + " (point 13)"
        )
    if valid_to < valid_from:
        raise ApplicationError(f"valid_to {valid_to} is before valid_from {valid_from}")
    _move(app, "approved")
    app.decided_at, app.decided_by = now, reviewer.id
    grant = Grant(
        application_id=app.id,
        agency_id=app.agency_id,
        provider_id=reviewer.provider_id,
        tables=list(app.tables),
        areas=list(app.areas),
        channels=list(app.channels),
        valid_from=start_of_day(valid_from),
        valid_to=end_of_day(valid_to),
        state="active",
        created_at=now,
    )
    session.add(grant)
    session.flush()
    audit.record(
        session,
        reviewer.username,
        "grant.approved",
        f"grant:{grant.id}",
        now,
        {
            "application": app.id,
            "tables": grant.tables,
            "areas": grant.areas,
            "channels": grant.channels,
            "valid_from": str(valid_from),
            "valid_to": str(valid_to),
        },
        agency_id=app.agency_id,
    )
    return grant


def reject(session: Session, app: Application, reviewer: User, reason: str, now: datetime) -> None:
    """Reject with a reason (required)."""
    if not reason.strip():
        raise ApplicationError("a rejection needs a reason")
    _check_reviewer(session, reviewer, app, now)
    _move(app, "rejected")
    app.decided_at, app.decided_by, app.reason = now, reviewer.id, reason
    audit.record(
        session,
        reviewer.username,
        "application.rejected",
        f"application:{app.id}",
        now,
        {"reason": reason},
        agency_id=app.agency_id,
    )


def return_for_completion(
    session: Session, app: Application, reviewer: User, reason: str, now: datetime
) -> None:
    """Send the application back to the agency to complete (e.g. missing point 13 items)."""
    _check_reviewer(session, reviewer, app, now)
    _move(app, "returned")
    app.reason = reason or "missing: " + ", ".join(missing_rule_items(app.rules))
    audit.record(
        session,
        reviewer.username,
        "application.returned",
        f"application:{app.id}",
        now,
        {"reason": app.reason},
        agency_id=app.agency_id,
    )


def resubmit(
    session: Session,
    app: Application,
    now: datetime,
    *,
    rules: dict[str, str] | None = None,
    purpose: str | None = None,
    actor: str = "system",
) -> None:
    """The agency completes a returned application and submits it again."""
    _move(app, "submitted")
    if rules is not None:
        app.rules = {**app.rules, **rules}
    if purpose is not None:
        app.purpose = purpose
    app.submitted_at, app.reason = now, None
    audit.record(
        session,
        actor,
        "application.resubmitted",
        f"application:{app.id}",
        now,
        {"missing_rules": missing_rule_items(app.rules)},
        agency_id=app.agency_id,
    )


def rule_of(grant: Grant) -> GrantRule:
    """The pure view of a stored grant."""
    return GrantRule(
        grant.agency_id,
        frozenset(grant.tables),
        frozenset(grant.areas),
        frozenset(grant.channels),
        grant.valid_from,
        grant.valid_to,
        grant.state,
        grant.ends_at,
    )


def agency_rules(session: Session, agency_id: int) -> list[GrantRule]:
    """Every grant of an agency, for ``can_view``."""
    return [rule_of(g) for g in session.scalars(select(Grant).where(Grant.agency_id == agency_id))]


def actor_of(user: User) -> Actor:
    """The ``can_view`` actor of a user."""
    return Actor(
        user.username,
        user.role,
        user.agency_id,
        user.provider.jurisdiction if user.provider else None,
    )


def granted_areas(
    session: Session, user: User, table: str, channel: str, now: datetime
) -> list[str]:
    """The areas whose ``table`` the user's agency may obtain through ``channel`` now."""
    if user.agency_id is None:
        return [user.provider.jurisdiction] if user.provider else []
    return sorted(
        {
            a
            for g in agency_rules(session, user.agency_id)
            if table in g.tables and channel in g.channels and grant_in_force(g, now)
            for a in g.areas
        }
    )


def list_grants(session: Session, agency_id: int | None = None) -> list[Grant]:
    """Grants, optionally of one agency, oldest first."""
    query = select(Grant).order_by(Grant.id)
    if agency_id is not None:
        query = query.where(Grant.agency_id == agency_id)
    return list(session.scalars(query))


def record_personnel_change(
    session: Session,
    agency: Agency,
    post: str,
    person: str,
    effective_on: date,
    now: datetime,
    actor: str = "system",
) -> PersonnelChange:
    """Record a reported change of case officer or unit supervisor (point 12)."""
    if post not in POSTS:
        raise ApplicationError(f"unknown post {post!r}; expected one of {', '.join(POSTS)}")
    change = PersonnelChange(
        agency_id=agency.id, post=post, person=person, effective_on=effective_on, reported_at=now
    )
    session.add(change)
    session.flush()
    audit.record(
        session,
        actor,
        "personnel.changed",
        f"agency:{agency.id}",
        now,
        {"post": post, "person": person, "effective_on": str(effective_on)},
        agency_id=agency.id,
    )
    return change


def granted_lists(grants: Iterable[Grant]) -> tuple[list[str], list[str]]:
    """The union of tables (catalogue order) and areas of some grants."""
    grants = list(grants)
    tables = {t for g in grants for t in g.tables}
    areas = sorted({a for g in grants for a in g.areas})
    return [t for t in TABLES if t in tables], areas
