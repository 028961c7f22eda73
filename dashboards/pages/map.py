"""Map (``/map``): one measure of ``population``, ``vital_events`` or ``indicators`` by
county, township or village for a published period, inside one of the caller's granted
areas, as a map with the same values in a table beside it.

The map draws the real county, township and village boundaries shipped with popstats
(``stats/data/boundaries``, MOI/NLSC geometry of about 2021); ``popstats serve --boundaries``
replaces them with the user's files. A level the configured files lack falls back to a tile
map of the 22 counties (one square each, placed roughly where the county lies) for counties,
and is not offered for townships and villages. Both are plain cartesian plotly traces (filled
filled scatter polygons, layout rectangles): plotly.js's geo subplots — ``go.Choropleth``
even with inline GeoJSON — fetch a base map from ``cdn.plot.ly`` first, which the
dashboards' strict CSP blocks and which an offline server cannot reach, so the map would
never draw.

Only the areas of the chosen level inside the chosen root are read, through ``view`` (grant
checked, audited); everything else on the map is grey and its data never read.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import dash
import polars as pl
from dash import Input, Output, callback, dcc, html

from dashboards import figure_download, figure_queries, geo
from dashboards import programme_measures as programme
from dashboards.data import (
    area_name,
    areas_under,
    latest_period,
    offered_roots,
    published_periods,
    release_areas,
)
from dashboards.figures import figure
from dashboards.i18n import language, period_both, t
from dashboards.programme_figures import column as pf_column
from dashboards.shell import not_permitted, page_allowed, title
from dashboards.web import Refused, current_user, services
from stats.catalogue import VALUE_LABELS
from stats.codes import COUNTIES, COUNTY_NAMES, COUNTY_NAMES_EN
from stats.data import BOUNDARIES
from stats.schemas import TABLE_COLUMNS

PATH = "/map"
dash.register_page(__name__, path=PATH, title="地圖 Map")

MEASURE, LEVEL, ROOT, PERIOD = "map-measure", "map-level", "map-root", "map-period"
STATUS, RESULT, LEVEL_NOTE = "map-status", "map-result", "map-level-note"
TABLES = ("population", "vital_events", "indicators")
TABLE_NAMES = {"population": ("人口", "population"), "vital_events": ("人口動態", "vital events"),
               "indicators": ("人口指標", "indicators")}
MEASURES = {f"{table}:{column}": (table, column)
            for table in TABLES for column in TABLE_COLUMNS[table]}
MEASURES |= programme.MAP_MEASURES  # issue 14: TFR and net migration by county
TABLE_NAMES |= programme.MAP_TABLE_NAMES
NATIONAL = "00000"
SUFFIXES = (".json", ".topojson", ".geojson")  # each also gzip-compressed (".json.gz")
PLOT_CONFIG = {"displaylogo": False, "showLink": False, "showSendToCloud": False,
               "showEditInChartStudio": False}
log = logging.getLogger(__name__)


# --- boundary files (the only I/O of the page besides ``view``) -------------------------

def _stamp(path: Path) -> tuple[str, int, int]:
    """A cache key that changes when the file does."""
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def _boundary_file(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return path.is_file() and any(name.endswith(suffix) for suffix in SUFFIXES)


def _read(path: str) -> dict[str, Any]:
    if path.lower().endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    with Path(path).open(encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=16)
def _file_levels(path: str, _mtime: int, _size: int) -> dict[str, str]:
    try:
        return geo.levels_in(_read(path))
    except (OSError, ValueError) as error:  # JSON and TopologyError are ValueErrors
        log.warning("boundary file %s ignored: %s", path, error)
        return {}


@lru_cache(maxsize=6)
def _file_shapes(path: str, _mtime: int, _size: int, name: str, level: str) -> geo.AreaShapes:
    """The decoded boundaries of one level of one file (decoded once per file version)."""
    document = _read(path)
    collection = document if document.get("type") == "FeatureCollection" \
        else geo.decode_topology(document, name)
    return geo.area_shapes(collection, level)


def boundary_sources(source: Path | None) -> dict[str, tuple[tuple[str, int, int], str]]:
    """For each level, the file (stamp) and object holding its boundaries: the configured
    files, or the shipped ones when none are configured. A file whose finest level is that
    level wins (``towns-10t.json`` also carries counties, but ``counties-10t.json`` is the
    county file); then file name order."""
    source = BOUNDARIES if source is None else source
    if not source.exists():
        return {}
    files = sorted(p for p in source.iterdir() if _boundary_file(p)) \
        if source.is_dir() else [source]
    found: dict[str, tuple[tuple[bool, str], tuple[str, int, int], str]] = {}
    for path in files:
        stamp = _stamp(path)
        levels = _file_levels(*stamp)
        finest = max(levels, key=geo.LEVELS.index, default=None)
        for level, name in levels.items():
            rank = (level != finest, path.name)
            if level not in found or rank < found[level][0]:
                found[level] = (rank, stamp, name)
    return {level: (stamp, name) for level, (_, stamp, name) in found.items()}


def shapes_for(level: str) -> geo.AreaShapes | None:
    """The configured boundaries of ``level``, or None when there are none."""
    chosen = boundary_sources(services().boundaries).get(level)
    if chosen is None:
        return None
    try:
        return _file_shapes(*chosen[0], chosen[1], level)
    except (OSError, ValueError) as error:  # a file changed or broken since it was indexed
        log.warning("boundaries of level %s unreadable in %s: %s", level, chosen[0][0], error)
        return None


# --- labels -------------------------------------------------------------------------------

def measure_label(column: str) -> str:
    return t(pf_column(column).zh, pf_column(column).en)


def unit_label(column: str) -> str:
    return t(pf_column(column).unit_zh, pf_column(column).unit_en)


def bracketed(label: str, note: str) -> str:
    """``人口數（人）`` / ``Population (persons)``; the label alone without a note."""
    return t(f"{label}（{note}）", f"{label} ({note})") if note else label


def level_label(level: str) -> str:
    return t(*VALUE_LABELS["area_level"][level])


def value_text(value: float | None, integer: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.0f}" if integer else f"{value:,.2f}"


def named_areas(areas: pl.DataFrame, level: str) -> pl.DataFrame:
    """area_code, name: counties by ``COUNTY_NAMES``/``COUNTY_NAMES_EN``; townships and
    villages by the release's (Chinese-only) names."""
    if level == "county":
        names = COUNTY_NAMES_EN if language() == "en" else COUNTY_NAMES
        return areas.select("area_code", pl.col("area_code").replace_strict(
            names, default=pl.col("area_name")).alias("name"))
    return areas.select("area_code", pl.col("area_name").alias("name"))


