"""The Population pyramid page through crafted callbacks: what each role gets, refusals
(audited), both languages, and the plotted values checked by hand against the release
files."""

from __future__ import annotations

import json

import polars as pl
import pytest
from sqlalchemy import select

from access.models import Grant, User
from tests.dashboards.client import (
    audit_actions,
    call,
    components,
    cookie,
    db_session,
    dropdown,
    logged_in,
    page,
    payload,
    table_rows,
    text,
    text_of,
)

OUTPUTS = [("pyramid-status", "children"), ("pyramid-output", "children")]


def pyramid(area: str, period: str = "2025-03", compare: str | None = None, band: str = "5",
            unit: str = "count") -> dict:
    return payload(OUTPUTS, [("pyramid-area", "value", area), ("pyramid-period", "value", period),
                             ("pyramid-compare", "value", compare),
                             ("pyramid-band", "value", band), ("pyramid-unit", "value", unit)])


def traces(answer) -> list[dict]:
    graphs = components(answer.get_json(), "Graph")
    assert len(graphs) == 1
    return graphs[0]["props"]["figure"]["data"]


def release(served: dict, period: str, area: str) -> pl.DataFrame:
    frame = pl.read_parquet(served["releases"] / period / "population_by_age.parquet")
    return frame.filter(pl.col("area_code") == area)


def hand_sum(frame: pl.DataFrame, sex: int, first: int, last: int) -> int:
    return int(frame.filter(pl.col("sex") == sex, pl.col("age").is_between(first, last))
               ["population"].sum())


def english(client) -> None:
    answer = client.post("/language", data={"lang": "en", "next": "/pyramid",
                                            "csrf_token": cookie(client, "_csrf_token")})
    assert answer.status_code == 303


# --- values against the release files --------------------------------------------------------

def test_five_year_band_equals_the_hand_sum_of_the_release(served):
    answer = call(logged_in(served, "taipei_user"), pyramid("63000"))
    assert answer.status_code == 200
    males, females = traces(answer)
    by_hand = release(served, "2025-03", "63000")
    band = males["y"].index("20–24")
    assert males["x"][band] == -hand_sum(by_hand, 1, 20, 24)
    assert females["x"][band] == hand_sum(by_hand, 2, 20, 24)
    assert females["x"][-1] == hand_sum(by_hand, 2, 100, 100) and females["y"][-1] == "100+"
    assert len(males["y"]) == 21
    row = next(r for r in table_rows(answer) if r[0] == "20–24")
    assert row[1:3] == [f"{hand_sum(by_hand, 1, 20, 24):,}", f"{hand_sum(by_hand, 2, 20, 24):,}"]
    total = int(by_hand["population"].sum())
    summary = next(r for r in table_rows(answer) if r[0] == "114年3月" and len(r) == 5)
    assert summary[1] == f"{total:,}"


def test_percent_sums_to_100_per_period_and_the_comparison_has_its_own_values(served):
    answer = call(logged_in(served, "taipei_user"),
                  pyramid("63000", compare="2024-03", unit="percent"))
    data = traces(answer)
    assert len(data) == 4
    for period_traces in (data[:2], data[2:]):
        assert sum(abs(x) for t in period_traces for x in t["x"]) == pytest.approx(100)
    earlier = release(served, "2024-03", "63000")
    outline_males = data[2]
    band = outline_males["y"].index("60–64")
    # hover carries the count; the comparison's count is 2024-03's, not 2025-03's
    assert outline_males["customdata"][band][0] == hand_sum(earlier, 1, 60, 64)
    assert abs(outline_males["x"][band]) == pytest.approx(
        100 * hand_sum(earlier, 1, 60, 64) / int(earlier["population"].sum()))
    assert data[0]["customdata"][band][0] == hand_sum(release(served, "2025-03", "63000"),
                                                      1, 60, 64)
    assert data[2]["marker"]["color"] == "rgba(0,0,0,0)"  # outline only


def test_single_years_of_a_quarter(served):
    answer = call(logged_in(served, "moi_official"), pyramid("00000", period="2025-Q1", band="1"))
    males = traces(answer)[0]
    by_hand = release(served, "2025-Q1", "00000")
    assert len(males["y"]) == 101 and males["y"][37] == "37"
    assert males["x"][37] == -hand_sum(by_hand, 1, 37, 37)


