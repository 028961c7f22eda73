"""SPSS (.sav) and Stata (.dta) files of a release table, written with pyreadstat.

Both are Unicode-native (SAV with the UTF-8 character-encoding record, DTA format 118 =
Stata 14+, UTF-8), so they carry every village name as is. What travels in the file:

SAV  file label = the table title (SPSS allows 64 bytes); variable labels in zh-TW; value
     labels for sex, marital status, indigenous status, age 100 (100歲以上), area level
     (全國 …) and area codes (→ area names; SPSS labels string variables too); print
     formats F12.0 for counts, F12.2 for ratios and rates (values stay unrounded); measure
     levels nominal/ordinal/scale; the document records (DISPLAY DOCUMENTS) hold the
     metadata in zh-TW and English, lines of at most 80 bytes.
DTA  Stata labels integer variables only, so the string columns (area_level, area_code,
     area_name) keep the release values and two integer companions carry the labels:
     ``area_level_id`` (1 national … 4 village, labelled 全國 …) and ``area_id`` (1 … N in
     release order, labelled with the area names). Counts are stored as Stata ``long``
     (int32, display %12.0f), ratios and rates as ``double`` (%12.2f); the data label
     (80 characters) is "<code> <title> <period>"; the metadata lines are Stata notes
     (characteristics ``_dta[note0]``, ``_dta[note1]`` …, shown by ``notes``), which
     pyreadstat cannot write and are therefore inserted into the written file.

Only this module converts to pandas (STYLE §6).
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd  # type: ignore[import-untyped]
import polars as pl
import pyreadstat

from exports.jsonstat import key_labels
from exports.meta import ExportMeta
from stats.catalogue import COLUMNS, VALUE_LABELS, value_labels

AREA_NAME_LABEL = ("區域名稱", "Area name")
LEVELS = ("national", "county", "township", "village")
SAV_LABEL_BYTES = 64  # SPSS file label
SAV_DOCUMENT_BYTES = 80  # SPSS document lines
DTA_LABEL_CHARS = 80  # Stata data label and variable labels
STATA_LONG = (-2_147_483_647, 2_147_483_620)  # Stata's long range (larger codes mean missing)
STATA_NAME = 32


def _truncate_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form fits ``limit`` bytes."""
    data = text.encode("utf-8")[:limit]
    return data.decode("utf-8", errors="ignore")


def _wrap_bytes(text: str, limit: int) -> list[str]:
    """``text`` cut into lines of at most ``limit`` UTF-8 bytes: at a space where the line
    has one, else between two characters (CJK text has no spaces)."""
    lines, current = [], ""
    for char in text:
        if len((current + char).encode("utf-8")) <= limit:
            current += char
            continue
        cut = current.rfind(" ")
        if char != " " and cut > 0:
            lines.append(current[:cut])
            current = current[cut + 1:] + char
        else:
            lines.append(current)
            current = char.lstrip()
    if current:
        lines.append(current)
    return lines


def variable_label(meta: ExportMeta, name: str) -> str:
    """A column's zh-TW label (area_name is not in the catalogue)."""
    if name == "area_name":
        return AREA_NAME_LABEL[0]
    if name == "area_id":
        return "區域序號"
    if name == "area_level_id":
        return "區域層級序號"
    return meta.spec.column(name).zh


def metadata_notes(meta: ExportMeta, frame: pl.DataFrame) -> list[str]:
    """The self-description of the file, one statement per entry, zh-TW then English."""
    info = meta.describe()
    spec = meta.spec
    notes = [
        f"{spec.code} {spec.title_zh} / {spec.title_en}",
        f"統計期 Period: {meta.period} ({meta.period_roc})",
        f"修訂版次 Revision: {meta.revision}",
        f"資料表SHA-256 Table SHA-256: {meta.table_sha256}",
        f"資料來源 Source: {meta.provider_zh}，{info['source_zh']} / "
        f"{meta.provider_en}, {info['source_en']}",
        f"產製時間 Created: {meta.created_taipei[0]} / {meta.created_taipei[1]} "
        f"({info['software']})",
        f"單位 Units: {info['units_zh']} / {info['units_en']}",
        *(f"附註 Note: {n}" for n in spec.footnotes_zh),
        *(f"Note: {n}" for n in spec.footnotes_en),
    ]
    english = {name: column.en for name, column in COLUMNS.items()}
    english["area_name"] = AREA_NAME_LABEL[1]
    notes += [f"{name}: {variable_label(meta, name)} / {english[name]}"
              for name in frame.columns if name in english]
    return notes


