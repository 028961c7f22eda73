"""A trends chart downloaded in Chromium as a picture and as data (issue 13), in zh-TW and
in English, as ``taipei_user`` (an agency: every table, 臺北市 only) sees it by default:
臺北市's population over the published months.

The PNG must be a real picture of that chart: it decodes, has the size asked for (1100 ×
650 at scale 2), is not one colour, and carries the first line's colour (Okabe-Ito blue
#0072B2, the figure's own). The CSV must hold the release's values for those months. Both
leave as deliveries fetched from ``/deliveries/<id>/file`` and are audited as downloads
after the bytes went out. The pictures are kept under test-artifacts/screenshots/ to be
looked at (``…-trends-zh.png``, ``…-trends-en.png``).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import expect

from tests.dashboards.browser.conftest import SCREENSHOTS, Tab, needs_chromium
from tests.dashboards.browser.test_browser import open_from_navigation
from tests.dashboards.client import audit_actions

pytestmark = [pytest.mark.browser, needs_chromium]

MONTHS = ("2024-03", "2025-01", "2025-02", "2025-03")  # the served demo's published months
LABELS = {"zh": ["113年3月", "114年1月", "114年2月", "114年3月"],
          "en": ["Mar 2024", "Jan 2025", "Feb 2025", "Mar 2025"]}
HEADERS = {"zh": ["period", "measure", "臺北市"], "en": ["period", "measure", "Taipei City"]}
MEASURE = {"zh": "人口數", "en": "Population"}
BLUE = (0x00, 0x72, 0xB2)


def downloaded(tab: Tab, fmt: str, previous: str | None) -> tuple[str, bytes]:
    """Click a download button of the trends page, then the link it gives; the link and
    the bytes the browser saved."""
    page = tab.page
    page.click(f"#trends-download-{fmt}")
    link = page.locator("#trends-download-link")
    if previous is None:
        expect(link).to_be_visible(timeout=90_000)
    else:
        expect(link).not_to_have_attribute("href", previous, timeout=90_000)
    href = link.get_attribute("href")
    assert href is not None and re.fullmatch(r"/deliveries/[0-9a-f]{32}/file", href), href
    with page.expect_download() as started:
        link.click()
    download = started.value
    assert download.failure() is None, download.failure()
    assert download.suggested_filename.endswith(f".{fmt}"), download.suggested_filename
    return href, Path(download.path()).read_bytes()


def check_picture(data: bytes, keep: Path) -> None:
    from PIL import Image

    keep.write_bytes(data)  # to be looked at
    picture = Image.open(io.BytesIO(data))
    assert picture.format == "PNG" and picture.size == (2200, 1300)
    colours = picture.convert("RGB").getcolors(maxcolors=2**24)
    assert colours is not None and len(colours) > 50  # text, axes and a line: not a blank
    assert any(rgb == BLUE for _count, rgb in colours), "the line's colour is not drawn"
    white = max(colours)[1]
    assert white == (255, 255, 255)  # the background, as on the page


def check_data(data: bytes, served: dict, lang: str) -> None:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == HEADERS[lang]
    assert [r[0] for r in rows[1:]] == LABELS[lang]
    assert {r[1] for r in rows[1:]} == {MEASURE[lang]}
    released = [pl.read_parquet(served["releases"] / m / "population.parquet")
                .filter(pl.col("area_code") == "63000")["population"].item() for m in MONTHS]
    assert [int(r[2]) for r in rows[1:]] == released


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_trends_chart_downloads_as_a_picture_and_as_its_data(tab: Tab, lang: str) -> None:
    before = len(audit_actions(tab.server, "taipei_user"))
    tab.page.context.add_cookies([{"name": "popstats_lang", "value": lang, "url": tab.url}])
    tab.login("taipei_user")
    open_from_navigation(tab, "/trends")
    expect(tab.page.locator("#trends-output .js-plotly-plot")).to_be_visible(timeout=60_000)
    picture_link, picture = downloaded(tab, "png", None)
    check_picture(picture, SCREENSHOTS / f"{tab.test_name}-trends-{lang}.png")
    data_link, data = downloaded(tab, "csv", picture_link)
    check_data(data, tab.server, lang)
    tab.screenshot(f"trends-downloads-{lang}")
    assert tab.console_errors == []
    made = [o for a, o in audit_actions(tab.server, "taipei_user")[before:] if a == "download"]
    assert [o.split("{")[0] for o in made] == [f"delivery:{picture_link.split('/')[2]}",
                                               f"delivery:{data_link.split('/')[2]}"]
