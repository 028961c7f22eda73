"""The Administration page (``/admin``): provider staff only, every list and action limited
to the official's jurisdiction, every decision through the access layer (refusals shown and
audited), suspension ending the agency's sessions at once, the audit chain check and the
per-agency report with its CSV. Callbacks are called as a crafted request would call them."""

from __future__ import annotations

import base64
import calendar
import io
import json
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from flask import Flask
from sqlalchemy import func, select, text

from access import deliveries, grants
from access.accounts import add_user
from access.calendar import local_date, start_of_day
from access.models import (
    Agency,
    Application,
    AuditEntry,
    Delivery,
    Dispute,
    Extension,
    Grant,
    Provider,
    User,
)
from dashboards.admin import ids
from dashboards.admin.audit_view import detail_fields
from dashboards.i18n import LANG_COOKIE
from tests.dashboards.client import (
    audit_actions,
    call,
    components,
    db_session,
    logged_in,
    login,
    payload,
    router,
    table_rows,
    text_of,
)

NOT_PERMITTED = "您沒有使用此頁面的權限"
AGENCY_USERS = ("national_user", "taipei_user", "kaohsiung_user")
TAIPEI_AGENCY, KAOHSIUNG_AGENCY = "臺北市政府主計處", "高雄市政府衛生局"
NATIONAL_AGENCY = "國家發展委員會"
RULES = {key: f"本機關已訂定：{label}" for key, label in grants.RULE_ITEMS.items()}


@pytest.fixture(scope="module", autouse=True)
def warm_served(served: dict) -> None:
    """Let the shared app take its page callbacks before any private app is made (Dash hands
    ``dash.callback`` registrations to the first app that serves a request)."""
    assert served["app"].test_client().get("/login").status_code == 200


# --- payloads -----------------------------------------------------------------------------

LISTS = {
    ids.APPLICATIONS: ([(ids.APP_LIST, "children"), (ids.APP_CHOICE, "options")],
                       [(ids.APP_STATUS, "children", None)]),
    ids.GRANTS: ([(ids.GRANT_LIST, "children")], []),
    ids.VIOLATIONS: ([(ids.VIOL_LIST, "children"), (ids.VIOL_GRANT, "options"),
                      (ids.VIOL_CHOICE, "options")], [(ids.VIOL_STATUS, "children", None)]),
    ids.PERSONNEL: ([(ids.PERS_LIST, "children"), (ids.PERS_AGENCY, "options")],
                    [(ids.PERS_STATUS, "children", None)]),
    ids.DISPUTES: ([(ids.DISP_LIST, "children"), (ids.EXT_CHOICE, "options"),
                    (ids.DISP_CHOICE, "options")], [(ids.DISP_STATUS, "children", None)]),
}


def listing(section: str) -> dict:
    outputs, extra = LISTS[section]
    return payload(outputs, [(ids.TABS, "value", section), *extra])


def pressed(body: dict, button: str) -> dict:
    body["changedPropIds"] = [f"{button}.n_clicks"]
    return body


def decide(button: str, app_id: Any, valid_from: Any = None, valid_to: Any = None,
           reason: str | None = None, tables: list[str] | None = None, areas: str | None = None,
           channels: list[str] | None = None) -> dict:
    return pressed(payload(
        [(ids.APP_STATUS, "children")],
        [(ids.APP_APPROVE, "n_clicks", 1), (ids.APP_REJECT, "n_clicks", 1),
         (ids.APP_RETURN, "n_clicks", 1)],
        [(ids.APP_CHOICE, "value", app_id), (ids.APP_FROM, "date", valid_from),
         (ids.APP_TO, "date", valid_to), (ids.APP_REASON, "value", reason),
         (ids.APP_TABLES, "value", tables), (ids.APP_AREAS, "value", areas),
         (ids.APP_CHANNELS, "value", channels)]), button)


def sanction(button: str, grant_id: Any = None, description: str | None = None,
             deadline: Any = None, violation_id: Any = None, note: str | None = None) -> dict:
    return pressed(payload(
        [(ids.VIOL_STATUS, "children")],
        [(ids.VIOL_RECORD, "n_clicks", 1), (ids.VIOL_RESTORE, "n_clicks", 1)],
        [(ids.VIOL_GRANT, "value", grant_id), (ids.VIOL_DESCRIPTION, "value", description),
         (ids.VIOL_DEADLINE, "date", deadline), (ids.VIOL_CHOICE, "value", violation_id),
         (ids.VIOL_NOTE, "value", note)]), button)


