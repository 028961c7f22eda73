"""The four v2-only tables of CONTRACT §8 on tiny hand-made extracts, every expectation
worked out by hand."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from stats.periods import Period
from stats.schemas import EVENT_COLUMNS, EVENT_V2_COLUMNS, RESIDENT_COLUMNS, RESIDENT_V2_COLUMNS
from stats.tables import release_tables
from tests.helpers import event, person, row, tiny_codes

V1, V4, KHH = "63000010001", "63000020001", "64000010001"


def tables(period: str, start: list[dict], end: list[dict], events: list[dict]
           ) -> dict[str, pl.DataFrame]:
    p = Period.parse(period)
    frames = (pl.DataFrame(start, schema={**RESIDENT_COLUMNS, **RESIDENT_V2_COLUMNS}),
              pl.DataFrame(end, schema={**RESIDENT_COLUMNS, **RESIDENT_V2_COLUMNS}),
              pl.DataFrame(events, schema={**EVENT_COLUMNS, **EVENT_V2_COLUMNS}))
    return release_tables(*(f.lazy() for f in frames), tiny_codes().areas(p), p)


def woman(pid: str, born: date, village: str = V1, tribe: int = 0, **kw: Any) -> dict:
    return {**person(pid, village, sex=2, born=born, indigenous=1 if tribe else 0, **kw),
            "tribe": tribe}


def man(pid: str, village: str = V1, tribe: int = 0) -> dict:
    return {**person(pid, village, sex=1, indigenous=2 if tribe else 0), "tribe": tribe}


def birth(eid: str, village: str, mother_born: date | None, nationality: int = 1,
          sex: int = 1) -> dict:
    return {**event(eid, "BIRTH", date(2024, 3, 20), pid=f"n{eid}", sex=sex,
                    born=date(2024, 3, 1), village=village),
            "mother_birth_date": mother_born, "mother_nationality": nationality,
            "nationality": None, "partner_nationality": None}


def marriage(eid: str, village: str, sex: int, nationality: int, partner_sex: int,
             partner_nationality: int) -> dict:
    return {**event(eid, "MARRIAGE", date(2024, 3, 9), pid=f"p{eid}", sex=sex, village=village,
                    partner_sex=partner_sex),
            "mother_birth_date": None, "mother_nationality": None,
            "nationality": nationality, "partner_nationality": partner_nationality}


# Women of 臺北市 (63000) on 2024-02-29 (start) and 2024-03-31 (end):
STEADY = [woman("w35", date(1985, 1, 1)), woman("w40", date(1980, 1, 1)),
          woman("w45", date(1976, 1, 1)), woman("w30", date(1994, 1, 1)),
          woman("w18", date(2006, 1, 1)), woman("old", date(1970, 1, 1)), man("m1")]
TURNING = woman("w19", date(2004, 3, 15))  # 19 at the start (15-19), 20 at the end (20-24)
START = [*STEADY, TURNING]
END = [*STEADY, TURNING, woman("w29", date(1994, 5, 5), village=V4)]  # 29: 25-29, end only
BIRTHS = [
    birth("b1", V1, date(2010, 1, 1)),  # mother 14: counted in 15-19
    birth("b2", V4, date(2004, 7, 1), nationality=4, sex=2),  # 19
    birth("b3", V1, date(1991, 6, 1)),  # 32
    birth("b4", V1, date(1973, 1, 1), nationality=2),  # 51: counted in 45-49
    birth("b5", V1, None, nationality=0),  # mother's age unknown
]


def test_fertility_by_hand() -> None:
    fert = tables("2024-03", START, END, BIRTHS)["fertility"]
    assert fert["area_level"].unique().sort().to_list() == ["county", "national"]
    taipei = row(fert, "63000")
    scale = 1000 * 365 / 31  # per 1,000, annualised for a month of 31 days
    # women (start + end) / 2: 15-19 (2+1)/2, 20-24 (0+1)/2, 25-29 (0+1)/2, 30-34 … 45-49 1
    expected = {"asfr_15_19": 2 / 1.5 * scale, "asfr_20_24": 0.0, "asfr_25_29": 0.0,
                "asfr_30_34": 1 / 1 * scale, "asfr_35_39": 0.0, "asfr_40_44": 0.0,
                "asfr_45_49": 1 / 1 * scale}
    for name, value in expected.items():
        assert taipei[name] == pytest.approx(value, rel=1e-12), name
    assert taipei["total_fertility_rate"] == pytest.approx(5 * sum(expected.values()) / 1000)
    women = 1.5 + 0.5 + 0.5 + 1 + 1 + 1 + 1
    assert taipei["general_fertility_rate"] == pytest.approx(4 / women * scale)
    assert taipei["mean_age_at_birth"] == pytest.approx((14.5 + 19.5 + 32.5 + 51.5) / 4)
    assert row(fert, "00000") == {**taipei, "area_level": "national", "area_code": "00000"}
    # 高雄市: no women, no births: every rate is null, never NaN or infinity
    assert all(v is None for k, v in row(fert, "64000").items()
               if k not in ("period", "area_level", "area_code"))


def test_fertility_of_a_year_is_not_annualised_and_a_missing_group_nulls_the_tfr() -> None:
    start = [{**w, "birth_date": w["birth_date"].replace(year=w["birth_date"].year - 1)}
             for w in START]  # the same ages on 2023-12-31 as on 2024-12-31 below
    end = [{**w, "birth_date": w["birth_date"]} for w in START]
    births = [{**b, "registration_date": date(2024, 6, 1)} for b in BIRTHS]
    fert = row(tables("2024", [w for w in start if w["person_id"] != "w40"],
                      [w for w in end if w["person_id"] != "w40"], births)["fertility"], "63000")
    # on 2024-12-31: w18 and w19 are 18 and 20 (born 2006/2004 shifted); groups by hand
    assert fert["asfr_40_44"] is None and fert["total_fertility_rate"] is None
    assert fert["asfr_30_34"] == pytest.approx(1 / 1 * 1000)  # no annualisation
    assert fert["mean_age_at_birth"] == pytest.approx(29.5)


def test_births_by_mother_by_hand_and_levels_sum_up() -> None:
    built = tables("2024-03", START, END, BIRTHS)
    table = built["births_by_mother"]
    assert set(table["area_level"]) == {"national", "county", "township"}
    areas = table.select("area_level", "area_code").unique().height
    assert table.height == areas * 10 * 13  # age groups × nationalities, zeros included
    cell = {(r["area_code"], r["mother_age_group"], r["mother_nationality"]):
            (r["births"], r["births_male"], r["births_female"])
            for r in table.iter_rows(named=True) if r["births"]}
    assert cell == {
        ("63000010", 14, 1): (1, 1, 0), ("63000010", 30, 1): (1, 1, 0),
        ("63000010", 50, 2): (1, 1, 0), ("63000010", 0, 0): (1, 1, 0),
        ("63000020", 15, 4): (1, 0, 1),
        ("63000", 14, 1): (1, 1, 0), ("63000", 30, 1): (1, 1, 0), ("63000", 50, 2): (1, 1, 0),
        ("63000", 0, 0): (1, 1, 0), ("63000", 15, 4): (1, 0, 1),
        ("00000", 14, 1): (1, 1, 0), ("00000", 30, 1): (1, 1, 0), ("00000", 50, 2): (1, 1, 0),
        ("00000", 0, 0): (1, 1, 0), ("00000", 15, 4): (1, 0, 1),
    }
    assert table["births"].sum() == 3 * row(built["vital_events"], "00000")["births"]


def test_marriages_by_nationality_by_hand() -> None:
    events = [marriage("m1", V1, 1, 1, 2, 4), marriage("m2", KHH, 2, 1, 2, 2),
              marriage("m3", V1, 1, 9, 1, 9)]
    built = tables("2024-03", START, END, events)
    table = built["marriages_by_nationality"]
    areas = table.select("area_level", "area_code").unique().height
    assert table.height == areas * 2 * 13
    cell = {(r["area_code"], r["sex"], r["nationality"]): (r["persons"], r["persons_same_sex"])
            for r in table.iter_rows(named=True) if r["persons"]}
    assert {k: v for k, v in cell.items() if k[0] == "00000"} == {
        ("00000", 1, 1): (1, 0), ("00000", 2, 4): (1, 0),  # m1: a man (ROC) and a woman (VN)
        ("00000", 2, 1): (1, 1), ("00000", 2, 2): (1, 1),  # m2: two women
        ("00000", 1, 9): (2, 2),  # m3: two Japanese men
    }
    assert cell[("64000010", 2, 2)] == (1, 1) and cell[("63000", 1, 9)] == (2, 2)
    national = row(built["vital_events"], "00000")
    assert table.filter(pl.col("area_level") == "national")["persons"].sum() == 2 * national[
        "marriages"]
    assert table.filter(pl.col("area_level") == "national")["persons_same_sex"].sum() == (
        2 * national["marriages_same_sex"])


def test_indigenous_by_tribe_by_hand() -> None:
    end = [*END, woman("a1", date(1990, 1, 1), village=KHH, tribe=1),
           man("a2", village=KHH, tribe=1), man("a3", village=V1, tribe=99)]
    built = tables("2024-03", START, end, [])
    table = built["indigenous_by_tribe"]
    assert set(table["area_level"]) == {"national", "county", "township", "village"}
    assert table.height == table.select("area_code").unique().height * 17
    assert row(table, "64000010001", tribe=1)["population"] == 2
    assert (row(table, "00000", tribe=1)["male"], row(table, "00000", tribe=1)["female"]) == (1, 1)
    assert row(table, "63000", tribe=99)["male"] == 1
    assert row(table, "63000", tribe=1)["population"] == 0
    per_area = table.group_by("area_code").agg(pl.col("population").sum())
    indigenous = built["indigenous_population"].group_by("area_code").agg(
        pl.col("population").sum())
    assert per_area.sort("area_code").equals(indigenous.sort("area_code"))
