"""Every decision of the Administration page, for the user of this request's session.

Each function takes the session user (never a user, agency or grant from the client), looks
the record up by the id the client sent — an id is only a key: every rule is checked again
— calls the access layer, commits, and returns an ``Outcome`` to show. The access layer
audits its own refusals (``grant.refused``, ``extension.decision_refused``,
``dispute.resolution_refused``); what it does not check (jurisdiction and role for
violations, restores and personnel changes; unknown ids; the Audit tab) is refused here
with an ``admin.refused`` entry, committed before the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from access import audit, checkpoints, deliveries, grants, reports, sanctions
from access.accounts import AccessError
from access.grants import POSTS
from access.models import Agency, Application, Dispute, Extension, Grant, User, Violation
from dashboards.admin.scope import (
    agency_in_reach,
    audit_entries_in_reach,
    jurisdiction,
    may_audit,
    may_decide,
)
from dashboards.i18n import t
from stats.said import in_language, said

REFUSED = "admin.refused"
DECISIONS = ("approve", "reject", "return")


@dataclass(frozen=True)
class Outcome:
    """What happened, for the page's status line."""

    ok: bool
    message: str


def parse_id(value: Any) -> int | None:
    """A record id from the client (anything else is None)."""
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def parse_date(value: Any) -> date | None:
    """``YYYY-MM-DD`` (a date picker may send a time after it) or None."""
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def refuse(db: Session, user: User, obj: str, reason: str, now: datetime,
           agency_id: int | None = None) -> Outcome:
    """Undo anything pending, audit the refusal, commit it, and say so."""
    db.rollback()
    audit.record(db, user.username, REFUSED, obj, now, {"reason": reason}, agency_id=agency_id)
    db.commit()
    return Outcome(False, t("已拒絕：" + in_language(reason, "zh"), "Refused: " + reason))


def failed(db: Session, error: AccessError) -> Outcome:
    """An access-layer refusal (which audited itself where the rule is about who may act)."""
    db.rollback()
    return Outcome(False, t("未執行：" + in_language(error, "zh"), "Not done: " + str(error)))


def outside_reach(agency_id: int, area: str) -> str:
    return said(f"agency {agency_id} has no application or grant within {area} (point 6)",
                f"機關 {agency_id} 在轄區（{area}）內沒有申請或授權（第六點）")


def not_auditor(user: User) -> str:
    return said(f"{user.username!r} is not an auditor or official",
                f"{user.username} 不是稽核或核定人員")


def missing(what_zh: str, what_en: str) -> Outcome:
    """A required field left empty: nothing was attempted."""
    return Outcome(False, t(f"請填寫{what_zh}。", f"Please fill in {what_en}."))


# --- applications (points 10, 11, 13) ------------------------------------------------------

def approved_scope(scope: tuple[Any, Any, Any]) -> dict[str, list[str] | None]:
    """The narrower scope chosen for an approval (point 11): tables and channels from their
    lists, area codes typed apart by spaces or commas; an empty part keeps what was applied
    for. The access layer refuses anything not applied for."""
    tables, areas, channels = scope
    codes = str(areas or "").replace(",", " ").replace("、", " ").split()
    return {"tables": _chosen(tables), "areas": codes or None, "channels": _chosen(channels)}


def _chosen(values: Any) -> list[str] | None:
    """A multi-select's choices, or None when nothing is chosen."""
    return [str(v) for v in values] if isinstance(values, list) and values else None


def decide_application(db: Session, user: User, decision: str, app_id: Any, valid_from: Any,
                       valid_to: Any, reason: str | None, now: datetime,
                       scope: tuple[Any, Any, Any] = (None, None, None)) -> Outcome:
    """Approve (with validity, all that was applied for or a narrower scope with a reason),
    reject (reason required) or return an application."""
    if decision not in DECISIONS:
        return Outcome(False, t("未知的動作。", "Unknown action."))
    app = db.get(Application, parse_id(app_id)) if parse_id(app_id) is not None else None
    if app is None:
        return refuse(db, user, f"application:{app_id}",
                      said("no such application", "查無此申請"), now)
    reason = (reason or "").strip()
    try:
        if decision == "approve":
            first, last = parse_date(valid_from), parse_date(valid_to)
            if first is None or last is None:
                return missing("有效期間（起、迄）", "the validity (from and to)")
            grant = grants.approve(db, app, user, first, last, now, reason=reason,
                                   **approved_scope(scope))
            db.commit()
            return Outcome(True, t(f"申請 {app.id} 已核准，授權 {grant.id}。",
                                   f"Application {app.id} approved: grant {grant.id}."))
        if decision == "reject":
            if not reason:
                return missing("駁回理由", "the reason for rejecting")
            grants.reject(db, app, user, reason, now)
            db.commit()
            return Outcome(True, t(f"申請 {app.id} 已駁回。", f"Application {app.id} rejected."))
        grants.return_for_completion(db, app, user, reason, now)
        db.commit()
        return Outcome(True, t(f"申請 {app.id} 已退回補正。",
                               f"Application {app.id} returned for completion."))
    except AccessError as error:
        return failed(db, error)


