"""Applications (points 6, 10, 13), their review (point 11) and grants.

State machine of an application::

    submitted ──approve──▶ approved (a grant is created: all or a narrower scope)
        │  └──reject───▶ rejected (with a reason)
        └──return────▶ returned ──resubmit──▶ submitted

Point 6: data of a single county is applied for to that county's government, national or
cross-county data to MOI; only officials of the provider applied to decide, within their
jurisdiction. Point 11: the provider sets the approved agency's permissions — the scope
applied for or a narrower one (fewer tables, areas, channels, a shorter validity), with a
reason. Refusals of who may act are audited and the audit record is committed before the
error is raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from access import audit
from access.accounts import AccessError
from access.agencies import applicant_problem, refuse
from access.calendar import end_of_day, start_of_day
from access.models import (
    CHANNELS,
    NATIONAL,
    Agency,
    Application,
    Grant,
    Provider,
    User,
)
from access.permissions import Actor, GrantRule, area_covers, grant_in_force
from access.personnel import POSTS, record_personnel_change
from access.rules import (
    RULE_ITEMS,
    ApplicationError,
    IncompleteApplication,
    check_rules_document,
    describe_missing,
    missing_rule_items,
    rule_problems,
    statement_problems,
    text_problem,
)
from access.words import status_label
from stats.catalogue import TABLES
from stats.codes import COUNTY_NAMES
from stats.said import joined, said

__all__ = [  # the names other modules take from here (some live in rules and personnel)
    "POSTS", "RULE_ITEMS", "ApplicationError", "IncompleteApplication", "JurisdictionError",
    "approve", "missing_rule_items", "record_personnel_change", "reject", "resubmit",
    "return_for_completion", "submit",
]
TRANSITIONS = {"submitted": {"approved", "rejected", "returned"}, "returned": {"submitted"}}
MIN_REASON = 4  # a narrowed approval says why in at least a few words


class JurisdictionError(AccessError):
    """A provider acting outside its own area (point 6), or a user without the role."""


def provider_code_for(areas: Sequence[str]) -> str:
    """The provider to apply to for ``areas`` (point 6): the county's code when every area
    lies in one county, else MOI (national or cross-county data)."""
    counties = {code[:5] for code in areas}
    if NATIONAL in counties or len(counties) != 1:
        return "MOI"
    return counties.pop()


def provider_name(code: str) -> str:
    """內政部 or the county government's name, for messages."""
    return "內政部" if code == "MOI" else f"{COUNTY_NAMES.get(code, code)}政府"


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
    *,
    legal_basis: str,
    by: User,
    requested_from: date | None = None,
    requested_to: date | None = None,
) -> Application:
    """File an application (point 10) for ``agency``, by one of its users (``by``).

    The purpose and legal basis are required text (point 13(1)); the rules must be an object
    of point 13 items holding text — items not yet addressed are accepted here (the official
    returns the application to complete them) but block approval.

    Raises
    ------
    NotPermitted
        ``by`` is not a user of the agency (audited, committed).
    ApplicationError
        Unknown tables, areas or channels, the wrong provider (point 6), an agency without
        code, a missing purpose or legal basis, malformed rules, reversed dates.
    """
    if by.role != "agency_user" or by.agency_id != agency.id:
        refuse(session, by, "application.submit", f"agency:{agency.id}", now,
               f"{by.username!r} is not a user of {agency.name}; an agency applies through "
               "its own staff (point 10)", agency.id)
    if problem := applicant_problem(agency):
        raise ApplicationError(problem)
    _check_lists(tables, areas, channels)
    right = provider_code_for(areas)
    if provider.code != right:
        scope = ("national or cross-county data" if right == "MOI"
                 else f"data of {COUNTY_NAMES[right]} ({right}) alone")
        raise ApplicationError(
            f"{scope} is applied for to {provider_name(right)} (provider {right}), not to "
            f"{provider.name} (point 6): areas {', '.join(areas)}")
    if problems := statement_problems(purpose, legal_basis):
        raise ApplicationError("; ".join(problems) + " (points 10, 13(1))")
    rules = check_rules_document(rules)
    if (requested_from is None) != (requested_to is None) or (
        requested_from and requested_to and requested_to < requested_from
    ):
        raise ApplicationError("the validity applied for needs a first day and a last day "
                               "not before it")
    app = Application(
        agency_id=agency.id,
        provider_id=provider.id,
        tables=list(dict.fromkeys(tables)),
        areas=list(dict.fromkeys(areas)),
        channels=list(dict.fromkeys(channels)),
        purpose=" ".join(purpose.split()),
        legal_basis=" ".join(legal_basis.split()),
        rules=rules,
        requested_from=requested_from,
        requested_to=requested_to,
        submitted_by=by.id,
        status="submitted",
        submitted_at=now,
    )
    session.add(app)
    session.flush()
    audit.record(
        session,
        by.username,
        "application.submitted",
        f"application:{app.id}",
        now,
        {
            "tables": app.tables,
            "areas": app.areas,
            "channels": app.channels,
            "provider": provider.code,
            "missing_rules": missing_rule_items(app.rules),
        },
        agency_id=agency.id,
    )
    return app


