"""``popstats maintain`` scheduled on several hosts: on PostgreSQL one run works at a time
(an advisory lock); the others stop at once, change nothing and record nothing."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from access.models import AuditEntry
from access.run_lock import single_run
from popstats.cli import main


def runs(session: Session) -> int:
    count = session.scalar(select(func.count()).where(AuditEntry.action == "maintenance.run"))
    session.rollback()  # SQLite: a transaction holds the write lock the next run needs
    return count


def test_a_second_run_while_one_holds_the_lock_does_nothing(engine: Engine, db_url: str,
                                                             session: Session) -> None:
    with single_run(engine, "popstats maintain") as mine:
        assert mine
        second = CliRunner().invoke(main, ["maintain", "--db", db_url])
    session.expire_all()
    if engine.dialect.name == "postgresql":
        assert second.exit_code == 0, second.output
        assert "another popstats maintain run holds the lock" in second.output
        assert runs(session) == 0
    else:  # SQLite: one host, whose scheduler runs it once
        assert runs(session) == 1, second.output
    third = CliRunner().invoke(main, ["maintain", "--db", db_url])  # the lock is free again
    assert third.exit_code == 0, third.output
    session.expire_all()
    assert runs(session) == (1 if engine.dialect.name == "postgresql" else 2)


def test_the_lock_is_one_per_name(engine: Engine) -> None:
    with single_run(engine, "a") as first, single_run(engine, "b") as other:
        assert first and other
