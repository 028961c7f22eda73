"""The synthetic register against MOI's figures: a national-scale month compared with the
calibration targets county by county, the real ranking of counties by ageing, small scales
that keep every village, and the shipped data re-derived from the reference material.

Tolerances held at ``--scale 1.0`` (one month, 2025-01):

* population: 1 % per county, 0.5 % nationally (villages are sized from the calibration);
* households: 3 % per county, 1 % nationally;
* shares aged 0-14 and 65+, median age: 3 % (relative) per county, 1 % nationally;
* births and deaths of the month: per county and nationally within 3 % or four Poisson
  standard deviations of the target, whichever is wider (a county of 100 births a month
  varies by 10 % from month to month in reality too);
* counties ranked by ageing index (65+ per 100 aged 0-14): Spearman ≥ 0.9 against the real
  ranking of MOI's village file (2021-03), computed here from ``../shared``.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sample_data.generator import write_sample
from stats.codes import builtin_code_table
from stats.data import AREA_CODES, BOUNDARIES, CALIBRATION, CALIBRATION_MONTHLY, derive
from stats.periods import Month
from tests.helpers import SHARED
from tests.sample_data.calibration_check import simulated, targets

MONTH = Month(2025, 1)
AGEBANDS = SHARED / "moi" / "samples" / "village_pop_ageband_2021-03.csv"


def spearman(a: pl.Series, b: pl.Series) -> float:
    """Rank correlation (average ranks for ties)."""
    frame = pl.DataFrame({"a": a, "b": b}).select(pl.all().rank("average"))
    return frame.select(pl.corr("a", "b")).item()


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("national")
    write_sample(out, scale=1.0, seed=0, start=MONTH, months=1)
    return out


@pytest.fixture(scope="module")
def compared(national: Path) -> pl.DataFrame:
    return simulated(national, MONTH).join(targets(MONTH), on="county", suffix="_target")


def _off(compared: pl.DataFrame, column: str, national: float, county: float) -> pl.DataFrame:
    relative = (pl.col(column) / pl.col(f"{column}_target") - 1).abs()
    allowed = pl.when(pl.col("county") == "00000").then(national).otherwise(county)
    return compared.filter(relative > allowed).select("county", column, f"{column}_target")


@pytest.mark.slow
@pytest.mark.parametrize(("column", "national_tolerance", "county_tolerance"), [
    ("population", 0.005, 0.01),
    ("households", 0.01, 0.03),
    ("share_0_14", 0.01, 0.03),
    ("share_65", 0.01, 0.03),
    ("median_age", 0.01, 0.03),
])
def test_national_scale_stocks_match_the_calibration(compared, column, national_tolerance,
                                                     county_tolerance):
    assert compared.height == 23  # 22 counties and the nation
    off = _off(compared, column, national_tolerance, county_tolerance)
    assert off.is_empty(), off


@pytest.mark.slow
@pytest.mark.parametrize("column", ["births", "deaths"])
def test_national_scale_births_and_deaths_match_moi_2024(compared, column):
    allowed = pl.max_horizontal(0.03 * pl.col(f"{column}_target"),
                                4 * pl.col(f"{column}_target").sqrt())
    off = compared.filter((pl.col(column) - pl.col(f"{column}_target")).abs() > allowed)
    assert off.is_empty(), off.select("county", column, f"{column}_target")
    nation = compared.filter(pl.col("county") == "00000").row(0, named=True)
    assert nation[column] > 0.9 * nation[f"{column}_target"]


@pytest.mark.slow
@pytest.mark.skipif(not AGEBANDS.exists(), reason="needs ../shared/moi/samples")
def test_counties_rank_by_ageing_as_in_reality(compared):
    real = pl.read_csv(AGEBANDS, infer_schema=False).select(
        pl.col("村里代碼").str.slice(0, 5).alias("county"),
        pl.col("未滿15歲").cast(pl.Int64).alias("young"),
        pl.col("超過64歲").cast(pl.Int64).alias("old"),
    ).group_by("county").agg((pl.col("old").sum() / pl.col("young").sum()).alias("real"))
    both = compared.filter(pl.col("county") != "00000").join(real, on="county")
    assert both.height == 22
    assert spearman(both["ageing_index"], both["real"]) >= 0.9
    ranked = both.sort("ageing_index")["county"].to_list()
    # 新竹市 and 新竹縣 are the youngest, 嘉義縣 the oldest, as MOI counts them
    assert set(ranked[:2]) == {"10018", "10004"} and ranked[-1] == "10010"


@pytest.mark.slow
def test_households_follow_population(national: Path) -> None:
    """A year of household growth the population does not contradict: household size
    falls slowly (MOI: 2.63 in 2021-03, 2.47 at the end of 2024)."""
    months = json.loads((national / "sample_manifest.json").read_text())["months"]
    start, end = months[0], months[-1]
    size_start = start["persons"] / start["households"]
    size_end = end["persons"] / end["households"]
    assert 2.40 <= size_start <= 2.52
    assert -0.01 < size_start - size_end < 0.01  # a month: ≈ -0.005 a month at most


# --- small scales keep every village ------------------------------------------------------


def test_scale_001_populates_every_village_plausibly(tmp_path: Path) -> None:
    write_sample(tmp_path, scale=0.01, seed=2, start=MONTH, months=1)
    first = MONTH.shift(-1)
    residents = pl.read_parquet(tmp_path / f"residents_{first.compact}.parquet")
    sizes = residents.group_by(pl.col("village_code").cast(pl.String)).agg(
        pl.len().alias("n"), pl.col("household_id").n_unique().alias("households"))
    valid = builtin_code_table().villages_valid_in([first])["village_code"]
    assert sizes.height == valid.len() > 7_700  # every valid village has residents
    assert sizes["n"].min() >= 3 and (sizes["households"] >= 1).all()
    expected = pl.read_parquet(CALIBRATION).select(
        "village_code", ((pl.col("male") + pl.col("female")) * 0.01).alias("expected"))
    both = sizes.join(expected, on="village_code")
    # the big villages are big and the small ones small, as in MOI's file
    assert spearman(both["n"], both["expected"]) >= 0.95
    total = residents.height
    assert abs(total - 23.4e6 * 0.01) / (23.4e6 * 0.01) < 0.01


def test_new_and_unknown_villages_get_a_township_median(tmp_path: Path) -> None:
    """A code table newer than the shipped calibration: a village code the calibration does
    not know still exists with a plausible size (its township's median village)."""
    table = builtin_code_table()
    extra = table.villages.filter(pl.col("village_code") == "63000010002").with_columns(
        pl.lit("63000010999").alias("village_code"), pl.lit("新設里").alias("village_name"))
    codes = type(table)(pl.concat([table.villages, extra]), "test", "test")
    write_sample(tmp_path, scale=0.01, seed=4, start=MONTH, months=1, codes=codes)
    residents = pl.read_parquet(tmp_path / f"residents_{MONTH.shift(-1).compact}.parquet")
    town = residents.filter(pl.col("village_code").cast(pl.String).str.starts_with("63000010"))
    sizes = town.group_by(pl.col("village_code").cast(pl.String)).len()
    new = sizes.filter(pl.col("village_code") == "63000010999")["len"]
    assert new.len() == 1
    median = sizes.filter(pl.col("village_code") != "63000010999")["len"].median()
    assert 0.5 * median <= new[0] <= 2 * median


# --- the shipped data is what the reference material gives ---------------------------------


@pytest.mark.skipif(not (SHARED / "moi").exists(), reason="needs ../shared")
def test_shipped_data_re_derives_from_the_reference_material() -> None:
    codes = derive.area_codes(SHARED)
    assert codes.equals(pl.read_parquet(AREA_CODES))
    village, monthly = derive.calibration(SHARED, codes)
    assert village.equals(pl.read_parquet(CALIBRATION))
    assert monthly.equals(pl.read_parquet(CALIBRATION_MONTHLY))
    for name in ("counties-10t.json", "towns-10t.json", "villages-10t.json"):
        shipped = gzip.decompress((BOUNDARIES / f"{name}.gz").read_bytes())
        assert shipped == (SHARED / "boundaries" / name).read_bytes()
    assert (BOUNDARIES / "LICENSE").read_bytes() == (SHARED / "boundaries" / "LICENSE").read_bytes()


def test_calibration_totals_are_moi_2024() -> None:
    """Hand-checked against MOI's published 2024 figures: 23.40 M residents, 9,487,480
    households, 0-14 11.72 %, 65+ 19.18 %, 134,856 births and 202,107 deaths a year."""
    v = pl.read_parquet(CALIBRATION)
    people = float((v["male"] + v["female"]).sum())
    assert math.isclose(people, 23_400_900, rel_tol=1e-4)
    assert math.isclose(float(v["households"].sum()), 9_487_480, rel_tol=1e-4)
    assert math.isclose(float(v["age_0_14"].sum()) / people, 0.1172, rel_tol=1e-3)
    assert math.isclose(float(v["age_65"].sum()) / people, 0.1918, rel_tol=1e-3)
    assert math.isclose(float(v["births_per_month"].sum()) * 12, 134_856, rel_tol=1e-4)
    assert math.isclose(float(v["deaths_per_month"].sum()) * 12, 202_107, rel_tol=1e-4)
    # net internal migration sums to zero and points the real way
    net = v.group_by(pl.col("village_code").str.slice(0, 5).alias("county")).agg(
        pl.col("net_migration_per_month").first())
    flows = dict(net.iter_rows())
    assert abs(sum(flows.values())) < 1
    assert flows["68000"] > 0 and flows["10004"] > 0 and flows["66000"] > 0  # 桃園 新竹縣 臺中
    assert flows["63000"] < 0 and flows["10009"] < 0 and flows["10008"] < 0  # 臺北 雲林 南投


def test_county_pull_gives_each_county_its_net_migration() -> None:
    """Three counties of 3 000, 3 000 and 4 000 residents; 100 movers a month leave them in
    proportion to size (30, 30, 40) and choose another county by size × pull. Wanted net
    flows +5, +3, -8: the pulls must make inflow - outflow exactly that."""
    from sample_data.calibration import county_pull

    population = np.array([3_000.0, 3_000.0, 4_000.0])
    net = np.array([5.0, 3.0, -8.0])
    pull = county_pull(population, net, moves=100.0)
    weight = population * pull
    out = np.array([30.0, 30.0, 40.0])
    inflow = [sum(out[o] * weight[c] / (weight.sum() - weight[o]) for o in range(3) if o != c)
              for c in range(3)]
    assert np.allclose(np.array(inflow) - out, net, atol=1e-6)
    assert pull[0] > pull[1] > pull[2]  # the more a county gains, the harder it pulls
