"""Periods of CONTRACT §2: parsing, reference dates, start months, ROC labels, annualisation."""

from __future__ import annotations

from datetime import date

import pytest

from stats.periods import Month, Period, PeriodError, roc_yyymm


@pytest.mark.parametrize("text, kind, reference, start, roc, days", [
    ("2025-03", "month", date(2025, 3, 31), "2025-02", "114年3月", 31),
    ("2024-02", "month", date(2024, 2, 29), "2024-01", "113年2月", 29),
    ("2023-02", "month", date(2023, 2, 28), "2023-01", "112年2月", 28),
    ("2025-01", "month", date(2025, 1, 31), "2024-12", "114年1月", 31),
    ("2025-Q1", "quarter", date(2025, 3, 31), "2024-12", "114年第1季", 90),
    ("2024-Q1", "quarter", date(2024, 3, 31), "2023-12", "113年第1季", 91),
    ("2025-Q4", "quarter", date(2025, 12, 31), "2025-09", "114年第4季", 92),
    ("2025", "year", date(2025, 12, 31), "2024-12", "114年", 365),
    ("2024", "year", date(2024, 12, 31), "2023-12", "113年", 366),
])
def test_period_facts(text, kind, reference, start, roc, days):
    p = Period.parse(text)
    assert (p.kind, p.reference_date, str(p.start_month), p.roc_label, p.days) == (
        kind, reference, start, roc, days)
    assert str(p) == text


@pytest.mark.parametrize("text, factor", [
    ("2023-02", 365 / 28), ("2024-02", 365 / 29), ("2024-04", 365 / 30), ("2024-03", 365 / 31),
    ("2024-Q1", 365 / 91), ("2025-Q1", 365 / 90), ("2024", 1.0), ("2023", 1.0),
])
def test_annualisation_uses_365_even_in_leap_years(text, factor):
    assert Period.parse(text).annualisation_factor == pytest.approx(factor)


def test_months_of_periods():
    assert [str(m) for m in Period.parse("2025-Q2").months] == ["2025-04", "2025-05", "2025-06"]
    assert len(Period.parse("2025").months) == 12
    assert Month(2025, 1).shift(-1) == Month(2024, 12)
    assert Month(2024, 12).shift(13) == Month(2026, 1)


@pytest.mark.parametrize("bad", ["2025-13", "2025-Q5", "25-01", "2025-1", "2025Q1", "", "2025-00"])
def test_bad_periods_are_refused_with_the_expected_forms(bad):
    with pytest.raises(PeriodError, match="expected YYYY-MM, YYYY-Qn or YYYY"):
        Period.parse(bad)


def test_roc_compact_month():
    assert roc_yyymm(Month(2024, 12)) == "11312"
    assert roc_yyymm(Month(2021, 1)) == "11001"


def test_ranges_of_one_kind() -> None:
    from stats.periods import period_range

    assert [str(p) for p in period_range(Period.parse("2024-11"), Period.parse("2025-02"))] == [
        "2024-11", "2024-12", "2025-01", "2025-02"]
    assert [str(p) for p in period_range(Period.parse("2024-Q4"), Period.parse("2025-Q1"))] == [
        "2024-Q4", "2025-Q1"]
    assert [str(p) for p in period_range(Period.parse("2024"), Period.parse("2024"))] == ["2024"]
    for first, last in (("2025-03", "2025-01"), ("2025-01", "2025-Q1")):
        with pytest.raises(PeriodError):
            period_range(Period.parse(first), Period.parse(last))


def test_english_labels() -> None:
    assert [Period.parse(p).label("en") for p in ("2025-03", "2025-Q1", "2025")] == [
        "Mar 2025", "2025 Q1", "2025"]
    assert Period.parse("2025-03").label("zh") == "114年3月"
