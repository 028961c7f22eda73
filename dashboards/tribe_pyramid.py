"""The indigenous peoples' section of the pyramid page (``indigenous_by_tribe``, CONTRACT §8).

The release counts each people by sex, not by age (the table's only key is ``tribe``), so the
"pyramid" of a people is drawn over what the table has: with every people chosen, one bar
pair (men left, women right) per people in the area; with one people chosen, one bar pair per
area one level down (where its members live) under the area's own total. The page says so.

Every read goes through ``view`` (grant checked, audited); a period whose release holds no
such table (a v1 extract's) says so instead of failing.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboards import figures
from dashboards import programme_figures as pf
from dashboards.data import (
    area_name,
    areas_under,
    latest_period,
    offered_roots,
    periods_with,
    published_periods,
    view,
)
from dashboards.i18n import language, period_label, t
from dashboards.shell import not_permitted, page_allowed
from dashboards.web import Refused, current_user
from stats.catalogue import TABLES
from stats.schemas import TRIBES

TABLE = "indigenous_by_tribe"
PATH = "/pyramid"
LEVEL, AREA, PERIOD, TRIBE = ("pyramid-tribe-level", "pyramid-tribe-area",
                              "pyramid-tribe-period", "pyramid-tribe")
STATUS, OUTPUT = "pyramid-tribe-status", "pyramid-tribe-output"
ALL = "all"
AREA_CODE = re.compile(r"\d{5}(\d{3}(\d{3})?)?")
CHILD = {"national": "county", "county": "township", "township": "village"}


def tribe_options(lang: str) -> list[dict[str, str]]:
    return [{"label": figures.tr(lang, "全部族別", "Every people"), "value": ALL}] + [
        {"label": pf.tribe_name(code, lang), "value": str(code)} for code in TRIBES]


def section(user: Any) -> list[Any]:
    """The section's heading, controls and empty output (nothing when not granted)."""
    if not page_allowed(user, PATH):
        return []
    lang = language()
    heading = html.H2(t("原住民族人口（按族別及性別）", "Indigenous peoples (by people and sex)"))
    periods = published_periods()
    roots = offered_roots(user, [TABLE])
    if not periods or not roots:
        return [heading, html.P(t("您的授權不包含原住民族別人口資料。",
                                  "Your grant does not include the population by indigenous "
                                  "people."), role="alert")]
    period = (periods_with(TABLE, "month") or periods_with(TABLE)
              or [latest_period("month") or periods[-1]])[-1]
    levels = figures.levels_within(roots)
    options = figures.area_options(areas_under(period, roots, levels[0]), lang)
    labels = figures.DROPDOWN_LABELS[lang]
    return [
        heading,
        html.P(t("族別人口表無年齡資料，故按族別（或居住地區）及性別繪製。",
                 "The release counts each people by sex, not by age: the bars are peoples (or "
                 "the areas where one people lives), men left and women right."),
               className="note"),
        html.Div([
            html.Label(t("區域層級", "Area level"), htmlFor=LEVEL),
            dcc.Dropdown(id=LEVEL, options=figures.level_options(levels, lang), value=levels[0],
                         clearable=False, labels=labels),
            html.Label(t("地區", "Area"), htmlFor=AREA),
            dcc.Dropdown(id=AREA, options=options, clearable=False, labels=labels,
                         value=options[0]["value"] if options else None),
            html.Label(t("統計期", "Period"), htmlFor=PERIOD),
            dcc.Dropdown(id=PERIOD, options=figures.period_options(periods, lang), value=period,
                         clearable=False, labels=labels),
            html.Label(t("族別", "People"), htmlFor=TRIBE),
            dcc.Dropdown(id=TRIBE, options=tribe_options(lang), value=ALL, clearable=False,
                         labels=labels),
        ], className="controls"),
        html.P(id=STATUS, **{"aria-live": "polite"}),
        html.Div(id=OUTPUT),
    ]


def allowed() -> bool:
    return page_allowed(current_user(), PATH)


