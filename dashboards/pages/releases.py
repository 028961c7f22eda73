"""Releases (``/releases``): what was published when, every revision with its note, and
the release calendar — planned dates and scheduled publications. Only metadata: no table
data, but still behind login. Agencies see public revisions only, and of a scheduled
publication only its period and time (a pre-announced release time, as a release calendar
gives it); provider staff also see drafts and scheduled revisions with their notes.
Every time is on Taipei clocks in the reader's language (``stats.taipei``). Provider staff
also compare two revisions of a period here (``dashboards.revision_view``)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import dash
from dash import html

from dashboards.bulletin_download import bulletin_url
from dashboards.data import is_official
from dashboards.i18n import language, period_both, t
from dashboards.revision_view import comparison_section
from dashboards.shell import title
from dashboards.web import current_user, services
from stats.publication import calendar, list_releases, note_label
from stats.taipei import format_date, format_time

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


def bulletin_rows(releases: Path, now: datetime) -> list[tuple[str, int]]:
    """(period, revision) of each period's public revision, newest period first: whose
    bulletin every logged-in reader may download (none before publication)."""
    public = [(r["period"], r["revision"]) for r in list_releases(releases, now)
              if r["state"] == "published"]
    return sorted(public, reverse=True)


def bulletin_section(releases: Path, now: datetime) -> list[Any]:
    """The bulletins (內政統計通報) of the public periods, PDF and HTML in both languages."""
    rows = bulletin_rows(releases, now)
    if not rows:
        return []
    links = (("zh-TW", "pdf", "中文 PDF"), ("zh-TW", "html", "中文 HTML"),
             ("en", "pdf", "English PDF"), ("en", "html", "English HTML"))
    return [
        html.H2(t("統計通報", "Statistical bulletins")),
        html.Table([
            html.Caption(t("各期人口統計通報（已公布之期別）",
                           "Each public period's population bulletin")),
            html.Thead(html.Tr([html.Th(t("統計期", "Period"), scope="col"),
                                html.Th(t("修訂", "Revision"), scope="col"),
                                html.Th(t("下載", "Download"), scope="col")])),
            html.Tbody([html.Tr([
                html.Th(period_both(period), scope="row"), html.Td(str(revision), className="num"),
                html.Td([item for lang, fmt, text in links for item in (
                    html.A(text, href=bulletin_url(period, lang, fmt),
                           className="bulletin-link"), " ")]),
            ]) for period, revision in rows]),
        ]),
    ]


def _shown(moment: str | None, lang: str) -> str:
    return format_time(datetime.fromisoformat(moment), lang) if moment else "—"


def release_rows(releases: Path, now: datetime, staff: bool, lang: str) -> list[list[str]]:
    """The revisions the reader may see, newest period first: period, revision, state, the
    time it is (or will be) public, note."""
    shown = [r for r in list_releases(releases, now) if visible(r, staff)]
    shown.sort(key=lambda r: (r["period"], r["revision"]), reverse=True)
    return [revision_cells(r, lang) for r in shown]


def revision_cells(release: dict[str, Any], lang: str) -> list[str]:
    """One ``list_releases`` row as people read it: period, revision, state, public from,
    note."""
    return [release["period"], str(release["revision"]), release["state"],
            _shown(release["published_at"], lang), note_label(release.get("note") or "", lang)]


def revisions_table(cells: list[list[str]], caption: str | None = None) -> Any:
    """The table of revisions (``revision_cells`` rows), here and on each table's page."""
    return html.Table([
        *([html.Caption(caption)] if caption else []),
        html.Thead(html.Tr([html.Th(t("統計期", "Period"), scope="col"),
                            html.Th(t("修訂", "Revision"), scope="col"),
                            html.Th(t("狀態", "State"), scope="col"),
                            html.Th(t("公布時間", "Public from"), scope="col"),
                            html.Th(t("說明", "Note"), scope="col")])),
        html.Tbody([html.Tr([html.Th(period_both(period), scope="row"),
                             html.Td(revision, className="num"), html.Td(state_label(state)),
                             html.Td(at), html.Td(note)])
                    for period, revision, state, at, note in cells]),
    ])


def calendar_rows(releases: Path, now: datetime, staff: bool, lang: str) -> list[list[str]]:
    """What is coming: period, when (a scheduled time, or a planned date), what, note."""
    rows = []
    for e in calendar(releases, now):
        if e["at"]:
            when = _shown(e["at"], lang)
            what = (f"第 {e['revision']} 版排定公布" if lang == "zh"
                    else f"revision {e['revision']} scheduled") if staff else (
                "排定公布" if lang == "zh" else "scheduled")
            note = note_label(e["note"], lang) if staff else ""
        else:
            when = format_date(date.fromisoformat(e["planned"]), lang)
            what, note = ("預定" if lang == "zh" else "planned"), e["note"]
        rows.append([e["period"], when, what, note])
    return rows


def layout(period: str | None = None, old: str | None = None, new: str | None = None,
           **_: Any) -> Any:
    svc = services()
    staff = is_official(current_user())
    lang, now = language(), svc.now()
    # two revisions compared (provider staff: the largest changes show figures)
    compared = comparison_section(svc.releases, period, old, new, lang) if staff else []
    planned = [
        html.Tr([html.Th(period_both(period), scope="row"), html.Td(when), html.Td(what),
                 html.Td(note)])
        for period, when, what, note in calendar_rows(svc.releases, now, staff, lang)
    ]
    return html.Div([
        html.H1(title("/releases")),
        revisions_table(release_rows(svc.releases, now, staff, lang),
                        t("已發布的統計及其修訂", "Releases and their revisions")),
        *bulletin_section(svc.releases, now),
        html.H2(t("發布日程", "Release calendar")),
        html.Table([
            html.Caption(t("排定的公布時間與預定日期", "Scheduled publications and planned dates")),
            html.Thead(html.Tr([html.Th(t("統計期", "Period"), scope="col"),
                                html.Th(t("時間", "When"), scope="col"),
                                html.Th(t("類別", "What"), scope="col"),
                                html.Th(t("說明", "Note"), scope="col")])),
            html.Tbody(planned),
        ]) if planned else html.P(t("尚無排定的發布。", "Nothing is planned yet.")),
        *compared,
    ])
