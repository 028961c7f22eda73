"""The Map page in a real browser draws the shipped township boundaries with no flag: the
served demo (default geography, no ``--boundaries``), Taipei's twelve districts filled in
the class colours, a screenshot kept under ``test-artifacts/screenshots/``."""

from __future__ import annotations

from tests.dashboards.browser.conftest import Tab, needs_chromium


@needs_chromium
def test_taipei_township_map_draws_real_district_boundaries(tab: Tab) -> None:
    tab.login("taipei_user")
    tab.page.goto(f"{tab.url}/map?measure=population:population&level=township&area=63000")
    tab.settle()
    graph = tab.page.locator(".map-figure .js-plotly-plot")
    graph.wait_for(timeout=20_000)
    fills = tab.page.locator(".map-figure path.js-fill")
    assert fills.count() >= 2  # one filled path per colour class
    # real outlines: long paths of many vertices, not 22 tile rectangles
    longest = max(len(fills.nth(i).get_attribute("d") or "") for i in range(fills.count()))
    assert longest > 2_000
    assert tab.page.locator(".map-figure .layer-above .shapelayer path").count() == 0
    rows = tab.page.locator("table.map-values tbody tr")
    assert rows.count() == 12
    assert "每個邊界都有對應資料" in tab.page.inner_text("#map-result")
    tab.screenshot("map-taipei-townships")
    assert not tab.console_errors, tab.console_errors
