"""Who links and who acts: public agencies with their agency code (point 3), the acting
account on every governance step, personnel changes (point 12), tokens that expire and are
revoked per user."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from access.accounts import (
    PartyError,
    issue_token,
    login,
    revoke_user_access,
    session_user,
    token_user,
)
from access.agencies import NotPermitted, add_agency
from access.calendar import local_date
from access.grants import ApplicationError
from access.models import Agency, AuditEntry, PersonnelChange
from access.personnel import record_personnel_change
from tests.access.conftest import NOW, World
from tests.access.governance_helpers import PASSWORD, apply, cli_world, run, submit_args

# --- point 3: linking parties are public agencies, with their agency code -----------------


@pytest.mark.parametrize(
    "name, code, kind, problem",
    [
        ("Random Company Ltd", "379999990A", "central", "company or private body"),
        ("隨便股份有限公司", "379999990A", "local", "company or private body"),
        ("財團法人某某研究院", "313020000G", "central", "company or private body"),
        ("某某協會", "379999990A", "company", "not a public agency"),
        ("某某協會", "379999990A", "", "not a public agency"),
        ("臺北市政府民政局", "37900000A", "local", "not a 機關代碼"),  # 9 characters
        ("臺北市政府民政局", "3790100000", "local", "not a 機關代碼"),  # no check letter
        ("臺北市政府民政局", "379O10000A", "local", "not a 機關代碼"),  # letter O in the digits
        ("臺北市政府民政局", "", "local", "not a 機關代碼"),
    ],
)
def test_only_public_agencies_with_a_valid_agency_code(
    session: Session, world: World, name: str, code: str, kind: str, problem: str
) -> None:
    with pytest.raises(PartyError, match=problem):
        add_agency(session, name, NOW, code=code, kind=kind, by=world.moi_official)
    assert session.scalar(select(Agency).where(Agency.name == name)) is None


def test_agency_code_stored_upper_case_and_unique(session: Session, world: World) -> None:
    agency = add_agency(session, "臺北市政府民政局", NOW, code="379010000a", kind="local",
                        by=world.taipei_official)
    assert (agency.code, agency.kind) == ("379010000A", "local")
    with pytest.raises(PartyError, match="already belongs to 臺北市政府民政局"):
        add_agency(session, "臺北市政府社會局", NOW, code="379010000A", kind="local",
                   by=world.taipei_official)


def test_only_an_official_registers_an_agency(session: Session, world: World) -> None:
    with pytest.raises(NotPermitted, match="not a provider official"):
        add_agency(session, "臺北市政府民政局", NOW, code="379010000A", kind="local",
                   by=world.user)
    session.rollback()
    refused = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "agency.add.refused")).one()
    assert refused.actor == "alice"


def test_an_agency_without_code_on_record_cannot_apply(session: Session, world: World) -> None:
    """A row from before migration 0007 (no code, no kind) applies only once they are set."""
    session.execute(text("UPDATE agencies SET code = NULL, kind = NULL WHERE id = :i"),
                    {"i": world.agency.id})
    session.expire_all()
    with pytest.raises(ApplicationError, match="no agency code and kind on record"):
        apply(session, world, world.moi, ["00000"])


def test_cli_random_company_cannot_register(cli: click.Group, db_url: str, tmp_path: Path) -> None:
    db = ["--db", db_url]
    cli_world(cli, db, tmp_path)
    result = run(cli, "agency", "add", "Random Company Ltd", "--code", "379999990A", "--kind",
                 "central", "--by", "moi", *db)
    assert result.exit_code == 1 and "not a public agency" in result.output
    missing = run(cli, "agency", "add", "Random Company Ltd", "--by", "moi", *db)
    assert missing.exit_code == 2 and "--code" in missing.output
    listed = run(cli, "agency", "list", *db).output
    assert "Random" not in listed and "衛生福利部\tA21000000I\tcentral" in listed


# --- the acting account, checked and recorded on every governance command -----------------


@pytest.mark.parametrize(
    "command",
    [
        ["agency", "add", "臺北市政府民政局", "--code", "379010000A", "--kind", "local"],
        ["personnel", "record", "衛生福利部", "--post", "case_officer", "--person", "王小明",
         "--effective", "2025-01-01", "--letter", "衛部字第1號"],
        ["terminate", "--grant", "1", "--letter", "函", "--effective-on", "2099-01-01"],
        ["token", "issue", "alice"],
        ["token", "revoke", "--user", "alice"],
    ],
)
def test_cli_governance_commands_need_an_acting_account(
    cli: click.Group, db_url: str, tmp_path: Path, command: list[str]
) -> None:
    db = ["--db", db_url]
    cli_world(cli, db, tmp_path)
    assert run(cli, *command, *db).exit_code == 2  # --by is required
    unknown = run(cli, *command, "--by", "ghost", *db)
    assert unknown.exit_code == 1 and "no user 'ghost'" in unknown.output


def test_cli_submit_needs_the_applying_agencys_own_user(
    cli: click.Group, db_url: str, tmp_path: Path
) -> None:
    db = ["--db", db_url]
    rules = cli_world(cli, db, tmp_path)
    args = submit_args(rules, "00000")
    args[args.index("--by") + 1] = "moi"
    refused = run(cli, *args, "--agency", "衛生福利部", *db)
    assert refused.exit_code == 1 and "'moi' is not a user of 衛生福利部" in refused.output


def test_cli_audit_names_the_acting_account(cli: click.Group, db_url: str, tmp_path: Path) -> None:
    db = ["--db", db_url]
    rules = cli_world(cli, db, tmp_path)
    assert run(cli, *submit_args(rules, "00000"), *db).exit_code == 0
    review = run(cli, "application", "review", "1", "--by", "moi", "--decision", "approve",
                 "--valid-from", "2025-01-01", "--valid-to", "2099-12-31", *db)
    assert review.exit_code == 0, review.output
    today = local_date(datetime.now(UTC))  # the CLI's clock, on Taipei's calendar
    steps = [
        ["personnel", "record", "衛生福利部", "--post", "unit_supervisor", "--person", "李大華",
         "--effective", "2025-01-01", "--letter", "衛部字第1號", "--by", "moi"],
        ["token", "issue", "alice", "--by", "moi"],
        ["token", "revoke", "--user", "alice", "--by", "moi"],
        ["terminate", "--grant", "1", "--letter", "衛部字第2號", "--effective-on",
         str(today + timedelta(days=62)), "--by", "moi"],
    ]
    for step in steps:
        result = run(cli, *step, *db)
        assert result.exit_code == 0, (step, result.output)
    report = json.loads(run(cli, "audit", "report", "--agency", "衛生福利部", "--from",
                            "2025-01-01", "--to", str(today + timedelta(days=1)), "--json",
                            *db).output)
    actors = {e["action"]: e["actor"] for e in report["entries"]}
    assert actors == {
        "agency.added": "moi", "user.added": "moi", "application.submitted": "alice",
        "grant.approved": "moi", "personnel.changed": "moi", "token.issued": "moi",
        "token.revoked": "moi", "grant.termination_requested": "moi",
    }


# --- point 12: personnel changes ----------------------------------------------------------


def _change(session: Session, world: World, now: datetime, **more: object) -> PersonnelChange:
    values: dict = {"post": "case_officer", "person": "王小明", "effective_on": date(2025, 3, 11),
                    "letter_ref": "衛部統字第1140001號", "by": world.moi_official} | more
    return record_personnel_change(session, world.agency, values.pop("post"),
                                   values.pop("person"), values.pop("effective_on"), now,
                                   **values)


@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("person", "", "names the person"),
        ("person", "   ", "names the person"),
        ("letter_ref", "", "reference of the agency's letter"),
        ("post", "director", "unknown post"),
    ],
)
def test_personnel_change_needs_person_post_and_letter(
    session: Session, world: World, field: str, value: str, problem: str
) -> None:
    with pytest.raises(ApplicationError, match=problem):
        _change(session, world, datetime(2025, 3, 12, tzinfo=UTC), **{field: value})
    assert session.scalars(select(PersonnelChange)).all() == []


# Effective on 2025-03-11 (Taipei): a change is reported once made, so from 3/11 00:00:00.
@pytest.mark.parametrize(
    "now, accepted",
    [
        (datetime(2025, 3, 10, 15, 59, 59, tzinfo=UTC), False),  # 3/10 23:59:59 Taipei
        (datetime(2025, 3, 10, 16, 0, 0, tzinfo=UTC), True),  # 3/11 00:00:00 Taipei
    ],
)
def test_personnel_change_effective_date_boundary(
    session: Session, world: World, now: datetime, accepted: bool
) -> None:
    if not accepted:
        with pytest.raises(ApplicationError, match="after today \\(2025-03-10, Taipei\\)"):
            _change(session, world, now)
        return
    change = _change(session, world, now)
    assert (change.letter_ref, change.recorded_by) == ("衛部統字第1140001號",
                                                       world.moi_official.id)


def test_personnel_change_revokes_the_departing_persons_tokens_and_sessions(
    session: Session, world: World
) -> None:
    from access.accounts import add_user

    leaving = add_user(session, "carol", PASSWORD, "agency_user", NOW, agency=world.agency)
    mine, theirs = issue_token(session, leaving, NOW), issue_token(session, world.user, NOW)
    cookie = login(session, "carol", PASSWORD, NOW).session_token
    later = NOW + timedelta(days=2)
    _change(session, world, later, departing=leaving)
    session.commit()
    assert token_user(session, mine, later) is None
    assert session_user(session, cookie, later) is None
    assert token_user(session, theirs, later) is not None  # only the departing person's
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "personnel.changed")).one()
    assert entry.details["departing"] == "carol" and entry.details["revoked_credentials"] == 2


def test_personnel_change_outside_reach_or_other_agencys_account_refused(
    session: Session, world: World
) -> None:
    later = NOW + timedelta(days=2)
    with pytest.raises(NotPermitted, match="no application or grant within 63000"):
        _change(session, world, later, by=world.taipei_official)
    session.rollback()
    with pytest.raises(ApplicationError, match="not an account of 衛生福利部"):
        _change(session, world, later, departing=world.other_user)


def test_cli_personnel_record_and_list(cli: click.Group, db_url: str, tmp_path: Path) -> None:
    db = ["--db", db_url]
    cli_world(cli, db, tmp_path)
    token = run(cli, "token", "issue", "alice", "--by", "alice", *db).output.strip()
    empty = run(cli, "personnel", "record", "衛生福利部", "--post", "case_officer", "--person",
                "", "--effective", "2025-01-01", "--letter", "衛部字第1號", "--by", "moi", *db)
    assert empty.exit_code == 1 and "names the person" in empty.output
    done = run(cli, "personnel", "record", "衛生福利部", "--post", "case_officer", "--person",
               "王小明", "--effective", "2025-01-01", "--letter", "衛部字第1號",
               "--departing", "alice", "--by", "moi", *db)
    assert done.exit_code == 0 and "alice's tokens and sessions revoked" in done.output
    (listed,) = json.loads(run(cli, "personnel", "list", "--json", *db).output)
    assert {k: listed[k] for k in ("agency", "post", "person", "effective_on", "letter",
                                   "recorded_by", "departing")} == {
        "agency": "衛生福利部", "post": "case_officer", "person": "王小明",
        "effective_on": "2025-01-01", "letter": "衛部字第1號", "recorded_by": "moi",
        "departing": "alice"}
    (tok,) = json.loads(run(cli, "token", "list", "--user", "alice", "--json", *db).output)
    assert tok["state"] == "revoked" and token not in json.dumps(tok)


# --- tokens expire (90 days by default) and are revoked per user --------------------------


def test_token_expires_after_90_days_to_the_second(session: Session, world: World) -> None:
    token = issue_token(session, world.user, NOW)
    assert token_user(session, token, NOW + timedelta(days=90, seconds=-1)) is not None
    assert token_user(session, token, NOW + timedelta(days=90)) is None


def test_token_lifetime_configurable(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POPSTATS_TOKEN_DAYS", "30")
    token = issue_token(session, world.user, NOW)
    assert token_user(session, token, NOW + timedelta(days=30, seconds=-1)) is not None
    assert token_user(session, token, NOW + timedelta(days=30)) is None
    monkeypatch.setenv("POPSTATS_TOKEN_DAYS", "forever")
    with pytest.raises(PartyError, match="POPSTATS_TOKEN_DAYS='forever'"):
        issue_token(session, world.user, NOW)


def test_revoke_one_users_tokens_only(session: Session, world: World) -> None:
    mine, theirs = issue_token(session, world.user, NOW), issue_token(session, world.other_user,
                                                                       NOW)
    assert revoke_user_access(session, world.user, NOW) == 1
    session.expire_all()
    assert token_user(session, mine, NOW) is None
    assert token_user(session, theirs, NOW) is not None


def test_only_the_user_or_an_official_issues_a_token(session: Session, world: World) -> None:
    with pytest.raises(PartyError, match="may not issue tokens for 'alice'"):
        issue_token(session, world.user, NOW, by=world.other_user)
    assert issue_token(session, world.user, NOW, by=world.moi_official).startswith("pst_")


def test_cli_token_list_and_revoke_per_user(cli: click.Group, db_url: str, tmp_path: Path) -> None:
    db = ["--db", db_url]
    cli_world(cli, db, tmp_path)
    run(cli, "user", "add", "dave", "--role", "agency_user", "--agency", "衛生福利部",
        "--password", PASSWORD, "--by", "moi", *db)
    run(cli, "token", "issue", "alice", "--by", "alice", *db)
    run(cli, "token", "issue", "dave", "--by", "dave", *db)
    refused = run(cli, "token", "revoke", "--user", "alice", "--by", "dave", *db)
    assert refused.exit_code == 1 and "not a provider official" in refused.output
    assert "1 credential(s) revoked" in run(cli, "token", "revoke", "--user", "alice", "--by",
                                            "alice", *db).output
    listed = json.loads(run(cli, "token", "list", "--json", *db).output)
    assert [(t["user"], t["state"]) for t in listed] == [("alice", "revoked"), ("dave", "active")]
    issued = datetime.fromisoformat(listed[1]["created_at"])
    assert datetime.fromisoformat(listed[1]["expires_at"]) - issued == timedelta(days=90)


def test_a_token_issued_without_expiry_lapses_90_days_after_issue(
    session: Session, world: World
) -> None:
    """Tokens from before they expired (expires_at empty) do not live for ever."""
    from access.models import ApiToken

    token = issue_token(session, world.user, NOW)
    session.execute(text("UPDATE api_tokens SET expires_at = NULL"))
    session.expire_all()
    assert session.scalars(select(ApiToken.expires_at)).one() is None
    assert token_user(session, token, NOW + timedelta(days=90, seconds=-1)) is not None
    assert token_user(session, token, NOW + timedelta(days=90)) is None


def test_cli_set_code_lets_an_agency_registered_before_codes_apply(
    cli: click.Group, db_url: str, tmp_path: Path, engine: object
) -> None:
    db = ["--db", db_url]
    rules = cli_world(cli, db, tmp_path)
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text("UPDATE agencies SET code = NULL, kind = NULL"))
    refused = run(cli, *submit_args(rules, "00000"), *db)
    assert refused.exit_code == 1 and "popstats agency set-code" in refused.output
    by_agency = run(cli, "agency", "set-code", "衛生福利部", "--code", "A21000000I", "--kind",
                    "central", "--by", "alice", *db)
    assert by_agency.exit_code == 1 and "not a provider official" in by_agency.output
    assert run(cli, "agency", "set-code", "衛生福利部", "--code", "A21000000I", "--kind",
               "central", "--by", "moi", *db).exit_code == 0
    assert run(cli, *submit_args(rules, "00000"), *db).exit_code == 0
