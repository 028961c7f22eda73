"""Violations (point 19: suspension, restore, six-month lapse) and termination (point 20)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.accounts import issue_token, token_user
from access.grants import actor_of, agency_rules, approve, submit
from access.models import AuditEntry, Grant
from access.permissions import can_view
from access.sanctions import (
    SanctionError,
    close_terminated,
    lapse_overdue,
    record_violation,
    request_termination,
    restore,
)
from tests.access.conftest import LEGAL_BASIS, NOW, PURPOSE, World, full_rules


def _grant(session: Session, world: World) -> Grant:
    app = submit(
        session,
        world.agency,
        world.moi,
        ["population"],
        ["00000"],
        ["online_query"],
        PURPOSE,
        full_rules(),
        NOW,
        legal_basis=LEGAL_BASIS,
        by=world.user,
    )
    return approve(session, app, world.moi_official, date(2025, 1, 1), date(2027, 12, 31), NOW)


def _sees(session: Session, world: World, now: datetime) -> bool:
    return can_view(
        actor_of(world.user),
        "population",
        "63000",
        "online_query",
        agency_rules(session, world.agency.id),
        now,
    )


def test_violation_suspends_at_once_and_restore_reopens(session: Session, world: World) -> None:
    grant = _grant(session, world)
    token = issue_token(session, world.user, NOW)
    assert _sees(session, world, NOW)
    violation = record_violation(
        session, grant, world.moi_official, "查詢紀錄未留存", date(2025, 4, 10), NOW
    )
    session.commit()
    assert grant.state == "suspended" and not _sees(session, world, NOW)
    # the token still names its user (so GET /api/v1/notices reaches the agency), but no
    # data: can_view refuses the suspended grant at once
    assert token_user(session, token, NOW) is not None
    assert violation.noticed_at == NOW  # same-day notice
    restore(session, violation, world.moi_official, "已改善", datetime(2025, 4, 1, tzinfo=UTC))
    assert grant.state == "active" and _sees(session, world, datetime(2025, 4, 1, tzinfo=UTC))
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "grant.suspended" in actions and "grant.restored" in actions


# Notice on 2025-03-10 (Taipei): the six months run 3/11 … 9/10 (Civil Code arts. 120-121);
# "逾半年" is reached at 9/10 24:00 Taipei = 9/10 16:00 UTC. (This test used to expect the
# lapse a day early, at 9/10 00:00: the anniversary day itself still belongs to the period.)
@pytest.mark.parametrize(
    "when, restorable",
    [
        (datetime(2025, 9, 9, 16, 0, tzinfo=UTC), True),  # 9/10 00:00 Taipei: the last day
        (datetime(2025, 9, 10, 15, 59, 59, tzinfo=UTC), True),  # 9/10 23:59:59 Taipei
        (datetime(2025, 9, 10, 16, 0, 0, tzinfo=UTC), False),  # 9/11 00:00:00 Taipei: lapsed
        (datetime(2026, 1, 1, tzinfo=UTC), False),
    ],
)
def test_restore_after_six_months_refused_and_grant_lapses(
    session: Session, world: World, when: datetime, restorable: bool
) -> None:
    grant = _grant(session, world)
    violation = record_violation(session, grant, world.moi_official, "違規", date(2025, 4, 10), NOW)
    session.commit()
    if restorable:
        restore(session, violation, world.moi_official, "已改善", when)
        assert grant.state == "active"
        return
    with pytest.raises(SanctionError, match="apply again"):
        restore(session, violation, world.moi_official, "已改善", when)
    session.rollback()
    session.expire_all()
    assert session.get(Grant, grant.id).state == "lapsed"  # type: ignore[union-attr]
    assert not _sees(session, world, when)


def test_lapse_overdue_sweep(session: Session, world: World) -> None:
    grant = _grant(session, world)
    record_violation(session, grant, world.moi_official, "違規", date(2025, 4, 10), NOW)
    assert lapse_overdue(session, datetime(2025, 9, 10, 15, 59, 59, tzinfo=UTC)) == []
    assert len(lapse_overdue(session, datetime(2025, 9, 10, 16, 0, tzinfo=UTC))) == 1
    assert grant.state == "lapsed"
    with pytest.raises(SanctionError):
        record_violation(
            session,
            grant,
            world.moi_official,
            "再犯",
            date(2025, 10, 1),
            datetime(2025, 9, 20, tzinfo=UTC),
        )


# Written notice recorded on its own day (10:00 Taipei): the earliest effective date is a
# month later.
@pytest.mark.parametrize(
    "requested, effective, accepted",
    [
        (date(2025, 3, 10), date(2025, 4, 9), False),  # one day short of a month
        (date(2025, 3, 10), date(2025, 4, 10), True),  # exactly one month
        (date(2025, 3, 31), date(2025, 4, 30), True),  # month end clamps
        (date(2025, 3, 31), date(2025, 4, 29), False),
        (date(2025, 3, 10), date(2025, 3, 10), False),  # immediate: refused
    ],
)
def test_termination_needs_one_month_notice(
    session: Session, world: World, requested: date, effective: date, accepted: bool
) -> None:
    grant = _grant(session, world)
    recorded = datetime(requested.year, requested.month, requested.day, 2, tzinfo=UTC)
    if not accepted:
        with pytest.raises(SanctionError, match="one month"):
            request_termination(session, grant, "府函字第1號", requested, effective, recorded,
                                by=world.moi_official)
        assert grant.ends_at is None
        return
    request_termination(session, grant, "府函字第1號", requested, effective, recorded,
                        by=world.moi_official)
    assert grant.ends_at is not None


def test_termination_ends_access_on_its_date(session: Session, world: World) -> None:
    grant = _grant(session, world)
    request_termination(session, grant, "函", date(2025, 3, 10), date(2025, 4, 10), NOW,
                        by=world.moi_official)
    session.commit()
    assert _sees(session, world, datetime(2025, 4, 9, 15, 59, tzinfo=UTC))  # 4/9 23:59 Taipei
    assert not _sees(session, world, datetime(2025, 4, 9, 16, 0, tzinfo=UTC))  # 4/10 00:00
    assert close_terminated(session, datetime(2025, 4, 9, 15, 0, tzinfo=UTC)) == []
    assert close_terminated(session, datetime(2025, 4, 10, tzinfo=UTC)) == [grant]
    assert grant.state == "terminated"


@pytest.mark.parametrize("who", ["taipei_official", "khh_official", "statistician"])
def test_only_an_official_enclosing_the_grant_may_suspend_or_restore(
    session: Session, world: World, who: str
) -> None:
    """A national grant: county officials and statisticians are refused, audited; MOI acts."""
    grant = _grant(session, world)
    outsider = getattr(world, who)
    with pytest.raises(SanctionError):
        record_violation(session, grant, outsider, "違規", date(2025, 4, 10), NOW)
    assert grant.state == "active"
    violation = record_violation(session, grant, world.moi_official, "違規", date(2025, 4, 10), NOW)
    session.commit()
    with pytest.raises(SanctionError):
        restore(session, violation, outsider, "已改善", NOW)
    assert grant.state == "suspended" and violation.restored_at is None
    refused = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "sanction.refused", AuditEntry.actor == outsider.username)).all()
    assert len(refused) == 2 and all(e.object == f"grant:{grant.id}" for e in refused)
    restore(session, violation, world.moi_official, "已改善", NOW)
    assert grant.state == "active"
