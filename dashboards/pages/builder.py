"""Table builder (``/builder``): edit a query document (CONTRACT §7) — several periods, areas
by level (all of a level within an area, or picked by name or code), kept dimensions, age
bands, what goes across — preview exactly the table the file will hold, see its size, copy
its API call and saved query, and have the file made.

The document is the one ``popstats query`` and ``POST /api/v1/query`` take, run by the same
code (``run_on_releases``). Agency users get a real delivery (``access.query_files``:
authorised for the chosen channel, audited, kept 7 days, retried); provider staff a file of
their own kept 1 day. Every callback reads the user from the session and checks the grant
again, so a crafted callback asking for another county or an ungranted table is refused and
audited. ``/builder?q=<document>`` (the permalink) restores a selection as far as the
reader's grant allows, and says what it left out.
"""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate
from flask import g, request

import exports
from access.deliveries import DeliveryError, Forbidden
from access.grants import granted_areas
from access.models import User
from access.packages import REQUEST_ERRORS, UnwritableRequest
from access.query_files import QUERY_FORMATS
from dashboards.builder.deliver import (
    CHANNEL_LABELS,
    STAFF_CHANNEL,
    agency_submit,
    channel_areas,
    staff_submit,
    unwritable,
)
from dashboards.builder.form import (
    BANDS,
    KINDS,
    Form,
    curl_line,
    decode,
    dimensions,
    document_of,
    encode,
    form_from,
    form_of,
    saved_json,
)
from dashboards.builder.plan import Plan, TooLarge, marks_of, online_roots, plan, result_of
from dashboards.builder.view import preview_table, size_note, too_large
from dashboards.data import (
    areas_under,
    covered,
    is_agency_user,
    offered_roots,
    published_periods,
)
from dashboards.figures import area_label_expr
from dashboards.i18n import language, period_both, t
from dashboards.selection import CHANNELS, ENCODINGS, file_encoding, is_text_format
from dashboards.shell import not_permitted, page_allowed, title
from dashboards.web import Refused, current_user, services
from exports.query import QueryExportError
from stats.catalogue import COLUMNS, TABLES, VALUE_LABELS
from stats.query import QueryError, measures_of, parse_query
from stats.schemas import TABLE_KEYS

PATH = "/builder"
dash.register_page(__name__, path=PATH, title=lambda **_: title(PATH))

TABLE = "builder-table"
KIND = "builder-kind"
MODE = "builder-period-mode"
PERIOD_FROM = "builder-period-from"
PERIOD = "builder-period"  # the range's end (alone: one period)
PICKS = "builder-periods"
RANGE_BOX, PICK_BOX = "builder-range-box", "builder-pick-box"
LEVEL = "builder-level"
WITHIN = "builder-within"
AREAS = "builder-areas"
KEEP = "builder-keep"
MEASURES = "builder-measures"
BANDS_ID = "builder-bands"
BANDS_BOX = "builder-bands-box"
HEADING = "builder-heading"
TRANSPOSE = "builder-transpose"
LABELS = "builder-labels"
NOTE = "builder-note"
TABLE_INFO = "builder-table-info"
PREVIEW = "builder-preview"
QUERY_JSON = "builder-query-json"
CURL = "builder-curl"
PERMALINK = "builder-permalink"
CHANNEL = "builder-channel"
FORMAT = "builder-format"
ENCODING = "builder-encoding"
ENCODING_BOX = "builder-encoding-box"
SUBMIT = "builder-submit"
STATUS = "builder-status"
HIDDEN, SHOWN = {"display": "none"}, {}
FORM_IDS = (TABLE, KIND, MODE, PERIOD_FROM, PERIOD, PICKS, LEVEL, WITHIN, AREAS, KEEP,
            MEASURES, BANDS_ID, HEADING, LABELS)
KIND_LABELS = {"month": ("月", "Months"), "quarter": ("季", "Quarters"), "year": ("年", "Years")}
BAND_LABELS = {"single": ("單一年齡（0…100+）", "Single years (0…100+)"),
               "5y": ("5 歲組", "5-year groups"), "broad": ("0-14、15-64、65+", "0-14, 15-64, 65+")}
