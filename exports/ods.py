"""ODS export: an OpenDocument spreadsheet (ODF 1.2, Taiwan's government document standard),
streamed a block of rows at a time into the package.

The sheets and texts are those of the XLSX export (``exports.sheets.layout``): data
sheet(s) with a title block, a two-row header (zh-TW over English) repeated on printed pages,
a hidden row of contract column names, frozen panes and footnotes; a ``columns`` sheet and a
``metadata`` sheet. LibreOffice Calc holds 1,048,576 rows per sheet, so larger tables are
split at area boundaries exactly as in XLSX.

Package rules (ODF 1.2 part 3, §3): ``mimetype`` is the first member, stored uncompressed
without extra fields, so tools can sniff the type at a fixed offset; ``META-INF/manifest.xml``
lists every part. Numbers are ``office:value-type="float"`` cells whose ``office:value`` is
the exact value; their display format comes from the column's default cell style, except a
cell marked r (revised) or p (provisional) (``exports.marks``), whose own style shows the
mark after the figure (``1,234 r``); the footnotes say what the marks mean.
"""

from __future__ import annotations

import zipfile
from typing import BinaryIO

import polars as pl

from exports import sheets
from exports.marks import SUFFIX, frame_marks
from exports.meta import ExportMeta
from exports.sheets import (
    TOP_ROWS,
    Field,
    Layout,
    Part,
    blocks,
    created_utc,
    layout,
    prepare_frame,
    xml_text,
    zip_entry,
)

MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
_OASIS = "urn:oasis:names:tc:opendocument:xmlns"
NS = {
    "office": f"{_OASIS}:office:1.0",
    "style": f"{_OASIS}:style:1.0",
    "text": f"{_OASIS}:text:1.0",
    "table": f"{_OASIS}:table:1.0",
    "fo": f"{_OASIS}:xsl-fo-compatible:1.0",
    "number": f"{_OASIS}:datastyle:1.0",
    "meta": f"{_OASIS}:meta:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
    "config": f"{_OASIS}:config:1.0",
    # settings.xml names its set "ooo:view-settings", a QName: LibreOffice ignores the frozen
    # panes unless the ooo prefix is declared
    "ooo": "http://openoffice.org/2004/office",
}
XMLNS = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
BOLD = 'fo:font-weight="bold" style:font-weight-asian="bold" style:font-weight-complex="bold"'
WIDTHS = [13.0, 9.0, 10.0, 18.0, 16.0, 24.0, 14.0, 60.0, 90.0]  # characters, ~0.22 cm each
_NUMBER = '<number:number number:min-integer-digits="1"{}/>'.format
_BREAKS = set("\t\r\n")
FLOAT_CELL = '<table:table-cell office:value-type="float" office:value="'
_PLAIN = ' number:decimal-places="0"'  # "0"; without decimal places Calc shows General
_GROUPED = ' number:decimal-places="{}" number:grouping="true"'


def _cell_style(name: str, cell: str = "", text: str = "", data: str = "") -> str:
    """A table-cell style: cell properties, text properties, data style (number format)."""
    data_style = f' style:data-style-name="{data}"' if data else ""
    return (f'<style:style style:name="{name}" style:family="table-cell"{data_style}>'
            + (f"<style:table-cell-properties {cell}/>" if cell else "")
            + (f"<style:text-properties {text}/>" if text else "") + "</style:style>")


# data styles (number formats) and the cell styles using them; names match the field kinds
AUTOMATIC_STYLES = (
    "<office:automatic-styles>"
    f'<number:number-style style:name="Ncode">{_NUMBER(_PLAIN)}</number:number-style>'
    f'<number:number-style style:name="Ncount">{_NUMBER(_GROUPED.format(0))}</number:number-style>'
    f'<number:number-style style:name="Nratio">{_NUMBER(_GROUPED.format(2))}</number:number-style>'
    '<number:text-style style:name="Ntext"><number:text-content/></number:text-style>'
    + "".join(_cell_style(k, data=f"N{k}") for k in ("text", "code", "count", "ratio"))
    + _cell_style("title", text=f'{BOLD} fo:font-size="14pt" style:font-size-asian="14pt"')
    + _cell_style("head_zh", 'fo:wrap-option="wrap" style:vertical-align="top"', BOLD)
    + _cell_style("head_en", 'fo:wrap-option="wrap" style:vertical-align="top" '
                  'fo:border-bottom="0.5pt solid #000000"',
                  'fo:font-style="italic" fo:color="#595959" fo:font-size="10pt"')
    + _cell_style("bold", text=BOLD)
    + "".join(f'<style:style style:name="co{i}" style:family="table-column"><style:table-column-'
              f'properties style:column-width="{w * 0.22:.2f}cm"/></style:style>'
              for i, w in enumerate(WIDTHS))
    + "</office:automatic-styles>"
)


