"""XLSX and ODS exports read back by clients nobody here wrote: openpyxl for XLSX, pandas' odf
reader and odfpy for ODS, Python's zipfile for the packages, and LibreOffice Calc itself
(headless) where it is installed."""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import os
import re
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import polars as pl
import pytest
from click.testing import CliRunner
from odf import teletype
from odf.opendocument import load as load_ods
from odf.table import Table, TableCell, TableColumn, TableRow
from polars.testing import assert_frame_equal

import exports
import exports.sheets as sheet_layout
import exports.spreadsheet as spreadsheet
from exports.ods import write_ods
from exports.safety import neutralise_formulas
from exports.spreadsheet import TOP_ROWS, write_xlsx
from exports.text import PRIVATE_USE_MAP, Unencodable
from popstats.cli import main
from stats.catalogue import COLUMNS, TABLES
from tests.exports.common import IN_MONTHLY_V1

FORMATS = ("xlsx", "ods")
RELEASES = ("demo_release", "official_release")
# townships kept in the per-table samples: 中和區 (瓦󿾨里, 灰󿾨里: made character U+FFFA8),
# 安南區 (󻕯南里: U+FB56F), 東港鎮 (下廍里: 廍 is outside Big5) and a small one of the demo
TOWNSHIPS = ("65000030", "67000350", "10013030", "09007010")
ODS_NS = {"office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
          "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0"}


# --- the tables and what must read back -----------------------------------------------------


@functools.cache
def loaded(release: Path, table: str) -> tuple[pl.DataFrame, exports.ExportMeta]:
    """A release table with area names (cached: the age table has 1.6 M rows)."""
    return exports.load_for_export(release, table)


def sample(frame: pl.DataFrame) -> pl.DataFrame:
    """National and county rows, a few townships with their villages, and few ages (speed)."""
    keep = pl.col("area_level").is_in(["national", "county"]) | pl.any_horizontal(
        pl.col("area_code").str.starts_with(t) for t in TOWNSHIPS)
    if "age" in frame.columns:
        keep &= pl.col("age").is_in([0, 1, 65, 100])
    return frame.filter(keep)


