"""Every validation rule of CONTRACT §1 with a bad file: all problems listed, nothing written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from stats.extract import load_extract
from stats.periods import Month, Period
from stats.problems import ValidationError
from stats.release import build_release
from tests.helpers import event, person, tiny_codes, write_extract

FEB, MAR = Month(2024, 2), Month(2024, 3)
V1, RETIRED, KHH = "63000010001", "63000010002", "64000010001"
HEADER_R = "person_id,household_id,village_code,sex,birth_date,indigenous,marital_status\n"
SEX_RULE = "must be 1 or 2 (1 male, 2 female)"
HEADER_E = ("event_id,event_type,registration_date,occurrence_date,person_id,sex,birth_date,"
            "village_code,from_village_code,to_village_code,partner_sex\n")


def good_extract(folder: Path, fmt: str = "csv") -> Path:
    people = [person("p1", V1), person("p2", KHH, sex=2)]
    return write_extract(folder, {FEB: people, MAR: people}, {MAR: []}, fmt=fmt)


def problems_of(folder: Path, period: str = "2024-03", encoding: str = "utf-8") -> list[tuple]:
    with pytest.raises(ValidationError) as caught:
        load_extract(folder, Period.parse(period), tiny_codes(), encoding)
    return [(Path(p.file).name, p.row, p.column, p.value, p.rule) for p in caught.value.problems]


def test_a_good_extract_passes(tmp_path):
    extract = load_extract(good_extract(tmp_path), Period.parse("2024-03"), tiny_codes())
    assert extract.end.collect().height == 2


def test_every_resident_problem_is_listed_with_row_column_and_value(tmp_path):
    good_extract(tmp_path)
    (tmp_path / "residents_202403.csv").write_text(
        HEADER_R
        + "p1,h1,63000010001,1,1980-01-01,0,1\n"
        + "p1,h2,63000010001,3,2024-02-30,5,0\n"  # duplicate id, sex 3, impossible date, codes
        + "p3,,6300001000,x,1130230,0,1\n"  # missing household, short code, sex x, ROC 30 Feb
        + "p4,h4,63000010002,2,2024-04-01,0,1\n"  # retired village, born after reference date
        + "p5,h5,99999999999,2,0991231,0,2\n",  # unknown code (ROC date 2010-12-31 is fine)
        encoding="utf-8",
    )
    got = problems_of(tmp_path)
    f = "residents_202403.csv"
    expected = [
        (f, 2, "person_id", "p1", "duplicate person_id (first at row 1)"),
        (f, 2, "sex", "3", SEX_RULE),
        (f, 2, "birth_date", "2024-02-30", "not a valid date (YYYY-MM-DD or ROC YYYMMDD)"),
        (f, 2, "indigenous", "5",
             "must be 0, 1 or 2 (0 not indigenous, 1 lowland, 2 highland)"),
        (f, 2, "marital_status", "0",
             "must be 1, 2, 3 or 4 (1 never married, 2 married, 3 divorced, 4 widowed)"),
        (f, 3, "household_id", None, "required value missing"),
        (f, 3, "village_code", "6300001000", "not an 11-digit village code"),
        (f, 3, "sex", "x", SEX_RULE),
        (f, 3, "birth_date", "1130230", "not a valid date (YYYY-MM-DD or ROC YYYMMDD)"),
        (f, 4, "village_code", "63000010002", "village code not valid in 2024-03"),
        (f, 4, "birth_date", "2024-04-01", "born after the reference date 2024-03-31"),
        (f, 5, "village_code", "99999999999", "unknown village code"),
    ]
    assert sorted(got) == sorted(expected)


def test_every_event_problem_is_listed(tmp_path):
    good_extract(tmp_path)
    (tmp_path / "events_202403.csv").write_text(
        HEADER_E
        + "e1,BIRTH,2024-04-01,2024-03-02,n1,1,2024-03-01,63000010001,,,\n"
        + "e2,DEATH,2024-03-05,2024-03-06,p1,1,2024-03-07,,,,\n"
        + "e2,WEDDING,2024-03-05,2024-03-05,p1,1,1980-01-01,63000010001,,,\n"
        + "e4,MOVE,2024-03-05,2024-03-05,p1,1,1980-01-01,,,,\n"
        + "e5,MOVE,1130305,1130305,p1,1,1980-01-01,,63000010002,64000010001,\n"
        + "e6,MARRIAGE,2024-03-05,2024-03-05,p1,1,1980-01-01,63000010001,,,\n"
        + "e7,DIVORCE,2024-03-05,2024-03-05,p1,1,1980-01-01,63000010001,,,3\n",
        encoding="utf-8",
    )
    got = problems_of(tmp_path)
    f = "events_202403.csv"
    expected = [
        (f, 1, "registration_date", "2024-04-01", "registration date outside 2024-03"),
        (f, 1, "birth_date", "2024-03-01", "a birth's birth_date must equal its occurrence_date"),
        (f, 2, "occurrence_date", "2024-03-06", "occurred after its registration"),
        (f, 2, "birth_date", "2024-03-07", "birth after the event"),
        (f, 2, "village_code", None, "required for BIRTH, DEATH, MARRIAGE and DIVORCE"),
        (f, 3, "event_id", "e2", "duplicate event_id (first at row 2)"),
        (f, 3, "event_type", "WEDDING", "must be BIRTH, DEATH, MARRIAGE, DIVORCE or MOVE"),
        (f, 4, "to_village_code", None, "a MOVE needs an origin or a destination"),
        (f, 5, "from_village_code", "63000010002", "village code not valid in 2024-03"),
        (f, 6, "partner_sex", None, "required for MARRIAGE and DIVORCE"),
        (f, 7, "partner_sex", "3", SEX_RULE),
    ]
    assert sorted(got) == sorted(expected)


def test_missing_columns_and_files(tmp_path):
    good_extract(tmp_path)
    (tmp_path / "residents_202402.csv").unlink()
    (tmp_path / "events_202403.csv").write_text("event_id,event_type\n", encoding="utf-8")
    got = problems_of(tmp_path)
    assert any(p[4].startswith("missing file: residents of 2024-02") for p in got)
    missing = {p[2] for p in got if p[4] == "required column missing"}
    assert missing == {"registration_date", "occurrence_date", "person_id", "sex", "birth_date",
                       "village_code", "from_village_code", "to_village_code", "partner_sex"}


def test_a_truncated_csv_is_refused(tmp_path):
    good_extract(tmp_path)
    path = tmp_path / "residents_202403.csv"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 8])  # cut inside the last line
    got = problems_of(tmp_path)
    assert any(p[0] == path.name and p[4].startswith("file truncated") for p in got)


def test_a_truncated_parquet_is_refused(tmp_path):
    good_extract(tmp_path, fmt="parquet")
    path = tmp_path / "residents_202403.parquet"
    path.write_bytes(path.read_bytes()[:-100])
    got = problems_of(tmp_path)
    assert [p[4].split(":")[0] for p in got if p[0] == path.name] == [
        "not a readable Parquet file (truncated?)"
    ]


def test_undecodable_bytes_are_located(tmp_path):
    good_extract(tmp_path)
    # a CP950 file declared as UTF-8: the bytes of 戶 are not valid UTF-8
    (tmp_path / "residents_202403.csv").write_bytes(
        (HEADER_R + "p1,戶1,63000010001,1,1980-01-01,0,1\n").encode("cp950")
    )
    got = problems_of(tmp_path)
    assert ("residents_202403.csv", 1, "household_id", "a4 e1", "bytes not valid utf-8") in got


def test_ragged_rows_are_located(tmp_path):
    good_extract(tmp_path)
    (tmp_path / "residents_202403.csv").write_text(
        HEADER_R + "p1,h1,63000010001,1,1980-01-01,0,1\np2,h2,63000010001,1,1980-01-01,0,1,9,9\n",
        encoding="utf-8",
    )
    got = problems_of(tmp_path)
    assert ("residents_202403.csv", 2, None, "9,9", "row has 9 fields, the header 7") in got


def test_wrong_parquet_types_are_refused(tmp_path):
    good_extract(tmp_path, fmt="parquet")
    path = tmp_path / "residents_202403.parquet"
    pl.read_parquet(path).with_columns(pl.col("sex").cast(pl.Float64)).write_parquet(path)
    got = problems_of(tmp_path)
    assert ("residents_202403.parquet", None, "sex", "Float64", "wrong type; expected Int8") in got


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp950", "euc-tw"])
def test_csv_in_every_encoding_with_mixed_dates_equals_parquet(tmp_path, encoding):
    people = [person("p1", V1, born=date(1980, 2, 29)), person("p2", KHH, sex=2, born=date(1911, 5, 1))]
    events = [event("e1", "DEATH", date(2024, 3, 4), pid="p3", village=KHH)]
    write_extract(tmp_path / "pq", {FEB: people, MAR: people}, {MAR: events}, fmt="parquet")
    folder = tmp_path / "csv"
    folder.mkdir()
    header = HEADER_R.replace("household_id", "household_id")
    # ids are visible ASCII (see test_ids_are_visible_ascii); the encodings still decide
    # how every byte is read, and a BOM or a wrong declaration shows in the problems
    rows = ("p1,h-1,63000010001,1,0690229,0,1\n"  # ROC date
            "p2,h-2,64000010001,2,1911-05-01,0,1\n")  # before 1912: ISO only
    for month in ("202402", "202403"):
        (folder / f"residents_{month}.csv").write_bytes((header + rows).encode(encoding))
    (folder / "events_202403.csv").write_bytes(
        (HEADER_E + "e1,DEATH,1130304,2024-03-04,p3,1,0690101,64000010001,,,\n").encode(encoding)
    )
    declared = "utf-8" if encoding == "utf-8-sig" else encoding
    from_csv = load_extract(folder, Period.parse("2024-03"), tiny_codes(), declared)
    from_pq = load_extract(tmp_path / "pq", Period.parse("2024-03"), tiny_codes())
    csv_end = from_csv.end.collect()
    assert csv_end["household_id"].to_list() == ["h-1", "h-2"]
    assert csv_end.drop("household_id").equals(from_pq.end.collect().drop("household_id"))
    assert from_csv.events.collect()["registration_date"].to_list() == [date(2024, 3, 4)]
    assert from_csv.events.collect()["birth_date"].to_list() == [date(1980, 1, 1)]
    from_csv.cleanup()


def test_invalid_input_writes_nothing_and_keeps_the_previous_release(tmp_path):
    extract = good_extract(tmp_path / "extract")
    releases = tmp_path / "releases"
    first = build_release(extract, Period.parse("2024-03"), releases, tiny_codes())
    before = sorted(str(p.relative_to(releases)) for p in releases.rglob("*"))
    (extract / "residents_202403.csv").write_text(HEADER_R + "p1,h1,1,1,x,0,1\n", encoding="utf-8")
    with pytest.raises(ValidationError):
        build_release(extract, Period.parse("2024-03"), releases, tiny_codes())
    after = sorted(str(p.relative_to(releases)) for p in releases.rglob("*"))
    assert after == before
    assert (releases / "2024-03").resolve() == first.path


def test_presence_from_the_schema_agrees_with_the_text_test():
    """A date or integer column cannot hold a blank: with the file's schema, "present" is
    "not null" — the answer the text test gives, without writing every value as text."""
    from datetime import datetime

    from stats.validate import raw_present

    frame = pl.DataFrame({
        "d": [date(2024, 1, 1), None, date(1, 1, 1)],
        "t": [datetime(2024, 1, 1, 0, 0), None, datetime(1999, 12, 31, 23, 59)],
        "i": [0, None, -3],
        "b": pl.Series([1, None, 98], dtype=pl.Int8),
        "s": ["x", None, "  "],
    })
    for name in frame.columns:
        by_text = frame.select(raw_present(name)).to_series()
        by_schema = frame.select(raw_present(name, frame.schema)).to_series()
        assert by_schema.to_list() == by_text.to_list(), name
    assert frame.select(raw_present("s", frame.schema)).to_series().to_list() == [True, False, False]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_narrowed_checks_find_what_every_rule_row_by_row_finds(tmp_path, fmt):
    """find_problems tests most rules on a column's distinct values (a village code rule on
    its code, then only on the event types it applies to): the same problems as every
    rule's ``bad`` evaluated on every row."""
    from stats.checks import find_problems, located_problems
    from stats.validate import event_rules, file_columns, typed_frame

    codes = [V1, RETIRED, KHH, "63000019999", " 63000010001 ", "6300001000", "", None]
    kinds = ["BIRTH", "DEATH", "MOVE", "MARRIAGE", "DIVORCE", None]
    rows = [
        event(f"e{i}", kinds[i % 6], date(2024, 3, 1 + i % 28), pid=f"p{i}",
              village=codes[i % 8], origin=codes[(i + 3) % 8], destination=codes[(i // 8) % 8],
              partner_sex=[1, 2, None][i % 3])
        for i in range(6 * 8 * 8)
    ]
    write_extract(tmp_path, {}, {MAR: rows}, fmt=fmt)
    path = tmp_path / f"events_202403.{fmt}"
    raw = (pl.scan_csv(path, infer_schema=False) if fmt == "csv"
           else pl.scan_parquet(path)).with_row_index("row", offset=1)
    found, counts = find_problems(raw, str(path), "events", MAR, tiny_codes())
    columns = file_columns("events", raw.collect_schema())
    rules = [r for r in event_rules(MAR, tiny_codes()) if r.column not in ("event_id", "person_id")]
    every, every_counts = located_problems(typed_frame(raw, columns), str(path), rules, columns)
    assert every  # the frame breaks rules, including the village code ones
    assert {p.rule for p in every} >= {"not an 11-digit village code", "unknown village code",
                                       "village code not valid in 2024-03"}
    assert sorted(found, key=str) == sorted(every, key=str)
    assert counts == every_counts


GOOD_EVENTS = (
    "g1,BIRTH,2024-03-02,2024-03-01,n1,2,2024-03-01,63000010001,,,\n"
    "g2,MOVE,2024-03-05,2024-03-04,p1,1,1980-01-01,,63000010001,64000010001,\n"
    "g3,MARRIAGE,2024-03-06,2024-03-06,p2,2,1990-01-01,64000010001,,,1\n"
)


@pytest.mark.parametrize("line", [
    "e1,BIRTH,2024-04-01,2024-03-02,n9,1,2024-03-02,63000010001,,,\n",  # registered in April
    "e1,DEATH,2024-03-05,2024-03-06,p9,1,1980-01-01,63000010001,,,\n",  # after registration
    "g1,DEATH,2024-03-05,2024-03-05,p9,1,1980-01-01,63000010001,,,\n",  # a repeated event id
    "e1,WEDDING,2024-03-05,2024-03-05,p9,1,1980-01-01,63000010001,,,\n",
    "e1,MOVE,2024-03-05,2024-03-05,p9,1,1980-01-01,,63000010002,,\n",  # a retired origin
    "e1,MOVE,2024-03-05,2024-03-05,p9,1,1980-01-01,,,6300001000X,\n",  # a malformed destination
    "e1,DEATH,2024-03-05,2024-03-05,p9,1,1980-01-01,63000019999,,,\n",  # an unknown village
    "e1,DIVORCE,2024-03-05,2024-03-05,p9,1,1980-01-01,63000010001,,,3\n",
    "e1,DEATH,2024-03-05,2024-03-05,p 9,1,1980-01-01,63000010001,,,\n",  # a space in an id
    "e1,DEATH,2024-03-05,2024-03-05,,1,1980-01-01,63000010001,,,\n",  # no person
    "e1,DEATH,2024-03-05,2024-03-05,p9,1,1980-02-30,63000010001,,,\n",  # no such date
    "e1,DEATH,2024-03-05,2024-03-05,p9,1,1980-01-01,   ,,,\n",  # a blank village
    "e1,MOVE,2024-03-05,2024-03-05,p9,1,1980-01-01,, , ,\n",  # nowhere to nowhere, blank
])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_one_pass_check_of_an_events_file_never_passes_a_problem(tmp_path, fmt, line):
    """An events file is first checked in one pass, and when that finds nothing it is not
    narrowed and located: so the one pass must see every problem the full checks list
    (here one bad row among good ones), and pass the good rows."""
    from stats.checks import _nothing_wrong, find_problems
    from stats.schemas import EVENT_COLUMNS
    from stats.validate import code_fixes, distinct_codes, event_rules, file_columns

    for text, clean in ((GOOD_EVENTS, True), (GOOD_EVENTS + line, False)):
        (tmp_path / "events_202403.csv").write_text(HEADER_E + text, encoding="utf-8")
        raw = pl.scan_csv(tmp_path / "events_202403.csv", infer_schema=False)
        if fmt == "parquet":
            raw.collect().write_parquet(tmp_path / "events_202403.parquet")
            raw = pl.scan_parquet(tmp_path / "events_202403.parquet")
        raw = raw.with_row_index("row", offset=1)
        schema = raw.collect_schema()
        rules = event_rules(MAR, tiny_codes(), schema)
        columns = file_columns("events", schema)
        assert _nothing_wrong(raw, rules, columns, None, "event_id") is clean
        # as a build calls it: with the village codes' fixes and distinct values made before
        distinct = distinct_codes(raw, EVENT_COLUMNS)
        fixes = code_fixes(raw, EVENT_COLUMNS, distinct)
        assert _nothing_wrong(raw, rules, columns, fixes, "event_id", distinct) is clean
        found, _ = find_problems(raw, "events_202403", "events", MAR, tiny_codes())
        assert (found == []) is clean, found
        # the rules a build checks (presence of a code told by its distinct values) list
        # the same problems
        assert find_problems(raw, "events_202403", "events", MAR, tiny_codes(), fixes,
                             distinct)[0] == found
