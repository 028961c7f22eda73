"""Cell marks r (revised) and p (provisional): the pure rule on hand-made cells, then on a
period built twice with one correction (tests.marks_fixture counts the cells by hand)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from stats.marks import cell_marks, mark_notes, marks_used
from stats.publication import list_releases, publications
from stats.revision_marks import mark_basis, release_marks
from tests.marks_fixture import CHANGED, CHANGED_AREAS, LATER, PERIOD, PUBLISHED, revised_releases


def test_a_cell_is_revised_when_its_value_differs_or_it_is_new() -> None:
    current = pl.DataFrame({"area": ["1", "2", "3", "4"], "n": [1, 2, None, 7],
                            "rate": [1.5, None, None, 0.25]})
    previous = pl.DataFrame({"area": ["1", "2", "3"], "n": [1, 3, None],
                             "rate": [1.5, 2.0, None]})
    marks = cell_marks(current, previous, ["area"], ["n", "rate"])
    # 1 unchanged; 2: n 3→2, rate 2.0→null; 3: null = null; 4 not in the previous revision
    assert marks.rows() == [("1", "", ""), ("2", "r", "r"), ("3", "", ""), ("4", "r", "r")]
    assert marks_used(marks, ["n", "rate"]) == ["r"]


def test_without_a_previous_revision_nothing_is_marked_unless_provisional() -> None:
    current = pl.DataFrame({"area": ["1", "2"], "n": [1, 2]})
    assert marks_used(cell_marks(current, None, ["area"], ["n"]), ["n"]) == []
    assert cell_marks(current, None, ["area"], ["n"], provisional=True)["n"].to_list() == ["p", "p"]


def test_provisional_wins_over_revised_and_can_be_per_row() -> None:
    current = pl.DataFrame({"period": ["2025-01", "2025-02"], "n": [5, 6]})
    previous = pl.DataFrame({"period": ["2025-01", "2025-02"], "n": [4, 4]})
    marks = cell_marks(current, previous, ["period"], ["n"],
                       provisional=pl.col("period") == "2025-02")
    assert marks["n"].to_list() == ["r", "p"]


def test_a_measure_the_previous_revision_lacks_is_not_marked() -> None:
    current = pl.DataFrame({"area": ["1"], "n": [1], "new": [9]})
    previous = pl.DataFrame({"area": ["1"], "n": [2]})
    assert cell_marks(current, previous, ["area"], ["n", "new"]).row(0) == ("1", "r", "")


def test_keys_that_do_not_identify_cells_are_refused() -> None:
    frame = pl.DataFrame({"area": ["1", "1"], "n": [1, 2]})
    with pytest.raises(ValueError, match="do not identify"):
        cell_marks(frame, None, ["area"], ["n"])


def test_footnotes_state_each_mark_in_both_languages() -> None:
    zh, en = mark_notes(["r", "p"])
    assert zh[0].startswith("r：修正") and zh[1].startswith("p：初步")
    assert en[0].startswith("r: revised") and en[1].startswith("p: provisional")


def _marked(marks: pl.DataFrame, measures: list[str]) -> pl.DataFrame:
    """(area_code, measure, mark) of every marked cell."""
    return (marks.unpivot(index=[c for c in marks.columns if c not in measures], on=measures,
                          variable_name="measure", value_name="mark")
            .filter(pl.col("mark") != ""))


def test_the_correction_marks_exactly_the_cells_counted_by_hand(tmp_path: Path) -> None:
    releases = revised_releases(tmp_path)
    for table, count in CHANGED.items():
        marks = release_marks(releases / PERIOD, table, LATER)
        assert marks is not None, table
        measures = [c for c in marks.columns if c not in ("area_level", "area_code", "sex",
                                                           "age", "marital_status")]
        marked = _marked(marks, measures)
        assert marked.height == count, table
        assert set(marked["mark"]) == {"r"}
        assert set(marked["area_code"]) == set(CHANGED_AREAS) - (
            {"63000010001"} if table == "population_by_marital_status" else set())
    population = _marked(release_marks(releases / PERIOD, "population", LATER),
                         ["households", "population", "male", "female"])
    assert sorted(set(population["measure"])) == ["female", "male"]
    for table in ("vital_events", "reconciliation", "indigenous_population"):
        assert release_marks(releases / PERIOD, table, LATER) is None, table


def test_the_first_revision_and_an_unrevised_period_carry_no_mark(tmp_path: Path) -> None:
    releases = revised_releases(tmp_path)
    first = releases / ".revisions" / PERIOD / "r0001"
    assert release_marks(first, "population", LATER) is None
    assert mark_basis(first, LATER).previous is None


def test_a_draft_is_marked_against_the_published_revision(tmp_path: Path) -> None:
    releases = revised_releases(tmp_path, publish_second=False)
    basis = mark_basis(releases / PERIOD, LATER)
    assert (basis.revision, basis.previous_revision, basis.provisional) == (2, 1, False)
    assert _marked(release_marks(releases / PERIOD, "population", LATER),
                   ["male", "female"]).height == 8


def test_a_revision_never_made_public_is_no_basis(tmp_path: Path) -> None:
    releases = revised_releases(tmp_path)
    # before revision 1's publication nothing was public: revision 2 is revised from nothing
    before = PUBLISHED.replace(year=2025)
    assert mark_basis(releases / PERIOD, before).previous is None
    assert release_marks(releases / PERIOD, "population", before) is None


def test_provisional_cells_lose_the_mark_when_a_final_revision_supersedes(tmp_path: Path) -> None:
    releases = revised_releases(tmp_path, first_provisional=True)
    assert publications(releases, PERIOD)[1].provisional
    assert [r["provisional"] for r in list_releases(releases, LATER)] == [True, False]
    first = releases / ".revisions" / PERIOD / "r0001"
    marks = release_marks(first, "population", LATER)
    assert marks is not None and set(marks.select("male", "female", "population",
                                                  "households").unpivot()["value"]) == {"p"}
    final = _marked(release_marks(releases / PERIOD, "population", LATER),
                    ["households", "population", "male", "female"])
    assert set(final["mark"]) == {"r"} and final.height == 8


def test_a_provisional_revision_of_a_revision_is_all_p(tmp_path: Path) -> None:
    releases = revised_releases(tmp_path, second_provisional=True)
    marks = release_marks(releases / PERIOD, "population", LATER)
    assert set(marks.select("male", "female").unpivot()["value"]) == {"p"}


def test_rows_in_another_order_are_matched_by_key() -> None:
    """A rebuild in the same row order pairs cells by position; any other order by key:
    both give the same marks."""
    current = pl.DataFrame({"area": ["1", "2", "3"], "n": [1, 5, 3]})
    previous = pl.DataFrame({"area": ["1", "2", "3"], "n": [1, 2, 3]})
    aligned = cell_marks(current, previous, ["area"], ["n"])
    shuffled = cell_marks(current, previous.reverse(), ["area"], ["n"])
    assert aligned.equals(shuffled) and aligned["n"].to_list() == ["", "r", ""]
