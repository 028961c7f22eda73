"""The command line of CONTRACT §4: build, publish, releases, calendar, report; exit codes."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from popstats.cli import main
from stats.periods import Month
from tests.helpers import event, person, write_extract

ROOT = Path(__file__).resolve().parents[1]
V1 = "63000010002"  # 臺北市松山區莊敬里, in the official code table (the default)


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    people = [person(f"p{i}", V1, born=date(1970 + i, 1, 1)) for i in range(20)]
    deaths = [event("d1", "DEATH", date(2025, 3, 3), pid="p0", village=V1)]
    return write_extract(tmp_path / "x", {Month(2025, 2): people, Month(2025, 3): people[1:]},
                         {Month(2025, 3): deaths})


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_build_publish_list_report(extract, tmp_path):
    rel = str(tmp_path / "rel")
    result = run("build", "--input", str(extract), "--period", "2025-03", "--out", rel)
    assert result.exit_code == 0, result.output
    assert "2025-03 revision 1" in result.output
    assert (tmp_path / "rel" / "2025-03" / "population.parquet").exists()

    listing = json.loads(run("releases", "--releases", rel, "--json").output)
    assert [(r["period"], r["revision"], r["state"]) for r in listing] == [("2025-03", 1, "draft")]

    result = run("publish", "--releases", rel, "--period", "2025-03", "--by", "stat.lin",
                 "--at", "2999-01-01T09:00:00+08:00")
    assert result.exit_code == 0 and "scheduled" in result.output
    listing = json.loads(run("releases", "--releases", rel, "--json").output)
    assert listing[0]["state"] == "scheduled" and listing[0]["published_by"] == "stat.lin"

    report = json.loads(run("report", "--releases", rel, "--period", "2025-03", "--json").output)
    assert report["totals"]["deaths"] == 1 and report["totals"]["population"] == 19
    text = run("report", "--releases", rel, "--period", "2025-03").output
    assert "發布前檢查報告 114年3月（2025-03）" in text

    # people read dates in the ROC calendar; the scheduled publication is on the calendar
    shown = run("calendar", "--releases", rel, "--period", "2025-04", "--date", "2025-05-10").output
    # (CJK characters take two columns: 114年5月10日 is 12 wide, padded to 14, then 2 spaces)
    assert "114年5月10日    2025-04   114年4月    planned" in shown
    assert ("1088年1月1日    2025-03   114年3月    scheduled: revision 1 public from "
            "1088年1月1日 09:00 臺北時間  first release") in shown


def test_invalid_input_exits_2_with_every_problem_and_writes_nothing(extract, tmp_path):
    (extract / "residents_202503.parquet").unlink()
    (extract / "residents_202503.csv").write_text(
        "person_id,household_id,village_code,sex,birth_date,indigenous,marital_status\n"
        "p1,h1,63000010002,9,2025-01-01,0,1\np2,h2,12345678901,1,2025-13-01,0,1\n",
        encoding="utf-8")
    problems = tmp_path / "problems.csv"
    result = CliRunner().invoke(main, ["build", "--input", str(extract), "--period", "2025-03",
                                       "--out", str(tmp_path / "rel"), "--problems", str(problems)])
    assert result.exit_code == 2
    assert ("residents_202503.csv: row 1: column sex: value '9': must be 1 or 2 (1 male, 2 female)"
            in result.output)
    assert "row 2: column village_code: value '12345678901': unknown village code" in result.output
    assert "row 2: column birth_date: value '2025-13-01': not a valid date" in result.output
    assert "nothing was written" in result.output
    assert not (tmp_path / "rel").exists()
    assert problems.read_text(encoding="utf-8-sig").count("\n") == 4  # header + 3 problems


def test_bad_period_is_a_usage_error(extract, tmp_path):
    result = CliRunner().invoke(main, ["build", "--input", str(extract), "--period", "2025-13",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 2 and "expected YYYY-MM, YYYY-Qn or YYYY" in result.output


def test_the_console_script_is_installed():
    out = subprocess.run([Path(sys.executable).parent / "popstats", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("sample", "build", "publish", "releases", "report", "calendar", "demo"):
        assert command in out


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_dependencies_point_one_way():
    """stats imports none of the other packages (STYLE §1)."""
    assert not _imports("stats") & {"sample_data", "exports", "dashboards", "popstats", "access"}
    assert not _imports("sample_data") & {"exports", "dashboards", "popstats", "access"}


def test_catalogue_defines_every_column(tmp_path):
    """``popstats catalogue`` prints what the Tables page shows (regulation points 7, 21)."""
    import json as _json

    from click.testing import CliRunner

    from popstats.cli import main as cli_main
    from stats.catalogue import TABLES

    shown = CliRunner().invoke(cli_main, ["catalogue", "--json", "--lang", "en"])
    assert shown.exit_code == 0, shown.output
    infos = {i["table"]: i for i in _json.loads(shown.output)}
    assert set(infos) == set(TABLES)
    for name, spec in TABLES.items():
        assert [c["name"] for c in infos[name]["columns"]] == [c.name for c in spec.columns]
        assert all(c["definition"] for c in infos[name]["columns"])
    one = CliRunner().invoke(cli_main, ["catalogue", "--table", "population"])
    assert one.exit_code == 0 and "POP01" in one.output and "戶數" in one.output
    bad = CliRunner().invoke(cli_main, ["catalogue", "--table", "nope"])
    assert bad.exit_code == 2 and "unknown table" in bad.output
