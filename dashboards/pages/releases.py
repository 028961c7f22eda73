"""Releases (``/releases``): what was published when (no table data, but still behind login)."""

from __future__ import annotations

from typing import Any

import dash
from dash import html

from dashboards.web import services
from stats.periods import Period
from stats.publication import list_releases

dash.register_page(__name__, path="/releases", name="發布 Releases", title="發布 Releases")


def layout(**_: Any) -> Any:
    svc = services()
    rows = [
        html.Tr([
            html.Td(f"{Period.parse(r['period']).roc_label} {r['period']}"),
            html.Td(str(r["revision"])),
            html.Td(str(r.get("published_at") or "")),
        ])
        for r in list_releases(svc.releases, svc.now()) if r["state"] == "published"
    ]
    return html.Div([
        html.H1("發布 Releases"),
        html.Table([
            html.Caption("已公布的統計 Published releases"),
            html.Thead(html.Tr([html.Th("統計期 Period", scope="col"),
                                html.Th("修訂 Revision", scope="col"),
                                html.Th("公布時間 Published at", scope="col")])),
            html.Tbody(rows),
        ]),
    ])
