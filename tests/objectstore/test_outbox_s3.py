"""The delivery outbox in an S3 bucket (a real moto server on 127.0.0.1): delivery files are
put as whole objects under ``s3://BUCKET/outbox/<id>/``, recorded by that place, downloaded
by the agency through the server as the local files are, and deleted by ``popstats
maintain`` when they expire; nothing of a failed write is left in the bucket."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from access.models import AuditEntry, Delivery
from dashboards.app import ServerSettings, create_app
from popstats.cli import main
from stats.locations import resolve_locations
from stats.outbox import writing
from stats.store import ObjectPath
from tests.dashboards.client import call, db_session, logged_in
from tests.dashboards.test_builder import link_of, submit_payload
from tests.objectstore.conftest import keys, make_bucket, popstats, publish_sample


def read_object(bucket: str, key: str) -> bytes:
    """An object's bytes, read with boto3 (not with popstats)."""
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                          region_name="us-east-1")
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def world(s3_endpoint: dict[str, str], tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[dict[str, Any]]:
    """2025-03 built and published into a bucket, the demo accounts in SQLite, and a server
    app whose releases and outbox are both in the bucket (as ``popstats serve`` with
    ``POPSTATS_RELEASES`` and ``POPSTATS_OUTBOX`` set to ``s3://…`` resolves them)."""
    root = tmp_path_factory.mktemp("outbox-s3")
    bucket = make_bucket(s3_endpoint)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in s3_endpoint.items():
            patch.setenv(key, value)
        patch.chdir(root)  # a local "outbox" folder would appear here: none may
        releases, db = f"s3://{bucket}/releases", f"sqlite:///{root / 'access.db'}"
        accounts = publish_sample(root / "x", releases, db)
        places = resolve_locations(environ={"POPSTATS_RELEASES": releases, "POPSTATS_DB": db,
                                            "POPSTATS_OUTBOX": f"s3://{bucket}/outbox"})
        assert isinstance(places.outbox, ObjectPath)
        app = create_app(ServerSettings(releases=places.releases, db_url=places.db_url,
                                        outbox=places.outbox))
        yield {"app": app, "accounts": accounts, "db": db, "root": root, "bucket": bucket,
               "releases": releases, "outbox": f"s3://{bucket}/outbox"}


def delivery_of(world: dict[str, Any], item_id: str) -> Delivery:
    with db_session(world) as s:
        found = s.get(Delivery, item_id)
        assert found is not None
        s.expunge(found)
        return found


def test_an_online_query_file_is_put_in_the_bucket_and_downloaded_back(world: dict) -> None:
    client = logged_in(world, "taipei_user")
    answer = call(client, submit_payload("population", "county", ["63000"], ["population"]))
    link = link_of(answer)
    item_id = link.split("/")[2]
    delivery = delivery_of(world, item_id)
    assert delivery.status == "ready" and delivery.path == f"{world['outbox']}/{item_id}"
    (key,) = keys(world["bucket"], f"outbox/{item_id}/")
    stored = read_object(world["bucket"], key)
    got = client.get(link, buffered=True)
    assert got.status_code == 200, got.get_data(as_text=True)
    assert got.data == stored and hashlib.sha256(stored).hexdigest() == delivery.sha256
    assert got.headers["Content-Disposition"] == f"attachment; filename={key.rsplit('/', 1)[1]}"
    assert "63000" in got.data.decode("utf-8-sig")
    assert not (world["root"] / "outbox").exists()  # nothing written to a local outbox


def test_a_media_package_is_sealed_in_the_bucket_and_zipped_from_it(world: dict) -> None:
    client = logged_in(world, "taipei_user")
    answer = call(client, submit_payload("population", "county", ["63000"], ["population"],
                                         channel="media_exchange"))
    link = link_of(answer)
    item_id = link.split("/")[2]
    found = keys(world["bucket"], f"outbox/{item_id}/")
    names = {k.rsplit("/", 1)[1] for k in found}
    assert {"manifest.json", "README.txt", "SHA256SUMS"} <= names
    sums = read_object(world["bucket"], f"outbox/{item_id}/SHA256SUMS")
    assert hashlib.sha256(sums).hexdigest() == delivery_of(world, item_id).sha256
    got = client.get(link, buffered=True)
    assert got.status_code == 200, got.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(got.data)) as archive:
        inside = {n.split("/", 1)[1]: archive.read(n) for n in archive.namelist()}
    assert set(inside) == names
    for name, data in inside.items():
        assert data == read_object(world["bucket"], f"outbox/{item_id}/{name}"), name