def test_median_age_is_the_published_indicator_when_granted(served):
    answer = call(logged_in(served, "taipei_user"), pyramid("63000"))
    indicators = pl.read_parquet(served["releases"] / "2025-03" / "indicators.parquet")
    median = indicators.filter(pl.col("area_code") == "63000")["median_age"][0]
    summary = next(r for r in table_rows(answer) if r[0] == "114年3月" and len(r) == 5)
    assert summary[4] == f"{median:,.2f}"
    assert "取自已公布之人口指標表" in text_of(answer)


def test_median_age_is_computed_and_said_so_without_the_indicators_grant(private):
    with db_session(private) as s:
        user = s.scalar(select(User).where(User.username == "taipei_user"))
        for grant in s.scalars(select(Grant).where(Grant.agency_id == user.agency_id)):
            grant.tables = [t for t in grant.tables if t != "indicators"]
        s.commit()
    client = logged_in(private, "taipei_user")
    before = len(audit_actions(private, "taipei_user"))
    answer = call(client, pyramid("63000"))
    assert "依單一年齡人數計算" in text_of(answer)
    by_hand = release(private, "2025-03", "63000").group_by("age").agg(pl.col("population").sum())
    ages = by_hand.sort("age")
    half, below = ages["population"].sum() / 2, 0
    for age, count in ages.iter_rows():  # the contract's rule, step by step
        if below + count >= half:
            median = age + (half - below) / count
            break
        below += count
    summary = next(r for r in table_rows(answer) if r[0] == "114年3月" and len(r) == 5)
    assert summary[4] == f"{median:,.2f}"
    new = audit_actions(private, "taipei_user")[before:]
    assert "access.refused" not in [a for a, _ in new]  # no indicators view was even tried


# --- who gets what -------------------------------------------------------------------------------

@pytest.mark.parametrize(("username", "area"), [
    ("moi_official", "00000"),
    ("moi_official", "64000"),
    ("national_user", "00000"),
    ("national_user", "64000010"),
    ("taipei_user", "63000"),
    ("taipei_user", "63000010"),
])
def test_granted_areas_are_drawn_and_the_view_audited(served, username, area):
    client = logged_in(served, username)
    before = len(audit_actions(served, username))
    answer = call(client, pyramid(area, compare="2025-02"))
    assert answer.status_code == 200 and len(traces(answer)) == 4
    views = [d for a, d in audit_actions(served, username)[before:] if a == "view"]
    by_age = [d for d in views if "population_by_age" in d]
    assert len(by_age) == 1 and area in by_age[0] and "2025-03,2025-02" in by_age[0]


@pytest.mark.parametrize(("username", "area"), [
    ("taipei_user", "64000"),     # another county
    ("taipei_user", "00000"),     # the whole country
    ("taipei_user", "64000010"),  # a township of another county
    ("kaohsiung_user", "64000"),  # own county, but population_by_age is not granted
])
def test_crafted_request_outside_the_grant_is_refused_and_audited(served, username, area):
    client = logged_in(served, username)
    before = len(audit_actions(served, username))
    answer = call(client, pyramid(area))
    assert answer.status_code == 200
    assert '"role": "alert"' in text_of(answer) and "您的授權不包含此地區" in text_of(answer)
    assert f"({area})" in text_of(answer)  # the refused area is named
    assert not components(answer.get_json(), "Graph") and not table_rows(answer)
    new = audit_actions(served, username)[before:]
    refused = [d for a, d in new if a == "access.refused"]
    assert len(refused) == 1 and f"population_by_age@{area}" in refused[0]
    assert "view" not in [a for a, _ in new]


def test_unpublished_period_is_not_shown_and_nothing_is_read(served):
    client = logged_in(served, "moi_official")
    before = len(audit_actions(served, "moi_official"))
    for body in (pyramid("00000", period="2024-12"), pyramid("00000", compare="2024-12"),
                 pyramid("00000", band="3"), pyramid("00000; drop", band="5")):
        answer = call(client, body)
        assert answer.status_code == 200 and not components(answer.get_json(), "Graph")
        assert '"role": "alert"' in text_of(answer)
    assert audit_actions(served, "moi_official")[before:] == []


