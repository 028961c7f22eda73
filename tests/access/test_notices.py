"""Points 19 and 20: what a suspended, lapsed or terminated agency is told, in Taipei time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from access import sanctions
from access.notices import agency_notices, blocking_notices, notice_text
from tests.access.conftest import World, grant_taipei

NOTICE = datetime(2025, 5, 6, 1, 30, tzinfo=UTC)  # 2025-05-06 09:30 in Taipei


def _suspend(session: Session, world: World):  # noqa: ANN202
    grant = grant_taipei(session, world, ["population"], ["online_query"])
    violation = sanctions.record_violation(session, grant, world.taipei_official,
                                           "查詢目的外利用", date(2025, 6, 5), NOTICE)
    session.commit()
    return grant, violation


def test_no_notice_for_an_agency_in_good_standing(session: Session, world: World) -> None:
    grant_taipei(session, world, ["population"], ["online_query"])
    assert agency_notices(session, world.agency.id, NOTICE) == []


def test_suspension_is_told_with_provider_time_deadline_and_contact(
    session: Session, world: World
) -> None:
    grant, _ = _suspend(session, world)
    assert agency_notices(session, world.agency.id, NOTICE - timedelta(seconds=1)) == []
    [notice] = agency_notices(session, world.agency.id, NOTICE)
    assert (notice.kind, notice.grant_id, notice.deadline) == ("suspended", grant.id,
                                                               date(2025, 6, 5))
    zh = notice_text(notice, "zh")
    assert zh.startswith(f"{world.taipei_gov.name}自114年5月6日 09:30 臺北時間起停止")
    assert "114年6月5日前改善" in zh and "查詢目的外利用" in zh and "tp" in zh
    en = notice_text(notice, "en")
    assert "2025-05-06 09:30 +08:00" in en and "2025-06-05" in en
    assert blocking_notices([notice]) == [notice]
    assert agency_notices(session, world.other_agency.id, NOTICE) == []


def test_restored_agency_is_told_nothing_more(session: Session, world: World) -> None:
    _, violation = _suspend(session, world)
    later = NOTICE + timedelta(days=3)
    sanctions.restore(session, violation, world.taipei_official, "已改善", later)
    session.commit()
    assert agency_notices(session, world.agency.id, later) == []


def test_lapse_is_told(session: Session, world: World) -> None:
    _suspend(session, world)
    after = datetime(2025, 11, 7, tzinfo=UTC)  # well past six months in any reading
    sanctions.lapse_overdue(session, after)
    session.commit()
    [notice] = agency_notices(session, world.agency.id, after)
    assert notice.kind == "lapsed" and "須重新申請" in notice_text(notice, "zh")
