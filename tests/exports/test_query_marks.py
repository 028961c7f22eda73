"""Cell marks of a query's result (``popstats query``): the pure rule on hand-made results, and
the files of a query on the period of tests.marks_fixture read back by real readers.

A county query of male and female for 2024-05: revision 2 moves one person from male to
female in 臺北市 (63000), so exactly its two cells are revised; 高雄市 (64000) is not."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from click.testing import CliRunner
from pyaxis import pyaxis

import popstats.cli
from popstats.cli import main
from stats.query import QueryResult, parse_query
from stats.query_marks import query_marks, shown_with_marks
from tests.marks_fixture import LATER, PERIOD, revised_releases

DOC = {"table": "population", "periods": [PERIOD], "area_level": "county",
       "measures": ["male", "female"], "keep": [], "stub": ["area"],
       "heading": ["period", "measure"], "labels": "codes"}
MALE, FEMALE = f"{PERIOD}|male", f"{PERIOD}|female"


def result(doc: dict, frame: dict) -> QueryResult:
    return QueryResult(parse_query(doc), pl.DataFrame(frame), {PERIOD: 1})


def test_query_cells_marked_by_hand() -> None:
    now = result(DOC, {"area_code": ["63000", "64000"], MALE: [0, 1], FEMALE: [2, 0]})
    before = result(DOC, {"area_code": ["63000", "64000"], MALE: [1, 1], FEMALE: [1, 0]})
    marks = query_marks(now, before)
    assert marks.rows() == [("63000", "r", "r"), ("64000", "", "")]
    assert query_marks(now, now) is None
    shown = shown_with_marks(now.frame, marks, [MALE, FEMALE])
    assert shown.rows() == [("63000", "0 r", "2 r"), ("64000", "1", "0")]


def test_provisional_periods_across_and_down() -> None:
    across = {**DOC, "periods": ["2024-04", PERIOD]}
    frame = {"area_code": ["63000"], "2024-04|male": [1], "2024-04|female": [1], MALE: [1],
             FEMALE: [1]}
    marks = query_marks(result(across, frame), None, {PERIOD})
    assert marks.row(0) == ("63000", "", "", "p", "p")
    down = {**across, "stub": ["area", "period"], "heading": ["measure"]}
    rows = {"area_code": ["63000", "63000"], "period": ["2024-04", PERIOD], "male": [1, 1],
            "female": [1, 1]}
    assert query_marks(result(down, rows), None, {PERIOD}).rows() == [
        ("63000", "2024-04", "", ""), ("63000", PERIOD, "p", "p")]


@pytest.fixture
def releases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(popstats.cli, "_now", lambda: LATER)
    return revised_releases(tmp_path)


def run_query(releases: Path, fmt: str, out: Path, doc: dict | None = None,
              encoding: str = "utf-8") -> Path:
    spec = out.with_suffix(".query.json")
    spec.write_text(json.dumps(doc or {**DOC, "labels": "zh-TW"}), encoding="utf-8")
    done = CliRunner().invoke(main, ["query", "--spec", str(spec), "--releases", str(releases),
                                     "--format", fmt, "--encoding", encoding, "--out", str(out)])
    assert done.exit_code == 0, done.output
    return out


def test_query_xlsx_marks_revised_cells(releases: Path, tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(run_query(releases, "xlsx", tmp_path / "q.xlsx"))["data"]
    rows = list(sheet.iter_rows(min_row=2))
    formats = {r[0].value: [c.number_format for c in r[2:]] for r in rows}
    values = {r[0].value: [c.value for c in r[2:]] for r in rows}
    assert formats == {"63000": ['General" r"', 'General" r"'], "64000": ["General", "General"]}
    assert values == {"63000": [0, 2], "64000": [1, 0]}


def test_query_px_jsonstat_sdmx_carry_the_marks(releases: Path, tmp_path: Path) -> None:
    px = pyaxis.parse(str(run_query(releases, "px", tmp_path / "q.px")), encoding="utf-8")
    notes = {k: v for k, v in px["METADATA"].items() if k.startswith("DATANOTECELL")}
    assert set(notes) == {"DATANOTECELL(臺北市,113年5月,男性人口數)",
                          "DATANOTECELL(臺北市,113年5月,女性人口數)"}
    dataset = json.loads(run_query(releases, "jsonstat", tmp_path / "q.json").read_text())
    assert dataset["status"] == {"0": "r", "1": "r"} and dataset["value"][:2] == [0, 2]
    assert dataset["note"][0].startswith("r：修正數")
    sdmx = pl.read_csv(io.BytesIO(run_query(releases, "sdmx-csv", tmp_path / "q.csv")
                                  .read_bytes()), infer_schema=False)
    assert sdmx.filter(pl.col("OBS_STATUS") == "R")["AREA_CODE"].to_list() == ["63000", "63000"]
    assert set(sdmx.filter(pl.col("AREA_CODE") == "64000")["OBS_STATUS"]) == {"A"}


def test_query_ods_styles_marked_cells(releases: Path, tmp_path: Path) -> None:
    from odf.opendocument import load
    from odf.table import TableCell

    doc = load(str(run_query(releases, "ods", tmp_path / "q.ods")))
    styled = [c for c in doc.spreadsheet.getElementsByType(TableCell)
              if c.getAttribute("stylename") == "mark_r"]
    assert [c.getAttribute("value") for c in styled] == ["0", "2"]


def test_an_unrevised_query_file_has_no_marks(releases: Path, tmp_path: Path) -> None:
    doc = {**DOC, "area_level": "county", "areas": ["64000"]}
    dataset = json.loads(run_query(releases, "jsonstat", tmp_path / "k.json", doc).read_text())
    assert "status" not in dataset and "marks_zh" not in dataset["extension"]["popstats"]


def test_a_query_csv_has_no_marks_metadata(releases: Path, tmp_path: Path) -> None:
    run_query(releases, "csv", tmp_path / "q.csv")
    sidecar = next(tmp_path.glob("q*metadata.json"))
    assert "marks_zh" not in sidecar.read_text(encoding="utf-8")
