"""The table builder as a statistician uses it, in Chromium (issue 13's done-when): twelve
months × every township of 臺北市 × sex with the periods across, downloaded as XLSX; every
value of the workbook equals the release tables summed over age by hand. The permalink
restores the selection (in English for the same user), and another agency opening it gets
what its own grant allows, with a note. Screenshots: test-artifacts/screenshots/.

The served demo publishes three months of 2025; this module builds and publishes
2024-04…2024-12 from the same extract into a copy of its releases, so a year is there.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from playwright.sync_api import Browser, expect

from dashboards.i18n import LANG_COOKIE
from stats.periods import Period, period_range
from tests.dashboards.browser.conftest import Tab, live_server, needs_chromium, open_tab
from tests.dashboards.browser.test_browser import choose, open_from_navigation
from tests.dashboards.conftest import _run

pytestmark = [pytest.mark.browser, needs_chromium]

MONTHS = [str(p) for p in period_range(Period.parse("2024-04"), Period.parse("2025-03"))]
NEW = [m for m in MONTHS if m < "2024-12"]  # the served demo built 2024-12 but kept it back
PACE_MS = 800  # a person's pace: the dashboards allow 40 callbacks per session in 10 s


@pytest.fixture(scope="module")
def year(served: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("builder-year")
    releases = folder / "releases"
    shutil.copytree(served["releases"], releases)
    for period in NEW:
        _run("build", "--input", str(served["root"] / "x"), "--period", period, "--out",
             str(releases))
    for period in [*NEW, "2024-12"]:
        _run("publish", "--releases", str(releases), "--period", period, "--by", "stat")
    with live_server({**served, "releases": releases}, folder) as server:
        yield server


def by_sex(releases: Path, month: str) -> dict[tuple[str, int], int]:
    """Taipei's townships' population by sex in ``month``: the release summed over age."""
    rows = (pl.read_parquet(releases / month / "population_by_age.parquet")
            .filter(pl.col("area_level") == "township",
                    pl.col("area_code").str.starts_with("63000"))
            .group_by("area_code", "sex").agg(pl.col("population").sum()))
    return {(r["area_code"], r["sex"]): r["population"] for r in rows.iter_rows(named=True)}


def pick(tab: Tab, control: str, value: str) -> None:
    choose(tab.page, control, value)
    tab.settle()
    tab.page.wait_for_timeout(PACE_MS)


def test_a_year_by_township_and_sex_downloads_as_the_releases_and_the_link_restores_it(
        browser: Browser, year: dict, request: pytest.FixtureRequest) -> None:
    with open_tab(browser, year, request.node.name) as tab:
        page = tab.page
        tab.login("taipei_user")  # every table, 臺北市 (63000) only
        open_from_navigation(tab, "/builder")
        pick(tab, "builder-table", "population_by_age")
        pick(tab, "builder-period-from", MONTHS[0])
        pick(tab, "builder-period", MONTHS[-1])
        pick(tab, "builder-level", "township")
        pick(tab, "builder-within", "63000")  # all townships of 臺北市
        page.locator('#builder-keep input[value="age"]').uncheck()  # summed over age
        tab.settle()
        page.wait_for_timeout(PACE_MS)
        expect(page.locator("#builder-row-count")).to_contain_text("總列數：24", timeout=30_000)
        expect(page.locator("#builder-size")).to_contain_text("288 個資料格")
        header = page.locator("#builder-preview thead tr").first
        expect(header.locator("th")).to_have_count(3 + 12)  # code, name, sex; the months
        expect(header.locator("th").nth(3)).to_have_text("113年4月")
        saved = json.loads(page.locator("#builder-query-json").inner_text())
        assert saved["periods"] == f"{MONTHS[0]}..{MONTHS[-1]}" and saved["within"] == "63000"
        assert saved["heading"] == ["period", "measure"] and saved["keep"] == ["sex"]
        assert "/api/v1/query" in page.locator("#builder-curl").inner_text()
        tab.screenshot("builder-year-zh")

        pick(tab, "builder-format", "xlsx")
        page.click("#builder-submit")
        link = page.locator("#builder-file-link")
        expect(link).to_be_visible(timeout=60_000)
        tab.settle()
        with page.expect_download() as started:
            link.click()
        download = started.value
        assert download.failure() is None
        assert download.suggested_filename.endswith(f"_{MONTHS[0]}_{MONTHS[-1]}_township_r1.xlsx")
        book = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()),
                                      read_only=True)
        rows = [list(r) for r in book["data"].iter_rows(values_only=True)]
        permalink = page.locator("#builder-permalink").get_attribute("href")
        assert tab.console_errors == []

    labels = [f"{Period.parse(m).year - 1911}年{Period.parse(m).number}月" for m in MONTHS]
    assert rows[0] == ["area_code", "area_name", "sex", *(f"{label}|人口數" for label in labels)]
    sums = {m: by_sex(year["releases"], m) for m in MONTHS}
    codes = sorted({code for code, _ in sums[MONTHS[-1]]})
    assert len(codes) == 12 and len(rows) == 1 + 24
    assert [r[0] for r in rows[1:]] == [c for c in codes for _ in (1, 2)]
    assert [r[2] for r in rows[1:]] == ["男", "女"] * 12
    assert [r[3:] for r in rows[1:]] == [[sums[m][code, sex] for m in MONTHS]
                                         for code in codes for sex in (1, 2)]

    assert permalink is not None and permalink.startswith("/builder?q=")
    with open_tab(browser, year, f"{request.node.name}-link") as tab:
        tab.page.context.add_cookies([{"name": LANG_COOKIE, "value": "en", "url": tab.url}])
        tab.login("taipei_user")
        tab.page.goto(f"{tab.url}{permalink}")
        tab.settle()
        page = tab.page
        expect(page.locator("#builder-row-count")).to_contain_text("Total rows: 24",
                                                                    timeout=30_000)
        assert json.loads(page.locator("#builder-query-json").inner_text()) == saved
        expect(page.locator("#builder-note")).to_have_text("")
        pick(tab, "builder-labels", "en")  # the file's labels in English too
        expect(page.locator("#builder-preview thead tr").first.locator("th").nth(3)
               ).to_have_text("Apr 2024")
        expect(page.locator("#builder-preview tbody tr").first.locator("td").nth(1)
               ).to_have_text("male")
        tab.screenshot("builder-year-en")
        assert tab.console_errors == []

    with open_tab(browser, year, f"{request.node.name}-other") as tab:
        tab.login("kaohsiung_user")  # vital_events of 高雄市 only
        tab.page.goto(f"{tab.url}{permalink}")
        tab.settle()
        page = tab.page
        expect(page.locator("#builder-note")).to_contain_text("不在您的授權範圍內")
        assert json.loads(page.locator("#builder-query-json").inner_text())["table"] == \
            "vital_events"
        expect(page.locator("#builder-preview")).not_to_contain_text("臺北市")
        tab.screenshot("builder-link-outside-grant")
        assert tab.console_errors == []
