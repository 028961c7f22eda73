"""Figures of the dashboards and the accessible tables beneath them: pure functions from the
release rows a page was allowed to read to plotly figures and rows of text.

No Flask, no request, no I/O: the language is an argument, so a test gets exactly the figure
a callback returns. Figures are plain plotly JSON (dicts), not ``go.Figure`` objects: those
validate and deep-copy every property and carry a whole template, which cost more than the
rest of a callback together. Values are plain lists, never numpy arrays, so a figure's JSON
holds the release's own numbers. Only ``bar`` and ``scatter`` traces are used: plotly.js
draws them with the bundle Dash serves locally, with no map tiles, web fonts or WebGL
shaders that a strict CSP would block.

A few control helpers (level and area options) live here too: both pages need them and a
page module must not import another (Dash imports each page once, by path).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from dash import html

from dashboards.i18n import period_label
from stats.catalogue import VALUE_LABELS
from stats.codes import COUNTY_NAMES_EN, level_of_code

NATIONAL = "00000"
LEVELS = ("national", "county", "township", "village")
OLDEST = 100  # age 100 in the release means "100 and over": always its own group
SEX_COLOURS = {1: "#0072B2", 2: "#D55E00"}  # Okabe-Ito blue / vermilion: colour-blind safe
LINE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
                "#000000", "#F0E442")
# plotly's "simple_white" look spelled out (a named template would be copied into each figure)
STYLE = {"paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
         "font": {"color": "#1f2328"}, "hoverlabel": {"align": "left"}}
AXIS_STYLE = {"showgrid": False, "showline": True, "linecolor": "#444444", "ticks": "outside",
              "zeroline": False, "automargin": True}
PLOT_CONFIG = {"displaylogo": False, "showLink": False, "showSendToCloud": False,
               "showEditInChartStudio": False}
DROPDOWN_LABELS = {
    "zh": {"select_all": "全選", "deselect_all": "全不選",
           "selected_count": "已選 {num_selected} 項", "search": "搜尋",
           "clear_search": "清除搜尋", "clear_selection": "清除選擇",
           "no_options_found": "沒有符合的選項"},
    "en": {"select_all": "Select all", "deselect_all": "Deselect all",
           "selected_count": "{num_selected} selected", "search": "Search",
           "clear_search": "Clear search", "clear_selection": "Clear selection",
           "no_options_found": "No options found"},
}


def tr(lang: str, zh: str, en: str) -> str:
    """The text in ``lang`` (the pure twin of ``dashboards.i18n.t``)."""
    return en if lang == "en" else zh


@dataclass(frozen=True)
class TextTable:
    """An accessible table as text: caption, column headers, rows (first cell = row header)."""

    caption: str
    header: list[str]
    rows: list[list[str]]


def html_table(table: TextTable, class_name: str = "figures") -> html.Table:
    """The table as HTML with a caption and scoped header cells (read by screen readers)."""
    return html.Table([
        html.Caption(table.caption),
        html.Thead(html.Tr([html.Th(h, scope="col") for h in table.header])),
        html.Tbody([
            html.Tr([html.Th(row[0], scope="row")]
                    + [html.Td(cell, className="num") for cell in row[1:]])
            for row in table.rows
        ]),
    ], className=class_name)


def count_text(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def ratio_text(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


# --- controls: levels and areas ------------------------------------------------------------

def level_of(code: str) -> str:
    """An area code's level (``stats.codes.level_of_code``; an unknown form counts as a
    village, the finest level, so nothing coarser is offered for it)."""
    return level_of_code(code) or "village"


def levels_within(roots: Sequence[str]) -> list[str]:
    """The levels at or below the highest granted root (a county grant offers no national)."""
    if not roots:
        return []
    top = min(LEVELS.index(level_of(r)) for r in roots)
    return list(LEVELS[top:])


def level_options(levels: Sequence[str], lang: str) -> list[dict[str, str]]:
    names = VALUE_LABELS["area_level"]
    return [{"label": tr(lang, *names[lvl]), "value": lvl} for lvl in levels]


AREA_NAME_EN = "area_name_en"  # in a release's areas.parquet once built with English names


def area_label_expr(lang: str, columns: Sequence[str]) -> pl.Expr:
    """An area's name as people read it, for a frame with ``columns`` (a release's areas).

    zh-TW: the release's name (full paths, ``臺北市水安區頂門里``, so villages that share a
    name stay distinct). English: ``Taiwan``; the release's ``area_name_en`` where it has one
    (official code tables give English names for counties, townships and most villages);
    else the built-in English county names; else the Chinese name followed by its code, so
    a name without an English form is still shown once and found by its code.
    """
    if lang == "zh":
        return pl.col("area_name").fill_null(pl.col("area_code"))
    with_code = pl.format("{} ({})", pl.col("area_name"), pl.col("area_code"))
    county = pl.col("area_code").replace_strict(COUNTY_NAMES_EN, default=None,
                                                return_dtype=pl.String)
    english = (pl.col(AREA_NAME_EN).cast(pl.String) if AREA_NAME_EN in columns
               else pl.lit(None, pl.String))
    return (pl.when(pl.col("area_code") == NATIONAL).then(pl.lit("Taiwan"))
            .otherwise(pl.coalesce(english, county, with_code, pl.col("area_code"))))


def area_label(areas: pl.DataFrame, code: str, lang: str) -> str | None:
    """The label of one area of ``areas`` (None when the release has no such area)."""
    found = areas.filter(pl.col("area_code") == code).select(
        area_label_expr(lang, areas.columns).alias("label"))
    return found["label"][0] if found.height else None


def area_options(areas: pl.DataFrame, lang: str) -> list[dict[str, str]]:
    """Drop-down options for ``areas`` (area_level, area_code, area_name[, area_name_en] of a
    release), labelled by ``area_label_expr``."""
    return areas.select(label=area_label_expr(lang, areas.columns),
                        value="area_code").to_dicts()


def period_options(periods: Sequence[str], lang: str) -> list[dict[str, str]]:
    """Newest first, labelled ``114年3月 (2025-03)`` / ``Mar 2025 (2025-03)``."""
    return [{"label": f"{period_label(p, lang)} ({p})", "value": p} for p in reversed(periods)]


# --- population pyramid ---------------------------------------------------------------------

def age_group_start(band: int) -> pl.Expr:
    """The first age of each age's group: 0, 5, …, 95 for 5-year bands; 100+ stays alone."""
    return (pl.when(pl.col("age") >= OLDEST).then(OLDEST)
            .otherwise(pl.col("age") // band * band)).cast(pl.Int16)


def age_group_label(band: int) -> pl.Expr:
    """``0–4`` … ``95–99``, ``100+`` (or single years ``0`` … ``99``, ``100+``)."""
    start = pl.col("group")
    text = start.cast(pl.String) if band == 1 else pl.format(
        "{}–{}", start, start + band - 1)
    return pl.when(start >= OLDEST).then(pl.lit(f"{OLDEST}+")).otherwise(text)


def pyramid_values(frame: pl.DataFrame, periods: Sequence[str], band: int) -> pl.DataFrame:
    """``population_by_age`` rows of one area → period, group, label, sex, count, percent.

    ``percent`` is of the period's total, both sexes (so each period sums to 100); a period
    with nobody gets null percentages rather than a division by zero. Sorted by the order of
    ``periods``, then age group, then sex.
    """
    order = {p: i for i, p in enumerate(periods)}
    grouped = (
        frame.filter(pl.col("period").is_in(list(periods)))
        .with_columns(group=age_group_start(band))
        .group_by("period", "group", "sex")
        .agg(count=pl.col("population").sum())
    )
    total = pl.col("count").sum().over("period")
    return (
        grouped.with_columns(
            label=age_group_label(band),
            percent=pl.when(total > 0).then(pl.col("count") * 100 / total),
            order=pl.col("period").replace_strict(order, return_dtype=pl.Int32),
        )
        .sort("order", "group", "sex")
        .select("period", "group", "label", "sex", "count", "percent")
    )


def sex_label(sex: int, lang: str) -> str:
    zh, en = VALUE_LABELS["sex"][sex]
    return tr(lang, zh, en.capitalize())


def nice_step(limit: float, ticks: int = 4) -> float:
    """A round tick step (1, 2 or 5 × 10ⁿ) giving about ``ticks`` ticks up to ``limit``."""
    if limit <= 0:
        return 1.0
    raw = limit / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def symmetric_ticks(limit: float, percent: bool) -> tuple[list[float], list[str]]:
    """Tick positions either side of zero, labelled without the sign (males are drawn at
    negative x only to put them on the left)."""
    step = nice_step(limit)
    count = max(1, math.ceil(limit / step))
    values = [k * step for k in range(-count, count + 1)]
    texts = [f"{abs(v):g}%" if percent else f"{abs(v):,.0f}" for v in values]
    return values, texts


def figure(traces: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    """Plotly figure JSON: the traces and the layout over the common style (axes too)."""
    styled = {**STYLE, **layout}
    for axis in ("xaxis", "yaxis"):
        if axis in layout:
            styled[axis] = {**AXIS_STYLE, **layout[axis]}
    return {"data": traces, "layout": styled}


def pyramid_figure(values: pl.DataFrame, periods: Sequence[str], percent: bool,
                   lang: str) -> dict[str, Any]:
    """Males left, females right; the first period filled, a second one as an outline.

    Hover shows the exact count (and the percentage) whichever unit is drawn.
    """
    measure = "percent" if percent else "count"
    labels = values.filter(pl.col("period") == periods[0]).unique("group").sort("group")
    traces = []
    for index, period in enumerate(periods):
        for sex in (1, 2):
            part = values.filter(pl.col("period") == period, pl.col("sex") == sex)
            sign = -1 if sex == 1 else 1
            shown = part.select((pl.col(measure) * sign).alias("x"))["x"].to_list()
            name = f"{sex_label(sex, lang)} {period_label(period, lang)}"
            outline = index > 0
            traces.append({
                "type": "bar", "x": shown, "y": part["label"].to_list(), "orientation": "h",
                "name": name,
                "customdata": [list(r) for r in part.select("count", "percent").rows()],
                "hovertemplate": (f"{name}<br>{tr(lang, '年齡', 'Age')} %{{y}}: "
                                  "%{customdata[0]:,} (%{customdata[1]:.2f}%)<extra></extra>"),
                "marker": {"color": "rgba(0,0,0,0)" if outline else SEX_COLOURS[sex],
                           "line": {"color": "#000000" if outline else SEX_COLOURS[sex],
                                    "width": 1.5 if outline else 0}},
            })
    limit = float(values[measure].abs().max() or 0) if len(values) else 0.0
    tickvals, ticktext = symmetric_ticks(limit, percent)
    unit = tr(lang, "百分比", "percent of total") if percent else tr(lang, "人數", "persons")
    return figure(traces, {
        "barmode": "overlay", "bargap": 0.05,
        "margin": {"l": 60, "r": 20, "t": 30, "b": 60},
        "legend": {"orientation": "h", "y": -0.15},
        "xaxis": {"title": {"text": tr(lang, f"{unit}（左：男，右：女）",
                                       f"{unit.capitalize()} (left: male, right: female)")},
                  "tickvals": tickvals, "ticktext": ticktext, "zeroline": True,
                  "range": [-limit * 1.05, limit * 1.05] if limit else None},  # 0 in the middle
        "yaxis": {"title": {"text": tr(lang, "年齡", "Age")}, "type": "category",
                  "categoryorder": "array", "categoryarray": labels["label"].to_list()},
    })


def pyramid_table(values: pl.DataFrame, periods: Sequence[str], percent: bool, caption: str,
                  lang: str) -> TextTable:
    """One row per age group; for each period the male and female counts (and percentages
    when those are drawn): exactly the plotted values, as text."""
    keyed = values.with_columns(key=pl.format("{}|{}", "period", "sex"))
    wide = keyed.pivot(on="key", index=["group", "label"], values="count").sort("group")
    shares = keyed.pivot(on="key", index="group", values="percent").sort("group")
    header = [tr(lang, "年齡", "Age")]
    columns: list[list[str]] = []
    for period in periods:
        for sex in (1, 2):
            key = f"{period}|{sex}"
            name = f"{sex_label(sex, lang)} {period_label(period, lang)}"
            header.append(f"{name} ({tr(lang, '人', 'persons')})")
            columns.append(texts(wide, key, count_text))
            if percent:
                header.append(f"{name} (%)")
                columns.append(texts(shares, key, ratio_text))
    rows = [list(row) for row in zip(wide["label"].to_list(), *columns, strict=True)]
    return TextTable(caption, header, rows)


def texts(wide: pl.DataFrame, key: str, fmt: Any) -> list[str]:
    """A pivoted column as text; "—" throughout when the period had no rows for the area."""
    if key not in wide.columns:
        return ["—"] * len(wide)
    return [fmt(v) for v in wide[key].to_list()]


def median_ages(frame: pl.DataFrame) -> pl.DataFrame:
    """period, median_age from single-year counts, by the contract's rule (CONTRACT §3):
    a + (N/2 − C) / n, a the first age at which the cumulative count reaches N/2, C the count
    below a, n the count at a; null when N = 0."""
    by_age = (frame.group_by("period", "age").agg(n=pl.col("population").sum())
              .sort("period", "age"))
    cumulative = pl.col("n").cum_sum().over("period")
    total = pl.col("n").sum().over("period")
    marked = by_age.with_columns(cum=cumulative, total=total)
    first = (
        marked.filter(pl.col("cum") * 2 >= pl.col("total"), pl.col("total") > 0)
        .group_by("period").agg(pl.all().first())
        .select("period", median_age=pl.col("age")
                + (pl.col("total") / 2 - (pl.col("cum") - pl.col("n"))) / pl.col("n"))
    )
    periods = by_age.select("period").unique()
    return periods.join(first, on="period", how="left").sort("period")


# --- trends ---------------------------------------------------------------------------------

def trend_values(frame: pl.DataFrame, measure: str, periods: Sequence[str],
                 areas: Sequence[str]) -> pl.DataFrame:
    """period, area_code, value for every area × period asked (null where nothing was
    published). Tables with further keys (indigenous 1/2) are summed over them; a value that
    is null in every row stays null (a ratio with no denominator is not zero)."""
    column = pl.col(measure)
    summed = (
        frame.filter(pl.col("period").is_in(list(periods)), pl.col("area_code").is_in(list(areas)))
        .group_by("period", "area_code")
        .agg(value=pl.when(column.null_count() < pl.len()).then(column.sum()))
    )
    grid = pl.DataFrame({"period": list(periods)}).join(
        pl.DataFrame({"area_code": list(areas)}), how="cross")
    return grid.join(summed, on=["period", "area_code"], how="left")


def trend_figure(values: pl.DataFrame, periods: Sequence[str], areas: Sequence[str],
                 names: dict[str, str], axis_title: str, counts: bool,
                 lang: str) -> dict[str, Any]:
    """One line per area over the periods, x labelled in ``lang`` (ROC or Gregorian); counts
    with thousands separators (not plotly's ``46.8k``), ratios to two decimals."""
    x = [period_label(p, lang) for p in periods]
    number = ",d" if counts else ",.2f"
    traces = []
    for index, area in enumerate(areas):
        line = values.filter(pl.col("area_code") == area)
        by_period = dict(zip(line["period"].to_list(), line["value"].to_list(), strict=True))
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        traces.append({
            "type": "scatter", "x": x, "y": [by_period.get(p) for p in periods],
            "name": names.get(area, area), "mode": "lines+markers",
            "line": {"color": colour}, "marker": {"color": colour},
            "hovertemplate": f"{names.get(area, area)}<br>%{{x}}: %{{y:{number}}}<extra></extra>",
        })
    return figure(traces, {
        "margin": {"l": 70, "r": 20, "t": 30, "b": 60},
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"title": {"text": tr(lang, "統計期", "Period")}, "type": "category"},
        "yaxis": {"title": {"text": axis_title}, "tickformat": "," if counts else None},
    })


def trend_table(values: pl.DataFrame, periods: Sequence[str], areas: Sequence[str],
                names: dict[str, str], caption: str, counts: bool, lang: str) -> TextTable:
    """One row per period, one column per area: the values the lines are drawn from."""
    wide = values.pivot(on="area_code", index="period", values="value")
    order = pl.DataFrame({"period": list(periods)})
    wide = order.join(wide, on="period", how="left")
    fmt = count_text if counts else ratio_text
    columns = [[fmt(v) for v in wide[a].to_list()] for a in areas]
    labels = [period_label(p, lang) for p in periods]
    rows = [list(row) for row in zip(labels, *columns, strict=True)]
    return TextTable(caption, [tr(lang, "統計期", "Period")] + [names.get(a, a) for a in areas],
                     rows)