def personnel(agency_id: Any, post: str, person: str, effective: Any,
              letter: str | None = "府授字第1140001號") -> dict:
    return pressed(payload(
        [(ids.PERS_STATUS, "children")], [(ids.PERS_RECORD, "n_clicks", 1)],
        [(ids.PERS_AGENCY, "value", agency_id), (ids.PERS_POST, "value", post),
         (ids.PERS_PERSON, "value", person), (ids.PERS_DATE, "date", effective),
         (ids.PERS_LETTER, "value", letter)]),
        ids.PERS_RECORD)


def on_delivery(button: str, ext_id: Any = None, dispute_id: Any = None,
                resolution: str | None = None) -> dict:
    return pressed(payload(
        [(ids.DISP_STATUS, "children")],
        [(ids.EXT_APPROVE, "n_clicks", 1), (ids.EXT_REFUSE, "n_clicks", 1),
         (ids.DISP_RESOLVE, "n_clicks", 1)],
        [(ids.EXT_CHOICE, "value", ext_id), (ids.DISP_CHOICE, "value", dispute_id),
         (ids.DISP_RESOLUTION, "value", resolution)]), button)


def verify() -> dict:
    return payload([(ids.AUDIT_VERIFY_STATUS, "children")], [(ids.AUDIT_VERIFY, "n_clicks", 1)])


def report(agency_id: Any, first: Any, last: Any, csv: bool = False) -> dict:
    state = [(ids.AUDIT_AGENCY, "value", agency_id), (ids.AUDIT_FROM, "date", first),
             (ids.AUDIT_TO, "date", last)]
    if csv:
        return payload([(ids.AUDIT_DOWNLOAD, "data"), (ids.AUDIT_CSV_STATUS, "children")],
                       [(ids.AUDIT_CSV, "n_clicks", 1)], state)
    return payload([(ids.AUDIT_REPORT, "children")], [(ids.AUDIT_SHOW, "n_clicks", 1)], state)


def audit_agencies() -> dict:
    return payload([(ids.AUDIT_AGENCY, "options")], [(ids.TABS, "value", ids.AUDIT)])


def options(answer: Any, component: str) -> list[Any]:
    return [o["value"] for o in answer.get_json()["response"][component]["options"]]


def first_cells(answer: Any) -> list[str]:
    return [row[0] for row in table_rows(answer)]


# --- the private database -----------------------------------------------------------------

def now_of(private: dict) -> datetime:
    return private["clock"].now()


def agency_id(private: dict, name: str) -> int:
    with db_session(private) as s:
        return s.scalar(select(Agency.id).where(Agency.name == name))


def grant_of(private: dict, agency: str) -> int:
    with db_session(private) as s:
        return s.scalar(select(Grant.id).join(Agency).where(Agency.name == agency))


def submitted(private: dict, agency: str, provider: str, tables: list[str], areas: list[str],
              rules: dict[str, str] = RULES) -> int:
    """A new application (through ``access.grants.submit``); returns its id."""
    with db_session(private) as s:
        agency_row = s.scalar(select(Agency).where(Agency.name == agency))
        app = grants.submit(
            s, agency_row,
            s.scalar(select(Provider).where(Provider.code == provider)),
            tables, areas, ["online_query", "file_transfer"], "人口政策研究", rules,
            now_of(private), legal_basis="戶籍法第65條",
            by=s.scalar(select(User).where(User.agency_id == agency_row.id)))
        s.commit()
        return app.id


def kaohsiung_delivery(private: dict) -> tuple[str, int, int]:
    """A file delivered to 高雄市政府衛生局 (vital_events, 64000) with a pending extension
    request and an open dispute; returns (delivery id, extension id, dispute id)."""
    now = now_of(private)
    with db_session(private) as s:
        user = s.scalar(select(User).where(User.username == "kaohsiung_user"))
        delivery = deliveries.record_answer(s, user, "file_transfer", ["vital_events"],
                                            "2025-03", ["64000"], b"x", private["outbox"], now)
        ext = deliveries.request_extension(s, user, delivery.id, 5, "資料量大", now)
        dispute = deliveries.raise_dispute(s, user, delivery.id, "出生數不符", now)
        s.commit()
        return delivery.id, ext.id, dispute.id


