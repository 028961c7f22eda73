"""The release workflow: draft → scheduled (embargo) → published → superseded; calendar; report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from stats.periods import Month, Period
from stats.publication import (
    list_releases,
    plan_release,
    publish,
    published_revision_dir,
    read_calendar,
    read_log,
)
from stats.release import ReleaseError, build_release, read_manifest
from stats.report import previous_period, release_report
from tests.helpers import event, person, tiny_codes, write_extract

T0 = datetime(2024, 4, 10, 8, 0, tzinfo=UTC)
V1, KHH = "63000010001", "64000010001"


@pytest.fixture
def releases(tmp_path):
    people = [person(f"p{i}", V1 if i % 3 else KHH, born=date(1960 + i % 50, 1, 1)) for i in range(300)]
    births = [event(f"b{i}", "BIRTH", date(2024, 3, 3), pid=f"n{i}", born=date(2024, 3, 1), village=V1)
              for i in range(5)]
    newborns = [person(f"n{i}", V1, born=date(2024, 3, 1)) for i in range(5)]
    extract = write_extract(tmp_path / "x", {Month(2024, 2): people, Month(2024, 3): people + newborns},
                            {Month(2024, 3): births})
    out = tmp_path / "rel"
    build_release(extract, Period.parse("2024-03"), out, tiny_codes())
    return out


def states(releases, now):
    return [(r["period"], r["revision"], r["state"]) for r in list_releases(releases, now)]


def test_a_built_release_is_a_draft_invisible_to_agencies(releases):
    assert states(releases, T0) == [("2024-03", 1, "draft")]
    assert published_revision_dir(releases, "2024-03", T0) is None


def test_publish_now_records_who_and_when(releases):
    # a release is immutable: publishing appends to the period's log, the manifest stays
    manifest_bytes = (releases / "2024-03" / "manifest.json").read_bytes()
    manifest = publish(releases, "2024-03", by="stat.wang", now=T0)
    assert manifest["publication"]["by"] == "stat.wang"
    assert manifest["publication"]["at"] == "2024-04-10T08:00:00+00:00"
    assert (releases / "2024-03" / "manifest.json").read_bytes() == manifest_bytes
    assert [(r["revision"], r["by"], r["at"]) for r in read_log(releases, "2024-03")] == [
        (1, "stat.wang", "2024-04-10T08:00:00+00:00")]
    assert states(releases, T0) == [("2024-03", 1, "published")]
    assert published_revision_dir(releases, "2024-03", T0) == (releases / "2024-03").resolve()


def test_embargo_hides_the_release_until_its_time(releases):
    at = T0 + timedelta(days=2)
    publish(releases, "2024-03", by="stat.wang", now=T0, at=at)
    assert states(releases, T0) == [("2024-03", 1, "scheduled")]
    assert published_revision_dir(releases, "2024-03", at - timedelta(seconds=1)) is None
    assert published_revision_dir(releases, "2024-03", at) is not None
    assert states(releases, at) == [("2024-03", 1, "published")]


def test_publishing_twice_is_refused(releases):
    publish(releases, "2024-03", by="a", now=T0)
    with pytest.raises(ReleaseError, match="already published"):
        publish(releases, "2024-03", by="a", now=T0 + timedelta(hours=1))


def test_a_revision_supersedes_the_old_one_only_once_public(releases, tmp_path):
    publish(releases, "2024-03", by="a", now=T0)
    extract = tmp_path / "x"
    build_release(extract, Period.parse("2024-03"), releases, tiny_codes(), note="corrected")
    later = T0 + timedelta(days=1)
    # the new revision is a draft: agencies still see revision 1
    assert states(releases, later) == [("2024-03", 1, "published"), ("2024-03", 2, "draft")]
    assert read_manifest(published_revision_dir(releases, "2024-03", later))["revision"] == 1
    publish(releases, "2024-03", by="b", now=later, note="births of 3 villages corrected")
    assert states(releases, later) == [("2024-03", 1, "superseded"), ("2024-03", 2, "published")]
    rows = list_releases(releases, later)
    assert rows[1]["note"] == "births of 3 villages corrected"
    assert (releases / ".revisions" / "2024-03" / "r0001" / "population.parquet").exists()


def test_unknown_period_is_refused(releases):
    with pytest.raises(ReleaseError, match="no release"):
        publish(releases, "2024-04", by="a", now=T0)


def test_release_calendar(tmp_path):
    plan_release(tmp_path, "2024-05", date(2024, 6, 10), "monthly")
    plan_release(tmp_path, "2024-04", date(2024, 5, 10), "monthly")
    plan_release(tmp_path, "2024-05", date(2024, 6, 11), "moved a day")
    assert [(e["period"], e["planned"], e["note"]) for e in read_calendar(tmp_path)] == [
        ("2024-04", "2024-05-10", "monthly"), ("2024-05", "2024-06-11", "moved a day")]


@pytest.mark.parametrize("period, before, year_ago", [
    ("2024-03", "2024-02", "2023-03"), ("2024-01", "2023-12", "2023-01"),
    ("2024-Q1", "2023-Q4", "2023-Q1"), ("2024-Q3", "2024-Q2", "2023-Q3"), ("2024", "2023", "2023"),
])
def test_previous_periods(period, before, year_ago):
    p = Period.parse(period)
    assert str(previous_period(p)) == before
    assert str(previous_period(p, years=1)) == year_ago


def test_release_report_totals_residuals_and_outliers(releases):
    report = release_report(releases, "2024-03")
    assert report["totals"]["population"] == 305
    assert report["totals"]["births"] == 5
    assert report["comparisons"]["previous"] == {"period": "2024-02", "available": False}
    national = [r for r in report["residuals"] if r["area_level"] == "national"][0]
    assert national["areas_with_residual"] == 0
    assert report["state"] == "draft"


def test_outliers_flag_an_area_far_from_its_peers():
    from stats.report import outliers

    n = 40
    rec = pl.DataFrame({
        "area_level": ["village"] * n,
        "area_code": [f"{i:011d}" for i in range(n)],
        "population_start": [1000] * n,
        "population_end": [1000 + (i % 5) for i in range(n - 1)] + [1500],
        "residual": [0] * n,
    })
    flagged = outliers(rec)
    assert flagged["area_code"].to_list() == [f"{n - 1:011d}"]


def test_outliers_against_an_areas_own_history():
    from stats.report import outliers

    def rec(ends: list[int]) -> pl.DataFrame:
        return pl.DataFrame({
            "area_level": ["village"] * len(ends),
            "area_code": [f"{i:011d}" for i in range(len(ends))],
            "population_start": [1000] * len(ends),
            "population_end": ends,
            "residual": [0] * len(ends),
        })

    # village 0 grows by exactly 100 every month (odd among peers, normal for itself);
    # village 1 has always been steady and now jumps by 40
    history = [rec([1100, 1000 + (m % 2), *[1000 + (i + m) % 5 for i in range(38)]]) for m in range(8)]
    current = rec([1100, 1040, *[1000 + i % 5 for i in range(38)]])
    flagged = outliers(current, history)
    by_basis = {(r["area_code"], r["basis"]) for r in flagged.iter_rows(named=True)}
    assert (f"{1:011d}", "own history") in by_basis
    assert (f"{0:011d}", "peers") in by_basis
    assert (f"{0:011d}", "own history") not in by_basis
    assert outliers(current, history[:3]).filter(pl.col("basis") == "own history").is_empty()


def test_the_release_report_reads_the_state_from_the_publication_log(releases):
    publish(releases, "2024-03", by="stat.wang", now=datetime.now(UTC) - timedelta(minutes=1))
    assert release_report(releases, "2024-03")["state"] == "published"


def test_the_systems_own_notes_are_shown_in_the_readers_language():
    from stats.publication import note_label

    assert note_label("first release", "zh") == "首次發布"
    assert note_label("first release", "en") == "first release"
    assert note_label("rebuild of revision 2", "zh") == "重新產製（取代第 2 版）"
    assert note_label("demo release", "zh") == "示範發布"
    assert note_label("更正臺東縣戶數", "en") == "更正臺東縣戶數"  # typed by a person: as typed
