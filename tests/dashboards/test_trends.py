"""The Trends page through crafted callbacks: each line equals the release files, a quarter
equals its months, one audited ``view`` per request, a refused area refuses the whole
request (audited), and the period labels in both languages."""

from __future__ import annotations

import polars as pl
import pytest

from tests.dashboards.client import (
    audit_actions,
    call,
    components,
    cookie,
    dropdown,
    logged_in,
    page,
    payload,
    table_rows,
    text,
    text_of,
)

OUTPUTS = [("trends-status", "children"), ("trends-output", "children")]
MONTHS = ["2024-03", "2025-01", "2025-02", "2025-03"]


def trends(table: str, measure: str, areas: list[str], frequency: str = "month",
           start: str | None = None, end: str | None = None) -> dict:
    return payload(OUTPUTS, [("trends-table", "value", table), ("trends-measure", "value", measure),
                             ("trends-frequency", "value", frequency),
                             ("trends-areas", "value", areas), ("trends-start", "value", start),
                             ("trends-end", "value", end)])


def lines(answer) -> dict[str, dict]:
    """The figure's traces by name."""
    graphs = components(answer.get_json(), "Graph")
    assert len(graphs) == 1
    return {t["name"]: t for t in graphs[0]["props"]["figure"]["data"]}


def released(served: dict, table: str, period: str, area: str, column: str) -> float | int:
    frame = pl.read_parquet(served["releases"] / period / f"{table}.parquet")
    return frame.filter(pl.col("area_code") == area)[column].sum()


def new_audit(served: dict, username: str, before: int) -> list[tuple[str, str]]:
    return audit_actions(served, username)[before:]


# --- values against the release files --------------------------------------------------------

def test_each_line_equals_the_release_files_month_by_month(served):
    client = logged_in(served, "taipei_user")
    answer = call(client, trends("vital_events", "births", ["63000", "63000010"]))
    assert answer.status_code == 200
    found = lines(answer)
    assert list(found) == ["臺北市", "臺北市松山區"]
    for name, area in zip(found, ["63000", "63000010"], strict=True):
        assert found[name]["x"] == ["113年3月", "114年1月", "114年2月", "114年3月"]
        assert found[name]["y"] == [released(served, "vital_events", p, area, "births")
                                    for p in MONTHS]
    rows = table_rows(answer)
    assert rows[0] == ["統計期", "臺北市", "臺北市松山區"]
    march = released(served, "vital_events", "2025-03", "63000", "births")
    assert rows[-1][:2] == ["114年3月", f"{march:,}"]


def test_a_quarters_births_equal_its_three_months(served):
    client = logged_in(served, "national_user")
    quarter = lines(call(client, trends("vital_events", "births", ["00000", "64000"], "quarter")))
    months = lines(call(client, trends("vital_events", "births", ["00000", "64000"],
                                       start="2025-01", end="2025-03")))
    for name in quarter:
        assert quarter[name]["x"] == ["114年第1季"]
        assert quarter[name]["y"][0] == sum(months[name]["y"])
    by_hand = sum(released(served, "vital_events", p, "64000", "births")
                  for p in ("2025-01", "2025-02", "2025-03"))
    assert quarter["高雄市"]["y"] == [by_hand]
    assert by_hand == released(served, "vital_events", "2025-Q1", "64000", "births")


def test_a_ratio_measure_keeps_its_decimals(served):
    client = logged_in(served, "taipei_user")
    answer = call(client, trends("indicators", "median_age", ["63000"]))
    expected = [released(served, "indicators", p, "63000", "median_age") for p in MONTHS]
    assert lines(answer)["臺北市"]["y"] == pytest.approx(expected)
    assert table_rows(answer)[-1] == ["114年3月", f"{expected[-1]:,.2f}"]


def test_indigenous_population_sums_lowland_and_highland(served):
    client = logged_in(served, "moi_official")
    answer = call(client, trends("indigenous_population", "population", ["00000"]))
    expected = [released(served, "indigenous_population", p, "00000", "population")
                for p in MONTHS]  # both rows (indigenous 1 and 2) of each period
    assert lines(answer)["全國"]["y"] == expected
    assert "平地及山地原住民合計" in text_of(answer)


def test_date_range_limits_the_periods(served):
    client = logged_in(served, "taipei_user")
    answer = call(client, trends("population", "population", ["63000"], start="2025-01",
                                 end="2025-02"))
    assert lines(answer)["臺北市"]["x"] == ["114年1月", "114年2月"]
    empty = call(client, trends("population", "population", ["63000"], start="2025-03",
                                end="2025-01"))
    assert not components(empty.get_json(), "Graph") and '"role": "alert"' in text_of(empty)
    # a start after the end is said to be so (not "nothing published")
    assert "起始期間（114年3月）在結束期間（114年1月）之後" in text_of(empty)