def staff_user(private: dict, username: str, role: str, provider: str) -> Any:
    """A provider staff member added to the private database, logged in."""
    with db_session(private) as s:
        add_user(s, username, "lantern-river-4821", role, now_of(private),
                 provider=s.scalar(select(Provider).where(Provider.code == provider)))
        s.commit()
    client, answer = login(private, username, "lantern-river-4821")
    assert answer.status_code == 303
    return client


def overview(area: str) -> dict:
    return payload([("overview-figures", "children")],
                   [("overview-area", "value", area), ("overview-period", "value", "2025-03")])


def new_entries(served: dict, username: str, before: int) -> list[tuple[str, str]]:
    return audit_actions(served, username)[before:]


# --- who gets the page --------------------------------------------------------------------

CRAFTED = [
    *(listing(section) for section in LISTS),
    decide(ids.APP_APPROVE, 1, "2025-01-01", "2025-12-31"),
    decide(ids.APP_REJECT, 1, reason="x"),
    sanction(ids.VIOL_RECORD, grant_id=1, description="x", deadline="2099-01-01"),
    sanction(ids.VIOL_RESTORE, violation_id=1, note="x"),
    personnel(1, "case_officer", "王小明", "2025-01-01"),
    on_delivery(ids.EXT_APPROVE, ext_id=1),
    on_delivery(ids.DISP_RESOLVE, dispute_id=1, resolution="x"),
    verify(),
    report(1, "2020-01-01", "2099-12-31"),
    report(1, "2020-01-01", "2099-12-31", csv=True),
    audit_agencies(),
]


def test_anonymous_gets_401_for_the_page_and_every_admin_callback(served):
    client = served["app"].test_client()
    for body in [router("/admin"), *CRAFTED]:
        answer = call(client, body, csrf=False)
        assert answer.status_code == 401, body["output"]
        assert TAIPEI_AGENCY not in text_of(answer)


@pytest.mark.parametrize("username", AGENCY_USERS)
def test_agency_users_never_get_the_page_or_any_admin_data(served, username):
    client = logged_in(served, username)
    before = len(audit_actions(served, username))
    page = text_of(call(client, router("/admin")))
    assert NOT_PERMITTED in page and ids.TABS not in page
    for body in CRAFTED:
        answer = call(client, body)
        body_text = text_of(answer)
        if answer.status_code == 204:  # nothing at all (the audit tab's agency list)
            assert body["output"] == f"{ids.AUDIT_AGENCY}.options"
            continue
        assert answer.status_code == 200 and NOT_PERMITTED in body_text, body["output"]
        values = [v for out in answer.get_json()["response"].values() for v in out.values()]
        assert table_rows(answer) == [] and all(v in ([], None) for v in values
                                                 if not isinstance(v, dict)), body["output"]
        for name in (TAIPEI_AGENCY, KAOHSIUNG_AGENCY, NATIONAL_AGENCY):
            assert name not in body_text, (body["output"], name)
    assert new_entries(served, username, before) == []  # nothing was decided or read
    with db_session(served) as s:
        assert s.scalar(select(func.count()).select_from(Grant).where(
            Grant.state != "active")) == 0


def test_page_renders_in_both_languages(served):
    client = logged_in(served, "moi_official")
    zh = text_of(call(client, router("/admin")))
    for label in ("管理", "申請審查", "授權", "違規與暫停", "人員異動", "交付、展延與疑義", "稽核",
                  "管轄範圍：全國（00000）"):
        assert label in zh, label
    assert "Applications" not in zh
    client.set_cookie(LANG_COOKIE, "en")
    en = text_of(call(client, router("/admin")))
    for label in ("Administration", "Applications", "Grants", "Violations", "Personnel",
                  "Deliveries and disputes", "Audit", "Jurisdiction: Taiwan (00000)"):
        assert label in en, label
    assert "申請審查" not in en and "稽核" not in en
    listed = text_of(call(client, listing(ids.GRANTS)))
    assert "Grants (point 11)" in listed and "Valid from" in listed and "生效日" not in listed


def test_every_control_has_a_label_and_results_are_announced(served):
    client = logged_in(served, "moi_official")
    tree = call(client, router("/admin")).get_json()
    labelled = {c["props"]["htmlFor"] for c in components(tree, "Label")}
    controls = [c["props"]["id"] for kind in ("Dropdown", "Textarea", "Input", "DatePickerSingle")
                for c in components(tree, kind)]
    assert len(controls) >= 17 and set(controls) <= labelled
    statuses = {c["props"]["id"] for c in components(tree, "Div")
                if c["props"].get("role") == "status"}
    assert {ids.APP_STATUS, ids.VIOL_STATUS, ids.PERS_STATUS, ids.DISP_STATUS,
            ids.AUDIT_VERIFY_STATUS, ids.AUDIT_REPORT} <= statuses