DIMENSION_LABELS = {"area": ("地區", "Area"), "period": ("統計期", "Period"),
                    "measure": ("統計項目", "Measure")}
LABEL_CHOICES = {"zh-TW": ("中文標示", "Chinese labels"), "en": ("英文標示", "English labels"),
                 "codes": ("代碼（供程式使用）", "Codes (for programs)")}
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
    "sdmx-csv": ("SDMX-CSV 2.0", "SDMX-CSV 2.0"),
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


def table_page(table: str) -> str:
    """The table's own page (definitions, no data: open to every logged-in user)."""
    return f"/tables?table={table}"


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


def _column_label(name: str) -> str:
    column = COLUMNS.get(name)
    return t(column.zh, column.en) if column else name


def _level_options(table: str) -> list[dict[str, str]]:
    return _options([(lv, t(*VALUE_LABELS["area_level"][lv])) for lv in TABLES[table].levels])


def _key_options(table: str) -> list[dict[str, str]]:
    return _options([(k, _column_label(k)) for k in TABLE_KEYS.get(table, [])])


def _measure_options(table: str) -> list[dict[str, str]]:
    return _options([(m, _column_label(m)) for m in measures_of(table)])


def _heading_options(table: str | None, keep: list[str]) -> list[dict[str, str]]:
    return _options([(d, t(*DIMENSION_LABELS[d]) if d in DIMENSION_LABELS else _column_label(d))
                     for d in dimensions(table, keep)])


def _period_options(kind: str) -> list[dict[str, str]]:
    return _options([(p, period_both(p)) for p in reversed(published_periods(kind))])


def _has_age(table: str | None) -> bool:
    return "age" in TABLE_KEYS.get(table or "", [])


def _default_form(user: User) -> Form:
    tables = granted_tables(user)
    table = tables[0] if tables else next(iter(TABLES))
    months = published_periods("month")
    latest = months[-1] if months else None
    levels = TABLES[table].levels
    return Form(table=table, kind="month", mode="range", period_from=latest, period_to=latest,
                level="county" if "county" in levels else levels[0],
                keep=list(TABLE_KEYS.get(table, [])), measures=measures_of(table),
                heading=["period", "measure"],
                labels="en" if language() == "en" else "zh-TW")


def restored(user: User, q: Any) -> tuple[Form, list[Any]]:
    """The permalink's selection as far as ``user``'s grant allows, and notes on what was
    left out (never an area or table outside the grant)."""
    base = _default_form(user)
    if q is None:
        return base, []
    try:
        query = decode(q)
    except QueryError as error:
        return base, [t("連結中的查詢無效，已改用預設選擇：", "The link's query is not valid; "
                        "the default selection is shown instead: ") + "; ".join(error.problems)]
    notes: list[Any] = []
    if query.table not in granted_tables(user):
        return base, [t(f"連結中的資料表「{table_label(query.table)}」不在您的授權範圍內，"
                        "已改用預設選擇。",
                        f"The link's table ({table_label(query.table)}) is outside your "
                        "grant; the default selection is shown instead.")]
    form = form_of(query)
    published = set(published_periods(form.kind))
    periods = [p for p in query.periods if p in published]
    if len(periods) < len(query.periods):
        gone = [p for p in query.periods if p not in published]
        notes.append(t(f"連結中的統計期 {', '.join(gone)} 尚未公布，已略去。",
                       f"The link's period(s) {', '.join(gone)} are not published; left out."))
        if not periods:
            periods = [base.period_to] if base.period_to else []
        form = Form(**{**form.__dict__, "mode": "pick", "picks": periods,
                       "period_from": periods[-1] if periods else None,
                       "period_to": periods[-1] if periods else None})
    roots = online_roots(user, query.table)
    if form.within and not covered(roots, form.within):
        notes.append(t(f"連結中的地區 {form.within} 不在您的授權範圍內；"
                       "改為您授權範圍內的全部地區。",
                       f"The link's area {form.within} is outside your grant; every area of "
                       "your grant is shown instead."))
        form = Form(**{**form.__dict__, "within": None})
    if form.areas and (outside := [a for a in form.areas if not covered(roots, a)]):
        kept = [a for a in form.areas if covered(roots, a)]
        notes.append(t(f"連結中有 {len(outside):,} 個地區不在您的授權範圍內，已略去"
                       + ("；改為您授權範圍內的全部地區。" if not kept else "。"),
                       f"{len(outside):,} of the link's areas are outside your grant and were "
                       "left out" + ("; every area of your grant is shown instead." if not kept
                                     else ".")))
        form = Form(**{**form.__dict__, "areas": kept})
    return form, notes


