"""Inputs that must be refused (issue 10 items 7 and 8) and problem texts a statistician can
act on (issue 9 item 10): hand-made tiny extracts, every expectation written out by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from stats.extract import load_extract
from stats.periods import Month, Period
from stats.problems import ValidationError
from tests.helpers import event, person, tiny_codes, write_extract

DEC, JAN, FEB, MAR = Month(2023, 12), Month(2024, 1), Month(2024, 2), Month(2024, 3)
V1, KHH = "63000010001", "64000010001"
HEADER_R = "person_id,household_id,village_code,sex,birth_date,indigenous,marital_status\n"
PEOPLE = [person("p1", V1), person("p2", KHH, sex=2)]


def problems_of(folder: Path, period: str) -> list[tuple]:
    with pytest.raises(ValidationError) as caught:
        load_extract(folder, Period.parse(period), tiny_codes())
    return [(Path(p.file).name, p.row, p.column, p.value, p.rule) for p in caught.value.problems]


def quarter(folder: Path, events: dict[Month, list[dict]], fmt: str = "csv") -> Path:
    """2024-Q1: snapshots of 2023-12 and 2024-03, events of January to March."""
    months = {JAN: [], FEB: [], MAR: [], **events}
    return write_extract(folder, {DEC: PEOPLE, MAR: PEOPLE}, months, fmt=fmt)


# --- one person's events within a month's file ------------------------------------------


def test_a_person_registered_dead_twice_is_refused_naming_both_rows(tmp_path):
    quarter(tmp_path, {MAR: [
        event("e1", "DEATH", date(2024, 3, 4), pid="p1", village=V1),
        event("e2", "BIRTH", date(2024, 3, 5), pid="n1", born=date(2024, 3, 1), village=V1),
        event("e3", "DEATH", date(2024, 3, 20), pid="p1", village=V1),
    ]})
    assert problems_of(tmp_path, "2024-Q1") == [
        ("events_202403.csv", 3, "person_id", "p1",
         "a second DEATH of this person (the first: events_202403.csv row 1)"),
    ]


def test_a_person_born_twice_in_one_month_is_refused(tmp_path):
    quarter(tmp_path, {
        FEB: [event("b0", "BIRTH", date(2024, 2, 3), pid="n1", born=date(2024, 1, 30), village=V1),
              event("b1", "MOVE", date(2024, 2, 4), pid="p2", origin=KHH, destination=V1),
              event("b2", "BIRTH", date(2024, 2, 9), pid="n1", born=date(2024, 1, 30), village=V1)],
    })
    assert problems_of(tmp_path, "2024-Q1") == [
        ("events_202402.csv", 3, "person_id", "n1",
         "a second BIRTH of this person (the first: events_202402.csv row 1)"),
    ]


def test_a_death_then_a_later_move_in_the_same_month_is_refused(tmp_path):
    quarter(tmp_path, {
        MAR: [event("c0", "DEATH", date(2024, 3, 2), pid="p1", village=V1),
              event("c1", "MOVE", date(2024, 3, 4), pid="p1", origin=V1, destination=KHH),
              event("c2", "MARRIAGE", date(2024, 3, 5), pid="p1", village=V1, partner_sex=2)],
    })
    assert problems_of(tmp_path, "2024-Q1") == [
        ("events_202403.csv", 2, "person_id", "p1",
         "MOVE registered after this person's DEATH (events_202403.csv row 1)"),
        ("events_202403.csv", 3, "person_id", "p1",
         "MARRIAGE registered after this person's DEATH (events_202403.csv row 1)"),
    ]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_repeats_name_the_first_and_only_repeated_persons_are_listed(tmp_path, fmt):
    """The repeats are found among the persons who repeat only (the ranking windows run on
    those alone): a third DEATH names the first one too, a repeated BIRTH beside them is
    listed on its own, and the events after the first DEATH name it."""
    quarter(tmp_path, {MAR: [
        event("e1", "DEATH", date(2024, 3, 4), pid="p1", village=V1),
        event("e2", "BIRTH", date(2024, 3, 5), pid="n1", born=date(2024, 3, 1), village=V1),
        event("e3", "DEATH", date(2024, 3, 20), pid="p1", village=V1),
        event("e4", "BIRTH", date(2024, 3, 6), pid="n2", born=date(2024, 3, 2), village=V1),
        event("e5", "DEATH", date(2024, 3, 12), pid="p1", village=V1),
        event("e6", "BIRTH", date(2024, 3, 7), pid="n1", born=date(2024, 3, 1), village=V1),
        event("e7", "MOVE", date(2024, 3, 8), pid="p1", origin=V1, destination=KHH),
    ]}, fmt=fmt)
    f = f"events_202403.{fmt}"
    assert problems_of(tmp_path, "2024-Q1") == [
        (f, 3, "person_id", "p1", f"a second DEATH of this person (the first: {f} row 1)"),
        (f, 5, "person_id", "p1", f"a second DEATH of this person (the first: {f} row 1)"),
        (f, 6, "person_id", "n1", f"a second BIRTH of this person (the first: {f} row 2)"),
        (f, 7, "person_id", "p1", f"MOVE registered after this person's DEATH ({f} row 1)"),
    ]


def test_the_same_key_in_two_months_files_is_not_one_person(tmp_path):
    """CONTRACT §1: person_id is unique in the file — a pseudonymous key that may be drawn
    anew each month — so keys repeating across a quarter's files are not refused."""
    quarter(tmp_path, {
        JAN: [event("a1", "DEATH", date(2024, 1, 8), pid="x1", village=V1),
              event("a2", "BIRTH", date(2024, 1, 9), pid="x2", born=date(2024, 1, 2), village=V1)],
        FEB: [event("b1", "MOVE", date(2024, 2, 10), pid="x1", origin=V1, destination=KHH)],
        MAR: [event("c1", "DEATH", date(2024, 3, 8), pid="x1", village=V1),
              event("c2", "BIRTH", date(2024, 3, 9), pid="x2", born=date(2024, 3, 2), village=V1)],
    })
    extract = load_extract(tmp_path, Period.parse("2024-Q1"), tiny_codes())
    assert extract.events.collect().height == 5


