"""The demo parties of CONTRACT §4 ``popstats demo-accounts``: (re)created on every run.

MOI and two county governments (臺北市政府, 高雄市政府) with one official each, and three
public agencies with one user each: every table nationally (granted by MOI), every table
for 臺北市 only (granted by 臺北市政府), ``vital_events`` for 高雄市 only (granted by
高雄市政府). Re-running replaces their passwords, tokens, applications and grants.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from access import accounts, agencies, grants
from access.calendar import local_date
from access.models import (
    CHANNELS,
    Agency,
    Application,
    Grant,
    Termination,
    User,
    Violation,
)
from stats.catalogue import TABLES

ALL_TABLES = tuple(TABLES)
DEMO_RULES = {key: f"示範機關已訂定：{label}" for key, label in grants.RULE_ITEMS.items()}
DEMO_PURPOSE = "示範用途：人口統計資料應用"
DEMO_LEGAL_BASIS = "個人資料保護法第15條、戶籍法第65條"


@dataclass(frozen=True)
class DemoOfficial:
    """A provider official of the demo."""

    username: str
    provider: str  # provider code


@dataclass(frozen=True)
class DemoAgency:
    """A demo agency, its one user and the grant a provider gave it."""

    username: str
    agency: str
    provider: str
    tables: tuple[str, ...]
    areas: tuple[str, ...]
    code: str  # 機關代碼 in its official form (demo values, see access.agencies)
    kind: str = "local"


OFFICIALS = (
    DemoOfficial("moi_official", "MOI"),
    DemoOfficial("taipei_official", "63000"),
    DemoOfficial("kaohsiung_official", "64000"),
)
AGENCIES = (
    DemoAgency("national_user", "國家發展委員會", "MOI", ALL_TABLES, ("00000",), "A15000000H",
               "central"),
    DemoAgency("taipei_user", "臺北市政府主計處", "63000", ALL_TABLES, ("63000",), "379130000A"),
    DemoAgency("kaohsiung_user", "高雄市政府衛生局", "64000", ("vital_events",), ("64000",),
               "397040000A"),
)


def _password() -> str:
    return secrets.token_urlsafe(12)


def _user(
    session: Session, username: str, role: str, now: datetime, **party: Any
) -> tuple[User, str]:
    """The demo user with a fresh password (created if missing)."""
    password = _password()
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = accounts.add_user(session, username, password, role, now, actor="demo", **party)
    else:
        accounts.set_password(session, user, password)
    return user, password


def _clear_grants(session: Session, agency: Agency) -> None:
    """Remove an agency's demo applications and grants (and what hangs off them)."""
    grant_ids = select(Grant.id).where(Grant.agency_id == agency.id)
    session.execute(delete(Violation).where(Violation.grant_id.in_(grant_ids)))
    session.execute(delete(Termination).where(Termination.grant_id.in_(grant_ids)))
    session.execute(delete(Grant).where(Grant.agency_id == agency.id))
    session.execute(delete(Application).where(Application.agency_id == agency.id))


def create_demo(session: Session, now: datetime) -> list[dict[str, Any]]:
    """(Re)create the demo parties and return one credentials record per demo user."""
    providers = accounts.ensure_standard_providers(session)
    officials: dict[str, User] = {}
    records: list[dict[str, Any]] = []
    for official in OFFICIALS:
        provider = providers[official.provider]
        user, password = _user(
            session, official.username, "provider_official", now, provider=provider
        )
        officials[official.provider] = user
        records.append(
            {
                "username": official.username,
                "password": password,
                "token": None,
                "agency": provider.name,
                "role": user.role,
                "tables": list(ALL_TABLES),
                "areas": [provider.jurisdiction],
            }
        )
    today = local_date(now)
    for spec in AGENCIES:
        agency = session.scalar(select(Agency).where(Agency.name == spec.agency))
        if agency is None:
            agency = agencies.add_agency(session, spec.agency, now, code=spec.code,
                                         kind=spec.kind, by=officials["MOI"])
        elif agency.code != spec.code or agency.kind != spec.kind:
            agencies.set_agency_code(session, agency, now, code=spec.code, kind=spec.kind,
                                     by=officials["MOI"])
        _clear_grants(session, agency)
        user, password = _user(session, spec.username, "agency_user", now, agency=agency)
        accounts.revoke_agency_access(session, agency.id, now)
        app = grants.submit(
            session,
            agency,
            providers[spec.provider],
            spec.tables,
            spec.areas,
            CHANNELS,
            DEMO_PURPOSE,
            DEMO_RULES,
            now,
            legal_basis=DEMO_LEGAL_BASIS,
            by=user,
        )
        grants.approve(
            session,
            app,
            officials[spec.provider],
            today - timedelta(days=1),
            today + timedelta(days=365),
            now,
        )
        token = accounts.issue_token(session, user, now)
        records.append(
            {
                "username": spec.username,
                "password": password,
                "token": token,
                "agency": agency.name,
                "role": user.role,
                "tables": list(spec.tables),
                "areas": list(spec.areas),
            }
        )
    session.flush()
    return records
