"""Chart downloads (issue 13) through crafted callbacks, as the browser sends them: the
data of a chart is the query's table with the release's own numbers, the picture is a PNG
of the chart, both leave as a delivery of the agency (or a staff file) fetched from
``/deliveries/<id>/file`` and audited after the bytes went out; a chart outside the grant
gives nothing."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from access.models import Delivery
from dashboards.figure_queries import age_bands, map_query, pyramid_query, trends_query
from stats.query import parse_query
from tests.dashboards.client import audit_actions, call, db_session, logged_in, text_of

BUTTONS = ("csv", "xlsx", "png", "svg")
MONTHS = ["2024-03", "2025-01", "2025-02", "2025-03"]
TOWNS = ["63000010", "63000020"]  # 臺北市松山區, 臺北市信義區


def clicked(prefix: str, fmt: str, states: list[tuple[str, object]]) -> dict:
    """The body the browser sends when the ``fmt`` button of a chart page is clicked."""
    output = f"{prefix}-download-status.children"
    return {
        "output": output,
        "outputs": {"id": f"{prefix}-download-status", "property": "children"},
        "inputs": [{"id": f"{prefix}-download-{b}", "property": "n_clicks",
                    "value": int(b == fmt)} for b in BUTTONS],
        "changedPropIds": [f"{prefix}-download-{fmt}.n_clicks"],
        "state": [{"id": i, "property": "value", "value": v} for i, v in states],
    }


def trends_states(table: str, measure: str, areas: list[str]) -> list[tuple[str, object]]:
    return [("trends-table", table), ("trends-measure", measure), ("trends-frequency", "month"),
            ("trends-areas", areas), ("trends-start", None), ("trends-end", None)]


def link_of(answer) -> str:
    found = json.dumps(answer.get_json(), ensure_ascii=False)
    hrefs = [part.split('"')[0] for part in found.split('"href": "')[1:]]
    assert len(hrefs) == 1, found
    return hrefs[0]


def released(served: dict, table: str, period: str, area: str, column: str) -> int:
    frame = pl.read_parquet(served["releases"] / period / f"{table}.parquet")
    return int(frame.filter(pl.col("area_code") == area)[column].sum())


# --- the query documents (pure) ---------------------------------------------------------------

def test_each_pages_query_document_is_valid_and_says_what_the_chart_shows():
    trend = parse_query(trends_query("population", "population", MONTHS, ["63000", "64000"],
                                     "zh"))
    assert (trend.area_level, trend.areas, trend.periods) == ("county", ("63000", "64000"),
                                                              tuple(MONTHS))
    assert trend.stub == ("period", "measure") and trend.heading == ("area",)
    pyramid = parse_query(pyramid_query("63000010", ["2025-03", "2024-03"], 5, "en"))
    assert pyramid.periods == ("2024-03", "2025-03") and pyramid.labels == "en"
    assert pyramid.age_bands[0] == (0, 4) and pyramid.age_bands[-1] == (100, 100)
    assert len(age_bands(5)) == 21 and age_bands(1) is None
    single = parse_query(pyramid_query("63000", ["2025-03"], 1, "zh"))
    assert single.kept_keys == ("sex", "age") and single.age_bands is None
    whole = parse_query(map_query("indicators", "median_age", "county", "00000", "2025-03",
                                  "zh"))
    assert whole.within is None and whole.areas is None
    county = parse_query(map_query("population", "population", "village", "63000",
                                   "2025-03", "zh"))
    assert county.within == "63000" and county.area_level == "village"


def test_areas_of_two_levels_are_said_to_fit_no_table(private):
    """The page offers one level at a time; a crafted pick of two is told, not made."""
    client = logged_in(private, "taipei_user")
    answer = call(client, clicked("trends", "csv", trends_states("vital_events", "births",
                                                                 ["63000", "63000010"])))
    assert "not of level county" in text_of(answer) and "href" not in text_of(answer)


# --- data ---------------------------------------------------------------------------------------

def test_an_agencys_trend_data_is_a_delivery_holding_the_release_values(private):
    client = logged_in(private, "taipei_user")
    before = len(audit_actions(private, "taipei_user"))
    answer = call(client, clicked("trends", "xlsx",
                                  trends_states("vital_events", "births", TOWNS)))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    href = link_of(answer)
    got = client.get(href)
    assert got.status_code == 200
    got.get_data()  # the body is sent, then the download is audited
    got.close()
    sheet = load_workbook(io.BytesIO(got.data), read_only=True)["data"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["period", "measure", "臺北市松山區", "臺北市信義區"]
    assert [r[0] for r in rows[1:]] == ["113年3月", "114年1月", "114年2月", "114年3月"]
    for row, period in zip(rows[1:], MONTHS, strict=True):
        assert row[1] == "出生數"
        assert row[2:] == [released(private, "vital_events", period, a, "births")
                           for a in TOWNS]
    item = href.split("/")[2]
    with db_session(private) as session:
        delivery = session.scalar(select(Delivery).where(Delivery.id == item))
        assert delivery.channel == "file_transfer" and delivery.tables == ["vital_events"]
        assert delivery.areas == TOWNS
        assert delivery.options["query"]["measures"] == ["births"]  # the builder's own kind
        assert delivery.options["revisions"] == dict.fromkeys(MONTHS, 1)
    actions = [a for a, _ in audit_actions(private, "taipei_user")[before:]]
    assert actions[0] == "view"  # the chart read again, through the same guard
    assert "delivery.created" in actions and actions[-1] == "download"


def test_a_staff_members_map_data_is_their_own_file_as_csv(private):
    client = logged_in(private, "taipei_official")
    answer = call(client, clicked("map", "csv", [
        ("map-measure", "population:population"), ("map-level", "township"),
        ("map-root", "63000"), ("map-period", "2025-03")]))
    href = link_of(answer)
    got = client.get(href)
    assert got.status_code == 200
    frame = pl.read_csv(io.BytesIO(got.get_data()), encoding="utf8")
    got.close()
    release = pl.read_parquet(private["releases"] / "2025-03" / "population.parquet").filter(
        pl.col("area_level") == "township", pl.col("area_code").str.starts_with("63000"))
    assert frame.columns == ["area_code", "area_name", "114年3月|人口數"]
    assert frame["area_code"].cast(pl.String).to_list() == release["area_code"].to_list()
    assert frame["114年3月|人口數"].to_list() == release["population"].to_list()
    actions = [a for a, _ in audit_actions(private, "taipei_official")]
    assert "staff_export.created" in actions and actions[-1] == "download"


def test_a_chart_outside_the_grant_gives_no_file(private):
    client = logged_in(private, "kaohsiung_user")  # vital_events of 高雄市 only
    answer = call(client, clicked("trends", "csv",
                                  trends_states("vital_events", "births", ["63000"])))
    assert answer.status_code == 200
    assert "沒有可下載的圖表" in text_of(answer) and "href" not in text_of(answer)
    actions = [a for a, _ in audit_actions(private, "kaohsiung_user")]
    assert actions[-1] == "access.refused"
    with db_session(private) as session:
        assert not session.scalars(select(Delivery)).all()


# --- the picture ---------------------------------------------------------------------------------

@pytest.mark.skipif(not __import__("pathlib").Path("/usr/bin/chromium").exists(),
                    reason="Debian's chromium is not installed (scripts/setup.sh installs it)")
def test_a_pyramid_picture_is_a_png_delivery(private):
    from PIL import Image

    client = logged_in(private, "taipei_user")
    answer = call(client, clicked("pyramid", "png", [
        ("pyramid-area", "63000"), ("pyramid-period", "2025-03"), ("pyramid-compare", None),
        ("pyramid-band", "5"), ("pyramid-unit", "count")]))
    href = link_of(answer)
    got = client.get(href)
    data = got.get_data()
    got.close()
    assert got.headers["Content-Type"] == "image/png"
    picture = Image.open(io.BytesIO(data))
    assert picture.format == "PNG" and picture.size == (2200, 1300)
    assert len(picture.convert("RGB").getcolors(maxcolors=2**24)) > 20  # a chart, not a blank
    action, entry = audit_actions(private, "taipei_user")[-1]
    assert action == "download"  # after the bytes went out, saying what they showed
    assert entry.startswith(f"delivery:{href.split('/')[2]}")
    assert '"kind": "picture"' in entry and '"page": "pyramid"' in entry
    with db_session(private) as session:
        delivery = session.scalar(select(Delivery).where(Delivery.id == href.split("/")[2]))
        assert delivery.options["describes"]["kind"] == "picture"
        assert delivery.options["describes"]["revisions"] == {"2025-03": 1}


@pytest.mark.skipif(not __import__("pathlib").Path("/usr/bin/chromium").exists(),
                    reason="Debian's chromium is not installed (scripts/setup.sh installs it)")
def test_a_staff_members_map_picture_is_an_svg_of_the_boundaries(private):
    client = logged_in(private, "taipei_official")
    answer = call(client, clicked("map", "svg", [
        ("map-measure", "population:population"), ("map-level", "township"),
        ("map-root", "63000"), ("map-period", "2025-03")]))
    href = link_of(answer)
    got = client.get(href)
    data = got.get_data()
    got.close()
    assert got.headers["Content-Type"].startswith("image/svg+xml")
    text = data.decode("utf-8")
    assert text.startswith("<svg") and text.rstrip().endswith("</svg>")
    assert "臺北市 各鄉鎮市區人口數" in text  # the caption as the picture's title, in Chinese
    assert text.count('class="scatterlayer') == 1 and text.count("<path") > 12
    (private["outbox"].parent / "map.svg").write_bytes(data)
    actions = [a for a, _ in audit_actions(private, "taipei_official")]
    assert "staff_export.created" in actions and actions[-1] == "download"
