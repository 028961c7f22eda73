"""Table builder (``/builder``): choose a table, period, level, areas and dimensions, preview
the first rows, and have the file made.

Agency users get a real delivery (``access.packages``: authorised for the chosen channel,
audited, kept 7 days, a provider-side failure kept pending and retried). Provider staff get
a file of their own under a server-made id, kept 1 day (``dashboards.downloads``). Preview
and submit read through the access layer, which checks the grant again on every call, so a
crafted callback asking for another county or an ungranted table is refused and audited.
"""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate
from flask import g

import exports
from access.deliveries import DeliveryError, Forbidden, authorize
from access.grants import granted_areas
from access.models import Delivery, User
from access.packages import (
    REQUEST_ERRORS,
    SelectionError,
    UnwritableRequest,
    deliver_file,
    deliver_media,
    selected_rows,
    table_file,
)
from access.staff_files import STAFF_RETENTION
from dashboards.data import (
    areas_under,
    is_agency_user,
    offered_roots,
    published_periods,
    release_areas,
    release_dir,
    view,
)
from dashboards.downloads import file_url, save_staff_file
from dashboards.figures import area_label_expr
from dashboards.i18n import language, local_time, period_both, t
from dashboards.selection import (
    CHANNELS,
    ENCODINGS,
    PREVIEW_ROWS,
    BuilderRequest,
    default_dimensions,
    dimension_choices,
    file_encoding,
    header,
    is_text_format,
    preview_cells,
    problems,
    selection_of,
)
from dashboards.shell import not_permitted, page_allowed, title
from dashboards.web import Refused, current_user, services
from exports.meta import labelled
from stats.catalogue import TABLES, VALUE_LABELS

PATH = "/builder"
dash.register_page(__name__, path=PATH, title=lambda **_: title(PATH))

TABLE = "builder-table"
PERIOD = "builder-period"
LEVEL = "builder-level"
AREAS = "builder-areas"
DIMENSIONS = "builder-dimensions"
PREVIEW = "builder-preview"
CHANNEL = "builder-channel"
FORMAT = "builder-format"
ENCODING = "builder-encoding"
ENCODING_BOX = "builder-encoding-box"
SUBMIT = "builder-submit"
STATUS = "builder-status"
FILE_LINK = "builder-file-link"
CHANNEL_LABELS = {
    "file_transfer": ("檔案傳輸（單一資料表，保留 7 天）",
                      "File transfer (one table, kept 7 days)"),
    "media_exchange": ("媒體交換（離線資料包，保留 7 天）",
                       "Media exchange (offline package, kept 7 days)"),
}
STAFF_CHANNEL = ("下載檔案（僅限本人，保留 1 天）", "Download file (for you only, kept 1 day)")
STATUS_LABELS = {"ready": ("已完成", "ready"), "pending": ("處理中", "pending"),
                 "failed": ("失敗", "failed")}
HIDDEN, SHOWN = {"display": "none"}, {}
# Formats and encodings named for people; the value sent stays the format's or codec's code.
FORMAT_NAMES = {
    "csv": ("CSV 逗號分隔文字", "CSV, comma-separated text"),
    "xlsx": ("Excel 活頁簿", "Excel workbook"),
    "ods": ("OpenDocument 試算表", "OpenDocument spreadsheet"),
    "sav": ("SPSS 資料檔", "SPSS data file"),
    "dta": ("Stata 資料檔", "Stata data file"),
    "parquet": ("Parquet 欄式資料檔", "Parquet columnar file"),
    "netcdf": ("NetCDF 多維資料檔", "NetCDF dataset"),
    "px": ("PC-Axis 檔（PxWeb）", "PC-Axis file (PxWeb)"),
    "jsonstat": ("JSON-stat 2.0", "JSON-stat 2.0"),
    "sdmx-csv": ("SDMX-CSV 2.0（附資料結構定義）", "SDMX-CSV 2.0 (with its structure definition)"),
    "moi": ("內政部開放資料格式（CSV）", "MOI open-data layout (CSV)"),
}
ENCODING_NAMES = {
    "utf-8-sig": ("UTF-8（含 BOM，Excel 可直接開啟）", "UTF-8 with BOM (opens in Excel)"),
    "utf-8": ("UTF-8（無 BOM）", "UTF-8 without BOM"),
    "cp950": ("Big5（CP950，Windows 繁體中文）", "Big5 (CP950, Windows Traditional Chinese)"),
    "big5hkscs": ("Big5-HKSCS（含香港增補字集）", "Big5-HKSCS"),
    "euc-tw": ("EUC-TW（CNS 11643）", "EUC-TW (CNS 11643)"),
}


