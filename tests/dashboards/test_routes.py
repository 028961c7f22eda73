"""The dashboards' route × role matrix through the Flask test client: deny by default,
login/logout with server-side sessions, CSRF, and hand-crafted Dash callbacks that ask for
another county or an ungranted table (refused and audited)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from access.accounts import hash_secret
from access.models import LoginSession, User
from dashboards.shell import PAGES as SHELL_PAGES
from dashboards.shell import page_allowed
from dashboards.i18n import LANG_COOKIE
from dashboards.web import CSRF_COOKIE, SESSION_COOKIE
from popstats.cli import main
from tests.dashboards.client import (
    audit_actions,
    call,
    components,
    cookie,
    db_session,
    logged_in,
    login,
    page,
    payload,
    router,
    table_rows,
    text,
    text_of,
)

PAGES = tuple(page.path for page in SHELL_PAGES)
DASH_GETS = ("/_dash-layout", "/_dash-dependencies", "/_reload-hash")
ROLES = ("moi_official", "national_user", "taipei_user", "kaohsiung_user")


def overview_payload(area: str, period: str = "2025-03") -> dict:
    return payload([("overview-figures", "children")],
                   [("overview-area", "value", area), ("overview-period", "value", period)])


# --- anonymous ---------------------------------------------------------------------------

def test_anonymous_never_gets_pages_or_dash_routes(served):
    client = served["app"].test_client()
    others = ("/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.js", "/logout",
              "/language", "/outbox/1", "/assets/popstats.css", "/assets/a11y.js",
              "/deliveries/" + "0" * 32 + "/file", "/nowhere")
    for path in PAGES + DASH_GETS + others:
        assert client.get(path).status_code == 401, path
        assert client.post(path, json={}).status_code == 401, path
    answer = call(client, overview_payload("00000"), csrf=False)
    assert answer.status_code == 401 and b"population" not in answer.data


def test_anonymous_browser_is_redirected_to_login(served):
    client = served["app"].test_client()
    answer = client.get("/", headers={"Accept": "text/html"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")
    # Dash's internal routes never redirect, even for a browser
    assert client.get("/_dash-layout", headers={"Accept": "text/html"}).status_code == 401
    login_page = client.get("/login")
    assert login_page.status_code == 200 and b"_dash" not in login_page.data
    assert login_page.headers["X-Frame-Options"] == "DENY"


# --- login / logout ----------------------------------------------------------------------

def test_wrong_password_gets_the_generic_error(served):
    _, answer = login(served, "taipei_user", "wrong password")
    _, unknown = login(served, "nobody", "x")
    assert answer.status_code == unknown.status_code == 401
    def strip(data: bytes) -> str:  # each form carries its own CSRF token
        return re.sub(r'value="[^"]*"', "", data.decode())

    assert strip(answer.data) == strip(unknown.data)
    # the page's language (zh by default) throughout; the English page says it in English
    assert "帳號或密碼錯誤" in answer.get_data(as_text=True)
    client = served["app"].test_client()
    client.set_cookie(LANG_COOKIE, "en")
    _, english = login(served, "taipei_user", "wrong password", client=client)
    assert "invalid username or password" in english.get_data(as_text=True)


def test_login_without_its_csrf_token_is_refused(served):
    client = served["app"].test_client()
    answer = client.post("/login", data={"username": "taipei_user",
                                         "password": served["accounts"]["taipei_user"]["password"]})
    assert answer.status_code == 403 and cookie(client, SESSION_COOKIE) is None


def test_login_rotates_the_session_and_logout_invalidates_it(served):
    client = logged_in(served, "national_user")
    first = cookie(client, SESSION_COOKIE)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "national_user", "csrf_token": token,
                                "password": served["accounts"]["national_user"]["password"]})
    second = cookie(client, SESSION_COOKIE)
    assert first and second and first != second
    stale = served["app"].test_client()
    stale.set_cookie(SESSION_COOKIE, first)
    assert stale.get("/_dash-layout").status_code == 401  # the old session was revoked
    assert client.get("/_dash-layout").status_code == 200
    # logout needs the CSRF token
    assert client.post("/logout").status_code == 403
    answer = client.post("/logout", data={"csrf_token": cookie(client, CSRF_COOKIE)})
    assert answer.status_code == 303 and "cookies" in answer.headers["Clear-Site-Data"]
    replay = served["app"].test_client()
    replay.set_cookie(SESSION_COOKIE, second)
    assert replay.get("/_dash-layout").status_code == 401
    with db_session(served) as s:  # both of this test's sessions (other tests log in too)
        mine = [hash_secret(first), hash_secret(second)]
        rows = list(s.scalars(select(LoginSession).where(LoginSession.token_hash.in_(mine))))
        assert len(rows) == 2 and all(r.revoked_at is not None for r in rows)


# --- route × role matrix -----------------------------------------------------------------

@pytest.mark.parametrize("username", ROLES)
def test_logged_in_roles_reach_pages_and_dash_routes(served, username):
    client = logged_in(served, username)
    for path in PAGES + ("/_dash-layout", "/_dash-dependencies"):
        assert client.get(path).status_code == 200, path
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "'sha256-" in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp


@pytest.mark.parametrize("username", ROLES)
def test_callback_without_csrf_header_is_refused(served, username):
    client = logged_in(served, username)
    assert call(client, overview_payload("63000"), csrf=False).status_code == 403


@pytest.mark.parametrize(("username", "area", "tables"), [
    ("moi_official", "00000", {"population", "vital_events"}),
    ("moi_official", "64000", {"population", "vital_events"}),
    ("national_user", "00000", {"population", "vital_events"}),
    ("taipei_user", "63000", {"population", "vital_events"}),
    ("kaohsiung_user", "64000", {"vital_events"}),
])
def test_granted_overview_shows_figures(served, username, area, tables):
    client = logged_in(served, username)
    answer = call(client, overview_payload(area))
    assert answer.status_code == 200
    text = text_of(answer)
    assert "114年3月" in text and "出生數" in text
    assert ("未授權" in text) == (tables != {"population", "vital_events"})
    assert any(a == "view" for a, _ in audit_actions(served, username))


@pytest.mark.parametrize(("username", "area"), [
    ("taipei_user", "64000"), ("taipei_user", "00000"), ("kaohsiung_user", "63000"),
])
def test_crafted_callback_for_another_area_is_refused_and_audited(served, username, area):
    client = logged_in(served, username)
    before = len(audit_actions(served, username))
    answer = call(client, overview_payload(area))
    text = text_of(answer)
    assert answer.status_code == 200 and "您的授權不包含此地區" in text
    assert "人口數" not in text and "出生數" not in text
    new = audit_actions(served, username)[before:]
    assert [a for a, _ in new].count("access.refused") == 2
    assert all(area in detail for a, detail in new if a == "access.refused")


def test_kaohsiung_population_is_refused_and_audited(served):
    client = logged_in(served, "kaohsiung_user")
    before = len(audit_actions(served, "kaohsiung_user"))
    text = text_of(call(client, overview_payload("64000")))
    assert "未授權" in text
    refused = [d for a, d in audit_actions(served, "kaohsiung_user")[before:]
               if a == "access.refused"]
    assert refused and "population" in refused[0]


def test_dash_layout_holds_no_data_and_offers_only_granted_areas(served):
    client = logged_in(served, "taipei_user")
    page = text_of(client.get("/_dash-layout"))
    assert "總覽" in page  # the check below reads unescaped text
    assert "人口數" not in page and "64000" not in page and "出生數" not in page


def test_audit_chain_is_intact_after_the_matrix(served):
    verified = CliRunner().invoke(main, ["audit", "verify", "--db", served["db"]],
                                  catch_exceptions=False)
    assert verified.exit_code == 0, verified.output


def test_suspended_agency_sees_the_notice_and_no_data(private):
    """Point 19: a violation suspends the grant at once — the next callback gets no data —
    and the agency's user is told on the page: by whom, since when, until when to improve."""
    from datetime import UTC, datetime, timedelta

    from access.calendar import local_date
    from access.models import Grant
    from access.sanctions import record_violation

    client = logged_in(private, "kaohsiung_user")
    assert '"className": "figures"' in text_of(call(client, overview_payload("64000")))
    with db_session(private) as s:
        user = s.scalar(select(User).where(User.username == "kaohsiung_user"))
        grant = s.scalar(select(Grant).where(Grant.agency_id == user.agency_id))
        official = s.scalar(select(User).where(User.provider_id == grant.provider_id,
                                               User.role == "provider_official"))
        now = private["clock"].now(UTC)
        record_violation(s, grant, official, "查詢資料外流", local_date(now) + timedelta(days=30),
                         now)
        s.commit()
    refused = text_of(call(client, overview_payload("64000")))
    assert '"className": "figures"' not in refused and "授權" in refused
    shell = client.get("/_dash-layout")
    assert shell.status_code == 200
    shown = shell.get_data(as_text=True).encode().decode("unicode_escape")
    assert "停止貴機關之連結作業" in shown and "查詢資料外流" in shown and "臺北時間" in shown


