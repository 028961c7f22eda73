"""The sheet layout shared by the XLSX and ODS exports.

Both open a data sheet with a title block (titles, period in Gregorian and ROC form, units,
source, provider, revision, checksum, creation time), a two-row header (zh-TW over English)
and a hidden row of contract column names, and split a table that does not fit Excel's and
Calc's 1,048,576 rows over numbered sheets at area boundaries. This module decides that
layout and the cell formats; ``spreadsheet.py`` and ``ods.py`` only write their packages.
"""

from __future__ import annotations

import bisect
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from exports.meta import ExportMeta
from exports.safety import neutralise_formulas
from exports.text import CharProblem, Unencodable
from stats.catalogue import VALUE_LABELS, Column

MAX_SHEET_ROWS = 1_048_576  # rows per sheet in Excel 2007+ and LibreOffice Calc
BLOCK_ROWS = 50_000  # data rows turned into XML at a time (bounds memory)
COMPRESSLEVEL = 1  # deflate level: sheet XML is repetitive; level 1 is ~4x faster than 6
AREA_NAME = Column("area_name", "區域名稱", "Area name")
CODE_COLUMNS = ("sex", "age", "marital_status", "indigenous")
FORMATS = {"text": "@", "code": "0", "count": "#,##0", "ratio": "#,##0.00"}
TOP_ROWS = 8  # title zh, title en, period line zh, en, revision line, header zh, en, names
# XML 1.0 cannot carry these at all (not even as character references)
_CONTROL = {chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF)}
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"})


@dataclass(frozen=True)
class Field:
    """One column as a spreadsheet shows it."""

    name: str
    zh: str
    en: str
    unit_zh: str
    unit_en: str
    kind: str  # "text", "code", "count" or "ratio" (a key of FORMATS)

    @property
    def header_zh(self) -> str:
        """``人口數（人）``."""
        return f"{self.zh}（{self.unit_zh}）" if self.unit_zh else self.zh

    @property
    def header_en(self) -> str:
        """``Population (persons)``."""
        return f"{self.en} ({self.unit_en})" if self.unit_en else self.en

    @property
    def value_labels(self) -> str:
        """``1 = 男 male; 2 = 女 female`` for coded columns, else empty."""
        labels = VALUE_LABELS.get(self.name, {})
        return "; ".join(f"{k} = {zh} {en}" for k, (zh, en) in labels.items())

    @property
    def width(self) -> float:
        """Column width in characters."""
        widths = {"area_name": 18.0, "area_code": 13.0, "area_level": 10.0}
        return widths.get(self.name, 9.0 if self.kind == "code" else 13.0)


@dataclass(frozen=True)
class Part:
    """The rows ``start:stop`` of the table, on one data sheet."""

    sheet: str
    number: int
    start: int
    stop: int
    first_area: str
    last_area: str


