"""Cell marks in release files made by ``popstats export``, each read back by a real reader:
XLSX (openpyxl), ODS (odfpy, pandas), PX (pyaxis), JSON-stat (pyjstat), SDMX-CSV (sdmx1).

The period of tests.marks_fixture: revision 2 corrects one person's sex, so in
``population`` exactly male and female of 甲里 63000010001, its township, county and the
nation are revised: 8 cells marked r; a provisional revision marks every cell p.
"""

from __future__ import annotations

import importlib
import io
import json
import warnings
from pathlib import Path

import openpyxl
import pandas as pd
import polars as pl
import pytest
from click.testing import CliRunner
from odf.number import NumberStyle, Text
from odf.opendocument import load
from odf.style import Style
from odf.table import TableCell
from pyaxis import pyaxis
from pyjstat import pyjstat

import popstats.cli
from popstats.cli import main
from stats.release import read_table
from tests.marks_fixture import CHANGED_AREAS, LATER, PERIOD, revised_releases

MEASURES = ["households", "population", "male", "female"]
REVISED = {(code, m) for code in CHANGED_AREAS for m in ("male", "female")}


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(popstats.cli, "_now", lambda: LATER)


def export(release: Path, fmt: str, out: Path, encoding: str = "utf-8-sig") -> Path:
    done = CliRunner().invoke(main, ["export", "--release", str(release), "--table",
                                     "population", "--format", fmt, "--encoding", encoding,
                                     "--out", str(out)])
    assert done.exit_code == 0, done.output
    return out


@pytest.fixture
def releases(tmp_path: Path, now: None) -> Path:
    return revised_releases(tmp_path)


def release_cells(release: Path) -> dict[tuple[str, str], int]:
    frame = read_table(release, "population")
    return {(r["area_code"], m): r[m] for r in frame.iter_rows(named=True) for m in MEASURES}


def test_xlsx_marks_by_number_format_values_unchanged(releases: Path, tmp_path: Path) -> None:
    path = export(releases / PERIOD, "xlsx", tmp_path / "pop.xlsx")
    sheet = openpyxl.load_workbook(path).worksheets[0]
    names = [c.value for c in sheet[8]]  # the hidden row of contract column names
    expected, marked, seen = release_cells(releases / PERIOD), set(), {}
    for row in sheet.iter_rows(min_row=9, values_only=False):
        code = row[names.index("area_code")].value
        if not isinstance(code, str) or not code.isdigit():
            continue  # the footnotes after the data
        for m in MEASURES:
            cell = row[names.index(m)]
            seen[(code, m)] = cell.value
            if cell.number_format != "#,##0":
                assert cell.number_format == '#,##0" r"'
                marked.add((code, m))
    assert marked == REVISED and seen == expected
    notes = [r[0] for r in sheet.iter_rows(values_only=True) if r[0]]
    assert any(str(n).endswith("r：修正數，與本期前次公布之版次不同。") for n in notes)
    assert any("r: revised, differs from the previous published revision" in str(n) for n in notes)


def test_ods_marks_by_cell_style_values_unchanged(releases: Path, tmp_path: Path) -> None:
    path = export(releases / PERIOD, "ods", tmp_path / "pop.ods")
    doc = load(str(path))
    shown = {}
    for style in doc.automaticstyles.getElementsByType(NumberStyle):
        texts = [str(t) for t in style.getElementsByType(Text)]
        shown[style.getAttribute("name")] = texts
    assert shown["Ncount_r"] == [" r"]
    cell_styles = {s.getAttribute("name"): s.getAttribute("datastylename")
                   for s in doc.automaticstyles.getElementsByType(Style)}
    assert cell_styles["count_r"] == "Ncount_r"
    cells = doc.spreadsheet.getElementsByType(TableCell)
    assert sum(c.getAttribute("stylename") == "count_r" for c in cells) == len(REVISED)
    data = pd.read_excel(path, engine="odf", sheet_name=0, header=None, dtype=object)
    values = pl.from_pandas(data.astype(str))
    assert values.filter(pl.col("2") == "63000010001").row(0)[4:8] == ("1", "2", "0", "2")  # a and b share h1


def test_px_marks_as_datanotecell_read_by_pyaxis(releases: Path, tmp_path: Path) -> None:
    path = export(releases / PERIOD, "px", tmp_path / "pop.px")
    parsed = pyaxis.parse(str(path), encoding="utf-8-sig")
    notes = {k: v for k, v in parsed["METADATA"].items() if k.startswith("DATANOTECELL")}
    assert len(notes) == len(REVISED) and set(map(tuple, notes.values())) == {("r",)}
    assert "DATANOTECELL(臺北市中正區甲里,2024M05,男性人口數)" in notes
    data = parsed["DATA"]
    national = data[(data["區域"] == "全國")]
    assert dict(zip(national["統計項目"], national["DATA"].astype(int), strict=True)) == {
        "戶數": 2, "人口數": 3, "男性人口數": 1, "女性人口數": 2}
    assert "r：修正數" in parsed["METADATA"]["NOTE"][0]


