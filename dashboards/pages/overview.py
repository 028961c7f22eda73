"""Overview (``/``): headline figures of the latest published month, with change on the
previous month, for the caller's grant (national, or the agency's granted area)."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Input, Output, callback, dcc, html

from access.grants import granted_areas
from access.models import NATIONAL, User
from dashboards.web import current_user, protected_callback, services
from stats.catalogue import COLUMNS
from stats.codes import COUNTY_NAMES
from stats.periods import Period
from stats.publication import list_releases, published_revision_dir
from stats.release import read_table

dash.register_page(__name__, path="/", name="總覽 Overview", title="總覽 Overview")

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
CHANNEL = "online_query"


def area_label(code: str) -> str:
    return "全國 Taiwan" if code == NATIONAL else f"{COUNTY_NAMES.get(code, code)} {code}"


def published_months() -> list[str]:
    svc = services()
    months = [r["period"] for r in list_releases(svc.releases, svc.now())
              if r["state"] == "published" and r["kind"] == "month"]
    return sorted(set(months))


def user_areas(user: User) -> list[str]:
    """The areas offered in the drop-down (offering is not permission: the callback checks)."""
    svc = services()
    from flask import g
    areas: set[str] = set()
    for table in TABLES:
        areas |= set(granted_areas(g.db, user, table, CHANNEL, svc.now()))
    return sorted(areas)


def layout(area: str | None = None, **_: Any) -> Any:
    user = current_user()
    areas = user_areas(user) if user is not None else []
    months = published_months()
    latest = months[-1] if months else None
    value = area if area in areas else (areas[0] if areas else None)
    return html.Div([
        html.H1("總覽 Overview"),
        html.Label("地區 Area", htmlFor=AREA),
        dcc.Dropdown(id=AREA, options=[{"label": area_label(a), "value": a} for a in areas],
                     value=value, clearable=False),
        dcc.Store(id=PERIOD, data=latest),
        html.Div(id=FIGURES, **{"aria-live": "polite"}),
    ])


def _previous(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return f"{year:04d}-{month:02d}"


def _value(period: str, table: str, area: str, column: str) -> int | None:
    svc = services()
    release = published_revision_dir(svc.releases, period, svc.now())
    if release is None:
        return None
    frame = read_table(release, table).filter(pl.col("area_code") == area)
    if frame.is_empty() or column not in frame.columns:
        return None
    return int(frame[column].sum())


def _pairs(area: str | None, period: str | None) -> list[tuple[str, str]]:
    return [(table, area) for table in TABLES] if area and period else []


@callback(Output(FIGURES, "children"), Input(AREA, "value"), Input(PERIOD, "data"))
@protected_callback(_pairs)
def show(area: str | None, period: str | None, *, user: User, db: Any,
         allowed: list[tuple[str, str]]) -> Any:
    if not area or not period:
        return html.P("尚無已公布的資料 No published release yet.")
    granted = {table for table, _ in allowed}
    if not granted:
        return html.P("您的授權不包含此地區 This area is outside your grant.", role="alert")
    roc = Period.parse(period).roc_label
    rows = []
    for table, column in MEASURES:
        label = f"{COLUMNS[column].zh} {COLUMNS[column].en}"
        if table not in granted:
            rows.append(html.Tr([html.Th(label, scope="row"),
                                 html.Td("未授權 Not granted", colSpan=3)]))
            continue
        now_value = _value(period, table, area, column)
        before = _value(_previous(period), table, area, column)
        change = (now_value - before) if now_value is not None and before is not None else None
        rows.append(html.Tr([
            html.Th(label, scope="row"),
            html.Td(f"{now_value:,}" if now_value is not None else "—"),
            html.Td(f"{change:+,}" if change is not None else "—"),
            html.Td(COLUMNS[column].unit_zh or ""),
        ]))
    return html.Table([
        html.Caption(f"{area_label(area)}：{roc}（{period}）"),
        html.Thead(html.Tr([html.Th("項目 Measure", scope="col"),
                            html.Th(f"{roc} {period}", scope="col"),
                            html.Th("較上月 Change on last month", scope="col"),
                            html.Th("單位 Unit", scope="col")])),
        html.Tbody(rows),
    ])
