"""Downloads at the point of use (``GET /deliveries/<id>/file``): found wherever the server
was started from, and audited after the fact with their outcome — ``download`` once every
byte went out, ``download.failed`` with the reason and the bytes sent otherwise."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from access.models import AuditEntry, Delivery
from dashboards.app import ServerSettings, create_app
from dashboards.downloads import CHUNK
from dashboards.wsgi import settings_from_environment
from tests.dashboards.client import call, db_session, logged_in
from tests.dashboards.test_builder import link_of, submit_payload


def _entries(served: dict, obj: str) -> list[AuditEntry]:
    with db_session(served) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.object == obj)
                              .order_by(AuditEntry.seq)))


def _actions(served: dict, obj: str) -> list[str]:
    return [e.action for e in _entries(served, obj)]


@pytest.fixture
def relative(served: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A server given a relative outbox, started in another folder (as the quick start's
    ``popstats demo`` handed ``demo/outbox`` to a server whose code lives in dashboards/)."""
    shutil.copyfile(served["root"] / "access.db", tmp_path / "access.db")
    monkeypatch.chdir(tmp_path)
    settings = ServerSettings(releases=served["releases"], db_url="sqlite:///access.db",
                              outbox=Path("demo/outbox"))
    return {**served, "app": create_app(settings), "db": f"sqlite:///{tmp_path / 'access.db'}",
            "outbox": tmp_path / "demo" / "outbox"}


def test_a_delivery_made_with_a_relative_outbox_downloads(relative: dict) -> None:
    """Was a bare 500 (Flask's send_file resolved the relative path against dashboards/)."""
    client = logged_in(relative, "taipei_user")
    answer = call(client, submit_payload("population", "county", ["63000"], ["population"]))
    link = link_of(answer)
    item_id = link.split("/")[2]
    with db_session(relative) as s:
        delivery = s.get(Delivery, item_id)
        assert delivery is not None and delivery.path == str(relative["outbox"] / item_id)
    got = client.get(link, buffered=True)
    assert got.status_code == 200, got.get_data(as_text=True)
    (stored,) = (relative["outbox"] / item_id).iterdir()
    assert got.data == stored.read_bytes()
    assert got.headers["Content-Disposition"] == f"attachment; filename={stored.name}"
    assert hashlib.sha256(got.data).hexdigest() == delivery.sha256


def test_the_download_is_audited_after_the_bytes_went_out(private: dict) -> None:
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload("population_by_age", "village", [],
                                         ["sex", "age", "population"]))
    link = link_of(answer)
    obj = f"delivery:{link.split('/')[2]}"
    before = _actions(private, obj)
    assert "download" not in before
    whole = client.get(link)  # the answer has started; the body is not read yet
    assert whole.status_code == 200
    assert _actions(private, obj) == before  # nothing recorded before the fact
    data = whole.get_data()
    whole.close()
    size = int(whole.headers["Content-Length"])
    assert len(data) == size > 2 * CHUNK
    (sent,) = [e for e in _entries(private, obj) if e.action.startswith("download")]
    assert (sent.action, sent.actor, sent.details["bytes"]) == ("download", "taipei_user", size)
    assert sent.details["sha256"] == hashlib.sha256(data).hexdigest()
    # a client that goes away after the first chunk: failed, with how far it got
    partial = client.get(link)
    first = next(iter(partial.response))
    partial.close()
    assert len(first) == CHUNK
    failed = [e for e in _entries(private, obj) if e.action.startswith("download")][-1]
    assert failed.action == "download.failed"
    assert failed.details["sent_bytes"] < size and failed.details["bytes"] == size
    assert f"of {size} bytes" in failed.details["error"]


def test_a_staff_file_download_is_audited_after_the_fact(private: dict) -> None:
    client = logged_in(private, "moi_official")
    answer = call(client, submit_payload("population", "county", ["63000"], ["population"]))
    link = link_of(answer)
    obj = f"staff_file:{link.split('/')[2]}"
    got = client.get(link)
    assert "download" not in _actions(private, obj)
    data = got.get_data()
    got.close()
    assert _actions(private, obj)[-1] == "download"
    assert _entries(private, obj)[-1].details["bytes"] == len(data)


def test_wsgi_makes_every_place_absolute(tmp_path: Path) -> None:
    settings = settings_from_environment(
        {"POPSTATS_RELEASES": "demo/releases", "POPSTATS_OUTBOX": "out",
         "POPSTATS_DB": "sqlite:///popstats.db", "POPSTATS_BOUNDARIES": "maps/towns.json"},
        base=tmp_path)
    assert settings.releases == tmp_path / "demo" / "releases"
    assert settings.outbox == tmp_path / "out"
    assert settings.db_url == f"sqlite:///{tmp_path / 'popstats.db'}"
    assert settings.boundaries == tmp_path / "maps" / "towns.json"
    default = settings_from_environment({}, base=tmp_path)
    assert default.outbox == tmp_path / "demo" / "outbox"
