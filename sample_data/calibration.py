"""The synthetic register calibrated on MOI's figures, village by village.

``stats/data/calibration.parquet`` (derived from MOI open data by ``stats/data/derive.py``)
holds, per village at national scale and sized to the end of 2024: residents by sex, the
three age bands, households, and the births, deaths, marriages and divorces expected a month;
and per county the net internal migration a month. This module lines those figures up with
the villages of a code table (``Geography``) and turns them into what the simulation draws
from: initial village sizes, bands and households, per-capita monthly rates, seasonal factors
and each county's pull on people moving between counties.

A village the calibration does not know (a code newer than the shipped table, or one created
after the end of 2024 and valid in an earlier start month) takes the median village of its
township, then county, then the nation: it exists, with a plausible size and rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from sample_data import demography as demo
from sample_data.geography import Geography
from stats.data import CALIBRATION, CALIBRATION_MONTHLY

EVENTS = ("births", "deaths", "marriages", "divorces")
BANDS = ((0, 14), (15, 64), (65, demo.MAX_AGE))
MIN_RESIDENTS = 3  # every valid village keeps at least this many residents at any scale
OTHER_COUNTY_MOVES = demo.MOVES_PER_MONTH["other_county"]


@lru_cache(maxsize=1)
def _shipped() -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(CALIBRATION), pl.read_parquet(CALIBRATION_MONTHLY)


def moi_2024_monthly() -> pl.DataFrame:
    """MOI's real 2024 births, deaths, marriages and divorces by county (``00000`` = national)
    and month of year: the calibration targets."""
    return _shipped()[1].filter(pl.col("kind") == "moi_2024").drop("kind")


@dataclass(frozen=True)
class Calibration:
    """Per-village figures lined up with ``Geography.codes`` (scale 1)."""

    population: np.ndarray  # float, residents at the end of 2024
    male_share: np.ndarray  # float
    band_share: np.ndarray  # float (villages, 3): 0-14, 15-64, 65+
    household_size: np.ndarray  # float, residents per household
    rate: dict[str, np.ndarray]  # events a month per resident, by EVENTS
    season: dict[str, np.ndarray]  # 12 factors (January first) per event, mean 1
    county_pull: np.ndarray  # per county of the geography: pull on inter-county movers
    net_migration: np.ndarray  # per county: MOI's net internal migration a month (scale 1)

    @classmethod
    def for_geography(cls, geo: Geography) -> Calibration:
        """The shipped calibration on the villages of ``geo``."""
        village, monthly = _shipped()
        wanted = pl.DataFrame({"village_code": geo.codes.tolist()}).with_columns(
            pl.col("village_code").str.slice(0, 8).alias("town"),
            pl.col("village_code").str.slice(0, 5).alias("county"),
        )
        per_capita = village.with_columns(
            (pl.col("male") + pl.col("female")).alias("population"),
        ).with_columns(
            (pl.col("male") / pl.col("population")).alias("male_share"),
            *((pl.col(b) / pl.col("population")).alias(b)
              for b in ("age_0_14", "age_15_64", "age_65")),
            (pl.col("population") / pl.col("households")).alias("household_size"),
            *((pl.col(f"{e}_per_month") / pl.col("population")).alias(e) for e in EVENTS),
        ).filter(pl.col("population") > 0)
        columns = ["population", "male_share", "age_0_14", "age_15_64", "age_65",
                   "household_size", *EVENTS]
        frame = wanted.join(per_capita.select("village_code", *columns), on="village_code",
                            how="left")
        # unknown villages: the median village of the township, county, nation
        for area in ("town", "county", None):
            median = [pl.col(c).median() if area is None else pl.col(c).median().over(area)
                      for c in columns]
            frame = frame.with_columns(pl.coalesce(pl.col(c), m).alias(c)
                                       for c, m in zip(columns, median, strict=True))
        net = village.select(pl.col("village_code").str.slice(0, 5).alias("county"),
                             "net_migration_per_month", (pl.col("male") + pl.col("female"))
                             .alias("population")).group_by("county").agg(
            pl.col("net_migration_per_month").first(), pl.col("population").sum())
        counties = pl.DataFrame({"county": geo.county_codes}).join(net, on="county", how="left")
        net_migration = counties["net_migration_per_month"].fill_null(0.0).to_numpy()
        pull = county_pull(counties["population"].fill_null(0.0).to_numpy(), net_migration)
        season = monthly.filter(pl.col("kind") == "season").sort("month_of_year")
        return cls(
            population=frame["population"].fill_null(0.0).to_numpy().astype(np.float64),
            male_share=frame["male_share"].to_numpy().astype(np.float64),
            band_share=frame.select("age_0_14", "age_15_64", "age_65").to_numpy()
            .astype(np.float64),
            household_size=frame["household_size"].to_numpy().astype(np.float64),
            rate={e: frame[e].to_numpy().astype(np.float64) for e in EVENTS},
            season={e: season[e].to_numpy() for e in EVENTS},
            county_pull=pull,
            net_migration=net_migration.astype(np.float64),
        )

    def sizes(self, rng: np.random.Generator, geo: Geography, scale: float,
              month_index: int) -> np.ndarray:
        """Residents per valid village at ``scale``: rounded at random (so small scales keep
        the national total), at least ``MIN_RESIDENTS`` in every valid village."""
        valid = geo.valid(month_index)
        exact = self.population * scale
        whole = np.floor(exact)
        sizes = whole + (rng.random(geo.size) < exact - whole)
        sizes = np.maximum(sizes, MIN_RESIDENTS)
        return np.where(valid, sizes, 0).astype(np.int64)

    def targets(self, event: str, residents: np.ndarray, month_of_year: int) -> np.ndarray:
        """Expected events a village this month: its rate × its residents × the season."""
        return self.rate[event] * residents * self.season[event][month_of_year]


def county_pull(population: np.ndarray, net: np.ndarray, moves: float = OTHER_COUNTY_MOVES,
                rounds: int = 50) -> np.ndarray:
    """Each county's pull on people moving between counties, so that its inflow exceeds
    its outflow by its real net migration a month (``net``, national scale), when movers
    leave counties in proportion to their population (``moves`` in all)."""
    out = moves * population / max(population.sum(), 1.0)
    return pull_for(population, out, net, rounds)


def pull_for(weight: np.ndarray, out: np.ndarray, net: np.ndarray,
             rounds: int = 50) -> np.ndarray:
    """Pulls per county such that, when ``out[o]`` movers leave county ``o`` and each
    chooses another county in proportion to ``weight`` × pull (never their own), county
    ``c`` receives ``out[c] + net[c]``.

    Found by scaling each pull by wanted / obtained inflow until they agree (a county
    cannot receive less than nothing nor more than all others send: the nearest is taken).
    """
    wanted = np.maximum(out + net, 0.0)
    pull = np.ones(len(weight))
    for _ in range(rounds):
        pulled = weight * pull
        share = out / np.maximum(pulled.sum() - pulled, 1e-9)  # per origin, per unit weight
        inflow = pulled * (share.sum() - share)
        pull = np.where(inflow > 0, pull * wanted / np.maximum(inflow, 1e-9), pull)
        pull = np.clip(pull / max(np.average(pull, weights=np.maximum(weight, 1e-9)), 1e-9),
                       1e-3, 1e3)
    return pull


def draw_band_sex_age(rng: np.random.Generator, calibration: Calibration,
                      village: np.ndarray, reference_year: float) -> tuple[np.ndarray, np.ndarray]:
    """Sex and single age of residents (rows sorted by village), village by village.

    The age band follows the village's MOI shares; sex its male share, shifted per band as
    the nation's (more women among the old); the single age within a band and sex follows
    the national pyramid.
    """
    n = len(village)
    pyramid = demo.age_sex_distribution(reference_year).reshape(2, demo.MAX_AGE + 1)
    band_of_age = np.searchsorted([b[1] for b in BANDS], demo.AGES, side="left")
    u = rng.random(n, dtype=np.float32)
    cumulative = np.cumsum(calibration.band_share, axis=1)
    cumulative = (cumulative / cumulative[:, -1:]).astype(np.float32)
    band = ((u >= cumulative[:, 0][village]).astype(np.int8)
            + (u >= cumulative[:, 1][village]).astype(np.int8))
    national_male = pyramid[0].sum()
    band_male = np.array([pyramid[0][band_of_age == b].sum() / pyramid[:, band_of_age == b].sum()
                          for b in range(len(BANDS))])
    # P(male) per (village, band), tabled once
    p_male = np.clip(band_male[None, :] + (calibration.male_share - national_male)[:, None],
                     0.05, 0.95).astype(np.float32)
    sex = np.where(rng.random(n, dtype=np.float32) < p_male.ravel()[
        village.astype(np.int32) * len(BANDS) + band], 1, 2).astype(np.int8)
    age = np.zeros(n, dtype=np.int16)
    for b in range(len(BANDS)):
        for s in (1, 2):
            rows = np.flatnonzero((band == b) & (sex == s))
            within = np.where(band_of_age == b, pyramid[s - 1], 0.0)
            age[rows] = demo.draw_categories(rng, within, len(rows))
    return sex, age


def household_numbers(rng: np.random.Generator, calibration: Calibration, village: np.ndarray,
                      adult: np.ndarray) -> np.ndarray:
    """A household (0-based, village by village) for each adult (rows where ``adult``).

    Each village gets its MOI number of households (residents / household size), at most
    one per adult: the first adults found each head one, the rest join one at random.
    """
    adults = np.flatnonzero(adult).astype(np.int32)
    if not len(adults):
        return np.zeros(0, dtype=np.int32)
    where = village[adults].astype(np.int32)
    count = np.bincount(where, minlength=len(calibration.population))
    exact = np.bincount(village, minlength=len(count)) / np.maximum(
        calibration.household_size, 1.0)
    target = np.clip(np.floor(exact + rng.random(len(count))), 1, np.maximum(count, 1))
    first = np.r_[0, np.cumsum(count)[:-1]].astype(np.int32)
    offset = np.r_[0, np.cumsum(target)[:-1]].astype(np.int32)
    rank = np.arange(len(adults), dtype=np.int32) - first[where]
    size = target.astype(np.int32)[where]
    # the first `size` adults of a village head a household each; the others join one
    joined = (rng.random(len(adults), dtype=np.float32) * size).astype(np.int32)
    pick = np.where(rank < size, rank, np.minimum(joined, size - 1))
    return offset[where] + pick
