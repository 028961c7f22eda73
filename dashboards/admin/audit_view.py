"""The per-agency audit report as an official reads it (point 18): every action named in
zh-TW or English, the details as labelled fields in the reader's words (areas, tables and
channels by name, dates in the ROC calendar, times on Taipei clocks to the second), the
stored JSON one click away, and a formula-safe CSV of the same.

Text people typed (reasons, notes, descriptions) is shown as typed: it is content, not UI.
Action codes the table below does not know yet are named from their two parts
(``delivery.notify_failed`` → 交付 + 失敗 …), and only as a last resort shown as the code.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from dash import html

from access.models import AGENCY_KINDS
from dashboards.admin.views import (
    CHANNEL_NAMES,
    POST_NAMES,
    ROLE_NAMES,
    area_names,
    channel_names,
    label,
    listed,
    rule_item,
    separated,
    table,
    table_names,
)
from dashboards.i18n import language, period_label, t
from dashboards.shell import PAGES
from exports.delimited import safe_csv_bytes
from stats.said import ZH_SUFFIX
from stats.taipei import format_date, format_time

ACTIONS: dict[str, tuple[str, str]] = {
    "access.refused": ("拒絕存取", "Access refused"),
    "admin.refused": ("管理操作遭拒", "Administration action refused"),
    "agency.added": ("新增機關", "Agency added"),
    "agency.updated": ("機關資料更新", "Agency updated"),
    "api.outage": ("查詢服務暫停（提供端故障）", "Query service unavailable (provider fault)"),
    "api.rate_limited": ("查詢次數超過限制", "Query rate limit reached"),
    "api.volume_exceeded": ("查詢資料量超過每日上限", "Daily query volume exceeded"),
    "application.rejected": ("申請案駁回", "Application rejected"),
    "application.resubmitted": ("申請案補正重送", "Application resubmitted"),
    "application.returned": ("申請案退回補正", "Application returned for completion"),
    "application.submitted": ("申請案送件", "Application submitted"),
    "audit.checkpoint": ("稽核紀錄檢查點", "Audit checkpoint issued"),
    "audit.report": ("檢視稽核報表", "Audit report viewed"),
    "audit.report_downloaded": ("下載稽核報表", "Audit report downloaded"),
    "audit.verified": ("驗證稽核紀錄鏈", "Audit chain verified"),
    "delivery.created": ("建立交付", "Delivery created"),
    "delivery.expired": ("交付已逾保存期限", "Delivery past its retention"),
    "delivery.failed": ("交付製作失敗", "Delivery production failed"),
    "delivery.fetched": ("取得交付", "Delivery fetched"),
    "delivery.notified": ("已通知交付", "Delivery notified"),
    "delivery.notify_failed": ("交付通知失敗", "Delivery notification failed"),
    "delivery.purge_failed": ("交付刪除失敗", "Delivery purge failed"),
    "delivery.purged": ("交付已刪除", "Delivery purged"),
    "delivery.ready": ("交付完成", "Delivery ready"),
    "delivery.unwritable": ("交付無法製作", "Delivery could not be written"),
    "dispute.raised": ("提出資料疑義", "Dispute raised"),
    "dispute.refused": ("疑義申請遭拒", "Dispute refused"),
    "dispute.resolution_refused": ("疑義處理遭拒", "Dispute resolution refused"),
    "dispute.resolved": ("資料疑義已處理", "Dispute resolved"),
    "download": ("下載", "Download"),
    "download.expired": ("下載檔案已逾期", "Download past its retention"),
    "download.failed": ("下載失敗", "Download failed"),
    "download.refused": ("拒絕下載", "Download refused"),
    "extension.decided": ("展延申請已決定", "Extension decided"),
    "extension.decision_refused": ("展延決定遭拒", "Extension decision refused"),
    "extension.refused": ("展延申請遭拒", "Extension request refused"),
    "extension.requested": ("申請展延", "Extension requested"),
    "grant.approved": ("核准授權", "Grant approved"),
    "grant.lapsed": ("授權失效", "Grant lapsed"),
    "grant.refused": ("審查遭拒（無權限）", "Review refused (not permitted)"),
    "grant.restored": ("授權恢復", "Grant restored"),
    "grant.suspended": ("授權暫停", "Grant suspended"),
    "grant.terminated": ("授權終止", "Grant terminated"),
    "grant.termination_requested": ("通知終止授權", "Termination notified"),
    "log.exported": ("匯出取得紀錄", "Own log exported"),
    "login": ("登入", "Login"),
    "login.failed": ("登入失敗", "Login failed"),
    "logout": ("登出", "Logout"),
    "maintenance.run": ("例行維護", "Maintenance run"),
    "personnel.changed": ("人員異動", "Personnel change"),
    "query": ("線上查詢", "Online query"),
    "sanction.refused": ("處分遭拒", "Sanction refused"),
    "session.idle": ("閒置逾時登出", "Session ended after idling"),
    "staff_export.created": ("建立內部匯出檔", "Staff export created"),
    "staff_export.purged": ("內部匯出檔已刪除", "Staff exports purged"),
    "staff_export.unwritable": ("內部匯出檔無法製作", "Staff export could not be written"),
    "termination.refused": ("終止遭拒", "Termination refused"),
    "token.issued": ("核發查詢權杖", "Query token issued"),
    "token.revoked": ("撤銷查詢權杖", "Query tokens revoked"),
    "user.added": ("新增使用者", "User added"),
    "view": ("瀏覽", "View"),
}
# Parts of codes not in ACTIONS (new actions get a readable name before they get a label).
NOUNS = {
    "access": ("存取", "Access"), "admin": ("管理操作", "Administration"),
    "agency": ("機關", "Agency"), "api": ("查詢服務", "Query service"),
    "application": ("申請案", "Application"), "audit": ("稽核", "Audit"),
    "delivery": ("交付", "Delivery"), "dispute": ("資料疑義", "Dispute"),
    "download": ("下載", "Download"), "extension": ("展延", "Extension"),
    "grant": ("授權", "Grant"), "log": ("紀錄", "Log"), "login": ("登入", "Login"),
    "maintenance": ("維護", "Maintenance"), "personnel": ("人員", "Personnel"),
    "sanction": ("處分", "Sanction"), "session": ("連線", "Session"),
    "staff_export": ("內部匯出檔", "Staff export"), "termination": ("終止", "Termination"),
    "token": ("權杖", "Token"), "user": ("使用者", "User"), "violation": ("違規", "Violation"),
}
VERBS = {
    "added": ("新增", "added"), "approved": ("核准", "approved"),
    "created": ("建立", "created"), "decided": ("已決定", "decided"),
    "expired": ("逾期", "expired"), "failed": ("失敗", "failed"),
    "issued": ("核發", "issued"), "purged": ("刪除", "purged"),
    "refused": ("遭拒", "refused"), "requested": ("申請", "requested"),
    "resolved": ("已處理", "resolved"), "restored": ("恢復", "restored"),
    "revoked": ("撤銷", "revoked"), "run": ("執行", "run"),
    "submitted": ("送件", "submitted"), "suspended": ("暫停", "suspended"),
    "terminated": ("終止", "terminated"), "updated": ("更新", "updated"),
    "verified": ("驗證", "verified"),
}
OBJECTS = {
    "agency": ("機關", "Agency"), "application": ("申請案", "Application"),
    "delivery": ("交付", "Delivery"), "dispute": ("疑義", "Dispute"),
    "grant": ("授權", "Grant"), "staff_file": ("內部匯出檔", "Staff export"),
    "token": ("權杖", "Token"), "user": ("使用者", "User"), "violation": ("違規", "Violation"),
    "extension": ("展延申請", "Extension request"),
}
WHOLE_OBJECTS = {
    "api:releases": ("發布清單（線上查詢）", "Release list (online query)"),
    "api:log": ("取得紀錄（線上查詢）", "Own log (online query)"),
    "audit:chain": ("稽核紀錄鏈", "Audit chain"),
    "maintenance": ("例行維護", "Maintenance"),
    "staff_files": ("內部匯出檔", "Staff exports"),
}
FIELDS: dict[str, tuple[str, str]] = {
    "application": ("申請案", "Application"), "approved": ("核准", "Approved"),
    "before": ("變更前", "Before"), "code": ("機關代碼", "Agency code"),
    "kind": ("機關類別", "Kind of agency"), "provider": ("受理機關", "Addressed to"),
    "user": ("使用者", "User"),
    "area_code": ("地區", "Area"), "area_level": ("層級", "Level"),
    "areas": ("地區", "Areas"), "attempt": ("第幾次", "Attempt"),
    "channel": ("管道", "Channel"), "channels": ("管道", "Channels"),
    "counts": ("件數", "Counts"), "days": ("展延日數", "Days"),
    "deadline": ("改善期限", "Deadline"), "delivery": ("交付", "Delivery"),
    "denied": ("未獲授權", "Not granted"), "description": ("內容", "Description"),
    "effective_on": ("生效日", "Effective on"), "encoding": ("編碼", "Encoding"),
    "ends_at": ("終止時間", "Ends at"), "entries": ("筆數", "Entries"),
    "error": ("錯誤", "Error"), "expired_at": ("逾期時間", "Expired at"),
    "expires_at": ("到期時間", "Expires at"), "failed": ("失敗", "Failed"),
    "file": ("檔案", "File"), "final": ("不再重試", "Final"),
    "first_problem": ("第一個問題", "First problem"), "format": ("格式", "Format"),
    "from": ("起日", "From"), "grant": ("授權", "Grant"), "ids": ("編號", "Ids"),
    "invoked_by": ("執行者", "Invoked by"), "lapse_date": ("失效日", "Lapses on"),
    "last_seen_at": ("最後活動時間", "Last active"), "letter": ("函文", "Letter"),
    "missing_rules": ("缺漏的管理規定", "Missing rule items"), "name": ("名稱", "Name"),
    "note": ("審查結果", "Review note"), "notice_date": ("通知日", "Notice date"),
    "noticed": ("通知日", "Noticed on"), "ok": ("紀錄鏈完整", "Chain intact"),
    "period": ("統計期", "Period"), "person": ("人員", "Person"), "post": ("職務", "Post"),
    "reason": ("理由", "Reason"), "removed": ("已刪除", "Removed"),
    "requested_on": ("申請日", "Requested on"), "resolution": ("處理結果", "Resolution"),
    "revision": ("版次", "Revision"), "revoked": ("撤銷數", "Revoked"),
    "revoked_credentials": ("撤銷的連線與權杖", "Sessions and tokens revoked"),
    "role": ("角色", "Role"), "rows": ("筆數", "Rows"), "sha256": ("檢查碼", "Checksum"),
    "table": ("資料表", "Table"), "tables": ("資料表", "Tables"),
    "to": ("迄日", "To"), "username": ("帳號", "Username"),
    "valid_from": ("生效日", "Valid from"), "valid_to": ("到期日", "Valid to"),
    "violation": ("違規", "Violation"),
    # answers, downloads, limits and checkpoints
    "bytes": ("位元組數", "Bytes"), "sent_bytes": ("已送出位元組", "Bytes sent"),
    "size": ("大小（位元組）", "Size (bytes)"), "page": ("頁次", "Page"),
    "pages": ("總頁數", "Pages"), "page_size": ("每頁筆數", "Rows per page"),
    "revisions": ("各期版次", "Revisions"), "notices": ("通知數", "Notices"),
    "limit": ("上限", "Limit"), "used": ("已用", "Used"),
    "window_seconds": ("計算區間（秒）", "Window (seconds)"),
    "component": ("故障元件", "Failing component"), "problems": ("問題", "Problems"),
    "form": ("簽章方式", "Signature form"), "key_id": ("金鑰識別碼", "Key id"),
    "hash": ("雜湊值", "Hash"), "seq": ("序號", "Sequence number"),
    "log_ok": ("紀錄鏈完整", "Log intact"), "agencies": ("機關數", "Agencies"),
    "departing": ("離職帳號", "Departing account"), "query": ("查詢", "Query"),
    # a chart's download: what it showed
    "describes": ("下載內容", "What was downloaded"),
    "language": ("語言", "Language"), "periods": ("統計期", "Periods"),
}
SCREEN = ("頁面", "Page")  # "page" names a dashboards page in a chart's download, else a number
FIGURE_KINDS = {"picture": ("圖片", "picture"), "data": ("資料", "data")}
LANGUAGE_NAMES = {"zh": ("中文", "Chinese"), "en": ("英文", "English")}
LEVELS = {"national": ("全國", "national"), "county": ("縣市", "county"),
          "township": ("鄉鎮市區", "township"), "village": ("村里", "village")}
YES_NO = {True: ("是", "yes"), False: ("否", "no")}
# Actors that are no person's account: the scheduled jobs, the demo set-up, the provider's CLI.
ACTORS = {"system": ("系統", "system"), "demo": ("示範資料建置", "demo set-up"),
          "provider": ("提供機關（命令列）", "provider (command line)")}
PROVIDERS = {"MOI": ("內政部", "Ministry of the Interior")}


def actor_label(actor: str) -> str:
    """A username as it is; the built-in actors named in the reader's language."""
    return label(ACTORS.get(actor), actor)


