"""The query model (CONTRACT §7) on the §8 tables: counts summed over dropped keys, rates
refused, labels from the catalogue, cells counted per each table's own key grid."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from stats.query import QueryError, parse_query, query_cells, run_query
from tests.helpers import event, person, tables_for

PEOPLE = [person(f"p{i}", "63000010001", sex=1 + i % 2, born=date(1940 + i, 1, 1))
          for i in range(40)]
EVENTS = [event("d1", "DEATH", date(2025, 6, 2), pid="p1", sex=2, born=date(1941, 1, 1),
                village="63000010001"),
          event("d2", "DEATH", date(2025, 6, 3), pid="p2", sex=1, born=date(2024, 1, 1),
                village="64000010001"),
          event("m1", "MOVE", date(2025, 6, 4), pid="p3", origin="63000010001",
                destination="64000010001")]


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return tables_for("2025", PEOPLE, PEOPLE, EVENTS)


def test_deaths_summed_over_age_and_labelled(tables: dict[str, pl.DataFrame]) -> None:
    query = parse_query({"table": "deaths_by_age", "periods": ["2025"], "area_level": "county",
                         "keep": ["sex"], "labels": "en", "stub": ["area", "sex"],
                         "heading": ["period", "measure"]})
    result = run_query(query, {"2025": tables["deaths_by_age"].lazy()}, {"2025": 1})
    assert result.frame.columns == ["area_code", "area_name", "sex", "2025|Deaths"]
    rows = {(r[0], r[2]): r[3] for r in result.frame.iter_rows()}
    assert rows == {("63000", "male"): 0, ("63000", "female"): 1,
                    ("64000", "male"): 1, ("64000", "female"): 0}


def test_flows_out_of_a_county_are_its_flows_summed_over_destinations(
        tables: dict[str, pl.DataFrame]) -> None:
    query = parse_query({"table": "migration_flows", "periods": ["2025"],
                         "area_level": "county", "keep": [], "measures": ["moves"],
                         "labels": "codes", "stub": ["area"], "heading": ["period", "measure"]})
    result = run_query(query, {"2025": tables["migration_flows"].lazy()}, {"2025": 1})
    assert result.frame.columns == ["area_code", "2025|moves"]
    assert dict(result.frame.iter_rows()) == {"63000": 1, "64000": 0, "99999": 0}


def test_life_table_rates_cannot_be_summed_over_sex_or_age() -> None:
    with pytest.raises(QueryError, match="cannot be summed over sex"):
        parse_query({"table": "life_table", "periods": ["2025"], "area_level": "national",
                     "keep": ["age_group"], "measures": ["ex"]})


def test_cells_counted_on_each_tables_own_grid() -> None:
    life = parse_query({"table": "life_table", "periods": ["2025"], "area_level": "county",
                        "measures": ["ex"]})
    assert query_cells(life, 22) == 22 * 3 * 19  # sex 0/1/2 × 19 age groups
    deaths = parse_query({"table": "deaths_by_age", "periods": ["2025"],
                          "area_level": "county", "measures": ["deaths"]})
    assert query_cells(deaths, 22) == 22 * 2 * 22
    births = parse_query({"table": "births_by_mother", "periods": ["2025"],
                          "area_level": "county"})
    assert query_cells(births, 22) == 22 * 3 * 10 * 13
    flows = parse_query({"table": "migration_flows", "periods": ["2025"],
                         "area_level": "county", "measures": ["moves"]})
    assert query_cells(flows, 23) == 23 * 23
