"""PC-Axis (PX): a release table as a PX cube, readable by PxWeb tools and pyaxis.

Layout (PX file format, Statistics Sweden, AXIS-VERSION 2013):
  STUB    = area (names as VALUES, area codes as CODES), then the table's keys (sex, age, …);
  HEADING = period (the time variable, TIMEVAL TLIST), then the measures as the content
            variable (CONTVARIABLE), each with its own UNITS and LAST-UPDATED.
DATA holds one line per stub combination, the heading values in order (the last variable
varies fastest); a null (a ratio with a zero denominator) is the PX missing symbol ``"."``.
Counts are integers (DECIMALS=0); ratios and rates are written unrounded in the shortest
form that reads back to the same double (DECIMALS=15, the format's maximum;
SHOWDECIMALS=2).

Languages: LANGUAGE="zh" is the default; LANGUAGES="zh","en" and every language-dependent
keyword is followed directly by its ``[en]`` form (pyaxis pairs them by position).
Areas have no English names in a release, so VALUES[en] of the area repeats the zh-TW names.
Area VALUES must be unique within the variable: where a table holds the same name twice
(the demo geography does), those names get their code appended, ``甲里 (63000010001)``.

Grouped tables (``exports.jsonstat`` describes them): a key summed over is no variable; a
banded key is the variable 年齡組/Age group, its VALUES the band labels (``100+`` reads
"100歲以上"/"100 and over") and its CODES the bands themselves (``0-4`` … ``100+``).

Cells marked r (revised) or p (provisional) (``exports.marks``) get a ``DATANOTECELL``
note symbol each (PX 2013: a cell's values in STUB, HEADING order, ``"*"`` for any; the
symbol is shown after the figure), in zh and [en]; NOTE says what the marks mean.

Encodings: every text encoding the registry offers; CODEPAGE names it: utf-8-sig and utf-8
→ "utf-8", cp950 → "big5" (.NET's name for code page 950, which PxWeb uses), big5hkscs →
"big5-hkscs" (IANA name; PxWeb/.NET has no HKSCS decoder), euc-tw → "euc-tw" (no .NET
decoder either; iconv and Python read it). CHARSET="ANSI" says the text is not in a DOS code
page. PX strings cannot contain a double quote: one in any text becomes ``'``. Strings are
never split across lines (pyaxis would read the parts as separate values); lists of values
are wrapped between items.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import BinaryIO

import numpy as np
import polars as pl

from exports.jsonstat import (
    AREA_LABEL,
    MEASURE_LABEL,
    PERIOD_LABEL,
    TableCube,
    key_column,
    key_labels,
    table_cube,
)
from exports.marks import cube_marks
from exports.meta import ExportMeta
from exports.text import codec
from stats.periods import Period

CODEPAGES = {"utf-8-sig": "utf-8", "utf-8": "utf-8", "cp950": "big5", "big5hkscs": "big5-hkscs",
             "euc-tw": "euc-tw"}
MISSING = '"."'  # PX missing-value symbol (DATASYMBOL1 default)
SUBJECT = ("戶籍人口統計", "Household register population statistics")
TAIWAN = timezone(timedelta(hours=8))
LINE = 250  # PX keeps lines short (the spec's limit is 256 characters)


def quoted(text: str) -> str:
    """A PX string literal (PX has no escape for the double quote)."""
    return '"' + text.replace('"', "'") + '"'


def listed(items: Iterable[str]) -> str:
    """Quoted items, comma-separated, wrapped between items to keep lines short."""
    lines, current = [], ""
    for item in map(quoted, items):
        if current and len(current) + len(item) + 1 > LINE:
            lines.append(current + ",")
            current = item
        else:
            current = f"{current},{item}" if current else item
    lines.append(current)
    return "\n".join(lines)


def time_value(period: str) -> tuple[str, str]:
    """TIMEVAL's TLIST format and the period in it: A1 ``2025``, Q1 ``2025Q1``, M1 ``2025M03``."""
    p = Period.parse(period)
    if p.kind == "month":
        return "M1", f"{p.year}M{p.number:02d}"
    if p.kind == "quarter":
        return "Q1", f"{p.year}Q{p.number}"
    return "A1", str(p.year)


