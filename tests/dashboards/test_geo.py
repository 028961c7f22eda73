"""The Map page's pure geography: the TopoJSON decoder on a hand-made topology and on the
real boundary files, boundaries by code, the code join, value classes and the tile layout."""

from __future__ import annotations

import json

import polars as pl
import pytest

from dashboards import geo
from stats.codes import COUNTIES
from tests.helpers import SHARED

BOUNDARIES = SHARED / "boundaries"
# Taiwan with Kinmen (118.2°E) and Matsu (26.4°N) — a generous box, but far from the 0/0 or
# 1000s that a forgotten transform or a missing delta decoding gives
TAIWAN_LON, TAIWAN_LAT = (118.0, 122.5), (21.5, 26.5)

# Two unit squares side by side, quantized with scale (0.5, 0.25) and translate (100, 20):
#
#   (0,2)───(2,2)───(4,2)       arc 0: the shared edge (2,0)→(2,2), delta-coded
#     │  left │ right │         arc 1: the rest of the left square, (2,2)→(0,2)→(0,0)→(2,0)
#   (0,0)───(2,0)───(4,0)       arc 2: the rest of the right one, (2,0)→(4,0)→(4,2)→(2,2)
#
# The left ring is arcs [0, 1]; the right ring is [2, ~0]: arc 0 walked backwards.
SQUARES = {
    "type": "Topology",
    "transform": {"scale": [0.5, 0.25], "translate": [100, 20]},
    "arcs": [
        [[2, 0], [0, 2]],
        [[2, 2], [-2, 0], [0, -2], [2, 0]],
        [[2, 0], [2, 0], [0, 2], [-2, 0]],
    ],
    "objects": {
        "squares": {"type": "GeometryCollection", "geometries": [
            {"type": "Polygon", "arcs": [[0, 1]], "id": "left",
             "properties": {"COUNTYCODE": "63000", "TOWNCODE": "63000010"}},
            {"type": "GeometryCollection", "geometries": [  # nested: flattened
                {"type": "MultiPolygon", "arcs": [[[2, -1]]],
                 "properties": {"COUNTYCODE": "63000", "TOWNCODE": "63000020"}},
            ]},
            {"type": "Point", "coordinates": [4, 2], "properties": {"name": "corner"}},
            {"type": "LineString", "arcs": [1, 2], "properties": {"name": "outline"}},
            {"type": None, "properties": {"TOWNCODE": "63000030", "COUNTYCODE": "63000"}},
        ]},
        "county": {"type": "Polygon", "arcs": [[1, 2]],
                   "properties": {"COUNTYCODE": "63000"}},
    },
}
# quantized (x, y) → (100 + x/2, 20 + y/4)
LEFT = [[101.0, 20.0], [101.0, 20.5], [100.0, 20.5], [100.0, 20.0], [101.0, 20.0]]
RIGHT = [[101.0, 20.0], [102.0, 20.0], [102.0, 20.5], [101.0, 20.5], [101.0, 20.0]]


def load(name: str) -> dict:
    return json.loads((BOUNDARIES / f"{name}-10t.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def counties() -> dict:
    return geo.decode_topology(load("counties"), "counties")


# --- the decoder on the hand-made topology ---------------------------------------------

def test_decode_arcs_undoes_the_deltas_and_the_transform():
    assert geo.decode_arcs(SQUARES) == [
        [[101.0, 20.0], [101.0, 20.5]],
        [[101.0, 20.5], [100.0, 20.5], [100.0, 20.0], [101.0, 20.0]],
        [[101.0, 20.0], [102.0, 20.0], [102.0, 20.5], [101.0, 20.5]],
    ]


def test_decode_topology_stitches_rings_and_reverses_negative_arcs():
    features = geo.decode_topology(SQUARES, "squares")["features"]
    left, right, point, line, empty = features
    assert left == {"type": "Feature", "id": "left",
                    "properties": {"COUNTYCODE": "63000", "TOWNCODE": "63000010"},
                    "geometry": {"type": "Polygon", "coordinates": [LEFT]}}
    # [2, ~0]: arc 2, then arc 0 backwards without its repeated first position
    assert right["geometry"] == {"type": "MultiPolygon", "coordinates": [[RIGHT]]}
    assert point["geometry"] == {"type": "Point", "coordinates": [102.0, 20.5]}  # no delta
    assert line["geometry"]["coordinates"] == LEFT[1:] + RIGHT[1:4]
    assert empty["geometry"] is None and "id" not in empty


def test_decode_without_a_transform_takes_the_arcs_as_they_are():
    plain = {"type": "Topology", "arcs": [[[121.5, 25.0], [121.6, 25.0], [121.6, 25.1]],
                                          [[121.6, 25.1], [121.5, 25.0]]],
             "objects": {"a": {"type": "Polygon", "arcs": [[0, 1]]}}}
    (feature,) = geo.decode_topology(plain, "a")["features"]
    assert feature["geometry"]["coordinates"] == [
        [[121.5, 25.0], [121.6, 25.0], [121.6, 25.1], [121.5, 25.0]]]


@pytest.mark.parametrize(("document", "name", "message"), [
    ({"type": "FeatureCollection", "features": []}, "x", "not a TopoJSON topology"),
    (SQUARES, "towns", "no object 'towns'"),
    ({"type": "Topology", "arcs": [], "objects": {"x": {"type": "Circle"}}}, "x",
     "unknown TopoJSON geometry type 'Circle'"),
])
def test_decode_topology_names_what_it_cannot_read(document, name, message):
    with pytest.raises(geo.TopologyError, match=message):
        geo.decode_topology(document, name)


def test_levels_in_finds_the_object_of_each_level():
    assert geo.levels_in(SQUARES) == {"township": "squares", "county": "county"}
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"COUNTYCODE": "63000", "TOWNCODE": "63000010",
                                           "VILLCODE": "63000010001"}, "geometry": None}]}
    assert geo.levels_in(collection) == {"village": ""}
    with pytest.raises(geo.TopologyError, match="neither TopoJSON nor"):
        geo.levels_in({"type": "Feature"})


