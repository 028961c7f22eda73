"""CSV: the release table as delimited text in any offered encoding, plus a CSVW sidecar.

Layout (RFC 4180): one header row with the contract's column names (CONTRACT §3, so
agencies' scripts keep working), comma separators, CRLF line ends, fields quoted only when
they hold a comma, quote or line break, nulls (ratios with a zero denominator) as empty
fields, floats unrounded. ``utf-8-sig`` starts with a BOM (Excel reads the file as UTF-8
only then); the other encodings have none.

The file is written in slices of ``CHUNK_ROWS`` rows, each rendered by polars straight to
bytes, so memory stays bounded by one slice, whatever the table's size, and a BOM is
written once. For Big5 and EUC-TW only the distinct non-ASCII values are encoded (ASCII
is the same bytes in every offered encoding). Text reaching the writer is already
encodable (``exports.write`` ran ``prepare_text``), so the codec runs with
``errors="strict"``: a character slipping through fails loudly instead of becoming ``?``.

CSV has no metadata block, so metadata travels beside it: ``write_csv_metadata`` writes a
W3C CSVW sidecar at ``<file>-metadata.json`` (the default location CSVW processors look
at, ``{+url}-metadata.json`` in W3C's "Model for Tabular Data and Metadata") with titles,
column titles, units, the period, revision, checksum, footnotes and creation time in
zh-TW and English.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from collections.abc import Iterable
from typing import Any, BinaryIO

import polars as pl

from exports.meta import ExportMeta
from exports.safety import neutralise_formulas
from exports.text import codec
from stats.catalogue import value_labels
from stats.schemas import table_schema

CHUNK_ROWS = 200_000
LINE_END = "\r\n"  # RFC 4180 §2.1
AREA_NAME_ZH, AREA_NAME_EN = "區域名稱", "Area name"
# CSVW's dialect "encoding" takes WHATWG Encoding Standard names: its Big5 decoder covers
# CP950 and HKSCS ("big5-hkscs" is one of its labels); EUC-TW has no WHATWG name, so the
# conventional one is given. (Python readers: cp950, big5hkscs, and stats.encodings' euc_tw.)
CHARSET = {"utf-8-sig": "utf-8", "utf-8": "utf-8", "cp950": "Big5", "big5hkscs": "Big5-HKSCS",
           "euc-tw": "EUC-TW"}
ZH, EN = "zh-Hant-TW", "en"


def write_csv(frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO, *, encoding: str) -> None:
    """Write the table as CSV in ``encoding``, slice by slice (``meta`` goes in the sidecar)."""
    write_safe_csv(frame, dest, encoding=encoding)


def write_safe_csv(frame: pl.DataFrame, dest: BinaryIO, *, encoding: str = "utf-8",
                   numbers: Iterable[str] = ()) -> None:
    """THE CSV writer: every CSV the product makes — release exports, SDMX-CSV, MOI's
    layouts, the API's CSV answers and log, the audit report, ``--problems`` — is written
    here, so every one is formula-safe (``exports.safety``), RFC 4180 (CRLF, minimal
    quoting, nulls empty) and strictly encoded, with a BOM for ``utf-8-sig`` only.

    ``numbers`` names text columns that hold numbers by construction (left as they are).
    Written slice by slice: memory stays bounded by one slice whatever the frame's size.
    """
    python_codec = codec(encoding)
    safe = neutralise_formulas(frame, numbers)
    dest.write(_header(safe).encode(python_codec, errors="strict"))  # utf-8-sig: BOM once
    unicode = python_codec.startswith("utf")
    if not unicode:
        safe = _bytes_as_latin1(safe, python_codec)
    for start in range(0, safe.height, CHUNK_ROWS):
        rendered = _render(safe.slice(start, CHUNK_ROWS), header=False)
        # polars renders UTF-8; in the Big5/EUC-TW case every non-ASCII character stands
        # for one byte of the target encoding, which latin-1 turns back into that byte
        dest.write(rendered if unicode else rendered.decode("utf-8").encode("latin-1"))


def safe_csv_bytes(frame: pl.DataFrame, *, encoding: str = "utf-8") -> bytes:
    """``write_safe_csv`` into memory, for answers small enough to hold (API, reports)."""
    buffer = io.BytesIO()
    write_safe_csv(frame, buffer, encoding=encoding)
    return buffer.getvalue()


def _header(frame: pl.DataFrame) -> str:
    """The header line, quoted only where needed (an empty name stays empty, as MOI's
    single-age file ends its header with a comma)."""
    line = io.StringIO()
    csv.writer(line, lineterminator=LINE_END).writerow(frame.columns)
    return line.getvalue()


def _bytes_as_latin1(frame: pl.DataFrame, python_codec: str) -> pl.DataFrame:
    """String columns with each non-ASCII value as its bytes in ``python_codec``, one per char.

    Each byte becomes the latin-1 character of the same number. Only distinct values are
    encoded (a national table has a few thousand area names among millions of cells), so
    even a slow codec such as EUC-TW costs little. The bytes of a Big5, BIG5-HKSCS or EUC-TW
    character are never a comma, quote, CR or LF (lead bytes ≥ 0x81, trail bytes 0x40-0x7E
    or ≥ 0xA1), so polars' quoting decisions stay those of the original text.
    """
    columns = []
    for name, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        values = frame[name].drop_nulls().unique()
        wide = values.filter(~values.str.contains(r"^[\x00-\x7f]*$")).to_list()
        if wide:
            mapping = {v: v.encode(python_codec, errors="strict").decode("latin-1") for v in wide}
            columns.append(pl.col(name).replace(mapping))
    return frame.with_columns(columns) if columns else frame


def _render(frame: pl.DataFrame, *, header: bool) -> bytes:
    """One slice as CSV bytes (polars: UTF-8, minimal quoting, shortest round-trip floats)."""
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=header, line_terminator=LINE_END, null_value="")
    return buffer.getvalue()


def metadata_path(csv_path: Path) -> Path:
    """The sidecar's conventional location: ``<file>-metadata.json`` beside the CSV."""
    return csv_path.with_name(f"{csv_path.name}-metadata.json")