# --- grants -------------------------------------------------------------------------------

@pytest.mark.parametrize(("username", "agencies"), [
    ("moi_official", {NATIONAL_AGENCY, TAIPEI_AGENCY, KAOHSIUNG_AGENCY}),
    ("taipei_official", {TAIPEI_AGENCY}),
    ("kaohsiung_official", {KAOHSIUNG_AGENCY}),
])
def test_grants_tab_lists_the_jurisdiction_with_state_and_validity(served, username, agencies):
    """The demo approves every grant from the day before its creation to 365 days after."""
    with db_session(served) as s:
        created = local_date(s.scalar(select(func.min(Grant.created_at))))
    answer = call(logged_in(served, username), listing(ids.GRANTS))
    rows = table_rows(answer)[1:]
    assert {row[1] for row in rows} == agencies
    for row in rows:
        assert row[3] == "生效"
        assert row[4:7] == [str(created - timedelta(days=1)), str(created + timedelta(days=365)),
                            "—"]
    if username == "taipei_official":
        assert rows[0][8] == "臺北市 (63000)"


# --- applications -------------------------------------------------------------------------

def test_moi_official_approves_and_the_agency_sees_the_area_on_the_overview(private):
    app_id = submitted(private, TAIPEI_AGENCY, "MOI", ["population", "vital_events"],
                       ["64000", "66000"])  # cross-county: MOI's (point 6)
    taipei = logged_in(private, "taipei_user")
    assert "64000" not in text_of(call(taipei, router("/")))
    assert "您的授權不包含此地區" in text_of(call(taipei, overview("64000")))
    official = logged_in(private, "moi_official")
    listed = call(official, listing(ids.APPLICATIONS))
    assert app_id in options(listed, ids.APP_CHOICE)
    row = next(r for r in table_rows(listed) if r[0] == str(app_id))
    assert row[1:4] == [TAIPEI_AGENCY, "內政部", "待審查"] and row[8] == "八項齊備"
    today = local_date(now_of(private))
    answer = call(official, decide(ids.APP_APPROVE, app_id, str(today),
                                   str(today + timedelta(days=30))))
    assert answer.status_code == 200 and "已核准" in text_of(answer)
    with db_session(private) as s:
        grant = s.scalar(select(Grant).where(Grant.application_id == app_id))
        assert grant.areas == ["64000", "66000"] and grant.state == "active"
    assert ("grant.approved", f"grant:{grant.id}") in [
        (a, d.split("{")[0]) for a, d in audit_actions(private, "moi_official")]
    assert "64000" in text_of(call(taipei, router("/")))
    figures = text_of(call(taipei, overview("64000")))
    assert "人口數" in figures and "出生數" in figures and "未授權" not in figures
    relisted = call(official, listing(ids.APPLICATIONS))
    assert app_id not in options(relisted, ids.APP_CHOICE)  # decided: no longer offered


def test_official_approves_a_narrower_scope_with_a_reason(private):
    """Point 11: the provider sets the permissions — fewer tables, areas and channels than
    applied for, with the reason recorded; never more."""
    app_id = submitted(private, TAIPEI_AGENCY, "63000", ["population", "vital_events"],
                       ["63000"])
    official = logged_in(private, "taipei_official")
    today = local_date(now_of(private))
    first, last = str(today), str(today + timedelta(days=30))
    unexplained = text_of(call(official, decide(ids.APP_APPROVE, app_id, first, last,
                                                tables=["population"])))
    assert "未執行" in unexplained and "須填寫理由" in unexplained
    wider = text_of(call(official, decide(ids.APP_APPROVE, app_id, first, last,
                                          reason="僅需人口數", areas="64000")))
    assert "未執行" in wider and "未申請的項目：64000" in wider
    done = text_of(call(official, decide(ids.APP_APPROVE, app_id, first, last,
                                         reason="僅需中正區人口數", tables=["population"],
                                         areas="63000050", channels=["file_transfer"])))
    assert "已核准" in done, done
    with db_session(private) as s:
        grant = s.scalar(select(Grant).where(Grant.application_id == app_id))
        assert (grant.tables, grant.areas, grant.channels) == (
            ["population"], ["63000050"], ["file_transfer"])
        assert s.get(Application, app_id).reason == "僅需中正區人口數"