def test_spoofed_page_request_offers_only_the_session_grant(served):
    """The pages router callback with a hand-made pathname/search: the layout is built from
    the server-side session, so ``?area=64000`` does not put another county in reach."""
    client = logged_in(served, "taipei_user")
    payload = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"},
                    {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/"},
                   {"id": "_pages_location", "property": "search", "value": "?area=64000"}],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
    answer = call(client, payload)
    assert answer.status_code == 200
    text = text_of(answer)
    assert "63000" in text and "64000" not in text
    assert call(served["app"].test_client(), payload, csrf=False).status_code == 401


def test_private_copy_keeps_the_shared_database_untouched(private, served):
    """Suspending through the private copy leaves the shared database's sessions alive."""
    from access.accounts import revoke_agency_access

    shared = logged_in(served, "taipei_user")
    client = logged_in(private, "taipei_user")
    with db_session(private) as s:
        user = s.scalar(select(User).where(User.username == "taipei_user"))
        revoke_agency_access(s, user.agency_id, private["clock"].now())
        s.commit()
    assert client.get("/_dash-layout").status_code == 401
    assert shared.get("/_dash-layout").status_code == 200


def test_language_switch_needs_csrf_stays_local_and_changes_the_labels(served):
    client = logged_in(served, "taipei_user")
    assert "登出" in text_of(client.get("/_dash-layout"))
    assert client.post("/language", data={"lang": "en", "next": "/trends"}).status_code == 403
    answer = client.post("/language", data={"lang": "en", "next": "//evil.example/x",
                                            "csrf_token": cookie(client, CSRF_COOKIE)})
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    layout = text_of(client.get("/_dash-layout"))
    assert "Log out" in layout and "登出" not in layout and '"lang": "en"' in layout
    text = text_of(call(client, overview_payload("63000")))
    assert "Births" in text and "Mar 2025" in text and "出生數" not in text
    client.post("/language", data={"lang": "zh", "next": "/",
                                   "csrf_token": cookie(client, CSRF_COOKIE)})
    assert "出生數" in text_of(call(client, overview_payload("63000")))


