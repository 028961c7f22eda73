"""Life expectancy (``/life``): the abridged ``life_table`` (CONTRACT §8, years only) of one
granted area — life expectancy at birth and at 65 by sex over the published years, the
granted counties side by side for the chosen year, and the chosen sex's life table.

Each view reads only granted areas through ``view`` (audited); a year whose release holds no
life table (built before the table existed) says so instead of failing.
"""

from __future__ import annotations

import re
from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboards import figures
from dashboards import programme_figures as pf
from dashboards.data import (
    area_name,
    areas_under,
    covered,
    offered_roots,
    periods_with,
    published_periods,
    view,
)
from dashboards.i18n import language, period_label, t
from dashboards.shell import not_permitted, page_allowed, title
from dashboards.web import Refused, current_user
from stats.catalogue import TABLES

PATH = "/life"
dash.register_page(__name__, path=PATH, title=lambda **_: title(PATH))

TABLE = "life_table"
AREA, YEAR, SEX = "life-area", "life-year", "life-sex"
STATUS, OUTPUT = "life-status", "life-output"
SEXES = ("0", "1", "2")
AREA_CODE = re.compile(r"\d{5}")  # the life table has national and county rows only


def area_choices(roots: list[str], year: str, lang: str) -> list[dict[str, str]]:
    """National (under a national grant) and the granted counties."""
    options: list[dict[str, str]] = []
    for level in ("national", "county"):
        options += figures.area_options(areas_under(year, roots, level), lang)
    return options


def layout(area: str | None = None, year: str | None = None, **_: Any) -> Any:
    """Controls only: the figures arrive through ``show`` (grant checked, audited)."""
    user = current_user()
    if not page_allowed(user, PATH):
        return not_permitted()
    heading = html.H1(title(PATH))
    years = published_periods("year")
    held = periods_with(TABLE, "year")
    if not years:
        return html.Div([heading, html.P(t(
            "尚無已公布的年資料（生命表僅編製年資料）。",
            "No year has been published yet (life tables are made for years only)."))])
    roots = offered_roots(user, [TABLE])
    lang = language()
    default = (held or years)[-1]
    options = area_choices(roots, default, lang)
    if not options:
        return html.Div([heading, html.P(t(
            "您的授權不包含全國或任何縣市之簡易生命表。",
            "Your grant includes the life table of no county and not the national one."),
            role="alert")])
    offered = [o["value"] for o in options]
    labels = figures.DROPDOWN_LABELS[lang]
    return html.Div([
        heading,
        html.Div([
            html.Label(t("地區", "Area"), htmlFor=AREA),
            dcc.Dropdown(id=AREA, options=options, clearable=False, labels=labels,
                         value=area if area in offered else offered[0]),
            html.Label(t("年", "Year"), htmlFor=YEAR),
            dcc.Dropdown(id=YEAR, options=figures.period_options(years, lang), clearable=False,
                         labels=labels, value=year if year in years else default),
            html.Fieldset([
                html.Legend(t("生命表性別", "Life table of")),
                dcc.RadioItems(id=SEX, value="0", inline=True, options=[
                    {"label": figures.sex_label(int(s), lang), "value": s} for s in SEXES]),
            ]),
        ], className="controls"),
        html.P(id=STATUS, **{"aria-live": "polite"}),
        html.Div(id=OUTPUT),
    ])


def alert(message: str) -> tuple[str, Any]:
    return "", html.P(message, role="alert")


def not_in_release(year: str) -> str:
    spec = TABLES[TABLE]
    return t(f"{period_label(year)}之發布不含「{spec.title_zh}」（該發布建立時尚無此表）。",
             f"The {period_label(year)} release does not hold the “{spec.title_en}” (it was "
             "built without it).")


@callback(Output(STATUS, "children"), Output(OUTPUT, "children"),
          Input(AREA, "value"), Input(YEAR, "value"), Input(SEX, "value"))
