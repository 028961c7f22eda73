"""Trends (``/trends``): one measure of one table over the published months, quarters or
years, one line per granted area, with the same values as an accessible table.

Each request reads its table with a single ``view`` of every area and period, so it is one
audit entry, and a single area outside the grant refuses the whole request (no partial
lines that would hide what was withheld)."""

from __future__ import annotations

import re
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboards import figure_download, figure_queries, figures
from dashboards import programme_measures as programme
from dashboards.data import (
    KINDS,
    area_name,
    area_with_code,
    areas_under,
    covered,
    latest_period,
    offered_roots,
    periods_with,
    published_periods,
)
from dashboards.i18n import language, period_label, t
from dashboards.programme_figures import column
from dashboards.shell import not_permitted, page_allowed, title
from dashboards.web import Refused, current_user
from stats.catalogue import TABLES
from stats.schemas import TABLE_COLUMNS, TABLE_KEYS

PATH = "/trends"
dash.register_page(__name__, path=PATH, title=lambda **_: title(PATH))

TABLE = "trends-table"
MEASURE = "trends-measure"
FREQUENCY = "trends-frequency"
LEVEL = "trends-level"
AREAS = "trends-areas"
START = "trends-start"
END = "trends-end"
STATUS = "trends-status"
OUTPUT = "trends-output"
TREND_TABLES = ("population", "vital_events", "indicators", "indigenous_population",
                "reconciliation", *programme.TREND_TABLES)
DEFAULT_MEASURE = {"population": "population", "vital_events": "births",
                   "indicators": "median_age", "indigenous_population": "population",
                   "reconciliation": "population_end", **programme.DEFAULT_MEASURE}
FREQUENCIES = {"month": ("月", "Monthly"), "quarter": ("季", "Quarterly"), "year": ("年", "Yearly")}
MAX_AREAS = 12  # more lines than this are unreadable, and each is a column of the table
AREA_CODE = re.compile(r"\d{5}(\d{3}(\d{3})?)?")


def measures(table: str) -> list[str]:
    """The numeric columns of ``table`` that are measures, not keys (sex, indigenous …)."""
    if table in programme.TREND_MEASURES:  # CONTRACT §8: chosen ones, and derived ones
        return programme.TREND_MEASURES[table]
    keys = set(TABLE_KEYS.get(table, []))
    return [c for c, dtype in TABLE_COLUMNS[table].items() if c not in keys and dtype.is_numeric()]


def measure_options(table: str) -> list[dict[str, str]]:
    return [{"label": t(column(c).zh, column(c).en), "value": c} for c in measures(table)]


def levels_of(table: str, roots: list[str]) -> list[str]:
    """The granted levels at which ``table`` is published (fertility: national, county)."""
    return [lv for lv in figures.levels_within(roots) if lv in TABLES[table].levels]


def areas_period() -> str | None:
    """The period whose area list the drop-downs offer: the latest published month."""
    periods = published_periods()
    return latest_period("month") or (periods[-1] if periods else None)


