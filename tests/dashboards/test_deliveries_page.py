"""My deliveries (``/deliveries``): the countdown from the server's clock, extension requests
before expiry only (point 17), doubts within 7 days of receipt in Asia/Taipei days (point
16), and nothing of another agency's deliveries, whatever ids a crafted callback posts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from access.calendar import TAIPEI, local_date
from access.models import Delivery, Dispute, Extension
from tests.dashboards.client import (
    audit_actions,
    call,
    components,
    db_session,
    logged_in,
    page,
    payload,
    text,
    text_of,
)
from tests.dashboards.test_builder import MONTHS, form, link_of, submit_payload

REFRESH_OUTPUTS = [("deliveries-table", "children"), ("deliveries-extensions", "children"),
                   ("deliveries-disputes", "children"), ("deliveries-extension-id", "options"),
                   ("deliveries-dispute-id", "options")]
ACT_INPUTS = ("deliveries-extension-submit", "deliveries-dispute-submit")


def refresh(client) -> dict:
    answer = call(client, payload(REFRESH_OUTPUTS, [("deliveries-message", "children", "")]))
    assert answer.status_code == 200
    return answer.get_json()["response"]


def act(client, button: str, delivery_id: str, days: int = 5, reason: str = "資料量大",
        text: str = "出生數與公報不符"):
    """A click on one of the two submit buttons, as the renderer posts it."""
    body = payload([("deliveries-message", "children")],
                   [(ACT_INPUTS[0], "n_clicks", 1), (ACT_INPUTS[1], "n_clicks", 1)],
                   [("deliveries-extension-id", "value", delivery_id),
                    ("deliveries-extension-days", "value", days),
                    ("deliveries-extension-reason", "value", reason),
                    ("deliveries-dispute-id", "value", delivery_id),
                    ("deliveries-dispute-text", "value", text)])
    body["changedPropIds"] = [f"{button}.n_clicks"]
    return call(client, body)


def deliver(served: dict, username: str = "taipei_user") -> str:
    """A file-transfer delivery made through the builder at the fake clock's time; its id."""
    client = logged_in(served, username)
    area = {"taipei_user": "63000", "national_user": "00000"}[username]
    level = "national" if area == "00000" else "county"
    answer = call(client, submit_payload("population", level, [area], ["population"]))
    return link_of(answer).split("/")[2]


def rows_of(response: dict, output: str = "deliveries-table") -> list[list[str]]:
    return [[text(cell) for cell in row["props"]["children"]]
            for row in components(response[output]["children"], "Tr")]


def count(served: dict, model) -> int:
    with db_session(served) as s:
        return s.scalar(select(func.count()).select_from(model))


def set_taipei_clock(served: dict, day, at: time) -> None:
    served["clock"].moment = datetime.combine(day, at, tzinfo=TAIPEI).astimezone(UTC)


def test_a_delivery_of_several_periods_is_listed_with_its_span(private):
    """A builder delivery of three months records the span ``FROM..TO``; the page names it
    in the reader's words (it once answered 500 for every later refresh)."""
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload(form("population", first=MONTHS[0], last=MONTHS[-1],
                                              areas=["63000"], measures=["population"],
                                              heading=["period"])))
    assert link_of(answer)
    rows = rows_of(refresh(client))
    span = f"{MONTHS[0]}..{MONTHS[-1]}"
    assert any(f"114年1月至114年3月 ({span})" in cell for row in rows for cell in row), rows


def test_countdown_follows_the_server_clock(private):
    delivery_id = deliver(private)
    private["clock"].advance(days=2, hours=3, minutes=20)  # 4 d 20 h 40 min left: whole hours
    client = logged_in(private, "taipei_user")
    (row,) = [r for r in rows_of(refresh(client)) if r[0] == delivery_id[:8]]
    assert row[1] == "檔案傳輸" and row[4] == "已完成"
    assert row[7] == "還有 4 天 20 小時" and row[8] == "下載"
    client.set_cookie("popstats_lang", "en")
    (row,) = [r for r in rows_of(refresh(client)) if r[0] == delivery_id[:8]]
    assert row[1] == "file transfer" and row[7] == "4 d 20 h left"
    private["clock"].advance(days=4, hours=21)
    (row,) = [r for r in rows_of(refresh(logged_in(private, "taipei_user")))
              if r[0] == delivery_id[:8]]
    assert row[7] == "已過期" and row[8] == "—"  # no download link once expired


def test_times_are_shown_in_taipei(private):
    delivery_id = deliver(private)
    with db_session(private) as s:
        expires = s.get(Delivery, delivery_id).expires_at
    (row,) = [r for r in rows_of(refresh(logged_in(private, "taipei_user")))
              if r[0] == delivery_id[:8]]
    local = (expires if expires.tzinfo else expires.replace(tzinfo=UTC)).astimezone(TAIPEI)
    # read in the ROC calendar and labelled, as every time a person reads (issue 9.5)
    assert row[6] == (f"{local.year - 1911}年{local.month}月{local.day}日 "
                      f"{local:%H:%M} 臺北時間")


def test_extension_before_expiry_is_accepted_after_it_refused(private):
    delivery_id = deliver(private)
    private["clock"].advance(days=6, hours=23)
    client = logged_in(private, "taipei_user")
    answer = act(client, ACT_INPUTS[0], delivery_id)
    assert "已送出" in text_of(answer) and "延長 5 天" in text_of(answer)
    listed = rows_of(refresh(client), "deliveries-extensions")
    assert listed[1][0] == delivery_id[:8] and listed[1][2:] == ["5", "資料量大", "待審核"]
    private["clock"].advance(hours=1)  # 7 days after delivery: expired
    late = act(logged_in(private, "taipei_user"), ACT_INPUTS[0], delivery_id)
    assert "未受理" in text_of(late) and "延長須於到期前申請" in text_of(late)
    assert count(private, Extension) == 1
    assert "extension.refused" in [a for a, _ in audit_actions(private, "taipei_user")]