def format_label(fmt: str) -> str:
    names = FORMAT_NAMES.get(fmt)
    return f"{t(*names) if names else fmt} (.{exports.SUFFIX[fmt]})"


def encoding_label(encoding: str) -> str:
    names = ENCODING_NAMES.get(encoding)
    return t(*names) if names else encoding


def _user() -> User | None:
    """The session's user when the page is theirs (never from the callback's inputs)."""
    user = current_user()
    return user if page_allowed(user, PATH) else None


def _options_user() -> User:
    """For callbacks whose outputs are not visible text: answer nothing to others."""
    user = _user()
    if user is None:
        raise PreventUpdate
    return user


def table_label(table: str) -> str:
    spec = TABLES[table]
    return t(spec.title_zh, spec.title_en)


def granted_tables(user: User) -> list[str]:
    """Tables the user may view online somewhere (offering is not permission)."""
    return [table for table in TABLES if offered_roots(user, [table])]


def channels_of(user: User, table: str | None) -> list[str]:
    """The builder's channels the user's grant has for ``table`` (staff: their own files)."""
    if not is_agency_user(user):
        return ["file_transfer"]
    if table not in TABLES:
        return []
    now = services().now()
    return [c for c in CHANNELS if granted_areas(g.db, user, table, c, now)]


def _options(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"label": label, "value": value} for value, label in pairs]


def _channel_options(user: User, table: str | None) -> list[dict[str, str]]:
    if not is_agency_user(user):
        return _options([("file_transfer", t(*STAFF_CHANNEL))])
    return _options([(c, t(*CHANNEL_LABELS[c])) for c in channels_of(user, table)])


def _level_options(table: str) -> list[dict[str, str]]:
    return _options([(lv, t(*VALUE_LABELS["area_level"][lv])) for lv in TABLES[table].levels])


def _dimension_options(table: str) -> list[dict[str, str]]:
    return _options([(c.value, t(c.zh, c.en)) for c in dimension_choices(table)])


def layout(**_: Any) -> Any:
    user = current_user()
    if not page_allowed(user, PATH):
        return not_permitted()
    assert user is not None
    tables = granted_tables(user)
    table = tables[0] if tables else next(iter(TABLES))
    periods = published_periods()
    months = published_periods("month")
    period = months[-1] if months else (periods[-1] if periods else None)
    channels = channels_of(user, table)

    def labelled_input(label: str, component: Any) -> list[Any]:
        return [html.Label(label, htmlFor=component.id), component]

    return html.Div([
        html.H1(title(PATH)),
        html.P(t("選擇資料表、統計期、地區及欄位；預覽前 50 列後建立下載。",
                 "Choose a table, period, areas and columns; preview the first 50 rows, then "
                 "create the download.")),
        *labelled_input(t("資料表", "Table"), dcc.Dropdown(
            id=TABLE, clearable=False, value=table,
            options=[{"label": table_label(n) + ("" if n in tables else
                                                 t("（未授權）", " (not granted)")),
                      "value": n, "disabled": n not in tables} for n in TABLES])),
        *labelled_input(t("統計期", "Period"), dcc.Dropdown(
            id=PERIOD, clearable=False, value=period,
            options=_options([(p, period_both(p)) for p in reversed(periods)]))),
        *labelled_input(t("區域層級", "Area level"), dcc.Dropdown(
            id=LEVEL, clearable=False, options=_level_options(table),
            value="county" if "county" in TABLES[table].levels else TABLES[table].levels[0])),
        *labelled_input(t("地區（未選擇＝授權範圍內此層級全部地區）",
                          "Areas (none chosen = every area of this level in your grant)"),
                        dcc.Dropdown(id=AREAS, multi=True, options=[], value=[])),
        *labelled_input(t("保留的維度及統計項目（未勾選的維度予以加總）",
                          "Dimensions and measures to keep (unticked dimensions are summed)"),
                        dcc.Checklist(id=DIMENSIONS, options=_dimension_options(table),
                                      value=default_dimensions(table))),
        html.Div(id=PREVIEW, **{"aria-live": "polite"}),
        html.H2(t("建立下載", "Create a download")),
        *labelled_input(t("交付方式", "Delivery channel"), dcc.RadioItems(
            id=CHANNEL, options=_channel_options(user, table),
            value=channels[0] if channels else None)),
        *labelled_input(t("檔案格式", "File format"), dcc.Dropdown(
            id=FORMAT, clearable=False, value="csv", options=_options(
                [(f, format_label(f)) for f in exports.FORMATS]))),
        html.Div(labelled_input(t("文字編碼", "Text encoding"), dcc.Dropdown(
            id=ENCODING, clearable=False, value="utf-8-sig",
            options=_options([(e, encoding_label(e)) for e in ENCODINGS]))), id=ENCODING_BOX),
        html.Button(t("建立下載", "Create download"), id=SUBMIT, n_clicks=0),
        html.Div(id=STATUS, **{"aria-live": "polite"}),
    ])