def layout(table: str | None = None, measure: str | None = None, frequency: str | None = None,
           areas: str | None = None, **_: Any) -> Any:
    """Controls only: the lines arrive through ``show`` (grant checked, audited).

    ``?table=…&measure=…&frequency=…&areas=63000,64000`` preselects a shared link's choice,
    but only among what this caller is offered anyway (areas: those of the first one's level).
    """
    user = current_user()
    if not page_allowed(user, PATH):
        return not_permitted()
    lang = language()
    heading = html.H1(title(PATH))
    period = areas_period()
    if period is None:
        return html.Div([heading, html.P(t("尚無已公布的資料。", "No published release yet."))])
    tables = [name for name in TREND_TABLES if levels_of(name, offered_roots(user, [name]))
              and (name not in programme.TREND_TABLES or periods_with(name))]
    if not tables:
        return html.Div([heading, html.P(
            t("您的授權不包含可供趨勢圖使用的資料表。",
              "Your grant includes no table that can be shown as a trend."), role="alert")])
    table = table if table in tables else tables[0]
    measure = measure if measure in measures(table) else DEFAULT_MEASURE[table]
    frequency = frequency if frequency in KINDS else "month"
    asked = areas.split(",") if isinstance(areas, str) else []
    roots = offered_roots(user, [table])
    levels = levels_of(table, roots)
    level = figures.level_of(asked[0]) if asked else levels[0]
    level = level if level in levels else levels[0]
    options = figures.area_options(areas_under(period, roots, level), lang)
    offered = {o["value"] for o in options}
    chosen = [a for a in dict.fromkeys(asked) if a in offered][:MAX_AREAS] \
        or [o["value"] for o in options[:1]]
    labels = figures.DROPDOWN_LABELS[lang]
    ranges = figures.period_options(published_periods(frequency), lang)
    return html.Div([
        heading,
        html.Div([
            html.Label(t("資料表", "Table"), htmlFor=TABLE),
            dcc.Dropdown(id=TABLE, value=table, clearable=False, labels=labels, options=[
                {"label": t(TABLES[n].title_zh, TABLES[n].title_en), "value": n}
                for n in tables]),
            html.Label(t("項目", "Measure"), htmlFor=MEASURE),
            dcc.Dropdown(id=MEASURE, options=measure_options(table), clearable=False,
                         value=measure, labels=labels),
            html.Fieldset([
                html.Legend(t("頻率", "Frequency")),
                dcc.RadioItems(id=FREQUENCY, value=frequency, inline=True, options=[
                    {"label": t(zh, en), "value": kind} for kind, (zh, en) in FREQUENCIES.items()
                ]),
            ]),
            html.Label(t("區域層級", "Area level"), htmlFor=LEVEL),
            dcc.Dropdown(id=LEVEL, options=figures.level_options(levels, lang), value=level,
                         clearable=False, labels=labels),
            html.Label(t(f"地區（可複選，最多 {MAX_AREAS} 個）",
                         f"Areas (several, at most {MAX_AREAS})"), htmlFor=AREAS),
            dcc.Dropdown(id=AREAS, options=options, multi=True, labels=labels, value=chosen),
            html.Label(t("起（選填）", "From (optional)"), htmlFor=START),
            dcc.Dropdown(id=START, options=ranges, value=None, labels=labels,
                         placeholder=t("最早", "Earliest")),
            html.Label(t("迄（選填）", "To (optional)"), htmlFor=END),
            dcc.Dropdown(id=END, options=ranges, value=None, labels=labels,
                         placeholder=t("最新", "Latest")),
        ], className="controls"),
        html.P(id=STATUS, **{"aria-live": "polite"}),
        html.Div(id=OUTPUT),
        figure_download.controls("trends"),
    ])


@callback(Output(MEASURE, "options"), Output(MEASURE, "value"),
          Input(TABLE, "value"), State(MEASURE, "value"))
def measure_choices(table: str | None, chosen: str | None) -> Any:
    """The table's measures, labelled in the caller's language."""
    if not page_allowed(current_user(), PATH) or table not in TREND_TABLES:
        raise PreventUpdate
    names = measures(table)
    return measure_options(table), chosen if chosen in names else DEFAULT_MEASURE[table]


@callback(Output(LEVEL, "options"), Output(LEVEL, "value"), Output(AREAS, "options"),
          Output(AREAS, "value"),
          Input(TABLE, "value"), Input(LEVEL, "value"), State(AREAS, "value"))
def area_choices(table: str | None, level: str | None, chosen: Any) -> Any:
    """Levels and areas the caller's grant of ``table`` covers (offering is not permission:
    ``show`` asks ``view`` again)."""
    user = current_user()
    period = areas_period()
    if not page_allowed(user, PATH) or table not in TREND_TABLES or period is None:
        raise PreventUpdate
    lang = language()
    roots = offered_roots(user, [table])
    levels = levels_of(table, roots)
    level = level if level in levels else (levels[0] if levels else None)
    options = figures.area_options(areas_under(period, roots, level), lang) if level else []
    offered = {o["value"] for o in options}
    kept = [a for a in chosen if a in offered] if isinstance(chosen, list) else []
    if not kept and options:
        kept = [options[0]["value"]]
    return figures.level_options(levels, lang), level, options, kept


@callback(Output(START, "options"), Output(END, "options"), Output(START, "value"),
          Output(END, "value"),
          Input(FREQUENCY, "value"), State(START, "value"), State(END, "value"))
def range_choices(frequency: str | None, start: str | None, end: str | None) -> Any:
    """The published periods of the chosen frequency, for the optional date range."""
    if not page_allowed(current_user(), PATH) or frequency not in KINDS:
        raise PreventUpdate
    periods = published_periods(frequency)
    options = figures.period_options(periods, language())
    return (options, options, start if start in periods else None,
            end if end in periods else None)


def in_range(periods: list[str], start: Any, end: Any) -> list[str]:
    """``periods`` (oldest first) from ``start`` to ``end``, each bound optional."""
    first = periods.index(start) if start in periods else 0
    last = periods.index(end) if end in periods else len(periods) - 1
    return periods[first:last + 1]