def kind_label(kind: str) -> str:
    """An agency kind (``access.models.AGENCY_KINDS`` holds "zh / en")."""
    zh, _, en = AGENCY_KINDS.get(kind, kind).partition(" / ")
    return t(zh, en or zh)


def action_label(action: str) -> str:
    """An audit action in the reader's language."""
    if action in ACTIONS:
        return t(*ACTIONS[action])
    noun, _, verb = action.partition(".")
    if noun in NOUNS and (not verb or verb in VERBS):
        zh_noun, en_noun = NOUNS[noun]
        zh_verb, en_verb = VERBS.get(verb, ("", ""))
        return t(f"{zh_noun}{zh_verb}", f"{en_noun} {en_verb}".strip())
    return action


def object_label(obj: str) -> str:
    """What an entry acted on: ``grant:3`` → 授權 3; tables by title; deliveries by the first
    eight characters of their id (as the deliveries' own lists show them)."""
    if obj in WHOLE_OBJECTS:
        return t(*WHOLE_OBJECTS[obj])
    kind, _, key = obj.partition(":")
    if kind in ("table", "tables"):
        return table_names(key.split(","))
    if kind in OBJECTS:
        shown = key[:8] if kind in ("delivery", "staff_file") else key
        return f"{t(*OBJECTS[kind])} {shown}"
    return obj


