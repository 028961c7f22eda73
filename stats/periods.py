"""Statistical periods: months, quarters and years, their reference dates and ROC labels."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

ROC_OFFSET = 1911  # ROC year = Gregorian year - 1911

_PATTERN = re.compile(r"^(\d{4})(?:-(?:(0[1-9]|1[0-2])|Q([1-4])))?$")


class PeriodError(ValueError):
    """A period string that is not YYYY-MM, YYYY-Qn or YYYY."""


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, the unit in which extracts arrive."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """Parse ``YYYY-MM`` or ``YYYYMM``."""
        m = re.fullmatch(r"(\d{4})-?(0[1-9]|1[0-2])", text.strip())
        if not m:
            raise PeriodError(f"unknown month {text!r}; expected YYYY-MM")
        return cls(int(m.group(1)), int(m.group(2)))

    @property
    def first_day(self) -> date:
        """The month's first day."""
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        """The month's last day (the reference date of a monthly snapshot)."""
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def compact(self) -> str:
        """``YYYYMM``, as in extract file names."""
        return f"{self.year:04d}{self.month:02d}"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shift(self, months: int) -> Month:
        """The month ``months`` later (earlier when negative)."""
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)


@dataclass(frozen=True)
class Period:
    """A release period: ``2025-03`` (month), ``2025-Q1`` (quarter) or ``2025`` (year)."""

    kind: str  # "month" | "quarter" | "year"
    year: int
    number: int  # month 1-12, quarter 1-4, or 0 for a year

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse a period string as written in the contract."""
        m = _PATTERN.match(text.strip()) if isinstance(text, str) else None
        if not m:
            raise PeriodError(f"unknown period {text!r}; expected YYYY-MM, YYYY-Qn or YYYY")
        year = int(m.group(1))
        if m.group(2):
            return cls("month", year, int(m.group(2)))
        if m.group(3):
            return cls("quarter", year, int(m.group(3)))
        return cls("year", year, 0)

    def __str__(self) -> str:
        if self.kind == "month":
            return f"{self.year:04d}-{self.number:02d}"
        if self.kind == "quarter":
            return f"{self.year:04d}-Q{self.number}"
        return f"{self.year:04d}"

    @property
    def months(self) -> list[Month]:
        """The calendar months the period covers, in order."""
        if self.kind == "month":
            return [Month(self.year, self.number)]
        if self.kind == "quarter":
            first = 3 * (self.number - 1) + 1
            return [Month(self.year, m) for m in range(first, first + 3)]
        return [Month(self.year, m) for m in range(1, 13)]

    @property
    def first_day(self) -> date:
        """The period's first day."""
        return self.months[0].first_day

    @property
    def reference_date(self) -> date:
        """The period's last day: stocks and ages are taken on it."""
        return self.months[-1].last_day

    @property
    def start_month(self) -> Month:
        """The month whose snapshot gives the start stock (the month before the period)."""
        return self.months[0].shift(-1)

    @property
    def end_month(self) -> Month:
        """The month whose snapshot gives the end stock."""
        return self.months[-1]

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.reference_date - self.first_day).days + 1

    @property
    def annualisation_factor(self) -> float:
        """Factor turning a rate for the period into an annual rate.

        Months and quarters are scaled by 365 / days (365 also in leap years); years are not.
        """
        return 1.0 if self.kind == "year" else 365 / self.days

    @property
    def roc_label(self) -> str:
        """Label in the ROC calendar, as people read it: ``114年3月``, ``114年第1季``, ``114年``."""
        roc = self.year - ROC_OFFSET
        if self.kind == "month":
            return f"{roc}年{self.number}月"
        if self.kind == "quarter":
            return f"{roc}年第{self.number}季"
        return f"{roc}年"

    @property
    def en_label(self) -> str:
        """Label in English: ``Mar 2025``, ``2025 Q1``, ``2025``."""
        if self.kind == "month":
            return f"{MONTHS_EN[self.number - 1]} {self.year}"
        if self.kind == "quarter":
            return f"{self.year} Q{self.number}"
        return str(self.year)

    def label(self, lang: str) -> str:
        """The label people read in ``lang`` (``zh``: ROC calendar; ``en``: Gregorian)."""
        return self.roc_label if lang == "zh" else self.en_label

    def shift(self, steps: int) -> Period:
        """The period ``steps`` periods of the same kind later (earlier if negative)."""
        if self.kind == "year":
            return Period("year", self.year + steps, 0)
        per_year = 12 if self.kind == "month" else 4
        index = self.year * per_year + self.number - 1 + steps
        return Period(self.kind, index // per_year, index % per_year + 1)

    def sub_periods(self) -> list[Period]:
        """The monthly periods that make up this period."""
        return [Period("month", m.year, m.month) for m in self.months]


MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def period_range(first: Period, last: Period) -> list[Period]:
    """Every period from ``first`` to ``last`` inclusive (both of one kind).

    Raises
    ------
    PeriodError
        Periods of two kinds, or ``last`` before ``first``.
    """
    if first.kind != last.kind:
        raise PeriodError(f"{first}..{last}: a range joins periods of one kind")
    periods = [first]
    while periods[-1] != last:
        if len(periods) > 10_000 or (periods[-1].year, periods[-1].number) > (last.year, last.number):
            raise PeriodError(f"{first}..{last}: the range ends before it starts")
        periods.append(periods[-1].shift(1))
    return periods


def roc_yyymm(month: Month) -> str:
    """MOI's compact ROC period ``yyyMM`` (``11312`` for 2024-12)."""
    return f"{month.year - ROC_OFFSET:03d}{month.month:02d}"
