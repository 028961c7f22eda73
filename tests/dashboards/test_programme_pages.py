"""Issue 14's dashboards through crafted callbacks on a served demo holding the §8 tables
(``programme_fixture``): every value shown equals the release files (the heat map's cells the
migration_flows rows, the map's TFR the fertility table, net migration the flows summed by
hand and vital_events' social increase, e0 the life table, the peoples' bars
indigenous_by_tribe), each page shows only what the grant allows (refusals audited), and a
release without the table says so instead of failing."""

from __future__ import annotations

import json

import polars as pl
import pytest

from stats.codes import COUNTY_NAMES
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
from tests.dashboards.programme_fixture import (
    V1_PERIOD,
    grant_agency,
    programme_served,  # noqa: F401 (the fixture)
)

MIGRATION = [("migration-status", "children"), ("migration-output", "children")]
LIFE = [("life-status", "children"), ("life-output", "children")]
TRIBE = [("pyramid-tribe-status", "children"), ("pyramid-tribe-output", "children")]
MAP = [("map-status", "children"), ("map-result", "children")]
TRENDS = [("trends-status", "children"), ("trends-output", "children")]


def table(served: dict, period: str, name: str) -> pl.DataFrame:
    return pl.read_parquet(served["releases"] / period / f"{name}.parquet")


def graphs(answer) -> list[dict]:
    return [g["props"]["figure"] for g in components(answer.get_json(), "Graph")]


def alert_text(answer) -> str:
    tree = answer.get_json()
    alerts = [c for kind in ("P", "Span") for c in components(tree, kind)
              if c["props"].get("role") == "alert"]
    return " ".join(text(a) for a in alerts)


def english(client) -> None:
    answer = client.post("/language", data={"lang": "en", "next": "/",
                                            "csrf_token": cookie(client, "_csrf_token")})
    assert answer.status_code == 303


def migration(period: str, measure: str = "moves") -> dict:
    return payload(MIGRATION, [("migration-period", "value", period),
                               ("migration-measure", "value", measure)])


def life(area: str, year: str = "2024", sex: str = "0") -> dict:
    return payload(LIFE, [("life-area", "value", area), ("life-year", "value", year),
                          ("life-sex", "value", sex)])


def tribe(area: str, period: str, people: str = "all") -> dict:
    return payload(TRIBE, [("pyramid-tribe-area", "value", area),
                           ("pyramid-tribe-period", "value", period),
                           ("pyramid-tribe", "value", people)])


def map_body(measure: str, period: str, root: str = "00000", level: str = "county") -> dict:
    return payload(MAP, [("map-measure", "value", measure), ("map-level", "value", level),
                         ("map-root", "value", root), ("map-period", "value", period)])


def trends(table_name: str, measure: str, areas: list[str], frequency: str = "month") -> dict:
    return payload(TRENDS, [("trends-table", "value", table_name),
                            ("trends-measure", "value", measure),
                            ("trends-frequency", "value", frequency),
                            ("trends-areas", "value", areas), ("trends-start", "value", None),
                            ("trends-end", "value", None)])


def plotted(answer) -> dict[str, float | None]:
    """The map's code → value, as its hover/colour-bar points carry them."""
    (figure,) = graphs(answer)
    (points,) = [t for t in figure["data"] if "customdata" in t]
    return dict(zip(points["customdata"], points["marker"]["color"], strict=True))


# --- migration: the heat map and the list ---------------------------------------------------

def test_each_heat_map_cell_is_the_migration_flows_row(programme):
    client = logged_in(programme, "national_user")
    answer = call(client, migration("2024-12"))
    assert answer.status_code == 200, text_of(answer)
    (heat,) = graphs(answer)
    trace = heat["data"][0]
    flows = table(programme, "2024-12", "migration_flows")
    code = {name: c for c, name in COUNTY_NAMES.items()} | {"戶籍以外": "99999"}
    assert len(trace["y"]) == len(trace["x"]) == 23  # 22 counties and outside the register
    assert trace["y"][-1] == trace["x"][-1] == "戶籍以外"
    by_pair = {(o, d): m for o, d, m in flows.select("area_code", "to_code", "moves").iter_rows()}
    checked = 0
    for origin, cells in zip(trace["y"], trace["z"], strict=True):
        for destination, cell in zip(trace["x"], cells, strict=True):
            if origin == destination:
                assert cell is None  # a move within one county is no flow
            else:
                assert cell == by_pair[(code[origin], code[destination])], (origin, destination)
                checked += 1
    assert checked == 23 * 22 == flows.height  # every row of the table is a cell
    rows = table_rows(answer)
    biggest = flows.sort("moves", descending=True).row(0, named=True)
    first = next(r for r in rows if r[0] == "1")
    assert first[3] == f"{biggest['moves']:,}"