def layout(q: Any = None, **_: Any) -> Any:
    user = current_user()
    if not page_allowed(user, PATH):
        return not_permitted()
    assert user is not None
    form, notes = restored(user, q)
    tables = granted_tables(user)
    table = str(form.table)
    channels = channels_of(user, table)

    def labelled_input(label: str, component: Any) -> list[Any]:
        return [html.Label(label, htmlFor=component.id), component]

    def group(legend: str, *children: Any, **kwargs: Any) -> Any:
        return html.Fieldset([html.Legend(legend), *children], **kwargs)

    period_options = _period_options(form.kind)
    parents, within, areas, chosen = area_choices(user, table, form.level, form.period_to,
                                                  form.picks, form.within, form.areas)
    return html.Div([
        html.H1(title(PATH)),
        html.P(t("選擇資料表、統計期、地區、保留的維度及版面（哪些維度放在欄）；預覽即為下載檔案的內容。",
                 "Choose a table, periods, areas, the dimensions kept and the layout (which "
                 "dimensions go across); the preview is the table the file will hold.")),
        html.Div([html.P(n, role="status") for n in notes], id=NOTE),
        *labelled_input(t("資料表", "Table"), dcc.Dropdown(
            id=TABLE, clearable=False, value=table,
            options=[{"label": table_label(n) + ("" if n in tables else
                                                 t("（未授權）", " (not granted)")),
                      "value": n, "disabled": n not in tables} for n in TABLES])),
        html.P(dcc.Link(t("此資料表的說明：欄位定義、附註、發布及修正紀錄",
                          "About this table: its columns, notes, publications and revisions"),
                        id=TABLE_INFO, href=table_page(table))),
        group(t("統計期", "Periods"),
              *labelled_input(t("期別", "Kind of period"), dcc.RadioItems(
                  id=KIND, value=form.kind, inline=True,
                  options=_options([(k, t(*KIND_LABELS[k])) for k in KINDS]))),
              *labelled_input(t("選擇方式", "Choose by"), dcc.RadioItems(
                  id=MODE, value=form.mode, inline=True, options=_options(
                      [("range", t("起訖範圍", "A range")), ("pick", t("逐一挑選", "A pick"))]))),
              html.Div([
                  *labelled_input(t("起", "From"), dcc.Dropdown(
                      id=PERIOD_FROM, clearable=False, value=form.period_from,
                      options=period_options)),
                  *labelled_input(t("迄", "To"), dcc.Dropdown(
                      id=PERIOD, clearable=False, value=form.period_to,
                      options=period_options)),
              ], id=RANGE_BOX, style=SHOWN if form.mode == "range" else HIDDEN),
              html.Div(labelled_input(t("統計期（可複選）", "Periods (several)"), dcc.Dropdown(
                  id=PICKS, multi=True, value=form.picks, options=period_options)),
                  id=PICK_BOX, style=SHOWN if form.mode == "pick" else HIDDEN)),
        group(t("地區", "Areas"),
              *labelled_input(t("區域層級", "Area level"), dcc.Dropdown(
                  id=LEVEL, clearable=False, options=_level_options(table), value=form.level)),
              *labelled_input(t("範圍：此地區內的全部（未選擇＝授權範圍內全部）",
                                "All of the level within (none = every area of your grant)"),
                              dcc.Dropdown(id=WITHIN, options=parents, value=within)),
              *labelled_input(t("或逐一挑選地區（可輸入名稱或代碼搜尋）",
                                "Or pick areas (search by name or code)"),
                              dcc.Dropdown(id=AREAS, multi=True, options=areas,
                                           value=chosen))),
        group(t("維度與統計項目", "Dimensions and measures"),
              *labelled_input(t("保留的維度（未勾選者予以加總）",
                                "Dimensions kept (unticked ones are summed)"),
                              dcc.Checklist(id=KEEP, options=_key_options(table),
                                            value=form.keep, inline=True)),
              html.Div(labelled_input(t("年齡", "Age"), dcc.RadioItems(
                  id=BANDS_ID, value=form.bands, inline=True,
                  options=_options([(b, t(*BAND_LABELS[b])) for b in BANDS]))),
                  id=BANDS_BOX, style=SHOWN if _has_age(table) else HIDDEN),
              *labelled_input(t("統計項目", "Measures"), dcc.Checklist(
                  id=MEASURES, options=_measure_options(table), value=form.measures,
                  inline=True))),
        group(t("版面", "Layout"),
              *labelled_input(t("放在欄（橫向）的維度；其餘放在列", "Across (heading); the rest go "
                                "down (stub)"),
                              dcc.Checklist(id=HEADING, value=form.heading, inline=True,
                                            options=_heading_options(table, form.keep))),
              html.Button(t("轉置（列欄互換）", "Transpose (swap down and across)"),
                          id=TRANSPOSE, n_clicks=0, type="button"),
              *labelled_input(t("標示", "Labels"), dcc.RadioItems(
                  id=LABELS, value=form.labels, inline=True,
                  options=_options([(k, t(*v)) for k, v in LABEL_CHOICES.items()])))),
        html.Div(id=PREVIEW, **{"aria-live": "polite"}),
        html.H2(t("查詢文件與 API", "The query and its API call")),
        html.A(t("此選擇的永久連結", "Permalink to this selection"), id=PERMALINK, href=PATH),
        html.H3(t("儲存的查詢（JSON，可供 popstats query --spec 使用）",
                  "Saved query (JSON, for popstats query --spec)")),
        html.Pre(id=QUERY_JSON, className="raw copyable"),  # code, not UI text
        html.H3(t("API 呼叫", "API call")),
        html.Pre(id=CURL, className="raw copyable"),
        html.H2(t("建立下載", "Create a download")),
        *labelled_input(t("交付方式", "Delivery channel"), dcc.RadioItems(
            id=CHANNEL, options=_channel_options(user, table),
            value=channels[0] if channels else None)),
        *labelled_input(t("檔案格式", "File format"), dcc.Dropdown(
            id=FORMAT, clearable=False, value="csv", options=_options(
                [(f, format_label(f)) for f in QUERY_FORMATS]))),
        html.Div(labelled_input(t("文字編碼", "Text encoding"), dcc.Dropdown(
            id=ENCODING, clearable=False, value="utf-8-sig",
            options=_options([(e, encoding_label(e)) for e in ENCODINGS]))), id=ENCODING_BOX),
        html.Button(t("建立下載", "Create download"), id=SUBMIT, n_clicks=0),
        html.Div(id=STATUS, **{"aria-live": "polite"}),
    ])


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