# --- controls -------------------------------------------------------------------------------

def offered_measures(user: Any) -> list[str]:
    """Measures of the tables the caller holds a grant for (offering is not permission)."""
    return [key for key, (table, _) in MEASURES.items() if offered_roots(user, [table])]


def root_options(roots: list[str]) -> list[str]:
    """The granted roots, and every county under a national grant."""
    counties = [code for code, *_ in COUNTIES] if NATIONAL in roots else []
    return sorted(set(roots) | set(counties), key=lambda c: (c != NATIONAL, c))


def layout(measure: str | None = None, level: str | None = None, area: str | None = None,
           period: str | None = None, **_: Any) -> Any:
    """Controls (query-string values kept only when offered); the map comes from ``show``."""
    user = current_user()
    if not page_allowed(user, PATH):
        return not_permitted()
    heading = html.H1(title(PATH))
    periods = published_periods()
    measures = offered_measures(user)
    if not periods:
        return html.Div([heading, html.P(t("尚無已公布的資料。", "No published release yet."))])
    if not measures:
        return html.Div([heading, html.P(t("您的授權不包含可製圖的資料表。",
                                           "Your grant includes no table that can be mapped."),
                                         role="alert")])
    roots = root_options(offered_roots(user, {MEASURES[m][0] for m in measures}))
    available = boundary_sources(services().boundaries)
    levels = [lvl for lvl in geo.LEVELS if lvl == "county" or lvl in available]
    default_period = latest_period("month") or periods[-1]

    def keep(value: str | None, allowed: list[str], default: str) -> str:
        return value if value in allowed else default

    measure_options = [{"label": bracketed(measure_label(c), t(*TABLE_NAMES[tb])), "value": k}
                       for k, (tb, c) in MEASURES.items() if k in measures]
    return html.Div([
        heading,
        html.Div([
            html.Label(t("指標", "Measure"), htmlFor=MEASURE),
            dcc.Dropdown(id=MEASURE, options=measure_options, clearable=False,
                         value=keep(measure, measures, "population:population"
                                    if "population:population" in measures else measures[0])),
            html.Label(t("區域層級", "Area level"), htmlFor=LEVEL),
            dcc.Dropdown(id=LEVEL, clearable=False, value=keep(level, levels, "county"),
                         options=[{"label": level_label(lvl), "value": lvl,
                                   "disabled": lvl not in levels} for lvl in geo.LEVELS]),
            html.P(level_note(available), id=LEVEL_NOTE, className="note"),
            html.Label(t("範圍", "Within"), htmlFor=ROOT),
            dcc.Dropdown(id=ROOT, clearable=False, value=keep(area, roots, roots[0]),
                         options=[{"label": area_name(r, default_period), "value": r}
                                  for r in roots]),
            html.Label(t("統計期", "Period"), htmlFor=PERIOD),
            dcc.Dropdown(id=PERIOD, clearable=False, value=keep(period, periods, default_period),
                         options=[{"label": period_both(p), "value": p}
                                  for p in reversed(periods)]),
        ], className="controls"),
        html.P(id=STATUS, **{"aria-live": "polite"}),
        html.Div(id=RESULT),
        figure_download.controls("map"),
    ])


