"""Retention at the point of use (point 17): a timely extension request keeps its delivery
until it is decided; "purged" is recorded only once the files are verified gone; a path
recorded relative by an earlier version is placed under the outbox given, never guessed.

Clock boundaries at the exact second, written in Taipei time.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from access import deliveries
from access.calendar import TAIPEI
from access.deliveries import DeliveryError, DeliveryExpired, ExtensionPending
from access.models import AuditEntry, Delivery
from stats import outbox as outbox_files  # where the delivery files are deleted
from tests.access.conftest import World, grant_taipei

SECOND = timedelta(seconds=1)
# made ready 2025-03-10 10:00:00 Taipei: a file transfer expires 2025-03-17 10:00:00 Taipei
READY = datetime(2025, 3, 10, 10, 0, 0, tzinfo=TAIPEI)
EXPIRY = datetime(2025, 3, 17, 10, 0, 0, tzinfo=TAIPEI)
CONTENT = b"area_code,population\r\n63000,2500000\r\n"


@pytest.fixture
def granted(session: Session, world: World) -> World:
    grant_taipei(session, world, ["population"], ["file_transfer"])
    return world


def _ready_in(session: Session, world: World, outbox: Path) -> Delivery:
    """A file transfer whose folder ``<outbox>/<id>/`` holds one file, ready at READY."""
    delivery = deliveries.create(session, world.user, "file_transfer", ["population"],
                                 "2025-03", ["63000"], READY)

    def write(d: Delivery) -> tuple[str, str]:
        folder = outbox / d.id
        folder.mkdir(parents=True)
        (folder / "MOI_POP01_2025-03_all_r1.utf-8-sig.csv").write_bytes(CONTENT)
        return str(folder), hashlib.sha256(CONTENT).hexdigest()

    assert deliveries.produce(session, delivery, write, READY)
    session.commit()
    assert delivery.expires_at == EXPIRY
    return delivery


def _actions(session: Session, delivery: Delivery) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).where(
        AuditEntry.object == f"delivery:{delivery.id}").order_by(AuditEntry.seq)))


def test_a_pending_timely_extension_keeps_the_delivery_past_expiry(
    session: Session, granted: World, tmp_path: Path
) -> None:
    """Asked an hour before expiry, undecided at expiry: kept (not purged, not handed out),
    then refused two hours after expiry: purged at once, verified gone."""
    delivery = _ready_in(session, granted, tmp_path)
    folder = Path(delivery.path or "")
    ext = deliveries.request_extension(session, granted.user, delivery.id, 5, "資料量大",
                                       EXPIRY - timedelta(hours=1))
    session.commit()
    assert deliveries.expired_deliveries(session, EXPIRY) == []
    assert deliveries.purge(session, EXPIRY) == []
    assert deliveries.purge(session, EXPIRY + timedelta(days=3)) == []
    assert folder.is_dir() and delivery.purged_at is None
    with pytest.raises(ExtensionPending, match="awaits the provider's decision"):
        deliveries.fetch(session, granted.user, delivery.id, EXPIRY)
    decided = EXPIRY + timedelta(hours=2)
    deliveries.decide_extension(session, ext, granted.taipei_official, False, decided)
    session.commit()
    assert delivery.expires_at == EXPIRY  # refused: the old expiry, passed two hours ago
    assert delivery.purged_at == decided and not folder.exists()
    assert _actions(session, delivery)[-2:] == ["extension.decided", "delivery.purged"]
    with pytest.raises(DeliveryExpired):
        deliveries.fetch(session, granted.user, delivery.id, decided)


def test_an_approved_extension_runs_from_the_old_expiry(
    session: Session, granted: World, tmp_path: Path
) -> None:
    delivery = _ready_in(session, granted, tmp_path)
    ext = deliveries.request_extension(session, granted.user, delivery.id, 3, "資料量大",
                                       EXPIRY - timedelta(hours=1))
    deliveries.decide_extension(session, ext, granted.taipei_official, True,
                                EXPIRY + timedelta(hours=2))
    session.commit()
    new_expiry = datetime(2025, 3, 20, 10, 0, 0, tzinfo=TAIPEI)
    assert delivery.expires_at == new_expiry and delivery.purged_at is None
    assert deliveries.fetch(session, granted.user, delivery.id, new_expiry - SECOND)
    assert deliveries.purge(session, new_expiry - SECOND) == []
    assert deliveries.purge(session, new_expiry) == [delivery]
    assert not Path(delivery.path or "").exists()


def test_an_extension_approved_too_late_to_matter_purges_at_once(
    session: Session, granted: World, tmp_path: Path
) -> None:
    """Decided after even the extended expiry: nothing is left to keep."""
    delivery = _ready_in(session, granted, tmp_path)
    ext = deliveries.request_extension(session, granted.user, delivery.id, 1, "資料量大",
                                       EXPIRY - SECOND)
    decided = EXPIRY + timedelta(days=1)  # exactly the extended expiry
    deliveries.decide_extension(session, ext, granted.taipei_official, True, decided)
    assert delivery.purged_at == decided and not Path(delivery.path or "").exists()


def test_an_extension_is_timely_up_to_the_second_before_expiry(
    session: Session, granted: World, tmp_path: Path
) -> None:
    delivery = _ready_in(session, granted, tmp_path)
    with pytest.raises(DeliveryError, match="before expiry"):
        deliveries.request_extension(session, granted.user, delivery.id, 5, "晚了", EXPIRY)
    assert deliveries.expired_deliveries(session, EXPIRY) == [delivery]  # nothing holds it
    deliveries.request_extension(session, granted.user, delivery.id, 5, "及時", EXPIRY - SECOND)
    assert deliveries.expired_deliveries(session, EXPIRY) == []
    with pytest.raises(DeliveryError, match="already has an extension request"):
        deliveries.request_extension(session, granted.user, delivery.id, 5, "再問",
                                     EXPIRY - SECOND)


def test_paths_are_recorded_absolute(
    session: Session, granted: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A producer handed a relative outbox (as the quick start's server had): the path is
    recorded absolute, against the folder the file was written from."""
    monkeypatch.chdir(tmp_path)
    delivery = _ready_in(session, granted, Path("demo/outbox"))
    assert delivery.path == str(tmp_path / "demo" / "outbox" / delivery.id)


