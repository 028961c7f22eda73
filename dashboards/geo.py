"""Geography for the Map page, as pure functions: the county tile layout, a TopoJSON decoder,
boundaries by MOI area code, joining boundaries to release rows, and value classes.

Nothing here reads a file, a setting or the clock; ``dashboards/pages/map.py`` reads the
boundary files and caches what these functions return.

TopoJSON (https://github.com/topojson/topojson-specification) stores each shared border once,
as an *arc*; a polygon ring lists the arcs it follows, a negative index ``~i`` meaning arc
``i`` walked backwards. With a ``transform`` the arcs are quantized integers, each position
after the first a delta from the previous one. The decoder walks the arcs in plain Python:
it is a file-format decoder over geometry (146,154 positions for all 7,701 villages take
about 0.15 s), not a computation over release rows, and building a polars frame from the
nested lists costs more than the decoding itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

LEVELS = ("county", "township", "village")
# the property holding each level's MOI code in the NLSC/MOI boundary files
CODE_KEYS = {"county": "COUNTYCODE", "township": "TOWNCODE", "village": "VILLCODE"}

# (column, row) of each county's tile, row 0 at the top (north). The main island runs down
# columns 2–5 roughly as it lies; the offshore counties 連江, 金門 and 澎湖 sit apart in
# column 0, to the west, in their north-to-south order.
COUNTY_TILES: dict[str, tuple[int, int]] = {
    "09007": (0, 0),  # 連江縣
    "63000": (4, 0),  # 臺北市
    "10017": (5, 0),  # 基隆市
    "68000": (3, 1),  # 桃園市
    "65000": (4, 1),  # 新北市
    "10002": (5, 1),  # 宜蘭縣
    "09020": (0, 2),  # 金門縣
    "10018": (2, 2),  # 新竹市
    "10004": (3, 2),  # 新竹縣
    "10005": (2, 3),  # 苗栗縣
    "66000": (3, 3),  # 臺中市
    "10015": (4, 3),  # 花蓮縣
    "10016": (0, 4),  # 澎湖縣
    "10007": (2, 4),  # 彰化縣
    "10008": (3, 4),  # 南投縣
    "10009": (2, 5),  # 雲林縣
    "10010": (3, 5),  # 嘉義縣
    "10014": (4, 5),  # 臺東縣
    "10020": (2, 6),  # 嘉義市
    "67000": (3, 6),  # 臺南市
    "64000": (3, 7),  # 高雄市
    "10013": (4, 7),  # 屏東縣
}
TILE_COLUMNS = 1 + max(c for c, _ in COUNTY_TILES.values())
TILE_ROWS = 1 + max(r for _, r in COUNTY_TILES.values())

Position = list[float]
Ring = list[Position]


class TopologyError(ValueError):
    """A file that is not a TopoJSON topology or GeoJSON collection we can read."""


# --- TopoJSON -> GeoJSON ----------------------------------------------------------------

def decode_arcs(topology: dict[str, Any]) -> list[Ring]:
    """Every arc of ``topology`` in absolute coordinates (quantized arcs un-delta-ed and
    transformed: x = Σdx · scale_x + translate_x, as the specification's ``decodeArc``)."""
    transform = topology.get("transform")
    if transform is None:
        return [[[float(x), float(y)] for x, y, *_ in arc] for arc in topology.get("arcs", [])]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    decoded = []
    for arc in topology.get("arcs", []):
        x = y = 0
        points = []
        for dx, dy, *_ in arc:
            x, y = x + dx, y + dy
            points.append([x * sx + tx, y * sy + ty])
        decoded.append(points)
    return decoded


def _line(indices: Sequence[int], arcs: list[Ring]) -> Ring:
    """The positions along ``indices`` (negative = reversed arc ``~i``); each arc after the
    first starts where the previous ended, so its first position is dropped."""
    line: Ring = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        line.extend(arc if not line else arc[1:])
    return line


def _point(position: Sequence[float], transform: dict[str, Any] | None) -> Position:
    """A Point/MultiPoint position: quantized when there is a transform, never delta-coded."""
    if transform is None:
        return [float(position[0]), float(position[1])]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    return [position[0] * sx + tx, position[1] * sy + ty]


def _geometry(obj: dict[str, Any], arcs: list[Ring],
              transform: dict[str, Any] | None) -> dict[str, Any] | None:
    kind = obj.get("type")
    if kind == "Point":
        return {"type": kind, "coordinates": _point(obj["coordinates"], transform)}
    if kind == "MultiPoint":
        return {"type": kind, "coordinates": [_point(p, transform) for p in obj["coordinates"]]}
    if kind == "LineString":
        return {"type": kind, "coordinates": _line(obj["arcs"], arcs)}
    if kind == "MultiLineString":
        return {"type": kind, "coordinates": [_line(line, arcs) for line in obj["arcs"]]}
    if kind == "Polygon":
        return {"type": kind, "coordinates": [_line(ring, arcs) for ring in obj["arcs"]]}
    if kind == "MultiPolygon":
        return {"type": kind, "coordinates": [[_line(ring, arcs) for ring in polygon]
                                              for polygon in obj["arcs"]]}
    if kind is None:
        return None  # the specification's null geometry: a feature without a shape
    raise TopologyError(f"unknown TopoJSON geometry type {kind!r}")


def _features(obj: dict[str, Any], arcs: list[Ring],
              transform: dict[str, Any] | None) -> list[dict[str, Any]]:
    if obj.get("type") == "GeometryCollection":
        return [f for child in obj.get("geometries", []) for f in _features(child, arcs, transform)]
    feature: dict[str, Any] = {"type": "Feature", "properties": obj.get("properties") or {},
                               "geometry": _geometry(obj, arcs, transform)}
    if "id" in obj:
        feature["id"] = obj["id"]
    return [feature]


def decode_topology(topology: dict[str, Any], object_name: str) -> dict[str, Any]:
    """One object of a TopoJSON topology as a GeoJSON FeatureCollection.

    Parameters
    ----------
    topology
        The parsed TopoJSON document.
    object_name
        A key of ``topology["objects"]`` (e.g. ``"counties"``).

    Returns
    -------
    dict
        ``{"type": "FeatureCollection", "features": [...]}``, one feature per geometry of a
        GeometryCollection (nested collections flattened), properties and ids kept.

    Raises
    ------
    TopologyError
        Not a topology, no such object, or an unknown geometry type.
    """
    if topology.get("type") != "Topology":
        raise TopologyError(f"not a TopoJSON topology (type {topology.get('type')!r})")
    objects = topology.get("objects") or {}
    if object_name not in objects:
        raise TopologyError(f"no object {object_name!r} in the topology; it has {sorted(objects)}")
    arcs = decode_arcs(topology)
    features = _features(objects[object_name], arcs, topology.get("transform"))
    return {"type": "FeatureCollection", "features": features}


# --- boundaries by area code ------------------------------------------------------------

def feature_level(properties: dict[str, Any] | None) -> str | None:
    """The finest level whose code key the properties carry (a village feature also names its
    township and county; a county feature names only the county)."""
    found = [level for level in LEVELS if (properties or {}).get(CODE_KEYS[level])]
    return found[-1] if found else None


def _geometries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj.get("type") == "GeometryCollection":
        return [g for child in obj.get("geometries", []) for g in _geometries(child)]
    return [obj]


def levels_in(document: dict[str, Any]) -> dict[str, str]:
    """Which object of a file holds each level's boundaries: ``{level: object name}`` for a
    topology (first object per level in file order), ``{level: ""}`` for GeoJSON.

    Raises
    ------
    TopologyError
        Neither a TopoJSON topology nor a GeoJSON FeatureCollection.
    """
    if document.get("type") == "Topology":
        found: dict[str, str] = {}
        for name, obj in (document.get("objects") or {}).items():
            for level in {feature_level(g.get("properties")) for g in _geometries(obj)}:
                if level is not None:
                    found.setdefault(level, name)
        return found
    if document.get("type") == "FeatureCollection":
        levels = {feature_level(f.get("properties")) for f in document.get("features", [])}
        return {level: "" for level in LEVELS if level in levels}
    raise TopologyError(f"neither TopoJSON nor a GeoJSON FeatureCollection "
                        f"(type {document.get('type')!r})")


@dataclass(frozen=True)
class AreaShapes:
    """The boundaries of one level: every ring of every area (outer rings and holes alike,
    keyed by MOI code) and a point inside or near each area to hang its label on."""

    level: str
    rings: dict[str, list[Ring]] = field(default_factory=dict)
    labels: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def codes(self) -> list[str]:
        return sorted(self.rings)


def _polygons(geometry: dict[str, Any] | None) -> list[list[Ring]]:
    if geometry is None:
        return []
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["coordinates"])
    return []  # points and lines have no area to colour


