"""Calibration constants of Taiwan's population and pure functions drawing from them.

Everything here is a number a Taiwanese demographer would recognise (MOI 2024 figures,
rounded) or a smooth shape fitted to them. Nothing here reads files or keeps state: the
functions take a ``numpy.random.Generator`` and arrays, and return arrays.
"""

from __future__ import annotations

import numpy as np

MAX_AGE = 109  # oldest single age simulated; the release tables fold 100+ together
AGES = np.arange(MAX_AGE + 1)
N_CELLS = 2 * (MAX_AGE + 1)  # sex x single age, cell = (sex - 1) * (MAX_AGE + 1) + age
DAYS_PER_YEAR = 365.2425

# --- geography --------------------------------------------------------------------------

# Resident population by county at the end of 2024, in thousands (MOI).
COUNTY_POPULATION_2024: dict[str, float] = {
    "09007": 13.9, "09020": 144.0, "10002": 450.0, "10004": 594.0, "10005": 532.0,
    "10007": 1234.0, "10008": 475.0, "10009": 661.0, "10010": 484.0, "10013": 793.0,
    "10014": 212.0, "10015": 318.0, "10016": 107.0, "10017": 361.0, "10018": 457.0,
    "10020": 262.0, "63000": 2490.0, "64000": 2733.0, "65000": 4045.0, "66000": 2850.0,
    "67000": 1857.0, "68000": 2329.0,
}
DEFAULT_COUNTY_POPULATION = 100.0  # thousands, for a county code not listed above

# Indigenous share of the county population, and the lowland (平地) part of it. Amis
# live mostly in the lowland townships of the east coast; Paiwan, Atayal and Bunun in
# the mountain townships of Pingtung, Nantou and the north.
INDIGENOUS_SHARE: dict[str, float] = {
    "10014": 0.37, "10015": 0.295, "10013": 0.076, "10008": 0.063, "10002": 0.04,
    "10004": 0.04, "68000": 0.035, "10017": 0.027, "10005": 0.022, "65000": 0.0146,
    "64000": 0.0134, "66000": 0.0133, "10010": 0.011, "10018": 0.0096, "09020": 0.009,
    "63000": 0.0068, "10020": 0.0057, "09007": 0.006, "10007": 0.0051, "10009": 0.005,
    "10016": 0.0047, "67000": 0.0046,
}
DEFAULT_INDIGENOUS_SHARE = 0.004
LOWLAND_FRACTION: dict[str, float] = {
    "10014": 0.62, "10015": 0.68, "10013": 0.15, "10008": 0.12, "10002": 0.15,
    "10004": 0.2, "10005": 0.25, "68000": 0.55, "65000": 0.55, "64000": 0.45,
}
DEFAULT_LOWLAND_FRACTION = 0.5

# Internal migrants favour the industrial north-west and Taichung; rural counties lose.
COUNTY_ATTRACTION: dict[str, float] = {
    "68000": 1.35, "10004": 1.45, "10018": 1.3, "66000": 1.2, "65000": 1.05, "63000": 0.95,
    "64000": 0.9, "67000": 0.95, "10005": 0.85, "10007": 0.8, "10008": 0.75, "10009": 0.7,
    "10010": 0.7, "10013": 0.75, "10014": 0.8, "10015": 0.85, "10016": 0.9, "09020": 0.9,
    "09007": 0.9, "10002": 0.95, "10017": 0.85, "10020": 0.9,
}

VILLAGE_SIZE_SIGMA = 0.75  # lognormal spread of village sizes within a township
TOWN_SIZE_SIGMA = 0.55  # lognormal spread of the townships' mean village size

# --- the age pyramid ----------------------------------------------------------------------

# Registered births per calendar year, in thousands (MOI): the baby boom of the 1950s-60s,
# the dragon years (1976, 1988, 2000, 2012) and tiger years (1986, 1998, 2010).
_BIRTHS_1951 = (
    385.4, 372.9, 374.5, 383.6, 403.7, 414.0, 394.9, 410.9, 421.5, 419.4,  # 1951-1960
    420.3, 423.5, 424.3, 416.9, 406.6, 415.1, 374.3, 394.3, 390.7, 394.0,  # 1961-1970
    380.4, 365.7, 366.9, 367.8, 367.6, 425.1, 396.0, 409.6, 424.0, 413.9,  # 1971-1980
    414.1, 405.3, 383.4, 371.0, 346.2, 309.2, 314.0, 342.0, 315.3, 335.6,  # 1981-1990
    321.9, 321.6, 325.6, 322.9, 329.6, 325.5, 326.0, 271.5, 283.7, 305.3,  # 1991-2000
    260.4, 247.5, 227.1, 216.4, 205.9, 204.5, 204.4, 198.7, 191.3, 166.9,  # 2001-2010
    196.6, 229.5, 199.1, 210.4, 213.6, 208.4, 193.8, 181.6, 177.8, 165.2,  # 2011-2020
    153.8, 139.0, 135.6, 134.9, 107.8,  # 2021-2025
)
_LATER_BIRTHS = 105.0  # thousands a year after 2025