def expected(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as a Unicode spreadsheet must hold it: MOI's made characters mapped to
    standard Unicode, formula-like text made inert."""
    def mapped_text(value: str) -> str:
        return "".join(PRIVATE_USE_MAP.get(c, c) for c in value)

    mapped = frame.with_columns(pl.col(n).map_elements(mapped_text, return_dtype=pl.String)
                                for n, d in frame.schema.items() if d == pl.String)
    return neutralise_formulas(mapped)


def exported(frame: pl.DataFrame, meta: exports.ExportMeta, fmt: str, **options: Any) -> bytes:
    """The bytes ``exports.write`` produces."""
    buffer = io.BytesIO()
    exports.write(frame, fmt, buffer, meta, **options)
    return buffer.getvalue()


def sheets(data: bytes, fmt: str) -> dict[str, list[list[Any]]]:
    """Every sheet's rows of cell values, as openpyxl or pandas' odf reader sees them."""
    if fmt == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        out = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)]
               for ws in book.worksheets}
        book.close()
        return out
    frames = pd.read_excel(io.BytesIO(data), engine="odf", sheet_name=None, header=None,
                           dtype=object)
    return {name: [[None if isinstance(v, float) and math.isnan(v) else v for v in row]
                   for row in df.itertuples(index=False)] for name, df in frames.items()}


def data_of(rows: list[list[Any]], frame: pl.DataFrame) -> pl.DataFrame:
    """The data rows under the (hidden) row of contract column names, as a typed frame."""
    start = next(i for i, r in enumerate(rows) if list(r[:frame.width]) == frame.columns) + 1
    body = []
    for row in rows[start:]:
        if all(v is None for v in row) or (isinstance(row[0], str) and row[0] == "附註 Notes"):
            break
        body.append((list(row) + [None] * frame.width)[:frame.width])
    return pl.DataFrame(body, schema=frame.schema, orient="row", strict=False)


def metadata_of(book: dict[str, list[list[Any]]]) -> dict[str, str]:
    """The metadata sheet as key → value."""
    return {r[0]: r[1] for r in book["metadata"][1:] if r and r[0]}


# --- every table, both releases, both formats ------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("table", IN_MONTHLY_V1)
@pytest.mark.parametrize("release", RELEASES)
def test_spreadsheet_tables_read_back(fmt: str, table: str, release: str,
                                      request: pytest.FixtureRequest) -> None:
    frame, meta = loaded(request.getfixturevalue(release), table)
    frame = sample(frame)
    book = sheets(exported(frame, meta, fmt), fmt)
    spec = TABLES[table]
    assert list(book) == [spec.code, "columns", "metadata"]
    rows = book[spec.code]
    assert_frame_equal(data_of(rows, frame), expected(frame))
    # title block: titles, period (Gregorian and ROC), provenance
    assert rows[0][0] == f"{spec.code} {spec.title_zh}" and rows[1][0] == spec.title_en
    assert meta.period_roc in rows[2][0] and "內政部" in rows[2][0]
    assert meta.period in rows[3][0] and "Ministry of the Interior" in rows[3][0]
    # the creation time as people read it: Taipei time, ROC, to the second (issue 9.5)
    provenance = (meta.table_sha256, f"Revision {meta.revision}", *meta.created_taipei)
    assert all(part in rows[4][0] for part in provenance) and "臺北時間" in rows[4][0]
    # header: zh-TW over English, units in the labels, then the contract names
    labels = [COLUMNS.get(c) for c in frame.columns]
    zh, en = rows[5][:frame.width], rows[6][:frame.width]
    assert [h.split("（")[0] for h in zh] == [c.zh if c else "區域名稱" for c in labels]
    assert [h.split(" (")[0] for h in en] == [c.en if c else "Area name" for c in labels]
    for header, column in zip(rows[6], labels, strict=False):
        assert column is None or not column.unit_en or header.endswith(f"({column.unit_en})")
    # footnotes after the data, in both languages
    text = [r[0] for r in rows[TOP_ROWS + frame.height:] if r and r[0]]
    for note in (*spec.footnotes_zh, *spec.footnotes_en):
        assert any(line.endswith(note) for line in text), note
    assert {k: v for k, v in metadata_of(book).items() if k in meta.describe()} == meta.describe()
    assert [r[0] for r in book["columns"][1:]] == frame.columns


@pytest.mark.parametrize("fmt", FORMATS)
def test_spreadsheet_all_official_village_names(fmt: str, official_release: Path) -> None:
    frame, meta = loaded(official_release, "population")
    rows = sheets(exported(frame, meta, fmt), fmt)["POP01"]
    back = data_of(rows, frame)
    assert_frame_equal(back, expected(frame))
    names = set(back["area_name"])
    assert any("瓦磘" in n for n in names)  # U+FFFA8 mapped to 磘
    made = PRIVATE_USE_MAP[chr(0xFB56F)]
    assert any(made + "南里" in n for n in names)  # U+FB56F as the shipped map reads it
    assert any("下廍" in n for n in names)  # outside Big5, native in Unicode
    assert not any(set(PRIVATE_USE_MAP) & set(n) for n in names)
    # an unmapped made character (U+FFFB5 in 樹林區) stays as it is: Unicode can hold it
    assert any(chr(0xFFFB5) in n for n in names)


@pytest.mark.parametrize("fmt", FORMATS)
def test_spreadsheet_private_use_kept_without_map(fmt: str, official_release: Path) -> None:
    frame, meta = loaded(official_release, "population")
    frame = frame.filter(pl.col("area_name").str.contains("[\U000F0000-\U000FFFFD]"))
    back = data_of(sheets(exported(frame, meta, fmt, private_use={}), fmt)["POP01"], frame)
    assert back["area_name"].to_list() == frame["area_name"].to_list()


# --- encodings: Unicode is these formats' own encoding ------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp950", "big5hkscs", "euc-tw"])
def test_spreadsheet_encodings(fmt: str, encoding: str, demo_release: Path) -> None:
    frame, meta = loaded(demo_release, "population")
    frame = sample(frame)
    if encoding.startswith("utf"):
        assert exported(frame, meta, fmt, encoding=encoding) == exported(frame, meta, fmt)
    else:
        with pytest.raises(exports.UnknownFormat, match="native"):
            exported(frame, meta, fmt, encoding=encoding)
        with pytest.raises(ValueError, match="Unicode"):
            writer = write_xlsx if fmt == "xlsx" else write_ods
            writer(frame, meta, io.BytesIO(), encoding=encoding)


# --- safety --------------------------------------------------------------------------------

TRIGGERS = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1", "=HYPERLINK(\"http://x\")"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_spreadsheet_formulas_inert(fmt: str, demo_release: Path) -> None:
    frame, meta = loaded(demo_release, "reconciliation")
    frame = frame.head(len(TRIGGERS)).with_columns(
        area_name=pl.Series(TRIGGERS),
        residual=pl.Series([-3, -1, 0, 1, -7, 2, -5], dtype=pl.Int64))  # negatives stay numbers
    data = exported(frame, meta, fmt)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml" if fmt == "xlsx" else "content.xml").decode()
    if fmt == "xlsx":
        assert "<f>" not in xml and "<f " not in xml  # no formula element anywhere
        ws = openpyxl.load_workbook(io.BytesIO(data))["REC01"]
        cells = [ws.cell(TOP_ROWS + 1 + i, 4) for i in range(len(TRIGGERS))]
        assert all(c.data_type == "s" for c in cells)
        assert [c.value for c in cells] == ["'" + t for t in TRIGGERS]
        residuals = [ws.cell(TOP_ROWS + 1 + i, 11).value for i in range(len(TRIGGERS))]
        assert residuals == frame["residual"].to_list()
    else:
        assert "table:formula" not in xml
        table = load_ods(io.BytesIO(data)).spreadsheet.getElementsByType(Table)[0]
        rows = table.getElementsByType(TableRow)[TOP_ROWS:TOP_ROWS + len(TRIGGERS)]
        names = [r.getElementsByType(TableCell)[3] for r in rows]
        assert all(c.getAttribute("valuetype") == "string" for c in names)
        shown = [c.getAttribute("stringvalue") or teletype.extractText(c) for c in names]
        assert shown == ["'" + t for t in TRIGGERS]
        residuals = [r.getElementsByType(TableCell)[10] for r in rows]
        assert [c.getAttribute("valuetype") for c in residuals] == ["float"] * len(TRIGGERS)
        assert [int(c.getAttribute("value")) for c in residuals] == frame["residual"].to_list()


SPACED = [" lead", "two  spaces", "trail ", "tab\tin", "line\nbreak", "a & <b>", "  "]


@pytest.mark.parametrize("fmt", FORMATS)
def test_spreadsheet_text_kept_exactly(fmt: str, demo_release: Path) -> None:
    frame, meta = loaded(demo_release, "population")
    frame = frame.head(len(SPACED)).with_columns(area_name=pl.Series(SPACED))
    data = exported(frame, meta, fmt)
    if fmt == "xlsx":
        ws = openpyxl.load_workbook(io.BytesIO(data))["POP01"]
        names = [ws.cell(TOP_ROWS + 1 + i, 4).value for i in range(len(SPACED))]
    else:  # ODF collapses white space in text:p unless written as text:s, text:tab, ...
        table = load_ods(io.BytesIO(data)).spreadsheet.getElementsByType(Table)[0]
        rows = table.getElementsByType(TableRow)[TOP_ROWS:TOP_ROWS + len(SPACED)]
        names = [teletype.extractText(r.getElementsByType(TableCell)[3]) for r in rows]
    assert names == SPACED


@pytest.mark.parametrize("fmt", FORMATS)
def test_spreadsheet_refuses_what_xml_cannot_hold(fmt: str, demo_release: Path) -> None:
    frame, meta = loaded(demo_release, "indicators")
    frame = frame.head(3)
    bad = frame.with_columns(area_name=pl.Series(["a\x01b", "ok", "c\x1fd"]))
    with pytest.raises(Unencodable) as caught:
        exported(bad, meta, fmt)
    assert {(p.column, p.area_code, p.character) for p in caught.value.problems} == {
        ("area_name", frame["area_code"][0], "\x01"), ("area_name", frame["area_code"][2], "\x1f")}
    with pytest.raises(ValueError, match="NaN"):
        exported(frame.with_columns(sex_ratio=pl.Series([1.0, float("nan"), None])), meta, fmt)


# --- layout, packages and the row limit ---------------------------------------------------


def test_xlsx_layout(demo_release: Path) -> None:
    frame, meta = loaded(demo_release, "indicators")
    frame = sample(frame)
    data = exported(frame, meta, "xlsx")
    assert data == exported(frame, meta, "xlsx")  # same inputs, same bytes
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book["IND01"]
    assert ws.freeze_panes == f"A{TOP_ROWS + 1}" and ws.row_dimensions[TOP_ROWS].hidden
    assert ws.print_title_rows == "$6:$7"  # the two header rows repeat on printed pages
    first = TOP_ROWS + 1
    # area code as text, ratio with two decimals shown
    assert [ws.cell(first, i).number_format for i in (3, 5)] == ["@", "#,##0.00"]
    assert ws.cell(first, 3).value == "00000" and ws.cell(first, 3).data_type == "s"
    assert book.properties.title.startswith("IND01") and book.properties.language == "zh-TW"
    taipei = dataclasses.replace(meta, created_at="2025-04-01T08:00:00+08:00")
    created = openpyxl.load_workbook(io.BytesIO(exported(frame, taipei, "xlsx"))).properties.created
    assert created == datetime(2025, 4, 1, 0, 0, 0)  # stored in UTC
    ages, age_meta = loaded(demo_release, "population_by_age")
    ws = openpyxl.load_workbook(io.BytesIO(exported(sample(ages), age_meta, "xlsx")))["POP02"]
    # sex and age as codes, population as a count
    assert [ws.cell(first, i).number_format for i in (5, 6, 7)] == ["0", "0", "#,##0"]


def test_ods_package(demo_release: Path) -> None:
    frame, meta = loaded(demo_release, "indicators")
    frame = sample(frame)
    data = exported(frame, meta, "ods")
    assert data == exported(frame, meta, "ods")
    # ODF 1.2 part 3 §3.3: mimetype first, stored, no extra field, so its name sits at byte 30
    assert data[30:38] == b"mimetype"
    assert data[38:84] == b"application/vnd.oasis.opendocument.spreadsheet"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        first = zf.infolist()[0]
        assert (first.filename, first.compress_type, first.extra) == (
            "mimetype", zipfile.ZIP_STORED, b"")
        manifest = zf.read("META-INF/manifest.xml").decode()
        for part in ("content.xml", "styles.xml", "meta.xml", "settings.xml"):
            assert f'full-path="{part}"' in manifest
        settings = zf.read("settings.xml").decode()
    assert 'xmlns:ooo="http://openoffice.org/2004/office"' in settings
    assert re.search(r'name="IND01">.*?VerticalSplitPosition" config:type="int">8<', settings)
    doc = load_ods(io.BytesIO(data))
    assert doc.mimetype == "application/vnd.oasis.opendocument.spreadsheet"
    table = doc.spreadsheet.getElementsByType(Table)[0]
    rows = table.getElementsByType(TableRow)
    assert rows[TOP_ROWS - 1].getAttribute("visibility") == "collapse"
    # number formats come from the columns' default cell styles: text codes, ratios
    columns = table.getElementsByType(TableColumn)
    defaults = [c.getAttribute("defaultcellstylename") for c in columns]
    assert defaults == ["text"] * 4 + ["ratio"] * (frame.width - 4)
    first = rows[TOP_ROWS].getElementsByType(TableCell)
    assert first[4].getAttribute("valuetype") == "float"
    assert float(first[4].getAttribute("value")) == frame["sex_ratio"][0]  # exact double
    user = {e.getAttribute("name"): teletype.extractText(e) for e in doc.meta.childNodes
            if e.qname[1] == "user-defined"}
    assert {k: user[k] for k in meta.describe()} == meta.describe()


@pytest.mark.parametrize("fmt", FORMATS)
def test_spreadsheet_split_over_row_limit(fmt: str, demo_release: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    frame, meta = loaded(demo_release, "population_by_age")
    frame = frame.filter(pl.col("area_level").is_in(["national", "county"])).head(6 * 202)
    for module in (spreadsheet, sheet_layout):  # stands for Excel's and Calc's 1,048,576
        monkeypatch.setattr(module, "MAX_SHEET_ROWS", 600)
    book = sheets(exported(frame, meta, fmt), fmt)
    parts = [name for name in book if name.startswith("POP02-")]
    assert parts == [f"POP02-{i}" for i in range(1, len(parts) + 1)] and len(parts) == 3
    pieces = [data_of(book[p], frame) for p in parts]
    assert_frame_equal(pl.concat(pieces), expected(frame))  # nothing lost, nothing doubled
    assert all(len(book[p]) <= 600 for p in parts)
    codes = [set(p["area_code"]) for p in pieces]
    assert all(not (a & b) for i, a in enumerate(codes) for b in codes[i + 1:])  # areas never cut
    for i, p in enumerate(parts, 1):
        assert f"第 {i} 部分" in book[p][2][0] and f"part {i}:" in book[p][3][0]
    info = metadata_of(book)
    assert all(p in info["data_sheets"] for p in parts) and "1,212" in info["split_en"]


def test_sheet_split_cuts_an_area_only_when_it_cannot_fit(demo_release: Path) -> None:
    frame, meta = loaded(demo_release, "population_by_age")
    national = frame.filter(pl.col("area_level") == "national")
    lay = sheet_layout.layout(national, meta, 100)
    notes = len(meta.spec.footnotes_zh) + len(meta.spec.footnotes_en)
    capacity = 100 - TOP_ROWS - 2 - notes  # title block, header; blank row, heading, notes
    assert [(p.start, p.stop) for p in lay.parts] == [
        (0, capacity), (capacity, 2 * capacity), (2 * capacity, 202)]


# --- the command line and LibreOffice -----------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_spreadsheet_cli(fmt: str, demo_release: Path, tmp_path: Path) -> None:
    out = tmp_path / f"t.{fmt}"
    args = ["export", "--release", str(demo_release), "--table", "population_by_marital_status",
            "--format", fmt, "--out", str(out)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    frame, _ = loaded(demo_release, "population_by_marital_status")
    assert_frame_equal(data_of(sheets(out.read_bytes(), fmt)["POP03"], frame), expected(frame))
    other = [*args[:-2], "--encoding", "cp950", "--out", str(tmp_path / "x")]
    refused = CliRunner().invoke(main, other)
    assert refused.exit_code != 0 and "native" in refused.output


@pytest.mark.skipif(shutil.which("soffice") is None and os.environ.get("CI") != "true",
                    reason="LibreOffice is not installed (bash scripts/setup.sh test installs it)")
@pytest.mark.parametrize("fmt", FORMATS)
def test_spreadsheet_read_by_libreoffice(fmt: str, official_release: Path, tmp_path: Path) -> None:
    frame, meta = loaded(official_release, "indicators")
    frame = sample(frame)
    source = tmp_path / f"t.{fmt}"
    source.write_bytes(exported(frame, meta, fmt))
    # Calc's CSV filter: comma, quote, UTF-8, raw values (not as shown), every sheet (-1)
    target = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    command = ["soffice", "--headless", "--norestore", "--convert-to", target,
               "--outdir", str(tmp_path), str(source)]
    subprocess.run(command, check=True, capture_output=True, timeout=180,
                   env={**os.environ, "HOME": str(tmp_path)})  # a fresh LibreOffice profile
    text = (tmp_path / "t-IND01.csv").read_text(encoding="utf-8").splitlines()
    start = text.index(",".join(frame.columns)) + 1
    back = pl.read_csv("\n".join(text[start:start + frame.height]).encode(), has_header=False,
                       new_columns=frame.columns, schema_overrides=frame.schema)
    want = expected(frame)
    assert_frame_equal(back.select(pl.col(pl.String)), want.select(pl.col(pl.String)))
    # Calc keeps 15 significant digits in its CSV text
    floats = pl.col(pl.Float64)
    assert_frame_equal(back.select(floats), want.select(floats), rel_tol=1e-13)
