"""`popstats serve`'s online query API (CONTRACT §6) through real HTTP requests (Flask test
client) with the contract's demo accounts: 401, 403 audited, only granted areas, JSON/CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from dashboards.app import ServerSettings, create_app
from popstats.cli import main


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("serve")
    releases, db = root / "releases", f"sqlite:///{root / 'access.db'}"

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("sample", "--out", str(root / "x"), "--scale", "0.002", "--start", "2025-03", "--months", "1")
    run("build", "--input", str(root / "x"), "--period", "2025-03", "--out", str(releases))
    run("publish", "--releases", str(releases), "--period", "2025-03", "--by", "stat")
    accounts = json.loads(run("demo-accounts", "--db", db, "--json"))
    app = create_app(ServerSettings(releases=releases, db_url=db, outbox=root / "outbox"))
    by_areas = {(tuple(a["tables"]), tuple(a["areas"])): a for a in accounts if a["token"]}
    return {"client": app.test_client(), "accounts": accounts, "by": by_areas, "releases": releases,
            "db_file": root / "access.db"}


def agency(served: dict, areas: tuple[str, ...], every_table: bool = True) -> str:
    for (tables, granted), account in served["by"].items():
        if granted == areas and (len(tables) > 1) == every_table:
            return f"Bearer {account['token']}"
    raise AssertionError(f"no demo agency for {areas}")


def test_no_or_bad_token_is_401(served):
    client = served["client"]
    assert client.get("/api/v1/releases").status_code == 401
    assert client.get("/api/v1/tables/population?period=2025-03",
                      headers={"Authorization": "Bearer nope"}).status_code == 401


def test_everything_but_the_api_is_refused_to_anonymous_callers(served):
    client = served["client"]
    for path in ("/", "/_dash-layout", "/_dash-update-component", "/admin", "/outbox/1"):
        assert client.get(path).status_code == 401, path
        assert client.post(path, json={}).status_code == 401, path
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_releases_lists_the_published_periods(served):
    answer = served["client"].get("/api/v1/releases", headers={"Authorization": agency(served, ("00000",))})
    assert answer.status_code == 200
    assert [r["period"] for r in answer.get_json()["releases"]] == ["2025-03"]
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_national_agency_gets_every_row(served):
    answer = served["client"].get("/api/v1/tables/population?period=2025-03",
                                  headers={"Authorization": agency(served, ("00000",))})
    body = answer.get_json()
    assert answer.status_code == 200 and body["table"] == "population" and body["revision"] == 1
    release = pl.read_parquet(served["releases"] / "2025-03" / "population.parquet")
    assert len(body["rows"]) == release.height and body["columns"] == release.columns


def test_taipei_agency_sees_only_taipei(served):
    auth = agency(served, ("63000",))
    body = served["client"].get("/api/v1/tables/population?period=2025-03",
                                headers={"Authorization": auth}).get_json()
    codes = {row[body["columns"].index("area_code")] for row in body["rows"]}
    assert codes and all(code.startswith("63000") for code in codes)
    other = served["client"].get("/api/v1/tables/population?period=2025-03&area_code=64000",
                                 headers={"Authorization": auth})
    assert other.status_code == 403


def test_kaohsiung_agency_has_vital_events_only(served):
    auth = agency(served, ("64000",), every_table=False)
    client = served["client"]
    assert client.get("/api/v1/tables/population?period=2025-03",
                      headers={"Authorization": auth}).status_code == 403
    answer = client.get("/api/v1/tables/vital_events?period=2025-03&area_level=county",
                        headers={"Authorization": auth, "Accept": "text/csv"})
    assert answer.status_code == 200 and answer.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [r["area_code"] for r in rows] == ["64000"]


def test_unpublished_period_is_403(served):
    answer = served["client"].get("/api/v1/tables/population?period=2025-04",
                                  headers={"Authorization": agency(served, ("00000",))})
    assert answer.status_code == 403


def test_refusals_and_answers_are_audited_in_an_intact_chain(served):
    from sqlalchemy import select

    from access.db import make_engine, session_factory
    from access.models import AuditEntry

    db = f"sqlite:///{Path(served['releases']).parent / 'access.db'}"
    served["client"].get("/api/v1/tables/reconciliation?period=2025-03",
                         headers={"Authorization": agency(served, ("64000",), every_table=False)})
    with session_factory(make_engine(db))() as session:
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"query", "access.refused"} <= actions
    verified = CliRunner().invoke(main, ["audit", "verify", "--db", db], catch_exceptions=False)
    assert verified.exit_code == 0, verified.output


def test_an_agency_exports_its_own_log_over_http(served):
    taipei = agency(served, ("63000",))
    served["client"].get("/api/v1/tables/population?period=2025-03&area_code=63000",
                         headers={"Authorization": taipei})
    assert served["client"].get("/api/v1/log").status_code == 401
    answer = served["client"].get("/api/v1/log", headers={"Authorization": taipei})
    assert answer.status_code == 200
    entries = answer.get_json()["entries"]
    assert any(e["action"] == "query" for e in entries)
    users = {a["username"] for a in served["accounts"] if a["areas"] == ["63000"]}
    assert {e["actor"] for e in entries} <= users
    csv_answer = served["client"].get("/api/v1/log", headers={"Authorization": taipei,
                                                              "Accept": "text/csv"})
    assert csv_answer.data.decode().startswith("seq,time,actor,action,object,channel,details")


def test_the_rate_limit_is_shared_by_every_worker(served, tmp_path):
    """Two app instances on one database (two gunicorn workers): the limit counts both."""
    import shutil

    import sqlite3
    from contextlib import closing

    shutil.copyfile(Path(served["db_file"]), tmp_path / "access.db")
    with closing(sqlite3.connect(tmp_path / "access.db")) as db:  # others' requests count too
        db.execute("DELETE FROM api_requests")
        db.commit()
    settings = ServerSettings(releases=served["releases"],
                              db_url=f"sqlite:///{tmp_path / 'access.db'}",
                              outbox=tmp_path / "outbox", rate_limit=3)
    workers = [create_app(settings).test_client(), create_app(settings).test_client()]
    headers = {"Authorization": agency(served, ("63000",))}
    answers = [workers[i % 2].get("/api/v1/releases", headers=headers).status_code
               for i in range(4)]
    assert answers == [200, 200, 200, 429]
    other = {"Authorization": agency(served, ("00000",))}  # another token has its own count
    assert workers[1].get("/api/v1/releases", headers=other).status_code == 200


def test_one_request_looks_its_token_up_once(served):
    """The rate-limit gate and the route share the request's session, so the route takes
    the token (with its user) the gate read instead of a second query (issue 15: fewer
    statements per answer: 15 before on SQLite for the day's first answer, 13 after it,
    with the gate's DELETE, a second token query and the volume read apart from its
    UPDATE; 9 now)."""
    from sqlalchemy import Engine, event

    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        answer = served["client"].get("/api/v1/tables/population?period=2025-03&area_code=63000",
                                      headers={"Authorization": agency(served, ("00000",))})
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert answer.status_code == 200
    lookups = [s for s in statements if "FROM api_tokens" in s]
    assert len(lookups) == 1, lookups
    work = [s for s in statements if not s.startswith(("BEGIN", "SELECT 1"))]
    assert len(work) <= 9, f"{len(work)}: " + "\n".join(work)