def level_note(available: dict[str, Any]) -> str:
    if "township" in available and "village" in available:
        return ""
    return t("鄉鎮市區及村里地圖需要邊界檔（popstats serve --boundaries 所指的檔案缺少此層級）；"
             "目前只提供縣市地圖。",
             "Township and village maps need boundary files (the files given to popstats serve "
             "--boundaries lack that level); only the county map is offered now.")


# --- the callback ---------------------------------------------------------------------------

def alert(message: str) -> tuple[Any, Any]:
    return html.Span(message, role="alert"), []


@callback(Output(STATUS, "children"), Output(RESULT, "children"),
          Input(MEASURE, "value"), Input(LEVEL, "value"), Input(ROOT, "value"),
          Input(PERIOD, "value"))
def show(measure: Any, level: Any, root: Any, period: Any) -> Any:
    """The map and table of one measure; exactly the areas of ``level`` in ``root`` are read,
    through one ``view`` (grant checked and audited; a refusal is audited too)."""
    if not page_allowed(current_user(), PATH):
        return "", not_permitted()
    if measure not in MEASURES or level not in geo.LEVELS or period not in published_periods() \
            or not isinstance(root, str):
        return alert(t("請選擇指標、區域層級、範圍及已公布的統計期。",
                       "Choose a measure, an area level, an area and a published period."))
    if root != NATIONAL and release_areas(period).filter(pl.col("area_code") == root).is_empty():
        return alert(t(f"未知的地區代碼：{root}。", f"Unknown area code: {root}."))
    shapes = shapes_for(level)
    if level != "county" and shapes is None:
        return alert(level_note({}))
    if level == "village" and root == NATIONAL:
        return alert(t("村里地圖請先選擇一個縣市。", "For a village map, choose a county first."))
    areas = areas_under(period, [root], level)
    if areas.is_empty():
        return alert(t("所選範圍內沒有此層級的區域。", "There are no areas of that level there."))
    table, column = MEASURES[measure]
    if problem := programme.map_problem(table, level, period):  # county-only, v2-only tables
        return alert(problem)
    try:
        rows = programme.map_frame(table, column, areas["area_code"].to_list(), period)
    except Refused:
        return alert(programme.map_refusal(table, column) or t(
            f"您的授權不包含此地區或資料表：{root}（{table}）。",
            f"This area or table is outside your grant: {root} ({table})."))
    values = named_areas(areas, level).join(rows.rename({column: "value"}), on="area_code",
                                            how="left")
    integer = programme.is_count(table, column)
    query = figure_queries.map_query(table, column, level, root, period, language())
    return status_line(column, level, root, period), [
        *result(values, column, integer, level, root, period, shapes),
        figure_download.source("map", query, map_caption(column, level, root, period))]


