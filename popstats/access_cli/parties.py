"""Commands for the database, demo accounts, agencies, users, tokens and personnel."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import click
from sqlalchemy import select

from access import accounts, audit, grants
from access.db import database_url, make_engine, upgrade_engine
from access.models import (
    ROLES,
    Agency,
    Provider,
)
from popstats.access_cli.common import (
    DATE,
    _agency,
    _now,
    _one,
    _session,
    _user,
    db_option,
)


@click.group("db")
def db_group() -> None:
    """The access database (agencies, grants, audit log)."""


@db_group.command("upgrade")
@db_option
def db_upgrade(db: str | None) -> None:
    """Create or migrate the database schema to the current version."""
    url = database_url(db)
    engine = make_engine(url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()
    click.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@click.command("demo-accounts")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the credentials as a JSON list.")
def demo_accounts(db: str | None, as_json: bool) -> None:
    """(Re)create the demo providers, agencies, users and grants; print their credentials."""
    from access.demo import create_demo

    with _session(db) as session:
        records = create_demo(session, _now())
    if as_json:
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    for r in records:
        click.echo(
            f"{r['username']:<20} {r['password']:<18} {r['role']:<18} {r['agency']} "
            f"tables={','.join(r['tables'])} areas={','.join(r['areas'])}"
            + (f"\n{'':20} token {r['token']}" if r["token"] else "")
        )


# ---------------------------------------------------------------- parties


@click.group("agency")
def agency_group() -> None:
    """Linking agencies (public agencies only, point 3)."""


@agency_group.command("add")
@click.argument("name")
@db_option
def agency_add(name: str, db: str | None) -> None:
    """Register the public agency NAME."""
    with _session(db) as session:
        agency = accounts.add_agency(session, name, _now())
        click.echo(f"agency {agency.id}: {agency.name}")


@agency_group.command("list")
@db_option
def agency_list(db: str | None) -> None:
    """List the registered agencies."""
    with _session(db) as session:
        for agency in session.scalars(select(Agency).order_by(Agency.id)):
            click.echo(f"{agency.id}\t{agency.name}")


@click.group("personnel")
def personnel_group() -> None:
    """Personnel changes of agencies (point 12)."""


@personnel_group.command("record")
@click.argument("agency")
@click.option("--post", type=click.Choice(grants.POSTS), required=True)
@click.option("--person", required=True, help="The new case officer or unit supervisor.")
@click.option(
    "--effective", type=DATE, metavar="YYYY-MM-DD", required=True, help="Date of the change."
)
@db_option
def personnel_record(
    agency: str, post: str, person: str, effective: datetime, db: str | None
) -> None:
    """Record AGENCY's reported change of case officer or unit supervisor."""
    with _session(db) as session:
        grants.record_personnel_change(
            session, _agency(session, agency), post, person, effective.date(), _now()
        )
        click.echo(f"recorded: {agency} {post} → {person} from {effective.date()}")


@click.group("user")
def user_group() -> None:
    """Users of providers and agencies."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--agency", help="The agency the user belongs to (agency_user).")
@click.option("--provider", help="The provider code the user belongs to: MOI or a county code.")
@click.password_option(help="Prompted for when not given.")
@db_option
def user_add(
    username: str,
    role: str,
    agency: str | None,
    provider: str | None,
    password: str,
    db: str | None,
) -> None:
    """Create USERNAME with an argon2-hashed password."""
    with _session(db) as session:
        accounts.ensure_standard_providers(session)
        party: dict[str, Any] = {}
        if agency:
            party["agency"] = _agency(session, agency)
        if provider:
            party["provider"] = _one(session, Provider, Provider.code, provider, "provider")
        user = accounts.add_user(session, username, password, role, _now(), **party)
        click.echo(f"user {user.id}: {user.username} ({user.role})")


@click.group("token")
def token_group() -> None:
    """API tokens of agency users (stored only as SHA-256)."""


@token_group.command("revoke")
@click.argument("agency")
@db_option
def token_revoke(agency: str, db: str | None) -> None:
    """Revoke every API token and session of AGENCY's users at once."""
    with _session(db) as session:
        target = _agency(session, agency)
        count = accounts.revoke_agency_access(session, target.id, _now())
        audit.record(
            session,
            "provider",
            "token.revoked",
            f"agency:{target.id}",
            _now(),
            {"revoked": count},
            agency_id=target.id,
        )
        click.echo(f"{count} credential(s) revoked")


@token_group.command("issue")
@click.argument("username")
@click.option("--days", type=click.IntRange(min=1), help="Expire after this many days.")
@db_option
def token_issue(username: str, days: int | None, db: str | None) -> None:
    """Issue an API token for USERNAME and print it (it cannot be shown again)."""
    with _session(db) as session:
        token = accounts.issue_token(
            session, _user(session, username), _now(), timedelta(days=days) if days else None
        )
        click.echo(token)
