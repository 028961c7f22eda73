"""The Administration page's tables: captioned, with column and row headers, in the caller's
language. Functions here only render records they are given (already limited to the
caller's jurisdiction by ``dashboards.admin.scope``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from dash import html

from access.audit import Verification
from access.calendar import local_date
from access.grants import RULE_ITEMS, missing_rule_items, rule_of
from access.models import (
    Application,
    Delivery,
    Dispute,
    Extension,
    Grant,
    PersonnelChange,
    Violation,
)
from access.permissions import grant_in_force
from access.sanctions import lapse_date
from access.words import APPLICATION_STATES, GRANT_STATES
from dashboards.data import area_name
from dashboards.i18n import local_time, t
from stats.catalogue import TABLES

CHANNEL_NAMES = {
    "online_query": ("線上查詢", "online query"),
    "file_transfer": ("檔案傳輸", "file transfer"),
    "media_exchange": ("媒體交換", "media exchange"),
}
POST_NAMES = {"case_officer": ("承辦人", "case officer"),
              "unit_supervisor": ("單位主管", "unit supervisor")}
ROLE_NAMES = {
    "provider_official": ("提供機關審核人員", "provider official"),
    "provider_statistician": ("提供機關統計人員", "provider statistician"),
    "auditor": ("稽核人員", "auditor"),
    "agency_user": ("申請機關使用者", "agency user"),
}


def label(pair: tuple[str, str] | None, fallback: str) -> str:
    return t(*pair) if pair else fallback


def listed(items: Iterable[str]) -> str:
    """Items joined as the reader's language joins a list: ``甲、乙`` / ``A, B``."""
    return t("、", ", ").join(items)


def separated(items: Iterable[str]) -> str:
    """Clauses joined: ``甲；乙`` / ``A; B``."""
    return t("；", "; ").join(items)


def numbered(number: Any, text: str) -> str:
    """A record in a drop-down: ``3：高雄市政府衛生局`` / ``3: 高雄市政府衛生局``."""
    return t(f"{number}：{text}", f"{number}: {text}")


def rule_item(key: str) -> str:
    """A point 13 item in the caller's language (``RULE_ITEMS`` holds "zh / en")."""
    zh, _, en = RULE_ITEMS[key].partition(" / ")
    return t(zh, en or zh)


def inclusive_end(moment: datetime) -> str:
    """The last Taipei date of a validity stored as the exclusive start of the next day."""
    return str(local_date(moment - timedelta(microseconds=1)))


def table_names(tables: Iterable[str]) -> str:
    return listed(t(TABLES[n].title_zh, TABLES[n].title_en) if n in TABLES else n
                  for n in tables)


def area_names(codes: Iterable[str]) -> str:
    """Area names with their codes (the codes are what grants and the regulation use)."""
    names = []
    for code in codes:
        name = area_name(code)
        names.append(name if code in name else f"{name} ({code})")
    return listed(names)


def channel_names(channels: Iterable[str]) -> str:
    return listed(label(CHANNEL_NAMES.get(c), c) for c in channels)


def table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[Any]],
          empty: str) -> Any:
    """An accessible table (first cell of each row is its header), or a note when empty."""
    if not rows:
        return html.P(empty)
    return html.Table([
        html.Caption(caption),
        html.Thead(html.Tr([html.Th(h, scope="col") for h in headers])),
        html.Tbody([html.Tr([html.Th(row[0], scope="row"), *[html.Td(c) for c in row[1:]]])
                    for row in rows]),
    ])


def options(pairs: Iterable[tuple[Any, str]]) -> list[dict[str, Any]]:
    return [{"value": value, "label": text} for value, text in pairs]


def status(ok: bool, message: str) -> Any:
    """An action's result (the container has ``role="status"``)."""
    return html.P(message, className="ok" if ok else "error")


def applications_table(apps: Sequence[Application]) -> Any:
    def rules(app: Application) -> str:
        missing = missing_rule_items(app.rules)
        return (t("缺：", "Missing: ") + separated(rule_item(m) for m in missing)
                if missing else t("八項齊備", "all 8 items addressed"))

    rows = [[str(a.id), a.agency.name, a.provider.name,
             label(APPLICATION_STATES.get(a.status), a.status), table_names(a.tables),
             area_names(a.areas), channel_names(a.channels), a.purpose, rules(a),
             local_time(a.submitted_at), a.reason or ""] for a in apps]
    return table(
        t("申請案（第10、13點）", "Applications (points 10, 13)"),
        [t("編號", "No."), t("申請機關", "Agency"), t("受理機關", "Addressed to"),
         t("狀態", "Status"), t("資料表", "Tables"), t("地區", "Areas"), t("管道", "Channels"),
         t("用途", "Purpose"), t("管理規定（第13點）", "Management rules (point 13)"),
         t("送件時間", "Submitted"), t("說明", "Reason")],
        rows, t("沒有申請案。", "No applications."))


def grant_state(grant: Grant, now: datetime) -> str:
    state = label(GRANT_STATES.get(grant.state), grant.state)
    if grant.state == "active" and not grant_in_force(rule_of(grant), now):
        state += t("（不在效期內）", " (not in force now)")
    return state