def test_application_shows_missing_rule_items_and_cannot_be_approved(private):
    rules = {**RULES, "confidentiality": " ", "disposal_after_use": ""}
    app_id = submitted(private, TAIPEI_AGENCY, "63000", ["population"], ["63000"], rules)
    official = logged_in(private, "taipei_official")
    row = next(r for r in table_rows(call(official, listing(ids.APPLICATIONS)))
               if r[0] == str(app_id))
    assert row[8] == "缺：保密；使用後銷毀"
    refused = text_of(call(official, decide(ids.APP_APPROVE, app_id, "2025-01-01",
                                            "2099-12-31")))
    assert "未執行" in refused and "第十三點" in refused
    assert "請填寫駁回理由" in text_of(call(official, decide(ids.APP_REJECT, app_id, reason=" ")))
    returned = text_of(call(official, decide(ids.APP_RETURN, app_id)))
    assert "已退回補正" in returned
    row = next(r for r in table_rows(call(official, listing(ids.APPLICATIONS)))
               if r[0] == str(app_id))
    assert row[3] == "退回補正" and row[10] == "missing: confidentiality, disposal_after_use"


def test_taipei_official_cannot_list_or_decide_a_kaohsiung_application(private):
    app_id = submitted(private, KAOHSIUNG_AGENCY, "64000", ["vital_events"], ["64000"])
    kaohsiung = call(logged_in(private, "kaohsiung_official"), listing(ids.APPLICATIONS))
    assert app_id in options(kaohsiung, ids.APP_CHOICE)  # the addressed provider sees it
    official = logged_in(private, "taipei_official")
    listed = call(official, listing(ids.APPLICATIONS))
    assert app_id not in options(listed, ids.APP_CHOICE)
    assert str(app_id) not in first_cells(listed) and KAOHSIUNG_AGENCY not in text_of(listed)
    before = len(audit_actions(private, "taipei_official"))
    for body in (decide(ids.APP_APPROVE, app_id, "2025-01-01", "2099-12-31"),
                 decide(ids.APP_REJECT, app_id, reason="不符"),
                 decide(ids.APP_RETURN, app_id)):
        assert "未執行" in text_of(call(official, body))
    refusals = new_entries(private, "taipei_official", before)
    assert [a for a, _ in refusals] == ["grant.refused"] * 3
    assert all(d.startswith(f"application:{app_id}") for _, d in refusals)
    with db_session(private) as s:
        assert s.get(Application, app_id).status == "submitted"


def test_a_refusal_from_the_access_layer_reads_in_the_pages_language(private):
    """The access layer words its refusals in both languages: a zh-TW page shows no English
    sentence, an English page no Chinese one, and the audit log keeps both wordings."""
    app_id = submitted(private, KAOHSIUNG_AGENCY, "64000", ["vital_events"], ["64000"])
    official = logged_in(private, "taipei_official")
    zh = text_of(call(official, decide(ids.APP_APPROVE, app_id, "2025-01-01", "2099-12-31")))
    assert "未執行：" in zh and "向高雄市政府提出" in zh and "第六點" in zh, zh
    assert "addressed to" not in zh and "point 6" not in zh
    official.set_cookie(LANG_COOKIE, "en")
    en = text_of(call(official, decide(ids.APP_APPROVE, app_id, "2025-01-01", "2099-12-31")))
    assert "Not done: " in en and "addressed to" in en and "(point 6)" in en, en
    assert "第六點" not in en
    with db_session(private) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "grant.refused")
                          .order_by(AuditEntry.seq.desc())).first()
        assert "addressed to" in entry.details["reason"]
        assert "第六點" in entry.details["reason_zh"]
    zh_fields = dict(detail_fields_of(entry.details, "zh"))
    assert list(zh_fields) == ["理由"] and "第六點" in zh_fields["理由"]
    en_fields = dict(detail_fields_of(entry.details, "en"))
    assert list(en_fields) == ["Reason"] and "(point 6)" in en_fields["Reason"]


def detail_fields_of(details: dict, lang: str) -> list[tuple[str, str]]:
    """The Audit tab's labelled fields of one entry, as a reader of ``lang`` sees them."""
    with Flask(__name__).test_request_context(headers={"Cookie": f"{LANG_COOKIE}={lang}"}):
        return detail_fields(details)