def _legacy(session: Session, delivery: Delivery) -> None:
    """Make ``delivery`` look as an earlier version recorded it: relative to some folder."""
    delivery.path = f"demo/outbox/{delivery.id}"
    session.commit()


def test_a_relative_legacy_path_is_purged_only_under_the_outbox_given(
    session: Session, granted: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = tmp_path / "demo" / "outbox"
    delivery = _ready_in(session, granted, outbox)
    _legacy(session, delivery)
    monkeypatch.chdir("/")  # where cron starts the job: demo/outbox/<id> is not there
    assert deliveries.purge(session, EXPIRY) == []  # no outbox: refused, not "purged"
    assert (outbox / delivery.id).is_dir() and delivery.purged_at is None
    elsewhere = tmp_path / "other-outbox"
    assert deliveries.purge(session, EXPIRY, outbox=elsewhere) == []  # files not there
    assert (outbox / delivery.id).is_dir() and delivery.purged_at is None
    failures = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "delivery.purge_failed").order_by(AuditEntry.seq)).all()
    assert ["--outbox" in f.details["error"] for f in failures] == [True, False]
    assert "may be elsewhere" in failures[1].details["error"]
    assert deliveries.purge(session, EXPIRY, outbox=outbox) == [delivery]
    assert not (outbox / delivery.id).exists()
    purged = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "delivery.purged")).one()
    assert purged.details["deleted"] == str(outbox / delivery.id)
    assert purged.details["verified_absent"] is True


def test_purged_only_when_the_files_are_verified_gone(
    session: Session, granted: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deletion that reports success but leaves the folder (a file system that lies, an
    overlay that re-exposes it): purge_failed, not purged; the next run tries again."""
    delivery = _ready_in(session, granted, tmp_path)
    folder = Path(delivery.path or "")
    monkeypatch.setattr(outbox_files.shutil, "rmtree", lambda _path: None)
    assert deliveries.purge(session, EXPIRY) == []
    assert delivery.purged_at is None and folder.is_dir()
    (failed,) = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "delivery.purge_failed")).all()
    assert "still present after deletion" in failed.details["error"]
    monkeypatch.undo()
    assert deliveries.purge(session, EXPIRY + SECOND) == [delivery]
    assert not folder.exists()


def test_fetch_records_no_download(session: Session, granted: World, tmp_path: Path) -> None:
    """Checking that a delivery may be handed over is not handing it over: the entry comes
    from record_download, with the outcome."""
    delivery = _ready_in(session, granted, tmp_path)
    deliveries.fetch(session, granted.user, delivery.id, READY)
    assert "download" not in _actions(session, delivery)
    deliveries.record_download(session, granted.user, delivery, READY, False, 0, len(CONTENT),
                               "the connection ended after 0 of 38 bytes")
    deliveries.record_download(session, granted.user, delivery, READY, True, len(CONTENT),
                               len(CONTENT))
    assert _actions(session, delivery)[-2:] == ["download.failed", "download"]


def test_staff_files_are_reported_deleted_only_when_gone(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider staff member's file past its day (``popstats maintain --outbox``): a
    deletion that leaves the folder is logged as failed and the step reports it left (a
    failure: non-zero exit), not purged; the next run deletes it."""
    import json

    from access import maintenance, staff_files

    outbox = tmp_path / "outbox"
    folder = staff_files.staff_root(outbox) / ("a" * 32)
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"expires_at": EXPIRY.isoformat()}))
    step = maintenance.staff_files_step(outbox)
    monkeypatch.setattr(outbox_files.shutil, "rmtree", lambda _path: None)
    assert step.apply(session, EXPIRY) == ([], [f"staff_file:{'a' * 32}"])
    assert step.left_is_failure and folder.is_dir()
    (failed,) = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "staff_export.purge_failed")).all()
    assert "still present" in failed.details["failed"]["a" * 32]
    assert not session.scalars(select(AuditEntry).where(
        AuditEntry.action == "staff_export.purged")).all()
    monkeypatch.undo()
    assert step.apply(session, EXPIRY) == ([f"staff_file:{'a' * 32}"], [])
    assert not folder.exists()