@callback(Output(LEVEL, "options"), Output(LEVEL, "value"),
          Output(KEEP, "options"), Output(KEEP, "value"),
          Output(MEASURES, "options"), Output(MEASURES, "value"),
          Output(BANDS_BOX, "style"), Output(CHANNEL, "options"), Output(CHANNEL, "value"),
          Output(TABLE_INFO, "href"), Input(TABLE, "value"), State(LEVEL, "value"),
          State(KEEP, "value"), State(MEASURES, "value"), prevent_initial_call=True)
def table_chosen(table: Any, level: Any, keep: Any, measures: Any) -> tuple[Any, ...]:
    """Levels, keys, measures and channels of the chosen table (no data is read); choices
    the table also has are kept."""
    user = _options_user()
    if table not in TABLES:
        raise PreventUpdate
    levels = TABLES[table].levels
    keys = TABLE_KEYS.get(table, [])
    kept = [k for k in _strings(keep) if k in keys] or list(keys)
    chosen = [m for m in _strings(measures) if m in measures_of(table)] or measures_of(table)
    channels = channels_of(user, table)
    return (_level_options(table), level if level in levels else levels[0],
            _key_options(table), kept, _measure_options(table), chosen,
            SHOWN if _has_age(table) else HIDDEN,
            _channel_options(user, table), channels[0] if channels else None,
            table_page(table))


