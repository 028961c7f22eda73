"""A query's result (CONTRACT §7) → a file in any export format (``popstats query``, and the
builder's downloads).

Flat formats (csv, xlsx, ods, parquet, sav, dta) hold the result table as it is, with the
query, the revisions and any embargo marking as metadata; SPSS and Stata get safe variable
names (``v1``…, or the column's own name when it is one already) and keep each column's real
title as its variable label. Dimensional formats (px, jsonstat, sdmx-csv, netcdf) hold the
query's cells as a cube whose dimensions are the stub's then the heading's (area, period,
kept keys, measure), so PX's STUB and HEADING are the query's. MOI's open-data layout is a
release table's, so it is refused.

    report = write_query(result, "px", Path("out.px"), encoding="cp950")
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from exports import FORMATS, UnknownFormat, writer
from exports.delimited import write_safe_csv
from exports.meta import PROVIDER_EN, PROVIDER_ZH, SOFTWARE
from exports.text import TextReport, codec, prepare_text
from stats.catalogue import TABLES
from stats.marks import mark_notes, marks_used
from stats.query import SEPARATOR, QueryResult

FLAT = ("csv", "xlsx", "ods", "parquet", "sav", "dta")
CUBES = ("px", "jsonstat", "sdmx-csv", "netcdf")
_SAFE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


class QueryExportError(ValueError):
    """A result that cannot be written in the format asked for."""


@dataclass(frozen=True)
class QueryMeta:
    """What travels with a query's file: the table's titles, the normalised query, the
    revision of each period, when it was made and any embargo marking."""

    title_zh: str
    title_en: str
    query: dict[str, Any]
    revisions: dict[str, int]
    created_at: str
    embargo_zh: str = ""
    embargo_en: str = ""
    # cell marks (stats.query_marks): the result's stub columns and one mark column per
    # value column, row for row; None when no cell is marked
    marks: pl.DataFrame | None = field(default=None, compare=False, repr=False)

    @property
    def titles(self) -> tuple[str, str]:
        """Titles as written, with the embargo marking leading them (a cut title keeps it)."""
        if not self.embargo_zh:
            return self.title_zh, self.title_en
        return f"【{self.embargo_zh}】{self.title_zh}", f"[{self.embargo_en}] {self.title_en}"

    def describe(self) -> dict[str, str]:
        """Flat key → text pairs for every format's metadata block."""
        zh, en = self.titles
        return {"title_zh": zh, "title_en": en,
                "query": json.dumps(self.query, ensure_ascii=False, sort_keys=True),
                "revisions": json.dumps(self.revisions, sort_keys=True),
                "provider_zh": PROVIDER_ZH, "provider_en": PROVIDER_EN,
                "created_at": self.created_at, "software": SOFTWARE,
                **({"embargo_zh": self.embargo_zh, "embargo_en": self.embargo_en}
                   if self.embargo_zh else {}),
                **self.mark_notes()}

    def mark_notes(self) -> dict[str, str]:
        """What the marks that occur mean (zh-TW, English), for the metadata and notes."""
        if self.marks is None:
            return {}
        values = [c for c in self.marks.columns if c not in _stub_of(self.query)]
        zh, en = mark_notes(marks_used(self.marks, values))
        return {"marks_zh": " ".join(zh), "marks_en": " ".join(en)} if zh else {}


def _stub_of(query: dict[str, Any]) -> list[str]:
    """The stub columns of a normalised query document (``area_name`` when labelled)."""
    names = []
    for dim in query.get("stub", []):
        names.append("area_code" if dim == "area" else dim)
        if dim == "area" and query.get("labels") != "codes":
            names.append("area_name")
    return names


