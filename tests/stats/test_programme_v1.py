"""CONTRACT §8 tables that v1 extracts already give: migration flows, deaths by age and the
life table, by hand."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from stats.flows import migration_flows
from stats.mortality import LIFE_GROUPS, age_group, deaths_by_age, life_table
from stats.population import age_on

AREAS = pl.DataFrame({"area_level": ["national", "county", "county", "county"],
                      "area_code": ["00000", "63000", "64000", "65000"]})


def _moves(rows: list[tuple[str | None, str | None, int]]) -> pl.LazyFrame:
    return pl.DataFrame({"event_type": ["MOVE"] * len(rows),
                         "from_village_code": [r[0] for r in rows],
                         "to_village_code": [r[1] for r in rows],
                         "sex": [r[2] for r in rows]},
                        schema={"event_type": pl.String, "from_village_code": pl.String,
                                "to_village_code": pl.String, "sex": pl.Int8}).lazy()


def test_flows_by_hand() -> None:
    events = _moves([
        ("63000010001", "64000010001", 1), ("63000010002", "64000020001", 2),
        ("63000010001", "63000020001", 1),  # within 臺北市: no flow
        (None, "63000010001", 2),  # from abroad
        ("65000010001", None, 1),  # to abroad
        ("63000010001", "63000010001", 2),  # address change
    ])
    flows = migration_flows(events, AREAS).collect()
    assert flows.height == 4 * 4 - 4  # every ordered pair of 3 counties and 99999, none to itself
    assert set(flows["area_level"]) == {"county"}
    by_pair = {(r["area_code"], r["to_code"]): (r["moves"], r["moves_male"], r["moves_female"])
               for r in flows.iter_rows(named=True)}
    assert by_pair[("63000", "64000")] == (2, 1, 1)
    assert by_pair[("99999", "63000")] == (1, 0, 1)
    assert by_pair[("65000", "99999")] == (1, 1, 0)
    assert by_pair[("64000", "63000")] == (0, 0, 0)
    assert ("99999", "99999") not in by_pair and ("63000", "63000") not in by_pair
    assert flows["moves"].sum() == 4


@pytest.mark.parametrize(("birth", "day", "age"), [
    (date(2000, 2, 29), date(2025, 2, 28), 24), (date(2000, 2, 29), date(2025, 3, 1), 25),
    (date(2000, 2, 29), date(2024, 2, 29), 24), (date(1920, 1, 1), date(2025, 6, 1), 100),
    (date(2025, 6, 1), date(2025, 6, 1), 0),
])
def test_age_on_each_rows_own_day(birth: date, day: date, age: int) -> None:
    frame = pl.DataFrame({"b": [birth], "d": [day]})
    assert frame.select(age_on(pl.col("d"), pl.col("b")))[0, 0] == age


def test_age_groups() -> None:
    ages = pl.Series([0, 1, 4, 5, 9, 84, 85, 99, 100])
    deaths = pl.select(age_group(pl.lit(ages), 100)).to_series().to_list()
    life = pl.select(age_group(pl.lit(ages), 85)).to_series().to_list()
    assert deaths == [0, 1, 1, 5, 5, 80, 85, 95, 100]
    assert life == [0, 1, 1, 5, 5, 80, 85, 85, 85]


def test_deaths_by_age_counted_where_the_code_says() -> None:
    events = pl.DataFrame({
        "event_type": ["DEATH", "DEATH", "DEATH", "DEATH", "BIRTH"],
        "village_code": ["63000010001", "63000020001", "64000010001", "63000010001",
                         "63000010001"],
        "sex": [1, 1, 2, 2, 1],
        "birth_date": [date(2025, 1, 1), date(2021, 6, 1), date(1920, 1, 1), date(1927, 3, 2),
                       date(2025, 3, 1)],
        "occurrence_date": [date(2025, 3, 1), date(2025, 3, 1), date(2025, 3, 1),
                            date(2025, 3, 1), date(2025, 3, 1)],
    }).lazy()
    table = deaths_by_age(events, ["national", "county", "township"]).collect()
    cell = {(r["area_level"], r["area_code"], r["sex"], r["age_group"]): r["deaths"]
            for r in table.iter_rows(named=True)}
    assert cell[("township", "63000010", 1, 0)] == 1
    assert cell[("township", "63000020", 1, 1)] == 1  # aged 3
    assert cell[("county", "64000", 2, 100)] == 1  # 105: 100 and over
    assert cell[("county", "63000", 2, 95)] == 1  # 97
    assert cell[("national", "00000", 1, 0)] == 1 and sum(
        v for (lvl, *_), v in cell.items() if lvl == "national") == 4


def _oracle(deaths: list[float], start: list[float], end: list[float]) -> list[dict[str, float]]:
    """The contract's formulas, one group after another, in plain Python."""
    rows, lx = [], 100_000.0
    for i, group in enumerate(LIFE_GROUPS):
        n = 1 if group == 0 else 4 if group == 1 else 5
        mx = deaths[i] / ((start[i] + end[i]) / 2)
        if group == 85:
            ax, qx = 1 / mx, 1.0
        else:
            ax = 0.1 if group == 0 else n / 2
            qx = min(1.0, n * mx / (1 + (n - ax) * mx))
        dx = lx * qx
        nlx = lx / mx if group == 85 else n * (lx - dx) + ax * dx
        rows.append({"mx": mx, "ax": ax, "qx": qx, "lx": lx, "dx": dx, "nLx": nlx})
        lx -= dx
    for i in range(len(rows)):
        rows[i]["Tx"] = sum(r["nLx"] for r in rows[i:])
        rows[i]["ex"] = rows[i]["Tx"] / rows[i]["lx"] if rows[i]["lx"] > 0 else None
    return rows


