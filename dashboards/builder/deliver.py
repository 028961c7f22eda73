"""The builder's downloads of a query's result, through the existing delivery paths.

Agency users: ``access.query_files.deliver_query`` (authorised for the chosen channel,
audited, kept 7 days, a provider-side failure kept pending and retried). Provider staff: a
file of their own (``dashboards.downloads.save_staff_file``, kept 1 day) written by
``exports.query.write_query`` from the same result the preview shows.
"""

from __future__ import annotations

from typing import Any

from dash import html
from flask import g

from access.deliveries import authorize
from access.grants import granted_areas
from access.models import Delivery, User
from access.packages import UnwritableRequest
from access.query_files import deliver_query, query_file_name, text_encoding
from access.staff_files import STAFF_RETENTION
from dashboards.builder.plan import Plan, result_of
from dashboards.downloads import file_url, save_staff_file
from dashboards.i18n import local_time, t
from dashboards.web import services
from exports.query import query_meta, write_query
from stats.query import Query

FILE_LINK = "builder-file-link"
CHANNEL_LABELS = {
    "file_transfer": ("檔案傳輸（單一檔案，保留 7 天）", "File transfer (one file, kept 7 days)"),
    "media_exchange": ("媒體交換（離線資料包，保留 7 天）",
                       "Media exchange (offline package, kept 7 days)"),
}
STAFF_CHANNEL = ("下載檔案（僅限本人，保留 1 天）", "Download file (for you only, kept 1 day)")
STATUS_LABELS = {"ready": ("已完成", "ready"), "pending": ("處理中", "pending"),
                 "failed": ("失敗", "failed")}


def channel_areas(user: User, table: str, channel: str) -> list[str]:
    """The areas the user's grant has for ``table`` through ``channel`` (staff: their
    provider's jurisdiction, which ``authorize`` checks)."""
    if user.agency_id is None:
        return [user.provider.jurisdiction] if user.provider else []
    return granted_areas(g.db, user, table, channel, services().now())


def delivered(delivery: Delivery) -> Any:
    """What an agency user is told of a delivery made (or kept pending)."""
    zh, en = STATUS_LABELS.get(delivery.status, (delivery.status, delivery.status))
    lines = [
        html.P(t(f"交付編號：{delivery.id}", f"Delivery id: {delivery.id}")),
        html.P(t("交付方式：", "Channel: ") + t(*CHANNEL_LABELS[delivery.channel])),
        html.P(t("狀態：", "Status: ") + t(zh, en)),
    ]
    if delivery.status == "ready" and delivery.expires_at is not None:
        lines += [
            html.P(t(f"保存至：{local_time(delivery.expires_at)}",
                     f"Kept until: {local_time(delivery.expires_at)}")),
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


def unwritable(error: Exception) -> Any:
    """The writer's refusal, every character the encoding cannot hold named, in zh and en."""
    cause = error.cause if isinstance(error, UnwritableRequest) else error
    chars = sorted({f"{p.character} ({p.codepoint})" for p in getattr(cause, "problems", [])})
    return html.Div([
        html.P(t("無法以所選格式或編碼寫出此檔案，未建立任何下載：",
                 "The file cannot be written in the format or encoding chosen; nothing was "
                 "created:"), role="alert"),
        # the encoder's own message is English: in Chinese, say the same from its facts
        html.P(t("下列字元無法以所選編碼寫出（BIG-5E 並無任何實作，"
                 "CP950 與 BIG5-HKSCS 為最接近者）；"
                 "請改選 BIG5-HKSCS、EUC-TW 或 UTF-8，或改選其他層級。", str(cause))
               if chars else str(cause)),
        html.Ul([html.Li(c) for c in chars]) if chars else None,
    ])


def agency_submit(user: User, found: Plan, channel: str, fmt: str, encoding: str) -> Any:
    """Deliver the query's result through ``channel`` (``deliver_query`` authorises it)."""
    svc = services()
    delivery = deliver_query(g.db, user, svc.releases, found.query, found.areas, channel, fmt,
                             encoding, svc.outbox, svc.now())
    g.db.commit()
    return delivered(delivery)


def staff_submit(user: User, found: Plan, fmt: str, encoding: str) -> Any:
    """A provider staff member's own file of the query's result, kept 1 day."""
    svc = services()
    now = svc.now()
    query: Query = found.query
    authorize(g.db, user, [query.table], found.areas, "file_transfer", now)  # audits refusals
    result = result_of(found)
    provider = user.provider.code if user.provider else "MOI"
    name = query_file_name(provider, query, result.revisions, fmt, text_encoding(fmt, encoding))
    meta = query_meta(result, now=now)
    record = save_staff_file(
        user, name, None, None, fmt, encoding,
        {"table": query.table, "periods": list(query.periods), "areas": found.areas,
         "query": query.as_json(), "revisions": result.revisions, "format": fmt,
         "encoding": encoding}, now,
        writer=lambda path: write_query(result, fmt, path, encoding=encoding, meta=meta))
    kept = STAFF_RETENTION.days
    return html.Div([
        html.P(t(f"檔案編號：{record['id']}", f"File id: {record['id']}")),
        html.P(t("交付方式：", "Channel: ") + t(*STAFF_CHANNEL)),
        html.P(t(f"保存 {kept} 天，至：{local_time(now + STAFF_RETENTION)}",
                 f"Kept {kept} day, until: {local_time(now + STAFF_RETENTION)}")),
        html.A(t("下載檔案", "Download the file"), id=FILE_LINK, href=file_url(record["id"])),
    ])