# --- grants and the audit log -------------------------------------------------------------------

def test_one_audited_view_per_request_with_every_area_and_period(served):
    client = logged_in(served, "national_user")
    before = len(audit_actions(served, "national_user"))
    call(client, trends("population", "households", ["00000", "63000", "64000"]))
    new = new_audit(served, "national_user", before)
    assert [a for a, _ in new] == ["view"]
    assert all(code in new[0][1] for code in ["00000", "63000", "64000"])
    assert ",".join(MONTHS) in new[0][1] and "table:population" in new[0][1]


def test_kaohsiung_gets_vital_events_but_is_refused_population(served):
    client = logged_in(served, "kaohsiung_user")
    before = len(audit_actions(served, "kaohsiung_user"))
    granted = call(client, trends("vital_events", "deaths", ["64000"]))
    assert lines(granted)["高雄市"]["y"] == [
        released(served, "vital_events", p, "64000", "deaths") for p in MONTHS]
    refused = call(client, trends("population", "population", ["64000"]))
    words = text_of(refused)
    assert '"role": "alert"' in words and "高雄市 (64000)" in words and "現住人口數及戶數" in words
    assert not components(refused.get_json(), "Graph") and not table_rows(refused)
    new = new_audit(served, "kaohsiung_user", before)
    assert [a for a, _ in new] == ["view", "access.refused"]
    assert "population@64000" in new[1][1]


def test_taipei_crafting_kaohsiung_into_the_request_gets_nothing(served):
    client = logged_in(served, "taipei_user")
    before = len(audit_actions(served, "taipei_user"))
    answer = call(client, trends("vital_events", "births", ["63000", "64000"]))
    words = text_of(answer)
    assert answer.status_code == 200 and '"role": "alert"' in words
    assert "高雄市 (64000)" in words and "臺北市" not in words  # only the refused area named
    assert not components(answer.get_json(), "Graph") and not table_rows(answer)
    new = new_audit(served, "taipei_user", before)
    assert [a for a, _ in new] == ["access.refused"]
    assert "vital_events@64000" in new[0][1] and "vital_events@63000" not in new[0][1]


@pytest.mark.parametrize(("username", "table", "area"), [
    ("taipei_user", "indicators", "00000"),
    ("taipei_user", "reconciliation", "64000010"),
    ("kaohsiung_user", "indicators", "64000"),
    ("kaohsiung_user", "vital_events", "63000"),
])
def test_other_crafted_requests_are_refused_and_audited(served, username, table, area):
    client = logged_in(served, username)
    before = len(audit_actions(served, username))
    measure = {"indicators": "sex_ratio", "reconciliation": "residual",
               "vital_events": "births"}[table]
    answer = call(client, trends(table, measure, [area]))
    assert not components(answer.get_json(), "Graph") and f"({area})" in text_of(answer)
    new = new_audit(served, username, before)
    assert [a for a, _ in new] == ["access.refused"] and f"{table}@{area}" in new[0][1]


@pytest.mark.parametrize("body", [
    trends("population_by_age", "population", ["63000"]),  # not a trends table
    trends("population", "area_code", ["63000"]),          # not a measure
    trends("vital_events", "population", ["63000"]),       # a measure of another table
    trends("population", "population", ["63000"], frequency="week"),
    trends("population", "population", []),
    trends("population", "population", ["63000' or 1=1"]),
    trends("population", "population", ["63000"] * 1 + [f"63000{n:03d}" for n in range(1, 13)]),
])
def test_malformed_requests_are_answered_without_reading(served, body):
    client = logged_in(served, "taipei_user")
    before = len(audit_actions(served, "taipei_user"))
    answer = call(client, body)
    assert answer.status_code == 200 and '"role": "alert"' in text_of(answer)
    assert not components(answer.get_json(), "Graph")
    assert new_audit(served, "taipei_user", before) == []


def test_layout_offers_only_granted_tables_and_areas(served):
    kaohsiung = page(logged_in(served, "kaohsiung_user"), "/trends")
    assert [o["value"] for o in dropdown(kaohsiung, "trends-table")["options"]] == ["vital_events"]
    assert [o["value"] for o in dropdown(kaohsiung, "trends-areas")["options"]] == ["64000"]
    taipei = page(logged_in(served, "taipei_user"), "/trends")
    tables = [o["value"] for o in dropdown(taipei, "trends-table")["options"]]
    v2 = [n for n in ("fertility", "marriages_by_nationality")  # offered once a release has it
          if (served["releases"] / "2025-03" / f"{n}.parquet").exists()]
    assert tables == ["population", "vital_events", "indicators", "indigenous_population",
                      "reconciliation", *v2]
    assert dropdown(taipei, "trends-areas")["multi"] is True
    assert not components(taipei, "Graph")


