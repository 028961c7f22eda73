"""Deliveries: retention per channel (point 17), purge, extensions, outages (15), disputes (16)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from access import deliveries
from access.deliveries import DeliveryError, DeliveryExpired, Forbidden
from access.models import AuditEntry, Delivery
from access.sanctions import record_violation
from tests.access.conftest import NOW, World, grant_taipei

CHANNELS = ["online_query", "file_transfer", "media_exchange"]


@pytest.fixture
def granted(session: Session, world: World) -> World:
    """``world.user``'s agency granted population for 臺北市 through every channel."""
    world.grant = grant_taipei(session, world, ["population"], CHANNELS)  # type: ignore[attr-defined]
    return world


def _producer(folder: Path):  # noqa: ANN202
    def produce(delivery: Delivery) -> tuple[str, str]:
        path = folder / f"{delivery.id}.csv"
        path.write_bytes(b"area_code,population\n63000,2500000\n")
        return str(path), hashlib.sha256(path.read_bytes()).hexdigest()

    return produce


def _ready(
    session: Session, world: World, channel: str, folder: Path, when: datetime = NOW
) -> Delivery:
    delivery = deliveries.create(
        session, world.user, channel, ["population"], "2025-02", ["63000"], when
    )
    assert deliveries.produce(session, delivery, _producer(folder), when)
    session.commit()
    return delivery


# retention: online query 1 day, file transfer and media exchange 7 days
@pytest.mark.parametrize(
    "channel, kept",
    [
        ("online_query", timedelta(days=1)),
        ("file_transfer", timedelta(days=7)),
        ("media_exchange", timedelta(days=7)),
    ],
)
def test_retention_enforced_on_access_and_by_purge(
    session: Session, granted: World, tmp_path: Path, channel: str, kept: timedelta
) -> None:
    delivery = _ready(session, granted, channel, tmp_path)
    last = NOW + kept - timedelta(seconds=1)
    assert deliveries.fetch(session, granted.user, delivery.id, last).id == delivery.id
    with pytest.raises(DeliveryExpired, match="point 17"):
        deliveries.fetch(session, granted.user, delivery.id, NOW + kept)
    assert deliveries.purge(session, last) == []
    assert Path(delivery.path).exists()  # type: ignore[arg-type]
    assert deliveries.purge(session, NOW + kept) == [delivery]
    assert not Path(delivery.path).exists()  # type: ignore[arg-type]
    logged = session.scalars(select(AuditEntry).where(AuditEntry.action == "delivery.purged")).one()
    assert logged.details["path"] == delivery.path and logged.details["removed"] is True


def test_extension_before_expiry_only(session: Session, granted: World, tmp_path: Path) -> None:
    delivery = _ready(session, granted, "file_transfer", tmp_path)
    ext = deliveries.request_extension(
        session, granted.user, delivery.id, 5, "資料量大", NOW + timedelta(days=6)
    )
    deliveries.decide_extension(
        session, ext, granted.taipei_official, True, NOW + timedelta(days=6)
    )
    assert deliveries.fetch(session, granted.user, delivery.id, NOW + timedelta(days=11))
    with pytest.raises(DeliveryError, match="before expiry"):
        deliveries.request_extension(
            session, granted.user, delivery.id, 5, "再延", NOW + timedelta(days=12)
        )


def test_refused_outside_grant_and_when_suspended(session: Session, granted: World) -> None:
    with pytest.raises(Forbidden):
        deliveries.create(
            session, granted.user, "online_query", ["population"], "2025-02", ["64000"], NOW
        )
    with pytest.raises(Forbidden):
        deliveries.create(
            session, granted.user, "online_query", ["vital_events"], "2025-02", ["63000"], NOW
        )
    record_violation(
        session,
        granted.grant,
        granted.taipei_official,
        "違規",  # type: ignore[attr-defined]
        date(2025, 4, 1),
        NOW,
    )
    session.commit()
    with pytest.raises(Forbidden):
        deliveries.create(
            session, granted.user, "online_query", ["population"], "2025-02", ["63000"], NOW
        )
    refusals = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "access.refused")
    ).all()
    assert len(refusals) == 3