@pytest.mark.parametrize(("properties", "level"), [
    ({"COUNTYCODE": "63000"}, "county"),
    ({"COUNTYCODE": "63000", "TOWNCODE": "63000010"}, "township"),
    ({"COUNTYCODE": "63000", "TOWNCODE": "63000010", "VILLCODE": "63000010001"}, "village"),
    ({"name": "nation"}, None),
    (None, None),
])
def test_feature_level_is_the_finest_code_present(properties, level):
    assert geo.feature_level(properties) == level


# --- boundaries by code -------------------------------------------------------------------

def test_area_shapes_keys_rings_by_code_and_labels_the_centroid():
    shapes = geo.area_shapes(geo.decode_topology(SQUARES, "squares"), "township")
    assert shapes.codes == ["63000010", "63000020"]  # the null geometry has no shape
    assert shapes.rings == {"63000010": [LEFT], "63000020": [RIGHT]}
    assert shapes.labels == {"63000010": (100.5, 20.25), "63000020": (101.5, 20.25)}
    county = geo.area_shapes(geo.decode_topology(SQUARES, "county"), "county")
    assert county.codes == ["63000"]


def test_area_shapes_merges_parts_and_drops_rings_rounding_erases():
    square = [[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0], [0.0, 0.0]]
    speck = [[5.0, 5.0], [5.00001, 5.0], [5.0, 5.00001], [5.0, 5.0]]
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"COUNTYCODE": "10016"},
         "geometry": {"type": "Polygon", "coordinates": [speck]}},
        {"type": "Feature", "properties": {"COUNTYCODE": "10016"},
         "geometry": {"type": "Polygon", "coordinates": [square]}},
    ]}
    shapes = geo.area_shapes(collection, "county", digits=4)
    assert shapes.rings == {"10016": [square]}  # the speck rounds to one point: gone
    assert shapes.labels == {"10016": (1.0, 1.0)}  # the larger part carries the label


def test_ring_area_centroid_by_the_shoelace_formula():
    triangle = [[0.0, 0.0], [3.0, 0.0], [0.0, 3.0], [0.0, 0.0]]
    assert geo.ring_area_centroid(triangle) == (4.5, 1.0, 1.0)
    assert geo.ring_area_centroid([[1.0, 1.0], [1.0, 1.0]]) == (0.0, 1.0, 1.0)


def test_join_codes_reports_both_kinds_of_mismatch():
    joined = geo.join_codes(["63000010", "63000020", "63000030"],
                            ["63000020", "63000030", "63000040", "63000020"])
    assert joined == geo.BoundaryJoin(matched=["63000020", "63000030"],
                                      features_without_data=["63000010"],
                                      rows_without_feature=["63000040"])


def test_within_keeps_the_codes_under_a_root():
    codes = ["63000010", "63000020", "64000010"]
    assert geo.within(codes, "63000") == ["63000010", "63000020"]
    assert geo.within(codes, "00000") == codes
    assert geo.within(codes, "65000") == []


# --- the real boundary files --------------------------------------------------------------

def test_real_counties_decode_to_the_22_counties_inside_taiwan(counties):
    features = counties["features"]
    assert len(features) == 22
    assert sorted(f["properties"]["COUNTYCODE"] for f in features) == \
        sorted(code for code, *_ in COUNTIES)
    polygons = [polygon for f in features for polygon in (
        f["geometry"]["coordinates"] if f["geometry"]["type"] == "MultiPolygon"
        else [f["geometry"]["coordinates"]])]
    points = pl.DataFrame([p for polygon in polygons for ring in polygon for p in ring],
                          schema=["lon", "lat"], orient="row")
    assert TAIWAN_LON[0] < points["lon"].min() and points["lon"].max() < TAIWAN_LON[1]
    assert TAIWAN_LAT[0] < points["lat"].min() and points["lat"].max() < TAIWAN_LAT[1]
    # every ring closes where it started (arcs stitched end to end)
    assert all(ring[0] == ring[-1] for polygon in polygons for ring in polygon)


