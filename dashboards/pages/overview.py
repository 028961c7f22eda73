"""Overview (``/``): headline figures of the latest published month for one granted area,
with the change on the previous month and on the same month a year earlier."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Input, Output, callback, dcc, html

from dashboards.data import area_name, offered_roots, published_periods, view
from dashboards.i18n import period_both, period_label, t
from dashboards.shell import title
from dashboards.web import Refused, current_user
from stats.catalogue import COLUMNS
from stats.periods import Month

dash.register_page(__name__, path="/", title=lambda **_: title("/"))

AREA = "overview-area"
PERIOD = "overview-period"
FIGURES = "overview-figures"
MEASURES = (
    ("population", "population"),
    ("population", "households"),
    ("vital_events", "births"),
    ("vital_events", "deaths"),
    ("vital_events", "marriages"),
    ("vital_events", "divorces"),
    ("vital_events", "natural_increase"),
    ("vital_events", "social_increase"),
)
TABLES = ("population", "vital_events")


def layout(**_: Any) -> Any:
    user = current_user()
    areas = offered_roots(user, TABLES) if user is not None else []
    months = published_periods("month")
    latest = months[-1] if months else None
    return html.Div([
        html.H1(title("/")),
        html.Label(t("地區", "Area"), htmlFor=AREA),
        dcc.Dropdown(id=AREA, options=[{"label": area_name(a, latest), "value": a}
                                       for a in areas],
                     value=areas[0] if areas else None, clearable=False),
        html.Label(t("統計期", "Period"), htmlFor=PERIOD),
        dcc.Dropdown(id=PERIOD, options=[{"label": period_both(m), "value": m}
                                         for m in reversed(months)],
                     value=latest, clearable=False),
        html.Div(id=FIGURES, **{"aria-live": "polite"}),
    ])


def earlier(period: str, months: int) -> str:
    """The month ``months`` before ``period`` (YYYY-MM)."""
    return str(Month.parse(period).shift(-months))


def headline(frame: pl.DataFrame, period: str, column: str) -> int | None:
    """One measure of one period from a single-area slice (None when absent)."""
    rows = frame.filter(pl.col("period") == period)
    if rows.is_empty() or column not in rows.columns:
        return None
    return int(rows[column].sum())


def change(now: int | None, before: int | None) -> str:
    return f"{now - before:+,}" if now is not None and before is not None else "—"


@callback(Output(FIGURES, "children"), Input(AREA, "value"), Input(PERIOD, "value"))
def show(area: str | None, period: str | None) -> Any:
    """The figures table; each table is read through ``view`` (grant checked, audited)."""
    if not area or period not in published_periods("month"):  # a crafted text too
        return html.P(t("尚無已公布的資料。", "No published release yet."))
    periods = [p for p in (earlier(period, 12), earlier(period, 1), period)
               if p in set(published_periods("month"))]
    frames: dict[str, pl.DataFrame | None] = {}
    for table in TABLES:
        try:
            frames[table] = view(table, [area], periods)
        except Refused:
            frames[table] = None
    if all(frame is None for frame in frames.values()):
        return html.P(t("您的授權不包含此地區。", "This area is outside your grant."),
                      role="alert")
    rows = []
    for table, column in MEASURES:
        label = t(COLUMNS[column].zh, COLUMNS[column].en)
        frame = frames[table]
        if frame is None:
            rows.append(html.Tr([html.Th(label, scope="row"),
                                 html.Td(t("未授權", "Not granted"), colSpan=4)]))
            continue
        value = headline(frame, period, column)
        rows.append(html.Tr([
            html.Th(label, scope="row"),
            html.Td(f"{value:,}" if value is not None else "—", className="num"),
            html.Td(change(value, headline(frame, earlier(period, 1), column)), className="num"),
            html.Td(change(value, headline(frame, earlier(period, 12), column)), className="num"),
            html.Td(t(COLUMNS[column].unit_zh, COLUMNS[column].unit_en)),
        ]))
    return html.Table([
        html.Caption(t(f"{area_name(area, period)}：{period_both(period)}",
                       f"{area_name(area, period)}: {period_both(period)}")),
        html.Thead(html.Tr([html.Th(t("項目", "Measure"), scope="col"),
                            html.Th(period_label(period), scope="col"),
                            html.Th(t("較上月", "Change on last month"), scope="col"),
                            html.Th(t("較去年同月", "Change on last year"), scope="col"),
                            html.Th(t("單位", "Unit"), scope="col")])),
        html.Tbody(rows),
    ], className="figures")