def px_time(iso: str) -> str:
    """CREATION-DATE / LAST-UPDATED form ``CCYYMMDD hh:mm``, in Taiwan time (UTC+8)."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(TAIWAN)
    return moment.strftime("%Y%m%d %H:%M")


def area_values(cube: TableCube) -> list[str]:
    """Area names, made unique by appending the code to any name that occurs twice."""
    names = cube.areas["area_name"].fill_null("").to_list()
    codes = cube.areas["area_code"].to_list()
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [f"{n} ({c})" if seen[n] > 1 or not n else n for n, c in zip(names, codes, strict=True)]


def _formatted(values: pl.Series) -> pl.Series:
    """Cell texts: integers as digits, floats in shortest round-trip positional form, nulls ".".

    Positional, never exponent notation, which PX readers do not parse.
    """
    if values.dtype.is_integer():
        return values.cast(pl.String).fill_null(MISSING)
    floats = values.cast(pl.Float64).to_numpy()
    texts = [MISSING if v != v else np.format_float_positional(v, unique=True, trim="-")
             for v in floats.tolist()]
    return pl.Series(texts, dtype=pl.String)


def _keyword(lines: list[str], name: str, zh: str, en: str) -> None:
    """A language-dependent keyword (value already in PX syntax), directly followed by its [en]."""
    lines.append(f"{name}={zh};")
    lines.append(f"{name}[en]={en};")


def metadata_lines(cube: TableCube, meta: ExportMeta, encoding: str) -> list[str]:
    """Every keyword before DATA, in the order the PX specification lists them."""
    spec, info = meta.spec, meta.describe()
    floating = any(cube.rows.schema[m].is_float() for m in cube.measures)
    columns = {m: spec.column(m) for m in cube.measures}
    keys = {k: key_column(spec, k) for k in cube.keys}
    stub_zh = [AREA_LABEL[0], *(c.zh for c in keys.values())]
    stub_en = [AREA_LABEL[1], *(c.en for c in keys.values())]
    tlist, time_text = time_value(meta.period)
    created = px_time(meta.created_at)
    units_zh = "、".join(dict.fromkeys(c.unit_zh for c in columns.values() if c.unit_zh)) or "-"
    units_en = ", ".join(dict.fromkeys(c.unit_en for c in columns.values() if c.unit_en)) or "-"
    provenance_zh = (f"修訂版次：{meta.revision}；資料表SHA-256：{meta.table_sha256}；"
                     f"產製時間：{meta.created_taipei[0]}；軟體：{info['software']}。")
    provenance_en = (f"Revision: {meta.revision}; table SHA-256: {meta.table_sha256}; "
                     f"created: {meta.created_taipei[1]}; software: {info['software']}.")
    lines = [
        'CHARSET="ANSI";',
        'AXIS-VERSION="2013";',
        f"CODEPAGE={quoted(CODEPAGES[encoding])};",
        'LANGUAGE="zh";',
        'LANGUAGES="zh","en";',
        f"CREATION-DATE={quoted(created)};",
        f"DECIMALS={15 if floating else 0};",
        f"SHOWDECIMALS={2 if floating else 0};",
        f"MATRIX={quoted(spec.code)};",
        f"SUBJECT-CODE={quoted(spec.code[:3])};",
    ]
    _keyword(lines, "SUBJECT-AREA", quoted(SUBJECT[0]), quoted(SUBJECT[1]))
    _keyword(lines, "DESCRIPTION", quoted(f"{spec.title_zh}（{meta.period_roc}）"),
             quoted(f"{spec.title_en}, {meta.period}"))
    by_zh, by_en = "、".join(stub_zh), ", ".join(s.lower() for s in stub_en)
    _keyword(lines, "TITLE", quoted(f"{spec.title_zh}按{by_zh}分（{meta.period_roc}）"),
             quoted(f"{spec.title_en} by {by_en}, {meta.period}"))
    _keyword(lines, "CONTENTS", quoted(spec.title_zh), quoted(spec.title_en))
    _keyword(lines, "UNITS", quoted(units_zh), quoted(units_en))
    _keyword(lines, "STUB", listed(stub_zh), listed(stub_en))
    _keyword(lines, "HEADING", listed([PERIOD_LABEL[0], MEASURE_LABEL[0]]),
             listed([PERIOD_LABEL[1], MEASURE_LABEL[1]]))
    _keyword(lines, "CONTVARIABLE", quoted(MEASURE_LABEL[0]), quoted(MEASURE_LABEL[1]))
    names = area_values(cube)
    lines.append(f"VALUES({quoted(AREA_LABEL[0])})={listed(names)};")
    lines.append(f"VALUES[en]({quoted(AREA_LABEL[1])})={listed(names)};")
    for key, column in keys.items():
        labels = [key_labels(key, v) for v in cube.key_values[key]]
        lines.append(f"VALUES({quoted(column.zh)})={listed(z for z, _ in labels)};")
        lines.append(f"VALUES[en]({quoted(column.en)})={listed(e for _, e in labels)};")
    lines.append(f"VALUES({quoted(PERIOD_LABEL[0])})={quoted(time_text)};")
    lines.append(f"VALUES[en]({quoted(PERIOD_LABEL[1])})={quoted(time_text)};")
    measure_zh, measure_en = quoted(MEASURE_LABEL[0]), quoted(MEASURE_LABEL[1])
    lines.append(f"VALUES({measure_zh})={listed(c.zh for c in columns.values())};")
    lines.append(f"VALUES[en]({measure_en})={listed(c.en for c in columns.values())};")
    lines.append(f"TIMEVAL({quoted(PERIOD_LABEL[0])})=TLIST({tlist}),{quoted(time_text)};")
    lines.append(f"TIMEVAL[en]({quoted(PERIOD_LABEL[1])})=TLIST({tlist}),{quoted(time_text)};")
    codes = cube.areas["area_code"].to_list()
    lines.append(f"CODES({quoted(AREA_LABEL[0])})={listed(codes)};")
    lines.append(f"CODES[en]({quoted(AREA_LABEL[1])})={listed(codes)};")
    for key, column in keys.items():
        values = [str(v) for v in cube.key_values[key]]
        lines.append(f"CODES({quoted(column.zh)})={listed(values)};")
        lines.append(f"CODES[en]({quoted(column.en)})={listed(values)};")
    lines.append(f"CODES({quoted(PERIOD_LABEL[0])})={quoted(meta.period)};")
    lines.append(f"CODES[en]({quoted(PERIOD_LABEL[1])})={quoted(meta.period)};")
    lines.append(f"CODES({quoted(MEASURE_LABEL[0])})={listed(cube.measures)};")
    lines.append(f"CODES[en]({quoted(MEASURE_LABEL[1])})={listed(cube.measures)};")
    # With a content variable, UNITS and LAST-UPDATED are given per content value.
    for column in columns.values():
        lines.append(f"UNITS({quoted(column.zh)})={quoted(column.unit_zh or '-')};")
        lines.append(f"UNITS[en]({quoted(column.en)})={quoted(column.unit_en or '-')};")
    for column in columns.values():
        lines.append(f"LAST-UPDATED({quoted(column.zh)})={quoted(created)};")
        lines.append(f"LAST-UPDATED[en]({quoted(column.en)})={quoted(created)};")
    _keyword(lines, "SOURCE", quoted(f"{meta.provider_zh}，{info['source_zh']}"),
             quoted(f"{meta.provider_en}, {info['source_en']}"))
    _keyword(lines, "NOTE", quoted(" ".join([*spec.footnotes_zh, provenance_zh])),
             quoted(" ".join([*spec.footnotes_en, provenance_en])))
    lines += mark_lines(cube, meta)
    return lines


def mark_lines(cube: TableCube, meta: ExportMeta) -> list[str]:
    """``DATANOTECELL`` keywords giving each marked cell (``exports.marks``) its mark, r or
    p, as a note symbol shown after the figure: the cell is named by its values in STUB then
    HEADING order, ``"*"`` for all. When every cell has the same mark (a provisional
    release), one keyword with ``"*"`` throughout says so."""
    marks = cube_marks(cube, meta)
    if marks is None:
        return []
    lines: list[str] = []
    width = 1 + len(cube.keys) + 2  # area, keys, period, measure
    if marks.n_unique() == 1:
        cell = ",".join(['"*"'] * width)
        _keyword(lines, f"DATANOTECELL({cell})", quoted(marks[0]), quoted(marks[0]))
        return lines
    columns = {m: meta.spec.column(m) for m in cube.measures}
    names = dict(zip(cube.areas["area_code"].to_list(), area_values(cube), strict=True))
    _, time_text = time_value(meta.period)
    grid = cube.rows.select("area_code", *cube.keys).with_columns(
        pl.lit(list(cube.measures), dtype=pl.List(pl.String)).alias("measure")
    ).explode("measure").with_columns(marks.alias("mark")).filter(pl.col("mark") != "")
    for lang in (0, 1):
        parts = [pl.col("area_code").replace_strict(names, return_dtype=pl.String)]
        parts += [pl.col(k).replace_strict({v: key_labels(k, v)[lang] for v in cube.key_values[k]},
                                           return_dtype=pl.String) for k in cube.keys]
        parts += [pl.lit(time_text), pl.col("measure").replace_strict(
            {m: (c.zh, c.en)[lang] for m, c in columns.items()}, return_dtype=pl.String)]
        quoted_parts = [pl.lit('"') + p.str.replace_all('"', "'") + pl.lit('"') for p in parts]
        keyword = "DATANOTECELL" if lang == 0 else "DATANOTECELL[en]"
        grid = grid.with_columns(pl.concat_str(
            [pl.lit(f"{keyword}("), pl.concat_str(quoted_parts, separator=","),
             pl.lit(')="'), pl.col("mark"), pl.lit('";')]).alias(f"line{lang}"))
    # each zh keyword directly followed by its [en] form, as pyaxis pairs them
    paired = grid.select(pl.concat_list("line0", "line1").alias("line")).explode("line")
    return paired["line"].to_list()


def data_lines(cube: TableCube) -> pl.Series:
    """One DATA line per stub combination: the measures' cells separated by spaces."""
    cells = _formatted(cube.values())
    width = len(cube.measures)
    if width == 1:
        return cells
    frame = pl.DataFrame({"cell": cells}).with_row_index("i")
    return (frame.group_by(pl.col("i") // width, maintain_order=True)
            .agg(pl.col("cell").str.join(" "))["cell"])


def write_px(frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO, *, encoding: str) -> None:
    """Write the table as a PC-Axis file in ``encoding`` (CODEPAGE names it)."""
    cube = table_cube(frame, meta)
    encoder = codecs.getincrementalencoder(codec(encoding))(errors="strict")
    head = "\n".join(metadata_lines(cube, meta, encoding)) + "\nDATA=\n"
    dest.write(encoder.encode(head))
    lines = data_lines(cube)
    step = 200_000
    for start in range(0, lines.len(), step):
        chunk = lines.slice(start, step).str.join("\n").item()
        dest.write(encoder.encode(chunk + "\n"))
    dest.write(encoder.encode(";\n", final=True))
