"""What a provider's staff member may see and decide on the Administration page (point 6).

Two rules, both on area codes (``access.permissions.area_covers``):

* **listed** when a record *touches* the jurisdiction — at least one of its areas lies
  inside it (MOI's ``00000`` encloses everything; 臺北市政府 sees what names 63000 areas);
* **decided** only when the jurisdiction *encloses* every area. Applications, extensions
  and disputes are checked again by the access layer; for violations, restores and
  personnel changes (``access.sanctions`` and ``record_personnel_change`` take any caller)
  ``dashboards.admin.actions`` checks ``encloses`` itself.

Applications are listed to the provider they are addressed to (MOI: all), as the access
layer lets only that provider or MOI decide them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from access.models import (
    NATIONAL,
    Agency,
    Application,
    Delivery,
    Dispute,
    Extension,
    Grant,
    PersonnelChange,
    User,
    Violation,
)
from access.permissions import area_covers

OFFICIAL = "provider_official"
AUDIT_ROLES = ("provider_official", "auditor")


def jurisdiction(user: User | None) -> str | None:
    """The provider's area of a provider staff member (None for anyone else)."""
    if user is None or user.agency_id is not None or user.provider is None:
        return None
    return user.provider.jurisdiction


def touches(area: str | None, areas: Iterable[str]) -> bool:
    """Whether any of ``areas`` lies inside ``area`` (a jurisdiction)."""
    return area is not None and any(area_covers(area, code) for code in areas)


def encloses(area: str | None, areas: Iterable[str]) -> bool:
    """Whether every one of ``areas`` (at least one) lies inside ``area``."""
    codes = list(areas)
    return area is not None and bool(codes) and all(area_covers(area, code) for code in codes)


def may_decide(user: User | None) -> bool:
    """Officials decide; statisticians and auditors read."""
    return jurisdiction(user) is not None and user is not None and user.role == OFFICIAL


def may_audit(user: User | None) -> bool:
    """The Audit tab is for auditors and officials."""
    return jurisdiction(user) is not None and user is not None and user.role in AUDIT_ROLES


def application_visible(user: User, app: Application) -> bool:
    """Addressed to the user's provider and touching its area; MOI sees every application."""
    area = jurisdiction(user)
    if area == NATIONAL:
        return True
    return app.provider_id == user.provider_id and touches(area, app.areas)


def applications(db: Session, user: User) -> list[Application]:
    """Applications this user may see, newest first."""
    rows = db.scalars(select(Application).order_by(Application.id.desc()))
    return [app for app in rows if application_visible(user, app)]


def grants(db: Session, user: User) -> list[Grant]:
    """Grants touching the user's jurisdiction, newest first."""
    area = jurisdiction(user)
    rows = db.scalars(select(Grant).order_by(Grant.id.desc()))
    return [g for g in rows if touches(area, g.areas)]


def violations(db: Session, user: User) -> list[Violation]:
    """Violations of grants touching the user's jurisdiction, newest first."""
    area = jurisdiction(user)
    rows = db.scalars(select(Violation).order_by(Violation.id.desc()))
    return [v for v in rows if touches(area, v.grant.areas)]


def agencies(db: Session, user: User) -> list[Agency]:
    """Agencies with an application or a grant in the user's reach (MOI: every agency)."""
    if jurisdiction(user) == NATIONAL:
        return list(db.scalars(select(Agency).order_by(Agency.id)))
    ids = {app.agency_id for app in applications(db, user)} | {
        g.agency_id for g in grants(db, user)
    }
    return list(db.scalars(select(Agency).where(Agency.id.in_(ids)).order_by(Agency.id)))


def agency_in_reach(db: Session, user: User, agency_id: int) -> bool:
    return any(a.id == agency_id for a in agencies(db, user))


def personnel_changes(db: Session, user: User) -> list[PersonnelChange]:
    """Reported personnel changes of the agencies in reach, newest first."""
    ids = [a.id for a in agencies(db, user)]
    query = (
        select(PersonnelChange)
        .where(PersonnelChange.agency_id.in_(ids))
        .order_by(PersonnelChange.id.desc())
    )
    return list(db.scalars(query))


def pending_extensions(db: Session, user: User) -> list[tuple[Extension, Delivery]]:
    """Undecided extension requests of deliveries touching the jurisdiction, oldest first."""
    area = jurisdiction(user)
    rows = db.execute(
        select(Extension, Delivery)
        .join(Delivery, Delivery.id == Extension.delivery_id)
        .where(Extension.decided_at.is_(None))
        .order_by(Extension.id)
    )
    return [(ext, d) for ext, d in rows if touches(area, d.areas)]