def ring_area_centroid(ring: Ring) -> tuple[float, float, float]:
    """|area| and centroid of a closed ring by the shoelace formula (planar lon/lat: only
    used to choose and place a label); a degenerate ring gives its first point."""
    twice_area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
        cross = x0 * y1 - x1 * y0
        twice_area += cross
        cx, cy = cx + (x0 + x1) * cross, cy + (y0 + y1) * cross
    if twice_area == 0:
        return 0.0, ring[0][0], ring[0][1]
    return abs(twice_area) / 2, cx / (3 * twice_area), cy / (3 * twice_area)


def rounded(ring: Ring, digits: int) -> Ring:
    """The ring with coordinates rounded and the repeats rounding makes dropped (a closed
    ring stays closed: its first and last positions round alike)."""
    out: Ring = []
    for x, y, *_ in ring:
        point = [round(x, digits), round(y, digits)]
        if not out or point != out[-1]:
            out.append(point)
    return out


def area_shapes(collection: dict[str, Any], level: str, digits: int = 4) -> AreaShapes:
    """The polygons of ``level`` in a GeoJSON collection, keyed by their MOI code.

    Features of other levels are left out; several features with one code (an area drawn in
    parts) are merged. Coordinates are rounded to ``digits`` decimals (4 ≈ 10 m, finer than a
    screen pixel of a village), which keeps the figure sent to the browser small. Each label
    sits at the centroid of the area's largest outer ring.
    """
    key = CODE_KEYS[level]
    rings: dict[str, list[Ring]] = {}
    best: dict[str, tuple[float, float, float]] = {}
    for feature in collection.get("features", []):
        properties = feature.get("properties") or {}
        if feature_level(properties) != level:
            continue
        code = str(properties[key])
        for polygon in _polygons(feature.get("geometry")):
            kept = (rounded(ring, digits) for ring in polygon)
            # a ring that rounding shrank below a triangle is smaller than a pixel
            rings.setdefault(code, []).extend(r for r in kept if len(r) >= 4)
            if polygon:
                area, x, y = ring_area_centroid(polygon[0])
                if code not in best or area > best[code][0]:
                    best[code] = (area, x, y)
    labels = {code: (round(x, digits), round(y, digits)) for code, (_, x, y) in best.items()}
    return AreaShapes(level, rings, labels)


