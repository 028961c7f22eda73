"""My deliveries (``/deliveries``, agency users only): what the agency received, how long
each is kept (a countdown from the server's clock), extension requests before expiry
(point 17) and doubts raised within 7 days of receipt (point 16), with their outcomes.

Everything is read for the session's agency only; an id posted by a crafted callback that
is not one of the agency's deliveries is refused and audited, and nothing about it is shown.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate
from flask import g
from sqlalchemy import select

from access import audit, deliveries
from access.deliveries import MAX_EXTENSION_DAYS, DeliveryError
from access.models import Delivery, Dispute, Extension, User
from dashboards.downloads import FILE_CHANNELS, file_url
from dashboards.i18n import local_time, period_both, t
from dashboards.shell import not_permitted, page_allowed, title
from dashboards.web import current_user, services
from stats.catalogue import TABLES
from stats.said import in_language, message_of

PATH = "/deliveries"
dash.register_page(__name__, path=PATH, title=lambda **_: title(PATH))

TABLE = "deliveries-table"
EXTENSIONS = "deliveries-extensions"
DISPUTES = "deliveries-disputes"
EXT_ID = "deliveries-extension-id"
EXT_DAYS = "deliveries-extension-days"
EXT_REASON = "deliveries-extension-reason"
EXT_SUBMIT = "deliveries-extension-submit"
DISPUTE_ID = "deliveries-dispute-id"
DISPUTE_TEXT = "deliveries-dispute-text"
DISPUTE_SUBMIT = "deliveries-dispute-submit"
MESSAGE = "deliveries-message"
SHOWN = 200  # most recent deliveries listed (every API answer is one)
HEX_ID = re.compile(r"[0-9a-f]{32}")
CHANNELS = {
    "online_query": ("線上查詢", "online query"),
    "file_transfer": ("檔案傳輸", "file transfer"),
    "media_exchange": ("媒體交換", "media exchange"),
}
STATUS = {"ready": ("已完成", "ready"), "pending": ("處理中", "pending"),
          "failed": ("失敗", "failed")}


def countdown(expires_at: datetime | None, now: datetime) -> tuple[str, str] | None:
    """``還有 N 天 M 小時`` / ``N d M h left`` until expiry (whole hours, rounded down)."""
    if expires_at is None:
        return None
    left = expires_at - now
    if left.total_seconds() <= 0:
        return ("已過期", "expired")
    days, hours = left.days, left.seconds // 3600
    return (f"還有 {days} 天 {hours} 小時", f"{days} d {hours} h left")


def short(delivery_id: str) -> str:
    return delivery_id[:8]


def status_text(delivery: Delivery) -> str:
    """Status with attempts and the last error of a pending delivery (point 15)."""
    zh, en = STATUS.get(delivery.status, (delivery.status, delivery.status))
    text = t(zh, en)
    if delivery.status != "ready":
        text += t(f"（已嘗試 {delivery.attempts} 次", f" (attempts: {delivery.attempts}")
        if delivery.last_error:
            text += t(f"；最近錯誤：{delivery.last_error}", f"; last error: {delivery.last_error}")
        text += t("）", ")")
    return text


def downloadable(delivery: Delivery, now: datetime) -> bool:
    return (delivery.channel in FILE_CHANNELS and delivery.status == "ready"
            and delivery.purged_at is None and delivery.expires_at is not None
            and now < delivery.expires_at)


def _agency_user() -> User | None:
    user = current_user()
    return user if page_allowed(user, PATH) and user is not None else None


def own_deliveries(user: User) -> list[Delivery]:
    """The agency's most recent deliveries (the session's agency, never an input's)."""
    return list(g.db.scalars(select(Delivery).where(Delivery.agency_id == user.agency_id)
                             .order_by(Delivery.created_at.desc()).limit(SHOWN)))


def _tables_text(names: list[str]) -> str:
    return t("、", ", ").join(t(TABLES[n].title_zh, TABLES[n].title_en) if n in TABLES else n
                             for n in names)