# Gompertz-Makeham hazards mu(x) = a + b * exp(c * x), fitted to the 2023 life table
# (life expectancy at birth 77.4 for men, 84.1 for women).
_GOMPERTZ = {1: (0.0009, 2.518e-5, 0.095), 2: (0.0003, 7.41e-6, 0.105)}
_INFANT_DEATH = 0.004  # first-year mortality on top of the Gompertz hazard
_OLDEST_OLD = 0.045  # extra hazard per year of age beyond 88
SEX_RATIO_AT_BIRTH = 1.07


def births_in_year(year: np.ndarray) -> np.ndarray:
    """Registered births (thousands) in each calendar year; a ramp before 1951."""
    year = np.asarray(year, dtype=np.int64)
    table = np.asarray(_BIRTHS_1951)
    known = table[np.clip(year - 1951, 0, len(table) - 1)]
    early = 90.0 + (year - 1900) * (280.0 - 90.0) / 50  # ~4-7 M people, birth rate ~40 per 1000
    later = np.where(year > 1950 + len(table), _LATER_BIRTHS, known)
    return np.where(year <= 1950, early, later)


def hazard(sex: int, age: np.ndarray) -> np.ndarray:
    """Annual death hazard at exact age ``age`` (years) for sex 1 or 2.

    Gompertz-Makeham, steepened after 88 so that centenarians stay as rare as in Taiwan
    (about 6 000 aged 100 and over).
    """
    a, b, c = _GOMPERTZ[sex]
    x = np.asarray(age, dtype=float)
    return (a + b * np.exp(c * x)) * (1.0 + _OLDEST_OLD * np.clip(x - 88.0, 0.0, None))


def survival(sex: int, age: np.ndarray) -> np.ndarray:
    """Probability of surviving from birth to exact age ``age`` under today's mortality."""
    step = 0.05
    grid = np.arange(0.0, MAX_AGE + 2.0, step)
    cumulative = np.r_[0.0, np.cumsum(hazard(sex, grid[:-1] + step / 2) * step)]
    x = np.asarray(age, dtype=float)
    return np.exp(-np.interp(x, grid, cumulative)) * (1.0 - _INFANT_DEATH * np.clip(x, 0.0, 1.0))


def age_sex_distribution(reference_year: float) -> np.ndarray:
    """Share of each (sex, single age) cell at a reference time (decimal year).

    A cohort's size is its births times today's survival, corrected for the history that
    today's life table does not know: the high child mortality of cohorts born before the
    1960s, the soldiers who came with the government in 1949 (men born 1915-1945) and the
    foreign and mainland spouses, mostly women now aged 30-60.
    """
    birth_year = np.floor(reference_year - AGES - 0.5).astype(np.int64)
    early_life = np.where(
        birth_year < 1950, 0.62 + 0.006 * np.clip(birth_year - 1920, 0, 30),
        np.where(birth_year < 1965, 0.88, np.where(birth_year < 1980, 0.96, 1.0)),
    )
    cells = np.empty(N_CELLS)
    for sex in (1, 2):
        share = SEX_RATIO_AT_BIRTH / (1 + SEX_RATIO_AT_BIRTH) if sex == 1 else 1 / (
            1 + SEX_RATIO_AT_BIRTH
        )
        if sex == 1:
            history = np.where((birth_year >= 1915) & (birth_year <= 1935), 1.2,
                               np.where((birth_year > 1935) & (birth_year <= 1945), 1.05, 1.0))
        else:
            history = 1.0 + 0.09 * np.clip(1.0 - np.abs(AGES - 45) / 17.0, 0.0, 1.0)
        size = births_in_year(birth_year) * share * early_life * history
        cells[(sex - 1) * (MAX_AGE + 1) : sex * (MAX_AGE + 1)] = size * survival(sex, AGES + 0.5)
    return cells / cells.sum()