def register() -> None:
    """Declare the section's callbacks for the app being built. The pyramid page calls this
    from its module body: Dash executes page modules anew for every app it constructs (and
    ``dashboards.web`` gives each app the callbacks just declared), whereas this module is
    imported once per process, so callbacks declared at its import would reach one app only."""
    callback(Output(AREA, "options"), Output(AREA, "value"),
             Input(LEVEL, "value"), Input(PERIOD, "value"), State(AREA, "value"))(area_choices)
    callback(Output(STATUS, "children"), Output(OUTPUT, "children"),
             Input(AREA, "value"), Input(PERIOD, "value"), Input(TRIBE, "value"))(show)


def area_choices(level: str | None, period: str | None, chosen: str | None) -> Any:
    """The granted areas of ``level`` in ``period`` (offering is not permission)."""
    if not allowed() or level not in figures.LEVELS or period not in published_periods():
        raise PreventUpdate
    roots = offered_roots(current_user(), [TABLE])
    options = figures.area_options(areas_under(period, roots, level), language())
    values = [o["value"] for o in options]
    return options, chosen if chosen in values else (values[0] if values else None)


def alert(message: str) -> tuple[str, Any]:
    return "", html.P(message, role="alert")


def show(area: Any, period: Any, tribe: Any) -> Any:
    """Every people of ``area``, or one people across the areas one level down."""
    if not allowed():
        return "", not_permitted()
    tribes = {str(code): code for code in TRIBES}
    if not isinstance(area, str) or not AREA_CODE.fullmatch(area) \
            or period not in published_periods() or (tribe != ALL and tribe not in tribes):
        return alert(t("請選擇地區、已公布的統計期及族別。",
                       "Choose an area, a published period and a people."))
    if period not in periods_with(TABLE):
        spec = TABLES[TABLE]
        return alert(t(f"{period_label(period)}之發布不含「{spec.title_zh}」"
                       "（以不含族別之資料產製）。請選擇其他統計期。",
                       f"The {period_label(period)} release does not hold “{spec.title_en}” "
                       "(it was built from an extract without peoples). Choose another period."))
    level = figures.level_of(area)
    children = areas_under(period, [area], CHILD[level])["area_code"].to_list() \
        if tribe != ALL and level in CHILD else []
    try:
        frame = view(TABLE, [area, *children], [period])
    except Refused:
        return alert(t(f"您的授權不包含此地區之原住民族別人口：{area_name(area, period)}。",
                       f"Your grant does not cover the indigenous peoples of "
                       f"{area_name(area, period)}."))
    lang = language()
    place, when = area_name(area, period), period_label(period, lang)
    if tribe == ALL:
        rows = frame.filter(pl.col("area_code") == area).sort("tribe")
        names = [pf.tribe_name(c, lang) for c in rows["tribe"].to_list()]
        first = t("族別", "People")
        caption = t(f"{place} {when} 原住民人口按族別及性別分",
                    f"Indigenous population of {place} by people and sex, {when}")
    else:
        code = tribes[tribe]
        rows = frame.filter(pl.col("tribe") == code)
        order = pl.DataFrame({"area_code": [area, *children]})
        rows = order.join(rows, on="area_code", how="left").with_columns(
            pl.col("male", "female").fill_null(0))
        names = [area_name(a, period) for a in rows["area_code"].to_list()]
        first = t("地區", "Area")
        caption = t(f"{place} {when} {pf.tribe_name(code, lang)}人口按地區及性別分",
                    f"{pf.tribe_name(code, lang)} population of {place} by area and sex, {when}")
    male, female = rows["male"].to_list(), rows["female"].to_list()
    graph = dcc.Graph(figure=pf.butterfly_figure(names, male, female, lang),
                      config=figures.PLOT_CONFIG, mathjax=False)
    described = t(f"長條圖：{caption}。男性在左，女性在右；數值見下表。",
                  f"Bar chart: {caption}. Men left, women right; the values are in the table "
                  "below.")
    table = pf.sex_table(names, male, female, first, caption, lang)
    return t(f"已顯示 {caption}", f"Showing the {caption[:1].lower()}{caption[1:]}"), html.Div([
        html.Div(graph, role="img", **{"aria-label": described}),
        figures.html_table(table),
    ])