def test_real_counties_lie_where_they_should(counties):
    """Label points: Taipei in the north-east, Kaohsiung in the south-west, Kinmen far west."""
    labels = geo.area_shapes(counties, "county").labels
    assert 121.4 < labels["63000"][0] < 121.7 and 24.9 < labels["63000"][1] < 25.2
    assert 120.2 < labels["64000"][0] < 121.1 and 22.4 < labels["64000"][1] < 23.5
    assert labels["09020"][0] < 118.6


@pytest.mark.parametrize(("name", "levels"), [
    ("counties", {"county": "counties"}),
    ("towns", {"township": "towns", "county": "counties"}),
    ("villages", {"village": "villages", "township": "towns", "county": "counties"}),
])
def test_real_files_name_their_levels(name, levels):
    assert geo.levels_in(load(name)) == levels


def test_real_towns_carry_the_368_official_township_codes():
    towns = geo.area_shapes(geo.decode_topology(load("towns"), "towns"), "township")
    assert len(towns.codes) == 368
    codes = pl.read_csv(SHARED / "codes" / "towns.csv", schema_overrides={"town_code": pl.String})
    assert towns.codes == sorted(codes["town_code"].to_list())


# --- value classes and colours -----------------------------------------------------------

def classes_of(values: list, edges: list[float]) -> list:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.Float64})
    return frame.select(geo.value_class(pl.col("v"), edges).alias("c"))["c"].to_list()


def test_class_edges_are_quantiles_of_distinct_values_and_classes_follow_them():
    values = pl.Series([8, 1, 2, 3, 4, 5, 6, 7, 8, None])
    # linear quantiles of the distinct 1…8 at 0, ¼, ½, ¾, 1
    assert geo.class_edges(values, 4) == [1.0, 2.75, 4.5, 6.25, 8.0]
    assert classes_of(values.to_list(), [1.0, 2.75, 4.5, 6.25, 8.0]) == \
        [3, 0, 0, 1, 1, 2, 2, 3, 3, None]


def test_few_distinct_values_get_a_class_each_even_when_most_are_equal():
    births = [0] * 400 + [1] * 40 + [2] * 10 + [3] * 2  # quantiles of all would be 0…0, 3
    edges = geo.class_edges(pl.Series(births))
    assert edges == [0.0, 0.5, 1.5, 2.5, 3.0]
    assert classes_of([0, 1, 2, 3], edges) == [0, 1, 2, 3]


def test_class_edges_of_one_value_or_none():
    assert geo.class_edges(pl.Series([5, 5, 5])) == [5.0, 5.0]
    assert geo.class_edges(pl.Series([None, None], dtype=pl.Float64)) == []
    assert classes_of([5, None], [5.0, 5.0]) == [0, None]


def test_stepped_colorscale_places_a_flat_step_per_class():
    scale = geo.stepped_colorscale(["#a", "#b", "#c"], [0.0, 10.0, 40.0, 100.0])
    assert scale == [[0.0, "#a"], [0.1, "#a"], [0.1, "#b"], [0.4, "#b"], [0.4, "#c"],
                     [1.0, "#c"]]
    assert geo.stepped_colorscale(["#a"], [3.0, 3.0]) == [[0.0, "#a"], [1.0, "#a"]]


def test_class_colours_run_light_to_dark_across_the_palette():
    assert geo.class_colours(7) == list(geo.PALETTE)
    assert geo.class_colours(2) == [geo.PALETTE[0], geo.PALETTE[-1]]
    assert geo.class_colours(0) == []


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("fill", geo.PALETTE + (geo.NO_DATA,))
def test_tile_labels_keep_wcag_contrast_on_every_fill(fill):
    light, dark = sorted([_luminance(fill), _luminance(geo.text_colour(fill))])
    assert (dark + 0.05) / (light + 0.05) >= 4.5


# --- the tile layout ---------------------------------------------------------------------

def test_tile_layout_places_the_22_counties_on_distinct_squares():
    assert sorted(geo.COUNTY_TILES) == sorted(code for code, *_ in COUNTIES)
    assert len(set(geo.COUNTY_TILES.values())) == 22
    assert all(0 <= c < geo.TILE_COLUMNS and 0 <= r < geo.TILE_ROWS
               for c, r in geo.COUNTY_TILES.values())


def test_tile_layout_puts_the_offshore_counties_west_and_north_above_south():
    tiles = geo.COUNTY_TILES
    main_island = [pos for code, pos in tiles.items() if code not in ("09007", "09020", "10016")]
    assert all(tiles[code][0] < min(c for c, _ in main_island)
               for code in ("09007", "09020", "10016"))  # 連江, 金門, 澎湖 offshore west
    assert tiles["63000"][1] < tiles["66000"][1] < tiles["67000"][1] < tiles["64000"][1]
    assert tiles["10002"][0] > tiles["68000"][0]  # 宜蘭 east of 桃園