def refusal(table: str, areas: list[str], period: str) -> str:
    """The refusal naming the areas outside the caller's grant of ``table`` (all of them when
    the grant as a whole is not in force)."""
    granted = offered_roots(current_user(), [table])
    refused = [area_with_code(a, period) for a in areas if not covered(granted, a)] \
        or [area_with_code(a, period) for a in areas]
    spec = TABLES[table]
    return t(f"您的授權不包含「{spec.title_zh}」的下列地區：{'、'.join(refused)}。"
             "整個查詢未予提供。",
             f"Your grant does not cover {', '.join(refused)} for “{spec.title_en}”. Nothing "
             "of this request is shown.")


def alert(message: str) -> tuple[str, Any]:
    return "", html.P(message, role="alert")


@callback(Output(STATUS, "children"), Output(OUTPUT, "children"),
          Input(TABLE, "value"), Input(MEASURE, "value"), Input(FREQUENCY, "value"),
          Input(AREAS, "value"), Input(START, "value"), Input(END, "value"))
def show(table: Any, measure: Any, frequency: Any, areas: Any, start: Any, end: Any) -> Any:
    """The lines and their table, from one ``view`` of ``table`` for all areas and periods."""
    user = current_user()
    if not page_allowed(user, PATH):
        return "", not_permitted()
    if table not in TREND_TABLES or measure not in measures(table) or frequency not in KINDS:
        return alert(t("請選擇資料表、項目及頻率。", "Choose a table, a measure and a frequency."))
    if not isinstance(areas, list) or not areas \
            or not all(isinstance(a, str) and AREA_CODE.fullmatch(a) for a in areas):
        return alert(t("請至少選擇一個地區。", "Choose at least one area."))
    areas = list(dict.fromkeys(areas))  # the order chosen, once each
    if len(areas) > MAX_AREAS:
        return alert(t(f"最多可選 {MAX_AREAS} 個地區。", f"Choose at most {MAX_AREAS} areas."))
    published = published_periods(frequency)
    if start in published and end in published and published.index(start) > published.index(end):
        return alert(t(f"起始期間（{period_label(start)}）在結束期間（{period_label(end)}）之後，"
                       "請對調。",
                       f"The start ({period_label(start)}) comes after the end "
                       f"({period_label(end)}): swap them."))
    periods = in_range(published, start, end)
    if not periods:
        return alert(t("所選期間沒有已公布的資料。", "Nothing is published in the chosen range."))
    latest = periods[-1]
    held = programme.held(table, periods)  # CONTRACT §8: v1 releases lack the v2-only tables
    if not held:
        return alert(programme.not_in_releases(table, periods))
    try:
        frame = programme.trend_frame(table, measure, areas, held)
    except Refused:  # already audited by view; nothing of the request is shown
        return alert(refusal(table, areas, latest))
    lang = language()
    names = {a: area_name(a, latest) for a in areas}
    label = t(column(measure).zh, column(measure).en)
    unit = t(column(measure).unit_zh, column(measure).unit_en)
    axis = f"{label}（{unit}）" if unit and lang == "zh" else (f"{label} ({unit})" if unit
                                                             else label)
    values = figures.trend_values(frame, measure, periods, areas)
    counts = programme.is_count(table, measure)
    span = period_label(latest) if len(periods) == 1 \
        else f"{period_label(periods[0])}–{period_label(latest)}"
    summed = t("（平地及山地原住民合計）", " (lowland and highland together)") \
        if TABLE_KEYS.get(table) else ""
    summed = t(*programme.summed_note(table)) if programme.summed_note(table) else summed
    caption = t(f"{label}{summed}，{span}", f"{label}{summed}, {span}")
    graph = dcc.Graph(figure=figures.trend_figure(values, periods, areas, names, axis, counts,
                                                    lang),
                      config=figures.PLOT_CONFIG, mathjax=False)
    described = t(f"折線圖：{caption}；{'、'.join(names.values())}。數值見下表。",
                  f"Line chart: {caption}; {', '.join(names.values())}. The values are in the "
                  "table below.")
    table_text = figures.trend_table(values, periods, areas, names, caption, counts, lang)
    return (t(f"已顯示 {caption}", f"Showing {caption}"), html.Div([
        html.Div(graph, role="img", **{"aria-label": described}),
        figures.html_table(table_text),
        figure_download.source("trends", figure_queries.trends_query(
            table, measure, held, areas, lang), caption),
    ]))


figure_download.register(PATH, "trends", show, [TABLE, MEASURE, FREQUENCY, AREAS, START, END])