def deliveries_rows(user: User, now: datetime) -> list[Any]:
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        t("編號", "Id"), t("交付方式", "Channel"), t("資料表", "Tables"), t("統計期", "Period"),
        t("狀態", "Status"), t("交付時間", "Delivered at"), t("保存至", "Expires at"),
        t("剩餘時間", "Time left"), t("下載", "Download"))]))
    rows = []
    for d in own_deliveries(user):
        left = countdown(d.expires_at, now) if d.purged_at is None else ("已刪除", "deleted")
        if left == ("已過期", "expired") and deliveries.pending_extension(g.db, d):  # point 17
            left = ("已屆期限；延長申請審核中，決定前保留", "expired; kept until your extension "
                    "request is decided")
        rows.append(html.Tr([
            html.Th(short(d.id), scope="row", title=d.id),
            html.Td(t(*CHANNELS.get(d.channel, (d.channel, d.channel)))),
            html.Td(_tables_text(d.tables)),
            html.Td(period_both(d.period)),
            html.Td(status_text(d)),
            html.Td(local_time(d.delivered_at)),
            html.Td(local_time(d.expires_at)),
            html.Td(t(*left) if left else "—"),
            html.Td(html.A(t("下載", "Download"), href=file_url(d.id))
                    if downloadable(d, now) else "—"),
        ]))
    caption = t(f"本機關的交付（最近 {SHOWN} 筆；時間為臺北時間）",
                f"Your agency's deliveries (latest {SHOWN}; Taipei time)")
    body = rows or [html.Tr(html.Td(t("尚無交付。", "No deliveries yet."), colSpan=9))]
    return [html.Caption(caption), head, html.Tbody(body)]


def extension_rows(user: User) -> list[Any]:
    found = g.db.scalars(select(Extension).join(Delivery, Extension.delivery_id == Delivery.id)
                         .where(Delivery.agency_id == user.agency_id)
                         .order_by(Extension.requested_at.desc()))

    def decision(e: Extension) -> str:
        if e.decided_at is None:
            return t("待審核", "awaiting decision")
        verdict = t("核准", "approved") if e.approved else t("駁回", "refused")
        return f"{verdict} ({local_time(e.decided_at)})"

    rows = [html.Tr([html.Th(short(e.delivery_id), scope="row"), html.Td(local_time(
        e.requested_at)), html.Td(str(e.days)), html.Td(e.reason), html.Td(decision(e))])
        for e in found]
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        t("交付編號", "Delivery"), t("申請時間", "Requested at"), t("延長天數", "Days"),
        t("理由", "Reason"), t("決定", "Decision"))]))
    body = rows or [html.Tr(html.Td(t("尚無延長申請。", "No extension requests."), colSpan=5))]
    return [html.Caption(t("延長保存申請", "Extension requests")), head, html.Tbody(body)]


def dispute_rows(user: User) -> list[Any]:
    found = g.db.scalars(select(Dispute).join(Delivery, Dispute.delivery_id == Delivery.id)
                         .where(Delivery.agency_id == user.agency_id)
                         .order_by(Dispute.raised_at.desc()))
    rows = [html.Tr([html.Th(short(d.delivery_id), scope="row"), html.Td(local_time(d.raised_at)),
                     html.Td(d.description),
                     html.Td(f"{d.resolution} ({local_time(d.resolved_at)})" if d.resolved_at
                             else t("調查中", "under investigation"))])
            for d in found]
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        t("交付編號", "Delivery"), t("提出時間", "Raised at"), t("疑義內容", "Doubt"),
        t("處理結果", "Resolution"))]))
    body = rows or [html.Tr(html.Td(t("尚無疑義。", "No doubts raised."), colSpan=4))]
    return [html.Caption(t("資料疑義", "Doubts about received data")), head, html.Tbody(body)]


def delivery_options(user: User) -> list[dict[str, str]]:
    """The agency's received deliveries, for the two forms."""
    return [{"label": f"{short(d.id)} · {t(*CHANNELS.get(d.channel, (d.channel,) * 2))} · "
                      f"{_tables_text(d.tables)} · {d.period}", "value": d.id}
            for d in own_deliveries(user) if d.delivered_at is not None]


def layout(**_: Any) -> Any:
    user = _agency_user()
    if user is None:
        return not_permitted()
    options = delivery_options(user)
    return html.Div([
        html.H1(title(PATH)),
        html.Div(id=MESSAGE, role="status", **{"aria-live": "polite"}),
        html.Table(id=TABLE),
        html.H2(t("申請延長保存（須於到期前提出）", "Request an extension (before expiry)")),
        html.Label(t("交付", "Delivery"), htmlFor=EXT_ID),
        dcc.Dropdown(id=EXT_ID, options=options),
        html.Label(t(f"延長天數（1–{MAX_EXTENSION_DAYS}）", f"Days (1–{MAX_EXTENSION_DAYS})"),
                   htmlFor=EXT_DAYS),
        dcc.Input(id=EXT_DAYS, type="number", min=1, max=MAX_EXTENSION_DAYS, step=1, value=7),
        html.Label(t("理由", "Reason"), htmlFor=EXT_REASON),
        dcc.Textarea(id=EXT_REASON, value=""),
        html.Button(t("送出延長申請", "Request the extension"), id=EXT_SUBMIT, n_clicks=0),
        html.Table(id=EXTENSIONS),
        html.H2(t("提出資料疑義（收受後 7 日內）", "Raise a doubt (within 7 days of receipt)")),
        html.Label(t("交付", "Delivery"), htmlFor=DISPUTE_ID),
        dcc.Dropdown(id=DISPUTE_ID, options=options),
        html.Label(t("疑義內容", "What is in doubt"), htmlFor=DISPUTE_TEXT),
        dcc.Textarea(id=DISPUTE_TEXT, value=""),
        html.Button(t("提出疑義", "Raise the doubt"), id=DISPUTE_SUBMIT, n_clicks=0),
        html.Table(id=DISPUTES),
    ])


