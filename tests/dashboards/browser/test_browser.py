"""The dashboards in a real browser: Debian's Chromium driven by Playwright against a live
server over the served demo (releases 2024-03, 2025-01…03 and 2025-Q1 published).

What a test client cannot show is checked here: the renderer really calls back and draws, the
CSP lets the page run (violations are console errors), the forms work with the keyboard,
cookies really go at logout, and Chinese text is drawn with a CJK font. Every page is reached
through the navigation the page itself shows, so pages added to ``dashboards.shell.PAGES``
later are covered without touching these tests. Screenshots of every page visited are kept
under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlparse

import dash
import polars as pl
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from access import accounts
from access.accounts import hash_secret
from access.calendar import local_date
from access.models import Grant, LoginSession, User
from access.sanctions import record_violation
from dashboards.shell import AGENCIES, EVERYONE, PAGES, STAFF
from tests.dashboards.browser.conftest import (
    ROOT,
    Tab,
    live_server,
    needs_chromium,
    open_tab,
)
from tests.dashboards.client import audit_actions, db_session, payload

pytestmark = [pytest.mark.browser, needs_chromium]

DEMO_USERS = ("moi_official", "national_user", "taipei_user", "kaohsiung_user")
STAFF_USERS = {"moi_official"}  # the others are agency users
LATEST_MONTH = "2025-03"  # the served demo's latest published month
CHART_PAGES = ("/pyramid", "/trends")
NOT_PERMITTED = "您沒有使用此頁面的權限"
RENDERER_ON_REFUSAL = "body stream already read"  # dash-renderer's own error on a 401 answer


# ------------------------------------------------------------------ helpers


def written_pages() -> set[str]:
    """Paths of the page modules that exist (the navigation lists pages still being written)."""
    return {page["path"] for page in dash.page_registry.values()}


def expected_navigation(staff: bool) -> list[str]:
    """The navigation ``PAGES`` promises a role: everyone's pages plus its own audience's."""
    own = STAFF if staff else AGENCIES
    return [p.path for p in PAGES if p.audience in (EVERYONE, own)]


def navigation(page: Page) -> list[tuple[str, str]]:
    """(href, text) of every link in the shell's navigation, as the page shows it."""
    links = page.locator("header nav a")
    return [(links.nth(i).get_attribute("href") or "", links.nth(i).inner_text())
            for i in range(links.count())]


def page_name(path: str) -> str:
    return path.strip("/") or "overview"


def open_from_navigation(tab: Tab, path: str) -> str:
    """Click the navigation link to ``path``; wait for that page's heading. Returns it."""
    link = tab.page.locator(f'header nav a[href="{path}"]')
    text = link.inner_text()
    link.click()
    tab.page.wait_for_url(f"{tab.url}{path}")
    expect(tab.page.locator("#_pages_content h1")).to_have_text(text)
    tab.settle()
    return text


def choose(page: Page, control_id: str, value: str) -> None:
    """Pick ``value`` in a Dash control: a <select>, radio items/checklist, or a Dash 4
    dropdown (its options open in a popover as ``role=option`` labels around an input)."""
    control = page.locator(f"#{control_id}")
    if control.evaluate("element => element.tagName") == "SELECT":
        control.select_option(value)
        return
    inline = page.locator(f'#{control_id} input[value="{value}"]')
    if inline.count():
        inline.check()
        return
    control.click()
    page.locator(f'.dash-dropdown-option:has(input[value="{value}"])').click()
    if page.locator('[role="listbox"]').count():  # a multi-select stays open
        page.keyboard.press("Escape")


UNNAMED_CONTROLS = """() => {
  const text = (element) => (element ? element.textContent.trim() : "");
  const controls = document.querySelectorAll(
    'input, select, textarea, [role="combobox"], [role="searchbox"], [role="slider"], ' +
    '[role="spinbutton"], button[aria-haspopup="listbox"]');
  const unnamed = [];
  for (const control of controls) {
    if (control.type === "hidden" || control.closest('[aria-hidden="true"]')) continue;
    if (control.closest('[role="option"]')) continue;  // an option is named by its own text
    const byFor = control.id
      ? text(document.querySelector(`label[for="${CSS.escape(control.id)}"]`)) : "";
    const byAria = (control.getAttribute("aria-label") || "").trim();
    // a Dash 4 dropdown's aria-labelledby points at its current value, which is no label
    const byIds = control.classList.contains("dash-dropdown") ? "" :
      (control.getAttribute("aria-labelledby") || "").split(/\\s+/)
        .map((id) => text(document.getElementById(id))).join("");
    const wrapped = control.tagName === "INPUT" ? text(control.closest("label")) : "";
    if (!(byFor || byAria || byIds || wrapped)) {
      unnamed.push(control.outerHTML.slice(0, 160));
    }
  }
  return unnamed;
}"""