@callback(Output(LEVEL, "options"), Output(LEVEL, "value"),
          Output(DIMENSIONS, "options"), Output(DIMENSIONS, "value"),
          Output(CHANNEL, "options"), Output(CHANNEL, "value"),
          Input(TABLE, "value"), State(LEVEL, "value"))
def table_chosen(table: str | None, level: str | None) -> tuple[Any, ...]:
    """Levels, dimensions and channels of the chosen table (no data is read)."""
    user = _options_user()
    if table not in TABLES:
        raise PreventUpdate
    levels = TABLES[table].levels
    channels = channels_of(user, table)
    return (_level_options(table), level if level in levels else levels[0],
            _dimension_options(table), default_dimensions(table),
            _channel_options(user, table), channels[0] if channels else None)


@callback(Output(AREAS, "options"), Output(AREAS, "value"),
          Input(TABLE, "value"), Input(PERIOD, "value"), Input(LEVEL, "value"),
          State(AREAS, "value"))
def areas_offered(table: str | None, period: str | None, level: str | None,
                  chosen: list[str] | None) -> tuple[Any, ...]:
    """The granted areas of the level (offering is not permission: preview checks again)."""
    user = _options_user()
    if table not in TABLES or period not in published_periods() or not level:
        return [], []
    found = areas_under(period, offered_roots(user, [table]), level)
    lang = language()
    named = found.select("area_code", area_label_expr(lang, found.columns).alias("label"))
    options = _options([(c, n if lang == "en" and n.endswith(f"({c})") else f"{n} ({c})")
                        for c, n in zip(named["area_code"], named["label"], strict=True)])
    offered = set(found["area_code"].to_list())
    return options, [c for c in chosen or [] if c in offered]


def request_of(table: Any, period: Any, level: Any, areas: Any, dimensions: Any,
               channel: Any = None, fmt: Any = None, encoding: Any = None) -> BuilderRequest:
    """The callback's inputs as a request (lists of strings only; anything else dropped)."""
    def strings(value: Any) -> list[str]:
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    return BuilderRequest(table, period, level, strings(areas), strings(dimensions), channel,
                          fmt, encoding)


def _alert(zh: str, en: str) -> Any:
    return html.P(t(zh, en), role="alert")


def _problems(found: list[tuple[str, str]]) -> Any:
    return html.Ul([html.Li(t(zh, en)) for zh, en in found], role="alert")


def rows_for(user: User, request: BuilderRequest) -> pl.DataFrame:
    """The preview's rows: through ``view`` (grant checked, audited), named, selected.

    Raises
    ------
    Refused
        When any area (or the table) is outside the grant; nothing is returned then.
    """
    assert request.table is not None and request.period is not None
    codes = request.areas
    if not codes:  # every granted area of the level; none granted: view refuses and audits
        roots = offered_roots(user, [request.table])
        codes = areas_under(request.period, roots, str(request.level))["area_code"].to_list()
        if roots and not codes:
            return pl.DataFrame()
    frame = view(request.table, codes, [request.period])
    if frame.is_empty():
        return frame
    named = labelled(frame, release_areas(request.period))
    return selected_rows(named, selection_of(request.table, request.level, request.dimensions))