def test_layout_offers_only_the_granted_areas_and_levels(served):
    tree = page(logged_in(served, "taipei_user"), "/pyramid")
    levels = [o["value"] for o in dropdown(tree, "pyramid-level")["options"]]
    areas = [o["value"] for o in dropdown(tree, "pyramid-area")["options"]]
    assert levels == ["county", "township", "village"] and areas == ["63000"]
    periods = [o["value"] for o in dropdown(tree, "pyramid-period")["options"]]
    assert set(periods) == {"2024-03", "2025-01", "2025-02", "2025-03", "2025-Q1"}
    assert "2024-12" not in periods  # built but not published
    assert not components(tree, "Graph")  # no data in the layout


def test_a_shared_link_preselects_only_what_the_caller_is_offered(served):
    client = logged_in(served, "taipei_user")
    shared = page(client, "/pyramid", search="?area=63000010&period=2025-Q1")
    assert dropdown(shared, "pyramid-level")["value"] == "township"
    assert dropdown(shared, "pyramid-area")["value"] == "63000010"
    assert dropdown(shared, "pyramid-period")["value"] == "2025-Q1"
    foreign = page(client, "/pyramid", search="?area=64000&period=2024-12")
    assert dropdown(foreign, "pyramid-area")["value"] == "63000"
    assert dropdown(foreign, "pyramid-period")["value"] == "2025-03"  # 2024-12 unpublished
    assert "64000" not in text_of_tree(foreign)


def text_of_tree(tree: dict) -> str:
    return json.dumps(tree, ensure_ascii=False)


def test_layout_for_a_user_without_population_by_age_says_so(served):
    tree = page(logged_in(served, "kaohsiung_user"), "/pyramid")
    assert "您的授權不包含人口年齡資料" in text(tree["response"]["_pages_content"]["children"])
    assert not components(tree, "Dropdown")


def test_area_choices_for_a_level_stay_inside_the_grant(served):
    client = logged_in(served, "taipei_user")
    body = payload([("pyramid-area", "options"), ("pyramid-area", "value")],
                   [("pyramid-level", "value", "township"), ("pyramid-period", "value", "2025-03")],
                   [("pyramid-area", "value", "64000")])
    answer = call(client, body).get_json()["response"]
    codes = [o["value"] for o in answer["pyramid-area"]["options"]]
    assert codes and all(c.startswith("63000") and len(c) == 8 for c in codes)
    assert answer["pyramid-area"]["value"] == codes[0]  # the crafted 64000 is not kept
    national = call(client, payload([("pyramid-area", "options"), ("pyramid-area", "value")],
                                    [("pyramid-level", "value", "national"),
                                     ("pyramid-period", "value", "2025-03")],
                                    [("pyramid-area", "value", None)]))
    assert national.get_json()["response"]["pyramid-area"]["options"] == []


# --- languages -----------------------------------------------------------------------------------

def test_the_page_in_both_languages(served):
    client = logged_in(served, "taipei_user")
    chinese = call(client, pyramid("63000", compare="2025-Q1"))
    names = [t["name"] for t in traces(chinese)]
    assert names == ["男 114年3月", "女 114年3月", "男 114年第1季", "女 114年第1季"]
    assert "年齡" in text_of(chinese) and "Age" not in text_of(chinese)
    english(client)
    answer = call(client, pyramid("63000", compare="2025-Q1"))
    assert [t["name"] for t in traces(answer)] == [
        "Male Mar 2025", "Female Mar 2025", "Male 2025 Q1", "Female 2025 Q1"]
    words = text_of(answer)
    assert "Population of Taipei City by sex and age" in words and "男" not in words
    assert table_rows(answer)[0][:2] == ["Period", "Total"]
    layout = page(client, "/pyramid")
    assert dropdown(layout, "pyramid-area")["options"] == [{"label": "Taipei City",
                                                            "value": "63000"}]
    assert "Age groups" in text(layout["response"]["_pages_content"]["children"])


def test_figure_is_labelled_and_loads_nothing_from_elsewhere(served):
    answer = call(logged_in(served, "taipei_user"), pyramid("63000"))
    graph = components(answer.get_json(), "Graph")[0]["props"]
    assert graph["config"]["displaylogo"] is False
    holder = next(d for d in components(answer.get_json(), "Div")
                  if d["props"].get("role") == "img")
    assert "人口金字塔" in holder["props"]["aria-label"]
    words = text_of(answer)
    assert "mapbox" not in words and "http" not in words.replace("http://www.w3.org", "")
