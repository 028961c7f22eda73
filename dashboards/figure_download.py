""""Download the data" and "download the picture" for a chart page (trends, pyramid, map).

A page adds ``controls(PREFIX)`` under its controls, puts ``source(PREFIX, query, caption)``
beside the chart its ``show`` callback returns, and calls ``register(PATH, PREFIX, show,
INPUT_IDS)`` once. A click sends only the page's control values: the server runs the page's
own ``show`` again with them (grant checked and the view audited, as any display), and takes
from its answer the figure and the query document it put there — never a figure or a query
from the browser. Then:

* data (CSV, XLSX): the query run as the table builder runs one (``stats.query``,
  ``exports.query.write_query``) on the newest public revisions;
* picture (PNG, SVG): that figure drawn by plotly.js in Chromium (``dashboards.pictures``),
  with the chart's caption as its title and the source and revisions under it.

Both leave by the guarded download path: an agency gets a file-transfer delivery under its
grant (``access.figure_files``: refused and audited without one, listed under My
deliveries), provider staff a file of their own kept 1 day; either is fetched from
``/deliveries/<id>/file``, which audits the download once the bytes went out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from dash import Input, Output, State, callback, ctx, dcc, html
from flask import g

from access import audit
from access.deliveries import DeliveryError, Forbidden, authorize
from access.figure_files import (
    CHANNEL,
    asked_areas,
    bounded_areas,
    check_cells,
    deliver_picture,
    file_name,
    published_folders,
    staff_areas,
    write_result,
)
from access.models import User
from access.query_files import deliver_query, query_file_name, text_encoding
from dashboards.downloads import file_url, save_staff_file
from dashboards.i18n import language, local_time, t
from dashboards.pictures import PictureError, render, titled
from dashboards.shell import not_permitted, page_allowed
from dashboards.web import current_user, services
from exports.meta import PROVIDER_EN, PROVIDER_ZH
from stats.catalogue import TABLES
from stats.query import Query, QueryError, parse_query
from stats.query_plan import TooLarge
from stats.release import read_manifest

DATA = {"csv": ("資料 CSV", "Data, CSV"), "xlsx": ("資料 Excel（XLSX）", "Data, Excel (XLSX)")}
PICTURES = {"png": ("圖片 PNG", "Picture, PNG"), "svg": ("圖片 SVG", "Picture, SVG")}
FORMATS = (*DATA, *PICTURES)


def button_id(prefix: str, fmt: str) -> str:
    return f"{prefix}-download-{fmt}"


def status_id(prefix: str) -> str:
    return f"{prefix}-download-status"


def link_id(prefix: str) -> str:
    return f"{prefix}-download-link"


def source_id(prefix: str) -> str:
    return f"{prefix}-download-source"


def controls(prefix: str) -> html.Div:
    """The download buttons and the place their answer (a link, or why not) appears."""
    def buttons(choices: dict[str, tuple[str, str]]) -> list[Any]:
        return [html.Button(t(*label), id=button_id(prefix, fmt), n_clicks=0, type="button")
                for fmt, label in choices.items()]

    return html.Div([
        html.Span(t("下載此圖表：", "Download this chart: ")),
        *buttons(DATA), *buttons(PICTURES),
        html.Div(id=status_id(prefix), **{"aria-live": "polite"}),
    ], className="figure-download", role="group",
        **{"aria-label": t("下載資料或圖片", "Download the data or the picture")})


def source(prefix: str, query: dict[str, Any], caption: str) -> dcc.Store:
    """What the chart shows, put beside it by ``show``: read back on the server only."""
    return dcc.Store(id=source_id(prefix), data={"query": query, "caption": caption})


# --- reading the page's own answer ----------------------------------------------------------

def _walk(node: Any) -> Iterator[Any]:
    if isinstance(node, list | tuple):
        for item in node:
            yield from _walk(item)
        return
    if node is None or isinstance(node, str | int | float):
        return
    yield node
    yield from _walk(getattr(node, "children", None))


def shown(answer: Any, prefix: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The figure and the source (query, caption) of a page's ``show`` answer; None when it
    shows no chart (nothing chosen yet, a refusal, an error)."""
    figure = next((n.figure for n in _walk(answer) if isinstance(n, dcc.Graph)), None)
    found = next((n.data for n in _walk(answer) if isinstance(n, dcc.Store)
                  and getattr(n, "id", None) == source_id(prefix)), None)
    if not isinstance(figure, dict) or not isinstance(found, dict):
        return None
    return figure, found


# --- making the file ------------------------------------------------------------------------

def _alert(zh: str, en: str) -> Any:
    return html.P(t(zh, en), role="alert")


def _link(prefix: str, item_id: str, name: str, kept: str) -> Any:
    return html.Div([
        html.A(t(f"下載 {name}", f"Download {name}"), id=link_id(prefix), href=file_url(item_id)),
        html.Span(t(f"（保存至 {kept}）", f" (kept until {kept})")),
    ])


def revisions_note(query: Query, revisions: dict[str, int]) -> str:
    """The picture's footnote: source, table, the revision of each period, when made."""
    spec = TABLES[query.table]
    made = local_time(services().now())
    listed = "、".join(f"{p} 第{r}版" for p, r in revisions.items())
    listed_en = ", ".join(f"{p} r{r}" for p, r in revisions.items())
    return t(f"資料來源：{PROVIDER_ZH}，{spec.title_zh}（{listed}）。製圖：{made}",
             f"Source: {PROVIDER_EN}, {spec.title_en} ({listed_en}). Drawn {made}")


def _staff_file(user: User, query: Query, fmt: str, name: str,
                write: Callable[[Path], object], describes: dict[str, Any]) -> dict[str, Any]:
    now = services().now()
    authorize(g.db, user, [query.table], asked_areas(query) or staff_areas(user), CHANNEL, now)
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    return save_staff_file(user, name, None, None, fmt, encoding,
                           {**describes, "query": query.as_json()}, now, writer=write)


