"""Applications as the regulation words them: point 6 (who is applied to), points 10 and
13(1) (purpose, legal basis, eight items of real text), point 11 (a narrower approval)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.grants import (
    ApplicationError,
    IncompleteApplication,
    actor_of,
    agency_rules,
    approve,
    missing_rule_items,
)
from access.models import Application, AuditEntry, Grant
from access.permissions import can_view
from tests.access.conftest import NOW, World, full_rules
from tests.access.governance_helpers import apply, cli_world, run, submit_args

# --- point 6: single-county data from the county government, the rest from MOI ------------


@pytest.mark.parametrize(
    "addressed, areas, right",
    [
        ("moi", ["63000"], "臺北市政府"),  # the case: accepted and approved before
        ("moi", ["63000010", "63000020"], "臺北市政府"),  # two townships of one county
        ("moi", ["63000010001"], "臺北市政府"),  # one village
        ("taipei_gov", ["63000", "64000"], "內政部"),  # cross-county
        ("taipei_gov", ["00000"], "內政部"),  # national
        ("khh_gov", ["63000"], "臺北市政府"),  # another county's government
    ],
)
def test_point6_wrong_provider_is_refused_naming_the_right_one(
    session: Session, world: World, addressed: str, areas: list[str], right: str
) -> None:
    with pytest.raises(ApplicationError, match=f"applied for to {right}.*point 6"):
        apply(session, world, getattr(world, addressed), areas)
    assert session.scalars(select(Application)).all() == []


@pytest.mark.parametrize(
    "addressed, areas",
    [("moi", ["00000"]), ("moi", ["63000", "64000010"]), ("taipei_gov", ["63000", "63000010"])],
)
def test_point6_right_provider_accepted(
    session: Session, world: World, addressed: str, areas: list[str]
) -> None:
    assert apply(session, world, getattr(world, addressed), areas).status == "submitted"


def test_point6_moi_does_not_decide_what_was_applied_for_to_a_county(
    session: Session, world: World
) -> None:
    app = apply(session, world, world.taipei_gov, ["63000"])
    session.commit()
    with pytest.raises(Exception, match="addressed to 臺北市政府"):
        approve(session, app, world.moi_official, date(2025, 4, 1), date(2025, 12, 31), NOW)
    session.rollback()
    grant = approve(session, app, world.taipei_official, date(2025, 4, 1), date(2025, 12, 31),
                    NOW)
    assert grant.provider.code == "63000"


def test_point6_cli_submit_to_moi_for_taipei_refused(
    cli: click.Group, db_url: str, tmp_path: Path
) -> None:
    db = ["--db", db_url]
    rules = cli_world(cli, db, tmp_path)
    refused = run(cli, *submit_args(rules, "63000", provider="MOI"), *db)
    assert refused.exit_code == 1
    assert "臺北市政府 (provider 63000)" in refused.output and "point 6" in refused.output
    assert run(cli, "application", "list", *db).output == ""  # nothing stored
    accepted = run(cli, *submit_args(rules, "63000"), *db)  # no --provider: point 6 chooses
    assert "application 1 submitted to 臺北市政府" in accepted.output, accepted.output


# --- points 10 and 13(1): purpose, legal basis, the eight items as real text --------------


@pytest.mark.parametrize(
    "purpose, legal_basis, problem",
    [
        ("", "戶籍法第65條", "the purpose is empty"),
        ("   ", "戶籍法第65條", "the purpose is empty"),
        ("人口研究x", "戶籍法第65條", "the purpose is too short"),  # 5 characters
        ("N/A", "戶籍法第65條", "the purpose is a placeholder"),
        ("人口政策研究", "", "the legal basis is empty"),
        ("人口政策研究", None, "the legal basis must be text"),
        ("人口政策研究", "待補", "the legal basis is a placeholder"),
    ],
)
def test_purpose_and_legal_basis_are_required_text(
    session: Session, world: World, purpose: str, legal_basis: str | None, problem: str
) -> None:
    with pytest.raises(ApplicationError, match=problem):
        apply(session, world, world.moi, ["00000"], purpose=purpose, legal_basis=legal_basis)
    assert session.scalars(select(Application)).all() == []


def test_purpose_of_six_characters_is_enough(session: Session, world: World) -> None:
    app = apply(session, world, world.moi, ["00000"], purpose="人口政策研究")  # exactly 6
    assert app.purpose == "人口政策研究" and app.legal_basis == "戶籍法第65條"


@pytest.mark.parametrize("value", [1, True, None, ["保密"], {"text": "保密"}])
def test_rule_values_that_are_not_text_are_refused_at_submission(
    session: Session, world: World, value: object
) -> None:
    with pytest.raises(ApplicationError, match="item 'confidentiality' must be text"):
        apply(session, world, world.moi, ["00000"],
              rules={**full_rules(), "confidentiality": value})


@pytest.mark.parametrize("rules", [[], ["保密"], "保密", 1, False])
def test_rules_that_are_not_an_object_are_refused(
    session: Session, world: World, rules: object
) -> None:
    with pytest.raises(ApplicationError, match="must be a JSON object"):
        apply(session, world, world.moi, ["00000"], rules=rules)


@pytest.mark.parametrize(
    "text, addressed",
    [
        ("依本部規定保密處理資料", True),  # 11 characters
        ("依本部資安規定保密處", True),  # exactly 10
        ("依本部規定保密處理", False),  # 9: too short
        ("N/A", False),
        ("待補", False),
        ("同上。", False),
        ("xxxxxxxxxxxxxxxx", False),  # one character repeated
        ("1234567890123", False),  # digits only
        ("lorem ipsum dolor sit amet", False),
    ],
)
def test_each_rule_item_must_be_real_text_before_approval(
    session: Session, world: World, text: str, addressed: bool
) -> None:
    app = apply(session, world, world.moi, ["00000"],
                rules={**full_rules(), "confidentiality": text})
    assert ("confidentiality" in missing_rule_items(app.rules)) is not addressed
    if addressed:
        approve(session, app, world.moi_official, date(2025, 4, 1), date(2025, 12, 31), NOW)
        assert app.status == "approved"
        return
    with pytest.raises(IncompleteApplication, match="保密 / confidentiality"):
        approve(session, app, world.moi_official, date(2025, 4, 1), date(2025, 12, 31), NOW)
    assert session.scalars(select(Grant)).all() == []


def test_unknown_rule_items_are_named(session: Session, world: World) -> None:
    with pytest.raises(ApplicationError, match="unknown items 'confidentialty'"):
        apply(session, world, world.moi, ["00000"], rules={"confidentialty": "依本部規定保密處理資料"})


@pytest.mark.parametrize(
    "content, message",
    [
        ("[]", "must be a JSON object of point 13 items .*not an array"),
        ('["purpose_and_security"]', "not an array"),
        ('{"confidentiality": 1}', "item 'confidentiality' must be text, not 1"),
        ('{"confidentiality": true}', "item 'confidentiality' must be text, not true"),
        ('{"confidentiality": ', "not valid JSON \\(line 1, column 21"),
        ("", "not valid JSON"),
    ],
)
def test_cli_malformed_rules_file_gets_a_clear_error_not_a_traceback(
    cli: click.Group, db_url: str, tmp_path: Path, content: str, message: str
) -> None:
    import re

    db = ["--db", db_url]
    cli_world(cli, db, tmp_path)
    bad = tmp_path / "bad-rules.json"
    bad.write_text(content, encoding="utf-8")
    result = run(cli, *submit_args(bad, "00000"), *db)  # a traceback would raise here
    assert result.exit_code == 1
    assert str(bad) in result.output and re.search(message, result.output), result.output
    assert run(cli, "application", "list", *db).output == ""


def test_cli_empty_purpose_refused(cli: click.Group, db_url: str, tmp_path: Path) -> None:
    db = ["--db", db_url]
    rules = cli_world(cli, db, tmp_path)
    args = submit_args(rules, "00000")
    args[args.index("--purpose") + 1] = ""
    result = run(cli, *args, *db)
    assert result.exit_code == 1 and "the purpose is empty" in result.output


# --- point 11: the provider sets the permissions — all that was applied for, or less ------


def test_narrower_approval_needs_a_reason_and_is_recorded(session: Session, world: World) -> None:
    app = apply(session, world, world.moi, ["63000", "64000"],
                requested_from=date(2025, 4, 1), requested_to=date(2025, 12, 31))
    session.commit()
    with pytest.raises(ApplicationError, match="needs the reason"):
        approve(session, app, world.moi_official, date(2025, 4, 1), date(2025, 12, 31), NOW,
                tables=["population"])
    grant = approve(session, app, world.moi_official, date(2025, 4, 1), date(2025, 6, 30), NOW,
                    tables=["population"], areas=["63000", "64000010"],
                    channels=["file_transfer"], reason="業務需要僅限人口數")
    session.commit()
    assert (grant.tables, grant.areas, grant.channels) == (
        ["population"], ["63000", "64000010"], ["file_transfer"])
    assert app.reason == "業務需要僅限人口數"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "grant.approved")).one()
    assert entry.actor == "moi" and entry.details["reason"] == "業務需要僅限人口數"
    assert entry.details["narrowed"] == {
        "tables_removed": ["vital_events"],
        "channels_removed": ["online_query"],
        "areas": {"applied": ["63000", "64000"], "approved": ["63000", "64000010"]},
        "validity": {"applied": ["2025-04-01", "2025-12-31"],
                     "approved": ["2025-04-01", "2025-06-30"]},
    }
    rules, actor = agency_rules(session, world.agency.id), actor_of(world.user)
    at = NOW.replace(month=5)
    assert can_view(actor, "population", "64000010001", "file_transfer", rules, at)
    assert not can_view(actor, "population", "64000020", "file_transfer", rules, at)
    assert not can_view(actor, "vital_events", "63000", "file_transfer", rules, at)
    assert not can_view(actor, "population", "63000", "online_query", rules, at)


@pytest.mark.parametrize(
    "scope, wider",
    [
        ({"tables": ["indicators"]}, "indicators"),
        ({"channels": ["media_exchange"]}, "media_exchange"),
        ({"areas": ["65000"]}, "65000"),
        ({"valid_to": date(2026, 1, 1)}, "to 2026-01-01"),
        ({"valid_from": date(2025, 3, 31)}, "from 2025-03-31"),
    ],
)
def test_approval_wider_than_applied_for_is_refused(
    session: Session, world: World, scope: dict, wider: str
) -> None:
    app = apply(session, world, world.moi, ["63000", "64000"],
                requested_from=date(2025, 4, 1), requested_to=date(2025, 12, 31))
    scope = dict(scope)  # the parameter is shared by both databases' runs
    first = scope.pop("valid_from", date(2025, 4, 1))
    last = scope.pop("valid_to", date(2025, 12, 31))
    with pytest.raises(ApplicationError, match=f"not applied for: {wider}"):
        approve(session, app, world.moi_official, first, last, NOW, reason="理由充分說明", **scope)
    assert app.status == "submitted"


def test_cli_review_approves_a_narrower_scope(
    cli: click.Group, db_url: str, tmp_path: Path
) -> None:
    db = ["--db", db_url]
    rules = cli_world(cli, db, tmp_path)
    args = submit_args(rules, "63000", "64000")
    args[args.index("--table")+1:args.index("--table")+1] = []
    args += ["--table", "vital_events", "--valid-from", "2025-01-01", "--valid-to", "2030-12-31"]
    assert run(cli, *args, *db).exit_code == 0
    review = ["application", "review", "1", "--by", "moi", "--decision", "approve"]
    unexplained = run(cli, *review, "--area", "63000", *db)
    assert unexplained.exit_code == 1 and "needs the reason" in unexplained.output
    done = run(cli, *review, "--area", "63000", "--table", "population", "--reason",
               "僅需臺北市人口數", *db)
    assert "grant 1" in done.output, done.output
    (grant,) = json.loads(run(cli, "grant", "list", "--json", *db).output)
    assert (grant["tables"], grant["areas"]) == (["population"], ["63000"])
    assert (grant["valid_from"], grant["valid_to"]) == ("2025-01-01", "2030-12-31")


# --- point 7: delivered files are named by the provider that granted them -------------------


def test_file_prefix_is_the_granting_providers_code(session: Session, world: World) -> None:
    """The agency holds MOI's national grant and 臺北市政府's grant for 63000: 臺北市 data comes
    from its government (point 6), anything else only MOI's grant covers."""
    from access.grants import providing_code

    national = apply(session, world, world.moi, ["00000"], tables=["population"],
                     channels=["file_transfer"])
    approve(session, national, world.moi_official, date(2025, 1, 1), date(2099, 12, 31), NOW)
    taipei = apply(session, world, world.taipei_gov, ["63000"], tables=["population"],
                   channels=["file_transfer"])
    approve(session, taipei, world.taipei_official, date(2025, 1, 1), date(2099, 12, 31), NOW)
    code = lambda areas: providing_code(  # noqa: E731
        session, world.user, ["population"], areas, "file_transfer", NOW)
    assert code(["63000"]) == "63000" and code(["63000010001"]) == "63000"
    assert code(["64000"]) == "MOI" and code(["63000", "64000"]) == "MOI"
    assert code(["00000"]) == "MOI"
    assert providing_code(session, world.khh_official, ["population"], ["64000"],
                          "file_transfer", NOW) == "64000"
    with pytest.raises(ApplicationError, match="no single grant"):
        providing_code(session, world.user, ["population"], ["63000"], "online_query", NOW)