@callback(Output(PERIOD_FROM, "options"), Output(PERIOD_FROM, "value"),
          Output(PERIOD, "options"), Output(PERIOD, "value"),
          Output(PICKS, "options"), Output(PICKS, "value"),
          Input(KIND, "value"), State(PERIOD_FROM, "value"), State(PERIOD, "value"),
          State(PICKS, "value"), prevent_initial_call=True)
def kind_chosen(kind: Any, first: Any, last: Any, picks: Any) -> tuple[Any, ...]:
    """The published periods of the kind; choices of that kind are kept, else the latest."""
    _options_user()
    if kind not in KINDS:
        raise PreventUpdate
    periods = published_periods(kind)
    latest = periods[-1] if periods else None
    options = _period_options(kind)
    return (options, first if first in periods else latest, options,
            last if last in periods else latest, options,
            [p for p in _strings(picks) if p in periods])


@callback(Output(RANGE_BOX, "style"), Output(PICK_BOX, "style"), Input(MODE, "value"),
          prevent_initial_call=True)
def mode_chosen(mode: Any) -> tuple[dict[str, str], dict[str, str]]:
    _options_user()
    return (HIDDEN, SHOWN) if mode == "pick" else (SHOWN, HIDDEN)


def _named(found: pl.DataFrame) -> list[dict[str, str]]:
    lang = language()
    named = found.select("area_code", area_label_expr(lang, found.columns).alias("label"))
    return _options([(c, n if lang == "en" and n.endswith(f"({c})") else f"{n} ({c})")
                     for c, n in zip(named["area_code"], named["label"], strict=True)])


PARENT_LEVELS = {"county": ["national"], "township": ["national", "county"],
                 "village": ["county", "township"]}


def area_choices(user: User, table: Any, level: Any, last: Any, picks: Any, within: Any,
                 chosen: Any) -> tuple[Any, ...]:
    """The granted areas above the level (to take all of the level within one) and of the
    level (to pick; within the chosen area), and the choices among them that stand.
    Offering is not permission: the preview and the download check again."""
    published = published_periods()
    periods = [p for p in [*_strings(picks), last] if p in published]
    if table not in TABLES or not periods or level not in TABLES[table].levels:
        return [], None, [], []
    period = max(periods, key=published.index)
    roots = offered_roots(user, [table])
    found = areas_under(period, roots, level)
    frames = [areas_under(period, roots, lv) for lv in PARENT_LEVELS.get(level, [])]
    parents = pl.concat(frames, how="vertical") if frames else found.clear()
    parent_codes = set(parents["area_code"].to_list())
    within = within if isinstance(within, str) and within in parent_codes else None
    if within and within != "00000":
        found = found.filter(pl.col("area_code").str.starts_with(within))
    offered = set(found["area_code"].to_list())
    return (_named(parents), within, _named(found),
            [c for c in _strings(chosen) if c in offered])


# the layout fills these in (a dropdown drops a value its options lack): changes only here
@callback(Output(WITHIN, "options"), Output(WITHIN, "value"),
          Output(AREAS, "options"), Output(AREAS, "value"),
          Input(TABLE, "value"), Input(LEVEL, "value"), Input(PERIOD, "value"),
          Input(PICKS, "value"), Input(WITHIN, "value"), State(AREAS, "value"),
          prevent_initial_call=True)
def areas_offered(table: Any, level: Any, last: Any, picks: Any, within: Any,
                  chosen: Any) -> tuple[Any, ...]:
    """``area_choices`` for the session's user."""
    return area_choices(_options_user(), table, level, last, picks, within, chosen)


@callback(Output(HEADING, "options"), Output(HEADING, "value"),
          Input(TABLE, "value"), Input(KEEP, "value"), Input(TRANSPOSE, "n_clicks"),
          State(HEADING, "value"), prevent_initial_call=True)
def heading_offered(table: Any, keep: Any, _clicks: Any, heading: Any) -> tuple[Any, ...]:
    """The dimensions that can go across; transposing swaps down and across."""
    _options_user()
    if table not in TABLES:
        raise PreventUpdate
    dims = dimensions(table, _strings(keep))
    across = [d for d in _strings(heading) if d in dims]
    if ctx.triggered_id == TRANSPOSE:
        across = [d for d in dims if d not in across]
    return _heading_options(table, _strings(keep)), across


