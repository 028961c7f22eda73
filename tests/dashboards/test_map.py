"""The Map page through crafted callbacks: the shipped boundaries drawn by default, the
county tile map when the configured boundary files lack counties, the real boundaries of a
release built on the official codes served with the shared files, what each
role gets, refusals (audited), both languages, and the values in the figure and the table
checked against the release files."""

from __future__ import annotations

import json
import math

import plotly.graph_objects as go
import polars as pl
import pytest
from click.testing import CliRunner

from dashboards import geo
from dashboards.app import ServerSettings, create_app
from popstats.cli import main
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
from tests.helpers import SHARED

OUTPUTS = [("map-status", "children"), ("map-result", "children")]
COUNTY_CODES = sorted(geo.COUNTY_TILES)


def map_body(measure: str = "population:population", level: str = "county",
             root: str = "00000", period: str = "2025-03") -> dict:
    return payload(OUTPUTS, [("map-measure", "value", measure), ("map-level", "value", level),
                             ("map-root", "value", root), ("map-period", "value", period)])


def figure(answer) -> dict:
    graphs = components(answer.get_json(), "Graph")
    assert len(graphs) == 1, text_of(answer)[:400]
    return graphs[0]["props"]["figure"]


def plotted(answer) -> dict[str, float | None]:
    """Code → value as the figure carries them (the hover/colour-bar points)."""
    (points,) = [t for t in figure(answer)["data"] if "customdata" in t]
    colours = points["marker"]["color"] if isinstance(points["marker"].get("color"), list) \
        else [None] * len(points["customdata"])
    return dict(zip(points["customdata"], colours, strict=True))


def released(releases, table: str, column: str, level: str, root: str = "00000",
             period: str = "2025-03") -> dict[str, float | None]:
    frame = pl.read_parquet(releases / period / f"{table}.parquet").filter(
        pl.col("area_level") == level,
        pl.col("area_code").str.starts_with("" if root == "00000" else root))
    return dict(zip(frame["area_code"].to_list(), frame[column].to_list(), strict=True))


def tiles(answer) -> dict[str, str]:
    """Tile code → fill colour."""
    return {s["name"]: s["fillcolor"] for s in figure(answer)["layout"]["shapes"]}


def english(client) -> None:
    answer = client.post("/language", data={"lang": "en", "next": "/map",
                                            "csrf_token": cookie(client, "_csrf_token")})
    assert answer.status_code == 303


def new_audit(served: dict, username: str, before: int) -> list[tuple[str, str]]:
    return audit_actions(served, username)[before:]


# --- the tile map (configured boundary files without counties) ----------------------------