# Cells marked r/p (exports.marks) keep their value and show the mark after it by a data
# style of their own; these styles are written only into a file that has marks.
MARK_STYLES = "".join(
    f'<number:number-style style:name="N{kind}_{mark}">'
    f'{_NUMBER(_GROUPED.format(places))}<number:text> {mark}</number:text></number:number-style>'
    + _cell_style(f"{kind}_{mark}", data=f"N{kind}_{mark}")
    for kind, places in (("count", 0), ("ratio", 2)) for mark in ("r", "p"))


def automatic_styles(marked: bool) -> str:
    """``office:automatic-styles``; with the mark styles when ``marked``."""
    if not marked:
        return AUTOMATIC_STYLES
    end = "</office:automatic-styles>"
    return AUTOMATIC_STYLES.removesuffix(end) + MARK_STYLES + end


def paragraph(value: str) -> str:
    """Text as the content of ``text:p``: ODF collapses runs of white space and drops it at
    the ends (ODF 1.2 §6.1.2), so such spaces, tabs and line breaks are written as elements."""
    out, after_space = [], True
    for i, ch in enumerate(value):
        if ch == " ":
            lone = not after_space and i + 1 < len(value) and value[i + 1] not in " \t\n\r"
            out.append(" " if lone else "<text:s/>")
        elif ch == "\t":
            out.append("<text:tab/>")
        elif ch in "\n\r":
            out.append("<text:line-break/>")
        else:
            out.append(xml_text(ch))
        after_space = ch in " \t\n\r"
    return "".join(out)


def string_cell(value: str | None, style: str = "") -> str:
    """A string cell. ``text:p`` has no CR, and LibreOffice drops ``text:tab`` from cells, so
    text with a tab, CR or LF is also kept exactly in ``office:string-value`` (which Calc
    reads), as character references that attribute normalisation leaves alone."""
    styled = f' table:style-name="{style}"' if style else ""
    if not value:
        return f"<table:table-cell{styled}/>"
    exact = ""
    if not _BREAKS.isdisjoint(value):
        kept = xml_text(value).replace("\t", "&#9;").replace("\n", "&#10;")
        exact = f' office:string-value="{kept}"'
    return (f'<table:table-cell{styled} office:value-type="string"{exact}>'
            f"<text:p>{paragraph(value)}</text:p></table:table-cell>")


def _row(cells: list[tuple[str, str]], hidden: bool = False) -> str:
    """One row of (text, style) string cells."""
    visibility = ' table:visibility="collapse"' if hidden else ""
    return (f"<table:table-row{visibility}>" + "".join(string_cell(v, s) for v, s in cells)
            + "</table:table-row>")


def _data_rows(block: pl.DataFrame, fields: tuple[Field, ...],
               strings: dict[str, dict[str, str]]) -> bytes:
    """Rows of data cells as ODF, built column-wise by polars (number formats come from the
    columns' default cell styles)."""
    pieces: list[pl.Expr] = [pl.lit("<table:table-row>")]
    for f in fields:
        if f.kind == "text":
            cell = pl.col(f.name).replace_strict(strings[f.name], return_dtype=pl.String)
        elif SUFFIX + f.name in block.columns:  # a marked cell names its mark's style
            mark = pl.col(SUFFIX + f.name)
            styled = (pl.when(mark != "").then(pl.concat_str(
                [pl.lit(' table:style-name="' + f.kind + "_"), mark, pl.lit('"')]))
                .otherwise(pl.lit("")))
            cell = pl.concat_str([pl.lit("<table:table-cell"), styled,
                                  pl.lit(FLOAT_CELL.removeprefix("<table:table-cell")),
                                  pl.col(f.name).cast(pl.String), pl.lit('"/>')])
        else:  # Float64 casts to the shortest text that reads back as the same double
            cell = pl.concat_str([pl.lit(FLOAT_CELL), pl.col(f.name).cast(pl.String),
                                  pl.lit('"/>')])
        pieces.append(cell.fill_null("<table:table-cell/>"))
    pieces.append(pl.lit("</table:table-row>"))
    return str(block.select(pl.concat_str(pieces).str.join("")).item()).encode()


