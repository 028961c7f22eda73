"""The table builder's choices as data (pure: no request, no database, no files).

A builder request names a table, a published period, an area level, areas at that level,
the dimensions to keep (key columns, optionally in bands) and the measures, a channel, a
format and an encoding. ``selection_of`` turns the dimension check-list into the
*selection* that ``access.packages`` stores with a delivery and applies with
``selected_rows``; the preview applies the same function to the same rows, so what the
preview shows is what the file holds. ``problems`` lists everything wrong with a request
before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

import exports
from access.packages import SelectionError, check_selection, measures_of, selected_spec
from stats.catalogue import COLUMNS, VALUE_LABELS, table_spec
from stats.codes import level_of_code

CHANNELS = ("file_transfer", "media_exchange")
ENCODINGS = ("utf-8-sig", "utf-8", "cp950", "big5hkscs", "euc-tw")
PREVIEW_ROWS = 50
MAX_CHOSEN_AREAS = 1_000  # areas picked one by one; "none" means all of the grant
LEVEL_DIGITS = {"national": 5, "county": 5, "township": 8, "village": 11}
# single years, or bands: the value of a band choice replaces the key's own value
BANDS: dict[str, dict[str, list[list[int | None]]]] = {
    "age": {
        "age_5y": [[low, low + 4] for low in range(0, 100, 5)] + [[100, None]],
        "age_broad": [[0, 14], [15, 64], [65, None]],
    },
}
BAND_LABELS = {
    "age_5y": ("年齡（5歲組）", "Age (5-year groups)"),
    "age_broad": ("年齡（0-14、15-64、65+）", "Age (0-14, 15-64, 65+)"),
}
AREA_NAME = ("區域名稱", "Area name")


@dataclass(frozen=True)
class Choice:
    """One entry of the dimensions check-list."""

    value: str
    zh: str
    en: str


@dataclass(frozen=True)
class BuilderRequest:
    """What a builder submit asks for (every field straight from the browser: untrusted)."""

    table: str | None
    period: str | None
    level: str | None
    areas: list[str]
    dimensions: list[str]
    channel: str | None = None
    fmt: str | None = None
    encoding: str | None = None


def dimension_choices(table: str) -> list[Choice]:
    """Key columns (with their band variants), then measures, labelled in both languages."""
    choices: list[Choice] = []
    for key in table_spec(table).keys:
        column = COLUMNS[key]
        choices.append(Choice(key, column.zh, column.en))
        choices += [Choice(band, *BAND_LABELS[band]) for band in BANDS.get(key, {})]
    choices += [Choice(m, COLUMNS[m].zh, COLUMNS[m].en) for m in measures_of(table)]
    return choices


def default_dimensions(table: str) -> list[str]:
    """Every key as single values and every measure: the release table itself."""
    return [*table_spec(table).keys, *measures_of(table)]


def selection_of(table: str, level: str | None, dimensions: list[str],
                 fmt: str | None = None) -> dict[str, Any]:
    """The stored selection for a check-list's values (checked against the table).

    Raises
    ------
    SelectionError
        Unknown values, two variants of one key, no measure, or what ``check_selection``
        refuses.
    """
    known = {c.value for c in dimension_choices(table)}
    if unknown := sorted(set(dimensions) - known):
        raise SelectionError(f"{table} offers no dimension(s) {unknown!r}")
    keys: list[str] = []
    bands: dict[str, list[list[int | None]]] = {}
    for key in table_spec(table).keys:
        variants = [v for v in (key, *BANDS.get(key, {})) if v in dimensions]
        if len(variants) > 1:
            raise SelectionError(f"choose one way to show {key}, not {', '.join(variants)}")
        if variants:
            keys.append(key)
            if variants[0] != key:
                bands[key] = BANDS[key][variants[0]]
    selection: dict[str, Any] = {
        "level": level,
        "keys": keys,
        "bands": bands,
        "measures": [m for m in measures_of(table) if m in dimensions],
    }
    check_selection(table, selection, fmt)
    return selection


def is_text_format(fmt: str) -> bool:
    """Formats written in a chosen encoding (the others are Unicode by nature)."""
    return fmt in exports.FORMATS and len(exports.FORMATS[fmt][2]) > 1


def file_encoding(fmt: str, encoding: str | None) -> str:
    """The encoding to write: the chosen one for text formats, UTF-8 for the others."""
    return (encoding or "utf-8-sig") if is_text_format(fmt) else "utf-8"


def problems(request: BuilderRequest, published: list[str], tables: list[str],
             channels: list[str] | None = None) -> list[tuple[str, str]]:
    """Everything wrong with a request that needs no data to see, as (zh, en) messages.

    ``channels`` given: the submit is checked too (channel, format, encoding). Areas
    outside the grant are *not* checked here: the access layer refuses and audits them.
    """
    found: list[tuple[str, str]] = []
    table = request.table
    if table not in tables:
        return [("請選擇資料表。", "Choose a table.")]
    if request.period not in published:
        found.append(("請選擇已公布的統計期。", "Choose a published period."))
    if request.level not in table_spec(table).levels:
        found.append(("請選擇此資料表的區域層級。", "Choose an area level of this table."))
    elif len(request.areas) > MAX_CHOSEN_AREAS:
        found.append((f"最多可選 {MAX_CHOSEN_AREAS:,} 個地區（或不選＝授權範圍內全部地區）。",
                      f"Choose at most {MAX_CHOSEN_AREAS:,} areas (or none: every area of the "
                      "level in your grant)."))
    elif any(level_of_code(a) != request.level for a in request.areas):
        found.append(("所選地區不屬於所選層級。", "The areas chosen are not of the level chosen."))
    if channels is not None:
        if request.channel not in channels:
            found.append(("請選擇您的授權所含的交付方式。",
                          "Choose a delivery channel your grant includes."))
        if request.fmt not in exports.FORMATS:
            found.append(("請選擇檔案格式。", "Choose a file format."))
        elif is_text_format(request.fmt) and request.encoding not in ENCODINGS:
            found.append(("請選擇文字編碼。", "Choose a text encoding."))
    try:
        fmt = request.fmt if channels is not None else None
        selection_of(table, request.level, request.dimensions, fmt)
    except SelectionError as error:
        found.append(("所選欄位無法組成報表：" + str(error), "The dimensions chosen do not fit: "
                      + str(error)))
    return found


def header(table: str, selection: dict[str, Any], column: str, lang: str) -> str:
    """A column's label in ``lang`` (``age_group`` and the like from the narrowed spec)."""
    if column == "area_name":
        return AREA_NAME[lang == "en"]
    label = selected_spec(table_spec(table), selection).column(column)
    return label.en if lang == "en" else label.zh


def cell(column: str, value: Any, lang: str) -> str:
    """A value as people read it: coded keys labelled, counts with thousands separators."""
    if value is None:
        return "—"
    if column in VALUE_LABELS and value in VALUE_LABELS[column]:
        zh, en = VALUE_LABELS[column][value]
        return en if lang == "en" else zh
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def preview_cells(rows: pl.DataFrame, lang: str,
                  limit: int = PREVIEW_ROWS) -> list[list[str]]:
    """The first ``limit`` rows as display text (the whole frame is never formatted)."""
    head = rows.head(limit)
    return [[cell(c, v, lang) for c, v in zip(head.columns, row, strict=True)]
            for row in head.iter_rows()]