def query_meta(result: QueryResult, *, embargo: tuple[str, str] | None = None,
               now: datetime | None = None, marks: pl.DataFrame | None = None) -> QueryMeta:
    """The metadata of a result (``embargo``: the zh and en marking of a revision not yet
    public, as ``stats.publication.Embargo`` gives them; ``marks``: the cells' marks, as
    ``stats.query_marks.marks_for_query`` gives them)."""
    spec = TABLES[result.query.table]
    zh, en = embargo or ("", "")
    return QueryMeta(spec.title_zh, spec.title_en, result.query.as_json(),
                     dict(result.revisions), (now or datetime.now(UTC)).isoformat(
                         timespec="seconds"), zh, en, marks)


def _value_marks(frame: pl.DataFrame, meta: QueryMeta) -> pl.DataFrame | None:
    """The marks of the value columns, named as ``frame``'s (the text of column titles may
    have been made encodable: marks follow the columns by position)."""
    if meta.marks is None:
        return None
    stub = _stub_of(meta.query)
    values = [c for c in frame.columns if c not in stub]
    marked = [c for c in meta.marks.columns if c not in stub]
    if len(marked) != len(values) or meta.marks.height != frame.height:
        return None
    return meta.marks.select(pl.col(m).alias(v) for m, v in zip(marked, values, strict=True))


def long_marks(result: QueryResult, meta: QueryMeta) -> pl.Series | None:
    """The marks aligned with ``cube_cells(result)`` (row-major), or None."""
    marks = _value_marks(result.frame, meta)
    if marks is None:
        return None
    order = {name: i for i, name in enumerate(marks.columns)}
    return (marks.with_row_index("__row")
            .unpivot(index="__row", variable_name="__head", value_name="mark")
            .with_columns(pl.col("__head").replace_strict(order, return_dtype=pl.Int32)
                          .alias("__col"))
            .sort("__row", "__col")["mark"])


# ---------------------------------------------------------------- the cube


def stub_columns(result: QueryResult) -> list[str]:
    """The result's stub columns (``area_name`` after ``area_code`` when labelled)."""
    names = []
    for dim in result.query.stub:
        names.append("area_code" if dim == "area" else dim)
        if dim == "area" and result.query.labels != "codes":
            names.append("area_name")
    return names


def cube_cells(result: QueryResult) -> pl.DataFrame:
    """The result's cells in long form, one column per dimension (stub then heading, as
    shown in the result) and ``value``, in the result's order (row-major)."""
    stub = stub_columns(result)
    heading = list(result.query.heading)
    values = [c for c in result.frame.columns if c not in stub]
    long = (result.frame.with_row_index("__row")
            .unpivot(index=["__row", *stub], on=values, variable_name="__head",
                     value_name="value"))
    order = {name: i for i, name in enumerate(values)}
    long = long.with_columns(pl.col("__head").replace_strict(order, return_dtype=pl.Int32)
                             .alias("__col")).sort("__row", "__col")
    if heading:
        parts = pl.col("__head").str.split(SEPARATOR)
        long = long.with_columns(parts.list.get(i).alias(dim) for i, dim in enumerate(heading))
    return long.select(*stub, *heading, "value")


def _dimension(dim: str) -> str:
    return "area_code" if dim == "area" else dim


def cube_dimensions(result: QueryResult, cells: pl.DataFrame) -> list[tuple[str, list[str]]]:
    """(dimension, its categories in order of appearance), stub's then heading's; checks
    the cells fill the cube exactly (the release has every combination, zeros included)."""
    dims = [(d, cells[_dimension(d)].cast(pl.String).unique(maintain_order=True).to_list())
            for d in (*result.query.stub, *result.query.heading)]
    size = 1
    for _, categories in dims:
        size *= len(categories)
    if size != cells.height:
        raise QueryExportError(f"the result is not a full cube ({cells.height:,} cells for "
                               f"{size:,} combinations): write it in a flat format")
    return dims


def _area_names(result: QueryResult, cells: pl.DataFrame) -> dict[str, str]:
    if "area_name" not in cells.columns:
        return {}
    pairs = cells.select("area_code", "area_name").unique("area_code", maintain_order=True)
    return dict(pairs.iter_rows())


# ---------------------------------------------------------------- flat formats