def entry_time(text: str) -> str:
    """A stored time on Taipei clocks to the second (the column header names the zone)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment, language(), seconds=True, label=False)


def _day(value: Any) -> str:
    try:
        return format_date(date.fromisoformat(str(value)[:10]), language())
    except ValueError:
        return str(value)


def _moment(value: Any) -> str:
    try:
        return entry_time(str(value))
    except ValueError:
        return str(value)


def _plain(value: Any) -> str:
    """Any other value: yes/no, lists joined, mappings as ``key: value``; text as typed."""
    if isinstance(value, bool):
        return t(*YES_NO[value])
    if value is None:
        return "—"
    if isinstance(value, list):
        return listed(_plain(v) for v in value) or "—"
    if isinstance(value, dict):  # nested fields read as the entry's own do
        return separated(t(f"{field_label(k, v)}：{field_value(k, v)}",
                             f"{field_label(k, v)}: {field_value(k, v)}")
                         for k, v in value.items())
    return str(value)


def field_label(key: str, value: Any) -> str:
    """A detail's name in the reader's language."""
    if key == "page" and isinstance(value, str) and not value.isdigit():
        return t(*SCREEN)
    return label(FIELDS.get(key), key)


def field_value(key: str, value: Any) -> str:
    """One detail's value in the reader's words."""
    if value is None or value == [] or value == "":
        return "—"
    if key in ("areas", "area_code"):
        return area_names(value if isinstance(value, list) else [value])
    if key in ("tables", "table"):
        return table_names(value if isinstance(value, list) else [value])
    if key in ("channel", "channels"):
        return channel_names(value if isinstance(value, list) else [value])
    if key == "area_level":
        return label(LEVELS.get(str(value)), str(value))
    if key == "periods" and isinstance(value, list):
        return listed(period_with_code(str(p)) for p in value)
    if key == "page":
        found = next((p for p in PAGES if p.path.strip("/") == str(value)), None)
        return t(found.zh, found.en) if found else str(value)
    if key == "kind" and value in FIGURE_KINDS:
        return t(*FIGURE_KINDS[value])
    if key == "language":
        return label(LANGUAGE_NAMES.get(str(value)), str(value))
    if key == "format" and value in ("png", "svg"):  # a picture's, as its button names it
        return str(value).upper()
    if key == "period":  # one period, or several joined by commas (a view's comparisons)
        return listed(period_with_code(p) for p in str(value).split(","))
    if key == "kind":
        return kind_label(str(value))
    if key == "provider":
        code = str(value)
        return label(PROVIDERS.get(code), area_names([code]) if code.isdigit() else code)
    if key == "user" and isinstance(value, str):
        return actor_label(value)
    if key == "role":
        return label(ROLE_NAMES.get(str(value)), str(value))
    if key == "post":
        return label(POST_NAMES.get(str(value)), str(value))
    if key == "missing_rules":
        return separated(rule_item(k) for k in value) if isinstance(value, list) else str(value)
    if key.endswith(("_at",)):
        return _moment(value)
    if key in ("valid_from", "valid_to", "effective_on", "deadline", "notice_date", "noticed",
               "lapse_date", "requested_on", "from", "to"):
        return _day(value)
    if key == "sha256":
        return f"{str(value)[:16]}…"
    if key == "delivery":
        return str(value)[:8]
    return _plain(value)


def period_with_code(period: str) -> str:
    """``114年3月（2025-03）`` / ``Mar 2025 (2025-03)``; anything else as stored."""
    try:
        shown = period_label(period)
    except ValueError:
        return period
    return t(f"{shown}（{period}）", f"{shown} ({period})")


def detail_fields(details: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of every detail, in the order they were recorded; a reason the system
    worded in both languages (``reason`` + ``reason_zh``, ``stats.said``) in the reader's."""
    details = details or {}
    shown = []
    for key, value in details.items():
        if key.endswith(ZH_SUFFIX) and key.removesuffix(ZH_SUFFIX) in details:
            continue
        if language() == "zh" and key + ZH_SUFFIX in details:
            value = details[key + ZH_SUFFIX]
        shown.append((field_label(key, value), field_value(key, value)))
    return shown


