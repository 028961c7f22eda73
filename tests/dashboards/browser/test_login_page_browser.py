"""The login page in Chromium: styled like the dashboards, switching between zh-TW and
English on the page itself, without a console error or CSP violation; screenshots of both
languages under test-artifacts/screenshots/."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.dashboards.browser.conftest import Tab, needs_chromium


@needs_chromium
def test_the_login_page_follows_the_language_and_the_dashboards_style(tab: Tab) -> None:
    page = tab.page
    page.goto(f"{tab.url}/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-TW")
    expect(page.locator("h1")).to_have_text("登入")
    expect(page.locator("label[for=username]")).to_have_text("帳號")
    # the shell's stylesheet applies: its header band and the accent-coloured button
    header = page.locator("header.shell-header")
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(246, 248, 250)"
    button = page.locator("button[type=submit]")
    assert button.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(11, 92, 173)"
    tab.screenshot("login-zh")
    page.click("#login-language")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Log in")
    expect(page.locator("label[for=password]")).to_have_text("Password")
    page.fill("#username", "taipei_user")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_contain_text("invalid username or password")
    tab.screenshot("login-en")
    page.click("#login-language")
    expect(page.locator("h1")).to_have_text("登入")
    assert tab.console_errors == [] or all("401" in e for e in tab.console_errors), \
        tab.console_errors
