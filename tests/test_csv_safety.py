"""One formula-safe CSV writer for every CSV the product makes (issue 10.13).

Each producer is fed a value a spreadsheet would run — a user or a cell named
``=HYPERLINK("http://evil.example","x")`` — and its CSV must hold it as inert text (a leading
apostrophe), read back with the csv module as a spreadsheet would split it.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from exports.delimited import safe_csv_bytes, write_safe_csv
from popstats.cli import main
from stats.periods import Month
from tests.helpers import person, write_extract

EVIL = '=HYPERLINK("http://evil.example","x")'
INERT = "'" + EVIL


def rows_of(data: bytes, encoding: str = "utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding))))


# --- the writer itself -----------------------------------------------------------------------

def test_the_writer_neutralises_text_and_categoricals_but_not_numbers() -> None:
    frame = pl.DataFrame({
        "name": [EVIL, "+886", "-1", "@SUM(A1)", "甲,乙", None],
        "kind": pl.Series([EVIL, "a", "b", "c", "d", "e"], dtype=pl.Categorical),
        "count": [-5, 1, 2, 3, 4, 5],
        "obs": ["-5", "NaN", "1", "2", "3", "4"],
    })
    data = safe_csv_bytes(frame, encoding="utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\r\n") == 7
    header, *body = rows_of(data, "utf-8-sig")
    assert header == ["name", "kind", "count", "obs"]
    assert [r[0] for r in body] == [INERT, "'+886", "'-1", "'@SUM(A1)", "甲,乙", ""]
    assert body[0][1] == INERT and [r[2] for r in body] == ["-5", "1", "2", "3", "4", "5"]
    assert body[0][3] == "'-5"  # text is text, unless the caller says it holds numbers
    kept = rows_of(_numbers(frame))
    assert kept[1][3] == "-5" and kept[1][0] == INERT


def _numbers(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    write_safe_csv(frame, buffer, encoding="utf-8", numbers=["obs"])
    return buffer.getvalue()


def test_the_writer_encodes_big5_strictly() -> None:
    frame = pl.DataFrame({"name": ["臺北市", EVIL]})
    assert rows_of(safe_csv_bytes(frame, encoding="cp950"), "cp950")[1:] == [["臺北市"], [INERT]]
    with pytest.raises(UnicodeEncodeError):
        safe_csv_bytes(pl.DataFrame({"name": ["😀"]}), encoding="cp950")


# --- popstats build --problems -----------------------------------------------------------------

def test_problems_csv_is_formula_safe(tmp_path: Path) -> None:
    """A cell of the extract is the problem's value: it reaches the problems CSV inert."""
    people = [person(f"p{i}", "63000010001", born=date(1970 + i, 1, 1)) for i in range(3)]
    extract = write_extract(tmp_path / "x", {Month(2025, 2): people, Month(2025, 3): people}, {})
    (extract / "residents_202503.parquet").unlink()
    writer = io.StringIO()
    csv.writer(writer).writerows([
        ["person_id", "household_id", "village_code", "sex", "birth_date", "indigenous",
         "marital_status"],
        ["p1", "h1", "63000010001", EVIL, "2025-01-01", "0", "1"],
    ])
    (extract / "residents_202503.csv").write_text(writer.getvalue(), encoding="utf-8")
    problems = tmp_path / "problems.csv"
    result = CliRunner().invoke(main, ["build", "--input", str(extract), "--period", "2025-03",
                                       "--out", str(tmp_path / "rel"), "--problems",
                                       str(problems)])
    assert result.exit_code == 2, result.output
    header, *body = rows_of(problems.read_bytes(), "utf-8-sig")
    assert header == ["file", "row", "column", "value", "rule"]
    sex = [row for row in body if row[2] == "sex"]
    assert sex and sex[0][3] == INERT and sex[0][1] == "1"


# --- GET /api/v1/log as CSV ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A served release and the demo parties, plus an agency user named like a formula."""
    from sqlalchemy.orm import Session

    from access import accounts
    from access.db import make_engine
    from access.models import User
    from dashboards.app import ServerSettings, create_app

    root = tmp_path_factory.mktemp("csvsafe")
    releases, db = root / "releases", f"sqlite:///{root / 'access.db'}"

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("sample", "--out", str(root / "x"), "--scale", "0.002", "--start", "2025-03",
        "--months", "1")
    run("build", "--input", str(root / "x"), "--period", "2025-03", "--out", str(releases))
    run("publish", "--releases", str(releases), "--period", "2025-03", "--by", "stat")
    demo = json.loads(run("demo-accounts", "--db", db, "--json"))
    national = next(a for a in demo if a["token"] and a["areas"] == ["00000"])
    now = datetime.now(UTC)
    with Session(make_engine(db)) as session:
        colleague = session.query(User).filter_by(username=national["username"]).one()
        evil = accounts.add_user(session, "legacy_user", "a long enough password 1",
                                 "agency_user", now, agency=colleague.agency)
        evil.username = EVIL  # named before the user-name policy (which refuses it now)
        token = accounts.issue_token(session, evil, now)
        session.commit()
    app = create_app(ServerSettings(releases=releases, db_url=db, outbox=root / "outbox"))
    return {"client": app.test_client(), "token": token}


def test_api_log_csv_is_formula_safe(served: dict) -> None:
    client, auth = served["client"], {"Authorization": f"Bearer {served['token']}"}
    assert client.get("/api/v1/tables/population?period=2025-03&area_code=63000",
                      headers=auth).status_code == 200
    answer = client.get("/api/v1/log", headers={**auth, "Accept": "text/csv"})
    assert answer.status_code == 200 and answer.content_type.startswith("text/csv")
    header, *body = rows_of(answer.get_data())
    actor = header.index("actor")
    assert body and all(row[actor] == INERT for row in body)
    assert EVIL not in [cell for row in body for cell in row]


def test_api_table_csv_goes_through_the_one_writer(served: dict) -> None:
    """The table answer is the writer's bytes: CRLF lines (RFC 4180), text made inert."""
    auth = {"Authorization": f"Bearer {served['token']}", "Accept": "text/csv"}
    answer = served["client"].get("/api/v1/tables/population?period=2025-03&area_level=county",
                                  headers=auth)
    assert answer.status_code == 200
    data = answer.get_data()
    assert data.count(b"\r\n") == len(rows_of(data)) and b"\n" not in data.replace(b"\r\n", b"")