def _text_frame(frame: pl.DataFrame, encoding: str, policy: str,
                private_use: dict[str, str] | None) -> tuple[pl.DataFrame, TextReport]:
    """The frame with its text and its column titles writable in ``encoding``."""
    titles = pl.DataFrame({"title": frame.columns})
    fixed, first = prepare_text(titles, encoding, policy, private_use)
    prepared, second = prepare_text(frame, encoding, policy, private_use)
    prepared = prepared.rename(dict(zip(frame.columns, fixed["title"].to_list(), strict=True)))
    return prepared, TextReport(first.mapped + second.mapped, first.replaced + second.replaced)


def _csv(frame: pl.DataFrame, meta: QueryMeta, dest: BinaryIO, encoding: str) -> None:
    write_safe_csv(frame, dest, encoding=encoding)


def _xlsx(frame: pl.DataFrame, meta: QueryMeta, dest: BinaryIO, encoding: str) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    data = book.create_sheet("data")
    data.append(frame.columns)
    marks = _value_marks(frame, meta)
    if marks is None:
        for row in frame.iter_rows():
            data.append(list(row))
    else:  # a marked cell keeps its value; its number format shows the mark after it
        from openpyxl.cell import WriteOnlyCell

        first = frame.width - marks.width
        for row, marked in zip(frame.iter_rows(), marks.iter_rows(), strict=True):
            cells: list[Any] = list(row[:first])
            for value, mark in zip(row[first:], marked, strict=True):
                if mark and value is not None:
                    cell = WriteOnlyCell(data, value=value)
                    cell.number_format = f'General" {mark}"'
                    cells.append(cell)
                else:
                    cells.append(value)
            data.append(cells)
    info = book.create_sheet("metadata")
    for key, value in meta.describe().items():
        info.append([key, value])
    book.save(dest)


def _ods(frame: pl.DataFrame, meta: QueryMeta, dest: BinaryIO, encoding: str) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    styles = _ods_mark_styles(doc) if meta.marks is not None else {}

    def cell(value: Any, mark: str = "") -> TableCell:
        if value is None:
            return TableCell()
        if isinstance(value, int | float) and not isinstance(value, bool):
            made = TableCell(valuetype="float", value=value,
                             **({"stylename": styles[mark]} if mark in styles else {}))
        else:
            made = TableCell(valuetype="string")
        made.addElement(P(text=str(value)))
        return made

    marks = _value_marks(frame, meta)
    first = frame.width - (marks.width if marks is not None else 0)
    marked_rows = marks.iter_rows() if marks is not None else iter(())
    data_rows = [(row, next(marked_rows, ())) for row in frame.iter_rows()]
    for name, rows in (("data", [(frame.columns, ()), *data_rows]),
                       ("metadata", [(pair, ()) for pair in meta.describe().items()])):
        sheet = Table(name=name)
        for values, row_marks in rows:
            row = TableRow()
            for i, value in enumerate(values):
                mark = row_marks[i - first] if row_marks and i >= first else ""
                row.addElement(cell(value, mark))
            sheet.addElement(row)
        doc.spreadsheet.addElement(sheet)
    buffer = io.BytesIO()
    doc.write(buffer)
    dest.write(buffer.getvalue())


def _ods_mark_styles(doc: Any) -> dict[str, Any]:
    """Cell styles showing a number with its mark after it (``1234 r``), by mark."""
    from odf.number import Number, NumberStyle, Text
    from odf.style import Style

    styles = {}
    for mark in ("r", "p"):
        number = NumberStyle(name=f"Nmark_{mark}")
        number.addElement(Number(minintegerdigits=1))
        number.addElement(Text(text=f" {mark}"))
        doc.automaticstyles.addElement(number)
        style = Style(name=f"mark_{mark}", family="table-cell", datastylename=f"Nmark_{mark}")
        doc.automaticstyles.addElement(style)
        styles[mark] = style
    return styles


