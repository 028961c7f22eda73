"""Regulation points 7 and 21: every table's page defines every column it has."""

from __future__ import annotations

import pytest

from stats.catalogue import TABLES
from stats.definitions import DEFINITIONS
from stats.table_info import table_info

RELEASES = [
    {"period": "2025-02", "revision": 1, "state": "published",
     "published_at": "2025-03-10T08:00:00+00:00", "note": "first"},
    {"period": "2025-03", "revision": 1, "state": "superseded",
     "published_at": "2025-04-10T08:00:00+00:00", "note": "first"},
    {"period": "2025-03", "revision": 2, "state": "published",
     "published_at": "2025-04-20T08:00:00+00:00", "note": "corrected"},
    {"period": "2025-Q1", "revision": 1, "state": "published",
     "published_at": "2025-04-21T08:00:00+00:00", "note": ""},
    {"period": "2025-04", "revision": 1, "state": "scheduled",
     "published_at": "2025-05-10T08:00:00+00:00", "note": ""},
]
PLANNED = [{"period": "2025-05", "planned": "2025-06-10", "at": None, "note": ""},
           {"period": "2025-04", "planned": None, "at": "2025-05-10T08:00:00+00:00", "note": ""}]


@pytest.mark.parametrize("table", list(TABLES))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_column_of_every_table_is_defined(table: str, lang: str) -> None:
    info = table_info(table, RELEASES, PLANNED, lang)
    names = [c["name"] for c in info["columns"]]
    assert names == [c.name for c in TABLES[table].columns]
    for column in info["columns"]:
        assert column["definition"] and column["label"], column["name"]
        assert column["definition"] == DEFINITIONS[column["name"]][lang == "en"]
    for key in info["keys"]:
        assert key["values"], key["name"]


def test_publication_facts() -> None:
    info = table_info("population_by_age", RELEASES, PLANNED, "zh")
    # the newest publication (the quarter was published after March's correction)
    assert (info["latest"]["period"], info["latest"]["revision"]) == ("2025-Q1", 1)
    assert info["next"]["period"] == "2025-04"  # the scheduled time comes before the plan
    assert [(r["period"], r["revision"]) for r in info["revisions"]][:3] == [
        ("2025-04", 1), ("2025-Q1", 1), ("2025-03", 2)]
    assert info["api"]["table"] == "GET /api/v1/tables/population_by_age?period=2025-Q1"
    ages = next(k for k in info["keys"] if k["name"] == "age")["values"]
    assert (len(ages), ages[-1]["label"]) == (101, "100歲以上")
    assert table_info("population", [], [], "en")["latest"] is None


def test_a_table_no_release_holds_has_no_publications() -> None:
    """A v1 extract's releases hold no fertility table: its page names no publication."""
    held = [{**r, "tables": ["population", "vital_events"]} for r in RELEASES]
    info = table_info("fertility", held, PLANNED, "en")
    assert info["latest"] is None and info["revisions"] == []
    assert table_info("population", held, PLANNED, "en")["latest"]["period"] == "2025-Q1"
