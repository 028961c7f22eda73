"""Two revisions of a period compared table by table and area by area: on hand-made cells,
then on a period rebuilt with one correction (tests.marks_fixture counts the cells by hand),
and as ``popstats report --compare`` prints it."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import popstats.cli
from popstats.cli import main
from stats.publication import read_log
from stats.release import ReleaseError
from stats.revision_compare import compare_revisions, compare_table
from tests.marks_fixture import CHANGED, CHANGED_AREAS, LATER, PERIOD, build, revised_releases

KEYS = ["area_level", "area_code", "sex"]


def test_changed_added_and_removed_cells_by_hand() -> None:
    old = pl.DataFrame({"area_level": ["national", "county", "county"],
                        "area_code": ["00000", "63000", "64000"], "sex": [1, 1, 1],
                        "n": [10, 6, 4], "rate": [1.0, None, 2.0]})
    new = pl.DataFrame({"area_level": ["national", "county", "county"],
                        "area_code": ["00000", "63000", "65000"], "sex": [1, 1, 1],
                        "n": [13, 9, 4], "rate": [1.0, 0.5, 2.0]})
    result = compare_table(old, new, KEYS, ["n", "rate"])
    # compared: 00000 and 63000, 2 measures each = 4 cells; changed: 00000 n, 63000 n and
    # rate (null → 0.5); 65000's 2 cells added, 64000's 2 removed
    assert (result["cells"], result["changed"], result["added"], result["removed"]) == (4, 3, 2, 2)
    assert result["by_level"] == {"national": 1, "county": 2}
    assert [(a["area_code"], a["changed"]) for a in result["areas"]] == [("63000", 2),
                                                                         ("00000", 1)]
    largest = result["largest"]
    assert [(c["area_code"], c["measure"], c["change"]) for c in largest] == [
        ("00000", "n", 3.0), ("63000", "n", 3.0), ("63000", "rate", None)]
    assert largest[0]["keys"] == {"sex": 1} and (largest[0]["old"], largest[0]["new"]) == (10, 13)


def test_a_table_one_revision_lacks_is_all_added() -> None:
    new = pl.DataFrame({"area_level": ["national"], "area_code": ["00000"], "sex": [1],
                        "n": [1]})
    result = compare_table(None, new, KEYS, ["n"])
    assert (result["cells"], result["changed"], result["added"]) == (0, 0, 1)


def test_the_correction_changes_the_cells_counted_by_hand(tmp_path: Path) -> None:
    releases = revised_releases(tmp_path)
    result = compare_revisions(releases, PERIOD, 1)
    assert (result["old"], result["new"]) == (1, 2)
    changed = {t["table"]: t["changed"] for t in result["tables"]}
    assert {t: n for t, n in changed.items() if n} == CHANGED
    assert result["changed"] == sum(CHANGED.values()) == 26
    population = next(t for t in result["tables"] if t["table"] == "population")
    assert population["by_level"] == {"national": 2, "county": 2, "township": 2, "village": 2}
    assert {a["area_code"]: a["area_level"] for a in population["areas"]} == CHANGED_AREAS
    assert population["added"] == population["removed"] == 0
    assert {(c["measure"], c["change"]) for c in population["largest"]} == {("male", -1),
                                                                           ("female", 1)}
    village = next(a for a in population["areas"] if a["area_level"] == "village")
    assert village["area_name"] == "臺北市中正區甲里"
    indicators = next(t for t in result["tables"] if t["table"] == "indicators")
    national = next(c for c in indicators["largest"] if c["area_code"] == "00000")
    assert (national["measure"], national["old"], national["new"]) == ("sex_ratio", 200, 50)
    # compared the other way round, the same cells change by the opposite amounts
    back = compare_revisions(releases, PERIOD, 2, 1)
    assert back["changed"] == 26


def test_a_revision_that_does_not_exist_is_named(tmp_path: Path) -> None:
    releases = revised_releases(tmp_path)
    with pytest.raises(ReleaseError, match="no revision 7 .*revisions: 1, 2"):
        compare_revisions(releases, PERIOD, 7)


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(popstats.cli, "_now", lambda: LATER)


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(main, list(args))


def test_report_compare_prints_tables_areas_and_largest_changes(tmp_path: Path, now: None) -> None:
    releases = revised_releases(tmp_path)
    zh = run("report", "--releases", str(releases), "--period", PERIOD, "--compare", "r1")
    assert zh.exit_code == 0, zh.output
    assert zh.output.startswith("2024-05 第 2 版與第 1 版比較：26 個細格變動")
    # population: 10 areas (national, 2 counties, 3 townships, the 4 villages valid in May
    # 2024) × 4 measures = 40 cells compared
    assert "8 個細格變動（共 40），4 個區域：全國 2、縣市 2、鄉鎮市區 2、村里 2" in zh.output
    assert "村里 63000010001 臺北市中正區甲里: 2" in zh.output
    assert "63000010001 臺北市中正區甲里 男性人口數: 1 → 0 (-1)" in zh.output
    en = run("report", "--releases", str(releases), "--period", PERIOD, "--compare", "1",
             "--revision", "r2", "--lang", "en")
    assert en.exit_code == 0, en.output
    assert "revision 2 compared with revision 1: 26 cells changed" in en.output
    assert "00000 全國 Sex ratio: 200 → 50 (-150)" in en.output
    assert "never married" in en.output
    as_json = run("report", "--releases", str(releases), "--period", PERIOD, "--compare", "r1",
                  "--json")
    assert json.loads(as_json.output)["changed"] == 26


def test_report_compare_refuses_what_is_not_a_revision(tmp_path: Path, now: None) -> None:
    releases = revised_releases(tmp_path)
    bad = run("report", "--releases", str(releases), "--period", PERIOD, "--compare", "latest")
    assert bad.exit_code == 2 and "'latest' is not a revision" in bad.output
    missing = run("report", "--releases", str(releases), "--period", PERIOD, "--compare", "r9")
    assert missing.exit_code == 1 and "no revision 9" in missing.output
    alone = run("report", "--releases", str(releases), "--period", PERIOD, "--revision", "r1")
    assert alone.exit_code == 2 and "--revision needs --compare" in alone.output


def test_publish_provisional_is_recorded(tmp_path: Path, now: None) -> None:
    build(tmp_path, 1)
    done = run("publish", "--releases", str(tmp_path / "releases"), "--period", PERIOD,
               "--provisional", "--by", "stat")
    assert done.exit_code == 0, done.output
    assert "(provisional: cells marked p)" in done.output
    assert read_log(tmp_path / "releases", PERIOD)[-1]["provisional"] is True
    build(tmp_path, 2)
    final = run("publish", "--releases", str(tmp_path / "releases"), "--period", PERIOD)
    assert final.exit_code == 0 and "provisional" not in final.output
    assert "provisional" not in read_log(tmp_path / "releases", PERIOD)[-1]
