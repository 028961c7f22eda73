"""Issue 14's pages in a real browser, in Chinese and in English, on a served demo holding the
CONTRACT §8 tables: the migration heat map, life expectancy, the peoples' section of the
pyramid, TFR on the map and in Trends. Each is drawn (plotly SVG with data), the browser
complains about nothing (CSP, callbacks), and a screenshot is kept for a person to look at
under test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.dashboards.browser.conftest import Tab, live_server, needs_chromium, open_tab
from tests.dashboards.programme_fixture import programme_served  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, needs_chromium]

PAGES = {  # path and query string → what the page must show in (zh, en)
    "migration": ("/migration?period=2024-12", ("戶籍以外", "Outside the register")),
    "life": ("/life?area=00000&year=2024", ("兩性", "Both sexes")),
    "pyramid": ("/pyramid?period=2024-12", ("阿美族", "Amis")),
    "map": ("/map?measure=fertility:total_fertility_rate&period=2024&level=county",
            ("總生育率", "Total fertility rate")),
    "trends": ("/trends?table=fertility&measure=total_fertility_rate&frequency=year"
               "&areas=00000,63000,64000", ("總生育率", "Total fertility rate")),
}


@pytest.fixture(scope="module")
def programme_live(programme: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with live_server(programme, tmp_path_factory.mktemp("programme-live")) as server:
        yield server


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_programme_pages_draw_in_both_languages(browser: Browser, programme_live: dict,
                                                    lang: str) -> None:
    with open_tab(browser, programme_live, f"programme-{lang}") as tab:
        tab.login("national_user")
        if lang == "en":
            with tab.page.expect_navigation():
                tab.page.click("#shell-language")
            tab.settle()
        for name, (path, words) in PAGES.items():
            visit(tab, path)
            main = tab.page.locator("#_pages_content")
            expect(main).to_contain_text(words[lang == "en"])
            figure = tab.page.locator(".js-plotly-plot").last
            expect(figure.locator("g.trace, g.hm").first).to_be_attached()  # hm: heat map
            assert tab.page.locator(".dash-fe-error__title").count() == 0, name
            assert tab.console_errors == [], (name, tab.console_errors)
            if lang == "zh":
                assert "Total fertility" not in main.inner_text(), name
            tab.screenshot(name)


def visit(tab: Tab, path: str) -> None:
    tab.page.goto(f"{tab.url}{path}")
    tab.settle()
