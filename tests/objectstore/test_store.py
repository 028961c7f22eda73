"""stats.store.ObjectPath answers the Path questions the release code asks, from a real S3
server (moto on 127.0.0.1): keys and "folders", pointers, conditional puts, complete
revisions; and an unreachable store is a StoreError within seconds, not a hang."""

from __future__ import annotations

import time

import polars as pl
import pytest

from stats.store import ObjectPath, StoreError, complete_revisions, followed, place
from tests.objectstore.conftest import free_port, keys


def test_path_algebra_without_a_server() -> None:
    path = ObjectPath("s3://b//rel/./.revisions/2025-03/")
    assert str(path) == "s3://b/rel/.revisions/2025-03" and path == "s3://b/rel/.revisions/2025-03"
    assert (path.name, str(path.parent), str(path / "r0001")) == (
        "2025-03", "s3://b/rel/.revisions", "s3://b/rel/.revisions/2025-03/r0001")
    assert (path / "r0001").relative_to(ObjectPath("s3://b/rel")) == ".revisions/2025-03/r0001"
    assert str(ObjectPath("s3://b").parent) == "s3://b"
    assert isinstance(place("s3://b/x"), ObjectPath) and not isinstance(place("x"), ObjectPath)
    with pytest.raises(ValueError, match="no bucket"):
        ObjectPath("s3:///x")


def test_keys_folders_and_pointers(bucket: str) -> None:
    root = ObjectPath(f"s3://{bucket}/rel")
    assert not root.exists() and list(root.iterdir()) == []
    (root / ".revisions/2025-03/r0001/manifest.json").write_text('{"revision": 1}')
    pl.DataFrame({"x": [1, 2]}).write_parquet(root / ".revisions/2025-03/r0001/t.parquet")
    (root / "2025-03").symlink_to(root / ".revisions/2025-03/r0001")
    assert [(p.name, p.is_dir()) for p in root.iterdir()] == [(".revisions", True),
                                                              ("2025-03", False)]
    link = root / "2025-03"
    assert link.is_symlink() and link.is_dir() and not link.is_file()
    assert link.resolve() == root / ".revisions/2025-03/r0001"
    assert (link / "manifest.json").read_text() == '{"revision": 1}'  # followed on a miss
    assert pl.read_parquet(followed(link) / "t.parquet")["x"].to_list() == [1, 2]
    # a revision without its manifest (a killed build's) is not a revision
    (root / ".revisions/2025-03/r0002/t.parquet").write_bytes(b"half")
    assert [p.name for p in complete_revisions(root / ".revisions/2025-03")] == ["r0001"]
    with pytest.raises(FileNotFoundError):
        (root / "nothing.json").read_bytes()


def test_put_if_absent_is_won_once(bucket: str) -> None:
    record = ObjectPath(f"s3://{bucket}/log/00000001.json")
    assert record.put_if_absent(b"first")
    assert not record.put_if_absent(b"second")
    assert record.read_bytes() == b"first"


def test_unlink_and_rmtree_leave_nothing(bucket: str) -> None:
    folder = ObjectPath(f"s3://{bucket}/f")
    for name in ("a", "b/c", "b/d"):
        (folder / name).write_bytes(b"x")
    (folder / "a").unlink()
    with pytest.raises(FileNotFoundError):
        (folder / "a").unlink()
    (folder / "a").unlink(missing_ok=True)
    folder.rmtree()
    assert keys(bucket, "f/") == []


def test_an_unreachable_store_fails_within_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nobody there
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    started = time.monotonic()
    with pytest.raises(StoreError, match="s3://unreachable-bucket/rel"):
        ObjectPath("s3://unreachable-bucket/rel").is_dir()
    assert time.monotonic() - started < 30