def preview_table(request: BuilderRequest, rows: pl.DataFrame) -> Any:
    """An accessible table of the first rows, with labelled headers and the total count."""
    assert request.table is not None and request.period is not None
    lang = language()
    selection = selection_of(request.table, request.level, request.dimensions)
    heads = [header(request.table, selection, c, lang) for c in rows.columns]
    caption = t(f"{table_label(request.table)}：{period_both(request.period)}，"
                f"共 {rows.height:,} 列（顯示前 {min(rows.height, PREVIEW_ROWS)} 列）",
                f"{table_label(request.table)}: {period_both(request.period)}, "
                f"{rows.height:,} row{'' if rows.height == 1 else 's'} "
                f"(first {min(rows.height, PREVIEW_ROWS)} shown)")
    named = rows.columns.index("area_name") if "area_name" in rows.columns else 0
    body = [html.Tr([html.Th(c, scope="row") if i == named else html.Td(c)
                     for i, c in enumerate(cells)])
            for cells in preview_cells(rows, lang)]
    return html.Div([
        html.P(t(f"總列數：{rows.height:,}", f"Total rows: {rows.height:,}"),
               id="builder-row-count"),
        html.Table([
            html.Caption(caption),
            html.Thead(html.Tr([html.Th(h, scope="col") for h in heads])),
            html.Tbody(body),
        ], className="preview"),
    ])


@callback(Output(PREVIEW, "children"),
          Input(TABLE, "value"), Input(PERIOD, "value"), Input(LEVEL, "value"),
          Input(AREAS, "value"), Input(DIMENSIONS, "value"))
def preview(table: Any, period: Any, level: Any, areas: Any, dimensions: Any) -> Any:
    """The first 50 rows of the selection (read through ``view``: checked and audited)."""
    user = _user()
    if user is None:
        return not_permitted()
    request = request_of(table, period, level, areas, dimensions)
    found = problems(request, published_periods(), list(TABLES))
    if found:
        return _problems(found)
    try:
        rows = rows_for(user, request)
    except Refused:
        return _alert("您的授權不包含此資料表或地區。", "This table or area is outside your grant.")
    if rows.is_empty():
        return html.P(t("沒有符合的資料列。", "No rows match."))
    return preview_table(request, rows)


@callback(Output(ENCODING_BOX, "style"), Input(FORMAT, "value"))
def encoding_shown(fmt: Any) -> dict[str, str]:
    """The encoding matters for text formats only."""
    _options_user()
    return SHOWN if isinstance(fmt, str) and is_text_format(fmt) else HIDDEN


def _local(moment: Any) -> str:
    return local_time(moment)  # labelled 臺北時間 / +08:00 by local_time itself


def _delivered(delivery: Delivery) -> Any:
    zh, en = STATUS_LABELS.get(delivery.status, (delivery.status, delivery.status))
    lines = [
        html.P(t(f"交付編號：{delivery.id}", f"Delivery id: {delivery.id}")),
        html.P(t("交付方式：", "Channel: ") + t(*CHANNEL_LABELS[delivery.channel])),
        html.P(t("狀態：", "Status: ") + t(zh, en)),
    ]
    if delivery.status == "ready" and delivery.expires_at is not None:
        lines += [
            html.P(t(f"保存至：{_local(delivery.expires_at)}",
                     f"Kept until: {_local(delivery.expires_at)}")),
            html.A(t("下載檔案", "Download the file"), id=FILE_LINK,
                   href=file_url(delivery.id)),
        ]
    else:
        lines.append(html.P(t(
            f"提供機關端暫時無法產製（第 {delivery.attempts} 次嘗試：{delivery.last_error}）；"
            "系統將自動重試，完成後可於「我的交付」下載。",
            f"The provider could not make it yet (attempt {delivery.attempts}: "
            f"{delivery.last_error}); it is retried and will appear under My deliveries.")))
    return html.Div(lines)


def _unwritable(error: UnwritableRequest | Exception) -> Any:
    cause = error.cause if isinstance(error, UnwritableRequest) else error
    chars = sorted({f"{p.character} ({p.codepoint})"
                    for p in getattr(cause, "problems", [])})
    return html.Div([
        html.P(t("無法以所選格式或編碼寫出此檔案，未建立任何下載：",
                 "The file cannot be written in the format or encoding chosen; nothing was "
                 "created:"), role="alert"),
        # the encoder's own message is English: in Chinese, say the same from its facts
        html.P(t("下列字元無法以所選編碼寫出（BIG-5E 並無任何實作，CP950 與 BIG5-HKSCS 為最接近者）；"
                 "請改選 BIG5-HKSCS、EUC-TW 或 UTF-8，或改選其他層級。", str(cause))
               if chars else str(cause)),
        html.Ul([html.Li(c) for c in chars]) if chars else None,
    ])


