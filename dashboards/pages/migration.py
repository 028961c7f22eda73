"""Migration (``/migration``): county-to-county flows of ``migration_flows`` (CONTRACT §8) for a
published period — the origin × destination matrix as a heat map, its values as a table, and
the largest flows as a list.

Rows are origins: the table's ``area_code`` is the county a move leaves, so a grant of one
county shows that county's row (where its movers went), not the moves into it, which are
other counties' rows. ``99999`` (outside the register: abroad, first registration,
de-registration) is an origin no county grant covers; only a national grant reads it. A
chord or Sankey diagram of 23 × 23 flows was left out: the matrix and the list stay readable.
"""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Input, Output, callback, dcc, html

from dashboards import figures
from dashboards import programme_figures as pf
from dashboards.data import (
    area_name,
    areas_under,
    latest_period,
    offered_roots,
    periods_with,
    published_periods,
    release_areas,
    view,
)
from dashboards.i18n import language, period_both, period_label, t
from dashboards.shell import not_permitted, page_allowed, title
from dashboards.web import Refused, current_user
from stats.catalogue import TABLES
from stats.schemas import OUTSIDE_CODE

PATH = "/migration"
dash.register_page(__name__, path=PATH, title=lambda **_: title(PATH))

TABLE = "migration_flows"
PERIOD, MEASURE = "migration-period", "migration-measure"
STATUS, OUTPUT = "migration-status", "migration-output"
MEASURES = ("moves", "moves_male", "moves_female")
LIMIT = 20  # the list of largest flows
NATIONAL = "00000"


def not_in_release(period: str) -> str:
    spec = TABLES[TABLE]
    return t(f"{period_label(period)}之發布不含「{spec.title_zh}」（此發布建立時尚無此表）。"
             "請選擇其他統計期。",
             f"The {period_label(period)} release does not hold “{spec.title_en}” (it was "
             "built without it). Choose another period.")


def layout(period: str | None = None, **_: Any) -> Any:
    """Controls only: the matrix arrives through ``show`` (grant checked, audited)."""
    user = current_user()
    if not page_allowed(user, PATH):
        return not_permitted()
    heading = html.H1(title(PATH))
    periods = published_periods()
    if not periods:
        return html.Div([heading, html.P(t("尚無已公布的資料。", "No published release yet."))])
    if not origins_of(offered_roots(user, [TABLE]), periods[-1]):
        return html.Div([heading, html.P(t(
            "您的授權不包含任何縣市之縣市間遷徙資料。",
            "Your grant includes migration flows for no county."), role="alert")])
    default = (periods_with(TABLE, "month") or periods_with(TABLE)
               or [latest_period("month") or periods[-1]])[-1]
    lang = language()
    labels = figures.DROPDOWN_LABELS[lang]
    return html.Div([
        heading,
        html.P(t("列為遷出縣市、欄為遷入縣市；同一縣市內之遷徙不列入。",
                 "Rows are the county moved from, columns the county moved to; moves within "
                 "one county are not flows."), className="note"),
        html.Div([
            html.Label(t("統計期", "Period"), htmlFor=PERIOD),
            dcc.Dropdown(id=PERIOD, options=figures.period_options(periods, lang),
                         value=period if period in periods else default, clearable=False,
                         labels=labels),
            html.Fieldset([
                html.Legend(t("人數", "Persons")),
                dcc.RadioItems(id=MEASURE, value="moves", inline=True, options=[
                    {"label": t("合計", "All"), "value": "moves"},
                    {"label": t("男", "Male"), "value": "moves_male"},
                    {"label": t("女", "Female"), "value": "moves_female"}]),
            ]),
        ], className="controls"),
        html.P(id=STATUS, **{"aria-live": "polite"}),
        html.Div(id=OUTPUT),
    ])


def origins_of(roots: list[str], period: str) -> list[str]:
    """The origins the grant covers: its counties, and 99999 under a national grant."""
    counties = areas_under(period, roots, "county")["area_code"].to_list()
    return pf.publication_order(counties) + ([OUTSIDE_CODE] if NATIONAL in roots else [])


