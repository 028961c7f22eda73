"""Population pyramid (``/pyramid``): ``population_by_age`` of one granted area in one
published period, optionally outlined against a second period, by single years or 5-year
bands, in counts or percent of the total; a summary (total, median age) and the plotted
values as an accessible table beneath the chart."""

from __future__ import annotations

import re
from typing import Any

import dash
import polars as pl
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboards import figure_download, figure_queries, figures, tribe_pyramid
from dashboards.data import (
    area_name,
    area_with_code,
    areas_under,
    covered,
    latest_period,
    offered_roots,
    published_periods,
    view,
)
from dashboards.i18n import language, period_label, t
from dashboards.shell import not_permitted, page_allowed, title
from dashboards.web import Refused, current_user

PATH = "/pyramid"
dash.register_page(__name__, path=PATH, title=lambda **_: title(PATH))

TABLE = "population_by_age"
LEVEL = "pyramid-level"
AREA = "pyramid-area"
PERIOD = "pyramid-period"
COMPARE = "pyramid-compare"
BAND = "pyramid-band"
UNIT = "pyramid-unit"
STATUS = "pyramid-status"
OUTPUT = "pyramid-output"
BANDS = ("5", "1")
UNITS = ("count", "percent")
AREA_CODE = re.compile(r"\d{5}(\d{3}(\d{3})?)?")


def layout(area: str | None = None, period: str | None = None, **_: Any) -> Any:
    """Controls only: the chart arrives through ``show`` (grant checked, audited).

    ``?area=…&period=…`` preselects a shared link's choice, but only among what this
    caller is offered anyway; anything else falls back to the defaults.
    """
    user = current_user()
    if not page_allowed(user, PATH):
        return not_permitted()
    lang = language()
    periods = published_periods()
    roots = offered_roots(user, [TABLE])
    heading = html.H1(title(PATH))
    if not periods:
        return html.Div([heading, html.P(t("尚無已公布的資料。", "No published release yet."))])
    if not roots:
        return html.Div([heading, html.P(
            t("您的授權不包含人口年齡資料。", "Your grant does not include population by age."),
            role="alert"), *tribe_pyramid.section(user)])
    if period not in periods:
        period = latest_period("month") or periods[-1]
    levels = figures.levels_within(roots)
    level = figures.level_of(area) if isinstance(area, str) else levels[0]
    level = level if level in levels else levels[0]
    areas = figures.area_options(areas_under(period, roots, level), lang)
    offered = [o["value"] for o in areas]
    chosen = area if area in offered else (offered[0] if offered else None)
    labels = figures.DROPDOWN_LABELS[lang]
    return html.Div([
        heading,
        html.Div([
            html.Label(t("區域層級", "Area level"), htmlFor=LEVEL),
            dcc.Dropdown(id=LEVEL, options=figures.level_options(levels, lang), value=level,
                         clearable=False, labels=labels),
            html.Label(t("地區", "Area"), htmlFor=AREA),
            dcc.Dropdown(id=AREA, options=areas, value=chosen, clearable=False, labels=labels),
            html.Label(t("統計期", "Period"), htmlFor=PERIOD),
            dcc.Dropdown(id=PERIOD, options=figures.period_options(periods, lang), value=period,
                         clearable=False, labels=labels),
            html.Label(t("比較統計期（選填，以外框表示）", "Compare with period (optional, drawn "
                         "as an outline)"), htmlFor=COMPARE),
            dcc.Dropdown(id=COMPARE, options=figures.period_options(periods, lang), value=None,
                         clearable=True, labels=labels,
                         placeholder=t("不比較", "No comparison")),
            html.Fieldset([
                html.Legend(t("年齡組", "Age groups")),
                dcc.RadioItems(id=BAND, value="5", inline=True, options=[
                    {"label": t("五歲組", "5-year bands"), "value": "5"},
                    {"label": t("單一年齡", "Single years"), "value": "1"}]),
            ]),
            html.Fieldset([
                html.Legend(t("單位", "Unit")),
                dcc.RadioItems(id=UNIT, value="count", inline=True, options=[
                    {"label": t("人數", "Persons"), "value": "count"},
                    {"label": t("占總人口百分比", "Percent of total"), "value": "percent"}]),
            ]),
        ], className="controls"),
        html.P(id=STATUS, **{"aria-live": "polite"}),
        html.Div(id=OUTPUT),
        figure_download.controls("pyramid"),
        *tribe_pyramid.section(user),  # issue 14: an indigenous people's pyramid
    ])


@callback(Output(AREA, "options"), Output(AREA, "value"),
          Input(LEVEL, "value"), Input(PERIOD, "value"), State(AREA, "value"))
def area_choices(level: str | None, period: str | None, chosen: str | None) -> Any:
    """The granted areas of ``level`` in ``period`` (offering is not permission)."""
    user = current_user()
    if not page_allowed(user, PATH) or level not in figures.LEVELS \
            or period not in published_periods():
        raise PreventUpdate
    roots = offered_roots(user, [TABLE])
    options = figures.area_options(areas_under(period, roots, level), language())
    values = [o["value"] for o in options]
    return options, chosen if chosen in values else (values[0] if values else None)