def _agency_submit(user: User, request: BuilderRequest, selection: dict[str, Any]) -> Any:
    svc = services()
    assert request.table and request.period and request.channel and request.fmt
    areas = request.areas or granted_areas(g.db, user, request.table, request.channel, svc.now())
    make = deliver_file if request.channel == "file_transfer" else deliver_media
    target: Any = request.table if request.channel == "file_transfer" else [request.table]
    delivery = make(g.db, user, svc.releases, request.period, target, areas, request.fmt,
                    file_encoding(request.fmt, request.encoding), svc.outbox, svc.now(),
                    selection=selection)
    g.db.commit()
    return _delivered(delivery)


def _staff_submit(user: User, request: BuilderRequest, selection: dict[str, Any]) -> Any:
    svc = services()
    assert request.table and request.period and request.fmt
    now = svc.now()
    roots = [user.provider.jurisdiction] if user.provider else []
    areas = request.areas or roots
    authorize(g.db, user, [request.table], areas, "file_transfer", now)
    release = release_dir(request.period)
    if release is None:
        raise DeliveryError(f"period {request.period!r} is not published")
    encoding = file_encoding(request.fmt, request.encoding)
    provider = user.provider.code if user.provider else "MOI"
    name, frame, meta = table_file(release, request.table, areas, request.fmt, encoding,
                                   provider, now, selection)
    record = save_staff_file(user, name, frame, meta, request.fmt, encoding, {
        "table": request.table, "period": request.period, "areas": areas,
        "selection": selection, "format": request.fmt, "encoding": encoding}, now)
    kept = STAFF_RETENTION.days
    return html.Div([
        html.P(t(f"檔案編號：{record['id']}", f"File id: {record['id']}")),
        html.P(t("交付方式：", "Channel: ") + t(*STAFF_CHANNEL)),
        html.P(t(f"保存 {kept} 天，至：{_local(now + STAFF_RETENTION)}",
                 f"Kept {kept} day, until: {_local(now + STAFF_RETENTION)}")),
        html.A(t("下載檔案", "Download the file"), id=FILE_LINK, href=file_url(record["id"])),
    ])


@callback(Output(STATUS, "children"), Input(SUBMIT, "n_clicks"),
          State(TABLE, "value"), State(PERIOD, "value"), State(LEVEL, "value"),
          State(AREAS, "value"), State(DIMENSIONS, "value"), State(CHANNEL, "value"),
          State(FORMAT, "value"), State(ENCODING, "value"), prevent_initial_call=True)
def submit(_clicks: Any, table: Any, period: Any, level: Any, areas: Any, dimensions: Any,
           channel: Any, fmt: Any, encoding: Any) -> Any:
    """Make the delivery (agencies) or the staff file; every refusal said plainly."""
    user = _user()
    if user is None:
        return not_permitted()
    request = request_of(table, period, level, areas, dimensions, channel, fmt, encoding)
    # any builder channel passes here: the access layer refuses (and audits) ungranted ones
    offered = list(CHANNELS) if is_agency_user(user) else ["file_transfer"]
    found = problems(request, published_periods(), list(TABLES), offered)
    if found:
        return _problems(found)
    selection = selection_of(str(table), level, request.dimensions, fmt)
    try:
        if is_agency_user(user):
            return _agency_submit(user, request, selection)
        return _staff_submit(user, request, selection)
    except Forbidden:  # audited by the access layer
        return _alert("您的授權不包含此資料表、地區或交付方式，未建立任何下載。",
                      "This table, area or channel is outside your grant; nothing was created.")
    except UnwritableRequest as error:
        return _unwritable(error)
    except REQUEST_ERRORS as error:  # staff files: the export's own refusal
        return _unwritable(error)
    except SelectionError as error:
        return _alert(f"所選欄位無法組成報表：{error}",
                      f"The dimensions chosen do not fit: {error}")
    except DeliveryError as error:
        return _alert(f"無法建立下載：{error}", f"The download could not be made: {error}")
