"""The Administration page's tabs: labelled controls (every label names its control),
action buttons and status lines (``role="status"``). Controls a role may not use are shown
disabled rather than left out, so every callback's inputs exist on every staff member's
page; the callbacks check the role again in any case."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dash import dcc, html

from access.models import CHANNELS, User
from dashboards.admin import scope, views
from dashboards.admin.ids import (
    APP_APPROVE,
    APP_AREAS,
    APP_CHANNELS,
    APP_CHOICE,
    APP_FROM,
    APP_LIST,
    APP_REASON,
    APP_REJECT,
    APP_RETURN,
    APP_STATUS,
    APP_TABLES,
    APP_TO,
    APPLICATIONS,
    AUDIT,
    AUDIT_AGENCY,
    AUDIT_CSV,
    AUDIT_CSV_STATUS,
    AUDIT_DOWNLOAD,
    AUDIT_FROM,
    AUDIT_REPORT,
    AUDIT_SHOW,
    AUDIT_TO,
    AUDIT_VERIFY,
    AUDIT_VERIFY_STATUS,
    DISP_CHOICE,
    DISP_LIST,
    DISP_RESOLUTION,
    DISP_RESOLVE,
    DISP_STATUS,
    DISPUTES,
    EXT_APPROVE,
    EXT_CHOICE,
    EXT_REFUSE,
    GRANT_LIST,
    GRANTS,
    PERS_AGENCY,
    PERS_DATE,
    PERS_LETTER,
    PERS_LIST,
    PERS_PERSON,
    PERS_POST,
    PERS_RECORD,
    PERS_STATUS,
    PERSONNEL,
    VIOL_CHOICE,
    VIOL_DEADLINE,
    VIOL_DESCRIPTION,
    VIOL_GRANT,
    VIOL_LIST,
    VIOL_NOTE,
    VIOL_RECORD,
    VIOL_RESTORE,
    VIOL_STATUS,
    VIOLATIONS,
)
from dashboards.i18n import t
from stats.catalogue import TABLES


def field(zh: str, en: str, component: Any) -> Any:
    """A labelled control (the label names the control's id)."""
    return html.Div([html.Label(t(zh, en), htmlFor=component.id), component], className="field")


def choice(component_id: str, disabled: bool) -> Any:
    return dcc.Dropdown(id=component_id, options=[], disabled=disabled, clearable=True)


def text_box(component_id: str, disabled: bool) -> Any:
    return dcc.Textarea(id=component_id, disabled=disabled, style={"width": "100%"})


def day(component_id: str, value: Any, disabled: bool) -> Any:
    return dcc.DatePickerSingle(id=component_id, date=value, display_format="YYYY-MM-DD",
                                disabled=disabled)


def button(component_id: str, zh: str, en: str, disabled: bool) -> Any:
    return html.Button(t(zh, en), id=component_id, n_clicks=0, type="button", disabled=disabled)


def status_box(component_id: str) -> Any:
    return html.Div(id=component_id, role="status", **{"aria-live": "polite"})


def read_only_note(user: User) -> Any:
    role = views.label(views.ROLE_NAMES.get(user.role), user.role)
    return html.P(t(f"您的角色（{role}）僅能檢視。", f"Your role ({role}) is read-only."),
                  className="note")


def applications_tab(user: User, today: date) -> Any:
    locked = not scope.may_decide(user)
    return dcc.Tab(label=t("申請審查", "Applications"), value=APPLICATIONS, children=html.Section([
        html.H2(t("申請審查（第10至13點）", "Applications (points 10–13)")),
        read_only_note(user) if locked else None,
        field("待審查的申請案", "Application awaiting review", choice(APP_CHOICE, locked)),
        field("授權生效日", "Valid from", day(APP_FROM, today, locked)),
        field("授權到期日", "Valid to", day(APP_TO, today + timedelta(days=364), locked)),
        # point 11: the provider sets the permissions — all that was applied for, or less
        field("核准資料表（留空＝全部申請項目）", "Tables approved (empty = all applied for)",
              dcc.Dropdown(id=APP_TABLES, multi=True, disabled=locked, options=views.options(
                  (name, views.table_names([name])) for name in TABLES))),
        field("核准地區代碼（以空白或逗號分隔；留空＝全部）",
              "Area codes approved (space or comma separated; empty = all)",
              dcc.Input(id=APP_AREAS, type="text", disabled=locked)),
        field("核准管道（留空＝全部申請管道）", "Channels approved (empty = all applied for)",
              dcc.Dropdown(id=APP_CHANNELS, multi=True, disabled=locked, options=views.options(
                  (c, views.channel_names([c])) for c in CHANNELS))),
        field("理由（駁回及縮減核准範圍必填；退回補正可留空，自動列出缺漏項目）",
              "Reason (required to reject or to approve less than applied for; when "
              "returning, empty lists the missing items)",
              text_box(APP_REASON, locked)),
        button(APP_APPROVE, "核准", "Approve", locked),
        button(APP_REJECT, "駁回", "Reject", locked),
        button(APP_RETURN, "退回補正", "Return for completion", locked),
        status_box(APP_STATUS),
        html.Div(id=APP_LIST),
    ], id=APPLICATIONS))


def grants_tab() -> Any:
    return dcc.Tab(label=t("授權", "Grants"), value=GRANTS, children=html.Section([
        html.H2(t("授權（第11點）", "Grants (point 11)")),
        html.Div(id=GRANT_LIST, **{"aria-live": "polite"}),
    ], id=GRANTS))


def violations_tab(user: User, today: date) -> Any:
    locked = not scope.may_decide(user)
    return dcc.Tab(label=t("違規與暫停", "Violations"), value=VIOLATIONS, children=html.Section([
        html.H2(t("違規、暫停與恢復（第19點）", "Violations, suspension and restore (point 19)")),
        read_only_note(user) if locked else None,
        html.P(t(f"登錄即為當日（{today}）通知，授權立即暫停，該機關所有連線與權杖立即失效；"
                 "通知後6個月仍未改善者，授權失效，須重新申請。",
                 f"Recording is today's notice ({today}): the grant is suspended and every "
                 "session and token of the agency ends at once; unimproved six months after "
                 "the notice, the grant lapses and the agency must apply again.")),
        html.H3(t("登錄違規", "Record a violation")),
        field("授權", "Grant", choice(VIOL_GRANT, locked)),
        field("違規事實", "Violation", text_box(VIOL_DESCRIPTION, locked)),
        field("改善期限", "Deadline to improve", day(VIOL_DEADLINE, today + timedelta(days=30),
                                                     locked)),
        button(VIOL_RECORD, "登錄違規並暫停", "Record and suspend", locked),
        html.H3(t("審查後恢復", "Restore after review")),
        field("暫停中的違規", "Open violation", choice(VIOL_CHOICE, locked)),
        field("審查結果", "Review note", text_box(VIOL_NOTE, locked)),
        button(VIOL_RESTORE, "恢復", "Restore", locked),
        status_box(VIOL_STATUS),
        html.Div(id=VIOL_LIST),
    ], id=VIOLATIONS))


def personnel_tab(user: User, today: date) -> Any:
    locked = not scope.may_decide(user)
    posts = views.options((post, views.label(names, post))
                          for post, names in views.POST_NAMES.items())
    return dcc.Tab(label=t("人員異動", "Personnel"), value=PERSONNEL, children=html.Section([
        html.H2(t("承辦人及單位主管異動（第12點）",
                  "Changes of case officer and unit supervisor (point 12)")),
        read_only_note(user) if locked else None,
        field("機關", "Agency", choice(PERS_AGENCY, locked)),
        field("職務", "Post", dcc.Dropdown(id=PERS_POST, options=posts, disabled=locked)),
        field("人員", "Person", dcc.Input(id=PERS_PERSON, type="text", disabled=locked)),
        field("生效日", "Effective on", day(PERS_DATE, today, locked)),
        field("來函文號", "Letter reference", dcc.Input(id=PERS_LETTER, type="text",
                                                         disabled=locked)),
        button(PERS_RECORD, "登錄異動", "Record the change", locked),
        status_box(PERS_STATUS),
        html.Div(id=PERS_LIST),
    ], id=PERSONNEL))


def disputes_tab(user: User) -> Any:
    locked = not scope.may_decide(user)
    resolves = user.role in ("provider_official", "provider_statistician")
    return dcc.Tab(label=t("交付、展延與疑義", "Deliveries and disputes"), value=DISPUTES,
                   children=html.Section([
        html.H2(t("交付的展延申請與資料疑義（第16、17點）",
                  "Extension requests and disputes about deliveries (points 16, 17)")),
        field("展延申請", "Extension request", choice(EXT_CHOICE, locked)),
        button(EXT_APPROVE, "核准展延", "Approve the extension", locked),
        button(EXT_REFUSE, "不予展延", "Refuse the extension", locked),
        field("資料疑義", "Dispute", choice(DISP_CHOICE, not resolves)),
        field("處理結果", "Resolution", text_box(DISP_RESOLUTION, not resolves)),
        button(DISP_RESOLVE, "登錄處理結果", "Record the resolution", not resolves),
        status_box(DISP_STATUS),
        html.Div(id=DISP_LIST),
    ], id=DISPUTES))


def audit_tab(today: date) -> Any:
    return dcc.Tab(label=t("稽核", "Audit"), value=AUDIT, children=html.Section([
        html.H2(t("稽核紀錄（第18點）", "Audit log (point 18)")),
        button(AUDIT_VERIFY, "驗證紀錄鏈", "Verify the chain", False),
        status_box(AUDIT_VERIFY_STATUS),
        html.H3(t("機關稽核報表", "Agency report")),
        field("機關", "Agency", choice(AUDIT_AGENCY, False)),
        field("起日", "From", day(AUDIT_FROM, today.replace(day=1), False)),
        field("迄日", "To", day(AUDIT_TO, today, False)),
        button(AUDIT_SHOW, "顯示報表", "Show the report", False),
        button(AUDIT_CSV, "下載 CSV", "Download CSV", False),
        dcc.Download(id=AUDIT_DOWNLOAD),
        status_box(AUDIT_CSV_STATUS),
        html.Div(id=AUDIT_REPORT, role="status", **{"aria-live": "polite"}),
    ], id=AUDIT))
