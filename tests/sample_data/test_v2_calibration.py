"""A v2 sample looks like Taiwan in the §8 tables built from it (a year at 3 % of Taiwan).

Targets (sources in stats/data/PROVENANCE.md, 'register_v2.json'): TFR about 0.87 and mean
age at birth 32–33; 6–8 % of births to mothers of original nationality other than ROC, mostly
mainland China and Vietnam; 15–20 % of marriages with a spouse from abroad, about 70 % of
those spouses women; 2.5 % of the population indigenous, the 16 peoples in MOI's proportions
and home counties; life expectancy about 77 (men) and 84 (women).

Tolerances: at scale 0.03 a year holds ~4,000 births, ~3,600 marriages, ~17,500 indigenous
residents and ~6,000 deaths. Each bound is the target's range widened by about 3.5 standard
errors of that sample size (stated at each assertion), so a correct sampler fails them by
chance less than once in a thousand seeds, while the errors they guard against (mothers two
years too old, nationality or tribe codes drawn uniformly, peoples in the wrong county) fall
far outside them. The seed is not the one the fertility adjustment was fitted on.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sample_data.generator import write_sample
from stats.codes import builtin_code_table
from stats.periods import Month, Period
from stats.release import build_release

SCALE = 0.03
YEAR = 2025
AMIS, ATAYAL, PAIWAN, BUNUN, TSOU, SAISIYAT, YAMI, TRUKU, SEEDIQ = 1, 2, 3, 4, 7, 8, 9, 12, 14
# MOI, end of 2025 (rounded): the three largest peoples' shares of the indigenous population
LARGEST = {AMIS: 0.373, PAIWAN: 0.181, ATAYAL: 0.163}
HUALIEN, TAITUNG, PINGTUNG, NANTOU, CHIAYI_COUNTY, MIAOLI, HSINCHU_COUNTY, YILAN = (
    "10015", "10014", "10013", "10008", "10010", "10005", "10004", "10002")
NEW_TAIPEI, TAOYUAN, KAOHSIUNG, TAICHUNG = "65000", "68000", "64000", "66000"


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RELEASES/2025 of a v2 sample of the year (the sampler's default version)."""
    root = tmp_path_factory.mktemp("v2-year")
    write_sample(root / "extract", scale=SCALE, seed=23, start=Month(YEAR, 1), months=12)
    build_release(root / "extract", Period("year", YEAR, 0), root / "releases",
                  builtin_code_table())
    return root / "releases" / str(YEAR)