def map_caption(column: str, level: str, root: str, period: str) -> str:
    """What the map shows, as its table's caption and its picture's title."""
    measure = bracketed(measure_label(column), unit_label(column))
    return t(f"{area_name(root, period)} 各{level_label(level)}{measure}，{period_both(period)}",
             f"{measure} by {level_label(level)}, {area_name(root, period)}, "
             f"{period_both(period)}")


def status_line(column: str, level: str, root: str, period: str) -> str:
    return t(f"已顯示 {area_name(root, period)} 各{level_label(level)}之{measure_label(column)}，"
             f"{period_both(period)}。",
             f"Showing {measure_label(column).lower()} by {level_label(level)} in "
             f"{area_name(root, period)}, {period_both(period)}.")


def result(values: pl.DataFrame, column: str, integer: bool, level: str, root: str,
           period: str, shapes: geo.AreaShapes | None) -> list[Any]:
    """The map (with its text alternative), the table beside it and the notes under it."""
    edges = geo.class_edges(values["value"])
    colours = geo.class_colours(len(edges) - 1) if edges else []
    painted = values.with_columns(geo.value_class(pl.col("value"), edges).alias("class"))
    painted = painted.with_columns(pl.col("class").replace_strict(
        dict(enumerate(colours)), default=None, return_dtype=pl.String
    ).fill_null(geo.NO_DATA).alias("fill"))
    texts = [value_text(v, integer) for v in painted["value"].to_list()]
    painted = painted.with_columns(pl.Series("text", texts, dtype=pl.String))
    scale = colour_bar(edges, colours, column, integer)
    notes: list[Any] = [html.P(t("灰色：不在所選範圍或授權範圍內（未讀取資料）；淺灰：無數值。",
                                 "Grey: outside the chosen area or the grant (not read); "
                                 "pale grey: no value."), className="note")]
    if shapes is None:
        drawing = tile_figure(painted, scale)
    else:
        drawn = geo.within(shapes.codes, root) if level != "county" else shapes.codes
        joined = geo.join_codes(geo.within(shapes.codes, root), painted["area_code"].to_list())
        drawing = boundary_figure(shapes, drawn, painted, scale)
        notes.append(join_note(joined, dict(zip(painted["area_code"].to_list(),
                                                painted["name"].to_list(), strict=True))))
    caption = map_caption(column, level, root, period)
    described = t(f"地圖：{caption}。數值見旁邊的表格。",
                  f"Map: {caption}. The values are in the table beside the map.")
    graph = html.Div(dcc.Graph(figure=drawing, config=PLOT_CONFIG, mathjax=False),
                     role="img", className="map-figure", **{"aria-label": described},
                     style={"flex": "3 1 32rem", "minWidth": "20rem"})
    return [html.Div([graph, value_table(painted, caption, column)],
                     style={"display": "flex", "flexWrap": "wrap", "gap": "1rem",
                            "alignItems": "flex-start"}),
            *notes]


