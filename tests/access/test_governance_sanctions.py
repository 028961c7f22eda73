"""Point 19's "逾半年" counted as the Civil Code counts months, and point 20's termination:
recorded by an official enclosing the grant, dated the day it is recorded or by its letter,
never cutting access retroactively."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.models import AuditEntry, Grant, Termination
from access.sanctions import (
    SanctionError,
    lapse_at,
    lapse_overdue,
    period_last_day,
    record_violation,
    request_termination,
)
from tests.access.conftest import NOW, World
from tests.access.governance_helpers import apply, cli_world, run, submit_args


def _grant(session: Session, world: World) -> Grant:
    """A national grant approved by MOI at NOW (2025-03-10 10:00 Taipei)."""
    from access.grants import approve

    app = apply(session, world, world.moi, ["00000"])
    grant = approve(session, app, world.moi_official, date(2025, 1, 1), date(2027, 12, 31), NOW)
    session.commit()
    return grant


# --- point 19: six months, Civil Code arts. 120-121 ----------------------------------------


@pytest.mark.parametrize(
    "notice, last_day",
    [
        (date(2025, 3, 10), date(2025, 9, 10)),  # runs 3/11 … 9/10
        (date(2025, 2, 28), date(2025, 8, 31)),  # runs from 3/1: ends with August
        (date(2025, 8, 30), date(2026, 2, 28)),  # from 8/31: February has no 31st
        (date(2025, 8, 31), date(2026, 2, 28)),  # from 9/1: ends with February
        (date(2023, 8, 30), date(2024, 2, 29)),  # leap year
        (date(2025, 12, 31), date(2026, 6, 30)),  # from 1/1: ends with June
    ],
)
def test_six_months_end_on_the_civil_code_day(notice: date, last_day: date) -> None:
    assert period_last_day(notice, 6) == last_day


# Notice at 3/10 23:59:59 Taipei lapses at 9/11 00:00 Taipei; one second later, a day later.
@pytest.mark.parametrize(
    "noticed, lapses",
    [
        (datetime(2025, 3, 10, 15, 59, 59, tzinfo=UTC), datetime(2025, 9, 10, 16, 0, tzinfo=UTC)),
        (datetime(2025, 3, 10, 16, 0, 0, tzinfo=UTC), datetime(2025, 9, 11, 16, 0, tzinfo=UTC)),
    ],
)
def test_lapse_at_24_00_of_the_last_day_to_the_second(
    session: Session, world: World, noticed: datetime, lapses: datetime
) -> None:
    grant = _grant(session, world)
    violation = record_violation(session, grant, world.moi_official, "查詢紀錄未留存",
                                 date(2025, 4, 30), noticed)
    session.commit()
    assert lapse_at(violation) == lapses
    assert lapse_overdue(session, lapses - timedelta(seconds=1)) == []
    assert grant.state == "suspended"
    assert lapse_overdue(session, lapses) == [violation]
    assert grant.state == "lapsed"


# --- point 20: termination -------------------------------------------------------------------


def test_termination_only_by_an_official_enclosing_the_grant(
    session: Session, world: World
) -> None:
    grant = _grant(session, world)
    for outsider in (world.user, world.taipei_official, world.statistician):
        with pytest.raises(SanctionError):
            request_termination(session, grant, "衛部字第1號", None, date(2025, 5, 1), NOW,
                                by=outsider)
        session.rollback()
    refused = session.scalars(select(AuditEntry.actor).where(
        AuditEntry.action == "termination.refused")).all()
    assert refused == ["alice", "tp", "stat"]
    assert session.get(Grant, grant.id).ends_at is None  # type: ignore[union-attr]
    done = request_termination(session, grant, "衛部字第1號", None, date(2025, 5, 1), NOW,
                               by=world.moi_official)
    assert (done.requested_on, done.recorded_by) == (date(2025, 3, 10), world.moi_official.id)


def test_the_issues_backdated_termination_is_refused(session: Session, world: World) -> None:
    """Entered in November 2025: notice 2025-01-01, effective 2025-02-01 — it would have cut
    access retroactively, and the notice predates the grant."""
    grant = _grant(session, world)
    november = datetime(2025, 11, 5, 2, 0, tzinfo=UTC)
    with pytest.raises(SanctionError, match="before grant .* was approved"):
        request_termination(session, grant, "衛部字第1號", date(2025, 1, 1), date(2025, 2, 1),
                            november, by=world.moi_official)
    with pytest.raises(SanctionError, match="access never ends before it is recorded"):
        request_termination(session, grant, "衛部字第1號", date(2025, 10, 1), date(2025, 11, 1),
                            november, by=world.moi_official)
    with pytest.raises(SanctionError, match="after today"):
        request_termination(session, grant, "衛部字第1號", date(2025, 11, 6), date(2025, 12, 6),
                            november, by=world.moi_official)
    assert grant.ends_at is None and session.scalars(select(Termination)).all() == []


# Notice by letter of 3/10 (the grant's day), effective 4/10: it must be recorded by 4/9 24:00
# Taipei, or access would end before the termination was on record.
@pytest.mark.parametrize(
    "recorded, accepted",
    [
        (datetime(2025, 4, 9, 15, 59, 59, tzinfo=UTC), True),  # 4/9 23:59:59 Taipei
        (datetime(2025, 4, 9, 16, 0, 0, tzinfo=UTC), False),  # 4/10 00:00:00 Taipei
    ],
)
def test_termination_recorded_before_its_effective_day_to_the_second(
    session: Session, world: World, recorded: datetime, accepted: bool
) -> None:
    grant = _grant(session, world)
    if not accepted:
        with pytest.raises(SanctionError, match="at the earliest"):
            request_termination(session, grant, "衛部字第1號", date(2025, 3, 10),
                                date(2025, 4, 10), recorded, by=world.moi_official)
        assert grant.ends_at is None
        return
    request_termination(session, grant, "衛部字第1號", date(2025, 3, 10), date(2025, 4, 10),
                        recorded, by=world.moi_official)
    assert grant.ends_at == datetime(2025, 4, 9, 16, 0, tzinfo=UTC)  # 4/10 00:00 Taipei


def test_notice_without_a_date_is_the_day_recorded(session: Session, world: World) -> None:
    grant = _grant(session, world)
    at = datetime(2025, 3, 20, 16, 30, tzinfo=UTC)  # 3/21 00:30 in Taipei
    with pytest.raises(SanctionError, match="notified on 2025-03-21"):
        request_termination(session, grant, "衛部字第1號", None, date(2025, 4, 20), at,
                            by=world.moi_official)
    done = request_termination(session, grant, "衛部字第1號", None, date(2025, 4, 21), at,
                               by=world.moi_official)
    assert done.requested_on == date(2025, 3, 21)


def test_cli_backdated_termination_refused(
    cli: click.Group, db_url: str, tmp_path: Path
) -> None:
    db = ["--db", db_url]
    rules = cli_world(cli, db, tmp_path)
    assert run(cli, *submit_args(rules, "00000"), *db).exit_code == 0
    assert run(cli, "application", "review", "1", "--by", "moi", "--decision", "approve",
               "--valid-from", "2025-01-01", "--valid-to", "2099-12-31", *db).exit_code == 0
    args = ["terminate", "--grant", "1", "--letter", "衛部字第1號", "--requested-on",
            "2025-01-01", "--effective-on", "2025-02-01"]
    assert CliRunner().invoke(cli, [*args, *db]).exit_code == 2  # no --by
    refused = run(cli, *args, "--by", "alice", *db)
    assert refused.exit_code == 1 and "not a provider official" in refused.output
    backdated = run(cli, *args, "--by", "moi", *db)
    assert backdated.exit_code == 1 and "before grant 1 was approved" in backdated.output
    (grant,) = json.loads(run(cli, "grant", "list", "--json", *db).output)
    assert grant["state"] == "active" and grant["ends_at"] is None