def _columns(widths: list[float], defaults: list[str]) -> str:
    """Column elements with widths and default cell styles (number formats of data cells)."""
    return "".join(f'<table:table-column table:style-name="co{WIDTHS.index(w)}" '
                   f'table:default-cell-style-name="{d}"/>'
                   for w, d in zip(widths, defaults, strict=True))


def _small_table(name: str, table: list[list[str]], widths: list[float]) -> str:
    """A sheet of text cells, its first row bold."""
    rows = "".join(_row([(v, "bold" if r == 0 else "") for v in cells])
                   for r, cells in enumerate(table))
    return (f'<table:table table:name="{xml_text(name)}">'
            + _columns(widths, ["text"] * len(widths)) + rows + "</table:table>")


def _data_table_head(lay: Layout, part: Part) -> str:
    """A data sheet up to its first data row: columns, title block, header, names."""
    fields = lay.fields
    top = "".join(_row([(line, "title" if j == 0 else "")])
                  for j, line in enumerate(lay.title_lines(part)))
    # header rows inside table-header-rows are repeated on every printed page
    head = ("<table:table-header-rows>" + _row([(f.header_zh, "head_zh") for f in fields])
            + _row([(f.header_en, "head_en") for f in fields]) + "</table:table-header-rows>"
            + _row([(f.name, "") for f in fields], hidden=True))
    return (f'<table:table table:name="{xml_text(part.sheet)}">'
            + _columns([f.width for f in fields], [f.kind for f in fields]) + top + head)


def _settings(frozen: dict[str, int], active: str) -> str:
    """``settings.xml``: frozen rows per sheet as LibreOffice Calc reads them."""
    def item(name: str, kind: str, value: object) -> str:
        return (f'<config:config-item config:name="{name}" config:type="{kind}">{value}'
                "</config:config-item>")

    tables = "".join(
        f'<config:config-item-map-entry config:name="{xml_text(name)}">'
        + item("HorizontalSplitMode", "short", 0) + item("VerticalSplitMode", "short", 2)
        + item("HorizontalSplitPosition", "int", 0) + item("VerticalSplitPosition", "int", rows)
        + item("ActiveSplitRange", "short", 2) + item("PositionLeft", "int", 0)
        + item("PositionRight", "int", 0) + item("PositionTop", "int", 0)
        + item("PositionBottom", "int", rows) + "</config:config-item-map-entry>"
        for name, rows in frozen.items())
    return (HEAD + f'<office:document-settings {XMLNS} office:version="1.2"><office:settings>'
            '<config:config-item-set config:name="ooo:view-settings">'
            '<config:config-item-map-indexed config:name="Views"><config:config-item-map-entry>'
            + item("ViewId", "string", "view1")
            + f'<config:config-item-map-named config:name="Tables">{tables}'
            "</config:config-item-map-named>" + item("ActiveTable", "string", xml_text(active))
            + "</config:config-item-map-entry></config:config-item-map-indexed>"
            "</config:config-item-set></office:settings></office:document-settings>")


def _meta(lay: Layout) -> str:
    """``meta.xml``: title, description, language, creation time and every metadata pair."""
    d = {k: xml_text(v) for k, v in lay.meta.describe().items()}
    users = "".join(f'<meta:user-defined meta:name="{k}">{xml_text(v)}</meta:user-defined>'
                    for k, v in lay.metadata_rows())
    return (HEAD + f'<office:document-meta {XMLNS} office:version="1.2"><office:meta>'
            f"<meta:generator>{d['software']}</meta:generator>"
            f"<dc:title>{d['table_code']} {d['title_zh']} {d['title_en']}</dc:title>"
            f"<dc:subject>{d['period']} {d['period_roc']}</dc:subject>"
            f"<dc:description>{xml_text(lay.meta.to_json())}</dc:description>"
            f"<meta:keyword>{d['table']}</meta:keyword><dc:language>zh-TW</dc:language>"
            f"<meta:initial-creator>{d['provider_zh']} {d['provider_en']}</meta:initial-creator>"
            f"<meta:creation-date>{created_utc(lay.meta).isoformat()}</meta:creation-date>{users}"
            "</office:meta></office:document-meta>")


