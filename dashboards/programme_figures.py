"""Figures and derived values of the CONTRACT §8 tables (issue 14): pure functions from the
rows a page was allowed to read to values, plotly JSON and accessible text tables.

No Flask, no request, no I/O (the language is an argument), like ``dashboards.figures``:
a test gets exactly what a callback shows. Two measures are derived here, not published:

* ``foreign_spouse_share`` — persons marrying whose original nationality is not ROC, in
  percent of those of known nationality (``marriages_by_nationality``; unknown, 0, is left
  out of both, as unknown mothers' ages are left out of the fertility rates);
* ``net_migration`` — a county's moves in minus its moves out (``migration_flows``, all
  origins including 99999, outside the register), which by CONTRACT §3/§8 equals
  ``vital_events.social_increase`` at county level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from dashboards.figures import TextTable, count_text, figure, ratio_text, sex_label, tr
from stats.catalogue import COLUMNS, VALUE_LABELS, Column
from stats.codes import COUNTY_NAMES, COUNTY_NAMES_EN
from stats.schemas import OUTSIDE_CODE

ROC = 1  # 本國籍
UNKNOWN = 0
DERIVED: dict[str, Column] = {
    "foreign_spouse_share": Column(
        "foreign_spouse_share", "外籍與大陸港澳配偶占結婚人數比率",
        "Spouses of foreign or mainland/HK-Macao origin, share of persons marrying", "%",
        "percent"),
    "net_migration": Column("net_migration", "縣市間淨遷徙人數", "Net migration between counties",
                            "人", "persons"),
}
OUTSIDE_NAME = {"zh": "戶籍以外", "en": "Outside the register"}
HEAT_SCALE = [[0.0, "#f7fbff"], [0.25, "#c6dbef"], [0.5, "#6baed6"], [0.75, "#2171b5"],
              [1.0, "#08306b"]]  # ColorBrewer Blues: ordered, prints in grey


def column(name: str) -> Column:
    """A published or derived column's labels and unit."""
    return DERIVED[name] if name in DERIVED else COLUMNS[name]


def label_with_unit(name: str, lang: str) -> str:
    col = column(name)
    label, unit = tr(lang, col.zh, col.en), tr(lang, col.unit_zh, col.unit_en)
    if not unit:
        return label
    return f"{label}（{unit}）" if lang == "zh" else f"{label} ({unit})"


# MOI's publication order: the six special municipalities, the other counties and cities
# (Taiwan province), then Fujian's Kinmen and Lienchiang; outside the register last
MUNICIPALITIES = ("65000", "63000", "68000", "66000", "67000", "64000")
FUJIAN = ("09020", "09007")


def publication_order(codes: Sequence[str]) -> list[str]:
    """County codes in the order MOI's tables list them (unknown codes after, by code)."""
    def key(code: str) -> tuple[int, str]:
        if code in MUNICIPALITIES:
            return 0, str(MUNICIPALITIES.index(code))
        if code == OUTSIDE_CODE:
            return 4, code
        return (2, str(FUJIAN.index(code))) if code in FUJIAN else (1, code)
    return sorted(codes, key=key)


def place_name(code: str, lang: str) -> str:
    """A county (or 99999, outside the register) as the flow pages name it."""
    if code == OUTSIDE_CODE:
        return OUTSIDE_NAME[lang]
    names = COUNTY_NAMES_EN if lang == "en" else COUNTY_NAMES
    return names.get(code, code)


# --- marriages: the foreign-spouse share ----------------------------------------------------

def foreign_spouse_share(frame: pl.DataFrame) -> pl.DataFrame:
    """period, area_code, foreign_spouse_share from ``marriages_by_nationality`` rows (both
    sexes, every nationality): non-ROC persons / persons of known nationality × 100; null
    where nobody of known nationality married."""
    known = pl.col("persons").filter(pl.col("nationality") != UNKNOWN).sum()
    foreign = pl.col("persons").filter(~pl.col("nationality").is_in([UNKNOWN, ROC])).sum()
    return (frame.group_by("period", "area_code")
            .agg(pl.when(known > 0).then(foreign * 100 / known).alias("foreign_spouse_share"))
            .sort("period", "area_code"))