def alert(message: str) -> tuple[str, Any]:
    return "", html.P(message, role="alert")


@callback(Output(STATUS, "children"), Output(OUTPUT, "children"),
          Input(PERIOD, "value"), Input(MEASURE, "value"))
def show(period: Any, measure: Any) -> Any:
    """The matrix of the granted origins' rows, from one ``view`` (audited)."""
    user = current_user()
    if not page_allowed(user, PATH):
        return "", not_permitted()
    if period not in published_periods() or measure not in MEASURES:
        return alert(t("請選擇已公布的統計期。", "Choose a published period."))
    if period not in periods_with(TABLE):
        return alert(not_in_release(period))
    roots = offered_roots(user, [TABLE])
    origins = origins_of(roots, period)
    if not origins:
        return alert(t("您的授權不包含任何縣市之縣市間遷徙資料。",
                       "Your grant includes migration flows for no county."))
    try:
        rows = view(TABLE, origins, [period], columns=["area_code", "to_code", measure])
    except Refused:
        return alert(t("您的授權不包含所選縣市之遷徙資料。",
                       "Your grant does not cover these counties' migration flows."))
    lang = language()
    counties = release_areas(period).filter(pl.col("area_level") == "county")
    destinations = [*pf.publication_order(counties["area_code"].to_list()), OUTSIDE_CODE]
    matrix = pf.flow_matrix(rows, origins, destinations, measure)
    what = pf.label_with_unit(measure, lang)
    caption = t(f"縣市間遷徙：{what}，{period_both(period)}",
                f"Migration between counties: {what}, {period_both(period)}")
    described = t(f"熱度圖：{caption}。列為遷出縣市，欄為遷入縣市，顏色越深人數越多；數值見下表。",
                  f"Heat map: {caption}. Rows are origins, columns destinations; darker means "
                  "more persons. The values are in the tables below.")
    graph = html.Div(dcc.Graph(figure=pf.flow_heatmap(matrix, origins, destinations, measure,
                                                      lang),
                               config=figures.PLOT_CONFIG, mathjax=False),
                     role="img", **{"aria-label": described})
    largest = pf.largest_flows(rows, measure, LIMIT)
    top = pf.flows_table(largest, t(f"最大的遷徙流向（至多 {LIMIT} 個，{period_label(period)}）",
                                    f"The largest flows (up to {LIMIT}), "
                                    f"{period_label(period)}"), lang)
    parts: list[Any] = [graph]
    if NATIONAL not in roots:
        shown = "、".join(area_name(c, period) for c in origins) if lang == "zh" \
            else ", ".join(area_name(c, period) for c in origins)
        parts.append(html.P(t(
            f"您的授權含 {shown} 為遷出地之資料；遷入這些縣市之人數屬其他縣市（遷出地）之列，"
            "不在授權範圍內，未予顯示。戶籍以外（99999）遷入者僅全國授權可見。",
            f"Your grant covers the flows leaving {shown}; moves into them are rows of other "
            "origins, outside your grant, and are not shown. Moves from outside the register "
            "(99999) are visible under a national grant only."), className="note"))
    parts += [flows_html(top),
              html.Details([html.Summary(t("矩陣數值表", "The matrix as a table")),
                            html.Div(figures.html_table(pf.matrix_table(
                                matrix, origins, destinations, caption, lang)),
                                className="wide-table", tabIndex="0", role="region",
                                **{"aria-label": caption})])]
    status = t(f"已顯示 {caption}", f"Showing the {caption[:1].lower()}{caption[1:]}")
    return status, html.Div(parts)


def flows_html(table: figures.TextTable) -> html.Table:
    """The largest flows: the rank as row header, the places as text, persons as a number."""
    return html.Table([
        html.Caption(table.caption),
        html.Thead(html.Tr([html.Th(h, scope="col", className="num" if k in (0, 3) else None)
                            for k, h in enumerate(table.header)])),
        html.Tbody([html.Tr([html.Th(rank, scope="row", className="num"), html.Td(origin),
                             html.Td(destination), html.Td(persons, className="num")])
                    for rank, origin, destination, persons in table.rows]),
    ], className="flows")
