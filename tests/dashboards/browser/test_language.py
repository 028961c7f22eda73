"""Every page speaks the user's language (issue 9.9): visited in a real browser as an agency
user and as an official, in zh-TW and in English, and the text a person sees is checked.

* zh-TW: no run of Latin letters that is UI text. Allowed: codes and numbers, units, the
  names of file formats and encodings (CSV, XLSX, UTF-8 …), user names, and the language
  button, which names the other language in that language ("English").
* English: no Chinese outside content — area names (townships and villages without an
  English name are shown in Chinese with their code), agency names, text people typed
  (purposes, reasons, notes), and the language button ("中文").
* Neither shows a UTC time, nor a time with microseconds.

Screenshots of every page in both languages are kept under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from access.models import (
    Agency,
    Application,
    Grant,
    PersonnelChange,
    Provider,
    Violation,
)
from dashboards.admin import ids
from dashboards.i18n import LANG_COOKIE
from tests.dashboards.browser.conftest import Tab, needs_chromium, open_tab
from tests.dashboards.browser.test_browser import choose, navigation, open_from_navigation
from tests.dashboards.client import db_session

pytestmark = [pytest.mark.browser, needs_chromium]

PACE_MS = 2_000
ROLES = ("taipei_user", "moi_official")  # an agency user, an official: every page between them
ADMIN_TABS = {  # the tabs as their labels name them
    ids.APPLICATIONS: ("申請審查", "Applications"), ids.GRANTS: ("授權", "Grants"),
    ids.VIOLATIONS: ("違規與暫停", "Violations"), ids.PERSONNEL: ("人員異動", "Personnel"),
    ids.DISPUTES: ("交付、展延與疑義", "Deliveries and disputes"), ids.AUDIT: ("稽核", "Audit"),
}
# Latin words a zh-TW page may show: format and encoding names, units, the language button.
ZH_ALLOWED = {
    "CSV", "XLSX", "ODS", "SAV", "DTA", "SPSS", "Stata", "Parquet", "parquet", "NetCDF",
    "netcdf", "PX", "PC-Axis", "JSON-stat", "JSON", "jsonstat", "SDMX", "SDMX-CSV", "sdmx-csv",
    "MOI", "moi", "csv", "xlsx", "ods", "sav", "dta", "px", "UTF-8", "utf-8", "utf-8-sig",
    "UTF-8-SIG", "BOM", "CP950", "cp950", "Big5", "BIG5", "big5hkscs", "BIG5-HKSCS", "EUC-TW",
    "euc-tw", "HKSCS", "English", "API", "ROC", "SHA-256", "Excel", "OpenDocument", "Windows",
    "PxWeb", "CNS", "PNG", "SVG", "PDF", "HTML",
}
# Nothing is left to other pages any more (the system's own release notes are shown in the
# reader's language: stats.publication.note_label).
OPEN_ELSEWHERE: dict[str, set[str]] = {}
# table codes (POP01), quarters (2025-Q1), and hexadecimal ids and checksums (delivery ids,
# SHA-256 prefixes: identifiers, not words)
CODE = re.compile(r"^(?:[A-Z]{3}\d{2}|Q[1-4]|(?=[0-9a-f]*\d)[0-9a-f]{6,})$")
# a whole hexadecimal id (a delivery's first eight characters): its letters may come after
# digits ("906473bf"), where a Latin run alone would read "bf"
HEX_ID = re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b")
LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*[A-Za-z0-9]|[A-Za-z]{2,}")
CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e]+")
PUNCTUATION_ONLY = re.compile(r"^[\u3000-\u303f\uff01-\uff5e]+$")
# A command line shown as such (``popstats serve --boundaries DIR``) is code, not UI text.
COMMAND = re.compile(r"popstats(?: [a-z][a-z-]*)*(?: --[a-z-]+(?: [A-Z]+)?)*")
UTC_TIME = re.compile(r"\bUTC\b|\d{2}:\d{2}:\d{2}\.\d+|\d{2}:\d{2}(:\d{2})?Z\b|\+00:00")


def content_texts(server: dict) -> list[str]:
    """Text that is content, not UI: area names, agency names, what people typed."""
    with db_session(server) as db:
        texts = [*db.scalars(select(Agency.name)), *db.scalars(select(Provider.name))]
        for app in db.scalars(select(Application)):
            texts += [app.purpose, app.reason or "", *map(str, (app.rules or {}).values())]
        texts += [v.description for v in db.scalars(select(Violation))]
        texts += [v.review_note or "" for v in db.scalars(select(Violation))]
        texts += [c.person for c in db.scalars(select(PersonnelChange))]
        texts += [g.agency.name for g in db.scalars(select(Grant))]
    names = pl.read_parquet(server["releases"] / "2025-03" / "areas.parquet")["area_name"]
    return [t for t in [*texts, *names.to_list(), "中文"] if t]


def usernames(server: dict) -> set[str]:
    return set(server["accounts"])


def english_in_chinese(shown: str, allowed: set[str]) -> list[str]:
    return sorted({run for run in LATIN_RUN.findall(shown)
                   if run not in allowed and not CODE.match(run)})


def chinese_in_english(shown: str, content: Iterable[str]) -> list[str]:
    """CJK runs that are no content; a lone Chinese punctuation mark (``、``, ``：``) between
    English words is always UI (content's marks come attached to its characters)."""
    pool = list(content)
    return sorted({run for run in CJK_RUN.findall(shown)
                   if PUNCTUATION_ONLY.match(run) or not any(run in text for text in pool)})


def check(shown: str, lang: str, server: dict, content: list[str]) -> list[str]:
    """Every problem of one page's visible text."""
    problems = [f"UTC or microseconds: {m.group(0)!r}" for m in UTC_TIME.finditer(shown)]
    shown = HEX_ID.sub(" ", COMMAND.sub(" ", shown))
    if lang == "zh":
        for text in sorted(content, key=len, reverse=True):
            if text.isascii() or re.search("[A-Za-z]", text):
                shown = shown.replace(text, " ")
        problems += [f"English: {w!r}" for w in english_in_chinese(
            shown, ZH_ALLOWED | usernames(server))]
    else:
        problems += [f"Chinese: {w!r}" for w in chinese_in_english(shown, content)]
    return problems


def paced(tab: Tab) -> None:
    """Wait as a person would between clicks: the dashboards allow a session
    ``dashboards.web.CALLBACK_LIMIT`` (40 callbacks in 10 s), and an Administration tab
    fires half a dozen."""
    tab.settle()
    tab.page.wait_for_timeout(PACE_MS)


def with_language(tab: Tab, lang: str) -> None:
    tab.page.context.add_cookies([{"name": LANG_COOKIE, "value": lang, "url": tab.url}])


def visible(tab: Tab) -> str:
    """The page's text as shown, less an unfolded raw audit record (the stored JSON, whose
    keys are the record's own)."""
    shown = tab.page.locator("body").inner_text()
    raw = tab.page.locator("pre.raw")
    for i in range(raw.count()):
        if raw.nth(i).is_visible():
            shown = shown.replace(raw.nth(i).inner_text(), " ")
    return shown


def admin_tabs(tab: Tab, lang: str, found: dict[str, list[str]], content: list[str]) -> None:
    """Each Administration tab, and on the audit tab a report of 臺北市政府主計處."""
    page = tab.page
    for value, (zh, en) in ADMIN_TABS.items():
        page.locator(".tab-container").get_by_text(zh if lang == "zh" else en,
                                                   exact=True).click()
        expect(page.locator(f"section#{value}")).to_be_visible()
        paced(tab)
        if value == ids.AUDIT:
            choose(page, ids.AUDIT_AGENCY, str(agency_id(tab.server, "臺北市政府主計處")))
            page.click(f"#{ids.AUDIT_SHOW}")
            expect(page.locator(f"#{ids.AUDIT_REPORT} table").first).to_be_visible(
                timeout=30_000)  # after the other browser tests: hundreds of entries
            paced(tab)
            page.locator(f"#{ids.AUDIT_REPORT} details summary").first.click()
        name = f"admin-{value.removeprefix('admin-')}"
        found[name] = check(visible(tab), lang, tab.server, content)
        tab.screenshot(f"{name}-{lang}")


def agency_id(server: dict, name: str) -> int:
    with db_session(server) as db:
        return db.scalar(select(Agency.id).where(Agency.name == name))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("username", ROLES)
def test_every_page_speaks_the_users_language(browser: Browser, live: dict, username: str,
                                              lang: str, request: pytest.FixtureRequest) -> None:
    content = content_texts(live)
    found: dict[str, list[str]] = {}
    with open_tab(browser, live, request.node.name) as tab:
        with_language(tab, lang)
        tab.login(username)
        for path, _ in navigation(tab.page):
            open_from_navigation(tab, path)
            paced(tab)
            name = path.strip("/") or "overview"
            found[name] = [p for p in check(visible(tab), lang, live, content)
                           if p not in OPEN_ELSEWHERE.get(name, set())]
            tab.screenshot(f"{name}-{lang}")
            if path == "/admin":
                admin_tabs(tab, lang, found, content)
        tab.page.goto(f"{tab.url}/no-such-page")
        tab.settle()
        found["404"] = check(visible(tab), lang, live, content)
        tab.screenshot(f"404-{lang}")
        assert tab.console_errors == []
    problems = {page: problems for page, problems in found.items() if problems}
    assert not problems, "\n".join(f"{page}: {found}" for page, found in problems.items())