def _parquet(frame: pl.DataFrame, meta: QueryMeta, dest: BinaryIO, encoding: str) -> None:
    import pyarrow.parquet as pq

    table = frame.to_arrow()
    extra = {f"popstats.{k}": v for k, v in meta.describe().items()}
    schema = table.schema.with_metadata({**(table.schema.metadata or {}), **extra})
    pq.write_table(table.cast(schema), dest)


def variable_names(columns: list[str]) -> list[str]:
    """Names SPSS and Stata accept (a letter, then letters, digits and _, at most 32): a
    column's own name when it already is one, else ``v`` and its position; each once."""
    names: list[str] = []
    for i, column in enumerate(columns, start=1):
        name = column if _SAFE.fullmatch(column) else f"v{i}"
        while name.lower() in {n.lower() for n in names}:
            name = f"v{i}_{len(names)}"
        names.append(name)
    return names


def _statpackage(kind: str) -> Callable[[pl.DataFrame, QueryMeta, BinaryIO, str], None]:
    def write(frame: pl.DataFrame, meta: QueryMeta, dest: BinaryIO, encoding: str) -> None:
        import tempfile

        import pyreadstat

        from exports.statpackages import (DTA_LABEL_CHARS, SAV_DOCUMENT_BYTES,
                                          SAV_LABEL_BYTES, _truncate_bytes, _wrap_bytes)

        names = variable_names(frame.columns)
        labels = dict(zip(names, frame.columns, strict=True))
        data = frame.rename(dict(zip(frame.columns, names, strict=True))).to_pandas()
        title = meta.titles[0]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"query.{kind}"
            if kind == "sav":
                notes = [line for key, value in meta.describe().items()
                         for line in _wrap_bytes(f"{key}: {value}", SAV_DOCUMENT_BYTES)]
                pyreadstat.write_sav(data, path, column_labels=labels, note=notes,
                                     file_label=_truncate_bytes(title, SAV_LABEL_BYTES))
            else:
                short = {k: v[:DTA_LABEL_CHARS] for k, v in labels.items()}
                pyreadstat.write_dta(data, path, column_labels=short,
                                     file_label=title[:DTA_LABEL_CHARS], version=15)
            dest.write(path.read_bytes())
    return write


# ---------------------------------------------------------------- dimensional formats


