"""The one-read snapshot path (stats.snapshot_scan) against the general path.

A residents file the fast path accepts must be one the general rules accept, and its
counts (cells, tribes, households at every level) must equal those of the general path
over the typed frame; any file a rule refuses must make it step aside (None), so the
general path lists the problems. Ages by look-up equal ``population.age_on`` on every day.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stats.periods import Month
from stats.population import age_at
from stats.snapshot_scan import AgeTable, scan_snapshot
from stats.stocks import Stock, stock_from_frame
from stats.validate import typed_residents
from tests.helpers import person, tiny_codes

MONTH = Month(2024, 3)  # in tiny_codes, 63000010002 is no longer valid, 63000010003 is


@pytest.mark.parametrize("reference", [date(2024, 2, 29), date(2025, 2, 28), date(2024, 3, 31),
                                       date(2025, 12, 31), date(2023, 3, 1), date(2024, 1, 1)])
def test_ages_by_lookup_equal_age_on_every_day(reference: date) -> None:
    first = date(1900, 1, 1)
    days = pl.date_range(first, reference, "1d", eager=True)
    expected = pl.select(age_at(reference, pl.lit(days))).to_series().to_numpy()
    numbers = days.to_physical().to_numpy()
    assert (AgeTable(reference)(numbers) == expected).all()
    # 29 February babies turn a year older on 1 March in common years
    leap_baby = (date(2020, 2, 29) - date(1970, 1, 1)).days
    if reference == date(2025, 2, 28):
        assert AgeTable(reference)(np.array([leap_baby]))[0] == 4


def _rows() -> list[dict]:
    """Persons over the villages valid in MONTH, with households shared and spread over
    two villages of one township, every sex × marital × indigenous value, centenarians."""
    villages = ["63000010001", "63000010003", "63000020001", "64000010001"]
    rows = []
    for i in range(400):
        born = date(1915, 3, 1) + timedelta(days=97 * i)
        if born > MONTH.last_day:
            born = date(2024, 2, 29)
        rows.append(person(f"P{i:05d}", villages[i % 4], sex=1 + i % 2, born=born,
                           household=f"H{i // 3:04d}", indigenous=i % 3, marital=1 + i % 4))
    # one household with members in two villages of 63000010
    rows.append(person("P99998", "63000010001", household="H-SPREAD"))
    rows.append(person("P99999", "63000010003", household="H-SPREAD"))
    return rows


def _write(tmp_path: Path, rows: list[dict], *, v2: bool = False, shuffle: bool = False,
           name: str = "residents_202403.parquet", **casts: pl.DataType) -> Path:
    frame = pl.DataFrame(rows).with_columns(pl.col("birth_date").cast(pl.Date))
    if v2:
        frame = frame.with_columns(
            pl.when(pl.col("indigenous") == 0).then(0)
            .otherwise(pl.col("person_id").str.slice(1).cast(pl.Int64) % 17 + 1)
            .replace(17, 99).cast(pl.Int8).alias("tribe"))
    if shuffle:
        frame = frame.sample(fraction=1.0, shuffle=True, seed=4)
    frame = frame.with_columns(pl.col(c).cast(t) for c, t in casts.items())
    path = tmp_path / name
    frame.write_parquet(path, row_group_size=64)  # several batches' worth of row groups
    return path


def _general(path: Path) -> Stock:
    return stock_from_frame(typed_residents(pl.scan_parquet(path)), MONTH)


def _same(fast: Stock | None, general: Stock) -> None:
    assert fast is not None
    assert fast.rows == general.rows
    for name, key in (("sex_age", "age"), ("marital", "marital_status"),
                      ("indigenous", "indigenous")):
        keys = ["village_code", "sex", key]
        assert_frame_equal(getattr(fast, name).sort(keys),
                           getattr(general, name).select(*keys, "population").sort(keys))
    assert (fast.tribes is None) == (general.tribes is None)
    if fast.tribes is not None:
        tribe_keys = ["village_code", "sex", "tribe"]
        assert_frame_equal(fast.tribes.sort(tribe_keys),
                           general.tribes.select(fast.tribes.columns).sort(tribe_keys))
    area = ["area_level", "area_code"]
    assert_frame_equal(fast.households.sort(area), general.households.sort(area))


@pytest.mark.parametrize("v2", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_fast_counts_equal_the_general_path(tmp_path: Path, v2: bool, shuffle: bool) -> None:
    path = _write(tmp_path, _rows(), v2=v2, shuffle=shuffle)
    fast = scan_snapshot(path, MONTH, tiny_codes(), households=True, batch_rows=100)
    _same(fast, _general(path))
    # households spread over villages count once in each village and once above (by hand)
    households = dict(zip(fast.households["area_code"], fast.households["households"],
                          strict=True))
    for code in ("63000010001", "63000010", "63000", "00000"):
        members = {r["household_id"] for r in _rows()
                   if code == "00000" or r["village_code"].startswith(code)}
        assert households[code] == len(members), code
    assert households["63000010"] < households["63000010001"] + households["63000010003"]


@pytest.mark.parametrize("v2", [False, True])
def test_a_start_snapshot_is_counted_by_village_sex_and_age_only(tmp_path: Path,
                                                                   v2: bool) -> None:
    path = _write(tmp_path, _rows(), v2=v2, shuffle=True)
    start = scan_snapshot(path, MONTH, tiny_codes(), households=False, batch_rows=100)
    general = _general(path)
    keys = ["village_code", "sex", "age"]
    assert_frame_equal(start.sex_age.sort(keys), general.sex_age.select(*keys, "population")
                       .sort(keys))
    assert start.rows == general.rows and start.v2 == v2
    assert start.households is None and start.marital.is_empty()
    assert start.indigenous.is_empty() and (start.tribes is None or start.tribes.is_empty())
    # every rule is still checked on a start snapshot
    spoilt = _write(tmp_path, _spoilt({"marital_status": 0}), v2=v2)
    assert scan_snapshot(spoilt, MONTH, tiny_codes(), households=False, batch_rows=100) is None


def test_wider_integer_types_are_read_too(tmp_path: Path) -> None:
    path = _write(tmp_path, _rows(), sex=pl.Int64, marital_status=pl.Int32)
    _same(scan_snapshot(path, MONTH, tiny_codes(), households=True, batch_rows=100),
          _general(path))


def _spoilt(change: dict, at: int = 150) -> list[dict]:
    rows = _rows()
    rows[at] = {**rows[at], **change}
    return rows


@pytest.mark.parametrize("change", [
    {"sex": 3}, {"sex": None}, {"marital_status": 0}, {"indigenous": 5},
    {"village_code": "63000010002"},  # no longer valid in 2024-03
    {"village_code": "99999999999"}, {"village_code": "63000010-001"},  # normal form differs
    {"village_code": " 63000010001"}, {"birth_date": date(2024, 4, 1)},
    {"person_id": "P 1"}, {"person_id": "P\u00e91"}, {"person_id": ""},
    {"household_id": "H\x001"}, {"household_id": ""}, {"household_id": "H 1"},
    {"person_id": "P00003"},  # a duplicate, ids unsorted then
])
def test_anything_a_rule_could_refuse_goes_the_general_way(tmp_path: Path, change: dict) -> None:
    path = _write(tmp_path, _spoilt(change))
    # an end snapshot (household ids tested on the households thread) and a start one
    for households in (True, False):
        assert scan_snapshot(path, MONTH, tiny_codes(), households=households,
                             batch_rows=100) is None


def test_duplicate_ids_are_found_when_ids_are_not_in_order(tmp_path: Path) -> None:
    rows = _rows()
    rows[300] = {**rows[300], "person_id": rows[7]["person_id"]}
    path = _write(tmp_path, rows, shuffle=True)
    assert scan_snapshot(path, MONTH, tiny_codes(), households=False, batch_rows=100) is None
    unique = _write(tmp_path, _rows(), shuffle=True, name="residents_202403.parquet")
    assert scan_snapshot(unique, MONTH, tiny_codes(), households=False, batch_rows=100)


def test_v2_tribe_rules(tmp_path: Path) -> None:
    for change in ({"indigenous": 0, "tribe": 3}, {"indigenous": 1, "tribe": 0},
                   {"indigenous": 1, "tribe": 17}, {"indigenous": 1, "tribe": 98},
                   {"indigenous": 1, "tribe": -1}):
        rows = _rows()
        path = _write(tmp_path, rows, v2=True)
        frame = pl.read_parquet(path).with_row_index()
        frame = frame.with_columns(
            *(pl.when(pl.col("index") == 10).then(pl.lit(v)).otherwise(pl.col(c))
              .cast(frame.schema[c]).alias(c) for c, v in change.items())).drop("index")
        frame.write_parquet(path, row_group_size=64)
        assert scan_snapshot(path, MONTH, tiny_codes(), households=False) is None, change


def test_csv_and_odd_types_are_left_to_the_general_path(tmp_path: Path) -> None:
    path = _write(tmp_path, _rows(), birth_date=pl.String)
    assert scan_snapshot(path, MONTH, tiny_codes(), households=False) is None
    csv = tmp_path / "residents_202403.csv"
    pl.read_parquet(_write(tmp_path, _rows(), name="x.parquet")).write_csv(csv)
    assert scan_snapshot(csv, MONTH, tiny_codes(), households=False) is None


def test_an_empty_snapshot_is_left_to_the_general_path(tmp_path: Path) -> None:
    path = _write(tmp_path, _rows())
    pl.read_parquet(path).head(0).write_parquet(path)
    for households in (True, False):  # it raised "cannot concat empty list" with households
        assert scan_snapshot(path, MONTH, tiny_codes(), households=households) is None