def raw_json(details: dict[str, Any]) -> str:
    return json.dumps(details or {}, ensure_ascii=False, sort_keys=True, indent=1)


def details_cell(details: dict[str, Any]) -> Any:
    """Labelled fields, then the stored JSON behind a disclosure (one click away)."""
    fields = detail_fields(details)
    shown: list[Any] = []
    for name, value in fields:
        shown += [html.Dt(name), html.Dd(value)]
    return html.Div([
        html.Dl(shown, className="fields") if shown else html.Span("—"),
        html.Details([html.Summary(t("原始紀錄", "Raw record")),
                      html.Pre(raw_json(details), className="raw")], className="raw"),
    ])


def columns() -> list[str]:
    return [t("序號", "Seq"), t("時間（臺北時間）", "Time (Taipei, +08:00)"),
            t("使用者", "Actor"), t("動作", "Action"), t("對象", "Object"),
            t("內容", "Details")]


SHOWN_ENTRIES = 300


def report_view(report: dict[str, Any]) -> Any:
    """The report on screen: the newest ``SHOWN_ENTRIES`` entries (a page of thousands of
    labelled entries takes the browser seconds to lay out) — the counts below and the CSV
    cover them all."""
    entries = report["entries"]
    rows = [[str(e["seq"]), entry_time(e["time"]), actor_label(e["actor"]),
             action_label(e["action"]),
             object_label(e["object"]), details_cell(e["details"])]
            for e in entries[-SHOWN_ENTRIES:]]
    more = len(entries) - SHOWN_ENTRIES
    cut = [html.P(t(f"此期間共 {len(entries):,} 筆，畫面顯示最近 {SHOWN_ENTRIES:,} 筆；"
                    "完整紀錄請下載 CSV。",
                    f"{len(entries):,} entries in this period; the newest {SHOWN_ENTRIES:,} "
                    "are shown: download the CSV for all of them."),
                  className="note")] if more > 0 else []
    summary = [[action_label(s["action"]),
                label(CHANNEL_NAMES.get(s["channel"]), s["channel"] or "—"),
                actor_label(s["actor"]), str(s["count"])] for s in report["summary"]]
    first, last = _day(report["from"]), _day(report["to"])
    caption = t(f"{report['agency_name']} 稽核紀錄（{first}至{last}）",
                f"Audit log of {report['agency_name']}, {first} to {last}")
    return html.Div([
        *cut,
        html.Div(table(caption, columns(), rows,
                       t("此期間沒有紀錄。", "No entries in this period.")),
                 className="audit-report"),
        table(t("依動作、管道、使用者統計", "Counts by action, channel and actor"),
              [t("動作", "Action"), t("管道", "Channel"), t("使用者", "Actor"),
               t("筆數", "Count")], summary, ""),
    ])