# --- migration flows ---------------------------------------------------------------------

def net_migration(frame: pl.DataFrame, counties: Sequence[str]) -> pl.DataFrame:
    """area_code, net_migration of each of ``counties``: moves whose destination it is minus
    moves whose origin it is. ``frame`` must hold every origin's rows (99999 too): a county's
    moves in are other counties' rows."""
    moves_in = frame.group_by(pl.col("to_code").alias("area_code")).agg(
        pl.col("moves").sum().alias("in"))
    moves_out = frame.group_by("area_code").agg(pl.col("moves").sum().alias("out"))
    return (pl.DataFrame({"area_code": list(counties)}, schema={"area_code": pl.String})
            .join(moves_in, on="area_code", how="left").join(moves_out, on="area_code", how="left")
            .select("area_code", (pl.col("in").fill_null(0) - pl.col("out").fill_null(0))
                    .alias("net_migration")))


def flow_matrix(frame: pl.DataFrame, origins: Sequence[str], destinations: Sequence[str],
                measure: str) -> list[list[int | None]]:
    """``measure`` of each origin (row) to each destination (column); None on the diagonal
    (a move within one county is no flow) and where the release has no row."""
    cells = {(o, d): v for o, d, v in frame.select("area_code", "to_code", measure).iter_rows()}
    return [[None if o == d else cells.get((o, d)) for d in destinations] for o in origins]


def flow_heatmap(matrix: list[list[int | None]], origins: Sequence[str],
                 destinations: Sequence[str], measure: str, lang: str) -> dict[str, Any]:
    """The origin × destination matrix as a heat map: origins down, destinations across,
    exact counts on hover (the same values are in the table beside it)."""
    ys = [place_name(c, lang) for c in origins]
    xs = [place_name(c, lang) for c in destinations]
    hover = tr(lang, "遷出：%{y}<br>遷入：%{x}<br>%{z:,} 人",
               "From %{y}<br>to %{x}<br>%{z:,} persons")
    trace = {"type": "heatmap", "z": matrix, "x": xs, "y": ys, "colorscale": HEAT_SCALE,
             "xgap": 1, "ygap": 1, "hoverongaps": False, "hovertemplate": hover + "<extra></extra>",
             "colorbar": {"title": {"text": tr(lang, "人", "persons")}}}
    height = max(320, 90 + 26 * len(origins))
    return figure([trace], {
        "height": height, "margin": {"l": 120, "r": 20, "t": 36, "b": 130},
        "xaxis": {"title": {"text": tr(lang, "遷入縣市 →", "To (destination) →")},
                  "type": "category", "tickangle": -60, "showline": False, "ticks": ""},
        # a rotated axis title overlaps the county names: a label over them instead
        "yaxis": {"type": "category", "autorange": "reversed", "showline": False, "ticks": ""},
        "annotations": [{"text": tr(lang, "遷出縣市 ↓", "From (origin) ↓"), "showarrow": False,
                         "xref": "paper", "yref": "paper", "x": 0, "y": 1, "xanchor": "right",
                         "yanchor": "bottom", "font": {"size": 13}}],
    })


def largest_flows(frame: pl.DataFrame, measure: str, limit: int) -> pl.DataFrame:
    """The ``limit`` largest non-zero flows: area_code, to_code, value (ties by codes)."""
    return (frame.filter(pl.col(measure) > 0)
            .select("area_code", "to_code", pl.col(measure).alias("value"))
            .sort(["value", "area_code", "to_code"], descending=[True, False, False])
            .head(limit))