def _datatype(dtype: pl.DataType) -> str:
    """CSVW/XSD datatype of a polars dtype."""
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "double"
    return "string"


def _column(name: str, dtype: pl.DataType, meta: ExportMeta) -> dict[str, Any]:
    """One CSVW column description: titles, datatype, unit and value labels in zh/en."""
    if name == "area_name":
        zh, en, unit_zh, unit_en = AREA_NAME_ZH, AREA_NAME_EN, "", ""
    else:
        col = meta.spec.column(name)
        zh, en, unit_zh, unit_en = col.zh, col.en, col.unit_zh, col.unit_en
    described: dict[str, Any] = {
        "name": name,
        # CSVW natural-language property: the header cell itself (language undetermined)
        # matches the file; the zh-TW and English titles are what people read
        "titles": {"und": name, ZH: zh, EN: en},
        "datatype": _datatype(dtype),
        "required": name in ("period", "area_level", "area_code", *meta.spec.keys),
    }
    if unit_zh or unit_en:
        described["schema:unitText"] = [{"@value": unit_zh, "@language": ZH},
                                        {"@value": unit_en, "@language": EN}]
    if labels := value_labels(name, meta.spec.table):
        described["dc:description"] = [
            {"@value": "；".join(f"{k}={zh_}" for k, (zh_, _) in labels.items()), "@language": ZH},
            {"@value": "; ".join(f"{k}={en_}" for k, (_, en_) in labels.items()), "@language": EN},
        ]
    return described


def csv_metadata(meta: ExportMeta, schema: dict[str, pl.DataType], *, url: str,
                 encoding: str = "utf-8-sig") -> dict[str, Any]:
    """The CSVW description of an exported CSV (W3C "Metadata Vocabulary for Tabular Data")."""
    d = meta.describe()

    def both(zh: str, en: str) -> list[dict[str, str]]:
        return [{"@value": d[zh], "@language": ZH}, {"@value": d[en], "@language": EN}]

    return {
        "@context": ["http://www.w3.org/ns/csvw", {"@language": ZH}],
        "url": url,
        "dc:identifier": d["table_code"],
        "dc:title": both("title_zh", "title_en"),
        "dc:description": both("footnotes_zh", "footnotes_en"),
        "dc:publisher": both("provider_zh", "provider_en"),
        "dc:source": both("source_zh", "source_en"),
        "dc:temporal": [d["period"], {"@value": d["period_roc"], "@language": ZH}],
        "dc:created": {"@value": d["created_at"], "@type": "xsd:dateTime"},
        "dc:creator": d["software"],
        "schema:version": d["revision"],
        # SHA-256 of the release's table file the rows come from (manifest.json)
        "schema:sha256": d["table_sha256"],
        "schema:unitText": both("units_zh", "units_en"),
        "schema:encodingFormat": f"text/csv; charset={CHARSET[encoding]}",
        "dialect": {
            "encoding": CHARSET[encoding],
            "header": True,
            "headerRowCount": 1,
            "lineTerminators": [LINE_END],
            "doubleQuote": True,
            "skipInitialSpace": False,
        },
        "tableSchema": {
            "columns": [_column(name, dtype, meta) for name, dtype in schema.items()],
            "primaryKey": ["period", "area_level", "area_code", *meta.spec.keys],
        },
    }


def export_schema(meta: ExportMeta) -> dict[str, pl.DataType]:
    """The columns of an exported table: the release's, ``area_name`` after ``area_code``."""
    columns = dict(table_schema(meta.spec.table))
    out: dict[str, pl.DataType] = {}
    for name, dtype in columns.items():
        out[name] = dtype
        if name == "area_code":
            out["area_name"] = pl.String()
    return out


def write_csv_metadata(meta: ExportMeta, dest_json: Path, *, encoding: str = "utf-8-sig",
                       url: str | None = None,
                       schema: dict[str, pl.DataType] | None = None) -> None:
    """Write the CSVW sidecar ``dest_json`` (``url`` defaults to the CSV it sits beside)."""
    name = url or dest_json.name.removesuffix("-metadata.json")
    document = csv_metadata(meta, schema or export_schema(meta), url=name, encoding=encoding)
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    dest_json.write_text(text, encoding="utf-8")
