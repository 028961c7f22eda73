"""The statistical bulletin of releases kept in an S3 bucket (a real moto server on
127.0.0.1): ``popstats publish`` keeps its HTML beside the period's publications as it does
for a local folder, ``popstats bulletin --release s3://…/P`` writes it, and the dashboards
send it — the same bytes a local copy of the same release gives."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import popstats.cli
from dashboards.app import ServerSettings, create_app
from popstats.cli import main
from stats.store import ObjectPath
from tests.dashboards.client import logged_in
from tests.objectstore.conftest import keys, make_bucket

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    assert "Warning" not in result.stderr, result.stderr
    return result.output


@pytest.fixture(scope="module")
def published(s3_endpoint: dict[str, str], tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[dict[str, Any]]:
    """2025-03 built and published twice over: into a bucket and into a local folder."""
    root = tmp_path_factory.mktemp("bulletin-s3")
    bucket = make_bucket(s3_endpoint)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in s3_endpoint.items():
            patch.setenv(key, value)
        patch.setattr(popstats.cli, "_now", lambda: NOW)
        remote, local = f"s3://{bucket}/rel", str(root / "rel")
        run("sample", "--out", str(root / "x"), "--scale", "0.002", "--start", "2025-03",
            "--months", "1")
        for releases in (remote, local):
            run("build", "--input", str(root / "x"), "--period", "2025-03", "--out", releases)
            run("publish", "--releases", releases, "--period", "2025-03", "--by", "stat")
        yield {"bucket": bucket, "remote": remote, "local": Path(local), "root": root,
               "env": s3_endpoint}


def _without_times(page: bytes) -> bytes:
    """A bulletin with its clock times (HH:MM) blanked: the two releases compared are built
    seconds apart, so their build times may fall either side of a minute."""
    return re.sub(rb"\d\d:\d\d", b"hh:mm", page)


def test_publish_keeps_the_bulletin_in_the_bucket_as_locally(published: dict) -> None:
    kept = [k for k in keys(published["bucket"], "rel/") if "/bulletins/" in k]
    assert kept == ["rel/.revisions/2025-03/bulletins/r0001/bulletin-en.html",
                    "rel/.revisions/2025-03/bulletins/r0001/bulletin-zh-TW.html"]
    for key in kept:
        remote = ObjectPath(f"s3://{published['bucket']}/{key}").read_bytes()
        local = (published["local"].parent / key).read_bytes()
        # the same figures from the same release (built seconds apart: the minute of
        # each build may differ)
        assert _without_times(remote) == _without_times(local)


def test_the_bulletin_command_reads_a_bucket_release(published: dict, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(popstats.cli, "_now", lambda: NOW)
    for key, value in published["env"].items():
        monkeypatch.setenv(key, value)
    out_remote, out_local = tmp_path / "remote.html", tmp_path / "local.html"
    said = run("bulletin", "--release", f"{published['remote']}/2025-03", "--out",
               str(out_remote), "--lang", "en")
    assert "bulletin of 2025-03 revision 1" in said
    run("bulletin", "--release", str(published["local"] / "2025-03"), "--out", str(out_local),
        "--lang", "en")
    assert _without_times(out_remote.read_bytes()) == _without_times(out_local.read_bytes())
    missing = CliRunner().invoke(main, ["bulletin", "--release",
                                        f"{published['remote']}/2024-01", "--out",
                                        str(tmp_path / "none.html")])
    assert missing.exit_code == 2 and "nothing is stored there" in missing.output


def test_the_dashboards_send_the_kept_bulletin_from_the_bucket(published: dict,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    for key, value in published["env"].items():
        monkeypatch.setenv(key, value)
    db = f"sqlite:///{published['root'] / 'access.db'}"
    accounts = {a["username"]: a for a in json.loads(run("demo-accounts", "--db", db,
                                                         "--json"))}
    app = create_app(ServerSettings(releases=ObjectPath(published["remote"]), db_url=db,
                                    outbox=published["root"] / "outbox"))
    client = logged_in({"app": app, "accounts": accounts}, "taipei_user")
    got = client.get("/releases/2025-03/bulletin-zh-TW.html", buffered=True)
    assert got.status_code == 200, got.get_data(as_text=True)
    kept = ObjectPath(f"{published['remote']}/.revisions/2025-03/bulletins/r0001/"
                      "bulletin-zh-TW.html").read_bytes()
    assert got.data == kept
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        pdf = client.get("/releases/2025-03/bulletin-en.pdf", buffered=True)
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