def flows_table(flows: pl.DataFrame, caption: str, lang: str) -> TextTable:
    """The largest flows as rank, origin, destination, persons."""
    rows = [[str(k), place_name(o, lang), place_name(d, lang), count_text(v)]
            for k, (o, d, v) in enumerate(flows.iter_rows(), start=1)]
    return TextTable(caption, [tr(lang, "名次", "Rank"), tr(lang, "遷出", "From"),
                               tr(lang, "遷入", "To"), tr(lang, "人數", "Persons")], rows)


def matrix_table(matrix: list[list[int | None]], origins: Sequence[str],
                 destinations: Sequence[str], caption: str, lang: str) -> TextTable:
    """The heat map's values as a table (origins as rows), "—" on the diagonal."""
    rows = [[place_name(o, lang), *(count_text(v) for v in row)]
            for o, row in zip(origins, matrix, strict=True)]
    return TextTable(caption, [tr(lang, "遷出＼遷入", "From \\ to"),
                               *(place_name(d, lang) for d in destinations)], rows)


# --- indigenous peoples ----------------------------------------------------------------------

def tribe_name(tribe: int, lang: str) -> str:
    return tr(lang, *VALUE_LABELS["tribe"][tribe])


def butterfly_figure(labels: Sequence[str], male: Sequence[int], female: Sequence[int],
                     lang: str) -> dict[str, Any]:
    """Males left, females right, one row per label (top to bottom in the given order); no
    rotated axis title, which overlaps long CJK labels (the caption names the rows)."""
    from dashboards.figures import SEX_COLOURS, symmetric_ticks

    limit = float(max([*male, *female, 0]))
    ticks, texts = symmetric_ticks(limit, False)
    traces = [{
        "type": "bar", "orientation": "h", "y": list(labels), "name": sex_label(sex, lang),
        "x": [-v for v in values] if sex == 1 else list(values),
        "customdata": list(values), "marker": {"color": SEX_COLOURS[sex]},
        "hovertemplate": f"{sex_label(sex, lang)} %{{y}}: %{{customdata:,}}<extra></extra>",
    } for sex, values in ((1, male), (2, female))]
    return figure(traces, {
        "barmode": "overlay", "bargap": 0.15, "height": max(320, 80 + 24 * len(labels)),
        "margin": {"l": 110, "r": 20, "t": 20, "b": 70},
        "legend": {"orientation": "h", "y": -0.12},
        "xaxis": {"title": {"text": tr(lang, "人數（左：男，右：女）",
                                       "Persons (left: male, right: female)")},
                  "tickvals": ticks, "ticktext": texts, "zeroline": True,
                  "range": [-limit * 1.05, limit * 1.05] if limit else None},
        "yaxis": {"type": "category", "autorange": "reversed",
                  "categoryorder": "array", "categoryarray": list(labels)},
    })


def sex_table(labels: Sequence[str], male: Sequence[int], female: Sequence[int],
              first: str, caption: str, lang: str) -> TextTable:
    rows = [[name, count_text(m), count_text(f), count_text(m + f)]
            for name, m, f in zip(labels, male, female, strict=True)]
    return TextTable(caption, [first, tr(lang, "男", "Male"), tr(lang, "女", "Female"),
                               tr(lang, "合計", "Total")], rows)


# --- life tables --------------------------------------------------------------------------

LIFE_SEXES = (2, 1, 0)  # drawn women, men, both: women live longest, so the legend reads down