def test_overview_change_on_last_month_and_last_year_match_the_releases(served):
    """Hand-check: births of 2025-03 minus 2025-02 and minus 2024-03 from the release files."""
    import polars as pl

    def births(period: str) -> int:
        frame = pl.read_parquet(served["releases"] / period / "vital_events.parquet")
        return int(frame.filter(pl.col("area_code") == "63000")["births"][0])

    answer = call(logged_in(served, "taipei_user"), overview_payload("63000"))
    row = next(r for r in table_rows(answer) if r[0] == "出生數")
    month = births("2025-03") - births("2025-02")
    year = births("2025-03") - births("2024-03")
    assert row[1:4] == [f"{births('2025-03'):,}", f"{month:+,}", f"{year:+,}"]


def test_idle_timeout_ends_the_session(private):
    client = logged_in(private, "national_user")
    private["clock"].advance(minutes=29)
    assert client.get("/_dash-layout").status_code == 200  # activity resets the idle clock
    private["clock"].advance(minutes=29)
    assert client.get("/_dash-layout").status_code == 200
    private["clock"].advance(minutes=31)
    assert client.get("/_dash-layout").status_code == 401
    assert "session.idle" in [a for a, _ in audit_actions(private, "national_user")]


def test_a_second_worker_accepts_the_first_workers_session_and_csrf(private):
    """Two app instances on one database (as gunicorn workers): login on one, callback on the
    other — the session, its idle clock and the CSRF key live in the database."""
    from dashboards.app import create_app

    first = private["app"]
    second = create_app(private["settings"], private["clock"])
    client = logged_in(private, "taipei_user", app=first)
    other = second.test_client()
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        other.set_cookie(name, cookie(client, name))
    answer = call(other, overview_payload("63000"))
    assert answer.status_code == 200 and "出生數" in text_of(answer)