def within(codes: Iterable[str], root: str) -> list[str]:
    """The codes inside ``root`` (``00000`` = everywhere; a code starts with its parent's)."""
    return sorted(c for c in codes if root == "00000" or c.startswith(root))


@dataclass(frozen=True)
class BoundaryJoin:
    """How boundary features and release rows of one map matched on their codes."""

    matched: list[str]
    features_without_data: list[str]
    rows_without_feature: list[str]


def join_codes(feature_codes: Iterable[str], row_codes: Iterable[str]) -> BoundaryJoin:
    """Match boundary features to release rows on the area code (codes change over time, and
    the boundary files are of another vintage than the code table, so both sides may have
    codes the other lacks)."""
    features = pl.Series("code", sorted(set(feature_codes)), dtype=pl.String)
    rows = pl.Series("code", sorted(set(row_codes)), dtype=pl.String)
    return BoundaryJoin(
        matched=features.filter(features.is_in(rows.implode())).to_list(),
        features_without_data=features.filter(~features.is_in(rows.implode())).to_list(),
        rows_without_feature=rows.filter(~rows.is_in(features.implode())).to_list(),
    )


# --- value classes ----------------------------------------------------------------------

# A sequential, colour-blind-safe ramp (ColorBrewer YlGnBu, light to dark).
PALETTE = ("#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#253494", "#081d58")
DARK_FROM = 4  # palette colours from this one on are dark enough to need white text
NO_DATA = "#f4f4f4"  # an area in the selection whose value is empty (a null ratio)
OUTSIDE = "#bdbdbd"  # an area outside the selection or the grant: grey, never read