def _grids(deaths: list[int], start: list[int], end: list[int], sexes=(1, 2)):  # noqa: ANN202
    def frame(values: list[int], name: str) -> pl.LazyFrame:
        return pl.DataFrame({
            "area_level": "county", "area_code": "63000",
            "sex": [s for s in sexes for _ in LIFE_GROUPS],
            "age_group": [g for _ in sexes for g in LIFE_GROUPS],
            name: [v for _ in sexes for v in values],
        }, schema_overrides={"sex": pl.Int8, "age_group": pl.Int16, name: pl.Int64}).lazy()
    return frame(deaths, "deaths"), frame(start, "population"), frame(end, "population")


def test_life_table_by_the_contracts_formulas() -> None:
    deaths = [30, 6, 3, 3, 8, 12, 14, 18, 25, 40, 70, 110, 160, 230, 330, 470, 640, 820, 1500]
    start = [9000, 36000, 46000, 47000, 50000, 52000, 55000, 57000, 60000, 58000, 56000, 54000,
             50000, 45000, 36000, 26000, 18000, 12000, 15000]
    end = [s + 500 for s in start]
    table = life_table(*_grids(deaths, start, end)).collect().sort("sex", "age_group")
    expected = _oracle(deaths, start, end)
    men = table.filter(pl.col("sex") == 1)
    for row, want in zip(men.iter_rows(named=True), expected, strict=True):
        for measure, value in want.items():
            assert row[measure] == pytest.approx(value, rel=1e-12), (row["age_group"], measure)
    # sex 0 pools both sexes: here twice the counts, the same rates, the same table
    both = table.filter(pl.col("sex") == 0)
    assert both["ex"].to_list() == pytest.approx(men["ex"].to_list(), rel=1e-12)
    assert men["lx"][0] == 100_000 and men["qx"][-1] == 1.0
    assert 60 < men["ex"][0] < 90  # a believable life expectancy at birth


def test_life_table_is_null_without_population_in_a_group_or_deaths_at_85_plus() -> None:
    deaths = [30, 6, 3, 3, 8, 12, 14, 18, 25, 40, 70, 110, 160, 230, 330, 470, 640, 820, 0]
    start = [9000] * len(LIFE_GROUPS)
    table = life_table(*_grids(deaths, start, start)).collect()
    assert table.height == 3 * len(LIFE_GROUPS)
    assert table.select(pl.col("mx", "qx", "ex").is_null().all()).row(0) == (True, True, True)
