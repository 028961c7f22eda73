"""Releases (``/releases``): what was published when, every revision with its note, and
the release calendar. Only metadata: no table data, but still behind login. Agencies see
published revisions only; provider staff also see built-but-unpublished and scheduled ones."""

from __future__ import annotations

from typing import Any

import dash
from dash import html

from dashboards.data import is_official
from dashboards.i18n import period_both, t
from dashboards.shell import title
from dashboards.web import current_user, services
from stats.publication import list_releases, read_calendar

dash.register_page(__name__, path="/releases", title="發布 Releases")

STATES = {
    "published": ("已公布", "published"),
    "superseded": ("已被修訂取代", "superseded"),
    "scheduled": ("排定公布", "scheduled"),
    "draft": ("草稿（未公布）", "draft (not published)"),
}


def state_label(state: str) -> str:
    zh, en = STATES.get(state, (state, state))
    return t(zh, en)


def visible(release: dict[str, Any], staff: bool) -> bool:
    """Agencies learn nothing of a revision before it is public."""
    return staff or release["state"] in ("published", "superseded")


def layout(**_: Any) -> Any:
    svc = services()
    staff = is_official(current_user())
    releases = [r for r in list_releases(svc.releases, svc.now()) if visible(r, staff)]
    releases.sort(key=lambda r: (r["period"], r["revision"]), reverse=True)
    rows = [
        html.Tr([
            html.Th(period_both(r["period"]), scope="row"),
            html.Td(str(r["revision"]), className="num"),
            html.Td(state_label(r["state"])),
            html.Td(str(r.get("published_at") or "—")),
            html.Td(r.get("note") or ""),
        ])
        for r in releases
    ]
    planned = [
        html.Tr([html.Th(period_both(e["period"]), scope="row"), html.Td(e["planned"]),
                 html.Td(e.get("note") or "")])
        for e in read_calendar(svc.releases)
    ]
    return html.Div([
        html.H1(title("/releases")),
        html.Table([
            html.Caption(t("已發布的統計及其修訂", "Releases and their revisions")),
            html.Thead(html.Tr([html.Th(t("統計期", "Period"), scope="col"),
                                html.Th(t("修訂", "Revision"), scope="col"),
                                html.Th(t("狀態", "State"), scope="col"),
                                html.Th(t("公布時間", "Published at"), scope="col"),
                                html.Th(t("說明", "Note"), scope="col")])),
            html.Tbody(rows),
        ]),
        html.H2(t("發布日程", "Release calendar")),
        html.Table([
            html.Caption(t("預定公布日期", "Planned publication dates")),
            html.Thead(html.Tr([html.Th(t("統計期", "Period"), scope="col"),
                                html.Th(t("預定日期", "Planned"), scope="col"),
                                html.Th(t("說明", "Note"), scope="col")])),
            html.Tbody(planned),
        ]) if planned else html.P(t("尚無排定的發布。", "Nothing is planned yet.")),
    ])
