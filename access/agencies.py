"""Linking agencies (point 3: 連結作業以各公務機關為連結對象) and who may act for whom.

An agency is registered by a provider official with its official agency code (機關代碼) and
its kind. The kinds are those of a 公務機關 under the Personal Data Protection Act (art.
2(7): central or local government agencies and administrative corporations); anything else
— a company, a foundation, an association — is refused, naming point 3.

The agency code is the 10-character 機關代碼 of the unified personnel-information codes
(全國公務人員人事資訊統一代碼管理要點, point 3(1): 機關學校名稱, kept by 銓敘部 and
行政院人事行政總處): one digit or capital letter, eight digits, one capital check letter —
e.g. 379000000A 臺北市政府, 397000000A 高雄市政府, A09000000E 教育部, 315080000H 交通部
觀光局 (as published in agency code lists).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from access import audit
from access.accounts import AccessError, PartyError
from access.models import AGENCY_KINDS, NATIONAL, Agency, Application, Grant, User
from access.permissions import area_covers
from stats.said import said

AGENCY_CODE = re.compile(r"[0-9A-Z][0-9]{8}[A-Z]")
# Names that say the party is not a public agency, whatever kind is claimed for it.
_PRIVATE_NAME = re.compile(
    r"公司|企業社|商行|財團法人|社團法人|"
    r"\b(?:ltd|limited|inc|incorporated|corp|corporation|company|llc|plc|gmbh)\b",
    re.IGNORECASE,
)
OFFICIAL = "provider_official"


class NotPermitted(AccessError):
    """The acting account may not do this (missing role, outside its jurisdiction)."""


def refuse(
    session: Session, by: User, action: str, obj: str, now: datetime, message: str,
    agency_id: int | None = None,
) -> NoReturn:
    """Audit a refused governance step as ``<action>.refused``, commit that record, raise."""
    audit.record(session, by.username, f"{action}.refused", obj, now, {"reason": message},
                 agency_id=agency_id)
    session.commit()
    raise NotPermitted(message)


def official_problem(by: User) -> str:
    """Why ``by`` is not a provider official ("" when it is)."""
    if by.role != OFFICIAL or by.provider is None:
        return said(f"{by.username!r} is not a provider official",
                    f"{by.username} 不是提供機關的核定人員")
    return ""


def require_official(
    session: Session, by: User, action: str, obj: str, now: datetime,
    agency_id: int | None = None,
) -> None:
    """Refuse (audited) unless ``by`` is a provider official."""
    if problem := official_problem(by):
        refuse(session, by, action, obj, now,
               said(f"{problem}; only officials may {action}", f"{problem.zh}；只有核定人員能執行"),
               agency_id)


def agency_reach_problem(session: Session, by: User, agency: Agency) -> str:
    """Why official ``by`` may not act on ``agency``'s records ("" when they may): MOI reaches
    every agency; a county government only agencies with an application or grant in its
    area (point 6)."""
    if problem := official_problem(by):
        return problem
    assert by.provider is not None
    area = by.provider.jurisdiction
    if area == NATIONAL:
        return ""
    applied = session.scalars(select(Application.areas).where(Application.agency_id == agency.id))
    granted = session.scalars(select(Grant.areas).where(Grant.agency_id == agency.id))
    if any(area_covers(area, code) for areas in [*applied, *granted] for code in areas):
        return ""
    return said(f"{agency.name} has no application or grant within {area}; "
                f"{by.provider.name} acts only within its jurisdiction (point 6)",
                f"{agency.name}在轄區（{area}）內沒有申請或授權；{by.provider.name}只在其轄區內"
                "處理（第六點）")


def check_agency_code(code: str) -> str:
    """The agency code, upper-cased, or PartyError naming the expected form."""
    value = code.strip().upper()
    if not AGENCY_CODE.fullmatch(value):
        raise PartyError(
            f"agency code {code!r} is not a 機關代碼: expected 10 characters, a digit or "
            "capital letter, eight digits and a capital letter (e.g. 379000000A, A09000000E)"
        )
    return value


def check_public(name: str, kind: str) -> None:
    """Refuse anything but a public agency (point 3)."""
    if kind not in AGENCY_KINDS:
        raise PartyError(
            f"{name!r} of kind {kind!r} is not a public agency; only "
            + ", ".join(f"{k} ({v})" for k, v in AGENCY_KINDS.items())
            + " may link (point 3)"
        )
    if _PRIVATE_NAME.search(name):
        raise PartyError(
            f"{name!r} is named as a company or private body, not a public agency; only "
            "public agencies may link (point 3)"
        )


def add_agency(
    session: Session, name: str, now: datetime, *, code: str, kind: str, by: User
) -> Agency:
    """Register a public agency with its agency code and kind; ``by`` is the acting official
    (refused and audited otherwise)."""
    name = " ".join(name.split())
    if not name:
        raise PartyError("an agency needs its name")
    require_official(session, by, "agency.add", f"agency:{name}", now)
    check_public(name, kind)
    code = check_agency_code(code)
    if session.scalar(select(Agency).where(Agency.name == name)) is not None:
        raise PartyError(f"agency {name!r} already exists")
    if (other := session.scalar(select(Agency).where(Agency.code == code))) is not None:
        raise PartyError(f"agency code {code} already belongs to {other.name}")
    agency = Agency(name=name, code=code, kind=kind, created_at=now)
    session.add(agency)
    session.flush()
    audit.record(session, by.username, "agency.added", f"agency:{agency.id}", now,
                 {"name": name, "code": code, "kind": kind}, agency_id=agency.id)
    return agency


def set_agency_code(
    session: Session, agency: Agency, now: datetime, *, code: str, kind: str, by: User
) -> None:
    """Record the code and kind of an agency registered before they were required."""
    require_official(session, by, "agency.update", f"agency:{agency.id}", now, agency.id)
    check_public(agency.name, kind)
    code = check_agency_code(code)
    other = session.scalar(select(Agency).where(Agency.code == code, Agency.id != agency.id))
    if other is not None:
        raise PartyError(f"agency code {code} already belongs to {other.name}")
    before = {"code": agency.code, "kind": agency.kind}
    agency.code, agency.kind = code, kind
    audit.record(session, by.username, "agency.updated", f"agency:{agency.id}", now,
                 {"before": before, "code": code, "kind": kind}, agency_id=agency.id)


def applicant_problem(agency: Agency) -> str:
    """Why ``agency`` may not apply yet ("" when it may): its code and kind are on record."""
    if not agency.code or agency.kind not in AGENCY_KINDS:
        return (f"{agency.name} has no agency code and kind on record; an official records "
                "them first (popstats agency set-code), only public agencies may link (point 3)")
    return ""