def value_table(painted: pl.DataFrame, caption: str, column: str) -> Any:
    rows = [html.Tr([html.Th(code, scope="row"), html.Td(name), html.Td(text, className="num")])
            for code, name, text in painted.select("area_code", "name", "text").iter_rows()]
    return html.Div(html.Table([
        html.Caption(caption),
        html.Thead(html.Tr([html.Th(t("區域代碼", "Area code"), scope="col"),
                            html.Th(t("名稱", "Name"), scope="col"),
                            html.Th(bracketed(measure_label(column), unit_label(column)),
                                    scope="col", className="num")])),
        html.Tbody(rows),
    ], className="map-values"), tabIndex="0", role="region", **{"aria-label": caption},
        style={"flex": "1 1 18rem", "maxHeight": "40rem", "overflow": "auto"})


def join_note(joined: geo.BoundaryJoin, names: dict[str, str] | None = None) -> Any:
    """How many boundaries found no row and rows no boundary (codes differ between the
    boundary file's vintage and the release's code table: villages created since are not
    on the map), each listed by code and, for rows, name."""
    features = joined.features_without_data
    rows = [f"{code} {names[code]}" if names and code in names else code
            for code in joined.rows_without_feature]
    if not features and not rows:
        return html.P(t("每個邊界都有對應資料。", "Every boundary matched a release row."),
                      className="note")
    return html.Details([
        html.Summary(t(f"代碼不一致：{len(features)} 個邊界無對應資料，"
                       f"{len(rows)} 筆資料無對應邊界（表中仍列出）。",
                       f"Codes differ: {len(features)} boundaries without data, "
                       f"{len(rows)} rows without a boundary (still listed in the table).")),
        html.P(t("無資料之邊界：", "Boundaries without data: ") + ("、".join(features) or "—")),
        html.P(t("無邊界之資料：", "Rows without a boundary: ") + ("、".join(rows) or "—")),
    ], className="note")


# --- figures (pure: frames in, plotly figures out) ----------------------------------------

def colour_bar(edges: list[float], colours: list[str], column: str,
               integer: bool) -> dict[str, Any] | None:
    """The marker settings that show the classes as a stepped colour bar (None: no values)."""
    if not edges:
        return None
    low, high = edges[0], edges[-1] if edges[-1] > edges[0] else edges[0] + 1
    return {"colorscale": geo.stepped_colorscale(colours, edges), "cmin": low, "cmax": high,
            "showscale": True, "opacity": 0, "size": 14,
            "colorbar": {"title": {"text": unit_label(column) or measure_label(column)},
                         "tickvals": edges, "ticktext": [edge_text(e, integer) for e in edges]}}


def edge_text(edge: float, integer: bool) -> str:
    """A class edge: whole numbers of a count as counts, a count's fractional edge (0.5
    between 0 and 1) with one decimal so it never reads as a neighbouring count."""
    if integer:
        return f"{edge:,.0f}" if float(edge).is_integer() else f"{edge:,.1f}"
    return f"{edge:,.2f}"


def _markers(painted: pl.DataFrame, x: list[float], y: list[float],
             scale: dict[str, Any] | None) -> dict[str, Any]:
    """One invisible point per shown area, carrying its hover text and the colour bar;
    ``customdata`` holds the codes and ``marker.color`` the values, exactly as read."""
    names, values, codes = (painted[c].to_list() for c in ("name", "value", "area_code"))
    hover = [f"{n} ({c})<br>{v}" for n, c, v in zip(names, codes, painted["text"].to_list(),
                                                   strict=True)]
    marker = dict(scale or {"opacity": 0, "size": 14, "color": "#000000"})
    if scale:  # an empty value stays null: no colour, never a number
        marker["color"] = values
    return {"type": "scatter", "x": x, "y": y, "customdata": codes, "hovertext": hover,
            "hoverinfo": "text", "mode": "markers", "marker": marker, "showlegend": False,
            "name": ""}