def report_frame(report: dict[str, Any]) -> pl.DataFrame:
    """The report as the CSV's table: headers in the reader's language, the action's code
    beside its name (to filter on), the details as labelled text and as the stored JSON."""
    entries = report["entries"]
    text_columns = {
        t("時間（臺北時間）", "Time (Taipei, +08:00)"): [entry_time(e["time"]) for e in entries],
        t("使用者", "Actor"): [actor_label(e["actor"]) for e in entries],
        t("動作", "Action"): [action_label(e["action"]) for e in entries],
        t("動作代碼", "Action code"): [e["action"] for e in entries],
        t("對象", "Object"): [object_label(e["object"]) for e in entries],
        t("內容", "Details"): [separated(t(f"{k}：{v}", f"{k}: {v}")
                                       for k, v in detail_fields(e["details"]))
                             for e in entries],
        t("原始紀錄（JSON）", "Raw record (JSON)"): [
            json.dumps(e["details"] or {}, ensure_ascii=False, sort_keys=True) for e in entries],
    }
    return pl.DataFrame({
        t("序號", "Seq"): pl.Series([e["seq"] for e in entries], dtype=pl.Int64),
        **{name: pl.Series(values, dtype=pl.String) for name, values in text_columns.items()},
    })


def report_csv(report: dict[str, Any]) -> bytes:
    """UTF-8 with a BOM (Excel then reads the Chinese text), by the one formula-safe writer:
    actor names and typed reasons are the agency's and officials' own text."""
    return safe_csv_bytes(report_frame(report), encoding="utf-8-sig")


def report_filename(report: dict[str, Any]) -> str:
    return f"audit-agency{report['agency_id']}-{report['from']}-{report['to']}.csv"