def cell_of(sex: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Cell index (sex x single age) of persons, ages capped at MAX_AGE."""
    return ((sex.astype(np.int16) - 1) * (MAX_AGE + 1) + np.minimum(age, MAX_AGE)).astype(np.int16)


def ages_at(birth: np.ndarray, day: int) -> np.ndarray:
    """Approximate completed years on ``day`` (days since 1970-01-01) for birth days."""
    return ((day - birth) * (1.0 / DAYS_PER_YEAR)).astype(np.int16)


# --- marital status ------------------------------------------------------------------------

# Shares (never married, divorced, widowed) at knot ages; married is the rest. Late
# marriage (mean first-marriage age 32.8 for men, 30.7 for women), divorce peaking in the
# fifties, and women outliving their husbands.
_MARITAL_KNOTS = np.array([15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 100])
_MARITAL = {
    1: (
        (1.00, .99, .93, .73, .51, .38, .30, .23, .17, .12, .08, .06, .04, .03, .03, .03, .03),
        (0.00, .00, .005, .02, .05, .085, .12, .14, .15, .14, .12, .10, .08, .06, .04, .03, .02),
        (0.00, .00, .00, .00, .00, .004, .008, .015, .025, .04, .06, .09, .14, .22, .34, .48, .66),
    ),
    2: (
        (1.00, .97, .86, .61, .41, .30, .23, .17, .12, .08, .06, .04, .03, .03, .03, .02, .02),
        (0.00, .00, .01, .03, .065, .11, .155, .175, .18, .17, .15, .12, .09, .06, .04, .03, .02),
        (0.00, .00, .00, .00, .004, .008, .02, .035, .06, .10, .16, .24, .36, .50, .65, .78, .88),
    ),
}


def marital_cumulative() -> np.ndarray:
    """Per cell, cumulative probabilities of statuses 1, 2, 3 (status 4 takes the rest)."""
    out = np.zeros((N_CELLS, 3))
    for sex in (1, 2):
        never, divorced, widowed = (np.interp(AGES, _MARITAL_KNOTS, k) for k in _MARITAL[sex])
        married = np.clip(1.0 - never - divorced - widowed, 0.0, 1.0)
        rows = slice((sex - 1) * (MAX_AGE + 1), sex * (MAX_AGE + 1))
        out[rows, 0] = never
        out[rows, 1] = never + married
        out[rows, 2] = never + married + divorced
    out[np.r_[0:15, MAX_AGE + 1 : MAX_AGE + 16]] = 1.0  # children are never married
    return out


def draw_marital(rng: np.random.Generator, cells: np.ndarray) -> np.ndarray:
    """Marital status (1-4) of persons given their cells."""
    cum = marital_cumulative().astype(np.float32)
    u = rng.random(len(cells), dtype=np.float32)
    status = np.ones(len(cells), dtype=np.int8)
    for k in range(3):
        status += u >= cum[cells, k]
    return status


# --- households ----------------------------------------------------------------------------

# Adults (20+) per household before children join: many elderly and young adults are
# registered alone; the mean of 2.08 gives ~9.5 M households for 23.4 M persons.
ADULT_HOUSEHOLD_SIZES = np.array([0.37, 0.34, 0.17, 0.08, 0.04])
ADULT_AGE = 20
# A young child (0-9) lives with a woman aged 20-49, an older one with a woman aged 30-64.
MOTHER_AGES = (((0, 9), (20, 49)), ((10, ADULT_AGE - 1), (30, 64)))

# --- monthly flows (national, scale 1) ------------------------------------------------------

BIRTHS_PER_MONTH = 10_000  # 2024: 134,856 a year, 2025: ~108 k
DEATHS_PER_MONTH = 17_000  # 2024: 202,107
MARRIAGES_PER_MONTH = 10_000  # couples; 2024: 123,061
DIVORCES_PER_MONTH = 4_500  # couples; 2024: 53,469
SAME_SEX_MARRIAGE_SHARE = 0.02
SAME_SEX_DIVORCE_SHARE = 0.01
SAME_SEX_MALE_SHARE = 1 / 3  # of same-sex couples; two in three are female couples

# Seasonality, January to December: winter deaths, few births in February, weddings
# around New Year and in autumn and almost none in the Ghost Month (August).
SEASON = {
    "births": (0.98, 0.86, 0.98, 0.95, 0.98, 0.97, 1.02, 1.04, 1.02, 1.05, 1.07, 1.08),
    "deaths": (1.15, 1.06, 1.03, 0.97, 0.96, 0.93, 0.97, 0.97, 0.94, 0.97, 0.98, 1.07),
    "marriages": (1.22, 0.88, 1.00, 0.90, 0.96, 0.90, 1.05, 0.55, 0.96, 1.20, 1.15, 1.23),
    "divorces": (0.92, 0.85, 1.05, 1.00, 1.02, 1.00, 1.05, 1.00, 0.95, 1.06, 1.00, 1.10),
    "moves": (0.95, 0.95, 1.10, 1.00, 1.00, 0.95, 1.10, 1.15, 1.05, 0.95, 0.92, 0.88),
}

# Moved persons a month by kind of move (household-register moves, incl. address changes).
MOVE_KINDS = ("same_village", "same_township", "same_county", "other_county",
              "from_abroad", "to_abroad")
MOVES_PER_MONTH = {
    "same_village": 24_000, "same_township": 30_000, "same_county": 36_000,
    "other_county": 50_000, "from_abroad": 5_500, "to_abroad": 5_000,
}
WHOLE_HOUSEHOLD_SHARE = 0.4  # of domestic movers, who take their household along

# Registration lags in days (occurrence -> registration): births must be registered
# within 60 days, deaths within 30 and usually within a week, moves within 30.
LAG_MEAN = {"births": 16.0, "deaths": 4.0, "moves": 4.0, "divorces": 20.0}
LAG_MAX = {"births": 60, "deaths": 30, "moves": 30, "divorces": 60}
JUDICIAL_DIVORCE_SHARE = 0.15  # court divorces take effect before they are registered

# Household registration offices close on weekends and national holidays: New Year, Peace
# Memorial Day (2-28), Children's and Tomb Sweeping Days (4-4, 4-5), National Day (10-10),
# and the Lunar New Year (eve to the third day; first days listed, 2020-2030).
FIXED_HOLIDAYS = np.array([101, 228, 404, 405, 1010])
_LUNAR_NEW_YEAR = ("2020-01-25", "2021-02-12", "2022-02-01", "2023-01-22", "2024-02-10",
                   "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13",
                   "2030-02-03")


def lunar_new_year_holidays() -> np.ndarray:
    """Day numbers (since 1970-01-01) of the Lunar New Year holidays."""
    first = np.array(_LUNAR_NEW_YEAR, dtype="datetime64[D]").astype(np.int64)
    return (first[:, None] + np.arange(-1, 3)).ravel()


def _steps(edges: tuple[int, ...], values: tuple[float, ...]) -> np.ndarray:
    """A per-age array that is ``values[k]`` from ``edges[k]`` up to the next edge."""
    return np.asarray(values)[np.searchsorted(np.asarray(edges), AGES, side="right") - 1]


# Relative monthly rates by age (0 = not at risk), applied per cell before scaling to the
# national monthly totals above.
_MOVE_BY_AGE = _steps((0, 15, 20, 25, 30, 35, 40, 45, 55, 65, 80),
                      (0.35, 0.7, 2.0, 2.6, 2.3, 1.6, 1.2, 0.8, 0.6, 0.45, 0.5))
_EMIGRATION_BY_AGE = _steps((0, 15, 20, 30, 40, 50, 65, 80),
                            (0.5, 0.8, 2.0, 1.8, 1.2, 0.8, 0.6, 0.8))
# Marriage: men are spouse 1 of opposite-sex couples; remarriage is rarer.
_GROOM_BY_AGE = _steps((0, 18, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65),
                       (0, .05, .3, 1.6, 2.3, 1.6, .9, .6, .4, .3, .2, .06))
_SAME_SEX_BY_AGE = _steps((0, 18, 22, 25, 30, 35, 40, 45, 55, 65),
                          (0, .2, .8, 1.6, 2.0, 1.6, 1.0, .6, .3, .1))
REMARRIAGE = np.array([0.0, 1.0, 0.0, 0.6, 0.1], dtype=np.float32)  # by marital status 0-4
_DIVORCE_BY_AGE = _steps((0, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70),
                         (0, .8, 1.2, 1.5, 1.6, 1.5, 1.2, .9, .6, .4, .25, .1))
# Age-specific fertility (per 1000 women, 2023), by single age 15-49.
_FERTILITY_BY_AGE = _steps((0, 15, 20, 25, 30, 35, 40, 45, 50),
                           (0, 3, 18, 55, 95, 62, 15, 1, 0))
# Births outside marriage are ~4 % in Taiwan.
FERTILITY_BY_STATUS = np.array([0.0, 0.04, 1.0, 0.05, 0.02], dtype=np.float32)
AGE_GAP_OPPOSITE = 2.5  # husbands are on average 2.5 years older than their wives
AGE_GAP_SD = 4.0

# Persons arriving from abroad or registering for the first time: returning nationals,
# naturalised spouses (mostly women) and their children.
_ARRIVAL_AGE = _steps((0, 15, 25, 45, 65), (0.8, 1.5, 2.5, 0.9, 0.25))
ARRIVAL_MALE_SHARE = 0.45
ARRIVAL_JOINS_HOUSEHOLD = 0.6


def _both_sexes(by_age: np.ndarray, female: float = 1.0, male: float = 1.0) -> np.ndarray:
    """A per-cell array from a per-age one, men's and women's parts scaled."""
    return np.concatenate([by_age * male, by_age * female]).astype(np.float64)


def death_weights() -> np.ndarray:
    """Relative monthly death risk per cell (Gompertz hazard at mid-age)."""
    return np.concatenate([hazard(1, AGES + 0.5), hazard(2, AGES + 0.5)]) + np.r_[
        _INFANT_DEATH, np.zeros(MAX_AGE), _INFANT_DEATH, np.zeros(MAX_AGE)
    ]


def move_weights() -> np.ndarray:
    """Relative monthly risk per cell of starting a domestic move."""
    return _both_sexes(_MOVE_BY_AGE)


def emigration_weights() -> np.ndarray:
    """Relative monthly risk per cell of leaving the register (abroad, de-registration)."""
    return _both_sexes(_EMIGRATION_BY_AGE, female=0.9)


def groom_weights() -> np.ndarray:
    """Relative risk per cell of marrying as spouse 1 of an opposite-sex couple (men)."""
    return _both_sexes(_GROOM_BY_AGE, female=0.0)


def same_sex_weights(sex: int) -> np.ndarray:
    """Relative risk per cell of marrying as spouse 1 of a same-sex couple of ``sex``."""
    return _both_sexes(_SAME_SEX_BY_AGE, male=float(sex == 1), female=float(sex == 2))


def divorce_weights(sex: int) -> np.ndarray:
    """Relative risk per cell of a married person of ``sex`` divorcing as spouse 1."""
    return _both_sexes(_DIVORCE_BY_AGE, male=float(sex == 1), female=float(sex == 2))


def fertility_weights() -> np.ndarray:
    """Relative risk per cell of giving birth (women 15-49)."""
    return np.concatenate([np.zeros(MAX_AGE + 1), _FERTILITY_BY_AGE]).astype(np.float64)


def draw_arrivals(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sex and age of ``n`` persons arriving from abroad."""
    sex = np.where(rng.random(n) < ARRIVAL_MALE_SHARE, 1, 2).astype(np.int8)
    p = _ARRIVAL_AGE * (AGES <= 90)
    age = rng.choice(len(AGES), size=n, p=p / p.sum()).astype(np.int16)
    return sex, age


def draw_lags(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """Days between occurrence and registration: geometric, capped at the legal limit."""
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    lags = rng.geometric(1.0 / (1.0 + LAG_MEAN[kind]), size=n) - 1
    return np.minimum(lags, LAG_MAX[kind]).astype(np.int32)


def draw_household_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Sizes of adult households, enough to hold ``n`` adults."""
    mean = float((np.arange(1, 6) * ADULT_HOUSEHOLD_SIZES).sum())
    count = int(n / mean * 1.1) + 16
    return (1 + draw_categories(rng, ADULT_HOUSEHOLD_SIZES, count)).astype(np.int32)


def draw_categories(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    """``n`` independent draws of an index with probabilities ``p`` (to within 2**-20).

    The probabilities are rounded to multiples of 2**-20 and laid out in a table of that
    size; a draw is then one random table position, much cheaper than a search.
    """
    size = 1 << 20
    weight = np.asarray(p, dtype=np.float64)
    exact = weight / weight.sum() * size
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: size - counts.sum()]] += 1
    table = np.repeat(np.arange(len(weight), dtype=np.int32), counts)
    return table[rng.integers(0, size, n, dtype=np.int32)]