def test_read_only_roles_see_the_lists_but_cannot_decide(private):
    app_id = submitted(private, TAIPEI_AGENCY, "MOI", ["population"], ["64000", "66000"])
    auditor = staff_user(private, "moi_auditor", "auditor", "MOI")
    tree = call(auditor, router("/admin")).get_json()
    approve = next(c for c in components(tree, "Button") if c["props"]["id"] == ids.APP_APPROVE)
    assert approve["props"]["disabled"] is True and ids.AUDIT in text_of(call(auditor, router("/admin")))
    assert app_id in options(call(auditor, listing(ids.APPLICATIONS)), ids.APP_CHOICE)
    answer = text_of(call(auditor, decide(ids.APP_APPROVE, app_id, "2025-01-01", "2099-12-31")))
    assert "未執行" in answer and "不是提供機關的核定人員" in answer
    assert [a for a, _ in audit_actions(private, "moi_auditor")][-1] == "grant.refused"
    statistician = staff_user(private, "tp_stat", "provider_statistician", "63000")
    assert ids.AUDIT_VERIFY not in text_of(call(statistician, router("/admin")))  # no audit tab
    assert "已拒絕" in text_of(call(statistician, verify()))
    assert call(statistician, audit_agencies()).status_code == 204
    taipei_grant = grant_of(private, TAIPEI_AGENCY)
    assert "已拒絕" in text_of(call(statistician, sanction(
        ids.VIOL_RECORD, grant_id=taipei_grant, description="x", deadline="2099-01-01")))
    assert [a for a, _ in audit_actions(private, "tp_stat")][-2:] == ["admin.refused"] * 2
    with db_session(private) as s:
        assert s.get(Application, app_id).status == "submitted"
        assert s.get(Grant, taipei_grant).state == "active"


# --- violations and suspensions -----------------------------------------------------------

def lapses_on(notice: date) -> date:
    """The Taipei date from whose 00:00 an unimproved violation has lapsed (point 19): the
    six months begin the day after the notice (Civil Code art. 120) and end the day before
    the corresponding day, or with the last month's end when it has none (art. 121)."""
    first = notice + timedelta(days=1)
    month = first.month + 6
    year, month = first.year + (month - 1) // 12, (month - 1) % 12 + 1
    if first.day > calendar.monthrange(year, month)[1]:
        return date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, first.day)


def test_violation_suspends_the_agency_at_once_and_restore_gives_access_back(private):
    taipei = logged_in(private, "taipei_user")
    assert "人口數" in text_of(call(taipei, overview("63000")))
    official = logged_in(private, "taipei_official")
    grant_id = grant_of(private, TAIPEI_AGENCY)
    listed = call(official, listing(ids.VIOLATIONS))
    assert options(listed, ids.VIOL_GRANT) == [grant_id]  # 63000 only: not the national grant
    today = local_date(now_of(private))
    deadline = today + timedelta(days=14)
    answer = text_of(call(official, sanction(ids.VIOL_RECORD, grant_id=grant_id,
                                             description="查詢紀錄未留存",
                                             deadline=str(deadline))))
    assert "已登錄並當日通知" in answer
    # the agency's logged-in client gets no data at its very next Dash request, and is told
    assert "您的授權不包含此地區" in text_of(call(taipei, overview("63000")))
    assert "停止貴機關之連結作業" in taipei.get("/_dash-layout").get_data(as_text=True).encode(
    ).decode("unicode_escape")
    again = logged_in(private, "taipei_user")  # may log in, but sees nothing while suspended
    assert "您的授權不包含此地區" in text_of(call(again, overview("63000")))
    listed = call(official, listing(ids.VIOLATIONS))
    [violation_id] = options(listed, ids.VIOL_CHOICE)
    row = next(r for r in table_rows(listed) if r[0] == str(violation_id))
    assert row[1:8] == [str(grant_id), TAIPEI_AGENCY, "查詢紀錄未留存", str(today),
                        str(deadline), str(lapses_on(today)), "暫停中"]
    assert "暫停" in text_of(call(official, listing(ids.GRANTS)))
    restored = text_of(call(official, sanction(ids.VIOL_RESTORE, violation_id=violation_id,
                                               note="已改善並檢送紀錄")))
    assert "已審查恢復" in restored
    back = logged_in(private, "taipei_user")
    figures = text_of(call(back, overview("63000")))
    assert "人口數" in figures and "您的授權不包含此地區" not in figures
    actions = [a for a, _ in audit_actions(private, "taipei_official")]
    assert "grant.suspended" in actions and "grant.restored" in actions


