"""The user-name and password policy on the command line (``popstats user add`` and
``popstats user password``), and the demo accounts, which keep working under it."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner, Result

from access.accounts import check_password, check_username

GOOD = "lantern-river-4821"


def _run(cli: click.Group, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(("username", "password", "said"), [
    ('=HYPERLINK("http://evil.example","x")', GOOD, "does not fit the pattern"),
    ("Moi", GOOD, "does not fit the pattern"),
    ("moi", "short-pw", "too short"),
    ("moi", "password1234", "common passwords"),
    ("moi", "moi-official-2026", "contains the user name"),
])
def test_user_add_refuses_names_and_passwords_outside_the_policy(
    cli: click.Group, db_url: str, username: str, password: str, said: str
) -> None:
    result = _run(cli, "user", "add", username, "--role", "provider_official", "--provider",
                  "MOI", "--password", password, "--db", db_url)
    assert result.exit_code == 1 and said in result.output
    assert password not in result.output  # the refusal never echoes the password


def test_user_password_follows_the_policy_and_needs_an_official(
    cli: click.Group, db_url: str
) -> None:
    db = ["--db", db_url]
    add = ["user", "add", "moi", "--role", "provider_official", "--provider", "MOI"]
    assert _run(cli, *add, "--password", GOOD, *db).exit_code == 0
    weak = _run(cli, "user", "password", "moi", "--password", "changeme", "--by", "moi", *db)
    assert weak.exit_code == 1 and "too short" in weak.output
    done = _run(cli, "user", "password", "moi", "--password", "another-long-secret", "--by",
                "moi", *db)
    assert done.exit_code == 0 and "password of moi set" in done.output


def test_demo_accounts_fit_the_policy_and_print_the_contract_json(
    cli: click.Group, db_url: str
) -> None:
    result = _run(cli, "demo-accounts", "--db", db_url, "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert records and all(set(r) >= {"username", "password", "token", "agency", "role",
                                      "tables", "areas"} for r in records)
    for record in records:  # random passwords: no exemption needed, in demo mode or not
        check_username(record["username"])
        check_password(record["username"], record["password"])
