"""Point 15: a file delivery left pending by a provider outage becomes ready after the repair
and the agency is told — in its own log and, when configured, by a webhook POST (a tiny HTTP
server on 127.0.0.1 here; only loopback traffic)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from access import maintenance, packages
from access.accounts import issue_token
from access.api import log_answer
from access.db import session_factory
from access.models import AuditEntry, Delivery
from access.notify import NOTIFY_ENV
from tests.access.conftest import NOW, World, grant_taipei

AT = datetime(2025, 4, 20, 2, 0, tzinfo=UTC)


class _Inbox(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A loopback HTTP server recording the JSON POSTed to it."""
    received: list[dict] = []
    handler = type("Inbox", (_Inbox,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/popstats", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _pending_after_outage(session: Session, world: World, releases: Path,
                          outbox: Path) -> Delivery:
    """A file transfer requested while the outbox's disk is gone (a file where the folder
    should be: a real failure to write), so it stays pending."""
    grant_taipei(session, world, ["population"], ["file_transfer"])
    outbox.write_text("not a folder")
    delivery = packages.deliver_file(session, world.user, releases, "2025-03", "population",
                                     ["63000"], "csv", "utf-8", outbox, AT)
    session.commit()
    assert delivery.status == "pending"
    return delivery


def _actions(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_ready_after_an_outage_is_told_in_the_log_and_by_webhook(
    engine: Engine, session: Session, world: World, releases: Path, tmp_path: Path,
    webhook: tuple[str, list[dict]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = webhook
    monkeypatch.setenv(NOTIFY_ENV, url)
    delivery = _pending_after_outage(session, world, releases, tmp_path / "outbox")
    still_down = maintenance.run(session_factory(engine), lambda: AT + timedelta(minutes=5))
    assert still_down.ok and received == []  # nothing is ready: nobody is told anything
    (tmp_path / "outbox").unlink()  # the provider repairs its disk
    later = AT + timedelta(hours=1)
    assert maintenance.run(session_factory(engine), lambda: later).ok
    assert [(m["event"], m["delivery"], m["channel"], m["period"]) for m in received] == [
        ("delivery.ready", delivery.id, "file_transfer", "2025-03")]
    assert received[0]["expires_at"] == (later + timedelta(days=7)).isoformat()
    (told,) = _actions(session, "delivery.notified")
    assert told.agency_id == world.agency.id and told.details["via"] == ["log", "webhook"]
    assert told.details["webhook_status"] == 204
    # the agency's own log (GET /api/v1/log) shows the delivery ready and the notice
    token = f"Bearer {issue_token(session, world.user, NOW)}"
    session.commit()
    entries = log_answer(session, token, {}, None, later).json()["entries"]
    about = [e["action"] for e in entries if e["object"] == f"delivery:{delivery.id}"]
    assert "delivery.ready" in about and "delivery.notified" in about


def test_a_failing_webhook_is_logged_and_holds_nothing_up(
    engine: Engine, session: Session, world: World, releases: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as probe:  # a loopback port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv(NOTIFY_ENV, f"http://127.0.0.1:{closed}/")
    delivery = _pending_after_outage(session, world, releases, tmp_path / "outbox")
    (tmp_path / "outbox").unlink()
    report = maintenance.run(session_factory(engine), lambda: AT + timedelta(hours=1))
    assert report.ok and report.counts()["retry"] == 1
    (failed,) = _actions(session, "delivery.notify_failed")
    assert failed.object == f"delivery:{delivery.id}" and "Connection" in failed.details["error"]
    (told,) = _actions(session, "delivery.notified")
    assert told.details["via"] == ["log"]
