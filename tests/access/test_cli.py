"""The access commands through click on both databases: demo accounts (CONTRACT §4), workflows."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from access.accounts import token_user
from access.calendar import local_date
from access.db import session_factory
from access.grants import actor_of, agency_rules
from access.permissions import can_view
from stats.catalogue import TABLES
from tests.access.conftest import full_rules

KEYS = ["username", "password", "token", "agency", "role", "tables", "areas"]


def _run(cli: click.Group, *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def test_demo_accounts_json_per_contract(cli: click.Group, db_url: str, engine: Engine) -> None:
    first = _run(cli, "demo-accounts", "--db", db_url, "--json")
    assert first.exit_code == 0, first.output
    records = json.loads(first.output)
    assert all(list(r) == KEYS for r in records)
    by_user = {r["username"]: r for r in records}
    assert len(by_user) == len(records) >= 6
    agencies = [r for r in records if r["role"] == "agency_user"]
    officials = [r for r in records if r["role"] == "provider_official"]
    assert all(isinstance(r["token"], str) for r in agencies)
    assert all(r["token"] is None for r in officials)
    assert {r["agency"] for r in officials} >= {"內政部", "臺北市政府", "高雄市政府"}
    grants = {(tuple(r["tables"]), tuple(r["areas"])) for r in agencies}
    assert (tuple(TABLES), ("00000",)) in grants
    assert (tuple(TABLES), ("63000",)) in grants
    assert (("vital_events",), ("64000",)) in grants
    # the printed tokens and grants are real: can_view agrees with the JSON
    with session_factory(engine)() as session:
        for record in agencies:
            user = token_user(session, record["token"], _now())
            assert user is not None and user.username == record["username"]
            rules = agency_rules(session, user.agency_id)  # type: ignore[arg-type]
            for table in TABLES:
                for area in ("00000", "63000", "64000010001"):
                    expected = table in record["tables"] and (
                        "00000" in record["areas"] or area[:5] in record["areas"]
                    )
                    assert (
                        can_view(actor_of(user), table, area, "online_query", rules, _now())
                        is expected
                    ), (record["username"], table, area)
    # re-running re-creates: new credentials, the old token no longer works, same shape
    second = json.loads(_run(cli, "demo-accounts", "--db", db_url, "--json").output)
    assert [r["username"] for r in second] == [r["username"] for r in records]
    with session_factory(engine)() as session:
        assert token_user(session, agencies[0]["token"], _now()) is None
        assert token_user(session, second[3]["token"], _now()) is not None


def test_demo_accounts_on_empty_database(cli: click.Group, db_url: str) -> None:
    result = _run(cli, "demo-accounts", "--db", db_url, "--json")  # no prior migration
    assert result.exit_code == 0 and len(json.loads(result.output)) >= 6


def _now():  # noqa: ANN202
    from datetime import UTC, datetime

    return datetime.now(UTC)


PW = ["--password", "lantern-river-4821"]


def test_workflow_from_the_cli(
    cli: click.Group, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ["--db", db_url]
    assert _run(cli, "db", "upgrade", *db).exit_code == 0
    # the first official of an empty database needs no --by; everyone after does
    first = ["user", "add", "moi", "--role", "provider_official", "--provider", "MOI"]
    assert _run(cli, *first, *PW, *db).exit_code == 0
    tp = ["user", "add", "tp", "--role", "provider_official", "--provider", "63000"]
    assert _run(cli, *tp, *PW, *db).exit_code == 2  # --by required now
    assert _run(cli, *tp, *PW, "--by", "moi", *db).exit_code == 0
    agency = ["agency", "add", "衛生福利部", "--code", "A21000000I", "--kind", "central"]
    assert "agency 1" in _run(cli, *agency, "--by", "moi", *db).output
    alice = ["user", "add", "alice", "--role", "agency_user", "--agency", "衛生福利部"]
    assert _run(cli, *alice, *PW, "--by", "moi", *db).exit_code == 0
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"confidentiality": "依本部資訊安全規定保密處理"}), encoding="utf-8")
    submit = ["application", "submit", "--table", "population", "--area", "00000", "--channel",
              "online_query", "--purpose", "人口政策研究", "--legal-basis", "戶籍法第65條",
              "--rules", str(rules), "--by", "alice", *db]
    out = _run(cli, *submit).output
    assert "application 1 submitted to 內政部; incomplete" in out
    approve = ["application", "review", "1", "--by", "moi", "--decision", "approve",
               "--valid-from", "2025-01-01", "--valid-to", "2030-12-31", *db]
    refused = _run(cli, *approve)
    assert refused.exit_code == 1 and "point 13" in refused.output
    # a county official may not decide a national application: refused and audited
    cross = _run(cli, "application", "review", "1", "--by", "tp", "--decision", "return", *db)
    assert cross.exit_code == 1 and "jurisdiction" in cross.output
    returned = _run(cli, "application", "review", "1", "--by", "moi", "--decision", "return", *db)
    assert "returned" in returned.output
    rules.write_text(json.dumps(full_rules()), encoding="utf-8")
    resubmit = ["application", "resubmit", "1", "--rules", str(rules), "--by", "alice", *db]
    assert _run(cli, *resubmit).exit_code == 0
    approved = _run(cli, *approve)
    assert "grant 1" in approved.output, approved.output
    listed = json.loads(_run(cli, "grant", "list", "--json", *db).output)
    assert listed[0]["state"] == "active" and listed[0]["valid_to"] == "2030-12-31"
    token = _run(cli, "token", "issue", "alice", "--by", "alice", *db).output.strip()
    assert token.startswith("pst_")
    deadline = str(local_date(_now()) + timedelta(days=30))
    out = _run(cli, "violation", "record", "--grant", "1", "--by", "moi", "--description",
               "外洩", "--deadline", deadline, *db).output
    assert "suspended" in out
    assert json.loads(_run(cli, "grant", "list", "--json", *db).output)[0]["state"] == "suspended"
    restored = _run(cli, "violation", "restore", "1", "--by", "moi", "--note", "已改善", *db)
    assert "is active" in restored.output
    today = local_date(_now())
    short = _run(cli, "terminate", "--grant", "1", "--letter", "函1", "--effective-on",
                 str(today + timedelta(days=10)), "--by", "moi", *db)
    assert short.exit_code == 1 and "one month" in short.output
    personnel = ["personnel", "record", "衛生福利部", "--post", "case_officer", "--person",
                 "王小明", "--effective", str(today), "--letter", "衛部統字第1140001號",
                 "--by", "moi", *db]
    assert _run(cli, *personnel).exit_code == 0
    checkpoint = tmp_path / "cp.json"
    assert _run(cli, "audit", "checkpoint", "--agency", "衛生福利部", "--out", str(checkpoint),
                *db).exit_code == 0
    verified = _run(cli, "audit", "verify", "--checkpoint", str(checkpoint), *db)
    assert verified.exit_code == 0 and "intact" in verified.output
    report = json.loads(_run(cli, "audit", "report", "--agency", "衛生福利部", "--from",
                             str(date(2025, 1, 1)), "--to", str(today), "--json", *db).output)
    entries = report["entries"]
    assert {
        "grant.refused",
        "grant.approved",
        "grant.suspended",
        "grant.restored",
        "personnel.changed",
        "audit.checkpoint",
    } <= {e["action"] for e in entries}
    # every governance step names the account that acted, never "system" or the agency
    actors = {e["action"]: e["actor"] for e in entries}
    assert actors["agency.added"] == "moi" and actors["application.submitted"] == "alice"
    assert actors["application.resubmitted"] == "alice" and actors["token.issued"] == "alice"
    assert actors["personnel.changed"] == "moi" and actors["user.added"] == "moi"


def test_help_reads_well(cli: click.Group) -> None:
    out = _run(cli, "--help").output
    for name in ("demo-accounts", "application", "grant", "violation", "terminate", "audit", "db"):
        assert name in out
    for group in ("application", "audit", "violation"):
        assert _run(cli, group, "--help").exit_code == 0
