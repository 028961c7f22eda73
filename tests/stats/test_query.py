"""CONTRACT §7: a query document, checked and normalised, and its result table, by hand."""

from __future__ import annotations

import polars as pl
import pytest

from stats.query import QueryError, is_additive, parse_query, run_query

CODES = ["63000010", "63000020", "64000010"]


def _ages(period: str, shift: int) -> pl.LazyFrame:
    """population_by_age for three townships: population = code index × 1000 + sex × 100 + age
    + shift, so every cell is known by hand."""
    rows = [
        {"period": period, "area_level": "township", "area_code": code, "sex": sex, "age": age,
         "population": i * 1000 + sex * 100 + age + shift}
        for i, code in enumerate(CODES) for sex in (1, 2) for age in range(101)
    ]
    national = {"period": period, "area_level": "national", "area_code": "00000", "sex": 1,
                "age": 0, "population": 999_999}
    return pl.DataFrame([*rows, national]).lazy()


TABLES = {"2025-01": _ages("2025-01", 0), "2025-02": _ages("2025-02", 10)}
NAMES = pl.DataFrame({"area_code": CODES, "area_name": ["松山區", "信義區", "楠梓區"],
                      "area_name_en": ["Songshan", "Xinyi", None]})
CONTRACT_EXAMPLE = {
    "table": "population_by_age", "periods": "2025-01..2025-02", "area_level": "township",
    "within": "63000", "measures": ["population"], "keep": ["sex"],
    "age_bands": [[0, 14], [15, 64], [65, 100]], "stub": ["area", "sex"],
    "heading": ["period", "measure"], "labels": "codes",
}


def _band_sum(i: int, sex: int, low: int, high: int, shift: int) -> int:
    return sum(i * 1000 + sex * 100 + age + shift for age in range(low, high + 1))


def test_the_contract_example_by_hand() -> None:
    query = parse_query(CONTRACT_EXAMPLE)
    result = run_query(query, TABLES, {"2025-01": 1, "2025-02": 2})
    frame = result.frame
    assert frame.columns == ["area_code", "sex", "2025-01|population", "2025-02|population"]
    assert frame["area_code"].to_list() == ["63000010", "63000010", "63000020", "63000020"]
    assert frame["sex"].to_list() == [1, 2, 1, 2]
    # age is not kept: summed over the bands, which cover 0…100
    assert frame["2025-01|population"].to_list() == [
        _band_sum(i, sex, 0, 100, 0) for i in (0, 1) for sex in (1, 2)]
    assert frame["2025-02|population"][3] == _band_sum(1, 2, 0, 100, 10)
    doc = result.as_json()
    assert doc["revisions"] == {"2025-01": 1, "2025-02": 2}
    assert doc["query"]["periods"] == ["2025-01", "2025-02"]
    assert doc["rows"][0] == ["63000010", 1, _band_sum(0, 1, 0, 100, 0), _band_sum(0, 1, 0, 100, 10)]


def test_bands_kept_as_age_band_with_labels_and_gaps_left_out() -> None:
    query = parse_query({**CONTRACT_EXAMPLE, "keep": ["sex", "age"], "age_bands": [[65, 100], [0, 14]],
                         "stub": ["area", "age_band"], "heading": ["sex", "period", "measure"],
                         "areas": ["64000010"], "within": None})
    frame = run_query(query, TABLES, {}).frame
    assert frame["age_band"].to_list() == ["0-14", "65+"]  # by band, not by text
    assert frame.columns[2:4] == ["1|2025-01|population", "1|2025-02|population"]
    assert frame["2|2025-02|population"].to_list() == [
        _band_sum(2, 2, 0, 14, 10), _band_sum(2, 2, 65, 100, 10)]


def test_row_order_is_area_then_keys_then_period_whatever_the_stub_order() -> None:
    query = parse_query({**CONTRACT_EXAMPLE, "stub": ["period", "sex", "area"],
                         "heading": ["measure"]})
    frame = run_query(query, TABLES, {}).frame
    assert frame.columns == ["period", "sex", "area_code", "population"]
    assert list(zip(frame["area_code"], frame["sex"], frame["period"], strict=True))[:4] == [
        ("63000010", 1, "2025-01"), ("63000010", 1, "2025-02"),
        ("63000010", 2, "2025-01"), ("63000010", 2, "2025-02")]


