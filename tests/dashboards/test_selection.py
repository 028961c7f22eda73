"""Stored selections of deliveries applied to rows (``access.packages``) and the builder's
file choices (``dashboards.selection``), on tiny frames computed by hand."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from access.packages import (
    SelectionError,
    check_selection,
    granted_rows,
    selected_rows,
    selected_spec,
)
from dashboards.selection import file_encoding
from stats.catalogue import TABLES
from stats.codes import level_of_code

BROAD = [[0, 14], [15, 64], [65, None]]
FIVE_YEAR = [[low, low + 4] for low in range(0, 100, 5)] + [[100, None]]


def selection_of(table: str, level: str | None, keys: list[str], measures: list[str],
                 bands: dict | None = None, fmt: str | None = None) -> dict:
    """A stored selection as a delivery keeps it, checked as where it is applied."""
    selection = {"level": level, "keys": keys, "bands": bands or {}, "measures": measures}
    check_selection(table, selection, fmt)
    return selection


def ages_frame() -> pl.DataFrame:
    """Two areas × sex 1/2 × ages 13, 14, 15, 70: population = age + sex (area 63000) or
    10 × that (63000010), so every sum below can be done in one's head."""
    rows = [("2025-03", level, code, sex, age, (age + sex) * factor)
            for level, code, factor in (("county", "63000", 1), ("township", "63000010", 10))
            for sex in (1, 2) for age in (13, 14, 15, 70)]
    return pl.DataFrame(rows, schema={"period": pl.String, "area_level": pl.String,
                                      "area_code": pl.String, "sex": pl.Int8, "age": pl.Int16,
                                      "population": pl.Int64}, orient="row")


def test_default_selection_keeps_the_release_rows_as_they_are():
    frame = ages_frame()
    selection = selection_of("population_by_age", None, ["sex", "age"], ["population"])
    assert selection == {"level": None, "keys": ["sex", "age"], "bands": {},
                         "measures": ["population"]}
    assert_frame_equal(selected_rows(frame, selection), frame)


def test_dropping_sex_sums_over_it_in_release_order():
    selection = selection_of("population_by_age", "county", ["age"], ["population"])
    rows = selected_rows(ages_frame(), selection)
    # county 63000: age a → (a + 1) + (a + 2) = 2a + 3
    assert rows.columns == ["period", "area_level", "area_code", "age", "population"]
    assert rows["age"].to_list() == [13, 14, 15, 70]
    assert rows["population"].to_list() == [29, 31, 33, 143]


def test_broad_age_bands_are_summed_and_labelled():
    selection = selection_of("population_by_age", "township", ["sex", "age"], ["population"],
                             {"age": BROAD})
    rows = selected_rows(ages_frame(), selection)
    assert rows.columns == ["period", "area_level", "area_code", "sex", "age_group", "population"]
    # township: 10 × (age + sex); 0-14 holds ages 13 and 14, 15-64 holds 15, 65+ holds 70
    assert rows.select("sex", "age_group", "population").rows() == [
        (1, "0-14", 290), (1, "15-64", 160), (1, "65+", 710),
        (2, "0-14", 310), (2, "15-64", 170), (2, "65+", 720),
    ]


def test_measures_subset_and_level_filter():
    frame = pl.DataFrame({"period": ["2025-03"] * 3, "area_level": ["county", "township",
                                                                    "village"],
                          "area_code": ["63000", "63000010", "63000010001"],
                          "households": [5, 3, 1], "population": [9, 6, 2], "male": [4, 3, 1],
                          "female": [5, 3, 1]})
    selection = selection_of("population", "township", [], ["population", "female"])
    assert selected_rows(frame, selection).rows() == [
        ("2025-03", "township", "63000010", 6, 3)]


@pytest.mark.parametrize("selection", [
    {"level": "village", "keys": [], "measures": ["population"], "extra": 1},  # unknown field
    {"level": "village", "keys": [], "measures": ["population"]},  # marital: no village level
    {"keys": ["age"], "measures": ["population"]},  # not a key of this table
    {"keys": ["sex"], "bands": {"sex": [[1, 1]]}, "measures": ["population"]},  # not numeric
])
def test_stored_selections_are_checked_again(selection):
    """What a delivery stores is checked where it is applied, not only in the builder."""
    with pytest.raises(SelectionError):
        check_selection("population_by_marital_status", selection)


@pytest.mark.parametrize("fmt", ["px", "jsonstat", "sdmx-csv", "csv"])
def test_age_bands_are_accepted_by_every_format_but_moi(fmt):
    assert selection_of("population_by_age", None, ["sex", "age"], ["population"],
                        {"age": FIVE_YEAR}, fmt)
    with pytest.raises(SelectionError, match="cannot be written"):
        selection_of("population_by_age", None, ["sex", "age"], ["population"], {"age": BROAD},
                     "moi")


def test_overlapping_bands_are_refused():
    with pytest.raises(SelectionError, match="ascending"):
        check_selection("population_by_age", {
            "keys": ["age"], "bands": {"age": [[0, 20], [10, 30]]}, "measures": ["population"]})


def test_selected_spec_labels_the_band_column():
    selection = selection_of("population_by_age", None, ["age"], ["population"], {"age": BROAD})
    spec = selected_spec(TABLES["population_by_age"], selection)
    assert spec.keys == ("age_group",)
    assert [c.name for c in spec.columns] == [
        "period", "area_level", "area_code", "age_group", "population"]
    assert (spec.column("age_group").zh, spec.column("age_group").en) == ("年齡組", "Age group")


def test_granted_rows_by_prefix_of_mixed_lengths():
    frame = pl.DataFrame({"area_code": ["00000", "63000", "63000010", "63000010001",
                                        "63000020", "64000", "64000010"]})
    assert granted_rows(frame, ["63000010", "64000"])["area_code"].to_list() == [
        "63000010", "63000010001", "64000", "64000010"]
    assert granted_rows(frame, [])["area_code"].to_list() == []


@pytest.mark.parametrize(("code", "level"), [
    ("00000", "national"), ("63000", "county"), ("63000010", "township"),
    ("63000010001", "village"), ("6300", None), ("../x", None),
])
def test_level_of(code, level):
    assert level_of_code(code) == level


def test_binary_formats_are_written_in_unicode_whatever_was_chosen():
    assert file_encoding("csv", "cp950") == "cp950"
    assert file_encoding("xlsx", "cp950") == "utf-8"