def test_a_county_grant_sees_its_own_row_only_and_is_told_why(programme):
    client = logged_in(programme, "taipei_user")
    before = len(audit_actions(programme, "taipei_user"))
    answer = call(client, migration("2024-12", "moves_female"))
    (heat,) = graphs(answer)
    assert heat["data"][0]["y"] == ["臺北市"]
    flows = table(programme, "2024-12", "migration_flows").filter(pl.col("area_code") == "63000")
    by_destination = dict(zip(flows["to_code"], flows["moves_female"], strict=True))
    row = heat["data"][0]["z"][0]
    assert sum(v for v in row if v is not None) == sum(by_destination.values())
    assert "遷入這些縣市之人數屬其他縣市" in text_of(answer)
    views = [o for a, o in audit_actions(programme, "taipei_user")[before:] if a == "view"]
    assert len(views) == 1 and "table:migration_flows" in views[0] and '["63000"]' in views[0]


# --- the map: TFR and net migration -----------------------------------------------------------

def test_the_maps_tfr_is_the_fertility_table(programme):
    client = logged_in(programme, "national_user")
    answer = call(client, map_body("fertility:total_fertility_rate", "2024"))
    fertility = table(programme, "2024", "fertility").filter(pl.col("area_level") == "county")
    expected = dict(zip(fertility["area_code"], fertility["total_fertility_rate"], strict=True))
    assert plotted(answer) == {c: v for c, v in expected.items() if c in plotted(answer)}
    assert len(plotted(answer)) == len(expected) == 22
    assert "總生育率" in text_of(answer)


def test_net_migration_is_the_flows_in_minus_out_and_the_social_increase(programme):
    client = logged_in(programme, "national_user")
    answer = call(client, map_body("migration_flows:net_migration", "2024-12"))
    flows = table(programme, "2024-12", "migration_flows")
    shown = plotted(answer)
    for county in ("63000", "64000", "65000"):  # by hand: Σ to − Σ from
        moves_in = flows.filter(pl.col("to_code") == county)["moves"].sum()
        moves_out = flows.filter(pl.col("area_code") == county)["moves"].sum()
        assert shown[county] == moves_in - moves_out
    vital = table(programme, "2024-12", "vital_events").filter(pl.col("area_level") == "county")
    assert shown == dict(zip(vital["area_code"], vital["social_increase"], strict=True))


def test_net_migration_needs_every_origin_so_a_county_grant_is_refused_and_audited(programme):
    client = logged_in(programme, "taipei_user")
    before = len(audit_actions(programme, "taipei_user"))
    answer = call(client, map_body("migration_flows:net_migration", "2024-12", root="63000"))
    assert not graphs(answer)
    assert "淨遷徙人數需讀取所有縣市" in text_of(answer)
    assert "access.refused" in [a for a, _ in audit_actions(programme, "taipei_user")[before:]]


def test_tfr_of_a_v1_release_or_a_township_says_why_not(programme):
    client = logged_in(programme, "national_user")
    answer = call(client, map_body("fertility:total_fertility_rate", V1_PERIOD))
    assert "之發布不含「生育率」" in alert_text(answer) and not graphs(answer)
    answer = call(client, map_body("fertility:total_fertility_rate", "2024", "63000",
                                   "township"))
    assert "僅有縣市層級" in alert_text(answer)


# --- trends: TFR, mean age at birth, the foreign-spouse share --------------------------------