def life_lines(frame: pl.DataFrame, periods: Sequence[str], labels: Sequence[str], age: int,
               caption: str, lang: str) -> tuple[dict[str, Any], TextTable]:
    """Life expectancy at ``age`` over ``periods`` (years, shown as ``labels``), one line per
    sex, and its table. ``frame``: life_table rows of one area."""
    at_age = frame.filter(pl.col("age_group") == age)
    values = {(p, s): e for p, s, e in at_age.select("period", "sex", "ex").iter_rows()}
    traces = []
    colours = {1: "#0072B2", 2: "#D55E00", 0: "#444444"}
    for sex in LIFE_SEXES:
        name = sex_label(sex, lang)
        traces.append({"type": "scatter", "mode": "lines+markers", "name": name,
                       "x": list(labels), "y": [values.get((p, sex)) for p in periods],
                       "line": {"color": colours[sex], "dash": "dot" if sex == 0 else "solid"},
                       "marker": {"color": colours[sex], "size": 9},
                       "hovertemplate": f"{name} %{{x}}: %{{y:.2f}}<extra></extra>"})
    fig = figure(traces, {
        "height": 380, "margin": {"l": 70, "r": 20, "t": 20, "b": 60},
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"title": {"text": tr(lang, "年", "Year")}, "type": "category"},
        "yaxis": {"title": {"text": tr(lang, "歲", "years")}, "tickformat": ".1f"},
    })
    rows = [[label, *(ratio_text(values.get((p, s))) for s in LIFE_SEXES)]
            for p, label in zip(periods, labels, strict=True)]
    table = TextTable(caption, [tr(lang, "年", "Year"), *(sex_label(s, lang) for s in LIFE_SEXES)],
                      rows)
    return fig, table


def county_dots(frame: pl.DataFrame, counties: Sequence[str], names: dict[str, str],
                lang: str) -> dict[str, Any]:
    """e0 of each county for men and women (one row per county, a dot per sex), sorted by
    the women's value so the ranking reads top to bottom."""
    birth = frame.filter(pl.col("age_group") == 0, pl.col("sex").is_in([1, 2]))
    wide = {(a, s): e for a, s, e in birth.select("area_code", "sex", "ex").iter_rows()}
    order = sorted(counties, key=lambda c: -(wide.get((c, 2)) or 0))
    labels = [names.get(c, c) for c in order]
    traces = [{"type": "scatter", "mode": "markers", "name": sex_label(sex, lang),
               "y": labels, "x": [wide.get((c, sex)) for c in order],
               "marker": {"color": {1: "#0072B2", 2: "#D55E00"}[sex], "size": 10,
                          "symbol": "circle" if sex == 2 else "diamond"},
               "hovertemplate": f"{sex_label(sex, lang)} %{{y}}: %{{x:.2f}}<extra></extra>"}
              for sex in (1, 2)]
    return figure(traces, {
        "height": max(300, 90 + 24 * len(order)),
        "margin": {"l": 110, "r": 20, "t": 20, "b": 60},
        "legend": {"orientation": "h", "y": -0.12},
        "xaxis": {"title": {"text": tr(lang, "出生時平均餘命（歲）",
                                       "Life expectancy at birth (years)")},
                  "showgrid": True, "gridcolor": "#eeeeee"},
        "yaxis": {"type": "category", "autorange": "reversed", "categoryorder": "array",
                  "categoryarray": labels},
    })


def life_age_label(group: int, lang: str) -> str:
    """A life-table age group: the catalogue's label, but 85 is the open group here."""
    if group == 85:
        return tr(lang, "85歲以上", "85 and over")
    return tr(lang, *VALUE_LABELS["age_group"][group])


def life_table_text(frame: pl.DataFrame, sex: int, caption: str, lang: str) -> TextTable:
    """One area's life table for ``sex``: age group, qx, lx, dx, ex."""
    rows = (frame.filter(pl.col("sex") == sex).sort("age_group")
            .select("age_group", "mx", "qx", "lx", "dx", "ex").iter_rows())
    body = [[life_age_label(g, lang), ratio_text(mx, 5), ratio_text(qx, 5), count_text(lx),
             count_text(dx), ratio_text(ex)]
            for g, mx, qx, lx, dx, ex in rows]
    head = [tr(lang, "年齡組", "Age group"), *(tr(lang, column(c).zh, column(c).en)
                                              for c in ("mx", "qx", "lx", "dx", "ex"))]
    return TextTable(caption, head, body)
