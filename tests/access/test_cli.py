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


def test_workflow_from_the_cli(
    cli: click.Group, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ["--db", db_url]
    assert _run(cli, "db", "upgrade", *db).exit_code == 0
    assert "agency 1" in _run(cli, "agency", "add", "衛生福利部", *db).output
    assert (
        _run(
            cli,
            "user",
            "add",
            "moi",
            "--role",
            "provider_official",
            "--provider",
            "MOI",
            "--password",
            "pw",
            *db,
        ).exit_code
        == 0
    )
    assert (
        _run(
            cli,
            "user",
            "add",
            "tp",
            "--role",
            "provider_official",
            "--provider",
            "63000",
            "--password",
            "pw",
            *db,
        ).exit_code
        == 0
    )
    assert (
        _run(
            cli,
            "user",
            "add",
            "alice",
            "--role",
            "agency_user",
            "--agency",
            "衛生福利部",
            "--password",
            "pw",
            *db,
        ).exit_code
        == 0
    )
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"confidentiality": "保密"}), encoding="utf-8")
    out = _run(
        cli,
        "application",
        "submit",
        "--agency",
        "衛生福利部",
        "--table",
        "population",
        "--area",
        "00000",
        "--channel",
        "online_query",
        "--purpose",
        "研究",
        "--rules",
        str(rules),
        *db,
    ).output
    assert "application 1 submitted; incomplete" in out
    refused = _run(
        cli,
        "application",
        "review",
        "1",
        "--by",
        "moi",
        "--decision",
        "approve",
        "--valid-from",
        "2025-01-01",
        "--valid-to",
        "2030-12-31",
        *db,
    )
    assert refused.exit_code == 1 and "point 13" in refused.output
    # a county official may not decide a national application: refused and audited
    cross = _run(cli, "application", "review", "1", "--by", "tp", "--decision", "return", *db)
    assert cross.exit_code == 1 and "jurisdiction" in cross.output
    assert (
        "returned"
        in _run(
            cli, "application", "review", "1", "--by", "moi", "--decision", "return", *db
        ).output
    )
    rules.write_text(json.dumps(full_rules()), encoding="utf-8")
    assert _run(cli, "application", "resubmit", "1", "--rules", str(rules), *db).exit_code == 0
    approved = _run(
        cli,
        "application",
        "review",
        "1",
        "--by",
        "moi",
        "--decision",
        "approve",
        "--valid-from",
        "2025-01-01",
        "--valid-to",
        "2030-12-31",
        *db,
    )
    assert "grant 1" in approved.output, approved.output
    listed = json.loads(_run(cli, "grant", "list", "--json", *db).output)
    assert listed[0]["state"] == "active" and listed[0]["valid_to"] == "2030-12-31"
    token = _run(cli, "token", "issue", "alice", *db).output.strip()
    assert token.startswith("pst_")
    deadline = str(local_date(_now()) + timedelta(days=30))
    out = _run(
        cli,
        "violation",
        "record",
        "--grant",
        "1",
        "--by",
        "moi",
        "--description",
        "外洩",
        "--deadline",
        deadline,
        *db,
    ).output
    assert "suspended" in out
    assert json.loads(_run(cli, "grant", "list", "--json", *db).output)[0]["state"] == "suspended"
    assert (
        "is active"
        in _run(cli, "violation", "restore", "1", "--by", "moi", "--note", "已改善", *db).output
    )
    today = local_date(_now())
    short = _run(
        cli,
        "terminate",
        "--grant",
        "1",
        "--letter",
        "函1",
        "--requested-on",
        str(today),
        "--effective-on",
        str(today + timedelta(days=10)),
        *db,
    )
    assert short.exit_code == 1 and "one month" in short.output
    assert (
        _run(
            cli,
            "personnel",
            "record",
            "衛生福利部",
            "--post",
            "case_officer",
            "--person",
            "王小明",
            "--effective",
            str(today),
            *db,
        ).exit_code
        == 0
    )
    checkpoint = tmp_path / "cp.json"
    assert (
        _run(
            cli, "audit", "checkpoint", "--agency", "衛生福利部", "--out", str(checkpoint), *db
        ).exit_code
        == 0
    )
    verified = _run(cli, "audit", "verify", "--checkpoint", str(checkpoint), *db)
    assert verified.exit_code == 0 and "intact" in verified.output
    report = json.loads(
        _run(
            cli,
            "audit",
            "report",
            "--agency",
            "衛生福利部",
            "--from",
            str(date(2025, 1, 1)),
            "--to",
            str(today),
            "--json",
            *db,
        ).output
    )
    actions = [e["action"] for e in report["entries"]]
    assert {
        "grant.refused",
        "grant.approved",
        "grant.suspended",
        "grant.restored",
        "personnel.changed",
        "audit.checkpoint",
    } <= set(actions)


def test_help_reads_well(cli: click.Group) -> None:
    out = _run(cli, "--help").output
    for name in ("demo-accounts", "application", "grant", "violation", "terminate", "audit", "db"):
        assert name in out
    for group in ("application", "audit", "violation"):
        assert _run(cli, group, "--help").exit_code == 0