def _px(result: QueryResult, meta: QueryMeta, dest: BinaryIO, encoding: str) -> None:
    from exports.pcaxis import CODEPAGES, listed, quoted

    cells = cube_cells(result)
    dims = cube_dimensions(result, cells)
    names = _area_names(result, cells)
    zh, _ = meta.titles
    shown = {d: [names.get(c, c) for c in cats] if d == "area" else cats for d, cats in dims}
    language = "en" if result.query.labels == "en" else "zh"
    lines = ['CHARSET="ANSI";', f'CODEPAGE="{CODEPAGES.get(encoding, "utf-8")}";',
             f'LANGUAGE="{language}";', f"MATRIX={quoted(result.query.table)};",
             f"TITLE={quoted(zh)};", f"CONTENTS={quoted(zh)};", 'UNITS="";',
             f"SOURCE={quoted(PROVIDER_ZH)};",
             f"STUB={listed(result.query.stub)};", f"HEADING={listed(result.query.heading)};"]
    lines += [f'VALUES("{d}")={listed(shown[d])};' for d, _ in dims]
    lines += [f'CODES("{d}")={listed(cats)};' for d, cats in dims]
    note = "; ".join(f"{k}: {v}" for k, v in meta.describe().items() if k != "query")
    lines.append(f"NOTE={quoted(note)};")
    lines += _px_mark_lines(result, meta, cells, dims, shown)
    width = 1
    for dim in result.query.heading:
        width *= len(dict(dims)[dim])
    text = cells.select(pl.col("value").cast(pl.String).fill_null('"."'))["value"]
    rows = (pl.DataFrame({"cell": text}).with_row_index("i")
            .group_by(pl.col("i") // width, maintain_order=True)
            .agg(pl.col("cell").str.join(" "))["cell"])
    body = "\n".join(lines) + "\nDATA=\n" + "\n".join(rows.to_list()) + "\n;\n"
    dest.write(body.encode(codec(encoding)))


def _px_mark_lines(result: QueryResult, meta: QueryMeta, cells: pl.DataFrame,
                   dims: list[tuple[str, list[str]]], shown: dict[str, list[str]]) -> list[str]:
    """``DATANOTECELL`` keywords giving each marked cell its mark (as ``exports.pcaxis``):
    the cell named by its VALUES in STUB then HEADING order."""
    marks = long_marks(result, meta)
    if marks is None:
        return []
    named = [pl.col(_dimension(d)).cast(pl.String).replace_strict(
        dict(zip(cats, shown[d], strict=True)), return_dtype=pl.String) for d, cats in dims]
    marked = cells.with_columns(marks.alias("__mark")).filter(pl.col("__mark") != "")
    lines = marked.select(pl.concat_str(
        [pl.lit("DATANOTECELL("),
         pl.concat_str([pl.lit('"') + n.str.replace_all('"', "'") + pl.lit('"') for n in named],
                       separator=","),
         pl.lit(')="'), pl.col("__mark"), pl.lit('";')]).alias("line"))["line"].to_list()
    return lines


def _jsonstat(result: QueryResult, meta: QueryMeta, dest: BinaryIO, encoding: str) -> None:
    cells = cube_cells(result)
    dims = cube_dimensions(result, cells)
    names = _area_names(result, cells)
    dimension = {}
    for dim, categories in dims:
        category: dict[str, Any] = {"index": categories}
        if dim == "area" and names:
            category["label"] = {c: names[c] for c in categories}
        dimension[dim] = {"label": dim, "category": category}
    doc = {"version": "2.0", "class": "dataset", "label": meta.titles[0],
           "source": PROVIDER_ZH, "updated": meta.created_at,
           "id": [d for d, _ in dims], "size": [len(c) for _, c in dims],
           "dimension": dimension, "value": cells["value"].to_list(),
           "extension": {"popstats": meta.describe()}}
    marks = long_marks(result, meta)
    if marks is not None:  # JSON-stat 2.0 status: value index → mark, marked cells only
        marked = marks.to_frame("mark").with_row_index("i").filter(pl.col("mark") != "")
        doc["status"] = dict(zip(marked["i"].cast(pl.String).to_list(),
                                 marked["mark"].to_list(), strict=True))
        doc["note"] = [meta.describe()["marks_zh"], meta.describe()["marks_en"]]
    dest.write(json.dumps(doc, ensure_ascii=False).encode("utf-8"))


def _sdmx_csv(result: QueryResult, meta: QueryMeta, dest: BinaryIO, encoding: str) -> None:
    cells = cube_cells(result)
    cube_dimensions(result, cells)
    dims = [_dimension(d) for d in (*result.query.stub, *result.query.heading)]
    frame = cells.select(pl.lit(f"POPSTATS:{result.query.table.upper()}(1.0)")
                         .alias("DATAFLOW"),
                         *[pl.col(c).cast(pl.String).alias(c.upper()) for c in dims],
                         pl.col("value").alias("OBS_VALUE"))
    marks = long_marks(result, meta)
    if marks is not None:  # an attribute column, only in a file with marked cells
        mark = pl.col("__mark")
        frame = frame.with_columns(marks.alias("__mark")).with_columns(
            pl.when(mark == "r").then(pl.lit("R")).when(mark == "p").then(pl.lit("P"))
            .otherwise(pl.lit("A")).alias("OBS_STATUS")).drop("__mark")
    write_safe_csv(frame, dest, encoding=encoding)


def _netcdf(result: QueryResult, meta: QueryMeta, dest: BinaryIO, encoding: str) -> None:
    import numpy as np
    import xarray as xr

    cells = cube_cells(result)
    dims = cube_dimensions(result, cells)
    values = cells["value"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    shape = [len(c) for _, c in dims]
    coords = {d: np.array(c, dtype=object) for d, c in dims}
    data = xr.DataArray(values.reshape(shape), dims=[d for d, _ in dims], coords=coords,
                        name="value")
    dataset = data.to_dataset()
    dataset.attrs.update(meta.describe())
    names = _area_names(result, cells)
    if names:
        dataset = dataset.assign_coords(area_name=("area", np.array(
            [names[c] for c in dict(dims)["area"]], dtype=object)))
    dest.write(dataset.to_netcdf(engine="h5netcdf"))


def write_query_metadata(result: QueryResult, meta: QueryMeta, csv_path: Path) -> Path:
    """The CSVW sidecar of a query's CSV (``<file>-metadata.json``): titles (with any
    embargo marking), the column titles, the normalised query and the revisions. A CSV has
    no room of its own for them."""
    from exports.delimited import metadata_path

    zh, en = meta.titles
    doc = {"@context": "http://www.w3.org/ns/csvw", "url": csv_path.name,
           "dc:title": [{"@value": zh, "@language": "zh-TW"}, {"@value": en, "@language": "en"}],
           "dc:publisher": PROVIDER_ZH,
           "tableSchema": {"columns": [{"titles": c} for c in result.frame.columns]},
           "popstats:query": meta.query, "popstats:revisions": meta.revisions,
           "popstats:meta": meta.describe()}
    path = metadata_path(csv_path)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


FLAT_WRITERS = {"csv": _csv, "xlsx": _xlsx, "ods": _ods, "parquet": _parquet,
                "sav": _statpackage("sav"), "dta": _statpackage("dta")}
CUBE_WRITERS = {"px": _px, "jsonstat": _jsonstat, "sdmx-csv": _sdmx_csv, "netcdf": _netcdf}


def write_query(result: QueryResult, fmt: str, dest: Path | BinaryIO, *,
                encoding: str = "utf-8-sig", policy: str = "strict",
                private_use: dict[str, str] | None = None, meta: QueryMeta | None = None
                ) -> TextReport:
    """Write a query's result in ``fmt``; a path is written atomically (nothing is left of
    a failed write).

    Raises
    ------
    UnknownFormat, UnknownEncoding
        A format or encoding not offered (or not for this format).
    QueryExportError
        ``moi`` (a release table's layout only), or a result that is not a full cube for a
        dimensional format.
    exports.text.Unencodable
        Under the strict policy, every character the encoding cannot hold.
    """
    if fmt == "moi":
        raise QueryExportError("MOI's open-data layout holds a release table as MOI lays it "
                               "out, not a query's result: use popstats export for a whole "
                               "table, or another format (csv, xlsx, ...) for this query")
    writer(fmt, encoding)  # checks the format and that the encoding suits it
    text_encoding = encoding if len(FORMATS[fmt][2]) > 1 else "utf-8"
    meta = meta or query_meta(result)
    frame, report = _text_frame(result.frame, text_encoding, policy, private_use)
    prepared = QueryResult(result.query, frame, result.revisions)
    if isinstance(dest, Path):
        tmp = dest.with_name(f".{dest.name}.partial")
        try:
            with tmp.open("wb") as fh:
                _dispatch(prepared, fmt, meta, fh, encoding)
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        _dispatch(prepared, fmt, meta, dest, encoding)
    return report


def _dispatch(result: QueryResult, fmt: str, meta: QueryMeta, dest: BinaryIO,
              encoding: str) -> None:
    if fmt in FLAT_WRITERS:
        FLAT_WRITERS[fmt](result.frame, meta, dest, encoding)
    elif fmt in CUBE_WRITERS:
        CUBE_WRITERS[fmt](result, meta, dest, encoding)
    else:  # pragma: no cover - writer() refused it already
        raise UnknownFormat(fmt)


__all__ = ["CUBES", "FLAT", "QueryExportError", "QueryMeta", "cube_cells", "query_meta",
           "variable_names", "write_query", "write_query_metadata"]
