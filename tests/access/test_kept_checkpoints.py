"""Point 18: checkpoints are kept beside the log, so ``audit verify`` alone notices a log cut
short or emptied after one (the chain by itself cannot), and no broken chain is certified."""

from __future__ import annotations

from datetime import timedelta

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from access import audit, checkpoints, signing
from tests.access.conftest import NOW


def _fill(session: Session, n: int = 5) -> None:
    for i in range(n):
        audit.record(session, f"user{i}", "query", "table:population", NOW + timedelta(seconds=i),
                     {"i": i}, agency_id=1)
    session.commit()


def _sql(session: Session, engine: Engine, statement: str) -> None:
    """Tamper from outside, as someone with database access would (the session lets go of
    its transaction first: on SQLite every transaction holds the write lock)."""
    session.commit()
    with engine.begin() as conn:
        conn.execute(text(statement))
    session.expire_all()


def test_truncated_tail_noticed_without_a_checkpoint_file(session: Session, engine: Engine) -> None:
    _fill(session)
    checkpoints.unsigned_checkpoint(session, "maintenance", NOW)
    session.commit()
    assert checkpoints.verify_log(session).ok
    _sql(session, engine, "DELETE FROM audit_entries WHERE seq >= 4")
    assert audit.verify(session).ok  # the chain alone is self-consistent ...
    result = checkpoints.verify_log(session)  # ... the kept checkpoint is not fooled
    assert not result.ok
    assert any("log ends at seq 3" in p and "seq 5" in p for p in result.problems), result.problems


def test_emptied_log_noticed(session: Session, engine: Engine) -> None:
    _fill(session)
    checkpoints.checkpoint(session, "provider", NOW)
    session.commit()
    _sql(session, engine, "DELETE FROM audit_entries")
    assert audit.verify(session).ok and audit.verify(session).entries == 0
    result = checkpoints.verify_log(session)
    assert not result.ok and any("log ends at seq 0" in p for p in result.problems)


def test_the_latest_checkpoint_counts(session: Session) -> None:
    _fill(session, 2)
    checkpoints.unsigned_checkpoint(session, "maintenance", NOW)
    _fill(session, 2)
    second = checkpoints.unsigned_checkpoint(session, "maintenance", NOW + timedelta(hours=1))
    session.commit()
    assert checkpoints.latest_kept_checkpoint(session).seq == second["seq"] == 5


@pytest.mark.parametrize("form", ["hmac-sha256", "ed25519", "unsigned"])
def test_broken_chain_is_never_certified(session: Session, engine: Engine, form: str) -> None:
    _fill(session)
    _sql(session, engine, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
    issue = {
        "hmac-sha256": lambda: checkpoints.checkpoint(session, "provider", NOW),
        "ed25519": lambda: checkpoints.signed_checkpoint(session, "provider", NOW,
                                                         signing.generate_key()),
        "unsigned": lambda: checkpoints.unsigned_checkpoint(session, "maintenance", NOW),
    }[form]
    with pytest.raises(checkpoints.CheckpointError, match="seq 2"):
        issue()


def test_cut_log_is_not_certified_again(session: Session, engine: Engine) -> None:
    """Once the log lost entries a kept checkpoint covers, a new checkpoint would launder it."""
    _fill(session)
    checkpoints.unsigned_checkpoint(session, "maintenance", NOW)
    session.commit()
    _sql(session, engine, "DELETE FROM audit_entries WHERE seq >= 5")
    with pytest.raises(checkpoints.CheckpointError, match="log ends at seq 4"):
        checkpoints.checkpoint(session, "provider", NOW)


def test_cli_verify_reports_the_cut(cli: click.Group, db_url: str, engine: Engine,
                                    session: Session) -> None:
    _fill(session)
    runner = CliRunner()
    issued = runner.invoke(cli, ["audit", "checkpoint", "--db", db_url])
    assert issued.exit_code == 0, issued.output
    assert runner.invoke(cli, ["audit", "verify", "--db", db_url]).exit_code == 0
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries"))
    cut = runner.invoke(cli, ["audit", "verify", "--db", db_url])
    assert cut.exit_code == 1 and "log ends at seq 0" in cut.output, cut.output
    refused = runner.invoke(cli, ["audit", "checkpoint", "--db", db_url])
    assert refused.exit_code == 1 and "does not verify" in refused.output