def _alert(zh: str, en: str) -> Any:
    return html.P(t(zh, en), role="alert")


def _problems(found: list[str]) -> Any:
    return html.Div([
        html.P(t("此查詢無法建立：", "This query cannot be made:"), role="alert"),
        html.Ul([html.Li(p) for p in found]),
    ])


def _caption(found: Plan) -> str:
    query = found.query
    first, last = query.periods[0], query.periods[-1]
    span = period_both(first) if first == last else f"{period_both(first)} – {period_both(last)}"
    return f"{table_label(query.table)}：{span}" if language() == "zh" else \
        f"{table_label(query.table)}: {span}"


@callback(Output(QUERY_JSON, "children"), Output(CURL, "children"),
          Output(PERMALINK, "href"), Output(PREVIEW, "children"),
          *[Input(i, "value") for i in FORM_IDS])
def refresh(*values: Any) -> tuple[Any, ...]:
    """The query document of the controls, its API call and permalink, and the preview:
    the first rows of the result (grant checked and audited, size checked first)."""
    user = _user()
    if user is None:
        return "", "", PATH, not_permitted()
    doc = document_of(form_from(*values))
    shown = (saved_json(doc), curl_line(doc, request.host_url), f"{PATH}?q={encode(doc)}")
    try:
        query = parse_query(doc)
        found = plan(user, query, online_roots(user, query.table))
        result = result_of(found)
    except QueryError as error:
        return (*shown, _problems(error.problems))
    except Refused:
        return (*shown, _alert("您的授權不包含此資料表或地區。",
                               "This table or area is outside your grant."))
    except TooLarge as error:
        return (*shown, too_large(error))
    if result.frame.is_empty():
        return (*shown, html.P(t("沒有符合的資料列。", "No rows match.")))
    return (*shown, html.Div([size_note(found),
                              preview_table(result, _caption(found), marks_of(found, result))]))


@callback(Output(ENCODING_BOX, "style"), Input(FORMAT, "value"))
def encoding_shown(fmt: Any) -> dict[str, str]:
    """The encoding matters for text formats only."""
    _options_user()
    return SHOWN if isinstance(fmt, str) and is_text_format(fmt) else HIDDEN


@callback(Output(STATUS, "children"), Input(SUBMIT, "n_clicks"),
          *[State(i, "value") for i in FORM_IDS],
          State(CHANNEL, "value"), State(FORMAT, "value"), State(ENCODING, "value"),
          prevent_initial_call=True)
def submit(_clicks: Any, *values: Any) -> Any:
    """Make the delivery (agencies) or the staff file; every refusal said plainly."""
    user = _user()
    if user is None:
        return not_permitted()
    *form_values, channel, fmt, encoding = values
    offered = list(CHANNELS) if is_agency_user(user) else ["file_transfer"]
    wrong = ([f"channel: one of {', '.join(offered)}"] if channel not in offered else []) + (
        [f"format: one of {', '.join(QUERY_FORMATS)}"] if fmt not in QUERY_FORMATS else [])
    try:
        query = parse_query(document_of(form_from(*form_values)))
    except QueryError as error:
        return _problems([*error.problems, *wrong])
    if wrong:
        return _problems(wrong)
    encoding = file_encoding(fmt, encoding if isinstance(encoding, str) else None)
    try:
        found = plan(user, query, channel_areas(user, query.table, channel), viewed=False)
        if is_agency_user(user):
            return agency_submit(user, found, channel, fmt, encoding)
        return staff_submit(user, found, fmt, encoding)
    except QueryError as error:
        return _problems(error.problems)
    except TooLarge as error:
        return too_large(error)
    except (Forbidden, Refused):  # audited by the access layer
        return _alert("您的授權不包含此資料表、地區或交付方式，未建立任何下載。",
                      "This table, area or channel is outside your grant; nothing was created.")
    except (UnwritableRequest, QueryExportError, *REQUEST_ERRORS) as error:
        return unwritable(error)
    except DeliveryError as error:
        return _alert(f"無法建立下載：{error}", f"The download could not be made: {error}")