def test_events_registered_before_a_death_or_with_it_are_lawful(tmp_path):
    # moved, then died; the death registered on the day of a move that happened before it
    quarter(tmp_path, {
        JAN: [event("a1", "MOVE", date(2024, 1, 10), pid="p1", origin=V1, destination=KHH)],
        MAR: [event("c1", "MOVE", date(2024, 3, 4), pid="p2", origin=KHH, destination=V1,
                    occurred=date(2024, 3, 1)),
              event("c2", "DEATH", date(2024, 3, 4), pid="p2", village=V1,
                    occurred=date(2024, 3, 2)),
              event("c3", "DEATH", date(2024, 3, 6), pid="p1", village=KHH)],
    })
    extract = load_extract(tmp_path, Period.parse("2024-Q1"), tiny_codes())
    assert extract.events.collect().height == 4


def test_a_married_person_marrying_again_is_not_refused(tmp_path):
    # the extract cannot see a divorce in which p1 was spouse 2, nor the death of p1's
    # spouse: a married person's MARRIAGE may be lawful, so it is not a validation problem
    married = [person("p1", V1, marital=2), person("p2", KHH, sex=2)]
    write_extract(tmp_path, {DEC: married, MAR: married},
                  {JAN: [], FEB: [],
                   MAR: [event("c1", "MARRIAGE", date(2024, 3, 5), pid="p1", village=V1,
                               partner_sex=2)]}, fmt="csv")
    load_extract(tmp_path, Period.parse("2024-Q1"), tiny_codes())


# --- identifiers ------------------------------------------------------------------------