def suspend_agency_of(server: dict, username: str) -> None:
    """A violation recorded on the user's grant by its provider's official: the grant is
    suspended at once (point 19)."""
    now = datetime.now(UTC)
    with db_session(server) as db:
        user = db.scalar(select(User).where(User.username == username))
        grant = db.scalar(select(Grant).where(Grant.agency_id == user.agency_id))
        official = db.scalar(select(User).where(User.provider_id == grant.provider_id,
                                                User.role == "provider_official"))
        record_violation(db, grant, official, "browser test: misuse reported",
                         local_date(now) + timedelta(days=30), now)
        db.commit()


# ------------------------------------------------------------------ (1) every page, every role


@pytest.mark.parametrize("username", DEMO_USERS)
def test_every_page_in_the_navigation_renders_for_each_role(tab: Tab, username: str) -> None:
    tab.login(username)
    links = navigation(tab.page)
    paths = [href for href, _ in links]
    assert paths == expected_navigation(staff=username in STAFF_USERS)
    assert ("/admin" in paths) == (username in STAFF_USERS)
    assert ("/deliveries" in paths) == (username not in STAFF_USERS)
    unwritten = [path for path in paths if path not in written_pages()]
    for path in paths:
        if path in unwritten:
            continue
        open_from_navigation(tab, path)
        main = tab.page.locator("#_pages_content")
        assert NOT_PERMITTED not in main.inner_text(), path  # offered means usable
        assert "404 - Page not found" not in main.inner_text(), path
        assert tab.page.locator(".dash-fe-error__title").count() == 0, path
        assert tab.console_errors == [], path
        tab.screenshot(page_name(path))
    if unwritten:
        pytest.skip(f"every written page renders; the navigation also offers {unwritten}, "
                    "whose page modules are not written yet")


# ------------------------------------------------------------------ (2) a chart is drawn


def test_a_chart_page_draws_its_plotly_figure(tab: Tab) -> None:
    tab.login("moi_official")
    offered = [href for href, _ in navigation(tab.page)]
    charts = [p for p in CHART_PAGES if p in offered and p in written_pages()]
    if not charts:
        pytest.skip(f"none of {CHART_PAGES} is written yet (the overview has no chart)")
    open_from_navigation(tab, charts[0])
    figure = tab.page.locator(".js-plotly-plot").first
    expect(figure.locator("svg.main-svg").first).to_be_visible()
    expect(figure.locator("g.trace").first).to_be_attached()  # drawn data, not an empty frame
    assert tab.console_errors == []
    tab.screenshot(page_name(charts[0]))


# ------------------------------------------------------------------ (3) language switch


def test_the_language_button_switches_labels_and_calendars_and_back(tab: Tab) -> None:
    tab.login("national_user")
    page = tab.page
    logout = page.locator("#shell-logout")
    caption = page.locator("#overview-figures caption")
    expect(logout).to_have_text("登出")
    expect(caption).to_contain_text("114年3月")
    with page.expect_navigation():
        page.click("#shell-language")
    tab.settle()
    expect(logout).to_have_text("Log out")
    expect(page.locator("html > body div[lang]").first).to_have_attribute("lang", "en")
    expect(caption).to_contain_text(f"Mar 2025 ({LATEST_MONTH})")
    assert "114年" not in page.locator("#_pages_content").inner_text()
    assert [text for _, text in navigation(page)][0] == "Overview"
    tab.screenshot("overview-en")

    open_from_navigation(tab, "/releases")  # the switch returns to the page the user is on
    expect(page.locator("#shell-language-next")).to_have_value("/releases")
    expect(page.locator("#_pages_content")).to_contain_text("Mar 2025")
    with page.expect_navigation():
        page.click("#shell-language")
    tab.settle()
    assert page.url == f"{tab.url}/releases"
    expect(logout).to_have_text("登出")
    expect(page.locator("#_pages_content h1")).to_have_text("發布")
    main = page.locator("#_pages_content").inner_text()
    assert "114年3月" in main and "Mar 2025" not in main
    assert tab.console_errors == []
    tab.screenshot("releases-zh")


# ------------------------------------------------------------------ (4) table builder