def _said(ok: bool, zh: str, en: str) -> Any:
    return html.P(t(zh, en), role=None if ok else "alert")


def _refused(user: User, action: str, delivery_id: str, reason: str, now: datetime) -> None:
    audit.record(g.db, user.username, f"{action}.refused", f"delivery:{delivery_id[:64]}", now,
                 {"reason": reason}, agency_id=user.agency_id)  # bounded by audit.record
    g.db.commit()


def _extension(user: User, delivery_id: str, days: Any, reason: Any, now: datetime) -> Any:
    try:
        count = int(days)
    except (TypeError, ValueError):
        return _said(False, "請輸入延長天數。", "Enter the number of days.")
    if not isinstance(reason, str) or not reason.strip():
        return _said(False, "請說明延長理由。", "Give a reason for the extension.")
    try:
        deliveries.request_extension(g.db, user, delivery_id, count, reason.strip(), now)
    except DeliveryError as error:
        g.db.rollback()
        _refused(user, "extension", delivery_id, message_of(error), now)
        return _said(False, f"未受理：{in_language(error, 'zh')}", f"Not accepted: {error}")
    g.db.commit()
    return _said(True, f"已送出 {short(delivery_id)} 延長 {count} 天之申請，待提供機關決定。",
                 f"Extension of {short(delivery_id)} by {count} days requested; the provider "
                 "decides.")


def _dispute(user: User, delivery_id: str, text: Any, now: datetime) -> Any:
    if not isinstance(text, str) or not text.strip():
        return _said(False, "請說明疑義內容。", "Describe the doubt.")
    try:
        deliveries.raise_dispute(g.db, user, delivery_id, text.strip(), now)
    except DeliveryError as error:
        g.db.rollback()
        _refused(user, "dispute", delivery_id, message_of(error), now)
        return _said(False, f"未受理：{in_language(error, 'zh')}", f"Not accepted: {error}")
    g.db.commit()
    return _said(True, f"已就 {short(delivery_id)} 提出疑義，提供機關將調查處理。",
                 f"Doubt about {short(delivery_id)} raised; the provider investigates.")


def _own(user: User, delivery_id: Any, action: str, now: datetime) -> str | None:
    """The id if it is one of this agency's deliveries; otherwise the refusal is audited."""
    if not isinstance(delivery_id, str) or not HEX_ID.fullmatch(delivery_id):
        return None
    try:
        deliveries.status(g.db, user, delivery_id)
    except DeliveryError:
        _refused(user, action, delivery_id, "not a delivery of this agency", now)
        return None
    return delivery_id


@callback(Output(MESSAGE, "children"),
          Input(EXT_SUBMIT, "n_clicks"), Input(DISPUTE_SUBMIT, "n_clicks"),
          State(EXT_ID, "value"), State(EXT_DAYS, "value"), State(EXT_REASON, "value"),
          State(DISPUTE_ID, "value"), State(DISPUTE_TEXT, "value"), prevent_initial_call=True)
def act(_ext: Any, _dispute_clicks: Any, ext_id: Any, days: Any, reason: Any,
        dispute_id: Any, text: Any) -> Any:
    """Request an extension or raise a doubt, for the session's own agency only."""
    user = _agency_user()
    if user is None:
        return not_permitted()
    now = services().now()
    if ctx.triggered_id == EXT_SUBMIT:
        own = _own(user, ext_id, "extension", now)
        return (_extension(user, own, days, reason, now) if own else
                _said(False, "請選擇本機關的一筆交付。", "Choose one of your agency's deliveries."))
    if ctx.triggered_id == DISPUTE_SUBMIT:
        own = _own(user, dispute_id, "dispute", now)
        return (_dispute(user, own, text, now) if own else
                _said(False, "請選擇本機關的一筆交付。", "Choose one of your agency's deliveries."))
    raise PreventUpdate


@callback(Output(TABLE, "children"), Output(EXTENSIONS, "children"),
          Output(DISPUTES, "children"), Output(EXT_ID, "options"), Output(DISPUTE_ID, "options"),
          Input(MESSAGE, "children"))
def refresh(_message: Any) -> tuple[Any, ...]:
    """The agency's deliveries, extension requests and doubts (after every action too)."""
    user = _agency_user()
    if user is None:
        return not_permitted(), None, None, [], []
    now = services().now()
    options = delivery_options(user)
    return (deliveries_rows(user, now), extension_rows(user), dispute_rows(user),
            options, options)
