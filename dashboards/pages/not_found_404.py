"""The page for a path no page has, in the caller's language (Dash shows the module named
``not_found_404`` instead of its English "404 - Page not found"). It says nothing about
what exists beyond the caller's own navigation, and links back to the overview."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboards.i18n import t

dash.register_page(__name__, path="/404", title=lambda **_: t("找不到此頁面", "Page not found"))


def layout(**_: Any) -> Any:
    return html.Div([
        html.H1(t("找不到此頁面", "Page not found")),
        html.P(t("您要開啟的網址沒有對應的頁面；請由上方選單選擇頁面。",
                 "There is no page at this address; choose a page from the menu above.")),
        dcc.Link(t("回到總覽", "Back to the overview"), href="/"),
    ])