def _move(app: Application, target: str) -> None:
    if target not in TRANSITIONS.get(app.status, set()):
        raise ApplicationError(said(
            f"application {app.id} is {app.status!r}; it cannot become {target!r}",
            f"申請 {app.id} 目前為「{status_label(app.status)}」，"
            f"不能改為「{status_label(target)}」"))
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
    """Only an official of the provider applied to, whose jurisdiction encloses every area,
    decides (points 6, 11): MOI does not decide what was applied for to a county."""
    if reviewer.role != "provider_official" or reviewer.provider is None:
        _refuse(
            session,
            reviewer,
            app,
            now,
            said(f"{reviewer.username!r} is not a provider official; only officials review",
                 f"{reviewer.username} 不是提供機關的核定人員；只有核定人員能審查"),
        )
    assert reviewer.provider is not None
    if reviewer.provider_id != app.provider_id:
        _refuse(
            session,
            reviewer,
            app,
            now,
            said(f"application {app.id} is addressed to {app.provider.name}; "
                 f"{reviewer.provider.name} decides only applications addressed to it, within "
                 "its jurisdiction (point 6)",
                 f"申請 {app.id} 是向{app.provider.name}提出的；{reviewer.provider.name}只審查"
                 "向其提出且在其轄區內的申請（第六點）"),
        )
    outside = [a for a in app.areas if not area_covers(reviewer.provider.jurisdiction, a)]
    if outside:
        _refuse(
            session,
            reviewer,
            app,
            now,
            said(f"{reviewer.provider.name} may grant only within "
                 f"{reviewer.provider.jurisdiction}; areas outside its jurisdiction: "
                 f"{', '.join(outside)}",
                 f"{reviewer.provider.name}只能核准其轄區（{reviewer.provider.jurisdiction}）"
                 f"內的地區；轄區外的地區：{'、'.join(outside)}"),
        )


def _narrowed_scope(
    app: Application,
    tables: Sequence[str] | None,
    areas: Sequence[str] | None,
    channels: Sequence[str] | None,
    valid_from: date,
    valid_to: date,
) -> tuple[list[str], list[str], list[str], dict[str, Any]]:
    """The approved tables, areas and channels and what was narrowed (empty: nothing);
    ApplicationError for anything wider than applied for."""
    approved_tables = list(dict.fromkeys(tables)) if tables is not None else list(app.tables)
    approved_areas = list(dict.fromkeys(areas)) if areas is not None else list(app.areas)
    approved_channels = (list(dict.fromkeys(channels)) if channels is not None
                         else list(app.channels))
    _check_lists(approved_tables, approved_areas, approved_channels)
    wider = [t for t in approved_tables if t not in app.tables]
    wider += [c for c in approved_channels if c not in app.channels]
    wider += [a for a in approved_areas if not any(area_covers(x, a) for x in app.areas)]
    if app.requested_from and valid_from < app.requested_from:
        wider.append(f"from {valid_from} (applied for from {app.requested_from})")
    if app.requested_to and valid_to > app.requested_to:
        wider.append(f"to {valid_to} (applied for to {app.requested_to})")
    if wider:
        raise ApplicationError(said(
            f"application {app.id}: an approval may only narrow what was applied for; "
            f"not applied for: {', '.join(wider)} (point 11)",
            f"申請 {app.id}：核准只能縮小申請的範圍；未申請的項目：{'、'.join(wider)}（第十一點）"))
    narrowed: dict[str, Any] = {}
    if dropped := [t for t in app.tables if t not in approved_tables]:
        narrowed["tables_removed"] = dropped
    if dropped := [c for c in app.channels if c not in approved_channels]:
        narrowed["channels_removed"] = dropped
    if sorted(approved_areas) != sorted(app.areas):
        narrowed["areas"] = {"applied": list(app.areas), "approved": approved_areas}
    if (app.requested_from, app.requested_to) not in ((None, None), (valid_from, valid_to)):
        narrowed["validity"] = {
            "applied": [str(app.requested_from), str(app.requested_to)],
            "approved": [str(valid_from), str(valid_to)],
        }
    return approved_tables, approved_areas, approved_channels, narrowed