# --- violations and suspensions (point 19) ------------------------------------------------

def _grant_problem(user: User, grant: Grant) -> str:
    """Why ``user`` may not sanction ``grant`` ("" = may): the access layer's rule, asked
    first so the page can refuse (and audit) before anything is attempted."""
    return sanctions.sanction_problem(user, grant)


def record_violation(db: Session, user: User, grant_id: Any, description: str | None,
                     deadline: Any, now: datetime) -> Outcome:
    """Record a violation: same-day notice, a deadline, the agency suspended at once."""
    grant = db.get(Grant, parse_id(grant_id)) if parse_id(grant_id) is not None else None
    if grant is None:
        return refuse(db, user, f"grant:{grant_id}",
                      said("no such grant", "查無此授權"), now)
    if problem := _grant_problem(user, grant):
        return refuse(db, user, f"grant:{grant.id}", problem, now, grant.agency_id)
    due = parse_date(deadline)
    if not (description or "").strip() or due is None:
        return missing("違規事實與改善期限", "the violation and the deadline")
    try:
        violation = sanctions.record_violation(db, grant, user, description or "", due, now)
        db.commit()
    except AccessError as error:
        return failed(db, error)
    return Outcome(True, t(
        f"違規 {violation.id} 已登錄並當日通知；授權 {grant.id} 暫停，該機關的連線立即中止。",
        f"Violation {violation.id} recorded and notified today; grant {grant.id} is "
        "suspended and the agency's sessions and tokens end now."))


def restore(db: Session, user: User, violation_id: Any, note: str | None,
            now: datetime) -> Outcome:
    """Restore linking after review (refused, and the grant lapses, after six months)."""
    violation = (db.get(Violation, parse_id(violation_id))
                 if parse_id(violation_id) is not None else None)
    if violation is None:
        return refuse(db, user, f"violation:{violation_id}",
                      said("no such violation", "查無此違規紀錄"), now)
    if problem := _grant_problem(user, violation.grant):
        return refuse(db, user, f"violation:{violation.id}", problem, now,
                      violation.grant.agency_id)
    if not (note or "").strip():
        return missing("審查結果", "the review note")
    try:
        sanctions.restore(db, violation, user, note or "", now)
        db.commit()
    except AccessError as error:
        return failed(db, error)
    return Outcome(True, t(f"違規 {violation.id} 已審查恢復；授權 {violation.grant_id} 恢復使用。",
                           f"Violation {violation.id} restored after review; grant "
                           f"{violation.grant_id} is back in use."))


# --- personnel changes (point 12) ---------------------------------------------------------

def record_personnel(db: Session, user: User, agency_id: Any, post: Any, person: str | None,
                     effective_on: Any, now: datetime, letter: str | None = None) -> Outcome:
    """Record a reported change of case officer or unit supervisor of an agency in reach."""
    agency = db.get(Agency, parse_id(agency_id)) if parse_id(agency_id) is not None else None
    if agency is None:
        return refuse(db, user, f"agency:{agency_id}",
                      said("no such agency", "查無此機關"), now)
    if not may_decide(user):
        return refuse(db, user, f"agency:{agency.id}",
                      said(f"{user.username!r} is not a provider official",
                           f"{user.username} 不是提供機關的核定人員"), now, agency.id)
    if not agency_in_reach(db, user, agency.id):
        return refuse(db, user, f"agency:{agency.id}",
                      outside_reach(agency.id, jurisdiction(user)), now, agency.id)
    effective = parse_date(effective_on)
    if (post not in POSTS or not (person or "").strip() or effective is None
            or not (letter or "").strip()):
        return missing("職務、人員、生效日與來函文號",
                       "the post, the person, the date and the letter reference")
    try:
        grants.record_personnel_change(db, agency, str(post), (person or "").strip(), effective,
                                       now, letter_ref=(letter or "").strip(), by=user)
        db.commit()
    except AccessError as error:
        return failed(db, error)
    return Outcome(True, t(f"已登錄 {agency.name} 的人員異動。",
                           f"Personnel change of {agency.name} recorded."))