def test_stylesheet_is_served_to_logged_in_users_only(served):
    assert served["app"].test_client().get("/assets/popstats.css").status_code == 401
    client = logged_in(served, "taipei_user")
    with client.get("/assets/popstats.css") as sheet:  # a file response: close it
        assert b":focus-visible" in sheet.data
    assert "/assets/popstats.css" in client.get("/").get_data(as_text=True)


def test_no_users_layout_reaches_another_users_page(private):
    """Dash's validation layout would render the first caller's shell into the index page
    config that every later caller receives; it is switched off."""
    first = logged_in(private, "kaohsiung_user")
    assert first.get("/").status_code == 200 and first.get("/_dash-layout").status_code == 200
    second = logged_in(private, "taipei_user")
    page = second.get("/").get_data(as_text=True)
    assert "kaohsiung_user" not in page and "validation_layout" not in page
    assert cookie(first, CSRF_COOKIE) not in page


NOT_PERMITTED = "您沒有使用此頁面的權限"


@pytest.mark.parametrize("username", ROLES + ("taipei_official", "kaohsiung_official"))
def test_every_page_opens_exactly_for_its_audience(served, username):
    """The router callback for every page × role: the page's heading for its audience, the
    refusal for everyone else (agency users never get Administration, staff never get an
    agency's outbox), and the navigation lists exactly the pages the role may open."""
    client = logged_in(served, username)
    with db_session(served) as s:
        user = s.scalar(select(User).where(User.username == username))
        allowed = {p.path: page_allowed(user, p.path) for p in SHELL_PAGES}
    for shell_page in SHELL_PAGES:
        shown = text(page(client, shell_page.path)["response"]["_pages_content"]["children"])
        assert (NOT_PERMITTED in shown) != allowed[shell_page.path], shell_page.path
        if allowed[shell_page.path]:
            assert shell_page.zh in shown, shell_page.path
    links = {c["props"]["href"] for c in components(client.get("/_dash-layout").get_json(),
                                                      "Link")}
    assert links == {path for path, ok in allowed.items() if ok}


def test_a_suspended_agency_gets_nothing_on_any_route(private):
    from datetime import timedelta

    from access.calendar import local_date
    from access.models import Grant
    from access.sanctions import record_violation

    client = logged_in(private, "taipei_user")
    with db_session(private) as s:
        user = s.scalar(select(User).where(User.username == "taipei_user"))
        grant = s.scalar(select(Grant).where(Grant.agency_id == user.agency_id))
        official = s.scalar(select(User).where(User.provider_id == grant.provider_id,
                                               User.role == "provider_official"))
        now = private["clock"].now()
        record_violation(s, grant, official, "test", local_date(now) + timedelta(days=30), now)
        s.commit()
    # still signed in (so that it can be told), but no data on any route
    assert "停止貴機關之連結作業" in client.get("/_dash-layout").get_data(as_text=True).encode(
    ).decode("unicode_escape")
    refused = text_of(call(client, overview_payload("63000")))
    assert "您的授權不包含此地區" in refused and "出生數" not in refused
    builder = text_of(call(client, router("/builder")))
    assert "63000" not in builder  # nothing is offered for the suspended grant
    again, answer = login(private, "taipei_user")  # a new login: the same, and told again
    assert answer.status_code == 303
    refused = text_of(call(again, overview_payload("63000")))
    assert "您的授權不包含此地區" in refused and "出生數" not in refused


def test_health_check_is_public_and_says_only_ok_or_what_fails(private, monkeypatch, tmp_path):
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    from dashboards.app import ServerSettings, create_app

    client = private["app"].test_client()
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok", "failing": []}
    assert client.post("/healthz").status_code == 405
    missing = ServerSettings(releases=tmp_path / "gone", db_url=private["db"],
                             outbox=tmp_path / "outbox")
    down = create_app(missing).test_client().get("/healthz")
    assert down.status_code == 503 and down.get_json()["failing"] == ["releases"]

    def unreachable(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(Session, "execute", unreachable)
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.get_json()["failing"] == ["database"]
