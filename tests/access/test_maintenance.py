"""``popstats maintain``: retry (point 15), purge (17), lapse (19), close (20) with a
controlled clock; dry run, idempotence and failure isolation."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from access import audit, deliveries, maintenance, packages
from access.db import session_factory
from access.grants import approve, submit
from access.models import AuditEntry, Delivery, Grant, Violation
from access.sanctions import record_violation, request_termination
from tests.access.conftest import LEGAL_BASIS, NOW, PURPOSE, World, full_rules, grant_taipei

AT = datetime(2025, 4, 20, 2, 0, tzinfo=UTC)  # after the test release's publication
SEVEN_DAYS = timedelta(days=7)
SECOND = timedelta(seconds=1)


def _run(
    engine: Engine, session: Session, at: datetime, **options: Any
) -> maintenance.MaintenanceReport:
    """One maintenance run at ``at`` (the test's session ends its transaction first: on
    SQLite every transaction holds the write lock)."""
    session.commit()
    report = maintenance.run(session_factory(engine), lambda: at, **options)
    session.expire_all()
    return report


def _planned_then_run(
    engine: Engine, session: Session, at: datetime
) -> maintenance.MaintenanceReport:
    """A dry run and then a real run at ``at``; the dry run must have listed exactly what the
    real run then did (the plan reads its own queries, so they are checked here)."""
    plan = _run(engine, session, at, dry_run=True)
    report = _run(engine, session, at)
    assert _done(plan) == _done(report)
    return report


def _done(report: maintenance.MaintenanceReport) -> dict[str, tuple[str, ...]]:
    return {step.name: step.done for step in report.steps}


def _actions(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _file_producer(folder: Path) -> Callable[[Delivery], tuple[str, str]]:
    def produce(delivery: Delivery) -> tuple[str, str]:
        path = folder / f"{delivery.id}.csv"
        path.write_bytes(b"area_code,population\n63000,2500000\n")
        return str(path), hashlib.sha256(path.read_bytes()).hexdigest()

    return produce


def _ready_file(session: Session, world: World, folder: Path, when: datetime) -> Delivery:
    """A file-transfer delivery made ready at ``when`` (it expires 7 days later)."""
    delivery = deliveries.create(
        session, world.user, "file_transfer", ["population"], "2025-03", ["63000"], when
    )
    assert deliveries.produce(session, delivery, _file_producer(folder), when)
    session.commit()
    return delivery


def _other_grant(session: Session, world: World) -> Grant:
    """國家發展委員會 granted population for 臺北市 online (2025-01-01 … 2099-12-31)."""
    app = submit(
        session,
        world.other_agency,
        world.taipei_gov,
        ["population"],
        ["63000"],
        ["online_query"],
        PURPOSE,
        full_rules(),
        NOW,
        legal_basis=LEGAL_BASIS,
        by=world.other_user,
    )
    grant = approve(session, app, world.taipei_official, date(2025, 1, 1), date(2099, 12, 31), NOW)
    session.commit()
    return grant


def _pending_file(
    session: Session, world: World, releases: Path, outbox: Path, monkeypatch: pytest.MonkeyPatch
) -> Delivery:
    """A file-transfer delivery left pending by an injected provider-side fault (the fault
    stays injected until the caller calls ``monkeypatch.undo()``)."""

    def down(*args: object, **kwargs: object) -> Path:
        raise OSError("release store unavailable")

    monkeypatch.setattr(packages, "_write_table", down)
    delivery = packages.deliver_file(
        session,
        world.user,
        releases,
        "2025-03",
        "population",
        ["63000"],
        "csv",
        "utf-8",
        outbox,
        AT,
    )
    session.commit()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    return delivery


@pytest.fixture
def granted(session: Session, world: World) -> World:
    """``world.user``'s agency granted population for 臺北市 by file transfer."""
    world.grant = grant_taipei(session, world, ["population"], ["file_transfer"])  # type: ignore[attr-defined]
    return world