def test_fetch_only_own_agency_by_id(session: Session, granted: World, tmp_path: Path) -> None:
    from access.accounts import add_user

    delivery = _ready(session, granted, "file_transfer", tmp_path)
    other = add_user(session, "bob", "lantern-river-4821", "agency_user", NOW, agency=granted.other_agency)
    with pytest.raises(DeliveryError):
        deliveries.fetch(session, other, delivery.id, NOW)
    with pytest.raises(DeliveryError):
        deliveries.fetch(session, granted.user, "../../etc/passwd", NOW)


def test_outage_kept_retried_and_status_shown(
    session: Session, granted: World, tmp_path: Path
) -> None:
    delivery = deliveries.create(
        session, granted.user, "file_transfer", ["population"], "2025-02", ["63000"], NOW
    )

    def broken(_: Delivery) -> tuple[str, str]:
        raise ConnectionError("provider database down")

    assert not deliveries.produce(session, delivery, broken, NOW)
    session.commit()
    seen = deliveries.status(session, granted.user, delivery.id)
    assert (seen.status, seen.attempts) == ("pending", 1) and "down" in (seen.last_error or "")
    with pytest.raises(DeliveryError, match="pending"):
        deliveries.fetch(session, granted.user, delivery.id, NOW)
    assert deliveries.retry_pending(session, broken, NOW + timedelta(minutes=5)) == []
    later = NOW + timedelta(hours=1)
    assert deliveries.retry_pending(session, _producer(tmp_path), later) == [delivery]
    assert (delivery.status, delivery.attempts) == ("ready", 3)
    assert delivery.expires_at == later + timedelta(days=7)  # retention runs from delivery
    assert deliveries.fetch(session, granted.user, delivery.id, later)


# Received 2025-03-10 10:00 Taipei: day 7 (2025-03-17, any hour) accepted, day 8 refused.
@pytest.mark.parametrize(
    "when, accepted",
    [
        (datetime(2025, 3, 10, 3, 0, tzinfo=UTC), True),  # same day
        (datetime(2025, 3, 17, 15, 59, tzinfo=UTC), True),  # day 7, 23:59 Taipei
        (datetime(2025, 3, 17, 16, 0, tzinfo=UTC), False),  # day 8, 00:00 Taipei
        (datetime(2025, 3, 20, tzinfo=UTC), False),
    ],
)
def test_dispute_window_seven_days_taipei(
    session: Session, granted: World, tmp_path: Path, when: datetime, accepted: bool
) -> None:
    delivery = _ready(session, granted, "file_transfer", tmp_path)
    if not accepted:
        with pytest.raises(DeliveryError, match="7 days"):
            deliveries.raise_dispute(session, granted.user, delivery.id, "數字有誤", when)
        return
    dispute = deliveries.raise_dispute(session, granted.user, delivery.id, "數字有誤", when)
    deliveries.resolve_dispute(
        session, dispute, granted.taipei_official, "已更正並重新提供", when + timedelta(days=2)
    )
    assert dispute.resolution == "已更正並重新提供"
    with pytest.raises(DeliveryError):
        deliveries.resolve_dispute(session, dispute, granted.taipei_official, "again", when)


def test_record_answer_stores_under_server_id(
    session: Session, granted: World, tmp_path: Path
) -> None:
    answer = b'{"rows": []}'
    delivery = deliveries.record_answer(
        session,
        granted.user,
        "online_query",
        ["population"],
        "2025-02",
        ["63000"],
        answer,
        tmp_path / "outbox",
        NOW,
    )
    assert Path(delivery.path).read_bytes() == answer  # type: ignore[arg-type]
    assert Path(delivery.path).name == delivery.id and len(delivery.id) == 32  # type: ignore[arg-type]
    assert delivery.expires_at == NOW + timedelta(days=1)


