"""A file delivery made from releases in a bucket (the outbox a local folder), retried and
purged by ``popstats maintain --releases s3://…``: the table's rows come from the bucket's
published revision, and the purge verifies the files gone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from access.db import make_engine, session_factory
from access.models import AuditEntry, Delivery, User
from access.packages import deliver_file
from popstats.cli import main
from stats.store import place
from tests.objectstore.conftest import publish_sample


def test_a_delivery_from_the_bucket_then_maintain_purges_it(bucket: str, tmp_path: Path) -> None:
    rel, outbox, db = f"s3://{bucket}/releases", tmp_path / "outbox", f"sqlite:///{tmp_path}/a.db"
    publish_sample(tmp_path / "x", rel, db)
    now = datetime.now(UTC)
    engine = make_engine(db)
    with session_factory(engine)() as session:
        user = session.scalar(select(User).where(User.username == "taipei_user"))
        delivery = deliver_file(session, user, place(rel), "2025-03", "population", ["63000"],
                                "csv", "utf-8", outbox, now)
        session.commit()
        delivery_id, folder = delivery.id, Path(delivery.path)
        assert delivery.status == "ready", delivery.last_error
        assert delivery.options["releases"] == rel
    [csv_file] = [p for p in folder.iterdir() if p.suffix == ".csv"]
    rows = csv_file.read_text(encoding="utf-8").splitlines()
    assert len(rows) > 2 and all("63000" in r for r in rows[1:])  # Taipei's areas only
    later = (now + timedelta(days=8)).isoformat()
    purged = CliRunner().invoke(main, ["maintain", "--db", db, "--at", later, "--releases", rel,
                                       "--outbox", str(outbox)])
    assert purged.exit_code == 0, purged.output
    assert not folder.exists()
    with session_factory(engine)() as session:
        assert session.get(Delivery, delivery_id).purged_at is not None
        details = session.scalars(select(AuditEntry.details).where(
            AuditEntry.action == "delivery.purged")).all()
        assert any(d.get("verified_absent") for d in details), json.dumps(details)
    engine.dispose()
