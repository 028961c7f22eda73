"""File transfer and media exchange from a published release: granted rows only, checksums."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy.orm import Session

from access import deliveries
from access.deliveries import DeliveryError, Forbidden
from access.packages import deliver_file, deliver_media, granted_rows
from tests.access.conftest import World, grant_taipei

CHANNELS = ["online_query", "file_transfer", "media_exchange"]
AT = datetime(2025, 4, 20, tzinfo=UTC)  # after publication


@pytest.fixture
def granted(session: Session, world: World) -> World:
    """``world.user``'s agency: population and vital_events for 臺北市, every channel."""
    grant_taipei(session, world, ["population", "vital_events"], CHANNELS)
    return world


def test_granted_rows_by_prefix() -> None:
    frame = pl.DataFrame({"area_code": ["00000", "63000", "63000010", "63000010001", "64000"]})
    assert granted_rows(frame, ["63000"])["area_code"].to_list() == [
        "63000",
        "63000010",
        "63000010001",
    ]
    assert granted_rows(frame, ["00000"]).height == 5


def test_file_transfer_only_granted_areas(
    session: Session, granted: World, releases: Path, tmp_path: Path
) -> None:
    d = deliver_file(
        session,
        granted.user,
        releases,
        "2025-03",
        "population",
        ["63000"],
        "csv",
        "utf-8",
        tmp_path / "outbox",
        AT,
    )
    assert d.status == "ready" and d.expires_at == AT + timedelta(days=7)
    (file,) = Path(d.path).iterdir()  # type: ignore[arg-type]
    # named by the provider that granted it (臺北市政府, 63000), not always MOI (point 7)
    assert file.name.startswith("63000_POP01_") and file.suffix == ".csv"
    codes = pl.read_csv(file, schema_overrides={"area_code": pl.String})["area_code"]
    assert codes.len() > 0 and all(c.startswith("63000") for c in codes)
    assert deliveries.fetch(session, granted.user, d.id, AT + timedelta(days=6)).id == d.id


def test_file_transfer_refused_outside_grant_or_unpublished(
    session: Session, granted: World, releases: Path, tmp_path: Path
) -> None:
    with pytest.raises(Forbidden):
        deliver_file(
            session,
            granted.user,
            releases,
            "2025-03",
            "indicators",
            ["63000"],
            "csv",
            "utf-8",
            tmp_path,
            AT,
        )
    with pytest.raises(Forbidden):
        deliver_file(
            session,
            granted.user,
            releases,
            "2025-03",
            "population",
            ["00000"],
            "csv",
            "utf-8",
            tmp_path,
            AT,
        )
    with pytest.raises(DeliveryError, match="not published"):
        deliver_file(
            session,
            granted.user,
            releases,
            "2025-03",
            "population",
            ["63000"],
            "csv",
            "utf-8",
            tmp_path,
            datetime(2025, 4, 1, tzinfo=UTC),
        )


