"""Tables (``/tables``, ``/tables?table=population``): one page per table with what users of
statistical tables look for before they ask for data — title, the definition, unit and code
list of every column, footnotes, levels, source and regulation point, the latest published
period, the next scheduled publication, the revision history and the API call. Holds no
data: every logged-in user may read every table's page, whatever their grant."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import dash
from dash import dcc, html

from dashboards.data import is_official
from dashboards.i18n import language, period_both, t
from dashboards.pages.releases import revision_cells, revisions_table, visible
from dashboards.shell import title
from dashboards.web import current_user, services
from stats.catalogue import TABLES
from stats.publication import calendar, list_releases
from stats.table_info import table_info
from stats.taipei import format_date, format_time

dash.register_page(__name__, path="/tables", title="資料表 Tables")


def _time(moment: str | None, lang: str) -> str:
    return format_time(datetime.fromisoformat(moment), lang) if moment else "—"


def _index(lang: str) -> Any:
    return html.Ul([
        html.Li(dcc.Link(f"{spec.code} {spec.title_zh if lang == 'zh' else spec.title_en}",
                         href=f"/tables?table={name}"))
        for name, spec in TABLES.items()
    ], className="table-index")


def _columns(info: dict[str, Any]) -> Any:
    return html.Table([
        html.Caption(t("欄位定義", "Columns")),
        html.Thead(html.Tr([html.Th(t("欄位", "Column"), scope="col"),
                            html.Th(t("名稱", "Label"), scope="col"),
                            html.Th(t("單位", "Unit"), scope="col"),
                            html.Th(t("定義", "Definition"), scope="col")])),
        html.Tbody([html.Tr([html.Th(html.Code(c["name"]), scope="row"), html.Td(c["label"]),
                             html.Td(c["unit"]), html.Td(c["definition"])])
                    for c in info["columns"]]),
    ], className="wrap")


def _code_lists(info: dict[str, Any]) -> list[Any]:
    blocks = []
    for key in info["keys"]:
        values = key["values"]
        shown = values if len(values) <= 12 else [*values[:3], {"code": "…", "label": "…"},
                                                   *values[-2:]]
        blocks.append(html.Details([
            html.Summary(f"{key['label']} ({key['name']})"),
            html.Table(html.Tbody([html.Tr([html.Th(v["code"], scope="row"), html.Td(v["label"])])
                                   for v in shown])),
        ], open=len(values) <= 12))
    return blocks


def _publication(info: dict[str, Any], lang: str, staff: bool) -> list[Any]:
    latest, upcoming = info["latest"], info["next"]
    rows = [
        html.Tr([html.Th(t("最新公布", "Latest published"), scope="row"),
                 html.Td(f"{period_both(latest['period'])} r{latest['revision']}, "
                         f"{_time(latest['published_at'], lang)}" if latest else "—")]),
        html.Tr([html.Th(t("下次發布", "Next publication"), scope="row"),
                 html.Td(_next(upcoming, lang))]),
    ]
    history = [revision_cells(r, lang) for r in info["revisions"] if visible(r, staff)][:24]
    return [
        html.Table(html.Tbody(rows), className="facts"),
        html.H2(t("修訂紀錄", "Revision history")),
        revisions_table(history) if history else html.P(t("尚無公布。", "Nothing published yet.")),
    ]


def _next(entry: dict[str, Any] | None, lang: str) -> str:
    if entry is None:
        return "—"
    when = _time(entry["at"], lang) if entry.get("at") else format_date(
        date.fromisoformat(entry["planned"]), lang)
    return f"{period_both(entry['period'])}: {when}"


def layout(table: str | None = None, **_: Any) -> Any:
    lang = language()
    if table not in TABLES:
        return html.Div([html.H1(title("/tables")),
                         html.P(t("請選擇資料表：", "Choose a table:")), _index(lang)])
    svc = services()
    staff = is_official(current_user())
    now = svc.now()
    releases = [r for r in list_releases(svc.releases, now) if visible(r, staff)]
    info = table_info(table, releases, calendar(svc.releases, now), lang)
    api_query = json.dumps(info["api"]["query"], ensure_ascii=False)
    return html.Div([
        html.P(dcc.Link(t("← 全部資料表", "← All tables"), href="/tables")),
        html.H1(f"{info['code']} {info['title']}"),
        html.Table(html.Tbody([
            html.Tr([html.Th(t("區域層級", "Levels"), scope="row"),
                     html.Td("、".join(info["levels"]) if lang == "zh"
                             else ", ".join(info["levels"]))]),
            html.Tr([html.Th(t("資料來源", "Source"), scope="row"), html.Td(info["source"])]),
            html.Tr([html.Th(t("法規依據", "Regulation"), scope="row"),
                     html.Td(info["regulation"])]),
        ]), className="facts"),
        *_publication(info, lang, staff),
        _columns(info),
        html.H2(t("代碼表", "Code lists")),
        *(_code_lists(info) or [html.P(t("此表無分類欄位。", "This table has no key columns."))]),
        html.H2(t("附註", "Notes")),
        html.Ul([html.Li(note) for note in info["footnotes"]]),
        html.H2(t("以 API 取得", "Through the API")),
        html.Pre(html.Code(info["api"]["table"])),
        html.Pre(html.Code(f"POST /api/v1/query\n{api_query}")),
    ])
