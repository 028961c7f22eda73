"""CONTRACT §8 extract additions: the optional columns, all or none, each rule a located
problem, no mixing of v1 and v2 files in one period; a valid v2 extract builds every table."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from stats.extract import load_extract
from stats.periods import Month, Period
from stats.problems import ValidationError
from stats.release import build_release
from stats.schemas import (
    EVENT_COLUMNS,
    EVENT_V2_COLUMNS,
    RESIDENT_COLUMNS,
    RESIDENT_V2_COLUMNS,
    STAR_TABLES,
    V1_TABLES,
    V2_ONLY_TABLES,
)
from tests.helpers import event, person, tiny_codes

FEB, MAR = Month(2024, 2), Month(2024, 3)
V1, KHH = "63000010001", "64000010001"
V2_RESIDENTS = {**RESIDENT_COLUMNS, **RESIDENT_V2_COLUMNS}
V2_EVENTS = {**EVENT_COLUMNS, **EVENT_V2_COLUMNS}


def resident(pid: str, village: str, *, tribe: int | None = 0, **kw: Any) -> dict[str, Any]:
    return {**person(pid, village, **kw), "tribe": tribe}


def v2_event(eid: str, kind: str, registered: date, *, mother_born: date | None = None,
             mother_nationality: int | None = None, nationality: int | None = None,
             partner_nationality: int | None = None, **kw: Any) -> dict[str, Any]:
    return {**event(eid, kind, registered, **kw), "mother_birth_date": mother_born,
            "mother_nationality": mother_nationality, "nationality": nationality,
            "partner_nationality": partner_nationality}


PEOPLE = [resident("p1", V1), resident("p2", KHH, sex=2, indigenous=2, tribe=12),
          resident("p3", KHH, sex=2, born=date(1995, 7, 1))]
GOOD_EVENTS = [
    v2_event("b1", "BIRTH", date(2024, 3, 4), pid="n1", born=date(2024, 3, 1), village=V1,
             mother_born=date(1995, 7, 1), mother_nationality=1),
    v2_event("b2", "BIRTH", date(2024, 3, 5), pid="n2", born=date(2024, 3, 2), village=KHH,
             sex=2, mother_nationality=0),  # mother's birth date unknown
    v2_event("m1", "MARRIAGE", date(2024, 3, 6), pid="p1", village=V1, partner_sex=2,
             nationality=1, partner_nationality=4),
    v2_event("d1", "DEATH", date(2024, 3, 7), pid="p9", village=KHH),
    v2_event("mv", "MOVE", date(2024, 3, 8), pid="p3", origin=KHH, destination=V1),
]


def write(folder: Path, residents: dict[Month, list[dict]], events: list[dict], *,
          fmt: str = "parquet", resident_schema: dict = V2_RESIDENTS,
          event_schema: dict = V2_EVENTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frames = {f"residents_{m.compact}": pl.DataFrame(rows, schema=resident_schema)
              for m, rows in residents.items()}
    frames[f"events_{MAR.compact}"] = pl.DataFrame(events, schema=event_schema)
    for name, frame in frames.items():
        if fmt == "parquet":
            frame.write_parquet(folder / f"{name}.parquet")
        else:
            frame.write_csv(folder / f"{name}.csv")
    return folder


def problems_of(folder: Path, period: str = "2024-03") -> list[tuple]:
    with pytest.raises(ValidationError) as caught:
        load_extract(folder, Period.parse(period), tiny_codes())
    return [(Path(p.file).name, p.row, p.column, p.value, p.rule) for p in caught.value.problems]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_valid_v2_extract_builds_every_table(tmp_path: Path, fmt: str) -> None:
    extract = write(tmp_path / "x", {FEB: PEOPLE, MAR: PEOPLE}, GOOD_EVENTS, fmt=fmt)
    loaded = load_extract(extract, Period.parse("2024-03"), tiny_codes())
    assert "tribe" in loaded.end.collect_schema()
    assert loaded.events.collect_schema()["mother_birth_date"] == pl.Date
    loaded.cleanup()
    build_release(extract, Period.parse("2024-03"), tmp_path / "rel", tiny_codes())
    manifest = json.loads((tmp_path / "rel" / "2024-03" / "manifest.json").read_text("utf-8"))
    monthly_star = [t for t in STAR_TABLES if t != "life_table"]
    assert [t["table"] for t in manifest["tables"]] == [*V1_TABLES, *monthly_star,
                                                        *V2_ONLY_TABLES]
    tribes = pl.read_parquet(tmp_path / "rel" / "2024-03" / "indigenous_by_tribe.parquet")
    truku = tribes.filter((pl.col("area_code") == "64000") & (pl.col("tribe") == 12))
    assert truku.select("male", "female", "population").row(0) == (0, 1, 1)


def test_each_rule_is_a_located_problem(tmp_path: Path) -> None:
    people = [resident("p1", V1, indigenous=1, tribe=0),  # indigenous without a tribe
              resident("p2", V1, indigenous=0, tribe=3),  # a tribe but not indigenous
              resident("p3", V1, indigenous=2, tribe=17),  # no such code
              resident("p4", V1, indigenous=2, tribe=None),  # missing
              resident("p5", V1, indigenous=2, tribe=99)]  # fine: not declared
    events = [
        v2_event("b1", "BIRTH", date(2024, 3, 4), pid="n1", born=date(2024, 3, 1), village=V1,
                 mother_born=date(2024, 3, 2), mother_nationality=None),
        v2_event("b2", "BIRTH", date(2024, 3, 4), pid="n2", born=date(2024, 3, 1), village=V1,
                 mother_nationality=12),
        v2_event("m1", "MARRIAGE", date(2024, 3, 6), pid="p1", village=V1, partner_sex=2,
                 nationality=99, partner_nationality=None),
        v2_event("d1", "DEATH", date(2024, 3, 7), pid="p9", village=V1, mother_nationality=1,
                 nationality=0),
        v2_event("mv", "MOVE", date(2024, 3, 8), pid="p3", origin=V1, destination=KHH,
                 mother_born=date(1990, 1, 1)),
    ]
    found = problems_of(write(tmp_path / "x", {FEB: people, MAR: people}, events))
    tribe_rule = "tribe must be 0 exactly when indigenous is 0"
    codes = "must be 0 (unknown), 1 to 11 or 98 (other)"
    expected = [
        ("events_202403.parquet", 1, "mother_birth_date", "2024-03-02", "mother born after the child"),
        ("events_202403.parquet", 1, "mother_nationality", None, "required for BIRTH (0 when unknown)"),
        ("events_202403.parquet", 2, "mother_nationality", "12", codes),
        ("events_202403.parquet", 3, "nationality", "99", codes),
        ("events_202403.parquet", 3, "partner_nationality", None,
         "required for MARRIAGE (0 when unknown)"),
        ("events_202403.parquet", 4, "mother_nationality", "1", "must be empty except on BIRTH"),
        ("events_202403.parquet", 4, "nationality", "0", "must be empty except on MARRIAGE"),
        ("events_202403.parquet", 5, "mother_birth_date", "1990-01-01",
         "must be empty except on BIRTH"),
    ]
    for month in ("202402", "202403"):
        expected += [
            (f"residents_{month}.parquet", 1, "tribe", "0", tribe_rule),
            (f"residents_{month}.parquet", 2, "tribe", "3", tribe_rule),
            (f"residents_{month}.parquet", 3, "tribe", "17",
             "must be 0 (not indigenous), 1 to 16 (the peoples) or 99 (not declared)"),
            (f"residents_{month}.parquet", 4, "tribe", None, "required value missing"),
        ]
    assert sorted(found, key=str) == sorted(expected, key=str)


def test_a_file_with_some_of_the_v2_columns_is_refused(tmp_path: Path) -> None:
    partial = {**EVENT_COLUMNS, "mother_birth_date": pl.Date(), "mother_nationality": pl.Int8()}
    rows = [{k: v for k, v in e.items() if k in partial} for e in GOOD_EVENTS]
    found = problems_of(write(tmp_path / "x", {FEB: PEOPLE, MAR: PEOPLE}, rows,
                              event_schema=partial))
    missing = {(f, c) for f, r, c, v, rule in found if rule.startswith("column missing")}
    assert missing == {("events_202403.parquet", "nationality"),
                       ("events_202403.parquet", "partner_nationality")}


def test_mixing_v1_and_v2_files_in_a_period_is_refused(tmp_path: Path) -> None:
    v1_people = [{k: v for k, v in p.items() if k != "tribe"} for p in PEOPLE]
    folder = write(tmp_path / "x", {FEB: v1_people, MAR: PEOPLE}, GOOD_EVENTS)
    pl.DataFrame(v1_people, schema=RESIDENT_COLUMNS).write_parquet(
        folder / "residents_202402.parquet")
    found = problems_of(folder)
    assert found == [("residents_202402.parquet", None, None, None,
                      "v1 file (without the §8 columns) among v2 files (events_202403.parquet, "
                      "residents_202403.parquet): every file of a period must have the §8 "
                      "columns or none")]


def test_a_v1_extract_stays_valid_and_v1(tmp_path: Path) -> None:
    v1_people = [{k: v for k, v in p.items() if k != "tribe"} for p in PEOPLE]
    v1_events = [{k: v for k, v in e.items() if k in EVENT_COLUMNS} for e in GOOD_EVENTS]
    folder = write(tmp_path / "x", {FEB: v1_people, MAR: v1_people}, v1_events,
                   resident_schema=RESIDENT_COLUMNS, event_schema=EVENT_COLUMNS)
    loaded = load_extract(folder, Period.parse("2024-03"), tiny_codes())
    assert "tribe" not in loaded.end.collect_schema()
    assert "mother_birth_date" not in loaded.events.collect_schema()
