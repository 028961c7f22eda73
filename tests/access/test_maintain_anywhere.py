"""``popstats maintain`` as cron runs it: the real command in a subprocess, started from ``/``
and from the folder the server ran in, deletes the expired files it reports purged — and
reports nothing purged that is still on disk (point 17). Times at the exact second, Taipei.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from access import deliveries, packages
from access.calendar import TAIPEI
from access.models import AuditEntry, Delivery
from tests.access.conftest import World, grant_taipei

ROOT = Path(__file__).resolve().parents[2]
POPSTATS = Path(sys.executable).parent / "popstats"
# the test release is public from 2025-04-15; a file made then is kept until 2025-04-27 10:00
MADE = datetime(2025, 4, 20, 10, 0, 0, tzinfo=TAIPEI)
EXPIRY = datetime(2025, 4, 27, 10, 0, 0, tzinfo=TAIPEI)


def maintain(db_url: str, cwd: str | Path, at: datetime,
             *options: str) -> subprocess.CompletedProcess:
    """The installed ``popstats maintain`` (this checkout's code) started in ``cwd``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPSTATS_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [str(POPSTATS), "maintain", "--at", at.isoformat(), "--db", db_url, *options],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def made_in_server_folder(
    session: Session, world: World, releases: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Delivery, Path]:
    """A file transfer made by a server started in ``tmp_path/server`` that was handed the
    relative outbox ``demo/outbox`` (the quick start's); its folder."""
    grant_taipei(session, world, ["population"], ["file_transfer"])
    server_folder = tmp_path / "server"
    server_folder.mkdir()
    monkeypatch.chdir(server_folder)
    delivery = packages.deliver_file(session, world.user, releases, "2025-03", "population",
                                     ["63000"], "csv", "utf-8", Path("demo/outbox"), MADE)
    session.commit()
    monkeypatch.chdir(ROOT)
    folder = server_folder / "demo" / "outbox" / delivery.id
    assert delivery.expires_at == EXPIRY and delivery.path == str(folder)
    assert any(folder.iterdir())
    return delivery, folder


def _purge_entries(session: Session, delivery: Delivery) -> list[str]:
    """The delivery's purge entries; the read transaction is ended (on SQLite every
    transaction holds the write lock the next command needs)."""
    session.expire_all()
    found = list(session.scalars(select(AuditEntry.action).where(
        AuditEntry.object == f"delivery:{delivery.id}",
        AuditEntry.action.like("delivery.purge%")).order_by(AuditEntry.seq)))
    session.commit()
    return found


@pytest.mark.parametrize("where", ["/", "server folder"])
def test_maintain_deletes_what_it_reports_purged_from_any_folder(
    session: Session, db_url: str, made_in_server_folder: tuple[Delivery, Path], where: str,
) -> None:
    delivery, folder = made_in_server_folder
    cwd = "/" if where == "/" else folder.parents[2]
    early = maintain(db_url, cwd, EXPIRY - timedelta(seconds=1))
    assert early.returncode == 0, early.stderr
    assert folder.is_dir() and "purge:" in early.stdout
    assert f"delivery:{delivery.id}" not in early.stdout
    run = maintain(db_url, cwd, EXPIRY)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"done: 1 — delivery:{delivery.id}" in run.stdout
    assert not folder.exists()
    assert _purge_entries(session, delivery) == ["delivery.purged"]
    assert session.get(Delivery, delivery.id).purged_at is not None  # type: ignore[union-attr]
    session.commit()


def test_a_legacy_relative_path_is_not_reported_purged_from_another_folder(
    session: Session, db_url: str, made_in_server_folder: tuple[Delivery, Path],
) -> None:
    """A row an earlier version recorded relative: from / without --outbox the run says it
    could not purge it (exit 1, files kept, logged); with the server's outbox it is purged."""
    delivery, folder = made_in_server_folder
    delivery.path = f"demo/outbox/{delivery.id}"
    session.commit()
    refused = maintain(db_url, "/", EXPIRY)
    assert refused.returncode == 1 and folder.is_dir()
    assert f"NOT DONE (logged; retried next run): 1 — delivery:{delivery.id}" in refused.stderr
    assert _purge_entries(session, delivery) == ["delivery.purge_failed"]
    done = maintain(db_url, "/", EXPIRY, "--outbox", str(folder.parent))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not folder.exists()
    assert _purge_entries(session, delivery) == ["delivery.purge_failed", "delivery.purged"]


def test_a_pending_timely_extension_keeps_the_files_through_maintain(
    session: Session, db_url: str, world: World, made_in_server_folder: tuple[Delivery, Path],
) -> None:
    """Asked an hour before expiry and undecided at the expiry second: the run keeps it."""
    delivery, folder = made_in_server_folder
    deliveries.request_extension(session, world.user, delivery.id, 5, "資料量大",
                                 EXPIRY - timedelta(hours=1))
    session.commit()
    kept = maintain(db_url, "/", EXPIRY)
    assert kept.returncode == 0, kept.stderr
    assert folder.is_dir() and f"delivery:{delivery.id}" not in kept.stdout
    assert _purge_entries(session, delivery) == []
