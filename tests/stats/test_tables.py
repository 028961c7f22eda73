"""Hand-computed cases for every definition of CONTRACT §3 (the seven release tables)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from stats.schemas import TABLE_LEVELS, table_schema
from tests.helpers import event, person, row, tables_for

V1, V2_RETIRED, V3_NEW = "63000010001", "63000010002", "63000010003"
V4, KHH = "63000020001", "64000010001"
MARCH = date(2024, 3, 15)

# The month before (2024-02): 11 people.  See the comments in END for what happens to them.
START = [
    person("a1", V1, sex=1, born=date(1980, 1, 1), household="H1", marital=2),
    person("a2", V1, sex=2, born=date(1959, 4, 1), household="H1", marital=2),
    person("a3", V2_RETIRED, sex=2, born=date(2009, 3, 31)),
    person("a5", KHH, sex=2, born=date(1924, 1, 1), household="H5", indigenous=2, marital=4),
    person("a6", KHH, sex=1, born=date(1920, 5, 5), household="H5", marital=4),
    person("a7", V4, sex=1, born=date(2000, 6, 15), indigenous=1),
    person("a8", V1, sex=2, born=date(1992, 2, 29), household="H1", marital=3),
    person("a9", V4, sex=1, born=date(1940, 1, 1), marital=2),
    person("a10", V1, sex=1, born=date(1985, 6, 1), marital=2),
    person("a11", V1, sex=1, born=date(1970, 1, 1)),
    person("a13", V1, sex=2, born=date(2010, 4, 1)),
]
END = [
    person("a1", V1, sex=1, born=date(1980, 1, 1), household="H1", marital=2),
    # turns 65 the day after the reference date 2024-03-31: still 64
    person("a2", V1, sex=2, born=date(1959, 4, 1), household="H1", marital=2),
    # village retired: re-coded to the new village with no event (a register correction);
    # turns 15 on the reference date itself
    person("a3", V3_NEW, sex=2, born=date(2009, 3, 31)),
    person("a4", V1, sex=1, born=date(2024, 3, 2), household="H1"),  # newborn
    person("a5", KHH, sex=2, born=date(1924, 1, 1), household="H5", indigenous=2, marital=4),
    person("a6", KHH, sex=1, born=date(1920, 5, 5), household="H5", marital=4),  # 103 -> 100
    person("a7", KHH, sex=1, born=date(2000, 6, 15), indigenous=1),  # moved across counties
    # moved across townships; keeps household H1, which now spans two villages
    person("a8", V4, sex=2, born=date(1992, 2, 29), household="H1", marital=3),
    person("a10", V1, sex=1, born=date(1985, 6, 1), marital=2),  # address change in village
    person("a12", V4, sex=2, born=date(1995, 7, 7)),  # arrived from abroad
    person("a13", V3_NEW, sex=2, born=date(2010, 4, 1)),  # moved to a village of the township
]
EVENTS = [
    event("e1", "BIRTH", MARCH, pid="a4", born=date(2024, 3, 2), village=V1),
    event("e2", "DEATH", MARCH, pid="a9", born=date(1940, 1, 1), village=V4),
    event("e3", "MOVE", MARCH, pid="a7", origin=V4, destination=KHH),
    event("e4", "MOVE", MARCH, pid="a8", sex=2, origin=V1, destination=V4),
    event("e5", "MOVE", MARCH, pid="a10", origin=V1, destination=V1),
    event("e6", "MOVE", MARCH, pid="a11", origin=V1, destination=None),
    event("e7", "MOVE", MARCH, pid="a12", sex=2, origin=None, destination=V4),
    event("e8", "MARRIAGE", MARCH, pid="m1", sex=2, village=V1, partner_sex=2),
    event("e9", "MARRIAGE", MARCH, pid="m2", sex=1, village=KHH, partner_sex=2),
    event("e10", "DIVORCE", MARCH, pid="m3", sex=1, village=V4, partner_sex=1),
    event("e13", "MOVE", MARCH, pid="a13", sex=2, origin=V1, destination=V3_NEW),
]


@pytest.fixture(scope="module")
def march() -> dict[str, pl.DataFrame]:
    return tables_for("2024-03", START, END, EVENTS)


def test_tables_follow_the_contract_columns_and_types(march):
    for name, frame in march.items():
        assert frame.schema == pl.Schema(table_schema(name)), name
        assert set(frame["area_level"].unique()) == set(TABLE_LEVELS[name])
        assert (frame["period"] == "2024-03").all()


def test_tables_have_every_area_valid_in_the_period_zeros_included(march):
    villages = march["population"].filter(pl.col("area_level") == "village")["area_code"].to_list()
    # the retired village is gone, the new one is there although it had no one at the start
    assert villages == [V1, V3_NEW, V4, KHH]
    assert march["population_by_age"].height == 10 * 2 * 101
    assert march["population_by_marital_status"].height == 6 * 2 * 4
    assert march["indigenous_population"].height == 10 * 2


def test_population_and_distinct_households(march):
    pop = march["population"]
    assert row(pop, "00000") | {} == {
        "period": "2024-03", "area_level": "national", "area_code": "00000",
        "households": 7, "population": 11, "male": 5, "female": 6,
    }
    # household H1 lives in two villages: counted in each village, once in the county
    assert row(pop, V1)["households"] == 2  # H1, h-a10
    assert row(pop, V4)["households"] == 2  # H1 (a8), h-a12
    assert row(pop, "63000")["households"] == 5  # H1, h-a10, h-a3, h-a13, h-a12
    assert row(pop, "63000010")["households"] == 4  # H1, h-a10, h-a3, h-a13
    assert row(pop, "64000")["households"] == 2  # H5, h-a7


def test_ages_on_the_reference_date(march):
    by_age = march["population_by_age"]
    national = by_age.filter(pl.col("area_code") == "00000", pl.col("population") > 0)
    got = sorted(zip(national["sex"], national["age"], national["population"], strict=True))
    assert got == [
        (1, 0, 1),  # born 2024-03-02
        (1, 23, 1), (1, 38, 1), (1, 44, 1),
        (1, 100, 1),  # 103 counts as 100 and over
        (2, 13, 1),  # turns 14 on 1 April
        (2, 15, 1),  # 15 on the reference date itself
        (2, 28, 1),
        (2, 32, 1),  # born 29 February 1992
        (2, 64, 1),  # 65 only the day after the reference date
        (2, 100, 1),  # exactly 100
    ]


def test_february_29_birthday_in_common_and_leap_years():
    born = date(2008, 2, 29)
    start = [person("p", V1, born=born)]
    feb_common = tables_for("2023-02", start, start, [])["population_by_age"]
    mar_common = tables_for("2023-03", start, start, [])["population_by_age"]
    feb_leap = tables_for("2024-02", start, start, [])["population_by_age"]

    def age(frame: pl.DataFrame) -> int:
        hit = frame.filter(pl.col("area_code") == "00000", pl.col("population") == 1)
        return int(hit["age"].item())

    assert age(feb_common) == 14  # 2023-02-28: birthday not yet reached
    assert age(mar_common) == 15  # 2023-03-31: birthday counted on 1 March
    assert age(feb_leap) == 16  # 2024-02-29: the birthday itself


def test_vital_events_and_couples(march):
    vital = march["vital_events"]
    national = row(vital, "00000")
    assert national["births"] == national["births_male"] == 1
    assert national["deaths"] == national["deaths_male"] == 1
    assert (national["marriages"], national["marriages_same_sex"],
            national["marriages_same_sex_male"], national["marriages_same_sex_female"]) == (2, 1, 0, 1)
    assert (national["divorces"], national["divorces_same_sex"],
            national["divorces_same_sex_male"], national["divorces_same_sex_female"]) == (1, 1, 1, 0)
    assert row(vital, KHH)["marriages"] == 1 and row(vital, KHH)["marriages_same_sex"] == 0
    assert row(vital, V4)["deaths"] == 1 and row(vital, V4)["divorces_same_sex_male"] == 1


@pytest.mark.parametrize("code, in_, out", [
    ("00000", 1, 1),      # only the arrival from abroad and the departure abroad cross the border
    ("63000", 1, 2),      # + the move to Kaohsiung leaves the county; the V1 -> V4 move stays inside
    ("64000", 1, 0),
    ("63000010", 0, 2),   # V1 -> V3_NEW and the address change stay inside the township
    ("63000020", 2, 1),
    (V1, 0, 3),           # address change (same origin and destination) is no migration
    (V3_NEW, 1, 0),
    (V4, 2, 1),
    (KHH, 1, 0),
])
def test_migration_at_each_level(march, code, in_, out):
    r = row(march["vital_events"], code)
    assert (r["in_migration"], r["out_migration"]) == (in_, out)
    assert r["social_increase"] == in_ - out
    assert r["natural_increase"] == r["births"] - r["deaths"]


def test_reconciliation_residual_shows_only_the_recoding(march):
    rec = march["reconciliation"]
    residuals = dict(zip(rec["area_code"], rec["residual"], strict=True))
    assert residuals.pop(V3_NEW) == 1  # a3 appeared there with no event
    assert set(residuals.values()) == {0}
    assert row(rec, "63000010") == {
        "period": "2024-03", "area_level": "township", "area_code": "63000010",
        "population_start": 7, "births": 1, "deaths": 0, "in_migration": 0,
        "out_migration": 2, "population_end": 6, "residual": 0,
    }


def test_marital_status_counts_people_aged_15_and_over(march):
    marital = march["population_by_marital_status"].filter(pl.col("area_code") == "00000")
    got = {(s, m): n for s, m, n in marital.select("sex", "marital_status", "population").iter_rows()}
    assert got == {(1, 1): 1, (1, 2): 2, (1, 3): 0, (1, 4): 1,
                   (2, 1): 2, (2, 2): 1, (2, 3): 1, (2, 4): 1}


def test_indigenous_population(march):
    ind = march["indigenous_population"]
    assert row(ind, "00000", indigenous=1) | {} == {
        "period": "2024-03", "area_level": "national", "area_code": "00000", "indigenous": 1,
        "male": 1, "female": 0, "population": 1}
    assert row(ind, KHH, indigenous=2)["female"] == 1
    assert row(ind, V1, indigenous=2)["population"] == 0


def test_indicators_hand_computed(march):
    r = row(march["indicators"], "00000")
    assert r["sex_ratio"] == pytest.approx(5 / 6 * 100)
    assert r["avg_household_size"] == pytest.approx(11 / 7)
    assert r["share_0_14"] == pytest.approx(2 / 11 * 100)
    assert r["share_15_64"] == pytest.approx(7 / 11 * 100)
    assert r["share_65_plus"] == pytest.approx(2 / 11 * 100)
    assert r["dependency_ratio"] == pytest.approx(4 / 7 * 100)
    assert r["child_dependency_ratio"] == pytest.approx(2 / 7 * 100)
    assert r["old_age_dependency_ratio"] == pytest.approx(2 / 7 * 100)
    assert r["aging_index"] == pytest.approx(100.0)
    # ages 0,13,15,23,28,32,...: cumulative first reaches 5.5 at 32 with 5 below
    assert r["median_age"] == pytest.approx(32 + (5.5 - 5) / 1)
    march_factor = 365 / 31
    assert r["crude_birth_rate"] == pytest.approx(1 / 11 * 1000 * march_factor)
    assert r["crude_death_rate"] == pytest.approx(1 / 11 * 1000 * march_factor)
    assert r["natural_increase_rate"] == pytest.approx(0.0)
    assert r["crude_marriage_rate"] == pytest.approx(2 / 11 * 1000 * march_factor)
    assert r["crude_divorce_rate"] == pytest.approx(1 / 11 * 1000 * march_factor)


def test_median_age_interpolates_within_the_year_of_age():
    people = [person(f"p{i}", V1, born=date(2024 - age, 1, 1)) for i, age in
              enumerate([10, 20, 20, 20, 30, 40])]
    r = row(tables_for("2024-03", people, people, [])["indicators"], "00000")
    # N/2 = 3; cumulative reaches 3 at age 20 with C = 1 below and n = 3 there
    assert r["median_age"] == pytest.approx(20 + (3 - 1) / 3)


def test_zero_denominators_give_null_never_inf_or_nan(march):
    empty = row(march["indicators"], "63000010")  # has people: sanity
    assert empty["sex_ratio"] is not None
    people = [person("p1", V1, sex=1, born=date(1990, 1, 1))]  # one man of working age
    tables = tables_for("2024-03", people, people, [])
    r = row(tables["indicators"], "00000")
    assert r["sex_ratio"] is None  # no women
    assert r["aging_index"] is None  # nobody under 15
    assert r["dependency_ratio"] == 0.0
    for name, value in row(tables["indicators"], KHH).items():  # nobody at all
        if name not in ("period", "area_level", "area_code"):
            assert value is None, name
    floats = tables["indicators"].select(pl.selectors.float())
    assert not floats.select(pl.any_horizontal(pl.all().is_nan() | pl.all().is_infinite()).any()).item()


@pytest.mark.parametrize("period, days", [
    ("2023-02", 28), ("2024-02", 29), ("2024-04", 30), ("2024-03", 31),
    ("2024-Q1", 91), ("2023-Q1", 90), ("2024-Q4", 92),
])
def test_crude_rates_are_annualised_by_365_over_days(period, days):
    people = [person(f"p{i}", V1, born=date(1990, 1, 1)) for i in range(1000)]
    last = tables_for(period, people, people, [])  # to learn the registration window
    del last
    from stats.periods import Period

    reg = Period.parse(period).reference_date
    births = [event(f"b{i}", "BIRTH", reg, pid=f"n{i}", born=reg, village=V1) for i in range(10)]
    end = people + [person(f"n{i}", V1, born=reg) for i in range(10)]
    r = row(tables_for(period, people, end, births)["indicators"], "00000")
    assert r["crude_birth_rate"] == pytest.approx(10 / 1005 * 1000 * 365 / days)


def test_a_year_is_not_annualised():
    people = [person(f"p{i}", V1, born=date(1990, 1, 1)) for i in range(100)]
    deaths = [event("d1", "DEATH", date(2024, 6, 1), pid="p0", village=V1)]
    r = row(tables_for("2024", people, people[1:], deaths)["indicators"], "00000")
    assert r["crude_death_rate"] == pytest.approx(1 / 99.5 * 1000)


def test_events_count_where_their_codes_say_not_where_people_live():
    people = [person("p1", V1)]
    death = [event("d", "DEATH", MARCH, pid="p1", village=KHH)]
    tables = tables_for("2024-03", people, [], death)
    assert row(tables["vital_events"], KHH)["deaths"] == 1
    assert row(tables["vital_events"], V1)["deaths"] == 0
    rec = tables["reconciliation"]
    assert row(rec, V1)["residual"] == -1 and row(rec, KHH)["residual"] == 1
    assert row(rec, "00000")["residual"] == 0
