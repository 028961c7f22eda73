"""Times typed and read by people are Taipei times; stored ones are UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from stats.taipei import TimeInputError, format_time, iso, parse_day, parse_time

EIGHT_UTC = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)  # 16:00 in Taipei


@pytest.mark.parametrize("typed", [
    "2026-12-10 16:00", "2026-12-10T16:00", "2026-12-10 16:00:00", "2026-12-10T16:00+08:00",
    "2026-12-10T08:00Z", "2026-12-10T08:00:00+00:00", "115/12/10 16:00", "115-12-10 16:00",
    "1151210 1600", "1151210 16:00", "  115/12/10   16:00 ",
])
def test_typed_times_without_zone_are_taipei(typed: str) -> None:
    assert parse_time(typed) == EIGHT_UTC


def test_a_zone_given_is_honoured() -> None:
    assert parse_time("2026-12-10T16:00-05:00") == datetime(2026, 12, 10, 21, 0, tzinfo=UTC)


def test_roc_date_alone_is_taipei_midnight() -> None:
    assert parse_time("1151210") == datetime(2026, 12, 9, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("typed", ["", "tomorrow", "115/02/30 10:00", "1151332 1000",
                                   "2026-13-01 10:00", "115/12/10 25:00"])
def test_nonsense_is_refused_with_its_text(typed: str) -> None:
    with pytest.raises(TimeInputError):
        parse_time(typed)


def test_days() -> None:
    assert parse_day("2026-12-10") == date(2026, 12, 10)
    assert parse_day("115/12/10") == date(2026, 12, 10)
    assert parse_day("1151210") == date(2026, 12, 10)
    with pytest.raises(TimeInputError):
        parse_day("2026-02-30")


def test_reading_forms() -> None:
    moment = datetime(2026, 12, 10, 16, 30, 5, 123456, tzinfo=UTC)  # 00:30:05 next day, Taipei
    assert format_time(moment, "zh") == "115年12月11日 00:30 臺北時間"
    assert format_time(moment, "en") == "2026-12-11 00:30 +08:00"
    assert format_time(moment, "zh", seconds=True) == "115年12月11日 00:30:05 臺北時間"
    assert format_time(moment, "en", label=False) == "2026-12-11 00:30"
    assert format_time(None) == "—"
    assert iso(moment) == "2026-12-10T16:30:05+00:00"
