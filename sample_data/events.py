"""Register events of one month as parallel integer arrays, and their dates."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sample_data import demography as demo

EVENT_TYPES = ("BIRTH", "DEATH", "MARRIAGE", "DIVORCE", "MOVE")
BIRTH, DEATH, MARRIAGE, DIVORCE, MOVE = range(5)
NO_VILLAGE = -1  # empty village code: outside the register for MOVE, unused otherwise
NO_SEX = 0  # empty partner_sex
NO_DATE = -(2**31)  # empty date (mother's birth date on events other than BIRTH)
NO_NATIONALITY = -1  # empty original nationality (the column does not apply)


@dataclass(frozen=True)
class EventBatch:
    """Events with one row each; villages as Geography indexes, dates as day numbers."""

    kind: np.ndarray  # int8 index into EVENT_TYPES
    registration: np.ndarray  # int32
    occurrence: np.ndarray  # int32
    pid: np.ndarray  # int64
    sex: np.ndarray  # int8
    birth: np.ndarray  # int32
    village: np.ndarray  # int16, NO_VILLAGE for MOVE
    origin: np.ndarray  # int16, MOVE only
    destination: np.ndarray  # int16, MOVE only
    partner_sex: np.ndarray  # int8, MARRIAGE/DIVORCE only
    move_kind: np.ndarray  # int8 index into demography.MOVE_KINDS, -1 for other events
    # CONTRACT §8 (written in v2 extracts only)
    mother_birth: np.ndarray  # int32, BIRTH only (NO_DATE elsewhere)
    mother_nationality: np.ndarray  # int8, BIRTH only (NO_NATIONALITY elsewhere)
    nationality: np.ndarray  # int8, MARRIAGE only: spouse 1
    partner_nationality: np.ndarray  # int8, MARRIAGE only: spouse 2

    def __len__(self) -> int:
        return len(self.kind)

    def sorted(self) -> EventBatch:
        """Events in registration order (then type, then person), as a register lists them."""
        order = np.lexsort((self.pid, self.kind, self.registration))
        return EventBatch(**{f.name: getattr(self, f.name)[order] for f in fields(self)})


def make_events(
    kind: int,
    registration: np.ndarray,
    occurrence: np.ndarray,
    pid: np.ndarray,
    sex: np.ndarray,
    birth: np.ndarray,
    *,
    village: np.ndarray | None = None,
    origin: np.ndarray | None = None,
    destination: np.ndarray | None = None,
    partner_sex: np.ndarray | None = None,
    move_kind: np.ndarray | int = -1,
    mother_birth: np.ndarray | None = None,
    mother_nationality: np.ndarray | None = None,
    nationality: np.ndarray | None = None,
    partner_nationality: np.ndarray | None = None,
) -> EventBatch:
    """A batch of events of one type; unused columns are empty."""
    n = len(pid)

    def column(values: np.ndarray | int | None, dtype: type, empty: int) -> np.ndarray:
        if values is None:
            return np.full(n, empty, dtype=dtype)
        return np.broadcast_to(np.asarray(values, dtype=dtype), (n,)).copy()

    return EventBatch(
        kind=np.full(n, kind, dtype=np.int8),
        registration=registration.astype(np.int32),
        occurrence=occurrence.astype(np.int32),
        pid=pid.astype(np.int64),
        sex=sex.astype(np.int8),
        birth=birth.astype(np.int32),
        village=column(village, np.int16, NO_VILLAGE),
        origin=column(origin, np.int16, NO_VILLAGE),
        destination=column(destination, np.int16, NO_VILLAGE),
        partner_sex=column(partner_sex, np.int8, NO_SEX),
        move_kind=column(move_kind, np.int8, -1),
        mother_birth=column(mother_birth, np.int32, NO_DATE),
        mother_nationality=column(mother_nationality, np.int8, NO_NATIONALITY),
        nationality=column(nationality, np.int8, NO_NATIONALITY),
        partner_nationality=column(partner_nationality, np.int8, NO_NATIONALITY),
    )


def concat_events(batches: list[EventBatch]) -> EventBatch:
    """All batches in one."""
    return EventBatch(
        **{f.name: np.concatenate([getattr(b, f.name) for b in batches])
           for f in fields(EventBatch)}
    )


@dataclass(frozen=True)
class Calendar:
    """Days of one month: registration happens on working days only (Monday-Friday)."""

    first: int  # day number of the month's first day
    last: int  # day number of the month's last day
    workdays: np.ndarray

    @classmethod
    def of(cls, first: int, last: int) -> Calendar:
        """The calendar from the first to the last day (day numbers)."""
        days = np.arange(first, last + 1, dtype=np.int32)
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        dates = days.astype("datetime64[D]")
        month_day = (dates - dates.astype("datetime64[M]")).astype(int) + 1
        month = dates.astype("datetime64[M]").astype(int) % 12 + 1
        holiday = np.isin(month * 100 + month_day, demo.FIXED_HOLIDAYS)
        holiday |= np.isin(days, demo.lunar_new_year_holidays())
        workdays = days[(weekday < 5) & ~holiday]
        return cls(first, last, workdays if len(workdays) else days)

    def registrations(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Registration days of ``n`` events, uniform over the working days."""
        return self.workdays[rng.integers(0, len(self.workdays), size=n)]

    def occurrences(
        self, rng: np.random.Generator, registration: np.ndarray, birth: np.ndarray, kind: str
    ) -> np.ndarray:
        """Occurrence days before registration by a legal lag, never before the birth."""
        lag = demo.draw_lags(rng, len(registration), kind)
        return np.maximum(registration - lag, birth).astype(np.int32)