def test_county_official_cannot_sanction_a_national_grant(private):
    national = logged_in(private, "national_user")
    official = logged_in(private, "taipei_official")
    grant_id = grant_of(private, NATIONAL_AGENCY)
    before = len(audit_actions(private, "taipei_official"))
    answer = text_of(call(official, sanction(ids.VIOL_RECORD, grant_id=grant_id,
                                             description="x", deadline="2099-01-01")))
    assert "已拒絕" in answer and "第六點" in answer
    [(action, detail)] = new_entries(private, "taipei_official", before)
    assert action == "admin.refused" and detail.startswith(f"grant:{grant_id}")
    assert national.get("/_dash-layout").status_code == 200
    with db_session(private) as s:
        assert s.get(Grant, grant_id).state == "active"


# --- personnel ----------------------------------------------------------------------------

def test_personnel_change_recorded_within_jurisdiction_only(private):
    official = logged_in(private, "taipei_official")
    taipei, kaohsiung = agency_id(private, TAIPEI_AGENCY), agency_id(private, KAOHSIUNG_AGENCY)
    assert options(call(official, listing(ids.PERSONNEL)), ids.PERS_AGENCY) == [taipei]
    answer = text_of(call(official, personnel(taipei, "case_officer", "王小明", "2025-04-01")))
    assert "已登錄" in answer
    rows = table_rows(call(official, listing(ids.PERSONNEL)))
    assert rows[1][1:5] == [TAIPEI_AGENCY, "承辦人", "王小明", "2025-04-01"]
    refused = text_of(call(official, personnel(kaohsiung, "unit_supervisor", "李大華",
                                               "2025-04-01")))
    assert "已拒絕" in refused
    assert [a for a, _ in audit_actions(private, "taipei_official")][-2:] == [
        "personnel.changed", "admin.refused"]
    assert len(table_rows(call(official, listing(ids.PERSONNEL)))) == 2  # header + one


# --- deliveries, extensions and disputes --------------------------------------------------

def test_taipei_official_cannot_list_or_decide_a_kaohsiung_dispute_or_extension(private):
    delivery_id, ext_id, dispute_id = kaohsiung_delivery(private)
    official = logged_in(private, "taipei_official")
    listed = call(official, listing(ids.DISPUTES))
    assert options(listed, ids.EXT_CHOICE) == [] and options(listed, ids.DISP_CHOICE) == []
    assert delivery_id[:8] not in text_of(listed)
    before = len(audit_actions(private, "taipei_official"))
    assert "未執行" in text_of(call(official, on_delivery(ids.EXT_APPROVE, ext_id=ext_id)))
    assert "未執行" in text_of(call(official, on_delivery(ids.DISP_RESOLVE, dispute_id=dispute_id,
                                                          resolution="已說明")))
    refusals = new_entries(private, "taipei_official", before)
    assert [(a, d.split("{")[0]) for a, d in refusals] == [
        ("extension.decision_refused", f"extension:{ext_id}"),
        ("dispute.resolution_refused", f"dispute:{dispute_id}")]
    with db_session(private) as s:
        assert s.get(Extension, ext_id).decided_at is None
        assert s.get(Dispute, dispute_id).resolved_at is None


def test_officials_decide_extensions_and_resolve_disputes_in_their_jurisdiction(private):
    delivery_id, ext_id, dispute_id = kaohsiung_delivery(private)
    with db_session(private) as s:
        expires = s.get(Delivery, delivery_id).expires_at
    official = logged_in(private, "kaohsiung_official")
    listed = call(official, listing(ids.DISPUTES))
    assert options(listed, ids.EXT_CHOICE) == [ext_id]
    assert options(listed, ids.DISP_CHOICE) == [dispute_id]
    assert "出生數不符" in text_of(listed) and "資料量大" in text_of(listed)
    assert "已核准（5 日）" in text_of(call(official, on_delivery(ids.EXT_APPROVE, ext_id=ext_id)))
    assert "請填寫處理結果" in text_of(call(official, on_delivery(ids.DISP_RESOLVE,
                                                                 dispute_id=dispute_id)))
    assert "已處理" in text_of(call(official, on_delivery(ids.DISP_RESOLVE, dispute_id=dispute_id,
                                                          resolution="已更正並重送")))
    with db_session(private) as s:
        assert s.get(Delivery, delivery_id).expires_at == expires + timedelta(days=5)
        assert s.get(Dispute, dispute_id).resolution == "已更正並重送"
    relisted = call(official, listing(ids.DISPUTES))
    assert options(relisted, ids.EXT_CHOICE) == [] and options(relisted, ids.DISP_CHOICE) == []


