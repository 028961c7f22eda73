"""The frame around every page: navigation for the caller's role, language switch, logout.

``PAGES`` is the one list of pages and who may open them; the navigation shows only those,
and ``page_allowed`` is what each page's layout and callbacks check (hiding a link is not
protection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dash
from dash import Input, Output, dcc, html
from flask import g, has_request_context

from access.models import User
from access.notices import agency_notices, notice_text
from dashboards.i18n import HTML_LANG, language, t
from dashboards.web import services

EVERYONE, AGENCIES, STAFF = "everyone", "agencies", "staff"
LANG_NEXT = "shell-language-next"


@dataclass(frozen=True)
class Page:
    path: str
    zh: str
    en: str
    audience: str


PAGES = (
    Page("/", "總覽", "Overview", EVERYONE),
    Page("/pyramid", "人口金字塔", "Population pyramid", EVERYONE),
    Page("/trends", "趨勢", "Trends", EVERYONE),
    Page("/map", "地圖", "Map", EVERYONE),
    Page("/migration", "縣市間遷徙", "Migration", EVERYONE),
    Page("/life", "平均餘命", "Life expectancy", EVERYONE),
    Page("/builder", "自訂報表", "Table builder", EVERYONE),
    Page("/releases", "發布", "Releases", EVERYONE),
    Page("/tables", "資料表", "Tables", EVERYONE),
    Page("/deliveries", "我的交付", "My deliveries", AGENCIES),
    Page("/admin", "管理", "Administration", STAFF),
)


def page_allowed(user: User | None, path: str) -> bool:
    """Whether ``user`` may open the page at ``path`` (unknown paths: no)."""
    if user is None:
        return False
    for page in PAGES:
        if page.path == path:
            if page.audience == AGENCIES:
                return user.agency_id is not None
            if page.audience == STAFF:
                return user.agency_id is None
            return True
    return False


def not_permitted() -> Any:
    """What a page shows to someone its audience excludes."""
    return html.P(t("您沒有使用此頁面的權限。", "You are not permitted to use this page."),
                  role="alert")


def title(page_path: str) -> str:
    page = next(p for p in PAGES if p.path == page_path)
    return t(page.zh, page.en)


def agency_notice(user: User | None, lang: str) -> list[Any]:
    """What an agency user must be told on every page (points 19, 20: suspended since when,
    by whom, until when to improve, whom to contact; lapsed; terminated) — empty otherwise."""
    if user is None or user.agency_id is None or not has_request_context():
        return []
    notices = agency_notices(g.db, user.agency_id, services().now())
    if not notices:
        return []
    return [html.Div([
        html.Strong(t("連結作業通知", "Notice about your linking")),
        html.Ul([html.Li(notice_text(n, lang)) for n in notices]),
    ], role="alert", id="agency-notice", className="notice")]


def layout() -> Any:
    """The shell (``app.layout``): evaluated per request, so it follows user and language."""
    web = getattr(g, "web_user", None) if has_request_context() else None
    user = web.user if web is not None else None
    csrf = services().csrf_for(web.session_value) if web is not None else ""
    lang = language()
    links = [
        dcc.Link(t(p.zh, p.en), href=p.path, className="nav-link")
        for p in PAGES if page_allowed(user, p.path)
    ]
    who = f"{user.username} ({user.agency.name if user.agency else user.provider.name})" \
        if user is not None and (user.agency or user.provider) else ""
    other = "en" if lang == "zh" else "zh"
    return html.Div([
        html.Header([
            html.Nav(links, **{"aria-label": t("主選單", "Main menu")}),
            html.Div([  # the account's part stays together on one line, at the right
                html.Span(who, className="who"),
                html.Form([
                    dcc.Input(type="hidden", name="csrf_token", value=csrf),
                    dcc.Input(type="hidden", name="lang", value=other),
                    dcc.Input(type="hidden", name="next", value="/", id=LANG_NEXT),
                    html.Button("English" if other == "en" else "中文", type="submit",
                                id="shell-language", lang=HTML_LANG[other]),
                ], method="post", action="/language", className="inline"),
                html.Form([
                    dcc.Input(type="hidden", name="csrf_token", value=csrf),
                    html.Button(t("登出", "Log out"), type="submit", id="shell-logout"),
                ], method="post", action="/logout", className="inline"),
            ], className="account"),
        ], className="shell-header"),
        *agency_notice(user, lang),
        html.Main(dash.page_container, id="main"),
    ], lang=HTML_LANG[lang])


def remember_page(pathname: str | None) -> str:
    """The language switch returns to the page the user is on (known pages only)."""
    known = {p.path for p in PAGES}
    return pathname if pathname in known else "/"


def register(app_dash: dash.Dash) -> None:
    """The shell's own callback, on this app (the module is imported once per process)."""
    app_dash.callback(Output(LANG_NEXT, "value"), Input("_pages_location", "pathname"))(
        remember_page)
