"""The built-in official code table and the area names (Chinese and English) of a release."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sample_data.generator import write_sample
from stats.codes import builtin_code_table, code_table, load_code_table
from stats.periods import Month, Period
from stats.release import build_release, read_areas
from tests.helpers import SHARED

HISTORY = SHARED / "codes" / "villages_history.csv"
CURRENT = SHARED / "codes" / "villages.csv"


def test_the_default_table_is_the_official_one() -> None:
    table = code_table(None)
    villages = table.villages
    assert villages["village_code"].n_unique() == 7_818  # every code seen 2021-01…2026-06
    assert villages["county_code"].n_unique() == 22
    assert villages["town_code"].n_unique() == 368
    # a real township and village, and none of the invented ones (連江縣中口市, 金門縣富安市)
    row = villages.filter(pl.col("village_code") == "09007010001").row(0, named=True)
    assert (row["county_name"], row["town_name"], row["village_name"]) == ("連江縣", "南竿鄉",
                                                                         "介壽村")
    assert (row["county_name_en"], row["town_name_en"], row["village_name_en"]) == (
        "Lienchiang County", "Nangan Township", "Jieshou Vil.")
    towns = set(villages["town_name"].unique().to_list())
    assert "中口市" not in towns and "富安市" not in towns
    # validity: 47 codes retired, 58 appeared
    assert villages["valid_to"].drop_nulls().len() == 47
    assert villages["valid_from"].drop_nulls().len() == 58
    assert table.source.startswith("built-in official") and table.version.startswith("sha256:")


def test_validity_decides_which_villages_a_period_has() -> None:
    table = builtin_code_table()
    # 彰化縣埤頭鄉永豊村 (10007220006) is valid through 2021-12 only
    early = table.areas(Period.parse("2021-12"))["area_code"].to_list()
    later = table.areas(Period.parse("2022-01"))["area_code"].to_list()
    assert "10007220006" in early and "10007220006" not in later


def test_areas_carry_english_names_at_every_level() -> None:
    areas = builtin_code_table().areas(Period.parse("2025-03"))
    assert areas.columns == ["area_level", "area_code", "area_name", "area_name_en"]
    names = {r["area_code"]: (r["area_name"], r["area_name_en"]) for r in areas.to_dicts()}
    assert names["00000"] == ("全國", "Taiwan")
    assert names["63000"] == ("臺北市", "Taipei City")
    assert names["09007010"] == ("連江縣南竿鄉", "Nangan Township, Lienchiang County")
    assert names["09007010001"] == ("連江縣南竿鄉介壽村",
                                    "Jieshou Vil., Nangan Township, Lienchiang County")
    # MOI's stray double space ("Lianxin  Vil.") is not carried over
    assert names["65000120027"][1] == "Lianxin Vil., Ruifang District, New Taipei City"
    # only villages MOI gives no English name (retired ones still valid then) lack one
    nameless = builtin_code_table().villages.filter(pl.col("village_name_en").is_null())
    missing = areas.filter(pl.col("area_name_en").is_null())
    assert set(missing["area_code"]) <= set(nameless["village_code"])
    assert missing.height < 100 and (missing["area_level"] == "village").all()


def test_a_retired_village_without_an_english_name_has_none() -> None:
    """Null, not a half-English name: the dashboards show the Chinese name with its code."""
    areas = builtin_code_table().areas(Period.parse("2021-12"))
    row = areas.filter(pl.col("area_code") == "10007220006").row(0, named=True)
    assert row["area_name"] == "彰化縣埤頭鄉永豊村" and row["area_name_en"] is None
    town = areas.filter(pl.col("area_code") == "10007220").row(0, named=True)
    assert town["area_name_en"] == "Pitou Township, Changhua County"


@pytest.mark.skipif(not HISTORY.exists(), reason="needs ../shared/codes")
@pytest.mark.parametrize("path", [HISTORY, CURRENT])
def test_a_codes_file_still_loads_and_gets_english_names(path: Path) -> None:
    table = load_code_table(path)
    areas = table.areas(Period.parse("2026-06"))
    row = areas.filter(pl.col("area_code") == "09007010001").row(0, named=True)
    assert row["area_name_en"] == "Jieshou Vil., Nangan Township, Lienchiang County"
    county = areas.filter(pl.col("area_code") == "10018").row(0, named=True)
    assert county["area_name_en"] == "Hsinchu City"


def test_a_release_writes_english_area_names_beside_the_chinese(tmp_path: Path) -> None:
    write_sample(tmp_path / "x", scale=0.001, seed=1, start=Month(2025, 3), months=1)
    built = build_release(tmp_path / "x", Period.parse("2025-03"), tmp_path / "r",
                          builtin_code_table())
    areas = read_areas(built.path if hasattr(built, "path") else tmp_path / "r" / "2025-03")
    assert areas.columns[:4] == ["area_level", "area_code", "area_name", "area_name_en"]
    national = areas.filter(pl.col("area_code") == "00000").row(0, named=True)
    assert (national["area_name"], national["area_name_en"]) == ("全國", "Taiwan")
    assert areas.filter(pl.col("area_level") != "village")["area_name_en"].null_count() == 0


def test_the_shipped_data_is_declared_as_package_data() -> None:
    """The product runs without ../shared: every shipped data file must be in the wheel."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))[
        "tool"]["setuptools"]["package-data"]["stats"]
    declared = {p for pattern in patterns for p in (root / "stats").glob(pattern)}
    shipped = {p for p in (root / "stats" / "data").rglob("*")
               if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts}
    assert shipped and shipped <= declared, sorted(map(str, shipped - declared))