# --- extensions and disputes (points 16, 17) ----------------------------------------------

def decide_extension(db: Session, user: User, ext_id: Any, approve: bool,
                     now: datetime) -> Outcome:
    """Approve or refuse an extension request (jurisdiction checked by the access layer)."""
    ext = db.get(Extension, parse_id(ext_id)) if parse_id(ext_id) is not None else None
    if ext is None:
        return refuse(db, user, f"extension:{ext_id}",
                      said("no such extension request", "查無此延長申請"), now)
    try:
        deliveries.decide_extension(db, ext, user, approve, now)
        db.commit()
    except AccessError as error:
        return failed(db, error)
    if approve:
        return Outcome(True, t(f"展延申請 {ext.id} 已核准（{ext.days} 日）。",
                               f"Extension request {ext.id} approved ({ext.days} days)."))
    return Outcome(True, t(f"展延申請 {ext.id} 未核准。", f"Extension request {ext.id} refused."))


def resolve_dispute(db: Session, user: User, dispute_id: Any, resolution: str | None,
                    now: datetime) -> Outcome:
    """Record a dispute's resolution (jurisdiction checked by the access layer)."""
    dispute = db.get(Dispute, parse_id(dispute_id)) if parse_id(dispute_id) is not None else None
    if dispute is None:
        return refuse(db, user, f"dispute:{dispute_id}",
                      said("no such dispute", "查無此疑義"), now)
    if not (resolution or "").strip():
        return missing("處理結果", "the resolution")
    try:
        deliveries.resolve_dispute(db, dispute, user, (resolution or "").strip(), now)
        db.commit()
    except AccessError as error:
        return failed(db, error)
    return Outcome(True, t(f"疑義 {dispute.id} 已處理。", f"Dispute {dispute.id} resolved."))


# --- audit (point 18) ---------------------------------------------------------------------

def verify_chain(db: Session, user: User, now: datetime) -> audit.Verification | Outcome:
    """Recompute the hash chain (auditors and officials); the check itself is audited."""
    if not may_audit(user):
        return refuse(db, user, "audit:chain", not_auditor(user), now)
    result = checkpoints.verify_log(db)
    audit.record(db, user.username, "audit.verified", "audit:chain", now,
                 {"ok": result.ok, "entries": result.entries,
                  "first_problem": result.problems[0] if result.problems else None})
    db.commit()
    return result


def agency_report(db: Session, user: User, agency_id: Any, first: Any, last: Any,
                  now: datetime, action: str = "audit.report") -> dict[str, Any] | Outcome:
    """The agency's audit entries for a period (auditors and officials, agencies in reach).

    Reading it is audited as ``action`` without the agency's id, so the reader's entry does
    not become part of the agency's own report.
    """
    agency = db.get(Agency, parse_id(agency_id)) if parse_id(agency_id) is not None else None
    if agency is None:
        return refuse(db, user, f"agency:{agency_id}",
                      said("no such agency", "查無此機關"), now)
    if not may_audit(user):
        return refuse(db, user, f"agency:{agency.id}",
                      not_auditor(user), now)
    if not agency_in_reach(db, user, agency.id):
        return refuse(db, user, f"agency:{agency.id}",
                      outside_reach(agency.id, jurisdiction(user)), now)
    start, end = parse_date(first), parse_date(last)
    if start is None or end is None:
        return missing("期間（起、迄）", "the period (from and to)")
    if end < start:
        return Outcome(False, t("迄日早於起日。", "The end date is before the start date."))
    report = reports.agency_report(  # only entries about the official's jurisdiction
        db, agency.id, start, end, within=lambda found: audit_entries_in_reach(db, user, found))
    audit.record(db, user.username, action, f"agency:{agency.id}", now,
                 {"from": str(start), "to": str(end), "entries": len(report["entries"])})
    db.commit()
    return {**report, "agency_name": agency.name}