def test_trend_lines_of_tfr_equal_the_fertility_table_and_a_v1_month_is_a_gap(programme):
    client = logged_in(programme, "national_user")
    answer = call(client, trends("fertility", "total_fertility_rate", ["00000", "63000"]))
    (figure,) = graphs(answer)
    lines = {t["name"]: t["y"] for t in figure["data"]}
    fertility = table(programme, "2024-12", "fertility")
    for name, code in (("全國", "00000"), ("臺北市", "63000")):
        expected = fertility.filter(pl.col("area_code") == code)["total_fertility_rate"][0]
        assert lines[name] == [expected, None]  # 2024-12 (v2) and 2025-01 (v1: no table)
    year = call(client, trends("fertility", "mean_age_at_birth", ["00000"], "year"))
    (figure,) = graphs(year)
    assert figure["data"][0]["y"] == table(programme, "2024", "fertility").filter(
        pl.col("area_code") == "00000")["mean_age_at_birth"].to_list()


def test_the_foreign_spouse_share_by_hand(programme):
    client = logged_in(programme, "national_user")
    answer = call(client, trends("marriages_by_nationality", "foreign_spouse_share", ["00000"],
                                 "year"))
    (figure,) = graphs(answer)
    rows = table(programme, "2024", "marriages_by_nationality").filter(
        pl.col("area_code") == "00000")
    known = rows.filter(pl.col("nationality") != 0)["persons"].sum()
    foreign = rows.filter(~pl.col("nationality").is_in([0, 1]))["persons"].sum()
    assert known > 0
    assert figure["data"][0]["y"] == [pytest.approx(foreign * 100 / known)]
    assert "外籍與大陸港澳配偶占結婚人數比率" in text_of(answer)


def test_only_a_v1_period_chosen_says_the_release_lacks_the_table(programme):
    client = logged_in(programme, "national_user")
    body = trends("fertility", "total_fertility_rate", ["00000"])
    body["inputs"][4]["value"] = V1_PERIOD
    answer = call(client, body)
    assert "之發布不含「生育率」" in alert_text(answer) and not graphs(answer)


# --- life expectancy --------------------------------------------------------------------------

def test_life_expectancy_equals_the_life_table(programme):
    client = logged_in(programme, "national_user")
    answer = call(client, life("00000", sex="2"))
    assert answer.status_code == 200, text_of(answer)
    e0, e65, counties = graphs(answer)
    lifetable = table(programme, "2024", "life_table")
    national = lifetable.filter(pl.col("area_code") == "00000")

    def ex(sex: int, age: int, frame: pl.DataFrame = national) -> float:
        return frame.filter(pl.col("sex") == sex, pl.col("age_group") == age)["ex"][0]

    assert {t["name"]: t["y"] for t in e0["data"]} == {"女": [ex(2, 0)], "男": [ex(1, 0)],
                                                       "兩性": [ex(0, 0)]}
    assert {t["name"]: t["y"] for t in e65["data"]}["女"] == [ex(2, 65)]
    taipei = lifetable.filter(pl.col("area_code") == "63000")
    dots = {t["name"]: dict(zip(t["y"], t["x"], strict=True)) for t in counties["data"]}
    assert dots["男"]["臺北市"] == ex(1, 0, taipei)
    rows = table_rows(answer)
    women_0 = next(r for r in rows if r[0] == "0歲" and len(r) == 6)
    assert women_0[-1] == f"{ex(2, 0):,.2f}"
    assert women_0[3] == "100,000"  # l0


def test_life_page_in_english_and_for_a_county_grant(programme):
    client = logged_in(programme, "taipei_user")
    english(client)
    layout = page(client, "/life")
    assert [o["value"] for o in dropdown(layout, "life-area")["options"]] == ["63000"]
    answer = call(client, life("63000"))
    e0 = graphs(answer)[0]
    assert {t["name"] for t in e0["data"]} == {"Male", "Female", "Both sexes"}
    assert len(graphs(answer)) == 2  # one county: no comparison of counties
    assert "Abridged life table, Taipei City" in text_of(answer)
    before = len(audit_actions(programme, "taipei_user"))
    refused = call(client, life("00000"))
    assert "does not cover the life table" in alert_text(refused) and not graphs(refused)
    assert [a for a, _ in audit_actions(programme, "taipei_user")[before:]] == ["access.refused"]