def test_a_built_csv_downloads_with_only_granted_areas(tab: Tab) -> None:
    tab.login("taipei_user")  # every table, 臺北市 (63000) only
    if "/builder" not in dict(navigation(tab.page)) or "/builder" not in written_pages():
        pytest.skip("the table builder page (/builder) is not written yet")
    page = tab.page
    open_from_navigation(tab, "/builder")
    choose(page, "builder-table", "population")
    tab.settle()
    choose(page, "builder-period", LATEST_MONTH)
    tab.settle()
    # a table for programs: codes, and only the measures across (issue 13's builder labels
    # values in the reader's language and puts the periods across by default)
    choose(page, "builder-labels", "codes")
    tab.settle()
    page.locator('#builder-heading input[value="period"]').uncheck()
    tab.settle()
    choose(page, "builder-format", "csv")
    tab.settle()
    choose(page, "builder-encoding", "utf-8-sig")
    page.click("#builder-submit")
    link = page.locator("#builder-file-link")
    expect(link).to_be_visible(timeout=20_000)
    tab.settle()
    tab.screenshot("builder")
    with page.expect_download() as started:
        link.click()
    raw = Path(started.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the encoding chosen: UTF-8 with BOM
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows, "the downloaded file has no rows"
    assert "population" in rows[0] and "area_code" in rows[0]
    assert {row["period"] for row in rows} == {LATEST_MONTH}
    codes = {row["area_code"] for row in rows}
    assert codes and all(code.startswith("63000") for code in codes), sorted(codes)[:5]
    release = pl.read_parquet(tab.server["releases"] / LATEST_MONTH / "population.parquet")
    expected = release.filter(pl.col("area_code").is_in(sorted(codes)))
    assert {row["area_code"]: int(row["population"]) for row in rows} == dict(
        expected.select("area_code", "population").iter_rows())
    assert tab.console_errors == []


# ------------------------------------------------------------------ (5) logout


def test_logout_ends_the_session_and_clears_the_browser(tab: Tab, browser: Browser) -> None:
    tab.login("national_user")
    page = tab.page
    before = page.context.cookies()
    session_cookie = next(c for c in before if c["name"] == "popstats_session")
    with page.expect_response(lambda response: response.url.endswith("/logout")) as answer:
        page.click("#shell-logout")
    page.wait_for_url(f"{tab.url}/login")
    assert answer.value.status == 303
    assert "cookies" in answer.value.all_headers().get("clear-site-data", "")
    assert "popstats_session" not in {c["name"] for c in page.context.cookies()}
    page.goto(f"{tab.url}/")
    assert page.url == f"{tab.url}/login"

    replay = browser.new_context()  # someone who copied the cookie before logout
    try:
        replay.add_cookies(before)
        assert replay.request.get(f"{tab.url}/_dash-layout").status == 401
        stolen = replay.new_page()
        stolen.goto(f"{tab.url}/")
        assert stolen.url == f"{tab.url}/login"
    finally:
        replay.close()
    with db_session(tab.server) as db:
        ended = db.scalar(select(LoginSession).where(
            LoginSession.token_hash == hash_secret(session_cookie["value"])))
    assert ended is not None and ended.revoked_at is not None
    assert ("logout" in [action for action, _ in audit_actions(tab.server, "national_user")])
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Strict"
    assert tab.console_errors == []


# ------------------------------------------------------------------ (6) suspended mid-session


def test_a_suspension_mid_session_stops_the_data_and_tells_the_agency(
    browser: Browser, served: dict, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with live_server(served, tmp_path) as server, \
            open_tab(browser, server, request.node.name) as tab:
        tab.login("kaohsiung_user")  # vital_events for 高雄市 (64000)
        page = tab.page
        figures = page.locator("#overview-figures")
        expect(figures.locator("caption")).to_contain_text(f"高雄市：114年3月 ({LATEST_MONTH})")
        suspend_agency_of(server, "kaohsiung_user")

        # the next callback gets no data (point 19: at once) ...
        choose(page, "overview-period", "2025-02")
        expect(figures).to_contain_text("您的授權不包含此地區")
        assert "2025-02" not in figures.inner_text()
        # ... and every page says why: by whom, since when, until when to improve
        page.reload()
        notice = page.locator("#agency-notice")
        expect(notice).to_contain_text("停止貴機關之連結作業")
        expect(notice).to_contain_text("browser test: misuse reported")
        expect(notice).to_contain_text("臺北時間")
        tab.screenshot("after-suspension")
        assert tab.console_errors == []
        assert "grant.suspended" in [a for a, _ in audit_actions(server, "kaohsiung_official")]


# ------------------------------------------------------------------ one user's page, another's


def test_no_page_carries_what_was_rendered_for_another_user(
    browser: Browser, served: dict, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A fresh server process (a restarted worker) whose first request is a logged-in
    official's: nothing rendered for that official — name, CSRF token, admin page — may
    reach the next user's page (Dash, unless told not to, renders every page layout on its
    first request to validate callbacks and embeds the result in every page it serves)."""
    with live_server(served, tmp_path) as server:
        with db_session(server) as db:  # logged in before this process started
            session = accounts.login(db, "moi_official",
                                     server["accounts"]["moi_official"]["password"],
                                     datetime.now(UTC)).session_token
        with open_tab(browser, server, f"{request.node.name}-official") as official:
            official.page.context.add_cookies(
                [{"name": "popstats_session", "value": session, "url": server["url"]}])
            official.page.goto(f"{server['url']}/")  # the first request this app serves
            shell_token = official.page.locator('form[action="/logout"] [name="csrf_token"]')
            shell_token.wait_for(state="attached")
            token = shell_token.input_value()
        with open_tab(browser, server, request.node.name) as tab:
            tab.login("kaohsiung_user")
            page = tab.page.content()
        assert len(token) == 64
        assert token not in page
        assert "moi_official" not in page
        assert "admin-" not in page  # the administration page's component ids


# ------------------------------------------------------------------ (7) keyboard, names


def test_the_login_form_works_with_the_keyboard_alone(tab: Tab) -> None:
    page = tab.page
    page.goto(f"{tab.url}/login")
    focused = "document.activeElement && document.activeElement.id"
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "username"
    page.keyboard.type("taipei_user")
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "password"
    page.keyboard.type(tab.server["accounts"]["taipei_user"]["password"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(f"{tab.url}/")
    tab.settle()
    expect(page.locator("#_pages_content h1")).to_have_text("總覽")
    assert page.evaluate(UNNAMED_CONTROLS) == []  # nor on the login page before it


@pytest.mark.parametrize("username", ["moi_official", "national_user"])  # staff; agency
def test_every_input_on_every_page_has_an_accessible_name(tab: Tab, username: str) -> None:
    tab.page.goto(f"{tab.url}/login")
    assert tab.page.evaluate(UNNAMED_CONTROLS) == []
    tab.login(username)
    for path, _ in navigation(tab.page):
        if path not in written_pages():
            continue
        open_from_navigation(tab, path)
        assert tab.page.evaluate(UNNAMED_CONTROLS) == [], path


def test_the_unnamed_control_check_finds_an_unlabelled_input(tab: Tab) -> None:
    """The check above would let anything through if its selector matched nothing."""
    tab.page.set_content('<label for="a">Area</label><input id="a"><input id="b">'
                         '<input type="hidden" id="c"><label>Year <input id="d"></label>')
    assert tab.page.evaluate(UNNAMED_CONTROLS) == ['<input id="b">']


# ------------------------------------------------------------------ (8) Chinese text


def test_chinese_pages_are_drawn_with_a_cjk_font(tab: Tab) -> None:
    fonts = subprocess.run(["fc-list"], capture_output=True, text=True, check=True).stdout
    assert "Noto Sans CJK" in fonts, "fonts-noto-cjk is not installed"
    tab.login("moi_official")
    page = tab.page
    heading = page.locator("#_pages_content h1")
    expect(heading).to_have_text("總覽")
    shot = tab.screenshot("overview-zh")
    assert shot.stat().st_size > 10_000  # a blank 1280-wide page compresses to far less

    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#_pages_content h1"})
    used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
    assert any("Noto Sans CJK" in f["familyName"] and f["glyphCount"] == 2 for f in used), used

    drawn = heading.screenshot()
    heading.evaluate("element => { element.style.color = 'transparent'; }")
    assert heading.screenshot() != drawn  # the glyphs put ink on the page


# ------------------------------------------------------------------ gunicorn, two workers


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kwargs):  # noqa: ANN002, ANN003, ANN201
        return None  # keep the 303 to look at it


def _hold_a_worker(port: int) -> socket.socket:
    """A connection that sends nothing: the sync worker that accepts it waits on it, so the
    next requests go to the other worker."""
    held = socket.create_connection(("127.0.0.1", port))
    time.sleep(0.3)  # let a free worker accept it
    return held


# Seconds, not tens: the master imports the libraries once and the workers fork with them
# (each still builds its own app, which is what the test is about), and at shutdown the
# processes skip the interpreter's teardown (≈ 1 s each here; the access log is already out).
GUNICORN_TEST_CONFIG = """\
import os
import dashboards.app


def worker_exit(server, worker):
    os._exit(0)


def on_exit(server):
    os._exit(0)
"""


@contextmanager
def _gunicorn(served: dict, folder: Path, workers: int) -> Iterator[tuple[str, Path]]:
    """``gunicorn dashboards.wsgi:app`` on a copy of the served database: (URL, access log
    naming the worker process of each request)."""
    shutil.copyfile(served["root"] / "access.db", folder / "access.db")
    env = {**os.environ, "POPSTATS_RELEASES": str(served["releases"]),
           "POPSTATS_DB": f"sqlite:///{folder / 'access.db'}",
           "POPSTATS_OUTBOX": str(folder / "outbox")}
    env.pop("POPSTATS_SECRET_KEY", None)  # the workers must agree on a key by themselves
    config = folder / "gunicorn.conf.py"
    config.write_text(GUNICORN_TEST_CONFIG)
    port, log = _free_port(), folder / "access.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(config), "-w", str(workers),
         "--no-control-socket", "-b", f"127.0.0.1:{port}", "--access-logfile", str(log),
         "--access-logformat", "%(p)s %(m)s %(U)s %(s)s", "dashboards.wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        server.send_signal(signal.SIGQUIT)  # quick shutdown (TERM waits for a grace period)
        server.wait(timeout=20)


def test_gunicorn_workers_agree_on_sessions_and_csrf(served: dict, tmp_path: Path) -> None:
    """``dashboards.wsgi:app`` under gunicorn with two workers: the login is served by one
    worker and the callback by the other (each held busy in turn), so the session and the
    CSRF key must be shared through the database; the access log names the processes."""
    jar = CookieJar()
    client = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    with _gunicorn(served, tmp_path, workers=2) as (base, access_log), ExitStack() as held:
        deadline = time.monotonic() + 30
        while True:
            try:
                with client.open(f"{base}/login", timeout=30) as ready:
                    ready.read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        first = held.enter_context(_hold_a_worker(urlparse(base).port))
        with client.open(f"{base}/login", timeout=30) as form:
            token = form.read().decode().split('name="csrf_token" value="')[1].split('"')[0]
        fields = {"username": "taipei_user", "csrf_token": token,
                  "password": served["accounts"]["taipei_user"]["password"]}
        with pytest.raises(urllib.error.HTTPError) as login:
            client.open(f"{base}/login", urllib.parse.urlencode(fields).encode(), timeout=30)
        login.value.close()  # gunicorn lingers on a connection until the client closes it
        assert login.value.code == 303 and login.value.headers["Location"] == "/"
        held.enter_context(_hold_a_worker(urlparse(base).port))
        first.close()  # the login's worker is now the busy one
        csrf = next(c.value for c in jar if c.name == "_csrf_token")
        body = payload([("overview-figures", "children")],
                       [("overview-area", "value", "63000"),
                        ("overview-period", "value", LATEST_MONTH)])
        call = urllib.request.Request(
            f"{base}/_dash-update-component", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": csrf})
        with client.open(call, timeout=30) as answered:
            answer = json.dumps(json.load(answered), ensure_ascii=False)
    population = pl.read_parquet(served["releases"] / LATEST_MONTH / "population.parquet")
    taipei = population.filter(pl.col("area_code") == "63000")["population"].item()
    assert f"臺北市：114年3月 ({LATEST_MONTH})" in answer
    assert f'"{taipei:,}"' in answer
    served_by = {" ".join(line.split()[1:3]): line.split()[0]
                 for line in access_log.read_text().splitlines()}
    assert served_by["POST /login"] != served_by["POST /_dash-update-component"], served_by


def test_screen_readers_name_each_dropdown_after_its_label(tab: Tab) -> None:
    """Chromium's own accessible-name computation: a dropdown is announced by its label
    first (Dash 4 alone names it by its current value; assets/a11y.js puts the label first)."""
    tab.login("taipei_user")
    for path in ("/pyramid", "/trends"):
        if path not in written_pages():
            continue
        open_from_navigation(tab, path)
        pairs = tab.page.evaluate("""() => [...document.querySelectorAll('.dash-dropdown[id]')]
          .map((b) => [b.id, (document.querySelector(`label[for="${CSS.escape(b.id)}"]`)
                              || {}).textContent || ""])
          .filter(([, label]) => label.trim())""")
        assert pairs, path
        for control_id, label in pairs:
            expect(tab.page.locator(f"#{control_id}")).to_have_accessible_name(
                re.compile("^" + re.escape(label.strip())))