def national(folder: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(folder / f"{table}.parquet").filter(
        pl.col("area_level") == "national")


def test_fertility_is_taiwans(year: Path) -> None:
    row = national(year, "fertility").row(0, named=True)
    # TFR ≈ 0.87 from MOI's 2024 births; ±0.1 is > 6 standard errors (~0.014 at 4,000 births)
    # plus the register's own bias (its women 15–49 make it ~0.84)
    assert 0.8 <= row["total_fertility_rate"] <= 1.0
    # MOI: 32–33; a standard error is 0.08 years at 4,000 births
    assert 32.0 <= row["mean_age_at_birth"] <= 33.3
    # the peak is at 30–34, and teenage births are rare (MOI: ~2.5 per 1000)
    asfr = [row[f"asfr_{a}_{a + 4}"] for a in range(15, 50, 5)]
    assert max(asfr) == row["asfr_30_34"] and row["asfr_15_19"] < 6


def test_births_by_mothers_original_nationality(year: Path) -> None:
    births = national(year, "births_by_mother").group_by("mother_nationality").agg(
        pl.col("births").sum())
    count = dict(births.iter_rows())
    total = sum(count.values())
    foreign = total - count[1] - count.get(0, 0)
    # 6–8 % (ours 6.6 %); a standard error is 0.4 points at 4,000 births
    assert 0.055 <= foreign / total <= 0.08
    assert count.get(0, 0) == 0  # the sampler knows every mother's origin
    others = sorted((n, code) for code, n in count.items() if code not in (0, 1))
    assert {others[-1][1], others[-2][1]} == {2, 4}  # mainland China and Vietnam lead


def test_marriages_with_a_spouse_from_abroad(year: Path) -> None:
    m = national(year, "marriages_by_nationality")
    persons = m["persons"].sum()
    marriages = persons / 2
    foreign = m.filter(pl.col("nationality") != 1)
    # MOI 2024: 17.8 %; a standard error is 0.65 points at 3,600 marriages
    assert 0.15 <= foreign["persons"].sum() / marriages <= 0.205
    women = foreign.filter(pl.col("sex") == 2)["persons"].sum() / foreign["persons"].sum()
    assert 0.62 <= women <= 0.78  # MOI 2024: about 70 % of the spouses from abroad are women


def test_indigenous_peoples_in_their_proportions(year: Path) -> None:
    tribes = national(year, "indigenous_by_tribe")
    population = national(year, "population")["population"].sum()
    share = {t: n / tribes["population"].sum() for t, n in
             tribes.select("tribe", "population").iter_rows()}
    # MOI: 2.6 % at the end of 2024; a county-clustered standard error is ~0.1 point
    assert 0.022 <= tribes["population"].sum() / population <= 0.029
    for tribe, moi in LARGEST.items():  # ±2.5 points: ~7 standard errors of 17,500 persons
        assert abs(share[tribe] - moi) <= 0.025, (tribe, share[tribe], moi)
    assert all(share[t] > 0 for t in (*range(1, 17), 99))  # every people, the smallest ~12
    assert share[TRUKU] > share[SEEDIQ] > share[TSOU]


def test_indigenous_peoples_live_in_their_home_counties(year: Path) -> None:
    by_county = pl.read_parquet(year / "indigenous_by_tribe.parquet").filter(
        pl.col("area_level") == "county")

    def shares(tribe: int) -> dict[str, float]:
        rows = by_county.filter(pl.col("tribe") == tribe)
        total = rows["population"].sum()
        return {c: n / total for c, n in rows.select("area_code", "population").iter_rows()}

    def top(tribe: int) -> str:
        s = shares(tribe)
        return max(s, key=s.__getitem__)

    amis = shares(AMIS)
    assert amis[HUALIEN] + amis[TAITUNG] >= 0.35  # the east coast
    assert amis[TAOYUAN] + amis[NEW_TAIPEI] >= 0.2  # and the cities of the north
    atayal = shares(ATAYAL)
    assert sum(atayal[c] for c in (NEW_TAIPEI, TAOYUAN, HSINCHU_COUNTY, YILAN)) >= 0.6
    paiwan = shares(PAIWAN)
    assert top(PAIWAN) == PINGTUNG and paiwan[PINGTUNG] + paiwan[TAITUNG] >= 0.55
    bunun = shares(BUNUN)
    assert top(BUNUN) == NANTOU
    assert sum(bunun[c] for c in (NANTOU, HUALIEN, TAITUNG, KAOHSIUNG)) >= 0.55
    saisiyat = shares(SAISIYAT)
    assert saisiyat[MIAOLI] + saisiyat[HSINCHU_COUNTY] >= 0.45
    assert (top(YAMI), top(TSOU), top(TRUKU), top(SEEDIQ)) == (
        TAITUNG, CHIAYI_COUNTY, HUALIEN, NANTOU)
    assert atayal[TAICHUNG] >= 0.03  # 和平區: Taichung has Atayal too


def test_deaths_by_age_give_taiwans_life_expectancy(year: Path) -> None:
    table = national(year, "life_table").filter(pl.col("age_group") == 0)
    e0 = dict(table.select("sex", "ex").iter_rows())
    # MOI 2024: 77.4 (men), 84.3 (women); a standard error is ~0.3 years at 6,000 deaths,
    # and the register's mortality is a fitted Gompertz curve (about +0.5 years)
    assert 75.0 <= e0[1] <= 79.0
    assert 82.0 <= e0[2] <= 86.0
    assert e0[2] - e0[1] > 5  # women outlive men by about seven years