@pytest.mark.parametrize(("labels", "period", "sex", "name", "measure"), [
    ("zh-TW", "114年1月", "男", "松山區", "人口數"),
    ("en", "Jan 2025", "male", "Songshan", "Population"),
])
def test_labels(labels: str, period: str, sex: str, name: str, measure: str) -> None:
    query = parse_query({**CONTRACT_EXAMPLE, "labels": labels, "within": None,
                         "stub": ["area", "period"], "heading": ["sex", "measure"]})
    frame = run_query(query, TABLES, {}, names=NAMES).frame
    assert frame.columns[:3] == ["area_code", "area_name", "period"]
    assert frame.columns[3] == f"{sex}|{measure}"
    assert frame.row(0)[:3] == ("63000010", name, period)
    # no English name: the Chinese one stands in (the code is beside it)
    assert frame.filter(pl.col("area_code") == "64000010")["area_name"][0] == "楠梓區"


def test_allowed_areas_are_the_callers() -> None:
    query = parse_query({**CONTRACT_EXAMPLE, "within": None})
    frame = run_query(query, TABLES, {},
                      allowed=lambda code: code.str.starts_with("64000")).frame
    assert frame["area_code"].unique().to_list() == ["64000010"]


def test_defaults_fill_in() -> None:
    query = parse_query({"table": "population_by_age", "periods": ["2025-02", "2025-01"],
                         "area_level": "township"})
    assert query.as_json() == {
        "table": "population_by_age", "periods": ["2025-01", "2025-02"],
        "area_level": "township", "measures": ["population"], "keep": ["sex", "age"],
        "stub": ["area", "period", "sex", "age"], "heading": ["measure"], "labels": "zh-TW"}


@pytest.mark.parametrize(("doc", "reasons"), [
    ([], ["a query is a JSON object"]),
    ({"table": "nope"}, ["table: one of"]),
    ({"table": "indicators", "periods": ["2025-01", "2025-Q1"], "area_level": "village",
      "keep": ["sex"]}, ["periods: all of one kind", "keep: sex not among nothing"]),
    ({"table": "population_by_age", "periods": "2025-03..2025-01", "area_level": "x",
      "labels": "fr"}, ["ends before it starts", "area_level: one of", "labels: one of"]),
    ({"table": "population_by_marital_status", "periods": "2025", "area_level": "village"},
     ["area_level: one of national, county, township"]),
    ({"table": "population_by_age", "periods": "2025-01", "area_level": "township",
      "areas": ["63000", "63000' OR '1'='1"]}, ["areas: a list of 1 to"]),
    ({"table": "population_by_age", "periods": "2025-01", "area_level": "township",
      "areas": ["63000"]}, ["areas: 63000 not of level township"]),
    ({"table": "population_by_age", "periods": "2025-01", "area_level": "county",
      "age_bands": [[0, 20], [15, 64], [65, 101]]}, ["bands overlap at age 15", "[65, 101]"]),
    ({"table": "population_by_age", "periods": "2025-01", "area_level": "county",
      "stub": ["area", "area"], "heading": ["measure"]},
     ["missing period, sex, age; not expected area"]),
    ({"table": "population_by_age", "periods": "2025-01", "area_level": "county",
      "sorting": "x"}, ["unknown field(s) sorting"]),
])
def test_invalid_documents_give_every_reason(doc: object, reasons: list[str]) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(doc)
    for reason in reasons:
        assert any(reason in problem for problem in caught.value.problems), caught.value.problems


def test_only_counts_are_additive() -> None:
    assert is_additive("population_by_age", "population")
    assert not is_additive("indicators", "crude_birth_rate")
    # indicators has no keys: nothing is summed, so its rates may be asked for
    parse_query({"table": "indicators", "periods": "2025-01", "area_level": "county"})


def test_counts_may_be_summed_over_a_dropped_key() -> None:
    query = parse_query({"table": "population_by_age", "periods": "2025-01",
                         "area_level": "township", "keep": [], "labels": "codes"})
    frame = run_query(query, TABLES, {}).frame
    assert frame.filter(pl.col("area_code") == "63000020")["population"][0] == \
        _band_sum(1, 1, 0, 100, 0) + _band_sum(1, 2, 0, 100, 0)
