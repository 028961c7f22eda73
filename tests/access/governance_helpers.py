"""Shared steps of the governance tests: an application through the access layer, and a
database set up through the public CLI (an MOI and a 臺北市 official, 衛生福利部 and its user)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from access.grants import submit
from access.models import Application, Provider
from tests.access.conftest import LEGAL_BASIS, NOW, PURPOSE, World, full_rules

PASSWORD = "lantern-river-4821"  # fits the password policy
CLI_PASSWORD = ["--password", PASSWORD]


def apply(
    session: Session,
    world: World,
    provider: Provider,
    areas: Sequence[str],
    *,
    tables: Sequence[str] = ("population", "vital_events"),
    channels: Sequence[str] = ("online_query", "file_transfer"),
    purpose: Any = PURPOSE,
    legal_basis: Any = LEGAL_BASIS,
    rules: Any = None,
    **more: Any,
) -> Application:
    """``world.user`` applies for 衛生福利部 (complete rules unless ``rules`` is given)."""
    return submit(session, world.agency, provider, list(tables), list(areas), list(channels),
                  purpose, full_rules() if rules is None else rules, NOW,
                  legal_basis=legal_basis, by=world.user, **more)


def run(cli: click.Group, *args: str) -> Result:
    """Invoke the CLI; an exception other than a clean exit (a traceback) fails the test."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def cli_world(cli: click.Group, db: list[str], tmp_path: Path) -> Path:
    """moi (MOI official), tp (臺北市 official), 衛生福利部 with alice; returns a complete
    rules file."""
    steps = [
        ["user", "add", "moi", "--role", "provider_official", "--provider", "MOI",
         *CLI_PASSWORD],
        ["user", "add", "tp", "--role", "provider_official", "--provider", "63000",
         *CLI_PASSWORD, "--by", "moi"],
        ["agency", "add", "衛生福利部", "--code", "A21000000I", "--kind", "central",
         "--by", "moi"],
        ["user", "add", "alice", "--role", "agency_user", "--agency", "衛生福利部",
         *CLI_PASSWORD, "--by", "moi"],
    ]
    for step in steps:
        result = run(cli, *step, *db)
        assert result.exit_code == 0, (step, result.output)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(full_rules(), ensure_ascii=False), encoding="utf-8")
    return rules


def submit_args(rules: Path, *areas: str, provider: str | None = None) -> list[str]:
    """``application submit`` by alice for population online, for ``areas``."""
    args = ["application", "submit", "--table", "population", "--channel", "online_query",
            "--purpose", PURPOSE, "--legal-basis", LEGAL_BASIS, "--rules", str(rules),
            "--by", "alice"]
    for area in areas:
        args += ["--area", area]
    return args + (["--provider", provider] if provider else [])
