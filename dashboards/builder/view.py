"""The builder's preview: the first rows of exactly the table the file will hold (its columns
in order, its labels), one header row per heading dimension, and the size before download.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from dash import html

from dashboards.builder.plan import Plan, TooLarge
from dashboards.i18n import t
from exports.query import stub_columns
from stats.catalogue import COLUMNS
from stats.marks import mark_notes, marks_used
from stats.query import SEPARATOR, QueryResult

PREVIEW_ROWS = 50
ROW_COUNT = "builder-row-count"
SIZE = "builder-size"


STUB_NAMES = {"area_name": ("區域名稱", "Area name"), "measure": ("統計項目", "Measure"),
              "age_band": ("年齡組", "Age group")}


def stub_title(column: str, labels: str) -> str:
    """A stub column's header: its name in the file when the query asks for codes, else its
    name in the labels' language (the file's name stays in the cell's ``title``)."""
    if labels == "codes":
        return column
    found = COLUMNS.get(column)
    pair = (found.zh, found.en) if found else STUB_NAMES.get(column)
    return pair[labels == "en"] if pair else column


def cell_text(value: Any) -> str:
    """A cell as shown: counts with thousands separators, ratios as written, blank for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def size_note(found: Plan) -> Any:
    """The cells and rows the download will hold (before it is made)."""
    return html.P(t(f"此表共 {found.rows:,} 列、{found.cells:,} 個資料格"
                    f"（{found.n_areas:,} 個地區 × "
                    f"{len(found.query.periods)} 個統計期）。",
                    f"This table holds {found.rows:,} rows and {found.cells:,} cells "
                    f"({found.n_areas:,} areas × {len(found.query.periods)} periods)."),
                  id=SIZE)


def too_large(error: TooLarge) -> Any:
    """The refusal above the limit, with the advice to split, in the reader's language."""
    return html.Div([
        html.P(t(f"此表共 {error.cells:,} 個資料格（{error.rows:,} 列），"
                 f"超過上限 {error.limit:,} 個，"
                 "無法預覽或下載。",
                 f"This table would hold {error.cells:,} cells ({error.rows:,} rows), more than "
                 f"the limit of {error.limit:,}; it cannot be previewed or downloaded."),
               role="alert", id=SIZE),
        html.P(t("請分成數個較小的查詢：減少統計期或地區、改用較高的區域層級、少保留幾個維度或"
                 "統計項目，或改用年齡組。",
                 "Split it into smaller queries: fewer periods or areas, a coarser area level, "
                 "fewer kept dimensions or measures, or age bands.")),
    ])


def marked(text: str, mark: str | None) -> str:
    """A cell's text with its mark after the figure (``1,234 r``), as XLSX shows it."""
    return f"{text} {mark}" if mark else text


def preview_table(result: QueryResult, caption: str,
                  marks: pl.DataFrame | None = None) -> Any:
    """The first ``PREVIEW_ROWS`` rows under the file's own header, split at ``|`` into one
    header row per heading dimension; labelled queries name the stub columns in their
    labels' language (the file's column names, whole, are each header cell's ``title``);
    cells carry their r/p marks (``marks``: row for row, a mark column per value column)
    with the footnotes saying what they mean."""
    frame = result.frame
    stub = stub_columns(result)
    depth = max(1, len(result.query.heading))
    heads = []
    for level in range(depth):
        cells = []
        for column in frame.columns:
            if column in stub:
                cells.append(html.Th(stub_title(column, result.query.labels)
                                     if level == depth - 1 else "", scope="col", title=column))
            else:
                parts = column.split(SEPARATOR)
                part = parts[level] if level < len(parts) else ""
                cells.append(html.Th(part, scope="col", title=column))
        heads.append(html.Tr(cells))
    shown = min(frame.height, PREVIEW_ROWS)
    mark_rows = marks.head(PREVIEW_ROWS).to_dicts() if marks is not None else [{}] * shown
    body = [html.Tr([html.Th(cell_text(v), scope="row") if column == "area_name" else
                     html.Td(marked(cell_text(v), None if column in stub else found.get(column)))
                     for column, v in zip(frame.columns, row, strict=True)])
            for row, found in zip(frame.head(PREVIEW_ROWS).iter_rows(), mark_rows, strict=True)]
    values = [c for c in frame.columns if c not in stub]
    notes = [html.P(t(zh, en), className="note") for zh, en in
             zip(*mark_notes(marks_used(marks, values)), strict=True)]
    return html.Div([
        html.P(t(f"總列數：{frame.height:,}（顯示前 {shown:,} 列）；欄數：{frame.width:,}",
                 f"Total rows: {frame.height:,} (first {shown:,} shown); columns: "
                 f"{frame.width:,}"), id=ROW_COUNT),
        html.Div(html.Table([html.Caption(caption), html.Thead(heads), html.Tbody(body)],
                            className="preview"),
                 style={"overflowX": "auto", "maxWidth": "100%"}),  # wide tables scroll
        *notes,
    ])