def test_a_cli_file_transfer_downloads_then_maintain_deletes_the_objects(world: dict) -> None:
    out = popstats("delivery", "file", "--user", "taipei_user", "--releases", world["releases"],
              "--period", "2025-03", "--area", "63000", "--table", "population",
              "--outbox", world["outbox"], "--db", world["db"])
    item_id = out.split()[1].rstrip(":")
    assert out.split()[2] == "ready", out
    delivery = delivery_of(world, item_id)
    assert delivery.path == f"{world['outbox']}/{item_id}"
    (key,) = keys(world["bucket"], f"outbox/{item_id}/")
    client = logged_in(world, "taipei_user")
    got = client.get(f"/deliveries/{item_id}/file", buffered=True)
    assert got.status_code == 200 and got.data == read_object(world["bucket"], key)
    # a staff member's own export: <outbox>/staff/<id>/ with meta.json, kept 1 day
    staff = logged_in(world, "moi_official")
    staff_link = link_of(call(staff, submit_payload("population", "county", ["63000"],
                                                    ["population"])))
    staff_id = staff_link.split("/")[2]
    assert keys(world["bucket"], f"outbox/staff/{staff_id}/")[-1].endswith("meta.json")
    fetched = staff.get(staff_link, buffered=True)
    assert fetched.status_code == 200 and b"63000" in fetched.data

    later = (datetime.now(UTC) + timedelta(days=8)).isoformat()
    result = CliRunner().invoke(main, ["maintain", "--db", world["db"], "--at", later,
                                       "--outbox", world["outbox"]])
    assert result.exit_code == 0, result.output
    assert keys(world["bucket"], f"outbox/{item_id}/") == []
    assert keys(world["bucket"], f"outbox/staff/{staff_id}/") == []
    assert delivery_of(world, item_id).purged_at is not None
    with db_session(world) as s:
        purged = s.scalars(select(AuditEntry).where(AuditEntry.action == "delivery.purged",
                                                    AuditEntry.object == f"delivery:{item_id}"))
        (entry,) = purged.all()
        assert entry.details["verified_absent"] is True
        assert entry.details["deleted"] == f"{world['outbox']}/{item_id}"
    gone = client.get(f"/deliveries/{item_id}/file")
    assert gone.status_code == 410


def test_a_failed_write_leaves_no_object(world: dict) -> None:
    target = ObjectPath(f"{world['outbox']}/failed")
    with pytest.raises(RuntimeError), writing(target) as folder:
        folder.mkdir(parents=True)
        (folder / "half.csv").write_text("a,b\n")
        raise RuntimeError("the writer failed")
    assert keys(world["bucket"], "outbox/failed") == []
    with writing(target) as folder:  # and a finished one is put whole, sealed last
        folder.mkdir(parents=True)
        (folder / "data.csv").write_text("a,b\n")
        (folder / "SHA256SUMS").write_text("x  data.csv\n")
    assert keys(world["bucket"], "outbox/failed/") == ["outbox/failed/SHA256SUMS",
                                                       "outbox/failed/data.csv"]


def test_an_outbox_in_a_missing_bucket_keeps_the_delivery_pending_then_maintain_retries(
        world: dict) -> None:
    late = f"popstats-late-{uuid.uuid4().hex[:8]}"
    out = popstats("delivery", "file", "--user", "taipei_user", "--releases", world["releases"],
              "--period", "2025-03", "--area", "63000", "--table", "population",
              "--outbox", f"s3://{late}/outbox", "--db", world["db"])
    assert " pending " in out and late in out, out  # the store's reason names the bucket
    item_id = out.split()[1].rstrip(":")
    assert "NoSuchBucket" in (delivery_of(world, item_id).last_error or "")
    boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                 region_name="us-east-1").create_bucket(Bucket=late)
    result = CliRunner().invoke(main, ["maintain", "--db", world["db"]])
    assert item_id in result.output, result.output
    delivery = delivery_of(world, item_id)
    assert delivery.status == "ready" and delivery.path == f"s3://{late}/outbox/{item_id}"
    (key,) = keys(late, f"outbox/{item_id}/")
    assert hashlib.sha256(read_object(late, key)).hexdigest() == delivery.sha256


def test_a_bad_outbox_url_is_refused_clearly(world: dict) -> None:
    result = CliRunner().invoke(main, ["maintain", "--db", world["db"], "--outbox", "s3:///x"])
    assert result.exit_code == 2
    assert "no bucket named" in result.output


def test_a_local_outbox_is_as_before(world: dict, tmp_path: Path) -> None:
    out = popstats("delivery", "file", "--user", "taipei_user", "--releases", world["releases"],
              "--period", "2025-03", "--area", "63000", "--table", "population",
              "--outbox", str(tmp_path / "box"), "--db", world["db"])
    item_id = out.split()[1].rstrip(":")
    assert delivery_of(world, item_id).path == str(tmp_path / "box" / item_id)
    assert len(list((tmp_path / "box" / item_id).iterdir())) == 1


def test_a_stored_answer_is_one_object_and_purge_one_deletes_it(world: dict) -> None:
    from access import deliveries
    from access.db import make_engine, session_factory
    from access.models import User

    now = datetime.now(UTC)
    engine = make_engine(world["db"])
    with session_factory(engine)() as session:
        user = session.scalar(select(User).where(User.username == "taipei_user"))
        assert user is not None
        delivery = deliveries.record_answer(session, user, "online_query", ["population"],
                                            "2025-03", ["63000"], b'{"rows": []}',
                                            ObjectPath(world["outbox"]), now)
        assert delivery.path == f"{world['outbox']}/{delivery.id}"
        assert read_object(world["bucket"], f"outbox/{delivery.id}") == b'{"rows": []}'
        assert deliveries.purge_one(session, delivery, now + timedelta(days=2))
        session.commit()
    engine.dispose()
    assert keys(world["bucket"], f"outbox/{delivery.id}") == []
