"""Calendar rules in Asia/Taipei: the regulation's days and months are local dates."""

from __future__ import annotations

import calendar as _cal
from datetime import UTC, date, datetime, timedelta

from stats.taipei import TAIPEI


def local_date(moment: datetime) -> date:
    """The Asia/Taipei calendar date of an aware moment."""
    return moment.astimezone(TAIPEI).date()


def start_of_day(day: date) -> datetime:
    """The UTC moment at which ``day`` begins in Asia/Taipei."""
    return datetime(day.year, day.month, day.day, tzinfo=TAIPEI).astimezone(UTC)


def end_of_day(day: date) -> datetime:
    """The UTC moment at which ``day`` ends in Asia/Taipei (the next day's start)."""
    return start_of_day(day + timedelta(days=1))


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = _cal.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))
