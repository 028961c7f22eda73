"""The build command's problem listing ends with the total and where the rest are; one list of
encodings for build and export (issue 9 item 10)."""

from __future__ import annotations

import click
import polars as pl
from click.testing import CliRunner

from popstats.cli import main
from stats.periods import Month
from tests.helpers import SHARED, person, write_extract

CODES = str(SHARED / "codes" / "villages.csv")  # MOI's table: 09007010001 is 介壽村
HEADER_R = "person_id,household_id,village_code,sex,birth_date,indigenous,marital_status\n"


def _bad_extract(folder, bad_rows: int):
    people = [person("p1", "09007010001")]
    write_extract(folder, {Month(2025, 2): people, Month(2025, 3): people},
                  {Month(2025, 3): []}, fmt="csv")
    rows = "".join(f"q{i},h{i},09007010001,9,2000-01-01,0,1\n" for i in range(bad_rows))
    (folder / "residents_202503.csv").write_text(HEADER_R + rows, encoding="utf-8")


def _build(*args: str):
    return CliRunner().invoke(main, ["build", "--period", "2025-03", "--codes", CODES, *args])


def test_more_problems_than_shown_end_with_the_total_and_a_pointer(tmp_path):
    _bad_extract(tmp_path / "x", 503)
    result = _build("--input", str(tmp_path / "x"), "--out", str(tmp_path / "rel"))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1] == ("503 problems in the extract; nothing was written. 500 shown above, 3 more: "
                         "add --problems FILE to write every listed problem as CSV.")
    assert sum("must be 1 or 2" in line and ": row " in line for line in lines) == 500


def test_with_problems_file_the_last_line_says_where_all_are(tmp_path):
    _bad_extract(tmp_path / "x", 503)
    listing = tmp_path / "problems.csv"
    result = _build("--input", str(tmp_path / "x"), "--out", str(tmp_path / "rel"),
                    "--problems", str(listing))
    assert result.output.strip().splitlines()[-1] == (
        f"503 problems in the extract; nothing was written. 500 shown above; all 503 are "
        f"listed in {listing}.")
    assert pl.read_csv(listing).height == 503


def test_few_problems_say_all_are_shown(tmp_path):
    _bad_extract(tmp_path / "x", 2)
    result = _build("--input", str(tmp_path / "x"), "--out", str(tmp_path / "rel"))
    assert result.output.strip().splitlines()[-1] == (
        "2 problems in the extract; nothing was written. All shown above.")


def _encoding_type(command: str) -> click.ParamType:
    return next(p for p in main.commands[command].params if p.name == "encoding").type


def test_build_and_export_take_the_same_encodings_and_big5_is_cp950():
    build, export = _encoding_type("build"), _encoding_type("export")
    assert build.choices == export.choices  # type: ignore[attr-defined]
    for name in ("big5", "BIG5", "cp950"):
        assert build.convert(name, None, None) == "cp950"
        assert export.convert(name, None, None) == "cp950"
    assert export.convert("utf-8-sig", None, None) == "utf-8-sig"


def test_an_unknown_encoding_is_refused_with_the_reason(tmp_path):
    result = CliRunner().invoke(main, ["build", "--input", str(tmp_path), "--period", "2025-03",
                                       "--out", str(tmp_path / "rel"), "--encoding", "big5e"])
    assert result.exit_code == 2 and "BIG-5E has no implementation" in result.output