@dataclass(frozen=True)
class Layout:
    """What every spreadsheet format lays out: fields, sheets and the texts around the data."""

    meta: ExportMeta
    fields: tuple[Field, ...]
    parts: tuple[Part, ...]
    rows: int
    max_rows: int

    def split_note(self) -> tuple[str, str]:
        """zh-TW and English sentences on how the table is split (empty when it is not)."""
        if len(self.parts) == 1:
            return "", ""
        names = [p.sheet for p in self.parts]
        return (f"全表 {self.rows:,} 列超過每工作表 {self.max_rows:,} 列之上限，依區域分為 "
                f"{len(names)} 個工作表（{'、'.join(names)}）。",
                f"The table's {self.rows:,} rows exceed the {self.max_rows:,}-row sheet limit "
                f"and are split by area over {len(names)} sheets ({', '.join(names)}).")

    def part_note(self, part: Part) -> tuple[str, str]:
        """zh-TW and English sentences on which rows a sheet holds (empty when not split)."""
        zh, en = self.split_note()
        if not zh:
            return "", ""
        rows, areas = f"{part.start + 1:,}", f"{part.first_area}"
        return (f"{zh}本工作表為第 {part.number} 部分，含第 {rows} 至 {part.stop:,} 列"
                f"（區域代碼 {areas} 至 {part.last_area}）。",
                f"{en} This sheet is part {part.number}: rows {rows}-{part.stop:,} "
                f"(area codes {areas} to {part.last_area}).")

    def title_lines(self, part: Part) -> list[str]:
        """The five lines above the header."""
        d = self.meta.describe()
        units = {(f.unit_zh, f.unit_en) for f in self.fields
                 if f.unit_zh and f.kind in ("count", "ratio")}
        unit_zh, unit_en = units.pop() if len(units) == 1 else ("見各欄標題", "see column headings")
        note_zh, note_en = self.part_note(part)
        return [
            f"{d['table_code']} {d['title_zh']}",
            d["title_en"],
            f"統計期：{d['period_roc']}（{d['period']}）；單位：{unit_zh}；資料來源："
            f"{d['provider_zh']}{d['source_zh']}。{note_zh}",
            f"Period: {d['period']} (ROC {d['period_roc']}); unit: {unit_en}; source: "
            f"{d['provider_en']}, {d['source_en'].lower()}. {note_en}".rstrip(),
            f"版次 Revision {d['revision']}；表檔 SHA-256 {d['table_sha256']}；製表時間 Created "
            f"{d['created_taipei_zh']}（{d['created_taipei_en']}）；{d['software']}",
        ]

    def footer_lines(self) -> list[str]:
        """The footnotes after the data: a heading, then zh-TW and English notes."""
        spec = self.meta.spec
        return ["附註 Notes", *(f"{i}. {t}" for i, t in enumerate(spec.footnotes_zh, 1)),
                *(f"{i}. {t}" for i, t in enumerate(spec.footnotes_en, 1))]

    def metadata_rows(self) -> list[list[str]]:
        """Key/value pairs of the metadata sheet, with the sheet split spelt out."""
        rows = [[k, v] for k, v in self.meta.describe().items()]
        rows.append(["rows", str(self.rows)])
        rows.append(["data_sheets", "; ".join(f"{p.sheet}: rows {p.start + 1}-{p.stop}, areas "
                                              f"{p.first_area}-{p.last_area}" for p in self.parts)])
        zh, en = self.split_note()
        return rows + ([["split_zh", zh], ["split_en", en]] if zh else [])

    def column_rows(self) -> list[list[str]]:
        """The columns sheet: header, then one row per field."""
        head = ["name 欄位", "標籤 label (zh-TW)", "label (English)", "單位 unit (zh-TW)",
                "unit (English)", "數字格式 number format", "代碼值 value labels"]
        return [head, *([f.name, f.zh, f.en, f.unit_zh, f.unit_en, FORMATS[f.kind], f.value_labels]
                        for f in self.fields)]


def field_of(name: str, dtype: pl.DataType, meta: ExportMeta) -> Field:
    """Labels and kind of one frame column."""
    column = AREA_NAME if name == "area_name" else meta.spec.column(name)
    if dtype.is_integer():
        kind = "code" if name in CODE_COLUMNS or name in meta.spec.keys else "count"
    else:
        kind = "ratio" if dtype.is_float() else "text"
    return Field(name, column.zh, column.en, column.unit_zh, column.unit_en, kind)


