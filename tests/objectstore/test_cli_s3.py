"""The statistician's commands on releases kept in an S3 bucket (a real moto server on
127.0.0.1): build, publish, releases, export, query, report and calendar take
``s3://bucket/prefix`` wherever they take a releases folder, and what they write there is
the local layout's: revisions under ``.revisions/P/rNNNN/``, the manifest put last, one
pointer object ``P`` per period, one object per publication record."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import popstats.cli
from popstats.cli import main
from stats.periods import Month
from stats.store import ObjectPath
from tests.helpers import event, person, write_extract
from tests.objectstore.conftest import keys

V1 = "63000010002"  # 臺北市松山區莊敬里
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(main, list(args))


def extract(folder: Path, people: int = 20) -> Path:
    residents = [person(f"p{i}", V1, born=date(1970 + i, 1, 1)) for i in range(people)]
    deaths = [event("d1", "DEATH", date(2025, 3, 3), pid="p0", village=V1)]
    return write_extract(folder, {Month(2025, 2): residents, Month(2025, 3): residents[1:]},
                         {Month(2025, 3): deaths})


@pytest.fixture
def built(bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """s3://BUCKET/rel with 2025-03 built once (a draft)."""
    monkeypatch.setattr(popstats.cli, "_now", lambda: NOW)
    rel = f"s3://{bucket}/rel"
    result = run("build", "--input", str(extract(tmp_path / "x")), "--period", "2025-03",
                 "--out", rel)
    assert result.exit_code == 0, result.output
    return rel


def test_build_puts_the_local_layout_in_the_bucket(built: str, bucket: str) -> None:
    found = keys(bucket, "rel/")
    revision = [k for k in found if k.startswith("rel/.revisions/2025-03/r0001/")]
    assert "rel/.revisions/2025-03/r0001/manifest.json" in revision
    assert "rel/.revisions/2025-03/r0001/population.parquet" in revision
    assert "rel/.revisions/2025-03/r0001/areas.parquet" in revision
    assert "rel/2025-03" in found  # the pointer object
    assert not [k for k in found if "build.lock" in k or "building" in k]  # nothing left over
    pointer = json.loads(ObjectPath(f"{built}/2025-03").read_bytes())
    assert pointer == {"popstats_pointer": ".revisions/2025-03/r0001"}
    manifest = json.loads(ObjectPath(f"{built}/.revisions/2025-03/r0001/manifest.json")
                          .read_bytes())
    assert manifest["revision"] == 1 and manifest["status"] == "draft"
    # what polars reads straight from the bucket is what the manifest counted
    population = pl.read_parquet(f"{built}/.revisions/2025-03/r0001/population.parquet")
    entry = next(t for t in manifest["tables"] if t["table"] == "population")
    assert population.height == entry["rows"]
    national = population.filter(pl.col("area_level") == "national")
    assert national["population"].to_list() == [19]  # 20 people, one died


def test_a_rebuild_is_a_new_revision_and_moves_the_pointer(built: str, bucket: str,
                                                           tmp_path: Path) -> None:
    again = run("build", "--input", str(extract(tmp_path / "y", people=30)), "--period",
                "2025-03", "--out", built)
    assert again.exit_code == 0, again.output
    assert json.loads(ObjectPath(f"{built}/2025-03").read_bytes()) == {
        "popstats_pointer": ".revisions/2025-03/r0002"}
    listing = json.loads(run("releases", "--releases", built, "--json").output)
    assert [(r["revision"], r["state"]) for r in listing] == [(1, "draft"), (2, "draft")]
    assert listing[1]["path"] == f"{built}/.revisions/2025-03/r0002"


def test_publish_then_releases_then_a_second_publish_is_refused(built: str, bucket: str) -> None:
    first = run("publish", "--releases", built, "--period", "2025-03", "--by", "stat.lin")
    assert first.exit_code == 0, first.output
    assert keys(bucket, "rel/.revisions/2025-03/publications/") == [
        "rel/.revisions/2025-03/publications/00000001.json"]
    listing = json.loads(run("releases", "--releases", built, "--json").output)
    assert [(r["revision"], r["state"], r["published_by"]) for r in listing] == [
        (1, "published", "stat.lin")]
    second = run("publish", "--releases", built, "--period", "2025-03", "--by", "stat.wu")
    assert second.exit_code != 0
    assert "already published by stat.lin" in second.output
    assert len(keys(bucket, "rel/.revisions/2025-03/publications/")) == 1


def test_racing_publishers_one_wins_through_the_conditional_put(built: str) -> None:
    """Two publishers that both read the log before either wrote: the second one's put of
    record 1 fails at the store, it decides again and is refused with the winner's name."""
    from stats import publication
    from stats.store import place

    releases = place(built)
    real = publication._append
    calls = []

    def rival_first(releases_, period, record, seen=0):  # noqa: ANN001, ANN202
        if not calls:  # the rival's record lands between our count and our put
            calls.append("rival")
            assert real(releases_, period, {**record, "by": "stat.wu"}, seen)
        return real(releases_, period, record, seen)

    publication._append = rival_first
    try:
        with pytest.raises(publication.PublicationConflict, match="by stat.wu"):
            publication.publish(releases, "2025-03", by="stat.lin", now=NOW)
    finally:
        publication._append = real
    records = publication.read_log(releases, "2025-03")
    assert [r["by"] for r in records] == ["stat.wu"]


def test_export_reads_the_release_through_its_pointer(built: str, tmp_path: Path) -> None:
    run("publish", "--releases", built, "--period", "2025-03", "--by", "stat.lin")
    out = tmp_path / "population.csv"
    result = run("export", "--release", f"{built}/2025-03", "--table", "population",
                 "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8-sig")
    assert "莊敬里" in text and "19" in text


def test_export_of_a_draft_is_marked_as_locally(built: str, tmp_path: Path) -> None:
    out = tmp_path / "draft.csv"
    result = run("export", "--release", f"{built}/2025-03", "--table", "population",
                 "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "is a draft" in result.output


def test_query_runs_on_the_bucket(built: str, tmp_path: Path) -> None:
    run("publish", "--releases", built, "--period", "2025-03", "--by", "stat.lin")
    spec = tmp_path / "q.json"
    spec.write_text(json.dumps({"table": "population", "periods": ["2025-03"],
                                "area_level": "national", "measures": ["population"],
                                "stub": ["area"], "heading": ["period", "measure"],
                                "labels": "codes"}), encoding="utf-8")
    out = tmp_path / "q.csv"
    result = run("query", "--spec", str(spec), "--format", "csv", "--releases", built,
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[1].split(",")[-1] == "19"


def test_report_and_calendar_on_the_bucket(built: str) -> None:
    report = run("report", "--releases", built, "--period", "2025-03", "--json")
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["state"] == "draft"
    planned = run("calendar", "--releases", built, "--period", "2025-04", "--date",
                  "2025-05-20")
    assert planned.exit_code == 0, planned.output
    assert "2025-04" in run("calendar", "--releases", built).output


def test_nothing_there_and_bad_urls_are_refused_clearly(bucket: str) -> None:
    empty = run("releases", "--releases", f"s3://{bucket}/nothing")
    assert empty.exit_code == 2 and "nothing is stored there" in empty.output
    bad = run("releases", "--releases", "s3:///rel")
    assert bad.exit_code == 2 and "no bucket named" in bad.output