# --- the indigenous peoples' pyramid ---------------------------------------------------------

def test_every_people_of_an_area_and_one_people_across_counties(programme):
    client = logged_in(programme, "national_user")
    tribes = table(programme, "2024-12", "indigenous_by_tribe")
    answer = call(client, tribe("00000", "2024-12"))
    (bars,) = graphs(answer)
    national = tribes.filter(pl.col("area_code") == "00000").sort("tribe")
    male, female = bars["data"]
    assert male["y"][0] == "阿美族" and female["x"] == national["female"].to_list()
    assert male["x"] == [-v for v in national["male"].to_list()]
    amis = call(client, tribe("00000", "2024-12", "1"))
    (bars,) = graphs(amis)
    male, female = bars["data"]
    assert male["y"][0] == "全國" and len(male["y"]) == 23
    counties = tribes.filter(pl.col("area_level") == "county", pl.col("tribe") == 1)
    assert sum(female["x"][1:]) == female["x"][0] == counties["female"].sum()  # counties sum up
    assert female["x"][0] == national.filter(pl.col("tribe") == 1)["female"][0]


def test_peoples_in_english_and_a_v1_release_says_it_has_no_peoples(programme):
    client = logged_in(programme, "national_user")
    english(client)
    answer = call(client, tribe("00000", "2024-12"))
    assert graphs(answer)[0]["data"][0]["y"][:2] == ["Amis", "Atayal"]
    v1 = call(client, tribe("00000", V1_PERIOD))
    assert "does not hold “Indigenous population by people (tribe)”" in alert_text(v1)


# --- grants: only what is granted --------------------------------------------------------

def test_an_agency_granted_fertility_of_one_county_sees_only_that(programme):
    grant_agency(programme, "fertility_64000", ("fertility",), ("64000",))
    client = logged_in(programme, "fertility_64000")
    trends_page = page(client, "/trends")
    assert [o["value"] for o in dropdown(trends_page, "trends-table")["options"]] == ["fertility"]
    assert [o["value"] for o in dropdown(trends_page, "trends-areas")["options"]] == ["64000"]
    assert [o["value"] for o in dropdown(page(client, "/map"), "map-measure")["options"]] \
        == ["fertility:total_fertility_rate"]
    for path in ("/migration", "/life"):  # told, not an error
        assert "您的授權不包含" in json.dumps(page(client, path), ensure_ascii=False)
    assert "您的授權不包含原住民族別人口資料" in json.dumps(page(client, "/pyramid"),
                                                         ensure_ascii=False)
    before = len(audit_actions(programme, "fertility_64000"))
    refused = call(client, trends("fertility", "total_fertility_rate", ["63000"]))
    assert "臺北市" in alert_text(refused) and not graphs(refused)
    assert call(client, migration("2024-12")).status_code == 200
    actions = [a for a, _ in audit_actions(programme, "fertility_64000")[before:]]
    assert actions == ["access.refused"]  # the migration page read nothing at all
    shown = call(client, map_body("fertility:total_fertility_rate", "2024", root="64000"))
    assert list(plotted(shown)) == ["64000"]


def test_an_agency_granted_flows_of_two_counties_sees_two_rows(programme):
    grant_agency(programme, "flows_two", ("migration_flows", "life_table"),
                 ("63000", "64000"))
    client = logged_in(programme, "flows_two")
    (heat,) = graphs(call(client, migration("2024-Q4")))
    assert heat["data"][0]["y"] == ["臺北市", "高雄市"]
    quarter = table(programme, "2024-Q4", "migration_flows")
    expected = quarter.filter(pl.col("area_code") == "64000", pl.col("to_code") == "63000")
    column = heat["data"][0]["x"].index("臺北市")
    assert heat["data"][0]["z"][1][column] == expected["moves"][0]
    answer = call(client, life("64000"))
    names = {name for t in graphs(answer)[2]["data"] for name in t["y"]}
    assert names == {"臺北市", "高雄市"}  # the counties compared are the granted ones