def test_jsonstat_status_read_by_pyjstat(releases: Path, tmp_path: Path) -> None:
    path = export(releases / PERIOD, "jsonstat", tmp_path / "pop.json")
    dataset = pyjstat.Dataset.read(path.read_text(encoding="utf-8"))
    status = dataset["status"]
    areas = dataset["dimension"]["area"]["category"]["index"]
    measures = dataset["dimension"]["measure"]["category"]["index"]
    marked = {(areas[int(i) // len(measures)], measures[int(i) % len(measures)])
              for i in status}
    assert marked == REVISED and set(status.values()) == {"r"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cells = dataset.write("dataframe", naming="id")
    assert len(cells) == len(areas) * len(measures)  # the values are all still there
    assert any("r：修正數" in n for n in dataset["note"])


def test_sdmx_obs_status_read_by_sdmx1(releases: Path, tmp_path: Path) -> None:
    sdmx1 = pytest.importorskip("sdmx")
    importlib.import_module("sdmx.reader.csv")
    path = export(releases / PERIOD, "sdmx-csv", tmp_path / "pop.csv", "utf-8")  # sdmx1: no BOM
    message = sdmx1.read_sdmx(io.BytesIO(Path(f"{path}.dsd.xml").read_bytes()))
    flow = message.dataflow["DF_POP01"]
    assert {c.id for c in message.codelist["CL_OBS_STATUS"]} == {"A", "M", "R", "P"}
    data = sdmx1.reader.csv.Reader().convert(io.BytesIO(path.read_bytes()), structure=flow)
    frame = sdmx1.to_pandas(data.data[0], attributes="o").reset_index()
    revised = frame[frame["OBS_STATUS"] == "R"]
    assert {(r.REF_AREA, r.MEASURE.lower()) for r in revised.itertuples()} == REVISED
    assert set(frame["OBS_STATUS"]) == {"A", "R"}


def test_provisional_revision_is_p_everywhere(tmp_path: Path, now: None) -> None:
    releases = revised_releases(tmp_path, first_provisional=True)
    first = releases / ".revisions" / PERIOD / "r0001"
    dataset = json.loads(export(first, "jsonstat", tmp_path / "p.json").read_text("utf-8"))
    assert set(dataset["status"].values()) == {"p"} and len(dataset["status"]) == len(
        dataset["value"])
    px = export(first, "px", tmp_path / "p.px").read_text(encoding="utf-8-sig")
    assert 'DATANOTECELL("*","*","*")="p";' in px and "p：初步數" in px
    sheet = openpyxl.load_workbook(export(first, "xlsx", tmp_path / "p.xlsx")).worksheets[0]
    assert sheet["E9"].number_format == '#,##0" p"'
    # the final revision superseding it: no p, only its own revisions
    final = json.loads(export(releases / PERIOD, "jsonstat", tmp_path / "f.json").read_text())
    assert set(final["status"].values()) == {"r"}


def test_first_revision_files_are_unchanged(releases: Path, tmp_path: Path) -> None:
    """No previous published revision, not provisional: no status, no note, no style."""
    first = releases / ".revisions" / PERIOD / "r0001"
    dataset = json.loads(export(first, "jsonstat", tmp_path / "a.json").read_text("utf-8"))
    assert "status" not in dataset and not any("修正" in n for n in dataset["note"])
    px = export(first, "px", tmp_path / "a.px").read_text(encoding="utf-8-sig")
    assert "DATANOTECELL" not in px
    sdmx = export(first, "sdmx-csv", tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    assert ",R," not in sdmx and 'id="R"' not in Path(f"{tmp_path / 'a.csv'}.dsd.xml").read_text()
    sheet = openpyxl.load_workbook(export(first, "xlsx", tmp_path / "a.xlsx")).worksheets[0]
    assert {c.number_format for row in sheet.iter_rows(min_row=9) for c in row[4:8]
            if isinstance(c.value, int)} == {"#,##0"}


def test_formats_without_room_get_no_marks_nor_their_footnote(releases: Path,
                                                              tmp_path: Path) -> None:
    """A CSV cannot mark a cell: its CSVW sidecar must not explain marks it lacks."""
    path = export(releases / PERIOD, "csv", tmp_path / "pop.csv")
    sidecar = Path(f"{path.with_suffix('')}.csv-metadata.json")
    sidecar = sidecar if sidecar.exists() else next(tmp_path.glob("pop*metadata.json"))
    assert "修正數" not in sidecar.read_text(encoding="utf-8")
    assert pl.read_csv(path).columns == pl.read_csv(
        export(releases / ".revisions" / PERIOD / "r0001", "csv", tmp_path / "a.csv")).columns