def approve(
    session: Session,
    app: Application,
    reviewer: User,
    valid_from: date,
    valid_to: date,
    now: datetime,
    *,
    tables: Sequence[str] | None = None,
    areas: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    reason: str = "",
) -> Grant:
    """Approve: the grant is the application's tables × areas × channels, from/to (inclusive,
    Asia/Taipei dates) — or a narrower scope (some of the tables, channels, areas inside
    those applied for, a validity inside the one applied for), which needs a ``reason``.

    Raises
    ------
    JurisdictionError
        The reviewer is not an official of the provider applied to, enclosing every area.
    IncompleteApplication
        The purpose, legal basis or management rules miss what points 10 and 13 require.
    ApplicationError
        Not awaiting a decision, reversed dates, a scope wider than applied for, a narrowed
        scope without a reason.
    """
    _check_reviewer(session, reviewer, app, now)
    problems = statement_problems(app.purpose, app.legal_basis)
    if missing := rule_problems(app.rules):
        described = describe_missing(missing)
        problems.append(said(f"the management rules do not address {described}",
                             f"管理規定未載明：{described.zh}"))
    if problems:
        every = joined(problems)
        raise IncompleteApplication(said(
            f"application {app.id} is incomplete: {every} (point 13)",
            f"申請 {app.id} 不完整：{every.zh}（第十三點）"))
    if valid_to < valid_from:
        raise ApplicationError(said(f"valid_to {valid_to} is before valid_from {valid_from}",
                                    f"到期日 {valid_to} 早於生效日 {valid_from}"))
    approved_tables, approved_areas, approved_channels, narrowed = _narrowed_scope(
        app, tables, areas, channels, valid_from, valid_to)
    reason = " ".join((reason or "").split())
    if narrowed and text_problem(reason, MIN_REASON):
        raise ApplicationError(said(
            f"application {app.id}: approving less than applied for ("
            + ", ".join(narrowed) + ") needs the reason, recorded for the agency (point 11)",
            f"申請 {app.id}：核准範圍小於申請範圍時，須填寫理由並告知申請機關（第十一點）"))
    _move(app, "approved")
    app.decided_at, app.decided_by = now, reviewer.id
    app.reason = reason or None
    grant = Grant(
        application_id=app.id,
        agency_id=app.agency_id,
        provider_id=app.provider_id,
        tables=[t for t in app.tables if t in approved_tables],
        areas=approved_areas,
        channels=[c for c in app.channels if c in approved_channels],
        valid_from=start_of_day(valid_from),
        valid_to=end_of_day(valid_to),
        state="active",
        created_at=now,
    )
    session.add(grant)
    session.flush()
    details: dict[str, Any] = {
        "application": app.id,
        "tables": grant.tables,
        "areas": grant.areas,
        "channels": grant.channels,
        "valid_from": str(valid_from),
        "valid_to": str(valid_to),
    }
    if narrowed:
        details |= {"narrowed": narrowed, "reason": reason}
    audit.record(session, reviewer.username, "grant.approved", f"grant:{grant.id}", now,
                 details, agency_id=app.agency_id)
    return grant


def reject(session: Session, app: Application, reviewer: User, reason: str, now: datetime) -> None:
    """Reject with a reason (required)."""
    if not reason.strip():
        raise ApplicationError(said("a rejection needs a reason", "駁回須附理由"))
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
    by: User,
    rules: dict[str, str] | None = None,
    purpose: str | None = None,
    legal_basis: str | None = None,
) -> None:
    """The agency (one of its users, ``by``) completes a returned application and submits it
    again; the same checks as ``submit`` apply to what it changes."""
    if by.role != "agency_user" or by.agency_id != app.agency_id:
        refuse(session, by, "application.resubmit", f"application:{app.id}", now,
               f"{by.username!r} is not a user of {app.agency.name}; only the applying agency "
               "resubmits", app.agency_id)
    if rules is not None:
        rules = check_rules_document(rules)
    if problems := statement_problems(purpose if purpose is not None else app.purpose,
                                      legal_basis if legal_basis is not None
                                      else app.legal_basis):
        raise ApplicationError("; ".join(problems) + " (points 10, 13(1))")
    _move(app, "submitted")
    if rules is not None:
        app.rules = {**app.rules, **rules}
    if purpose is not None:
        app.purpose = " ".join(purpose.split())
    if legal_basis is not None:
        app.legal_basis = " ".join(legal_basis.split())
    app.submitted_at, app.reason = now, None
    audit.record(
        session,
        by.username,
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


def providing_code(session: Session, user: User, tables: Sequence[str], areas: Sequence[str],
                   channel: str, now: datetime) -> str:
    """The code of the provider whose grant in force delivers ``tables`` for ``areas`` through
    ``channel`` to ``user``'s agency — the prefix of the delivered files' names (point 7).

    When grants of several providers would cover the request, the narrowest jurisdiction
    wins: a single county's data comes from its government (point 6). Provider staff get
    their own provider's code.
    """
    if user.agency_id is None:
        if user.provider is None:
            raise ApplicationError(f"{user.username!r} belongs to no provider or agency")
        return user.provider.code
    covering = [
        g for g in session.scalars(select(Grant).where(Grant.agency_id == user.agency_id))
        if grant_in_force(rule_of(g), now) and channel in g.channels
        and all(t in g.tables for t in tables)
        and all(any(area_covers(x, a) for x in g.areas) for a in areas)
    ]
    if not covering:
        raise ApplicationError(
            f"no single grant of {user.username!r}'s agency covers {', '.join(tables)} for "
            f"{', '.join(areas)} through {channel}")
    best = max(covering, key=lambda g: (g.provider.jurisdiction != NATIONAL, -g.id))
    return best.provider.code


def granted_lists(grants: Iterable[Grant]) -> tuple[list[str], list[str]]:
    """The union of tables (catalogue order) and areas of some grants."""
    grants = list(grants)
    tables = {t for g in grants for t in g.tables}
    areas = sorted({a for g in grants for a in g.areas})
    return [t for t in TABLES if t in tables], areas
