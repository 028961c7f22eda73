"""File names for exports (regulation point 7), built only from validated parts."""

from __future__ import annotations

import pytest

from exports.naming import export_file_name


def test_conventional_name():
    assert export_file_name("MOI", "population_by_age", "2025-03", "all", 2, "csv", "utf-8-sig") == (
        "MOI_POP02_2025-03_all_r2.utf-8-sig.csv")
    assert export_file_name("C63000", "vital_events", "2025-Q1", "village", 1, "xlsx") == (
        "C63000_VIT01_2025-Q1_village_r1.xlsx")


@pytest.mark.parametrize("provider, table, period, level, revision, suffix, encoding", [
    ("../x", "population", "2025-03", "all", 1, "csv", None),       # path in provider
    ("MOI", "people", "2025-03", "all", 1, "csv", None),            # unknown table
    ("MOI", "population", "2025-13", "all", 1, "csv", None),        # bad period
    ("MOI", "population", "2025-03", "city", 1, "csv", None),       # unknown level
    ("MOI", "population", "2025-03", "all", 0, "csv", None),        # revision 0
    ("MOI", "population", "2025-03", "all", 1, "c/sv", None),       # slash in suffix
    ("MOI", "population", "2025-03", "all", 1, "csv", "utf 8/x"),   # odd encoding
])
def test_bad_parts_are_refused(provider, table, period, level, revision, suffix, encoding):
    with pytest.raises((ValueError, KeyError)):
        export_file_name(provider, table, period, level, revision, suffix, encoding)