@pytest.fixture(scope="module")
def tiled(served: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The shared demo served with ``--boundaries`` naming an empty folder: the user's files
    replace the shipped ones and hold no level, so counties are tiles."""
    root = tmp_path_factory.mktemp("tiled")
    (root / "boundaries").mkdir()
    settings = ServerSettings(releases=served["releases"], db_url=served["db"],
                              outbox=root / "outbox", boundaries=root / "boundaries")
    return {**served, "app": create_app(settings)}


def test_tile_map_has_22_tiles_at_distinct_positions_and_the_release_values(tiled):
    answer = call(logged_in(tiled, "national_user"), map_body())
    shapes = figure(answer)["layout"]["shapes"]
    assert len(shapes) == 22 and sorted(s["name"] for s in shapes) == COUNTY_CODES
    assert len({(s["x0"], s["y0"]) for s in shapes}) == 22
    assert geo.OUTSIDE not in tiles(answer).values()  # a national grant colours all 22
    expected = released(tiled["releases"], "population", "population", "county")
    assert plotted(answer) == expected
    # the table beside the map: code, name, value as printed
    rows = {r[0]: r[1:] for r in table_rows(answer)[1:]}
    assert rows["63000"] == ["臺北市", f"{expected['63000']:,}"]
    assert sorted(rows) == COUNTY_CODES


def test_tile_labels_carry_name_and_value(tiled):
    answer = call(logged_in(tiled, "national_user"), map_body("vital_events:births"))
    births = released(tiled["releases"], "vital_events", "births", "county")
    (labels,) = [t for t in figure(answer)["data"] if t.get("mode") == "text"]
    assert f"高雄市<br>{births['64000']:,}" in labels["text"]
    assert len(labels["text"]) == 22


def test_taipei_user_sees_only_taipei_coloured(tiled):
    client = logged_in(tiled, "taipei_user")
    before = len(audit_actions(tiled, "taipei_user"))
    answer = call(client, map_body(root="63000"))
    fills = tiles(answer)
    assert [code for code, fill in fills.items() if fill != geo.OUTSIDE] == ["63000"]
    assert plotted(answer) == {"63000": released(
        tiled["releases"], "population", "population", "county")["63000"]}
    (labels,) = [t for t in figure(answer)["data"] if t.get("mode") == "text"]
    assert len(labels["text"]) == 1 and labels["text"][0].startswith("臺北市<br>")
    assert [r[0] for r in table_rows(answer)[1:]] == ["63000"]
    views = [d for a, d in new_audit(tiled, "taipei_user", before) if a == "view"]
    assert len(views) == 1 and '"areas": ["63000"]' in views[0] and "population" in views[0]


@pytest.mark.parametrize(("username", "measure", "root", "refused"), [
    ("taipei_user", "population:population", "64000", "population@64000"),   # other county
    ("taipei_user", "indicators:sex_ratio", "00000", "indicators@"),          # whole country
    ("kaohsiung_user", "population:population", "64000", "population@64000"),  # table
    ("kaohsiung_official", "vital_events:births", "63000", "vital_events@63000"),
])
def test_crafted_request_outside_the_grant_is_refused_and_audited(served, username, measure,
                                                                  root, refused):
    client = logged_in(served, username)
    before = len(audit_actions(served, username))
    answer = call(client, map_body(measure, root=root))
    assert answer.status_code == 200
    words = text_of(answer)
    assert '"role": "alert"' in words and "您的授權不包含此地區或資料表" in words
    assert not components(answer.get_json(), "Graph") and not table_rows(answer)
    new = new_audit(served, username, before)
    denied = [d for a, d in new if a == "access.refused"]
    assert len(denied) == 1 and refused in denied[0]
    assert "view" not in [a for a, _ in new]


def test_kaohsiung_user_maps_vital_events_of_kaohsiung(tiled):
    client = logged_in(tiled, "kaohsiung_user")
    answer = call(client, map_body("vital_events:deaths", root="64000"))
    assert plotted(answer) == {"64000": released(
        tiled["releases"], "vital_events", "deaths", "county")["64000"]}
    assert [c for c, f in tiles(answer).items() if f != geo.OUTSIDE] == ["64000"]


def test_indicator_values_are_the_release_floats_and_printed_to_two_decimals(served):
    answer = call(logged_in(served, "moi_official"), map_body("indicators:aging_index",
                                                              period="2025-Q1"))
    expected = released(served["releases"], "indicators", "aging_index", "county",
                        period="2025-Q1")
    assert plotted(answer) == expected  # exact floats, not rounded
    rows = {r[0]: r[2] for r in table_rows(answer)[1:]}
    assert rows["65000"] == f"{expected['65000']:,.2f}"


def test_a_second_period_kind_and_a_quarter_label(served):
    answer = call(logged_in(served, "national_user"), map_body(period="2025-Q1"))
    assert "114年第1季 (2025-Q1)" in text_of(answer)
    assert plotted(answer) == released(served["releases"], "population", "population",
                                       "county", period="2025-Q1")


def test_invalid_or_unpublished_requests_read_nothing(served):
    client = logged_in(served, "moi_official")
    before = len(audit_actions(served, "moi_official"))
    for body in (map_body(period="2024-12"),                     # built, not published
                 map_body(measure="population_by_age:population"),  # not a map table
                 map_body(measure="population:period"),
                 map_body(level="national"),
                 map_body(root="99999"),                         # no such area
                 map_body(root=None)):
        answer = call(client, body)
        assert answer.status_code == 200 and not components(answer.get_json(), "Graph")
        assert '"role": "alert"' in text_of(answer)
    assert new_audit(served, "moi_official", before) == []


def test_without_boundaries_township_and_village_maps_are_not_drawn(tiled):
    client = logged_in(tiled, "moi_official")
    before = len(audit_actions(tiled, "moi_official"))
    for level in ("township", "village"):
        answer = call(client, map_body(level=level, root="63000"))
        assert "需要邊界檔" in text_of(answer) and not components(answer.get_json(), "Graph")
    assert new_audit(tiled, "moi_official", before) == []


def test_layout_offers_the_granted_measures_areas_and_only_the_county_level(tiled):
    tree = page(logged_in(tiled, "taipei_user"), "/map")
    for control in ("map-measure", "map-level", "map-root", "map-period"):
        labels = [c for c in components(tree, "Label") if c["props"].get("htmlFor") == control]
        assert len(labels) == 1, control
    assert [o["value"] for o in dropdown(tree, "map-root")["options"]] == ["63000"]
    levels = {o["value"]: o["disabled"] for o in dropdown(tree, "map-level")["options"]}
    assert levels == {"county": False, "township": True, "village": True}
    assert "需要邊界檔" in text(tree["response"]["_pages_content"]["children"])
    periods = [o["value"] for o in dropdown(tree, "map-period")["options"]]
    assert periods[0] == "2025-Q1" and "2024-12" not in periods
    measures = [o["value"] for o in dropdown(tree, "map-measure")["options"]]
    # population, vital events, indicators; TFR and net migration (issue 14: a release
    # without the table says so when chosen)
    assert len(measures) == 4 + 18 + 15 + 2 and dropdown(tree, "map-measure")["value"] == \
        "population:population"
    assert not components(tree, "Graph")  # no data in the layout

    kaohsiung = page(logged_in(tiled, "kaohsiung_user"), "/map")
    offered = [o["value"] for o in dropdown(kaohsiung, "map-measure")["options"]]
    assert offered and all(m.startswith("vital_events:") for m in offered)
    assert [o["value"] for o in dropdown(kaohsiung, "map-root")["options"]] == ["64000"]

    national = page(logged_in(tiled, "national_user"), "/map")
    roots = [o["value"] for o in dropdown(national, "map-root")["options"]]
    assert roots == ["00000", *COUNTY_CODES]


def test_the_page_in_both_languages(tiled):
    client = logged_in(tiled, "taipei_user")
    chinese = call(client, map_body(root="63000"))
    words = text_of(chinese)
    assert "人口數" in words and "114年3月" in words and "臺北市<br>" in words
    assert "Population" not in words
    english(client)
    answer = call(client, map_body(root="63000"))
    words = text_of(answer)
    assert "Taipei City<br>" in words and "Mar 2025" in words and "Population" in words
    assert "臺北市" not in words and "人口數" not in words
    assert table_rows(answer)[0] == ["Area code", "Name", "Population (persons)"]
    layout = page(client, "/map")
    assert dropdown(layout, "map-root")["options"] == [{"label": "Taipei City",
                                                        "value": "63000"}]
    assert "Within" in text(layout["response"]["_pages_content"]["children"])


def test_figure_is_described_and_loads_nothing_from_elsewhere(served):
    answer = call(logged_in(served, "taipei_user"), map_body(root="63000"))
    holder = next(d for d in components(answer.get_json(), "Div")
                  if d["props"].get("role") == "img")
    assert "地圖" in holder["props"]["aria-label"] and "表格" in holder["props"]["aria-label"]
    assert components(answer.get_json(), "Caption")
    kinds = {t["type"] for t in figure(answer)["data"]}
    assert kinds == {"scatter"}  # no geo/mapbox subplot: nothing fetched from a CDN
    go.Figure(figure(answer))  # plotly's own validation: a well-formed figure
    words = text_of(answer)
    assert "mapbox" not in words and "http" not in words.replace("http://www.w3.org", "")


def test_anonymous_callback_is_refused(served):
    client = served["app"].test_client()
    assert call(client, map_body(), csrf=False).status_code == 401


# --- real boundaries: a release built on the official codes ----------------------------

def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """2025-03 built with the official village codes, served with the shared boundaries."""
    root = tmp_path_factory.mktemp("map")
    codes, releases = str(SHARED / "codes" / "villages.csv"), root / "releases"
    db = f"sqlite:///{root / 'access.db'}"
    _run("sample", "--out", str(root / "x"), "--scale", "0.001", "--start", "2025-03",
         "--months", "1", "--codes", codes)
    _run("build", "--input", str(root / "x"), "--period", "2025-03", "--out", str(releases),
         "--codes", codes)
    _run("publish", "--releases", str(releases), "--period", "2025-03", "--by", "stat")
    accounts = {a["username"]: a for a in json.loads(_run("demo-accounts", "--db", db, "--json"))}
    settings = ServerSettings(releases=releases, db_url=db, outbox=root / "outbox",
                              boundaries=SHARED / "boundaries")
    return {"app": create_app(settings), "accounts": accounts, "db": db, "root": root,
            "releases": releases}


def fills_by_code(answer) -> dict[str, str]:
    """Code → fill colour, from the filled polygon traces and the boundary rings they hold."""
    data = figure(answer)["data"]
    return {code: trace["fillcolor"] for trace in data if trace.get("fill") == "toself"
            for code in trace["meta"]}


def test_boundary_map_of_taipei_townships_holds_exactly_taipei(bounded):
    client = logged_in(bounded, "taipei_user")
    answer = call(client, map_body(level="township", root="63000"))
    expected = released(bounded["releases"], "population", "population", "township", "63000")
    assert len(expected) == 12 and plotted(answer) == expected
    fills = fills_by_code(answer)
    assert sorted(fills) == sorted(expected) and geo.OUTSIDE not in fills.values()
    xs = [x for t in figure(answer)["data"] if t.get("fill") == "toself" for x in t["x"]
          if x is not None]
    assert min(xs) > 121.4 and max(xs) < 121.7  # Taipei's longitudes only
    go.Figure(figure(answer))  # plotly's own validation: a well-formed figure
    assert "每個邊界都有對應資料" in text_of(answer)


def test_boundary_map_of_counties_colours_only_the_granted_one(bounded):
    answer = call(logged_in(bounded, "taipei_user"), map_body(root="63000"))
    fills = fills_by_code(answer)
    assert sorted(fills) == COUNTY_CODES  # the other 21 are drawn …
    assert [c for c, f in fills.items() if f != geo.OUTSIDE] == ["63000"]  # … grey
    assert list(plotted(answer)) == ["63000"]


def test_village_map_reports_codes_without_a_boundary_and_boundaries_without_data(bounded):
    """Kaohsiung: the boundary file (~2021) and the 2026 code table differ in a few villages;
    the note counts them as the two files do."""
    answer = call(logged_in(bounded, "kaohsiung_user"),
                  map_body("vital_events:births", level="village", root="64000"))
    topology = json.loads((SHARED / "boundaries" / "villages-10t.json").read_text("utf-8"))
    drawn = {g["properties"]["VILLCODE"] for g in topology["objects"]["villages"]["geometries"]
             if g["properties"]["VILLCODE"].startswith("64000")}
    rows = set(released(bounded["releases"], "vital_events", "births", "village", "64000"))
    official = pl.read_csv(SHARED / "codes" / "villages.csv", infer_schema=False).filter(
        pl.col("county_code") == "64000", pl.col("in_boundary_file") == "N")
    assert len(rows - drawn) == official.height  # the code table says the same
    words = text_of(answer)
    assert f"{len(drawn - rows)} 個邊界無對應資料，{len(rows - drawn)} 筆資料無對應邊界" in words
    assert all(code in words for code in rows - drawn)
    # rows without a boundary are still in the table; boundaries without data stay unread
    assert {r[0] for r in table_rows(answer)[1:]} == rows
    assert set(plotted(answer)) == rows & drawn
    assert {c for c, f in fills_by_code(answer).items() if f == geo.OUTSIDE} == drawn - rows


def test_village_values_with_empty_ratios(bounded):
    """A village with no women has no sex ratio: pale grey, a dash in the table, NaN (null)
    in the figure — never a number."""
    answer = call(logged_in(bounded, "taipei_user"),
                  map_body("indicators:sex_ratio", level="village", root="63000"))
    expected = released(bounded["releases"], "indicators", "sex_ratio", "village", "63000")
    empty = {c for c, v in expected.items() if v is None}
    assert empty, "the small sample should leave some Taipei village without women"
    figures = plotted(answer)
    assert {c for c, v in figures.items() if v is None or math.isnan(v)} == empty
    assert {c: v for c, v in figures.items() if c not in empty} == \
        {c: v for c, v in expected.items() if c not in empty}
    rows = {r[0]: r[2] for r in table_rows(answer)[1:]}
    assert all(rows[c] == "—" for c in empty)
    assert all(fills_by_code(answer)[c] == geo.NO_DATA for c in empty)


def test_crafted_village_map_of_another_county_is_refused_and_audited(bounded):
    client = logged_in(bounded, "taipei_user")
    before = len(audit_actions(bounded, "taipei_user"))
    answer = call(client, map_body(level="village", root="64000"))
    assert "您的授權不包含此地區或資料表" in text_of(answer)
    assert not components(answer.get_json(), "Graph")
    denied = [d for a, d in new_audit(bounded, "taipei_user", before) if a == "access.refused"]
    assert len(denied) == 1 and "population@64000" in denied[0]


def test_a_national_village_map_asks_for_a_county_first(bounded):
    client = logged_in(bounded, "national_user")
    before = len(audit_actions(bounded, "national_user"))
    answer = call(client, map_body(level="village", root="00000"))
    assert "請先選擇一個縣市" in text_of(answer)
    assert new_audit(bounded, "national_user", before) == []


def test_layout_with_boundaries_offers_every_level(bounded):
    tree = page(logged_in(bounded, "moi_official"), "/map")
    levels = {o["value"]: o["disabled"] for o in dropdown(tree, "map-level")["options"]}
    assert levels == {"county": False, "township": False, "village": False}
    assert "需要邊界檔" not in text(tree["response"]["_pages_content"]["children"])


def test_a_single_geojson_file_is_joined_on_codes_too(bounded, tmp_path):
    """Boundaries as one GeoJSON file holding two of Taipei's twelve districts: both are
    coloured, the other ten districts are listed in the table and counted in the note."""
    towns = geo.decode_topology(
        json.loads((SHARED / "boundaries" / "towns-10t.json").read_text("utf-8")), "towns")
    two = [f for f in towns["features"] if f["properties"]["TOWNCODE"] in ("63000010",
                                                                           "63000020")]
    path = tmp_path / "two-districts.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": two}), "utf-8")
    settings = ServerSettings(releases=bounded["releases"], db_url=bounded["db"],
                              outbox=tmp_path / "outbox", boundaries=path)
    client = logged_in(bounded, "taipei_user", app=create_app(settings))
    levels = {o["value"]: o["disabled"] for o in dropdown(page(client, "/map"), "map-level")["options"]}
    assert levels == {"county": False, "township": False, "village": True}
    answer = call(client, map_body(level="township", root="63000"))
    assert sorted(fills_by_code(answer)) == ["63000010", "63000020"]
    assert "0 個邊界無對應資料，10 筆資料無對應邊界" in text_of(answer)
    assert len(table_rows(answer)) == 1 + 12
    # the county level has no boundaries in this file: the tile map stands in
    assert len(figure(call(client, map_body(root="63000")))["layout"]["shapes"]) == 22


# --- the shipped boundaries: real maps without any flag -----------------------------------

def test_default_county_map_draws_the_22_shipped_county_boundaries(served):
    answer = call(logged_in(served, "national_user"), map_body())
    fills = fills_by_code(answer)
    assert sorted(fills) == COUNTY_CODES and geo.OUTSIDE not in fills.values()
    assert not figure(answer)["layout"].get("shapes")  # boundaries, not tiles
    assert plotted(answer) == released(served["releases"], "population", "population", "county")


def test_default_township_map_of_taipei_draws_its_12_districts_where_taipei_lies(served):
    answer = call(logged_in(served, "taipei_user"), map_body(level="township", root="63000"))
    expected = released(served["releases"], "population", "population", "township", "63000")
    assert len(expected) == 12 and plotted(answer) == expected
    assert sorted(fills_by_code(answer)) == sorted(expected)
    xs = [x for t in figure(answer)["data"] if t.get("fill") == "toself" for x in t["x"]
          if x is not None]
    assert min(xs) > 121.4 and max(xs) < 121.7  # Taipei's longitudes only


def test_default_village_map_lists_the_villages_the_boundary_file_lacks_by_name(served):
    """Taoyuan created villages after the boundary file's vintage (~2021): they are in the
    table and named under the map, not silently dropped."""
    answer = call(logged_in(served, "moi_official"), map_body(level="village", root="68000"))
    rows = released(served["releases"], "population", "population", "village", "68000")
    areas = pl.read_parquet(served["releases"] / "2025-03" / "areas.parquet")
    names = dict(zip(areas["area_code"].to_list(), areas["area_name"].to_list(), strict=True))
    drawn = set(fills_by_code(answer))
    missing = set(rows) - drawn
    assert missing, "Taoyuan's new villages are not in the ~2021 boundary file"
    words = text_of(answer)
    assert f"{len(missing)} 筆資料無對應邊界" in words
    assert all(f"{code} {names[code]}" in words for code in missing)
    assert {r[0] for r in table_rows(answer)[1:]} == set(rows)


def test_default_layout_offers_every_level_without_a_flag(served):
    tree = page(logged_in(served, "moi_official"), "/map")
    levels = {o["value"]: o["disabled"] for o in dropdown(tree, "map-level")["options"]}
    assert levels == {"county": False, "township": False, "village": False}
    assert "需要邊界檔" not in text(tree["response"]["_pages_content"]["children"])