def test_a_shared_link_preselects_only_what_the_caller_is_offered(served):
    client = logged_in(served, "taipei_user")
    shared = page(client, "/trends", "?table=indicators&measure=sex_ratio&frequency=quarter"
                                     "&areas=63000010,64000010,63000020")
    assert dropdown(shared, "trends-table")["value"] == "indicators"
    assert dropdown(shared, "trends-measure")["value"] == "sex_ratio"
    assert dropdown(shared, "trends-level")["value"] == "township"
    assert dropdown(shared, "trends-areas")["value"] == ["63000010", "63000020"]
    assert [o["value"] for o in dropdown(shared, "trends-start")["options"]] == ["2025-Q1"]
    kaohsiung = page(logged_in(served, "kaohsiung_user"), "/trends",
                     "?table=population&areas=63000")
    assert dropdown(kaohsiung, "trends-table")["value"] == "vital_events"
    assert dropdown(kaohsiung, "trends-areas")["value"] == ["64000"]


def test_area_choices_follow_the_grant_of_the_chosen_table(served):
    client = logged_in(served, "kaohsiung_user")
    outputs = [("trends-level", "options"), ("trends-level", "value"),
               ("trends-areas", "options"), ("trends-areas", "value")]

    def choices(table: str, level: str, chosen: list[str]) -> dict:
        body = payload(outputs, [("trends-table", "value", table),
                                 ("trends-level", "value", level)],
                       [("trends-areas", "value", chosen)])
        return call(client, body).get_json()["response"]

    granted = choices("vital_events", "township", ["64000", "63000"])
    codes = [o["value"] for o in granted["trends-areas"]["options"]]
    assert codes and all(c.startswith("64000") and len(c) == 8 for c in codes)
    assert granted["trends-areas"]["value"] == [codes[0]]  # neither crafted choice is kept
    ungranted = choices("population", "county", ["64000"])
    assert ungranted["trends-level"]["options"] == [] and ungranted["trends-areas"] == {
        "options": [], "value": []}


def test_measures_are_labelled_from_the_catalogue_in_both_languages(served):
    client = logged_in(served, "taipei_user")
    body = payload([("trends-measure", "options"), ("trends-measure", "value")],
                   [("trends-table", "value", "reconciliation")],
                   [("trends-measure", "value", "births")])
    chinese = call(client, body).get_json()["response"]["trends-measure"]
    assert {"label": "差額", "value": "residual"} in chinese["options"]
    assert chinese["value"] == "births"  # reconciliation has births too: kept
    client.post("/language", data={"lang": "en", "next": "/trends",
                                   "csrf_token": cookie(client, "_csrf_token")})
    english = call(client, body).get_json()["response"]["trends-measure"]
    assert {"label": "Residual", "value": "residual"} in english["options"]


# --- languages -----------------------------------------------------------------------------------

def test_period_labels_in_both_languages(served):
    client = logged_in(served, "taipei_user")
    body = trends("vital_events", "births", ["63000"])
    assert lines(call(client, body))["臺北市"]["x"][-1] == "114年3月"
    client.post("/language", data={"lang": "en", "next": "/trends",
                                   "csrf_token": cookie(client, "_csrf_token")})
    answer = call(client, body)
    line = lines(answer)["Taipei City"]
    assert line["x"] == ["Mar 2024", "Jan 2025", "Feb 2025", "Mar 2025"]
    assert table_rows(answer)[0] == ["Period", "Taipei City"]
    assert "Births" in text_of(answer) and "出生" not in text_of(answer)
    quarter = lines(call(client, trends("vital_events", "births", ["63000"], "quarter")))
    assert quarter["Taipei City"]["x"] == ["2025 Q1"]
    layout = page(client, "/trends")
    assert "Frequency" in text(layout["response"]["_pages_content"]["children"])


def test_anonymous_callers_get_nothing(served):
    anonymous = served["app"].test_client()
    answer = call(anonymous, trends("vital_events", "births", ["00000"]), csrf=False)
    assert answer.status_code == 401 and b"births" not in answer.data


def test_figure_has_a_text_alternative_and_no_plotly_logo(served):
    answer = call(logged_in(served, "taipei_user"), trends("vital_events", "births", ["63000"]))
    graph = components(answer.get_json(), "Graph")[0]["props"]
    assert graph["config"]["displaylogo"] is False
    holder = next(d for d in components(answer.get_json(), "Div")
                  if d["props"].get("role") == "img")
    assert "折線圖" in holder["props"]["aria-label"] and "臺北市" in holder["props"]["aria-label"]
    assert components(answer.get_json(), "Caption")