def _value_labels(frame: pl.DataFrame, table: str) -> dict[str, dict[Any, str]]:
    """zh-TW value labels of the coded key columns present in the frame (those ``table``'s
    values take: sex 0, both sexes, is the life table's alone)."""
    labels: dict[str, dict[Any, str]] = {}
    for key in ("sex", "marital_status", "indigenous"):
        if key in frame.columns:
            labels[key] = {v: zh for v, (zh, _) in value_labels(key, table).items()}
    if "age" in frame.columns:
        labels["age"] = {100: key_labels("age", 100)[0]}
    return labels


def _areas(frame: pl.DataFrame) -> pl.DataFrame:
    """Distinct areas in release order with their names."""
    areas = frame.select("area_code", "area_name")
    return areas.unique("area_code", keep="first", maintain_order=True)


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """The frame for pyreadstat: strings as Python objects (pyreadstat reads Arrow-backed
    strings cell by cell through pandas, three times slower)."""
    data = frame.to_pandas()
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            data[name] = data[name].astype(object)
    return data


def _written(dest: BinaryIO, suffix: str, write: Callable[[Path], None]) -> None:
    """Run a path-based writer into a temporary file and copy its bytes to ``dest``."""
    with tempfile.TemporaryDirectory(prefix="popstats-") as tmp:
        path = Path(tmp) / f"table{suffix}"
        write(path)
        with path.open("rb") as fh:
            shutil.copyfileobj(fh, dest)


def write_sav(frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO, *, encoding: str) -> None:
    """Write the table as an SPSS system file (UTF-8) with labels and documents."""
    measures = [c.name for c in meta.spec.columns if c.name in frame.columns
                and c.name not in ("period", "area_level", "area_code", *meta.spec.keys)]
    value_labels = _value_labels(frame, meta.spec.table)
    level_labels = VALUE_LABELS["area_level"]
    value_labels["area_level"] = {lv: level_labels[lv][0] for lv in LEVELS}
    areas = _areas(frame)
    value_labels["area_code"] = dict(zip(areas["area_code"].to_list(),
                                         areas["area_name"].fill_null("").to_list(), strict=True))
    value_labels["period"] = {meta.period: meta.period_roc}
    formats = {m: "F12.2" if frame.schema[m].is_float() else "F12.0" for m in measures}
    formats.update({k: "F3.0" for k in meta.spec.keys if k in frame.columns})
    measure_levels = {name: "nominal" for name in frame.columns}
    measure_levels.update({m: "scale" for m in measures})
    if "age" in frame.columns:
        measure_levels["age"] = "ordinal"
    notes = [line for note in metadata_notes(meta, frame)
             for line in _wrap_bytes(note, SAV_DOCUMENT_BYTES)]
    data = to_pandas(frame)
    _written(dest, ".sav", lambda path: pyreadstat.write_sav(
        data, path,
        file_label=_truncate_bytes(meta.spec.title_zh, SAV_LABEL_BYTES),
        column_labels={name: variable_label(meta, name) for name in frame.columns},
        note=notes,
        variable_value_labels=value_labels,
        variable_format=formats,
        variable_measure=measure_levels,
    ))


def stata_frame(frame: pl.DataFrame, meta: ExportMeta) -> pl.DataFrame:
    """The table with Stata-sized integers and the labelled ``area_level_id``/``area_id``."""
    invalid = [c for c in frame.columns if len(c) > STATA_NAME or not c.isidentifier()]
    if invalid:
        raise ValueError(f"column names not valid in Stata: {invalid!r}")
    areas = _areas(frame).with_row_index("area_id", offset=1)
    out = frame.join(areas.select("area_code", pl.col("area_id").cast(pl.Int32)), on="area_code",
                     how="left", maintain_order="left")
    level_id = pl.col("area_level").replace_strict(
        {lv: i for i, lv in enumerate(LEVELS, start=1)}, return_dtype=pl.Int8, default=None)
    casts = []
    for name, dtype in frame.schema.items():
        # Stata has no 64-bit integer: counts become long (int32) when they fit, else double.
        if dtype == pl.Int64:
            low, high = frame[name].min(), frame[name].max()
            fits = low is None or (STATA_LONG[0] <= low and high <= STATA_LONG[1])  # type: ignore[operator]
            casts.append(pl.col(name).cast(pl.Int32 if fits else pl.Float64))
    out = out.with_columns(level_id.alias("area_level_id"), *casts)
    order = list(frame.columns)
    order.insert(order.index("area_level") + 1, "area_level_id")
    order.insert(order.index("area_name") + 1, "area_id")
    return out.select(order)


