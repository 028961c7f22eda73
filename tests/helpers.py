"""Tiny hand-made extracts for tests: write residents/events files and build them."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from stats.codes import CODE_TABLE_SCHEMA, CodeTable, month_index
from stats.periods import Month, Period
from stats.schemas import EVENT_COLUMNS, RESIDENT_COLUMNS
from stats.tables import release_tables

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# A small code table: two counties, three townships, five villages; one village only
# valid from 2024-03 and one only until 2024-02.
TINY_VILLAGES = [
    # village_code, village_name, town_name, county_name, valid_from, valid_to
    ("63000010001", "甲里", "中正區", "臺北市", None, None),
    ("63000010002", "乙里", "中正區", "臺北市", None, Month(2024, 2)),
    ("63000010003", "丙里", "中正區", "臺北市", Month(2024, 3), None),
    ("63000020001", "丁里", "大安區", "臺北市", None, None),
    ("64000010001", "戊里", "鹽埕區", "高雄市", None, None),
]


def tiny_codes() -> CodeTable:
    """The small code table above."""
    rows = [
        {
            "village_code": code,
            "village_name": name,
            "town_code": code[:8],
            "town_name": town,
            "county_code": code[:5],
            "county_name": county,
            "valid_from": month_index(start) if start else None,
            "valid_to": month_index(end) if end else None,
        }
        for code, name, town, county, start, end in TINY_VILLAGES
    ]
    return CodeTable(pl.DataFrame(rows, schema=CODE_TABLE_SCHEMA), "tests", "tiny-1")


def person(pid: str, village: str, *, sex: int = 1, born: date = date(1980, 1, 1),
           household: str | None = None, indigenous: int = 0, marital: int = 1) -> dict[str, Any]:
    """One resident row."""
    return {"person_id": pid, "household_id": household or f"h-{pid}", "village_code": village,
            "sex": sex, "birth_date": born, "indigenous": indigenous, "marital_status": marital}


def event(eid: str, kind: str, registered: date, *, pid: str = "x", sex: int = 1,
          born: date = date(1980, 1, 1), occurred: date | None = None, village: str | None = None,
          origin: str | None = None, destination: str | None = None,
          partner_sex: int | None = None) -> dict[str, Any]:
    """One event row."""
    return {"event_id": eid, "event_type": kind, "registration_date": registered,
            "occurrence_date": occurred or (born if kind == "BIRTH" else registered),
            "person_id": pid, "sex": sex, "birth_date": born, "village_code": village,
            "from_village_code": origin, "to_village_code": destination,
            "partner_sex": partner_sex}


def residents_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Residents rows as a typed frame."""
    return pl.DataFrame(rows, schema=RESIDENT_COLUMNS)


def events_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Event rows as a typed frame."""
    return pl.DataFrame(rows, schema=EVENT_COLUMNS)


def tables_for(period: str, start: list[dict[str, Any]], end: list[dict[str, Any]],
               events: list[dict[str, Any]], codes: CodeTable | None = None) -> dict[str, pl.DataFrame]:
    """The seven tables of a period computed from in-memory rows."""
    p = Period.parse(period)
    codes = codes or tiny_codes()
    return release_tables(residents_frame(start).lazy(), residents_frame(end).lazy(),
                          events_frame(events).lazy(), codes.areas(p), p)


def write_extract(folder: Path, residents: dict[Month, list[dict[str, Any]]],
                  events: dict[Month, list[dict[str, Any]]], *, fmt: str = "parquet") -> Path:
    """Write residents/events files of several months into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for month, rows in residents.items():
        _write(residents_frame(rows), folder / f"residents_{month.compact}.{fmt}")
    for month, rows in events.items():
        _write(events_frame(rows), folder / f"events_{month.compact}.{fmt}")
    return folder


def _write(frame: pl.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path)


def row(frame: pl.DataFrame, code: str, **keys: Any) -> dict[str, Any]:
    """The single row of a table for an area code (and optional key values)."""
    selected = frame.filter(pl.col("area_code") == code)
    for name, value in keys.items():
        selected = selected.filter(pl.col(name) == value)
    assert selected.height == 1, f"{selected.height} rows for {code} {keys}"
    return selected.row(0, named=True)