def test_media_package_verifies_with_sha256sum(
    session: Session, granted: World, releases: Path, tmp_path: Path
) -> None:
    d = deliver_media(
        session,
        granted.user,
        releases,
        "2025-03",
        ["population", "vital_events"],
        ["63000"],
        "csv",
        "utf-8-sig",
        tmp_path / "outbox",
        AT,
    )
    folder = Path(d.path)  # type: ignore[arg-type]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert [f["table"] for f in manifest["files"]] == ["population", "vital_events"]
    assert manifest["areas"] == ["63000"] and manifest["delivery"] == d.id
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    assert "驗證" in readme and "Verify" in readme
    if shutil.which("sha256sum"):
        check = subprocess.run(
            ["sha256sum", "-c", "SHA256SUMS"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
    # purge after 7 days removes the whole package
    assert deliveries.purge(session, AT + timedelta(days=7)) == [d]
    assert not folder.exists()


def test_outage_during_file_transfer_is_kept_and_retried(
    session: Session,
    granted: World,
    releases: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from access import packages

    real = packages._write_table

    def down(*args: object, **kwargs: object) -> Path:
        raise OSError("release store unavailable")

    monkeypatch.setattr(packages, "_write_table", down)
    d = deliver_file(
        session,
        granted.user,
        releases,
        "2025-03",
        "population",
        ["63000"],
        "csv",
        "utf-8",
        tmp_path / "outbox",
        AT,
    )
    session.commit()
    assert (d.status, d.attempts) == ("pending", 1) and "unavailable" in (d.last_error or "")
    assert packages.retry(session, AT + timedelta(minutes=1)) == []  # still down
    monkeypatch.setattr(packages, "_write_table", real)
    later = AT + timedelta(hours=2)
    assert packages.retry(session, later) == [d]
    assert (d.status, d.attempts, d.last_error) == ("ready", 3, None)
    assert deliveries.fetch(session, granted.user, d.id, later).id == d.id


def test_file_and_media_from_the_cli(
    session: Session, granted: World, releases: Path, tmp_path: Path, db_url: str
) -> None:
    import click
    from click.testing import CliRunner

    from popstats.access_cli import register

    @click.group()
    def main() -> None:
        """popstats"""

    register(main)
    common = [
        "--user",
        "alice",
        "--releases",
        str(releases),
        "--period",
        "2025-03",
        "--area",
        "63000",
        "--outbox",
        str(tmp_path / "outbox"),
        "--db",
        db_url,
    ]
    run = CliRunner()
    out = run.invoke(main, ["delivery", "file", "--table", "population", *common])
    assert out.exit_code == 0 and out.output.endswith(": ready\n"), out.output
    out = run.invoke(
        main, ["delivery", "media", "--table", "population", "--table", "vital_events", *common]
    )
    assert out.exit_code == 0 and "ready" in out.output, out.output
    bad = run.invoke(
        main, ["delivery", "file", "--table", "population", "--format", "doc", *common]
    )
    assert bad.exit_code == 1 and "unknown format" in bad.output
    refused = run.invoke(main, ["delivery", "file", "--table", "indicators", *common])
    assert refused.exit_code == 1 and "outside" in refused.output
    assert "0 pending" in run.invoke(main, ["delivery", "retry", "--db", db_url]).output


def test_media_package_has_csvw_sidecars_windows_check_and_taipei_times(
    session: Session, granted: World, releases: Path, tmp_path: Path
) -> None:
    d = deliver_media(session, granted.user, releases, "2025-03", ["population", "vital_events"],
                      ["63000"], "csv", "utf-8-sig", tmp_path / "outbox", AT)
    folder = Path(d.path)  # type: ignore[arg-type]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        sidecar = json.loads((folder / entry["metadata"]).read_text(encoding="utf-8"))
        assert entry["metadata"] == f"{entry['file']}-metadata.json"
        assert sidecar["url"] == entry["file"]
        written = pl.read_csv(folder / entry["file"], infer_schema=False).columns
        assert [c["name"] for c in sidecar["tableSchema"]["columns"]] == written
    listed = [line.split("  ", 1)[1] for line in
              (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()]
    assert sorted(listed) == sorted(
        [f["file"] for f in manifest["files"]] + [f["metadata"] for f in manifest["files"]]
        + ["manifest.json", "README.txt"])
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    # AT is 2025-04-20 00:00 UTC = 08:00 in Taipei; kept 7 days
    assert "交付時間：114年4月20日 08:00 臺北時間" in readme
    assert "保存期限：114年4月27日 08:00 臺北時間" in readme
    assert "Delivered: 2025-04-20 08:00 +08:00" in readme
    assert "Kept until: 2025-04-27 08:00 +08:00" in readme
    assert "sha256sum -c SHA256SUMS" in readme
    assert ("Get-Content SHA256SUMS | ForEach-Object { $h, $f = $_ -split '  ', 2; "
            "if ((Get-FileHash -Algorithm SHA256 -LiteralPath $f).Hash -eq $h)") in readme
    assert "+00:00" not in readme and "T00:00" not in readme
    pwsh = shutil.which("pwsh")
    if pwsh:  # where PowerShell is installed, the line itself verifies the package
        line = next(x for x in readme.splitlines() if x.startswith("Get-Content SHA256SUMS"))
        run = subprocess.run([pwsh, "-NoProfile", "-Command", line], cwd=folder,
                             capture_output=True, text=True, check=False)
        assert run.returncode == 0 and "FAILED" not in run.stdout
        assert run.stdout.count("OK  ") == len(listed)
