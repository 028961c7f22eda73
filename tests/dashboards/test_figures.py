"""The pure figure and table functions of ``dashboards.figures`` on tiny hand-made frames
(every expectation below is worked out by hand in the comments)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import pytest

from dashboards import figures


def by_age(period: str, counts: dict[tuple[int, int], int]) -> pl.DataFrame:
    """A ``population_by_age`` slice of one area: every sex × age 0…100, zeros included."""
    rows = [{"period": period, "area_level": "county", "area_code": "63000", "sex": sex,
             "age": age, "population": counts.get((sex, age), 0)}
            for sex in (1, 2) for age in range(101)]
    return pl.DataFrame(rows, schema_overrides={"sex": pl.Int8, "age": pl.Int16})


# males: 3 aged 2, 1 aged 4, 2 aged 5; females: 4 aged 0, 2 aged 99, 5 aged 100 (and over)
MARCH = by_age("2025-03", {(1, 2): 3, (1, 4): 1, (1, 5): 2, (2, 0): 4, (2, 99): 2, (2, 100): 5})
# a different period: 10 males aged 7 only
EARLIER = by_age("2024-03", {(1, 7): 10})


def test_pyramid_values_five_year_bands_sum_by_hand():
    values = figures.pyramid_values(MARCH, ["2025-03"], 5)
    assert len(values) == 21 * 2  # 0–4 … 95–99 and 100+, for each sex
    row = {(r["label"], r["sex"]): r["count"] for r in values.iter_rows(named=True)}
    assert row[("0–4", 1)] == 3 + 1 and row[("5–9", 1)] == 2 and row[("0–4", 2)] == 4
    assert row[("95–99", 2)] == 2 and row[("100+", 2)] == 5 and row[("10–14", 1)] == 0
    # total 17: 4 females aged 0–4 are 4/17 of it
    share = values.filter(pl.col("label") == "0–4", pl.col("sex") == 2)["percent"][0]
    assert share == pytest.approx(400 / 17)
    assert values["percent"].sum() == pytest.approx(100)


def test_pyramid_values_single_years_keep_100_and_over_apart():
    values = figures.pyramid_values(MARCH, ["2025-03"], 1)
    labels = values.filter(pl.col("sex") == 1)["label"].to_list()
    assert labels[:3] == ["0", "1", "2"] and labels[-2:] == ["99", "100+"] and len(labels) == 101


def test_pyramid_values_each_period_has_its_own_total_and_order():
    values = figures.pyramid_values(pl.concat([MARCH, EARLIER]), ["2025-03", "2024-03"], 5)
    assert values["period"].unique(maintain_order=True).to_list() == ["2025-03", "2024-03"]
    earlier = values.filter(pl.col("period") == "2024-03")
    assert earlier.filter(pl.col("label") == "5–9", pl.col("sex") == 1)["count"][0] == 10
    assert earlier.filter(pl.col("label") == "5–9", pl.col("sex") == 1)["percent"][0] == 100
    assert earlier["count"].sum() == 10  # nothing of March leaked into 2024-03


def test_pyramid_values_of_an_empty_area_have_no_percentages():
    values = figures.pyramid_values(by_age("2025-03", {}), ["2025-03"], 5)
    assert values["count"].sum() == 0 and values["percent"].null_count() == len(values)


def test_pyramid_figure_males_left_females_right_second_period_outlined():
    values = figures.pyramid_values(pl.concat([MARCH, EARLIER]), ["2025-03", "2024-03"], 5)
    figure = figures.pyramid_figure(values, ["2025-03", "2024-03"], False, "en")
    go.Figure(figure)  # plotly's own validation: the JSON is a well-formed figure
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["Male Mar 2025", "Female Mar 2025", "Male Mar 2024", "Female Mar 2024"]
    males, females, outline = figure["data"][0], figure["data"][1], figure["data"][2]
    assert males["x"][:2] == [-4, -2] and females["x"][:1] == [4]
    assert outline["marker"]["color"] == "rgba(0,0,0,0)"
    assert outline["marker"]["line"]["width"] > 0
    assert males["marker"]["color"] != "rgba(0,0,0,0)"
    assert outline["x"][1] == -10  # 2024-03's own ten males aged 5–9
    assert [c[0] for c in males["customdata"]][:2] == [4, 2]  # hover shows the count
    assert "customdata[0]" in males["hovertemplate"]
    layout = figure["layout"]
    assert layout["yaxis"]["categoryarray"][:2] == ["0–4", "5–9"]
    assert "-" not in "".join(layout["xaxis"]["ticktext"])
    assert layout["xaxis"]["range"] == [-10 * 1.05, 10 * 1.05]  # zero in the middle
    assert layout["xaxis"]["title"]["text"].startswith("Persons")
    assert "template" not in layout  # no template copied into every answer


def test_pyramid_figure_in_percent_draws_shares_and_chinese_labels():
    values = figures.pyramid_values(MARCH, ["2025-03"], 5)
    figure = figures.pyramid_figure(values, ["2025-03"], True, "zh")
    go.Figure(figure)
    assert figure["data"][0]["name"] == "男 114年3月"
    assert figure["data"][1]["x"][0] == pytest.approx(400 / 17)
    assert figure["layout"]["yaxis"]["title"]["text"] == "年齡"
    assert all(text.endswith("%") for text in figure["layout"]["xaxis"]["ticktext"])


def test_pyramid_table_rows_are_the_plotted_values():
    values = figures.pyramid_values(pl.concat([MARCH, EARLIER]), ["2025-03", "2024-03"], 5)
    table = figures.pyramid_table(values, ["2025-03", "2024-03"], True, "caption", "en")
    assert table.header[:3] == ["Age", "Male Mar 2025 (persons)", "Male Mar 2025 (%)"]
    assert len(table.header) == 1 + 2 * 2 * 2
    first = table.rows[0]  # 0–4: males 4 (4/17 = 23.53 %), females 4; 2024-03: nobody
    assert first[:5] == ["0–4", "4", "23.53", "4", "23.53"] and first[5:] == ["0", "0.00"] * 2
    assert table.rows[-1][0] == "100+" and table.rows[-1][3] == "5"


@pytest.mark.parametrize(("counts", "expected"), [
    # N = 8, N/2 = 4; cumulative 2, 4, 8 first reaches 4 at age 1: 1 + (4 - 2) / 2 = 2
    ({(1, 0): 2, (2, 1): 2, (1, 2): 4}, 2.0),
    # N = 4, N/2 = 2; cumulative 1 at 30, 4 at 40: 40 + (2 - 1) / 3
    ({(1, 30): 1, (2, 40): 3}, 40 + 1 / 3),
    ({(2, 100): 2}, 100 + (1 - 0) / 2),  # everyone 100 and over, counted as 100
])
def test_median_ages_follow_the_contract_rule(counts, expected):
    found = figures.median_ages(by_age("2025-03", counts))
    assert found["median_age"][0] == pytest.approx(expected)


def test_median_age_of_nobody_is_null():
    assert figures.median_ages(by_age("2025-03", {}))["median_age"][0] is None


@pytest.mark.parametrize(("limit", "step"), [(260, 100), (9, 5), (0.7, 0.2), (0, 1)])
def test_nice_step(limit, step):
    assert figures.nice_step(limit) == pytest.approx(step)


def test_symmetric_ticks_cover_the_limit_without_signs():
    values, texts = figures.symmetric_ticks(260, percent=False)
    assert values == [-300, -200, -100, 0, 100, 200, 300]
    assert texts == ["300", "200", "100", "0", "100", "200", "300"]


VITAL = pl.DataFrame({
    "period": ["2025-01", "2025-01", "2025-02"],
    "area_code": ["63000", "64000", "63000"],
    "births": [5, 7, 6],
})


def test_trend_values_fill_the_grid_with_nulls_not_zeros():
    values = figures.trend_values(VITAL, "births", ["2025-01", "2025-02"], ["63000", "64000"])
    got = {(r["period"], r["area_code"]): r["value"] for r in values.iter_rows(named=True)}
    assert got == {("2025-01", "63000"): 5, ("2025-01", "64000"): 7,
                   ("2025-02", "63000"): 6, ("2025-02", "64000"): None}


def test_trend_values_sum_further_keys_but_keep_a_null_ratio_null():
    indigenous = pl.DataFrame({"period": ["2025-03"] * 2, "area_code": ["63000"] * 2,
                               "indigenous": [1, 2], "population": [620, 675]})
    summed = figures.trend_values(indigenous, "population", ["2025-03"], ["63000"])
    assert summed["value"].to_list() == [620 + 675]
    ratio = pl.DataFrame({"period": ["2025-03"], "area_code": ["63000"], "sex_ratio": [None]},
                         schema_overrides={"sex_ratio": pl.Float64})
    assert figures.trend_values(ratio, "sex_ratio", ["2025-03"], ["63000"])["value"][0] is None


@pytest.mark.parametrize(("lang", "labels"), [("en", ["Jan 2025", "Feb 2025"]),
                                              ("zh", ["114年1月", "114年2月"])])
def test_trend_figure_one_line_per_area_labelled_in_the_language(lang, labels):
    values = figures.trend_values(VITAL, "births", ["2025-01", "2025-02"], ["63000", "64000"])
    names = {"63000": "Taipei", "64000": "Kaohsiung"}
    figure = figures.trend_figure(values, ["2025-01", "2025-02"], ["63000", "64000"], names,
                                  "Births", True, lang)
    go.Figure(figure)
    lines = figure["data"]
    assert [trace["name"] for trace in lines] == ["Taipei", "Kaohsiung"]
    assert lines[0]["x"] == labels
    assert lines[0]["y"] == [5, 6] and lines[1]["y"] == [7, None]
    assert figure["layout"]["yaxis"]["tickformat"] == "," and "%{y:,d}" in lines[0]["hovertemplate"]
    ratios = figures.trend_figure(values, ["2025-01"], ["63000"], names, "Sex ratio", False, lang)
    assert ratios["layout"]["yaxis"]["tickformat"] is None
    assert "%{y:,.2f}" in ratios["data"][0]["hovertemplate"]
    table = figures.trend_table(values, ["2025-01", "2025-02"], ["63000", "64000"], names,
                                "Births", True, lang)
    assert table.header[1:] == ["Taipei", "Kaohsiung"]
    assert table.rows == [[labels[0], "5", "7"], [labels[1], "6", "—"]]


def test_ratio_text_and_count_text():
    assert figures.count_text(1234567) == "1,234,567" and figures.count_text(None) == "—"
    assert figures.ratio_text(1234.556) == "1,234.56" and figures.ratio_text(None) == "—"


@pytest.mark.parametrize(("roots", "levels"), [
    (["00000"], ["national", "county", "township", "village"]),
    (["63000"], ["county", "township", "village"]),
    (["63000010", "64000"], ["county", "township", "village"]),
    (["63000010"], ["township", "village"]),
    ([], []),
])
def test_levels_within_the_highest_root(roots, levels):
    assert figures.levels_within(roots) == levels


AREAS = pl.DataFrame({
    "area_level": ["national", "county", "township", "village"],
    "area_code": ["00000", "63000", "63000010", "63000010001"],
    "area_name": ["全國", "臺北市", "臺北市中正區", "臺北市中正區甲里"],
})


def test_area_options_in_both_languages():
    assert [o["label"] for o in figures.area_options(AREAS, "zh")] == [
        "全國", "臺北市", "臺北市中正區", "臺北市中正區甲里"]
    assert [o["label"] for o in figures.area_options(AREAS, "en")] == [
        "Taiwan", "Taipei City", "臺北市中正區 (63000010)", "臺北市中正區甲里 (63000010001)"]
    assert [o["value"] for o in figures.area_options(AREAS, "en")] == AREAS["area_code"].to_list()


def test_html_table_scopes_its_header_cells():
    table = figures.html_table(figures.TextTable("Caption", ["Age", "Male"], [["0–4", "4"]]))
    caption, head, body = table.children
    assert caption.children == "Caption"
    assert all(cell.scope == "col" for cell in head.children.children)
    row = body.children[0].children
    assert row[0].scope == "row" and row[0].children == "0–4" and row[1].children == "4"