def _stata_characteristics(notes: list[str]) -> bytes:
    """``<ch>`` records for the Stata notes ``_dta[note0]`` (count) and ``_dta[noteN]`` (text).

    dta 118: each record is <ch>, a 4-byte length, the variable name and the characteristic
    name in 129-byte fields, then the null-terminated contents, then </ch>.
    """
    entries = [("note0", str(len(notes)))] + [(f"note{i}", n) for i, n in enumerate(notes, start=1)]
    out = b""
    for name, text in entries:
        body = (b"_dta".ljust(129, b"\0") + name.encode().ljust(129, b"\0")
                + text.encode("utf-8") + b"\0")
        out += b"<ch>" + struct.pack("<I", len(body)) + body + b"</ch>"
    return out


def copy_with_stata_notes(path: Path, dest: BinaryIO, notes: list[str]) -> None:
    """Copy a little-endian dta 118/119 file to ``dest`` with notes added to its
    characteristics section, streaming the data part.

    The <map> lists 14 file offsets; the ones after the characteristics move by the
    inserted length.
    """
    with path.open("rb") as fh:
        head = fh.read(4096)  # header and map
        if b"<byteorder>LSF</byteorder>" not in head:
            raise ValueError("expected a little-endian dta 118/119 file")
        start = head.index(b"<map>") + len(b"<map>")
        offsets = list(struct.unpack("<14Q", head[start:start + 14 * 8]))
        opening = b"<characteristics>"
        at = offsets[8] + len(opening)
        fh.seek(0)
        prefix = fh.read(at)  # everything up to the data: variable names, labels, formats
        if prefix[offsets[8]:] != opening:
            raise ValueError("the dta map does not point at <characteristics>")
        insert = _stata_characteristics(notes)
        offsets[9:] = [o + len(insert) for o in offsets[9:]]
        dest.write(prefix[:start] + struct.pack("<14Q", *offsets) + prefix[start + 14 * 8:])
        dest.write(insert)
        shutil.copyfileobj(fh, dest)


def write_dta(frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO, *, encoding: str) -> None:
    """Write the table as a Stata 14+ file (dta 118, UTF-8) with labels and notes."""
    data = stata_frame(frame, meta)
    measures = [c.name for c in meta.spec.columns if c.name in frame.columns
                and c.name not in ("period", "area_level", "area_code", *meta.spec.keys)]
    value_labels = _value_labels(frame, meta.spec.table)
    areas = _areas(frame)
    value_labels["area_id"] = dict(enumerate(areas["area_name"].fill_null("").to_list(), start=1))
    level_labels = VALUE_LABELS["area_level"]
    value_labels["area_level_id"] = {i: level_labels[lv][0] for i, lv in enumerate(LEVELS, start=1)}
    formats = {m: "%12.2f" if frame.schema[m].is_float() else "%12.0f" for m in measures}
    label = f"{meta.spec.code} {meta.spec.title_zh} {meta.period}"[:DTA_LABEL_CHARS]
    pandas_frame = to_pandas(data)
    with tempfile.TemporaryDirectory(prefix="popstats-") as tmp:
        path = Path(tmp) / "table.dta"
        pyreadstat.write_dta(
            pandas_frame, path,
            file_label=label,
            column_labels={n: variable_label(meta, n)[:DTA_LABEL_CHARS] for n in data.columns},
            version=14,  # dta 118: Unicode, read by Stata 14 and later
            variable_value_labels=value_labels,
            variable_format=formats,
        )
        copy_with_stata_notes(path, dest, metadata_notes(meta, frame))
