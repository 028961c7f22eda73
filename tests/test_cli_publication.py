"""The statistician's commands speak Taipei time: ``publish --at`` without a zone (ISO or
ROC) is a Taipei time, ``releases``/``calendar`` show ROC dates labelled 臺北時間 while
``--json`` stays ISO UTC; ``export`` refuses a scheduled revision unless ``--embargoed`` (a draft is marked and warned about),
and then the file says 未公布，禁止外流 (至 its publication time)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import popstats.cli
from popstats.cli import main
from stats.periods import Month
from stats.publication import read_log
from tests.helpers import event, person, write_extract

V1 = "63000010002"  # 臺北市松山區莊敬里
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 115年12月1日 11:00 in Taipei


@pytest.fixture
def rel(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setattr(popstats.cli, "_now", lambda: NOW)
    people = [person(f"p{i}", V1, born=date(1970 + i, 1, 1)) for i in range(20)]
    deaths = [event("d1", "DEATH", date(2025, 3, 3), pid="p0", village=V1)]
    extract = write_extract(tmp_path / "x", {Month(2025, 2): people, Month(2025, 3): people[1:]},
                            {Month(2025, 3): deaths})
    out = tmp_path / "rel"
    built = run("build", "--input", str(extract), "--period", "2025-03", "--out", str(out))
    assert built.exit_code == 0, built.output
    return out


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("typed", ["2026-12-10 16:00", "115/12/10 16:00", "1151210 1600",
                                   "115-12-10 16:00:00", "2026-12-10T16:00+08:00",
                                   "2026-12-10T08:00:00Z"])
def test_publish_at_is_taipei_time_unless_a_zone_is_given(rel, typed):
    result = run("publish", "--releases", str(rel), "--period", "2025-03", "--by", "stat.lin",
                 "--at", typed)
    assert result.exit_code == 0, result.output
    assert result.output == ("2025-03 revision 1 scheduled: public from 115年12月10日 16:00 臺北時間 "
                             "(2026-12-10 16:00 +08:00) by stat.lin\n")
    assert [r["at"] for r in read_log(rel, "2025-03")] == ["2026-12-10T08:00:00+00:00"]


def test_releases_reads_in_taipei_time_and_json_stays_iso_utc(rel):
    run("publish", "--releases", str(rel), "--period", "2025-03", "--by", "stat.lin",
        "--at", "115/12/10 16:00")
    listing = json.loads(run("releases", "--releases", str(rel), "--json").output)
    assert listing[0]["published_at"] == "2026-12-10T08:00:00+00:00"
    assert listing[0]["created_at"].endswith("+00:00") and "." not in listing[0]["created_at"]
    text = run("releases", "--releases", str(rel)).output
    assert "臺北時間" in text.splitlines()[0]
    row = text.splitlines()[2]
    assert row.startswith("2025-03     1  scheduled ")
    assert "115年12月10日 16:00  stat.lin" in row
    assert "+00:00" not in text and "T08:00" not in text


@pytest.mark.parametrize("typed, problem", [
    ("2026-13-10 16:00", "is not a time"),
    ("115/02/30 16:00", "is not a real date and time"),
    ("2026-11-30 16:00", "in the past; omit --at to publish now"),
])
def test_a_bad_or_past_publication_time_is_refused_naming_the_option(rel, typed, problem):
    result = run("publish", "--releases", str(rel), "--period", "2025-03", "--at", typed)
    assert result.exit_code == 2
    assert "--at" in result.output and problem in result.output
    assert read_log(rel, "2025-03") == []


def test_a_second_publisher_is_refused_with_the_winner_named(rel):
    first = run("publish", "--releases", str(rel), "--period", "2025-03", "--by", "stat_a")
    assert first.exit_code == 0
    result = run("publish", "--releases", str(rel), "--period", "2025-03", "--by", "stat_b",
                 "--at", "+3d")
    assert result.exit_code == 1
    assert ("2025-03 revision 1 is already published by stat_a (public from 2026-12-01 11:00 "
            "+08:00") in result.output
    assert "Traceback" not in result.output
    assert [r["by"] for r in read_log(rel, "2025-03")] == ["stat_a"]


def test_reschedule_moves_a_scheduled_publication(rel):
    run("publish", "--releases", str(rel), "--period", "2025-03", "--by", "a", "--at", "+3d")
    refused = run("publish", "--releases", str(rel), "--period", "2025-03", "--by", "b",
                  "--at", "+1d")
    assert refused.exit_code == 1 and "--reschedule" in refused.output
    moved = run("publish", "--releases", str(rel), "--period", "2025-03", "--by", "b",
                "--at", "115/12/2 09:00", "--reschedule")
    assert moved.exit_code == 0 and "115年12月2日 09:00 臺北時間" in moved.output


def test_calendar_shows_scheduled_publications_and_takes_roc_dates(rel):
    empty = run("calendar", "--releases", str(rel))
    assert "尚無排定的發布" in empty.output
    run("publish", "--releases", str(rel), "--period", "2025-03", "--by", "a",
        "--at", "2026-12-10 16:00")
    shown = run("calendar", "--releases", str(rel), "--period", "2025-04", "--date", "115/12/15")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("115年12月10日   2025-03   114年3月    scheduled: revision 1 public "
                               "from 115年12月10日 16:00 臺北時間")
    assert lines[1].startswith("115年12月15日   2025-04   114年4月    planned")
    bad = run("calendar", "--releases", str(rel), "--period", "2025-05", "--date", "115/13/01")
    assert bad.exit_code == 2 and "--date" in bad.output


def test_export_of_a_draft_is_marked_and_warned_about(rel, tmp_path):
    """CONTRACT §4 exports a built release (a statistician checks a build before publishing):
    the file is written, but marked as unpublished, and the command says so."""
    out = tmp_path / "pop.csv"
    result = run("export", "--release", str(rel / "2025-03"), "--table", "population",
                 "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "is a draft (not published)" in result.output and "do not give it" in result.output
    sidecar = Path(f"{out}-metadata.json").read_text(encoding="utf-8")
    assert "未公布，禁止外流" in sidecar


def test_an_embargoed_draft_export_says_so(rel, tmp_path):
    out = tmp_path / "pop.xlsx"
    result = run("export", "--release", str(rel / "2025-03"), "--table", "population",
                 "--format", "xlsx", "--out", str(out), "--embargoed")
    assert result.exit_code == 0, result.output
    assert "marked 「未公布，禁止外流」" in result.output
    sheet = openpyxl.load_workbook(out, read_only=True).worksheets[0]
    first = [row[0] for row in sheet.iter_rows(min_row=1, max_row=5, values_only=True)]
    assert first[0].startswith("POP") and "【未公布，禁止外流】" in first[0]


def test_an_embargoed_scheduled_export_names_its_time_and_a_published_one_is_plain(rel, tmp_path,
                                                                                monkeypatch):
    run("publish", "--releases", str(rel), "--period", "2025-03", "--by", "a",
        "--at", "2026-12-10 16:00")
    out = tmp_path / "pop.csv"
    result = run("export", "--release", str(rel / "2025-03"), "--table", "population",
                 "--format", "csv", "--out", str(out))
    assert result.exit_code == 1
    assert "is scheduled, public from 115年12月10日 16:00 臺北時間" in result.output
    assert "nothing was written" in result.output
    assert not out.exists()
    result = run("export", "--release", str(rel / "2025-03"), "--table", "population",
                 "--format", "csv", "--out", str(out), "--embargoed")
    assert result.exit_code == 0, result.output
    sidecar = json.loads(Path(f"{out}-metadata.json").read_text(encoding="utf-8"))
    text = json.dumps(sidecar, ensure_ascii=False)
    assert "未公布，禁止外流至 115年12月10日 16:00 臺北時間" in text
    # from 16:00:00 Taipei time it is public: a plain file, no flag needed
    monkeypatch.setattr(popstats.cli, "_now", lambda: datetime(2026, 12, 10, 8, 0, tzinfo=UTC))
    plain = tmp_path / "plain.csv"
    result = run("export", "--release", str(rel / "2025-03"), "--table", "population",
                 "--format", "csv", "--out", str(plain))
    assert result.exit_code == 0, result.output
    assert "未公布" not in Path(f"{plain}-metadata.json").read_text(encoding="utf-8")
    # one second before, still embargoed
    monkeypatch.setattr(popstats.cli, "_now", lambda: datetime(2026, 12, 10, 7, 59, 59, tzinfo=UTC))
    assert run("export", "--release", str(rel / "2025-03"), "--table", "population",
               "--format", "csv", "--out", str(plain)).exit_code == 1
