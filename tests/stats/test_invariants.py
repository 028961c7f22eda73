"""Property-based invariants of the release tables (hypothesis).

A random register evolves month by month through random births, deaths, moves (at every
level, to and from abroad) and couples; snapshots are derived from the events, optionally
with register corrections injected. Then: every level sums to the level above; a quarter's
flows are the sum of its months and its stocks equal its last month's; the residual is 0
for consistent registers and equals the injected corrections otherwise.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stats.periods import Month
from tests.helpers import event, person, tables_for

VILLAGES = ["63000010001", "63000020001", "64000010001"]  # valid in every month
MONTHS = [Month(2024, m) for m in (1, 2, 3)]
ADDITIVE = {
    "population": ["households", "population", "male", "female"],
    "population_by_age": ["population"],
    "population_by_marital_status": ["population"],
    "indigenous_population": ["male", "female", "population"],
    "vital_events": ["births", "deaths", "marriages", "marriages_same_sex", "divorces",
                     "natural_increase", "social_increase"],
    "reconciliation": ["population_start", "births", "deaths", "population_end", "residual"],
}
PARENT = {"county": ("national", 0), "township": ("county", 5), "village": ("township", 8)}
KEYS = {"population_by_age": ["sex", "age"], "population_by_marital_status": ["sex", "marital_status"],
        "indigenous_population": ["indigenous"]}


@st.composite
def registers(draw: st.DrawFn, with_corrections: bool) -> dict[str, Any]:
    """A random register: four snapshots (Dec..Mar) and three months of events."""
    village = st.sampled_from(VILLAGES)
    n = draw(st.integers(1, 30))
    people = {
        f"p{i}": person(f"p{i}", draw(village), sex=draw(st.integers(1, 2)),
                        born=date(1920, 1, 1) + timedelta(days=draw(st.integers(0, 37000))),
                        household=f"h{draw(st.integers(0, 12))}",
                        indigenous=draw(st.integers(0, 2)), marital=draw(st.integers(1, 4)))
        for i in range(n)
    }
    snapshots = [list(people.values())]
    events_by_month: list[list[dict[str, Any]]] = []
    corrections: Counter[str] = Counter()
    serial = 0
    for month in MONTHS:
        events = []
        day = month.first_day + timedelta(days=draw(st.integers(0, 27)))
        current = dict(people)
        leaving = (draw(st.lists(st.sampled_from(sorted(people)), unique=True, max_size=len(people)))
                   if people else [])
        for pid in leaving:
            action = draw(st.sampled_from(["death", "move", "abroad"]))
            serial += 1
            origin = people[pid]["village_code"]
            if action == "death":
                events.append(event(f"e{serial}", "DEATH", day, pid=pid, village=origin))
                del current[pid]
            elif action == "abroad":
                events.append(event(f"e{serial}", "MOVE", day, pid=pid, origin=origin))
                del current[pid]
            else:
                target = draw(village)
                events.append(event(f"e{serial}", "MOVE", day, pid=pid, origin=origin,
                                    destination=target))
                current[pid] = {**people[pid], "village_code": target}
        for _ in range(draw(st.integers(0, 4))):
            serial += 1
            pid, where = f"n{serial}", draw(village)
            if draw(st.booleans()):
                events.append(event(f"e{serial}", "BIRTH", day, pid=pid, born=day, village=where))
                current[pid] = person(pid, where, born=day)
            else:
                events.append(event(f"e{serial}", "MOVE", day, pid=pid, destination=where))
                current[pid] = person(pid, where)
        for _ in range(draw(st.integers(0, 3))):
            serial += 1
            events.append(event(f"e{serial}", draw(st.sampled_from(["MARRIAGE", "DIVORCE"])), day,
                                sex=draw(st.integers(1, 2)), village=draw(village),
                                partner_sex=draw(st.integers(1, 2))))
        if with_corrections:
            for _ in range(draw(st.integers(0, 3))):
                serial += 1
                pid, where = f"c{serial}", draw(village)
                current[pid] = person(pid, where)  # registered without any event
                corrections[f"{month}:{where}"] += 1
        people = current
        snapshots.append(list(people.values()))
        events_by_month.append(events)
    return {"snapshots": snapshots, "events": events_by_month, "corrections": corrections}


def month_tables(register: dict[str, Any], index: int) -> dict[str, pl.DataFrame]:
    s, e = register["snapshots"], register["events"]
    return tables_for(str(MONTHS[index]), s[index], s[index + 1], e[index])


def quarter_tables(register: dict[str, Any]) -> dict[str, pl.DataFrame]:
    s, e = register["snapshots"], register["events"]
    return tables_for("2024-Q1", s[0], s[3], [x for month in e for x in month])


def assert_levels_sum_up(tables: dict[str, pl.DataFrame]) -> None:
    for table, measures in ADDITIVE.items():
        frame = tables[table]
        keys = KEYS.get(table, [])
        for child, (parent, digits) in PARENT.items():
            children = frame.filter(pl.col("area_level") == child)
            if children.is_empty():
                continue
            code = pl.lit("00000") if digits == 0 else pl.col("area_code").str.slice(0, digits)
            summed = children.group_by(code.alias("area_code"), *keys).agg(
                [pl.col(m).sum() for m in measures if m != "households"])
            parents = frame.filter(pl.col("area_level") == parent).select(
                "area_code", *keys, *[m for m in measures if m != "households"])
            joined = parents.join(summed, on=["area_code", *keys], how="left", suffix="_sum")
            for m in measures:
                if m != "households":
                    assert joined[m].to_list() == joined[f"{m}_sum"].fill_null(0).to_list(), (table, m, child)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registers(with_corrections=False))
def test_levels_sum_and_consistent_registers_reconcile(register):
    for index in range(3):
        tables = month_tables(register, index)
        assert_levels_sum_up(tables)
        assert set(tables["reconciliation"]["residual"].to_list()) == {0}
    assert set(quarter_tables(register)["reconciliation"]["residual"].to_list()) == {0}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registers(with_corrections=True))
def test_residual_equals_the_injected_corrections(register):
    expected: Counter[tuple[str, str]] = Counter()
    for key, n in register["corrections"].items():
        month, village = key.split(":")
        for digits in (5, 8, 11):
            expected[(month, village[:digits])] += n
        expected[(month, "00000")] += n
    for index in range(3):
        rec = month_tables(register, index)["reconciliation"]
        got = {(str(MONTHS[index]), c): r for c, r in zip(rec["area_code"], rec["residual"], strict=True)}
        for (month, code), residual in got.items():
            assert residual == expected.get((month, code), 0), (month, code)
        assert_levels_sum_up(month_tables(register, index))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registers(with_corrections=True))
def test_a_quarter_is_the_sum_of_its_months_and_its_last_months_stocks(register):
    months = [month_tables(register, i) for i in range(3)]
    quarter = quarter_tables(register)
    flows = ["births", "births_male", "births_female", "deaths", "deaths_male", "deaths_female",
             "marriages", "marriages_same_sex", "marriages_same_sex_male",
             "marriages_same_sex_female", "divorces", "divorces_same_sex",
             "divorces_same_sex_male", "divorces_same_sex_female", "in_migration",
             "out_migration", "natural_increase", "social_increase"]
    summed = (pl.concat([m["vital_events"] for m in months])
              .group_by("area_level", "area_code").agg([pl.col(f).sum() for f in flows]))
    q = quarter["vital_events"].select("area_level", "area_code", *flows)
    assert q.sort("area_code").equals(summed.select(q.columns).sort("area_code"))
    for table in ("population", "population_by_age", "population_by_marital_status",
                  "indigenous_population"):
        # the quarter also holds areas valid only in its earlier months (the retired
        # village): their stocks at the quarter's end are zero
        last = months[2][table].drop("period")
        q_table = quarter[table].drop("period")
        in_march = pl.col("area_code").is_in(last["area_code"].implode())
        assert q_table.filter(in_march).equals(last), table
        measure = "population"
        assert q_table.filter(~in_march)[measure].sum() == 0, table
    rec_q = quarter["reconciliation"].filter(pl.col("area_level") != "village").sort("area_code")
    rec_jan = months[0]["reconciliation"].filter(pl.col("area_level") != "village").sort("area_code")
    assert rec_q["population_start"].to_list() == rec_jan["population_start"].to_list()
    residual_sum = (pl.concat([m["reconciliation"] for m in months])
                    .filter(pl.col("area_level") != "village").group_by("area_code")
                    .agg(pl.col("residual").sum()).sort("area_code"))
    assert rec_q["residual"].to_list() == residual_sum["residual"].to_list()