def test_purge_and_dispute_from_the_cli(
    session: Session, granted: World, tmp_path: Path, db_url: str
) -> None:
    import click
    from click.testing import CliRunner

    from popstats.access_cli import register

    @click.group()
    def main() -> None:
        """popstats"""

    register(main)
    old = _ready(session, granted, "online_query", tmp_path, NOW)
    fresh = deliveries.record_answer(
        session,
        granted.user,
        "file_transfer",
        ["population"],
        "2025-02",
        ["63000"],
        b"x",
        tmp_path,
        datetime.now(UTC),
    )
    session.commit()
    run = CliRunner()
    out = run.invoke(main, ["delivery", "purge", "--db", db_url]).output
    assert f"purged {old.id}" in out and fresh.id not in out and not Path(old.path).exists()  # type: ignore[arg-type]
    out = run.invoke(
        main, ["delivery", "status", fresh.id, "--user", "alice", "--db", db_url]
    ).output
    assert "ready" in out and "file_transfer" in out
    raised = run.invoke(
        main,
        [
            "dispute",
            "raise",
            fresh.id,
            "--user",
            "alice",
            "--description",
            "總數不符",
            "--db",
            db_url,
        ],
    )
    assert raised.exit_code == 0 and "dispute 1 raised" in raised.output
    late = run.invoke(
        main, ["dispute", "raise", old.id, "--user", "alice", "--description", "x", "--db", db_url]
    )
    assert late.exit_code == 1 and "7 days" in late.output
    resolved = run.invoke(
        main, ["dispute", "resolve", "1", "--by", "tp", "--resolution", "已說明", "--db", db_url]
    )
    assert resolved.exit_code == 0, resolved.output


def test_dashboard_view_audited_or_refused(session: Session, granted: World) -> None:
    deliveries.record_view(session, granted.user, "population", ["63000010001"], "2025-02", NOW)
    with pytest.raises(Forbidden):
        deliveries.record_view(session, granted.user, "population", ["64000"], "2025-02", NOW)
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions[-2:] == ["view", "access.refused"]


def test_a_file_that_cannot_be_deleted_does_not_hold_up_the_purge(
    session: Session, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One stuck file: logged as purge_failed and left for the next run; the rest go."""

    grant_taipei(session, world, ["population"], ["file_transfer"])
    made = []
    for name in ("stuck", "fine"):
        path = tmp_path / name
        path.write_text(name)
        d = deliveries.create(session, world.user, "file_transfer", ["population"], "2025-03",
                              ["63000"], NOW)
        deliveries.produce(session, d, lambda _d, p=path: (str(p), "0" * 64), NOW)
        made.append(d)
    real_unlink = Path.unlink

    def unlink(self: Path, *args: object, **kwargs: object) -> None:
        if self.name == "stuck":
            raise PermissionError("read-only file system")
        real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", unlink)
    later = NOW + timedelta(days=8)
    assert [d.id for d in deliveries.purge(session, later)] == [made[1].id]
    assert (tmp_path / "stuck").exists() and not (tmp_path / "fine").exists()
    assert made[0].purged_at is None
    failed = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "delivery.purge_failed")).all()
    assert [e.object for e in failed] == [f"delivery:{made[0].id}"]
    monkeypatch.setattr(Path, "unlink", real_unlink)
    assert [d.id for d in deliveries.purge(session, later)] == [made[0].id]  # next run


def test_retry_leaves_online_query_deliveries_alone(session: Session, world: World) -> None:
    """An online answer whose production failed is not rebuilt (its content was never kept)."""

    grant_taipei(session, world, ["population"], ["online_query", "file_transfer"])
    online = deliveries.create(session, world.user, "online_query", ["population"], "2025-03",
                               ["63000"], NOW)
    deliveries.produce(session, online, lambda _d: 1 / 0, NOW)  # type: ignore[arg-type,return-value]
    assert deliveries.pending_deliveries(session) == []
    assert deliveries.retry_pending(session, lambda _d: ("x", "0" * 64), NOW) == []
    assert online.status == "pending" and online.attempts == 1


def test_retry_marks_a_request_that_can_no_longer_be_produced_failed(
    session: Session, world: World
) -> None:
    """Not a provider fault: no point retrying for ever; failed, with the reason, audited."""
    grant_taipei(session, world, ["population"], ["file_transfer"])
    d = deliveries.create(session, world.user, "file_transfer", ["population"], "2025-03",
                          ["63000"], NOW)
    deliveries.produce(session, d, lambda _d: 1 / 0, NOW)  # type: ignore[arg-type,return-value]
    assert d.status == "pending"

    def unwritable(_d: Delivery) -> tuple[str, str]:
        raise deliveries.UnproducibleRequest("'𠀀' cannot be written in cp950")

    assert deliveries.retry_pending(session, unwritable, NOW) == []
    assert d.status == "failed" and "cp950" in (d.last_error or "")
    assert deliveries.pending_deliveries(session) == []
    final = session.scalars(select(AuditEntry).where(AuditEntry.action == "delivery.failed")
                            ).all()[-1]
    assert final.details["final"] is True