def test_dispute_on_day_seven_accepted_on_day_eight_refused(private):
    delivery_id = deliver(private)
    with db_session(private) as s:
        received = local_date(s.get(Delivery, delivery_id).delivered_at)
    set_taipei_clock(private, received + timedelta(days=7), time(23, 59))
    client = logged_in(private, "taipei_user")
    answer = act(client, ACT_INPUTS[1], delivery_id)
    assert "已就" in text_of(answer) and "提出疑義" in text_of(answer)
    listed = rows_of(refresh(client), "deliveries-disputes")
    assert listed[1][0] == delivery_id[:8] and listed[1][2:] == ["出生數與公報不符", "調查中"]
    set_taipei_clock(private, received + timedelta(days=8), time(0, 1))
    late = act(logged_in(private, "taipei_user"), ACT_INPUTS[1], delivery_id)
    deadline = (received + timedelta(days=7)).isoformat()
    assert "未受理" in text_of(late) and f"疑義須於 {deadline} 前提出" in text_of(late)
    assert count(private, Dispute) == 1


@pytest.mark.parametrize("button", ACT_INPUTS)
def test_crafted_callback_with_another_agencys_delivery_is_refused(private, button):
    foreign = deliver(private, "national_user")
    client = logged_in(private, "taipei_user")
    answer = act(client, button, foreign)
    shown = text_of(answer)
    assert "請選擇本機關的一筆交付" in shown
    assert foreign not in shown and foreign[:8] not in shown and "national_user" not in shown
    assert count(private, Extension) == 0 and count(private, Dispute) == 0
    refused = [d for a, d in audit_actions(private, "taipei_user") if a.endswith(".refused")]
    assert refused and foreign in refused[-1]
    assert foreign[:8] not in json.dumps(refresh(client), ensure_ascii=False)


def test_only_the_agencys_own_deliveries_are_listed(private):
    own, foreign = deliver(private), deliver(private, "national_user")
    response = refresh(logged_in(private, "taipei_user"))
    ids = [r[0] for r in rows_of(response)[1:]]
    assert own[:8] in ids and foreign[:8] not in ids
    options = [o["value"] for o in response["deliveries-extension-id"]["options"]]
    assert own in options and foreign not in options


def test_pending_delivery_shows_attempts_and_last_error(private, monkeypatch):
    from access import query_files  # the builder's deliveries are query results

    def down(*args, **kwargs):
        raise OSError("release store unavailable")

    monkeypatch.setattr(query_files, "write_query", down)
    client = logged_in(private, "taipei_user")
    call(client, submit_payload("population", "county", ["63000"], ["population"]))
    (row,) = rows_of(refresh(client))[1:]
    assert row[4] == "處理中（已嘗試 1 次；最近錯誤：OSError: release store unavailable）"
    assert row[6] == "—" and row[8] == "—"


def test_page_is_for_agencies_only(served):
    official = logged_in(served, "moi_official")
    answer = call(official, payload(REFRESH_OUTPUTS, [("deliveries-message", "children", "")]))
    assert "您沒有使用此頁面的權限" in text_of(answer)
    refused = act(official, ACT_INPUTS[0], "0" * 32)
    assert "您沒有使用此頁面的權限" in text_of(refused)


@pytest.mark.parametrize(("username", "allowed"), [
    ("moi_official", False), ("taipei_official", False), ("national_user", True),
    ("taipei_user", True), ("kaohsiung_user", True),
])
def test_page_layout_for_each_role(served, username, allowed):
    shown = json.dumps(page(logged_in(served, username), "/deliveries"),
                       ensure_ascii=False)
    assert ("deliveries-extension-submit" in shown) is allowed
    assert ("您沒有使用此頁面的權限" in shown) is not allowed


def test_page_layout_has_labelled_inputs_and_a_status_region(served):
    tree = page(logged_in(served, "taipei_user"), "/deliveries")
    labels = {c["props"]["htmlFor"] for c in components(tree, "Label")}
    assert labels == {"deliveries-extension-id", "deliveries-extension-days",
                      "deliveries-extension-reason", "deliveries-dispute-id",
                      "deliveries-dispute-text"}
    (message,) = [c for c in components(tree, "Div")
                  if c["props"].get("id") == "deliveries-message"]
    assert message["props"]["role"] == "status" and message["props"]["aria-live"] == "polite"


def test_a_pending_extension_is_shown_and_keeps_the_file_at_the_expiry_second(private):
    """Asked an hour before expiry, undecided at the expiry second: the row says it is kept
    until decided; no download link, and the file answers 409 (not 410: it is not gone)."""
    delivery_id = deliver(private)
    with db_session(private) as s:
        expires = s.get(Delivery, delivery_id).expires_at
    expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    private["clock"].moment = expires - timedelta(hours=1)
    assert "已送出" in text_of(act(logged_in(private, "taipei_user"), ACT_INPUTS[0], delivery_id))
    private["clock"].moment = expires
    client = logged_in(private, "taipei_user")
    (row,) = [r for r in rows_of(refresh(client)) if r[0] == delivery_id[:8]]
    assert row[7] == "已屆期限；延長申請審核中，決定前保留" and row[8] == "—"
    got = client.get(f"/deliveries/{delivery_id}/file", buffered=True)
    assert got.status_code == 409 and "延長申請尚待提供機關決定" in got.get_data(as_text=True)
    assert any((private["outbox"] / delivery_id).iterdir())