def grant_choice(grant: Grant) -> str:
    """A grant in a drop-down: number, agency, areas and state."""
    state = label(GRANT_STATES.get(grant.state), grant.state)
    return numbered(grant.id, t("｜", " | ").join((grant.agency.name, area_names(grant.areas),
                                                   state)))


def grants_table(grants: Sequence[Grant], now: datetime) -> Any:
    rows = [[str(g.id), g.agency.name, g.provider.name, grant_state(g, now),
             str(local_date(g.valid_from)), inclusive_end(g.valid_to),
             str(local_date(g.ends_at)) if g.ends_at else "—", table_names(g.tables),
             area_names(g.areas), channel_names(g.channels)] for g in grants]
    return table(
        t("授權（第11點）", "Grants (point 11)"),
        [t("編號", "No."), t("機關", "Agency"), t("核准機關", "Granted by"), t("狀態", "State"),
         t("生效日", "Valid from"), t("到期日", "Valid to"), t("終止日", "Ends on"),
         t("資料表", "Tables"), t("地區", "Areas"), t("管道", "Channels")],
        rows, t("沒有授權。", "No grants."))


def violation_state(v: Violation) -> str:
    if v.lapsed_at is not None:
        day = local_date(v.lapsed_at)
        return t(f"已失效（{day}）", f"lapsed ({day})")
    if v.restored_at is not None:
        day = local_date(v.restored_at)
        return t(f"已恢復（{day}）", f"restored ({day})")
    return t("暫停中", "suspended")


def violations_table(violations: Sequence[Violation]) -> Any:
    rows = [[str(v.id), str(v.grant_id), v.grant.agency.name, v.description,
             str(local_date(v.noticed_at)), str(v.deadline), str(lapse_date(v)),
             violation_state(v), v.review_note or ""] for v in violations]
    return table(
        t("違規與暫停（第19點）", "Violations and suspensions (point 19)"),
        [t("編號", "No."), t("授權", "Grant"), t("機關", "Agency"), t("違規事實", "Violation"),
         t("通知日", "Notice date"), t("改善期限", "Deadline"),
         t("未改善失效日（通知後6個月）", "Lapses on (notice + 6 months)"), t("狀態", "State"),
         t("審查結果", "Review note")],
        rows, t("沒有違規紀錄。", "No violations."))


def personnel_table(changes: Sequence[PersonnelChange], agency_names: dict[int, str]) -> Any:
    rows = [[str(c.id), agency_names.get(c.agency_id, str(c.agency_id)),
             label(POST_NAMES.get(c.post), c.post), c.person, str(c.effective_on),
             local_time(c.reported_at)] for c in changes]
    return table(
        t("人員異動（第12點）", "Personnel changes (point 12)"),
        [t("編號", "No."), t("機關", "Agency"), t("職務", "Post"), t("人員", "Person"),
         t("生效日", "Effective on"), t("通報時間", "Reported")],
        rows, t("沒有人員異動紀錄。", "No personnel changes."))


def _delivery_cells(d: Delivery, agency_names: dict[int, str]) -> list[str]:
    return [d.id[:8], agency_names.get(d.agency_id, str(d.agency_id)),
            channel_names([d.channel]), table_names(d.tables), area_names(d.areas), d.period]


DELIVERY_HEADERS = (("交付", "Delivery"), ("機關", "Agency"), ("管道", "Channel"),
                    ("資料表", "Tables"), ("地區", "Areas"), ("統計期", "Period"))


def extensions_table(pending: Sequence[tuple[Extension, Delivery]],
                     agency_names: dict[int, str]) -> Any:
    rows = [[str(e.id), *_delivery_cells(d, agency_names), local_time(d.expires_at),
             str(e.days), e.reason, local_time(e.requested_at)] for e, d in pending]
    return table(
        t("待決定的展延申請（第17點）", "Extension requests awaiting a decision (point 17)"),
        [t("編號", "No."), *(t(*h) for h in DELIVERY_HEADERS), t("到期時間", "Expires"),
         t("展延日數", "Days"), t("理由", "Reason"), t("申請時間", "Requested")],
        rows, t("沒有待決定的展延申請。", "No pending extension requests."))


def disputes_table(open_: Sequence[tuple[Dispute, Delivery]],
                   agency_names: dict[int, str]) -> Any:
    rows = [[str(x.id), *_delivery_cells(d, agency_names), local_time(d.delivered_at),
             local_time(x.raised_at), x.description] for x, d in open_]
    return table(
        t("待處理的資料疑義（第16點）", "Open disputes about received data (point 16)"),
        [t("編號", "No."), *(t(*h) for h in DELIVERY_HEADERS), t("交付時間", "Delivered"),
         t("提出時間", "Raised"), t("疑義內容", "Description")],
        rows, t("沒有待處理的疑義。", "No open disputes."))


def verification(result: Verification) -> Any:
    """The chain check: intact, or the first bad entry."""
    if result.ok:
        return html.P(t(f"稽核紀錄鏈完整：{result.entries} 筆，最後序號 {result.head_seq}。",
                        f"The audit chain is intact: {result.entries} entries, last seq "
                        f"{result.head_seq}."), className="ok")
    return html.P(t(f"稽核紀錄鏈遭破壞，第一個問題：{result.problems[0]}",
                    f"The audit chain is broken; first problem: {result.problems[0]}"),
                  className="error")
