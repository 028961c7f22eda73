"""The register as compact integer columns, and the initial population.

A ``Population`` is one snapshot: parallel numpy arrays, rows in ascending ``pid`` (new
persons get larger ids and are appended), villages as indexes into ``Geography.codes``,
dates as days since 1970-01-01. Snapshots are never changed in place, so one can be
written to disk while the next month is simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date

import numpy as np

from sample_data import demography as demo
from sample_data.calibration import Calibration, draw_band_sex_age, household_numbers
from sample_data.geography import Geography

EPOCH = date(1970, 1, 1)
FIRST_PERSON_ID = 1_000_000_001  # ids look like P1000000001
FIRST_HOUSEHOLD_ID = 100_000_001  # H100000001


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return (day - EPOCH).days


@dataclass(frozen=True)
class Population:
    """One snapshot of the register; all arrays have one row per person."""

    pid: np.ndarray  # int64 person number
    hh: np.ndarray  # int32 household number
    village: np.ndarray  # int16 index into Geography.codes
    sex: np.ndarray  # int8 1/2
    birth: np.ndarray  # int32 day number
    indigenous: np.ndarray  # int8 0/1/2
    marital: np.ndarray  # int8 1-4
    tribe: np.ndarray  # int8 CONTRACT §8 code (0 not indigenous); written in v2 extracts only

    def __len__(self) -> int:
        return len(self.pid)

    def take(self, rows: np.ndarray) -> Population:
        """The persons at ``rows`` (a boolean mask or indexes), as a new snapshot."""
        return Population(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def assemble(self, keep: np.ndarray, others: list[Population]) -> Population:
        """The persons kept (boolean mask) followed by those of ``others``, in new arrays."""
        return Population(
            **{f.name: np.concatenate([getattr(self, f.name)[keep],
                                       *(getattr(o, f.name) for o in others)])
               for f in fields(self)}
        )

    def with_columns(self, **columns: np.ndarray) -> Population:
        """A copy with some columns replaced."""
        return replace(self, **columns)

    def households(self) -> int:
        """Number of distinct households."""
        return int(np.count_nonzero(np.bincount(self.hh))) if len(self) else 0


def empty_population() -> Population:
    """A snapshot without persons (to build appended rows from)."""
    return Population(
        pid=np.zeros(0, np.int64), hh=np.zeros(0, np.int32), village=np.zeros(0, np.int16),
        sex=np.zeros(0, np.int8), birth=np.zeros(0, np.int32),
        indigenous=np.zeros(0, np.int8), marital=np.zeros(0, np.int8),
        tribe=np.zeros(0, np.int8),
    )


def initial_population(
    rng: np.random.Generator, geo: Geography, calibration: Calibration, scale: float,
    month_index: int, reference: date,
) -> Population:
    """The register at the end of the first snapshot month, calibrated village by village.

    Parameters
    ----------
    rng
        Random generator of this stage.
    geo
        The villages; only those valid in ``month_index`` are populated.
    calibration
        MOI's figures on the villages of ``geo``: sizes, age bands, sex, households.
    scale
        Fraction of Taiwan's population.
    month_index
        The snapshot month (``year * 12 + month - 1``).
    reference
        The snapshot's reference date (last day of the month).

    Returns
    -------
    Population
        Persons sorted by village (in random order within it), ids in that order.
    """
    sizes = calibration.sizes(rng, geo, scale, month_index)
    village = np.repeat(np.arange(geo.size, dtype=np.int16), sizes)
    n = len(village)
    ref_day = day_number(reference)
    decimal_year = reference.year + (reference.timetuple().tm_yday / 365.25)
    # each row is drawn on its own, so rows lie in random order within their village
    # (households look for the nearest mother)
    sex, age = draw_band_sex_age(rng, calibration, village, decimal_year)
    cells = demo.cell_of(sex, age)
    # uniform within the year of age: completed age at the reference date is `age`
    offset = ((age + rng.random(n, dtype=np.float32)) * np.float32(demo.DAYS_PER_YEAR))
    birth = (ref_day - offset.astype(np.int32)).astype(np.int32)
    share, lowland = geo.indigenous_shares(rng)
    u = rng.random(n, dtype=np.float32)
    is_indigenous = u < share[village]
    highland = rng.random(n, dtype=np.float32) >= lowland[village]
    indigenous = np.where(is_indigenous, np.where(highland, 2, 1), 0).astype(np.int8)
    marital = demo.draw_marital(rng, cells)
    hh = _initial_households(rng, calibration, village, sex, age)
    pid = np.arange(FIRST_PERSON_ID, FIRST_PERSON_ID + n, dtype=np.int64)
    # the peoples are drawn later from their own generator (sample_data.origins)
    return Population(pid, hh, village, sex, birth, indigenous, marital,
                      np.zeros(n, dtype=np.int8))


def _previous(mask: np.ndarray, village: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each row, the nearest earlier row in ``mask`` of the same village, or -1.

    Rows lie in random order within their village, so that row is a random one.
    """
    index = np.where(mask, np.arange(len(mask), dtype=np.int32), np.int32(-1))
    before = np.maximum.accumulate(index)[rows]
    same = village[np.maximum(before, 0)] == village[rows]
    return np.where((before >= 0) & same, before, -1)


def _any_adult(rng: np.random.Generator, adults: np.ndarray, village: np.ndarray,
               rows: np.ndarray) -> np.ndarray:
    """For each row, a random adult of its village (``adults`` sorted by village), or -1."""
    adult_village = village[adults]
    lo = np.searchsorted(adult_village, village[rows], side="left")
    hi = np.searchsorted(adult_village, village[rows], side="right")
    pick = lo + (rng.random(len(rows)) * (hi - lo)).astype(np.int64)
    return np.where(hi > lo, adults[np.minimum(pick, len(adults) - 1)], -1)


def _initial_households(
    rng: np.random.Generator, calibration: Calibration, village: np.ndarray, sex: np.ndarray,
    age: np.ndarray,
) -> np.ndarray:
    """Household numbers: adults grouped at random within villages, children with a mother.

    Adults (20+) of a village form its MOI number of households; a young child joins the household
    of a woman of the village aged 20-49, an older child one aged 30-64; failing that of
    any adult of the village, failing that (tiny villages) a household of its own.
    """
    n = len(village)
    hh = np.full(n, -1, dtype=np.int32)
    adult = age >= demo.ADULT_AGE
    adults = np.flatnonzero(adult)
    hh[adults] = household_numbers(rng, calibration, village, adult)
    next_hh = int(hh.max()) + 1 if len(adults) else 0
    women = sex == 2
    for young, mothers in demo.MOTHER_AGES:
        children = np.flatnonzero((age >= young[0]) & (age <= young[1]))
        mother = _previous(women & (age >= mothers[0]) & (age <= mothers[1]), village, children)
        missing = np.flatnonzero(mother < 0)
        if len(missing) and len(adults):
            mother[missing] = _any_adult(rng, adults, village, children[missing])
        found = mother >= 0
        hh[children[found]] = hh[mother[found]]
        alone = children[~found]
        hh[alone] = np.arange(next_hh, next_hh + len(alone))
        next_hh += len(alone)
    hh += FIRST_HOUSEHOLD_ID
    return hh