# --- audit --------------------------------------------------------------------------------

def test_audit_tab_reports_the_chain_intact_then_names_the_tampered_entry(private):
    official = logged_in(private, "moi_official")
    with db_session(private) as s:
        entries = s.scalar(select(func.count()).select_from(AuditEntry))
    intact = text_of(call(official, verify()))
    assert f"稽核紀錄鏈完整：{entries} 筆，最後序號 {entries}。" in intact
    with db_session(private) as s:
        s.execute(text("UPDATE audit_entries SET details = :d WHERE seq = 5"),
                  {"d": json.dumps({"tampered": True})})
        s.commit()
    broken = text_of(call(official, verify()))
    assert "稽核紀錄鏈遭破壞" in broken and "seq 5: content does not match its hash" in broken
    assert [a for a, _ in audit_actions(private, "moi_official")][-2:] == ["audit.verified"] * 2


def test_agency_report_rows_equal_the_audit_entries_of_the_period(private):
    clock = private["clock"]
    day = local_date(clock.now()) + timedelta(days=3)  # a day nothing has happened on yet
    clock.moment = start_of_day(day) + timedelta(hours=10)
    taipei = logged_in(private, "taipei_user")  # login
    call(taipei, overview("63000"))  # view population, view vital_events
    call(taipei, overview("64000"))  # refused twice
    official = logged_in(private, "moi_official")
    agency = agency_id(private, TAIPEI_AGENCY)
    assert agency in options(call(official, audit_agencies()), ids.AUDIT_AGENCY)
    answer = call(official, report(agency, str(day), str(day)))
    rows = table_rows(answer)
    header, entries = rows[0], [r for r in rows[1:] if r[0].isdigit() and len(r) == 6]
    assert header[:4] == ["序號", "時間（臺北時間）", "使用者", "動作"]
    assert [r[3] for r in entries] == ["登入", "瀏覽", "瀏覽", "拒絕存取", "拒絕存取"]
    with db_session(private) as s:
        expected = s.scalars(select(AuditEntry.seq).where(
            AuditEntry.agency_id == agency, AuditEntry.time >= start_of_day(day)).order_by(
            AuditEntry.seq)).all()
    assert [int(r[0]) for r in entries] == expected and all(r[2] == "taipei_user"
                                                            for r in entries)
    assert "此期間沒有紀錄" in text_of(call(official, report(agency, str(day - timedelta(days=1)),
                                                          str(day - timedelta(days=1)))))
    download = call(official, report(agency, str(day), str(day), csv=True)).get_json()
    data = download["response"][ids.AUDIT_DOWNLOAD]["data"]
    content = base64.b64decode(data["content"])
    assert content.startswith("\ufeff".encode()) and data["filename"].endswith(".csv")
    frame = pl.read_csv(io.BytesIO(content[3:]))
    assert frame["序號"].to_list() == expected
    assert frame["動作代碼"].to_list()[:3] == ["login", "view", "view"]
    assert frame["動作"].to_list()[:3] == ["登入", "瀏覽", "瀏覽"]
    again = table_rows(call(official, report(agency, str(day), str(day))))
    assert [r[0] for r in again[1:6]] == [str(seq) for seq in expected]  # reading adds nothing
    assert [a for a, _ in audit_actions(private, "moi_official")][-3:] == [
        "audit.report", "audit.report_downloaded", "audit.report"]


def test_county_official_gets_no_report_of_another_countys_agency(private):
    official = logged_in(private, "taipei_official")
    kaohsiung = agency_id(private, KAOHSIUNG_AGENCY)
    assert kaohsiung not in options(call(official, audit_agencies()), ids.AUDIT_AGENCY)
    answer = text_of(call(official, report(kaohsiung, "2020-01-01", "2099-12-31")))
    assert "已拒絕" in answer and "login" not in answer
    csv = call(official, report(kaohsiung, "2020-01-01", "2099-12-31", csv=True)).get_json()
    assert csv["response"][ids.AUDIT_DOWNLOAD]["data"] is None
    assert [a for a, _ in audit_actions(private, "taipei_official")][-2:] == [
        "admin.refused"] * 2