def tile_figure(painted: pl.DataFrame, scale: dict[str, Any] | None) -> dict[str, Any]:
    """The 22 county tiles: painted ones coloured and labelled, the others grey and bare."""
    tiles = pl.DataFrame([(code, col, row) for code, (col, row) in geo.COUNTY_TILES.items()],
                         schema=["area_code", "col", "row"], orient="row")
    tiles = tiles.join(painted.select("area_code", "fill"), on="area_code", how="left")
    gap = 0.06
    shapes = [{"type": "rect", "x0": col + gap, "x1": col + 1 - gap, "y0": row + gap,
               "y1": row + 1 - gap, "name": code, "line": {"width": 0}, "layer": "below",
               "fillcolor": fill or geo.OUTSIDE}
              for code, col, row, fill in tiles.iter_rows()]
    shown = painted.join(tiles.select("area_code", "col", "row"), on="area_code", how="inner")
    x = [c + 0.5 for c in shown["col"].to_list()]
    y = [r + 0.5 for r in shown["row"].to_list()]
    # labels in their own trace: plotly fades a point's text with its (invisible) marker
    labels = {
        "type": "scatter", "x": x, "y": y, "mode": "text", "hoverinfo": "skip",
        "showlegend": False, "name": "",
        "text": [f"{n}<br>{v}" for n, v in zip(shown["name"].to_list(), shown["text"].to_list(),
                                               strict=True)],
        "textfont": {"color": [geo.text_colour(f) for f in shown["fill"].to_list()], "size": 13},
    }
    return figure([labels, _markers(shown, x, y, scale)], {
        "shapes": shapes, "height": 640, "margin": {"l": 8, "r": 8, "t": 36, "b": 8},
        "dragmode": False,
        "xaxis": {"visible": False, "range": [0, geo.TILE_COLUMNS], "fixedrange": True},
        "yaxis": {"visible": False, "range": [geo.TILE_ROWS, 0], "fixedrange": True,
                  "scaleanchor": "x", "scaleratio": 1},
    })


def _outline(shapes: geo.AreaShapes, codes: list[str]) -> tuple[list[Any], list[Any]]:
    """Every ring of ``codes`` in one x/y pair of lists, rings separated by None (plotly
    fills each separated ring of a ``fill="toself"`` trace on its own)."""
    x: list[Any] = []
    y: list[Any] = []
    for code in codes:
        for ring in shapes.rings.get(code, []):
            x += [p[0] for p in ring] + [None]
            y += [p[1] for p in ring] + [None]
    return x, y


def boundary_figure(shapes: geo.AreaShapes, drawn: list[str], painted: pl.DataFrame,
                    scale: dict[str, Any] | None) -> dict[str, Any]:
    """The boundaries of ``drawn``: one filled trace per colour (a class, no value, or grey
    for areas not read), then the hover/colour-bar points at each painted area's label."""
    fills = pl.DataFrame({"area_code": drawn}, schema={"area_code": pl.String}).join(
        painted.select("area_code", "fill"), on="area_code", how="left"
    ).with_columns(pl.col("fill").fill_null(geo.OUTSIDE))
    traces: list[Any] = []
    for fill, codes in fills.group_by("fill", maintain_order=True).agg("area_code").iter_rows():
        x, y = _outline(shapes, codes)
        traces.append({"type": "scatter", "x": x, "y": y, "fill": "toself", "fillcolor": fill,
                       "mode": "lines", "line": {"color": "#ffffff", "width": 0.6},
                       "hoverinfo": "skip", "showlegend": False, "name": "",
                       "meta": codes})  # meta: which areas
    placed = painted.filter(pl.col("area_code").is_in(list(shapes.labels)))
    points = [shapes.labels[c] for c in placed["area_code"].to_list()]
    traces.append(_markers(placed, [p[0] for p in points], [p[1] for p in points], scale))
    latitudes = [p[1] for p in points] or [23.7]
    middle = (min(latitudes) + max(latitudes)) / 2
    return figure(traces, {
        "height": 640, "margin": {"l": 8, "r": 8, "t": 36, "b": 8},
        "xaxis": {"visible": False},
        # a degree of longitude is cos(latitude) as long as one of latitude
        "yaxis": {"visible": False, "scaleanchor": "x",
                  "scaleratio": 1 / math.cos(math.radians(middle))},
    })


figure_download.register(PATH, "map", show, [MEASURE, LEVEL, ROOT, PERIOD])