def show(area: Any, year: Any, sex: Any) -> Any:
    """e0 and e65 over the years, the counties of the year, and the life table."""
    user = current_user()
    if not page_allowed(user, PATH):
        return "", not_permitted()
    if not isinstance(area, str) or not AREA_CODE.fullmatch(area) \
            or year not in published_periods("year") or sex not in SEXES:
        return alert(t("請選擇地區、年及性別。", "Choose an area, a year and a sex."))
    held = periods_with(TABLE, "year")
    if year not in held:
        return alert(not_in_release(year))
    roots = offered_roots(user, [TABLE])
    try:
        frame = view(TABLE, [area], held)
    except Refused:
        return alert(t(f"您的授權不包含此地區之簡易生命表：{area_name(area, year)}。",
                       f"Your grant does not cover the life table of {area_name(area, year)}."))
    lang = language()
    place = area_name(area, year)
    labels = [period_label(p, lang) for p in held]
    parts: list[Any] = []
    for age in (0, 65):
        caption = t(f"{place} 出生時平均餘命（歲）", f"Life expectancy at birth, {place} (years)") \
            if age == 0 else t(f"{place} {age}歲平均餘命（歲）",
                               f"Life expectancy at age {age}, {place} (years)")
        fig, table = pf.life_lines(frame, held, labels, age, caption, lang)
        parts += [html.H2(caption), html.Div(
            dcc.Graph(figure=fig, config=figures.PLOT_CONFIG, mathjax=False), role="img",
            **{"aria-label": t(f"折線圖：{caption}，按性別及年；數值見下表。",
                               f"Line chart: {caption}, by sex and year; the values are in "
                               "the table below.")}),
            figures.html_table(table)]
    parts += county_section(roots, year, lang)
    chosen = int(sex)
    caption = t(f"{place} {period_label(year)} 簡易生命表（{figures.sex_label(chosen, lang)}）",
                f"Abridged life table, {place}, {period_label(year)} "
                f"({figures.sex_label(chosen, lang).lower()})")
    year_rows = frame.filter(frame["period"] == year)
    parts += [html.H2(caption), figures.html_table(pf.life_table_text(year_rows, chosen, caption,
                                                                      lang)),
              html.P(t("依內政部簡易生命表公式計算，未作平滑修勻；小地區之數值波動大。",
                       "Computed by the abridged formulas without smoothing; small areas' "
                       "values vary a lot."), className="note")]
    status = t(f"已顯示 {place} 之平均餘命", f"Showing life expectancy in {place}")
    return status, html.Div(parts)


def county_section(roots: list[str], year: str, lang: str) -> list[Any]:
    """Life expectancy at birth of every granted county in ``year`` (one more audited view);
    nothing when the grant covers fewer than two counties."""
    counties = pf.publication_order([c for c in areas_under(year, roots, "county")["area_code"]
                                     .to_list() if covered(roots, c)])
    if len(counties) < 2:
        return []
    try:
        rows = view(TABLE, counties, [year], columns=["area_code", "sex", "age_group", "ex"])
    except Refused:
        return []
    names = {c: area_name(c, year) for c in counties}
    caption = t(f"各縣市出生時平均餘命，{period_label(year)}",
                f"Life expectancy at birth by county, {period_label(year)}")
    births = rows.filter(rows["age_group"] == 0)
    values = {(a, s): e for a, s, e in births.select("area_code", "sex", "ex").iter_rows()}
    table = figures.TextTable(caption, [t("縣市", "County"), figures.sex_label(1, lang),
                                        figures.sex_label(2, lang), figures.sex_label(0, lang)],
                              [[names[c], *(figures.ratio_text(values.get((c, s)))
                                            for s in (1, 2, 0))] for c in counties])
    return [html.H2(caption), html.Div(
        dcc.Graph(figure=pf.county_dots(rows, counties, names, lang), config=figures.PLOT_CONFIG,
                  mathjax=False), role="img",
        **{"aria-label": t(f"點圖：{caption}，按女性由高至低排列；數值見下表。",
                           f"Dot chart: {caption}, ordered by women's value; the values are in "
                           "the table below.")}),
        *([html.P(t("未列點者：該縣市該性別之生命表為空值（某年齡組平均人口為零，或85歲以上無死亡）。",
                 "A county without a dot has no life table for that sex (an age group with no "
                 "average population, or no deaths at 85 and over)."), className="note")]
          if any(values.get((c, s)) is None for c in counties for s in (1, 2)) else []),
        html.Details([html.Summary(t("數值表", "Values")), figures.html_table(table)])]
