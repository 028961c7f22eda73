"""The Administration page's audit report as an official reads it (issue 9.8, 10.13, 10.14):
actions named in the reader's language, details as labelled fields, Taipei time to the
second, the stored JSON one click away, a formula-safe CSV, and only the entries about the
official's own jurisdiction."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from datetime import date, timedelta

from sqlalchemy import select

from access import grants
from access.accounts import add_user
from access.calendar import local_date, start_of_day
from access.models import Application, User
from dashboards.admin import ids
from dashboards.i18n import LANG_COOKIE
from stats.catalogue import TABLES
from tests.dashboards.client import call, components, db_session, logged_in, login, text
from tests.dashboards.test_admin import (
    TAIPEI_AGENCY,
    agency_id,
    overview,
    report,
    submitted,
)

EVIL = '=HYPERLINK("http://evil.example","x")'


def roc(day: date) -> str:
    return f"{day.year - 1911}年{day.month}月{day.day}日"


def quiet_day(private: dict) -> date:
    """A day nothing has happened on yet, with the clock at 10:00:05 Taipei time."""
    clock = private["clock"]
    day = local_date(clock.now()) + timedelta(days=3)
    clock.moment = start_of_day(day) + timedelta(hours=10, seconds=5)
    return day


def report_rows(answer) -> list[dict]:
    """The report table's rows: cells as text, the details' fields, the raw JSON."""
    tables = components(answer.get_json(), "Table")
    assert tables, answer.get_json()
    rows = []
    for row in components(tables[0], "Tr")[1:]:
        cells = row["props"]["children"]
        fields = components(cells[5], "Dl")
        pairs = []
        if fields:
            items = fields[0]["props"]["children"]
            pairs = [(text(items[i]), text(items[i + 1])) for i in range(0, len(items), 2)]
        raw = components(cells[5], "Pre")
        rows.append({"cells": [text(c) for c in cells[:5]], "fields": pairs,
                     "raw": json.loads(text(raw[0])) if raw else None})
    return rows


def visible_text(answer) -> str:
    """All text of the answer except the folded raw JSON (which is the stored record)."""
    tree = answer.get_json()
    for pre in components(tree, "Pre"):
        pre["props"]["children"] = ""
    return text(components(tree, "Table"))


def test_report_reads_in_chinese_with_taipei_seconds_and_labelled_fields(private):
    day = quiet_day(private)
    taipei = logged_in(private, "taipei_user")
    call(taipei, overview("63000"))
    official = logged_in(private, "moi_official")
    answer = call(official, report(agency_id(private, TAIPEI_AGENCY), str(day), str(day)))
    rows = report_rows(answer)
    assert [r["cells"][3] for r in rows] == ["登入", "瀏覽", "瀏覽"]
    assert {r["cells"][1] for r in rows} == {f"{roc(day)} 10:00:05"}
    assert rows[0]["cells"][2] == "taipei_user" and rows[0]["cells"][4].startswith("使用者 ")
    view = rows[1]
    assert view["cells"][4] == TABLES["population"].title_zh
    assert ("管道", "線上查詢") in view["fields"] and ("地區", "臺北市 (63000)") in view["fields"]
    assert ("統計期", "113年3月（2024-03）、114年2月（2025-02）、114年3月（2025-03）") \
        in view["fields"]
    assert view["raw"] == {"channel": "online_query", "period": "2024-03,2025-02,2025-03",
                           "areas": ["63000"]}
    shown = visible_text(answer)
    assert "online_query" not in shown and "view" not in shown and "UTC" not in shown
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d", shown)  # no microseconds


def test_report_reads_in_english(private):
    day = quiet_day(private)
    logged_in(private, "taipei_user")
    official = logged_in(private, "moi_official")
    official.set_cookie(LANG_COOKIE, "en")
    rows = report_rows(call(official, report(agency_id(private, TAIPEI_AGENCY), str(day),
                                             str(day))))
    assert [r["cells"][3] for r in rows] == ["Login"]
    assert rows[0]["cells"][1] == f"{day.isoformat()} 10:00:05"


def test_report_csv_is_labelled_taipei_time_and_formula_safe(private):
    day = quiet_day(private)
    with db_session(private) as s:
        colleague = s.scalar(select(User).where(User.username == "taipei_user"))
        legacy = add_user(s, "legacy_user", "lantern-river-4821", "agency_user",
                          private["clock"].now(), agency=colleague.agency)
        legacy.username = EVIL  # named before the user-name policy (which refuses it now)
        s.commit()
    client, answer = login(private, EVIL, "lantern-river-4821")
    assert answer.status_code == 303
    official = logged_in(private, "moi_official")
    download = call(official, report(agency_id(private, TAIPEI_AGENCY), str(day), str(day),
                                     csv=True)).get_json()
    content = base64.b64decode(download["response"][ids.AUDIT_DOWNLOAD]["data"]["content"])
    header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert header == ["序號", "時間（臺北時間）", "使用者", "動作", "動作代碼", "對象", "內容",
                      "原始紀錄（JSON）"]
    logins = [r for r in rows if r[4] == "login"]
    assert len(logins) == 1 and logins[0][2] == "'" + EVIL and logins[0][3] == "登入"
    assert logins[0][1] == f"{roc(day)} 10:00:05"
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


def test_county_official_sees_only_entries_about_their_own_county(private):
    """臺北市政府主計處 holds a 臺北市 grant (from 臺北市政府) and, after this test's
    application, a 高雄市 grant (from 高雄市政府): each county's official sees the entries
    about their own county and the agency-wide ones (login); MOI sees them all."""
    day = quiet_day(private)
    app_id = submitted(private, TAIPEI_AGENCY, "64000", ["vital_events"], ["64000"])
    with db_session(private) as s:
        reviewer = s.scalar(select(User).where(User.username == "kaohsiung_official"))
        grants.approve(s, s.get(Application, app_id), reviewer, day, day + timedelta(days=30),
                       private["clock"].now())
        s.commit()
    taipei = logged_in(private, "taipei_user")
    call(taipei, overview("63000"))  # 臺北市: view population, view vital_events
    call(taipei, overview("64000"))  # 高雄市: vital_events now granted (population refused)
    agency = agency_id(private, TAIPEI_AGENCY)

    def seen(official: str) -> list[tuple[str, str]]:
        rows = report_rows(call(logged_in(private, official), report(agency, str(day),
                                                                      str(day))))
        return [(r["cells"][3], json.dumps(r["raw"], ensure_ascii=False)) for r in rows]

    everything = seen("moi_official")
    assert [a for a, _ in everything].count("申請案送件") == 1
    assert [a for a, _ in everything].count("核准授權") == 1
    kaohsiung_rows = [(a, raw) for a, raw in everything if "64000" in raw]
    taipei_rows = [(a, raw) for a, raw in everything if "63000" in raw]
    assert len(kaohsiung_rows) >= 3 and len(taipei_rows) >= 2

    in_taipei = seen("taipei_official")
    assert not [raw for _, raw in in_taipei if "64000" in raw]
    assert "申請案送件" not in [a for a, _ in in_taipei]
    assert "核准授權" not in [a for a, _ in in_taipei]
    assert taipei_rows == [(a, raw) for a, raw in in_taipei if "63000" in raw]
    assert ("登入", "{}") in in_taipei  # about the agency as a whole

    in_kaohsiung = seen("kaohsiung_official")
    assert not [raw for _, raw in in_kaohsiung if "63000" in raw]
    assert kaohsiung_rows == [(a, raw) for a, raw in in_kaohsiung if "64000" in raw]
    assert ("登入", "{}") in in_kaohsiung


def test_a_long_report_shows_its_newest_entries_and_points_to_the_csv():
    """Thousands of labelled entries would take the browser seconds to lay out: the page
    shows the newest 300, says how many there are, and the counts cover them all."""
    from flask import Flask

    from dashboards.admin.audit_view import SHOWN_ENTRIES, report_view

    entries = [{"seq": n, "time": "2026-12-01T00:00:00+00:00", "actor": "taipei_user",
                "action": "login", "object": "user:5", "details": {}} for n in range(1, 302)]
    report = {"entries": entries, "agency_name": "臺北市政府主計處", "from": "2026-12-01",
              "to": "2026-12-06",
              "summary": [{"action": "login", "channel": None, "actor": "taipei_user",
                           "count": 301}]}
    with Flask(__name__).test_request_context(headers={"Cookie": f"{LANG_COOKIE}=zh"}):
        tree = json.loads(json.dumps(report_view(report).to_plotly_json(), default=plain))
    seqs = [text(row["props"]["children"][0]) for row in components(tree, "Tr")]
    assert SHOWN_ENTRIES == 300 and "2" in seqs and "301" in seqs and "1" not in seqs
    shown = json.dumps(tree, ensure_ascii=False)
    assert "共 301 筆" in shown and "下載 CSV" in shown and '"301"' in shown


def plain(value: object) -> object:
    return value.to_plotly_json()


def test_a_chart_download_entry_reads_in_words():
    """What a chart's download showed (page, kind, format, table, periods, language) is told
    in the reader's language, as the entry's own fields are."""
    from flask import Flask

    from dashboards.admin.audit_view import detail_fields

    details = {"describes": {"page": "trends", "kind": "picture", "format": "png",
                             "table": "population", "periods": ["2025-01", "2025-03"],
                             "language": "zh"}, "page": 2}
    with Flask(__name__).test_request_context(headers={"Cookie": f"{LANG_COOKIE}=zh"}):
        zh = dict(detail_fields(details))
    shown = zh["下載內容"]
    for word in ("頁面：趨勢", "圖片", "PNG", "人口數", "114年1月", "語言：中文"):
        assert word in shown, (word, shown)
    assert not re.search(r"trends|picture|png|population|\bzh\b", shown)
    assert zh["頁次"] == "2"
    with Flask(__name__).test_request_context(headers={"Cookie": f"{LANG_COOKIE}=en"}):
        en = dict(detail_fields(details))
    assert "Page: Trends" in en["What was downloaded"] and "Language: Chinese" in en[
        "What was downloaded"]