# ---------------------------------------------------------------- each step


def test_purge_at_seven_days_plus_one_second(
    engine: Engine, session: Session, granted: World, tmp_path: Path
) -> None:
    old = _ready_file(session, granted, tmp_path, AT)
    young = _ready_file(session, granted, tmp_path, AT + 2 * SECOND)
    run_at = AT + SEVEN_DAYS + SECOND  # old: 7 days + 1 s; young: 7 days - 1 s
    report = _planned_then_run(engine, session, run_at)
    assert _done(report)["purge"] == (f"delivery:{old.id}",)
    assert not Path(old.path).exists() and Path(young.path).exists()  # type: ignore[arg-type]
    assert session.get(Delivery, old.id).purged_at == run_at  # type: ignore[union-attr]
    assert session.get(Delivery, young.id).purged_at is None  # type: ignore[union-attr]
    (logged,) = _actions(session, "delivery.purged")
    assert (logged.object, logged.details["removed"]) == (f"delivery:{old.id}", True)


def test_pending_delivery_ready_once_the_fault_is_fixed(
    engine: Engine,
    session: Session,
    granted: World,
    releases: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delivery = _pending_file(session, granted, releases, tmp_path / "outbox", monkeypatch)
    still_down = _run(engine, session, AT + timedelta(minutes=10))
    (retry,) = [s for s in still_down.steps if s.name == "retry"]
    assert (retry.done, retry.left) == ((), (f"delivery:{delivery.id}",))
    assert still_down.ok  # a delivery that stays pending is kept, not a failed step
    monkeypatch.undo()  # the provider's system is repaired
    later = AT + timedelta(hours=1)
    report = _run(engine, session, later)
    assert _done(report)["retry"] == (f"delivery:{delivery.id}",)
    seen = session.get(Delivery, delivery.id)
    assert seen is not None
    assert (seen.status, seen.attempts, seen.last_error) == ("ready", 3, None)
    assert seen.expires_at == later + SEVEN_DAYS
    (file,) = Path(seen.path).iterdir()  # type: ignore[arg-type]
    assert file.suffix == ".csv" and file.stat().st_size > 0


def test_online_query_answers_are_not_retried(
    engine: Engine, session: Session, world: World
) -> None:
    grant_taipei(session, world, ["population"], ["online_query"])
    answer = deliveries.create(
        session, world.user, "online_query", ["population"], "2025-03", ["63000"], AT
    )  # pending, its content never stored: the agency resends the query (point 15)
    report = _run(engine, session, AT + timedelta(hours=1))
    assert _done(report)["retry"] == ()
    assert session.get(Delivery, answer.id).attempts == 0  # type: ignore[union-attr]


# Run at 2025-09-10 00:30 in Taipei (still 2025-09-09 in UTC). The six months after the
# notice day end at 24:00 of the corresponding day (Civil Code arts. 120-121): then the grant
# lapses (point 19, 逾半年).
RUN_TAIPEI_SEP_10 = datetime(2025, 9, 9, 16, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "noticed, lapses",
    [
        (datetime(2025, 3, 9, 2, 0, tzinfo=UTC), True),  # 3/9 Taipei: lapsed at 9/9 24:00
        (datetime(2025, 3, 10, 2, 0, tzinfo=UTC), False),  # 3/10: 9/10 is its last day
        (datetime(2025, 3, 11, 2, 0, tzinfo=UTC), False),  # 3/11: 6 months - 1 day
    ],
)
def test_lapse_after_six_months_taipei_calendar(
    engine: Engine, session: Session, world: World, noticed: datetime, lapses: bool
) -> None:
    grant = _other_grant(session, world)
    violation = record_violation(
        session, grant, world.taipei_official, "查詢紀錄未留存", date(2025, 4, 30), noticed
    )
    session.commit()
    report = _planned_then_run(engine, session, RUN_TAIPEI_SEP_10)
    expected = (f"grant:{grant.id} (violation {violation.id})",) if lapses else ()
    assert _done(report)["lapse"] == expected
    assert session.get(Grant, grant.id).state == ("lapsed" if lapses else "suspended")  # type: ignore[union-attr]
    assert len(_actions(session, "grant.lapsed")) == (1 if lapses else 0)


def test_termination_closes_the_grant_on_its_date(
    engine: Engine, session: Session, world: World
) -> None:
    grant = _other_grant(session, world)
    request_termination(session, grant, "府函字第1號", date(2025, 3, 10), date(2025, 4, 10), NOW,
                        by=world.taipei_official)
    # access ends at the start of 4/10 in Taipei: 4/9 16:00 UTC
    eve = _planned_then_run(engine, session, datetime(2025, 4, 9, 15, 59, 59, tzinfo=UTC))
    assert _done(eve)["close"] == () and session.get(Grant, grant.id).state == "active"  # type: ignore[union-attr]
    day = _planned_then_run(engine, session, datetime(2025, 4, 9, 16, 0, tzinfo=UTC))
    assert _done(day)["close"] == (f"grant:{grant.id}",)
    assert session.get(Grant, grant.id).state == "terminated"  # type: ignore[union-attr]
    assert [e.object for e in _actions(session, "grant.terminated")] == [f"grant:{grant.id}"]


# ---------------------------------------------------------------- the run as a whole

RUN_AT = datetime(2025, 9, 15, 2, 0, tzinfo=UTC)


@pytest.fixture
def everything_due(
    session: Session,
    granted: World,
    releases: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """At ``RUN_AT`` one object is due for each step; the expected done-ids per step."""
    pending = _pending_file(session, granted, releases, tmp_path / "outbox", monkeypatch)
    monkeypatch.undo()  # repaired before the run
    expired = _ready_file(session, granted, tmp_path, AT)  # expires 2025-04-27
    request_termination(session, granted.grant, "函", date(2025, 3, 10), date(2025, 5, 1), NOW,  # type: ignore[attr-defined]
                        by=granted.taipei_official)
    other = _other_grant(session, granted)
    violation = record_violation(
        session, other, granted.taipei_official, "違規", date(2025, 4, 30), NOW
    )  # noticed 2025-03-10: lapses at 2025-09-10 24:00 Taipei
    session.commit()
    return {
        "retry": f"delivery:{pending.id}",
        "purge": f"delivery:{expired.id}",
        "lapse": f"grant:{other.id} (violation {violation.id})",
        "close": f"grant:{granted.grant.id}",  # type: ignore[attr-defined]
        "expired_path": str(expired.path),
    }


def _state(session: Session) -> dict[str, list[Any]]:
    """Every row of the tables maintenance touches, and the audit log."""
    session.expire_all()
    tables = ("deliveries", "grants", "violations", "terminations", "audit_entries")
    state = {t: list(session.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all()) for t in tables}
    session.commit()
    return state


def test_dry_run_lists_and_changes_nothing_then_the_run_does_exactly_that(
    engine: Engine, session: Session, everything_due: dict[str, str]
) -> None:
    before = _state(session)
    plan = _run(engine, session, RUN_AT, dry_run=True)
    assert _state(session) == before  # not a row changed, not even an audit entry
    assert Path(everything_due["expired_path"]).exists()
    steps = ("retry", "purge", "lapse", "close")
    assert plan.dry_run and _done(plan) == {s: (everything_due[s],) for s in steps}
    report = _run(engine, session, RUN_AT)
    assert report.ok and _done(report) == _done(plan)
    assert not Path(everything_due["expired_path"]).exists()
    (run,) = _actions(session, "maintenance.run")
    assert (run.actor, run.time) == ("system", RUN_AT)
    assert run.details["counts"] == {"retry": 1, "purge": 1, "lapse": 1, "close": 1}
    assert run.details["failed"] == {}


def test_second_run_is_a_no_op(
    engine: Engine, session: Session, everything_due: dict[str, str]
) -> None:
    assert _run(engine, session, RUN_AT).ok
    after_first = _state(session)
    second = _run(engine, session, RUN_AT + timedelta(hours=1))
    assert second.ok and all(step.done == () and step.left == () for step in second.steps)
    after_second = _state(session)
    for table in ("deliveries", "grants", "violations", "terminations"):
        assert after_second[table] == after_first[table], table
    # the only new audit entry is the record of the (empty) run itself
    assert after_second["audit_entries"][:-1] == after_first["audit_entries"]
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert last.action == "maintenance.run"
    assert last.details["counts"] == {"retry": 0, "purge": 0, "lapse": 0, "close": 0}
    assert audit.verify(session).ok


def test_failing_step_does_not_stop_the_others(
    engine: Engine,
    session: Session,
    everything_due: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def disk_gone(session: Session, now: datetime, actor: str = "system",
                  outbox: Path | None = None) -> list[Delivery]:
        raise OSError("outbox volume not mounted")

    monkeypatch.setattr(deliveries, "purge", disk_gone)
    report = _run(engine, session, RUN_AT)
    assert not report.ok and report.failures() == {"purge": "OSError: outbox volume not mounted"}
    assert _done(report) == {
        "retry": (everything_due["retry"],),
        "purge": (),
        "lapse": (everything_due["lapse"],),
        "close": (everything_due["close"],),
    }
    assert Path(everything_due["expired_path"]).exists()
    (run,) = _actions(session, "maintenance.run")
    assert run.details["failed"] == {"purge": "OSError: outbox volume not mounted"}
    assert run.details["counts"] == {"retry": 1, "purge": 0, "lapse": 1, "close": 1}


def test_failed_step_rolls_back_its_own_writes_only(
    engine: Engine, session: Session, world: World
) -> None:
    grant = _other_grant(session, world)
    request_termination(session, grant, "函", date(2025, 3, 10), date(2025, 4, 10), NOW,
                        by=world.taipei_official)

    def half_done(session: Session, now: datetime) -> tuple[list[str], list[str]]:
        audit.record(session, "system", "half.done", "x", now)
        raise RuntimeError("crashed midway")

    broken = maintenance.Step("broken", "writes, then fails", lambda s, now: [], half_done)
    close = next(step for step in maintenance.STEPS if step.name == "close")
    report = _run(engine, session, RUN_AT, steps=[broken, close])
    assert report.failures() == {"broken": "RuntimeError: crashed midway"}
    assert _done(report)["close"] == (f"grant:{grant.id}",)
    assert _actions(session, "half.done") == []
    assert session.get(Grant, grant.id).state == "terminated"  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(Violation)) == 0


# ---------------------------------------------------------------- command line


def _invoke(cli: click.Group, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_dry_run_then_run_then_failure_exit_status(
    cli: click.Group,
    db_url: str,
    session: Session,
    granted: World,
    everything_due: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at = ["--at", "2025-09-15T10:00:00+08:00", "--db", db_url]  # = RUN_AT
    audit_length = session.scalar(select(func.count()).select_from(AuditEntry))
    session.commit()
    dry = _invoke(cli, "maintain", "--dry-run", *at)
    assert dry.exit_code == 0, dry.output
    assert "(dry run)" in dry.output
    assert f"would act on: 1 — {everything_due['purge']}" in dry.output
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_length
    session.commit()
    done = _invoke(cli, "maintain", *at)
    assert done.exit_code == 0, done.output
    for step in ("retry", "purge", "lapse", "close"):
        assert f"done: 1 — {everything_due[step]}" in done.output
    assert done.output.startswith(
        "maintenance at 114年9月15日 10:00:00 臺北時間 (2025-09-15 10:00:00 +08:00)\n")
    # a step that raises: the others run, the exit status says so
    grant = _other_grant(session, granted)
    request_termination(session, grant, "函", date(2025, 3, 10), date(2025, 10, 1), NOW,
                        by=granted.taipei_official)
    session.commit()

    def disk_gone(session: Session, now: datetime, actor: str = "system",
                  outbox: Path | None = None) -> list[Delivery]:
        raise OSError("outbox volume not mounted")

    monkeypatch.setattr(deliveries, "purge", disk_gone)
    failed = _invoke(cli, "maintain", "--at", "2025-10-01T00:00:00+08:00", "--db", db_url)
    assert failed.exit_code == 1
    assert "FAILED (rolled back): OSError: outbox volume not mounted" in failed.output
    assert f"done: 1 — grant:{grant.id}" in failed.output


def test_cli_reads_at_as_every_at_is_and_help_reads_well(
    cli: click.Group, db_url: str
) -> None:
    # a time without a zone is a Taipei time, as for publish --at; +8d is from now
    for typed in ("2025-09-15 10:00", "114/09/15 10:00", "+8d"):
        ran = _invoke(cli, "maintain", "--dry-run", "--at", typed, "--db", db_url)
        assert ran.exit_code == 0, ran.output
    naive = _invoke(cli, "maintain", "--dry-run", "--at", "2025-09-15 10:00", "--db", db_url)
    assert "maintenance at 114年9月15日 10:00:00 臺北時間 (2025-09-15 10:00:00 +08:00)" in naive.output
    wrong = _invoke(cli, "maintain", "--at", "yesterday", "--db", db_url)
    assert wrong.exit_code == 2 and "is not a time" in wrong.output
    text_ = _invoke(cli, "maintain", "--help").output
    for phrase in (
        "point 15",
        "point 17",
        "point 19",
        "point 20",
        "--dry-run",
        "--at",
        "crontab",
        "popstats maintain",
    ):
        assert phrase in text_, phrase


def test_staff_files_past_their_day_are_deleted_with_outbox(
    cli: click.Group, db_url: str, session: Session, tmp_path: Path
) -> None:
    """``--outbox``: a staff file one second past its day goes (audited), one a second short
    of it stays, a folder without a readable record goes; the dry run deletes nothing."""
    import json

    from access.staff_files import STAFF_RETENTION, staff_root

    run_at = datetime(2025, 9, 15, 2, 0, tzinfo=UTC)  # 10:00 in Taipei
    root = staff_root(tmp_path / "outbox")
    for name, made in (("a" * 32, run_at - STAFF_RETENTION - timedelta(seconds=1)),
                       ("b" * 32, run_at - STAFF_RETENTION + timedelta(seconds=1))):
        (root / name).mkdir(parents=True)
        (root / name / "meta.json").write_text(json.dumps(
            {"expires_at": (made + STAFF_RETENTION).isoformat()}), encoding="utf-8")
    (root / ("c" * 32)).mkdir()  # no record: not ours to keep
    args = ["--at", "2025-09-15T10:00:00+08:00", "--db", db_url,
            "--outbox", str(tmp_path / "outbox")]
    session.commit()  # release SQLite's write lock for the command's own sessions
    dry = _invoke(cli, "maintain", "--dry-run", *args)
    assert dry.exit_code == 0 and "staff" in dry.output
    assert sorted(p.name for p in root.iterdir()) == ["a" * 32, "b" * 32, "c" * 32]
    done = _invoke(cli, "maintain", *args)
    assert done.exit_code == 0, done.output
    assert [p.name for p in root.iterdir()] == ["b" * 32]
    purged = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "staff_export.purged")).all()
    assert len(purged) == 1 and sorted(purged[0].details["ids"]) == ["a" * 32, "c" * 32]
    session.commit()
    without = _invoke(cli, "maintain", "--at", "2025-09-16T10:00:00+08:00", "--db", db_url)
    assert without.exit_code == 0 and (root / ("b" * 32)).exists()  # no --outbox: untouched