def layout(frame: pl.DataFrame, meta: ExportMeta, max_rows: int) -> Layout:
    """The fields and the data sheets of a table, split at area boundaries when needed."""
    fields = tuple(field_of(n, d, meta) for n, d in frame.schema.items())
    spec = meta.spec
    bottom = 2 + len(spec.footnotes_zh) + len(spec.footnotes_en)  # blank row, heading, notes
    capacity = max_rows - TOP_ROWS - bottom
    if capacity < 1:
        raise ValueError(f"a sheet of {max_rows} rows cannot hold the title block and notes")
    n = frame.height
    areas = frame["area_code"] if "area_code" in frame.columns else pl.Series([""] * n)
    key = areas if "area_level" not in frame.columns else frame["area_level"] + "|" + areas
    # rows where a new area starts: a sheet break falls on one of these when it can
    starts = (key != key.shift(1)).fill_null(True).arg_true().to_list() if n else []
    bounds, pos = [], 0
    while pos < n:
        stop = min(pos + capacity, n)
        if stop < n:
            i = bisect.bisect_right(starts, stop) - 1
            stop = starts[i] if starts[i] > pos else stop  # one area over a whole sheet: cut it
        bounds.append((pos, stop))
        pos = stop
    bounds = bounds or [(0, 0)]
    parts = tuple(
        Part(spec.code if len(bounds) == 1 else f"{spec.code}-{i}", i, a, b,
             areas[a] if b > a else "", areas[b - 1] if b > a else "")
        for i, (a, b) in enumerate(bounds, 1))
    return Layout(meta, fields, parts, n, max_rows)


def prepare_frame(frame: pl.DataFrame, encoding: str, writer: str) -> pl.DataFrame:
    """The frame with formulas made inert, checked for what XML 1.0 and a cell can hold.

    Raises
    ------
    Unencodable
        For control characters (other than tab, LF, CR), which XML 1.0 cannot carry.
    ValueError
        For a non-Unicode encoding, or NaN/infinite numbers (no spreadsheet cell holds them).
    """
    if not encoding.lower().startswith("utf"):
        raise ValueError(f"{writer} files are Unicode (their native encoding), not {encoding!r}")
    frame = neutralise_formulas(frame)
    problems: list[CharProblem] = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            # checked on the distinct values: a national table repeats a few thousand names
            for value in frame[name].drop_nulls().unique().to_list():
                if _CONTROL.isdisjoint(value):
                    continue
                where = frame.filter(pl.col(name) == value)
                codes = (where["area_code"].unique().sort().to_list()
                         if "area_code" in where.columns else [""])
                problems += [CharProblem(name, code, c, value) for code in codes for c in value
                             if c in _CONTROL]
        elif dtype.is_float() and not frame[name].is_finite().fill_null(True).all():
            raise ValueError(f"column {name!r} holds NaN or infinite values, which {writer} "
                             "cells cannot hold")
    if problems:
        raise Unencodable(f"{writer} (XML 1.0 has no control characters)", problems)
    return frame


def xml_text(value: str) -> str:
    """Text escaped for XML content and attributes (a CR as ``&#13;`` so parsers keep it)."""
    return value.translate(_ESCAPES)


def blocks(frame: pl.DataFrame, part: Part) -> Iterator[pl.DataFrame]:
    """The rows of a part, a block at a time."""
    for start in range(part.start, part.stop, BLOCK_ROWS):
        yield frame.slice(start, min(BLOCK_ROWS, part.stop - start))


def created_utc(meta: ExportMeta) -> datetime:
    """The export's creation time in UTC, without time zone (ZIP and ODF dates carry none)."""
    created = datetime.fromisoformat(meta.created_at)
    if created.tzinfo is not None:
        created = created.astimezone(UTC).replace(tzinfo=None)
    return created.replace(microsecond=0)


def zip_entry(name: str, meta: ExportMeta, stored: bool = False) -> zipfile.ZipInfo:
    """A ZIP member stamped with the export's creation time (same inputs, same bytes)."""
    info = zipfile.ZipInfo(name, created_utc(meta).timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    # Python 3.13 names the level compress_level; 3.11 and 3.12 only have _compresslevel
    level = "compress_level" if hasattr(info, "compress_level") else "_compresslevel"
    setattr(info, level, COMPRESSLEVEL)
    return info


# --- SpreadsheetML (ECMA-376) ---------------------------------------------------------------
