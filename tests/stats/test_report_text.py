"""The pre-publication report as statisticians read it (issue 9 item 10): the areas with a
residual named, zh-TW labels, levels national → county → township → village, one
comparison for a year."""

from __future__ import annotations

import json

from click.testing import CliRunner

from popstats.cli import main
from stats.codes import NATIONAL_CODE
from stats.periods import Month, Period
from stats.release import build_release
from stats.report import format_report, release_report
from tests.helpers import person, tiny_codes, write_extract

V1, V4, KHH = "63000010001", "63000020001", "64000010001"


def _month_with_corrections(tmp_path):
    """2024-03: 甲里 loses p3 and 丁里 gains p5 without any event (register corrections)."""
    start = [person("p1", V1), person("p2", V1), person("p3", V1), person("p4", KHH)]
    end = [person("p1", V1), person("p2", V1), person("p4", KHH), person("p5", V4)]
    extract = write_extract(tmp_path / "x", {Month(2024, 2): start, Month(2024, 3): end},
                            {Month(2024, 3): []})
    build_release(extract, Period.parse("2024-03"), tmp_path / "rel", tiny_codes())
    return tmp_path / "rel"


def test_residuals_name_their_areas_level_by_level(tmp_path):
    report = release_report(_month_with_corrections(tmp_path), "2024-03")
    got = [(r["area_level"], r["areas_with_residual"],
            [(a["area_code"], a["area_name"], a["residual"]) for a in r["areas"]])
           for r in report["residuals"]]
    assert got == [
        ("national", 0, []),
        ("county", 0, []),  # 臺北市: −1 in 中正區 and +1 in 大安區
        ("township", 2, [("63000010", "臺北市中正區", -1), ("63000020", "臺北市大安區", 1)]),
        ("village", 2, [("63000010001", "臺北市中正區甲里", -1), ("63000020001", "臺北市大安區丁里", 1)]),
    ]
    assert report["residuals"][0]["areas"] == [] and NATIONAL_CODE == "00000"


def test_the_text_is_in_zh_tw_and_lists_the_areas(tmp_path):
    releases = _month_with_corrections(tmp_path)
    text = CliRunner().invoke(main, ["report", "--releases", str(releases),
                                     "--period", "2024-03"]).output
    lines = text.splitlines()
    assert lines[0] == "發布前檢查報告 113年3月（2024-03），第 1 版，草稿"
    assert lines[2].split() == ["全國", "數值", "較113年2月", "較112年3月"]
    assert lines[3].split() == ["人口數", "4", "無資料", "無資料"]
    assert lines[4].split() == ["戶數", "4", "無資料", "無資料"]
    at = lines.index("人口平衡差額（期末 − 期初 − 出生 + 死亡 − 遷入 + 遷出）：")
    assert [line.split() for line in lines[at + 1:at + 9]] == [
        ["全國", "差額皆為", "0"],
        ["縣市", "差額皆為", "0"],
        ["鄉鎮市區", "2", "個區域差額不為", "0，最大絕對差額", "1，合計", "+0："],
        ["63000010", "臺北市中正區", "-1"],
        ["63000020", "臺北市大安區", "+1"],
        ["村里", "2", "個區域差額不為", "0，最大絕對差額", "1，合計", "+0："],
        ["63000010001", "臺北市中正區甲里", "-1"],
        ["63000020001", "臺北市大安區丁里", "+1"],
    ]
    english = CliRunner().invoke(main, ["report", "--releases", str(releases),
                                        "--period", "2024-03", "--lang", "en"]).output
    assert english.splitlines()[0] == "Release report Mar 2024 (2024-03), revision 1, draft"
    assert "  township/district 2 areas ≠ 0, max |residual| 1, sum +0:" in english.splitlines()


def test_a_year_is_compared_once(tmp_path):
    people = [person("p1", V1), person("p2", KHH, sex=2)]
    events = {Month(2024, m): [] for m in range(1, 13)}
    extract = write_extract(tmp_path / "x", {Month(2023, 12): people, Month(2024, 12): people},
                            events)
    build_release(extract, Period.parse("2024"), tmp_path / "rel", tiny_codes())
    report = json.loads(CliRunner().invoke(main, ["report", "--releases", str(tmp_path / "rel"),
                                                  "--period", "2024", "--json"]).output)
    assert report["comparisons"] == {"year_ago": {"period": "2023", "available": False}}
    header = format_report(report).splitlines()[2]
    assert header.split() == ["全國", "數值", "較112年"]