tribe_pyramid.register()  # its callbacks, for this app (see there)


def alert(message: str) -> tuple[str, Any]:
    return "", html.P(message, role="alert")


@callback(Output(STATUS, "children"), Output(OUTPUT, "children"),
          Input(AREA, "value"), Input(PERIOD, "value"), Input(COMPARE, "value"),
          Input(BAND, "value"), Input(UNIT, "value"))
def show(area: Any, period: Any, compare: Any, band: Any, unit: Any) -> Any:
    """The pyramid of ``area``; one ``view`` of ``population_by_age`` for both periods."""
    user = current_user()
    if not page_allowed(user, PATH):
        return "", not_permitted()
    published = published_periods()
    if not isinstance(area, str) or not AREA_CODE.fullmatch(area) or period not in published \
            or (compare is not None and compare not in published) \
            or band not in BANDS or unit not in UNITS:
        return alert(t("請選擇地區及已公布的統計期。",
                       "Choose an area and a published period."))
    periods = [period] + ([compare] if compare and compare != period else [])
    try:
        frame = view(TABLE, [area], periods)
    except Refused:
        return alert(t(f"您的授權不包含此地區的人口年齡資料：{area_with_code(area)}。",
                       f"Your grant does not cover population by age for {area_with_code(area)}."))
    if frame.is_empty():
        return alert(t("此地區在所選統計期沒有資料。",
                       "There are no figures for this area in the chosen period."))
    lang, percent = language(), unit == "percent"
    values = figures.pyramid_values(frame, periods, int(band))
    place = area_name(area, period)
    when = "、".join(period_label(p) for p in periods) if lang == "zh" \
        else " and ".join(period_label(p) for p in periods)
    caption = t(f"{place} {when} 人口按性別及年齡分", f"Population of {place} by sex and age, "
                f"{when}")
    graph = dcc.Graph(figure=figures.pyramid_figure(values, periods, percent, lang),
                      config=figures.PLOT_CONFIG, mathjax=False)
    described = t(f"人口金字塔：{caption}。男性在左，女性在右；數值見下表。",
                  f"Population pyramid: {caption}. Males left, females right; the values are "
                  "in the table below.")
    table = figures.pyramid_table(values, periods, percent, caption, lang)
    return (t(f"已顯示 {caption}", f"Showing {caption}"), html.Div([
        html.Div(graph, role="img", **{"aria-label": described}),
        summary(frame, area, periods, lang),
        figures.html_table(table),
        figure_download.source("pyramid", figure_queries.pyramid_query(
            area, periods, int(band), lang), caption),
    ]))


def medians(frame: pl.DataFrame, area: str, periods: list[str]) -> tuple[pl.DataFrame, bool]:
    """Median age per period: the published ``indicators`` value when the caller's grant
    covers that table here (a view, audited), else computed from the age counts by the
    contract's rule. The flag says which, so the page can tell the reader."""
    if covered(offered_roots(current_user(), ["indicators"]), area):
        try:
            published = view("indicators", [area], periods, columns=["period", "median_age"])
            return published, True
        except Refused:  # grant lapsed between the two reads: fall back to computing
            pass
    return figures.median_ages(frame), False


def summary(frame: pl.DataFrame, area: str, periods: list[str], lang: str) -> Any:
    """Total, males, females and median age of each period shown."""
    ages, published = medians(frame, area, periods)
    totals = (frame.group_by("period").agg(
        total=pl.col("population").sum(),
        male=pl.col("population").filter(pl.col("sex") == 1).sum(),
        female=pl.col("population").filter(pl.col("sex") == 2).sum(),
    ).join(ages, on="period", how="left"))
    order = pl.DataFrame({"period": periods})
    rows = [
        [period_label(p, lang), figures.count_text(total), figures.count_text(male),
         figures.count_text(female), figures.ratio_text(median)]
        for p, total, male, female, median in order.join(totals, on="period", how="left")
        .select("period", "total", "male", "female", "median_age").iter_rows()
    ]
    source = (t("年齡中位數取自已公布之人口指標表。",
                "Median age as published in the indicators table.") if published else
              t("年齡中位數依單一年齡人數計算（您的授權不包含人口指標表）。",
                "Median age computed from the single-year counts (your grant does not "
                "include the indicators table)."))
    table = figures.TextTable(
        t("摘要", "Summary"),
        [t("統計期", "Period"), t("總人口", "Total"), t("男", "Male"), t("女", "Female"),
         t("年齡中位數（歲）", "Median age (years)")], rows)
    return html.Div([figures.html_table(table, "summary"), html.P(source)])


figure_download.register(PATH, "pyramid", show, [AREA, PERIOD, COMPARE, BAND, UNIT])