def open_disputes(db: Session, user: User) -> list[tuple[Dispute, Delivery]]:
    """Unresolved disputes of deliveries touching the jurisdiction, oldest first."""
    area = jurisdiction(user)
    rows = db.execute(
        select(Dispute, Delivery)
        .join(Delivery, Delivery.id == Dispute.delivery_id)
        .where(Dispute.resolved_at.is_(None))
        .order_by(Dispute.id)
    )
    return [(dispute, d) for dispute, d in rows if touches(area, d.areas)]


# --- the audit log (point 18) -------------------------------------------------------------
#
# An audit entry is *about* the areas it names: its details' ``areas`` (views, deliveries,
# refusals, applications, grants) and ``area_code`` (API queries), and the areas of the
# record it acts on or refers to (``grant:3``, ``application:5``, ``delivery:…``,
# ``dispute:2``, ``violation:4``; details' ``application``, ``delivery``, ``violation``).
# An official sees an entry when one of those areas lies in the jurisdiction (``touches``,
# the rule every list of this page uses). An entry that names no area at all (login, logout,
# tokens, personnel changes, the agency's own log export) is about the agency as a whole and
# is shown to every official who has the agency in reach; MOI sees every entry.

REFERENCES = {"grant": "grant", "application": "application", "delivery": "delivery",
              "dispute": "dispute", "violation": "violation"}


def _referenced(entries: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The record keys each entry's object and details name, by kind."""
    wanted: dict[str, set[str]] = {kind: set() for kind in REFERENCES}
    for entry in entries:
        kind, _, key = str(entry["object"]).partition(":")
        if kind in wanted and key:
            wanted[kind].add(key)
        for kind in wanted:
            if (key := (entry["details"] or {}).get(kind)) not in (None, ""):
                wanted[kind].add(str(key))
    return wanted


def _int_keys(keys: set[str]) -> list[int]:
    return [int(k) for k in keys if k.isdigit()]


def _record_areas(db: Session, wanted: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    """Areas of every referenced record, one query per kind."""
    found: dict[tuple[str, str], list[str]] = {}
    for row in db.execute(select(Grant.id, Grant.areas).where(
            Grant.id.in_(_int_keys(wanted["grant"])))):
        found["grant", str(row.id)] = list(row.areas)
    for row in db.execute(select(Application.id, Application.areas).where(
            Application.id.in_(_int_keys(wanted["application"])))):
        found["application", str(row.id)] = list(row.areas)
    for row in db.execute(select(Delivery.id, Delivery.areas).where(
            Delivery.id.in_(list(wanted["delivery"])))):
        found["delivery", str(row.id)] = list(row.areas)
    for row in db.execute(select(Dispute.id, Delivery.areas).join(
            Delivery, Delivery.id == Dispute.delivery_id).where(
            Dispute.id.in_(_int_keys(wanted["dispute"])))):
        found["dispute", str(row.id)] = list(row.areas)
    for row in db.execute(select(Violation.id, Grant.areas).join(
            Grant, Grant.id == Violation.grant_id).where(
            Violation.id.in_(_int_keys(wanted["violation"])))):
        found["violation", str(row.id)] = list(row.areas)
    return found


def entry_areas(entry: dict[str, Any], records: dict[tuple[str, str], list[str]]) -> list[str]:
    """Every area an audit entry is about (empty: the agency as a whole)."""
    details = entry["details"] or {}
    areas = [str(a) for a in details.get("areas") or []]
    if details.get("area_code"):
        areas.append(str(details["area_code"]))
    kind, _, key = str(entry["object"]).partition(":")
    areas += records.get((kind, key), [])
    for kind in REFERENCES:
        if (key := details.get(kind)) not in (None, ""):
            areas += records.get((kind, str(key)), [])
    return areas


def audit_entries_in_reach(db: Session, user: User,
                           entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The audit entries (``access.reports`` dicts) about the user's jurisdiction."""
    area = jurisdiction(user)
    if area == NATIONAL:
        return entries
    if area is None:
        return []
    records = _record_areas(db, _referenced(entries))
    kept = []
    for entry in entries:
        areas = entry_areas(entry, records)
        if not areas or touches(area, areas):
            kept.append(entry)
    return kept