MANIFEST = (HEAD + f'<manifest:manifest xmlns:manifest="{_OASIS}:manifest:1.0" manifest:version='
            '"1.2"><manifest:file-entry manifest:full-path="/" manifest:version="1.2" '
            f'manifest:media-type="{MIMETYPE}"/>' + "".join(
                f'<manifest:file-entry manifest:full-path="{p}" manifest:media-type="text/xml"/>'
                for p in ("content.xml", "styles.xml", "meta.xml", "settings.xml"))
            + "</manifest:manifest>")
STYLES = (HEAD + f'<office:document-styles {XMLNS} office:version="1.2"><office:styles>'
          '<style:default-style style:family="table-cell"><style:text-properties '
          'style:language-asian="zh" style:country-asian="TW"/></style:default-style>'
          "</office:styles></office:document-styles>")


def write_ods(frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO, *, encoding: str = "utf-8",
              max_rows: int | None = None) -> None:
    """Write the table as an OpenDocument spreadsheet (layout as ``exports.spreadsheet``).

    Parameters
    ----------
    frame, meta
        The prepared table (``exports.write`` has made its text encodable) and its metadata.
    dest
        A binary stream; only written to.
    encoding
        Must be a Unicode one: ODF text is always UTF-8 inside.
    max_rows
        Rows per sheet; ``exports.sheets.MAX_SHEET_ROWS`` unless a test lowers it.

    Raises
    ------
    Unencodable, ValueError
        See ``exports.sheets.prepare_frame``.
    """
    frame = prepare_frame(frame, encoding, "ODS")
    lay = layout(frame, meta, max_rows or sheets.MAX_SHEET_ROWS)
    strings = {f.name: {v: string_cell(v) for v in frame[f.name].drop_nulls().unique()}
               for f in lay.fields if f.kind == "text"}
    marks = frame_marks(frame, meta, [f.name for f in lay.fields if f.kind in ("count", "ratio")])
    if marks is not None:  # beside the rows they mark, so a block slices both alike
        frame = frame.hstack(marks)
    big = frame.height * len(lay.fields) * 64 > 2**31  # content.xml may pass 2 GiB: ZIP64 entry
    frozen = {p.sheet: TOP_ROWS for p in lay.parts} | {"columns": 1, "metadata": 1}
    with zipfile.ZipFile(dest, "w") as zf:
        zf.writestr(zip_entry("mimetype", meta, stored=True), MIMETYPE)
        zf.writestr(zip_entry("META-INF/manifest.xml", meta), MANIFEST)
        zf.writestr(zip_entry("styles.xml", meta), STYLES)
        zf.writestr(zip_entry("meta.xml", meta), _meta(lay))
        zf.writestr(zip_entry("settings.xml", meta), _settings(frozen, lay.parts[0].sheet))
        with zf.open(zip_entry("content.xml", meta), "w", force_zip64=big) as fh:
            fh.write((HEAD + f'<office:document-content {XMLNS} office:version="1.2">'
                      + automatic_styles(marks is not None)
                      + "<office:body><office:spreadsheet>").encode())
            for part in lay.parts:
                fh.write(_data_table_head(lay, part).encode())
                for block in blocks(frame, part):
                    fh.write(_data_rows(block, lay.fields, strings))
                footer = "".join(_row([(line, "bold" if j == 0 else "")])
                                 for j, line in enumerate(lay.footer_lines()))
                fh.write(("<table:table-row><table:table-cell/></table:table-row>" + footer
                          + "</table:table>").encode())
            fh.write((_small_table("columns", lay.column_rows(),
                                   [16.0, 18.0, 24.0, 14.0, 14.0, 14.0, 60.0])
                      + _small_table("metadata", [["key", "value"], *lay.metadata_rows()],
                                     [16.0, 90.0])
                      + "</office:spreadsheet></office:body></office:document-content>").encode())