ID_RULE = "not a valid identifier: only visible ASCII characters ! to ~ (letters, digits, punctuation)"


def test_ids_are_visible_ascii(tmp_path):
    quarter(tmp_path, {})
    (tmp_path / "residents_202403.csv").write_bytes(
        (HEADER_R
         + "p1,h1,63000010001,1,1980-01-01,0,1\n"
         + "p\x002,h2,63000010001,1,1980-01-01,0,1\n"  # a NUL byte
         + "p3,h\U000fffa83,63000010001,1,1980-01-01,0,1\n"  # a private-use made character
         + "p 4,h4,63000010001,1,1980-01-01,0,1\n"  # a space
         + "p5,戶5,63000010001,1,1980-01-01,0,1\n").encode("utf-8")  # not ASCII
    )
    got = problems_of(tmp_path, "2024-Q1")
    f = "residents_202403.csv"
    assert sorted(got) == [
        (f, 2, "person_id", "p\x002", ID_RULE),
        (f, 3, "household_id", "h\U000fffa83", ID_RULE),
        (f, 4, "person_id", "p 4", ID_RULE),
        (f, 5, "household_id", "戶5", ID_RULE),
    ]


def test_event_ids_with_control_characters_are_refused(tmp_path):
    quarter(tmp_path, {MAR: [event("e\t1", "DEATH", date(2024, 3, 4), pid="p\u200b1",
                                   village=V1)]}, fmt="parquet")
    got = problems_of(tmp_path, "2024-Q1")
    f = "events_202403.parquet"
    assert sorted(got) == [(f, 1, "event_id", "e\t1", ID_RULE),
                           (f, 1, "person_id", "p\u200b1", ID_RULE)]


# --- problem texts ----------------------------------------------------------------------


def test_a_duplicate_id_names_the_row_where_it_first_appeared(tmp_path):
    quarter(tmp_path, {})
    (tmp_path / "residents_202403.csv").write_text(
        HEADER_R + "p1,h1,63000010001,1,1980-01-01,0,1\n" + "p2,h2,63000010001,1,1980-01-01,0,1\n"
        + "p1,h3,63000010001,1,1980-01-01,0,1\n" + "p1,h4,63000010001,1,1980-01-01,0,1\n",
        encoding="utf-8")
    got = problems_of(tmp_path, "2024-Q1")
    assert got == [
        ("residents_202403.csv", 3, "person_id", "p1", "duplicate person_id (first at row 1)"),
        ("residents_202403.csv", 4, "person_id", "p1", "duplicate person_id (first at row 1)"),
    ]


def test_coded_columns_name_their_allowed_values(tmp_path):
    quarter(tmp_path, {})
    (tmp_path / "residents_202403.csv").write_text(
        HEADER_R + "p1,h1,63000010001,M,1980-01-01,Y,2\n", encoding="utf-8")
    got = problems_of(tmp_path, "2024-Q1")
    assert sorted(got) == [
        ("residents_202403.csv", 1, "indigenous", "Y",
         "must be 0, 1 or 2 (0 not indigenous, 1 lowland, 2 highland)"),
        ("residents_202403.csv", 1, "sex", "M", "must be 1 or 2 (1 male, 2 female)"),
    ]


def test_a_truncated_last_line_does_not_hide_the_other_problems(tmp_path):
    quarter(tmp_path, {})
    path = tmp_path / "residents_202403.csv"
    path.write_text(HEADER_R + "p1,h1,63000010001,M,1980-01-01,0,1\n"
                    + "p2,h2,63000010001,1,1980-01-01,0,1\n" + "p3,h3,6300", encoding="utf-8")
    got = problems_of(tmp_path, "2024-Q1")
    assert got == [
        ("residents_202403.csv", 1, "sex", "M", "must be 1 or 2 (1 male, 2 female)"),
        ("residents_202403.csv", 3, None, "p3,h3,6300",
         "file truncated: last line has 3 of 7 fields and no newline"),
    ]
