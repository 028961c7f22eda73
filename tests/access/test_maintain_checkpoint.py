"""Point 18, periodic audit: every maintain run verifies the audit log and keeps a checkpoint
of its head (signed when a key is configured); a broken log fails the run and is logged."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from click.testing import CliRunner
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from access import audit, checkpoints, maintenance, signing
from access.db import session_factory
from access.models import AuditCheckpoint, AuditEntry
from tests.access.conftest import NOW


def _fill(session: Session) -> None:
    for i in range(3):
        audit.record(session, "someone", "query", "x", NOW + timedelta(seconds=i), {"i": i})
    session.commit()


def test_each_run_keeps_a_checkpoint_and_verify_then_notices_a_cut(
    session: Session, engine: Engine
) -> None:
    _fill(session)
    make = session_factory(engine)
    report = maintenance.run(make, lambda: NOW, steps=[maintenance.checkpoint_step()])
    assert report.ok and report.steps[0].done == ("audit:3",)
    kept = session.scalars(select(AuditCheckpoint)).all()
    assert [(k.seq, k.form) for k in kept] == [(3, "unsigned")]
    session.commit()
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq >= 2"))
    session.expire_all()
    assert not checkpoints.verify_log(session).ok
    session.commit()
    again = maintenance.run(make, lambda: NOW + timedelta(hours=1),
                            steps=[maintenance.checkpoint_step()])
    assert not again.ok and "checkpoint" in again.failures()
    alarms = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "audit.verify_failed")).all()
    assert len(alarms) == 1 and "log ends at seq 1" in json.dumps(alarms[0].details)
    assert len(session.scalars(select(AuditCheckpoint)).all()) == 1  # nothing certified


def test_a_configured_key_signs_the_runs_checkpoint(session: Session, engine: Engine) -> None:
    _fill(session)
    key = signing.generate_key()
    report = maintenance.run(session_factory(engine), lambda: NOW,
                             steps=[maintenance.checkpoint_step(sign_key=key)])
    assert report.ok
    kept = session.scalars(select(AuditCheckpoint)).one()
    point = checkpoints.read_checkpoint(kept.document)
    assert kept.form == "ed25519"
    assert checkpoints.verify_signed_checkpoint(session, point, key.public_key()) == []


def test_cli_maintain_signs_with_the_key_file_and_exits_1_on_a_broken_log(
    cli: click.Group, db_url: str, engine: Engine, session: Session, tmp_path
) -> None:
    _fill(session)
    runner = CliRunner()
    assert runner.invoke(cli, ["audit", "keygen", "--out", str(tmp_path)]).exit_code == 0
    key = str(tmp_path / "audit-signing.key")
    ran = runner.invoke(cli, ["maintain", "--sign-key", key, "--db", db_url])
    assert ran.exit_code == 0, ran.output
    assert "checkpoint: verify the audit log" in ran.output
    assert session.scalars(select(AuditCheckpoint.form)).all() == ["ed25519"]
    session.commit()
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2"))
    broken = runner.invoke(cli, ["maintain", "--sign-key", key, "--db", db_url])
    assert broken.exit_code == 1
    assert "NOT DONE" in broken.output and "does not verify" in broken.output