def _data(prefix: str, user: User, query: Query, fmt: str, describes: dict[str, Any]) -> Any:
    """The query's table as the builder makes it: an agency's file-transfer delivery
    (``access.query_files.deliver_query``), or a staff member's own file."""
    svc = services()
    now = svc.now()
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    folders = published_folders(svc.releases, query, now)
    revisions = {p: int(read_manifest(f)["revision"]) for p, f in folders.items()}
    if user.agency_id is not None:
        areas = bounded_areas(g.db, user, query, now)
        authorize(g.db, user, [query.table], areas, CHANNEL, now)  # before counting cells
        check_cells(query, folders, areas)
        delivery = deliver_query(g.db, user, svc.releases, query, areas, CHANNEL, fmt,
                                 encoding, svc.outbox, now)
        g.db.commit()
        name = query_file_name(delivery.options["provider"], query,
                               delivery.options["revisions"], fmt, text_encoding(fmt, encoding))
        return _link(prefix, delivery.id, name, local_time(delivery.expires_at))
    areas = staff_areas(user)
    check_cells(query, folders, areas)
    provider = user.provider.code if user.provider else "MOI"
    name = query_file_name(provider, query, revisions, fmt, text_encoding(fmt, encoding))
    record = _staff_file(user, query, fmt, name, lambda path: write_result(
        query, folders, areas, fmt, encoding, path, now), describes)
    return _link(prefix, record["id"], name, local_time(_expiry(record)))


def _expiry(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["expires_at"])


def _picture(prefix: str, user: User, query: Query, figure: dict[str, Any], caption: str,
             fmt: str, describes: dict[str, Any]) -> Any:
    svc = services()
    now = svc.now()
    areas = asked_areas(query)
    if user.agency_id is not None:  # refused (and audited) before a browser is started
        areas = bounded_areas(g.db, user, query, now)
    authorize(g.db, user, [query.table], areas or staff_areas(user), CHANNEL, now)
    folders = published_folders(svc.releases, query, now)
    revisions = {p: int(read_manifest(f)["revision"]) for p, f in folders.items()}
    try:
        data = render(titled(figure, caption, revisions_note(query, revisions)), fmt)
    except PictureError as error:
        audit.record(g.db, user.username, "figure.unrendered", f"table:{query.table}", now,
                     {**describes, "error": str(error)[:2000]}, agency_id=user.agency_id)
        g.db.commit()
        return _alert("目前無法繪製圖片，請稍後再試。", "The picture could not be drawn now; "
                      "try again shortly.")
    describes = {**describes, "revisions": revisions}
    if user.agency_id is not None:
        delivery = deliver_picture(g.db, user, query, fmt, data, svc.outbox, now, describes)
        g.db.commit()
        name = file_name(delivery.options["provider"], query, fmt, prefix)
        return _link(prefix, delivery.id, name, local_time(delivery.expires_at))
    provider = user.provider.code if user.provider else "MOI"
    name = file_name(provider, query, fmt, prefix)
    record = _staff_file(user, query, fmt, name, lambda path: path.write_bytes(data),
                         describes)
    return _link(prefix, record["id"], name, local_time(_expiry(record)))


def make_file(path: str, prefix: str, fmt: str, answer: Any) -> Any:
    """The answer to one click: a link to the file made, or why there is none."""
    user = current_user()
    if user is None or not page_allowed(user, path):
        return not_permitted()
    found = shown(answer, prefix)
    if found is None:
        return _alert("目前沒有可下載的圖表：請先完成上方的選擇。",
                      "No chart is shown to download: complete the choices above first.")
    figure, what = found
    try:
        query = parse_query(what.get("query"))
    except QueryError as error:  # a derived measure, areas of two levels: no query table
        return _alert(f"此圖表的選擇無法寫成報表（{error}），未建立任何檔案。",
                      f"This chart's selection does not make a table ({error}); nothing "
                      "was made.")
    describes = {"page": prefix, "kind": "picture" if fmt in PICTURES else "data",
                 "format": fmt, "table": query.table, "periods": list(query.periods),
                 "language": language()}
    try:
        if fmt in PICTURES:
            return _picture(prefix, user, query, figure, str(what.get("caption", "")), fmt,
                            describes)
        return _data(prefix, user, query, fmt, describes)
    except Forbidden:  # audited by the access layer
        return _alert("您的授權不包含以檔案傳輸取得此資料表或地區，未建立任何檔案。",
                      "Your grant does not include this table or area by file transfer; "
                      "nothing was made.")
    except TooLarge as error:
        return _alert(f"資料量過大：{error}", f"Too large: {error}")
    except DeliveryError as error:
        return _alert(f"無法建立檔案：{error}", f"The file could not be made: {error}")


def register(path: str, prefix: str, show: Callable[..., Any], inputs: list[str]) -> None:
    """The page's download callback: its buttons, and its ``show`` inputs as states."""

    @callback(Output(status_id(prefix), "children"),
              *[Input(button_id(prefix, fmt), "n_clicks") for fmt in FORMATS],
              *[State(component, "value") for component in inputs],
              prevent_initial_call=True)
    def download(*values: Any) -> Any:
        clicked = ctx.triggered_id
        fmt = next((f for f in FORMATS if button_id(prefix, f) == clicked), None)
        if fmt is None:
            return _alert("請選擇要下載的格式。", "Choose what to download.")
        if not page_allowed(current_user(), path):
            return not_permitted()
        return make_file(path, prefix, fmt, show(*values[len(FORMATS):]))

    download.__name__ = f"{prefix}_download"