def class_edges(values: pl.Series, classes: int = len(PALETTE)) -> list[float]:
    """Class edges over the distinct non-null values, ``k + 1`` edges for ``k`` classes.

    With more distinct values than ``classes``, the edges are quantiles of the distinct
    values: like quantiles they resist skew (one large city or one small island would put
    every other area in one equal-interval class), and unlike quantiles of all values they
    do not collapse when most areas share a value (villages without a birth this month).
    With ``classes`` or fewer distinct values each value gets its own class, the edges
    halfway between neighbours. One distinct value gives one class; none gives no edges.
    """
    present = values.drop_nulls().drop_nans() if values.dtype.is_float() else values.drop_nulls()
    distinct = present.cast(pl.Float64).unique().sort()
    if distinct.is_empty():
        return []
    if len(distinct) == 1:
        return [distinct[0], distinct[0]]
    if len(distinct) <= classes:
        halfway = ((distinct.head(-1) + distinct.tail(-1)) / 2).to_list()
        return [distinct[0], *halfway, distinct[-1]]
    return [float(distinct.quantile(i / classes, "linear")) for i in range(classes + 1)]


def value_class(value: pl.Expr, edges: Sequence[float]) -> pl.Expr:
    """The class (0-based) of each value: how many inner edges it reaches, so class ``i``
    holds ``edges[i] <= v < edges[i + 1]`` and the last class includes the top edge; null
    for a null value."""
    if len(edges) < 2:
        return pl.lit(None, dtype=pl.Int64)
    reached = [(value >= edge).cast(pl.Int64) for edge in edges[1:-1]]
    count = pl.sum_horizontal(reached) if reached else pl.lit(0, dtype=pl.Int64)
    return pl.when(value.is_null()).then(None).otherwise(count).cast(pl.Int64)


def class_colours(count: int) -> list[str]:
    """``count`` colours spread over the palette, lightest first."""
    if count <= 1:
        return [PALETTE[len(PALETTE) // 2]][:count]
    return [PALETTE[round(i * (len(PALETTE) - 1) / (count - 1))] for i in range(count)]


def stepped_colorscale(colours: Sequence[str],
                       edges: Sequence[float]) -> list[list[float | str]]:
    """A plotly colorscale with one flat step per class, placed at the class edges, so a
    colour bar from ``edges[0]`` to ``edges[-1]`` shows exactly the classes the areas are
    painted in."""
    low, high = edges[0], edges[-1]
    if high == low:  # every value equal: one class, one colour over the whole bar
        return [[0.0, colours[0]], [1.0, colours[0]]]
    span = high - low
    steps: list[list[float | str]] = []
    for colour, start, stop in zip(colours, edges, edges[1:], strict=False):
        steps += [[(start - low) / span, colour], [(stop - low) / span, colour]]
    return steps


def text_colour(fill: str) -> str:
    """Black on the light palette colours, white on the dark ones (contrast ≥ 4.5:1)."""
    return "#ffffff" if fill in PALETTE[DARK_FROM:] else "#111111"
