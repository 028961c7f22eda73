"""The sign-in side of the dashboards: the login page follows the language and the shell's
style, the login throttle works per address through the web form (the owner elsewhere gets
in), and ``/language`` redirects only to same-site paths."""

from __future__ import annotations

import re

import pytest

from access.accounts import MAX_FAILURES
from dashboards.i18n import LANG_COOKIE
from dashboards.web import CSRF_COOKIE
from tests.dashboards.client import audit_actions, cookie, logged_in, login

ATTACKER, HOME = "198.51.100.7", "203.0.113.5"
CJK = re.compile(r"[\u4e00-\u9fff]")


def visible(page: str) -> str:
    """The text a person reads (no tags, no stylesheet)."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


# --- the login page -------------------------------------------------------------------------

def test_login_page_is_chinese_by_default_and_english_on_request(served):
    client = served["app"].test_client()
    chinese = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-Hant-TW">' in chinese
    assert "帳號" in chinese and "密碼" in chinese and "Username" not in chinese
    switched = client.get("/login?lang=en")
    english = switched.get_data(as_text=True)
    assert '<html lang="en">' in english and "Username" in english and "Password" in english
    # fully English: the only Chinese is the switch back, 中文
    assert CJK.findall(visible(english)) == list("中文")
    assert cookie(client, LANG_COOKIE) == "en"
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)  # remembered
    back = client.get("/login?lang=zh").get_data(as_text=True)
    assert '<html lang="zh-Hant-TW">' in back and "English" in back


def test_login_page_carries_the_dashboards_stylesheet(served):
    answer = served["app"].test_client().get("/login")
    page = answer.get_data(as_text=True)
    assert ":focus-visible" in page and 'class="shell-header"' in page and "login-box" in page
    assert "'unsafe-inline'" in answer.headers["Content-Security-Policy"].split("style-src")[1]


# --- the login throttle through the form ------------------------------------------------------

def test_an_attackers_address_is_locked_the_owner_gets_in(private):
    for _ in range(MAX_FAILURES):
        _, answer = login(private, "taipei_user", "guess", client=from_address(
            private["app"], ATTACKER))
        assert answer.status_code == 401
    _, locked = login(private, "taipei_user", None, client=from_address(private["app"],
                                                                          ATTACKER))
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "900"
    assert "900" in locked.get_data(as_text=True)
    _, owner = login(private, "taipei_user", None, client=from_address(private["app"], HOME))
    assert owner.status_code == 303
    reasons = [d for a, d in audit_actions(private, "taipei_user")
               if a == "login.failed" and ATTACKER in d]
    assert len(reasons) == MAX_FAILURES + 1
    assert '"reason": "locked"' in reasons[-1]
    private["clock"].advance(minutes=15)  # 15 minutes after the first failure: in again
    _, later = login(private, "taipei_user", None, client=from_address(private["app"],
                                                                         ATTACKER))
    assert later.status_code == 303


def test_an_unknown_name_is_throttled_exactly_like_a_known_one(private):
    answers = {}
    for name in ("taipei_user", "no_such_user"):
        client = from_address(private["app"], f"192.0.2.{len(answers) + 1}")
        for _ in range(MAX_FAILURES):
            login(private, name, "guess", client=client)
        answers[name] = login(private, name, "guess", client=client)[1]
    known, unknown = answers["taipei_user"], answers["no_such_user"]
    assert known.status_code == unknown.status_code == 429
    assert known.headers["Retry-After"] == unknown.headers["Retry-After"]


# --- /language ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", " //evil.example",
    "//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/",
    "javascript:alert(1)", "evil.example", "", "/\x00/evil.example", "/\u3000/evil.example",
])
def test_language_switch_never_redirects_off_site(served, target):
    client = logged_in(served, "taipei_user")
    answer = client.post("/language", data={"lang": "zh", "next": target,
                                            "csrf_token": cookie(client, CSRF_COOKIE)})
    assert answer.status_code == 303 and answer.headers["Location"] == "/", target


def test_language_switch_keeps_a_local_page(served):
    client = logged_in(served, "taipei_user")
    answer = client.post("/language", data={"lang": "zh", "next": "/trends",
                                            "csrf_token": cookie(client, CSRF_COOKIE)})
    assert answer.headers["Location"] == "/trends"


def test_behind_the_proxy_the_forwarded_address_is_the_client(private):
    """The proxy (127.0.0.1) forwards for everyone: the last X-Forwarded-For entry counts,
    so an attacker behind it locks only their own address; a client that is not a trusted
    proxy cannot pick an address by sending the header."""
    def through_proxy(address: str):
        client = from_address(private["app"], "127.0.0.1")
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"10.9.9.9, {address}"
        return client

    for _ in range(MAX_FAILURES):
        login(private, "taipei_user", "guess", client=through_proxy(ATTACKER))
    assert login(private, "taipei_user", None, client=through_proxy(ATTACKER))[1].status_code \
        == 429
    assert login(private, "taipei_user", None, client=through_proxy(HOME))[1].status_code == 303
    spoofer = from_address(private["app"], "192.0.2.77")
    for _ in range(MAX_FAILURES):
        spoofer.environ_base["HTTP_X_FORWARDED_FOR"] = f"192.0.2.{_}"
        login(private, "kaohsiung_user", "guess", client=spoofer)
    assert login(private, "kaohsiung_user", None, client=spoofer)[1].status_code == 429
