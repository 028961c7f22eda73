"""Commands for the database, demo accounts, agencies, users, tokens and personnel."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import click
from sqlalchemy import func, select

from access import accounts, agencies, audit
from access.db import database_url, make_engine, upgrade_engine
from access.models import (
    AGENCY_KINDS,
    ROLES,
    Agency,
    Provider,
    User,
)
from access.personnel import POSTS, personnel_changes, record_personnel_change
from popstats.access_cli.common import (
    DATE,
    F,
    _agency,
    _by,
    _echo_json,
    _now,
    _one,
    _session,
    _user,
    by_option,
    db_option,
)
from stats.taipei import iso


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


def _agency_fields(func: F) -> F:
    for option in reversed([
        click.option("--code", required=True,
                     help="The agency's official code (機關代碼): 10 characters, e.g. 379000000A."),
        click.option("--kind", required=True, metavar="|".join(AGENCY_KINDS),
                     help="The kind of public agency (point 3): "
                     + "; ".join(f"{k} = {v}" for k, v in AGENCY_KINDS.items()) + "."),
        by_option("The registering provider official's username."),
    ]):
        func = option(func)
    return func


@agency_group.command("add")
@click.argument("name")
@_agency_fields
@db_option
def agency_add(name: str, code: str, kind: str, by: str, db: str | None) -> None:
    """Register the public agency NAME with its agency code and kind."""
    with _session(db) as session:
        agency = agencies.add_agency(session, name, _now(), code=code, kind=kind,
                                     by=_by(session, by))
        click.echo(f"agency {agency.id}: {agency.name} ({agency.code}, {agency.kind})")


@agency_group.command("set-code")
@click.argument("name")
@_agency_fields
@db_option
def agency_set_code(name: str, code: str, kind: str, by: str, db: str | None) -> None:
    """Record the agency code and kind of NAME (agencies registered before they were required)."""
    with _session(db) as session:
        agency = _agency(session, name)
        agencies.set_agency_code(session, agency, _now(), code=code, kind=kind,
                                 by=_by(session, by))
        click.echo(f"agency {agency.id}: {agency.name} ({agency.code}, {agency.kind})")


@agency_group.command("list")
@db_option
def agency_list(db: str | None) -> None:
    """List the registered agencies: id, name, agency code, kind."""
    with _session(db) as session:
        for agency in session.scalars(select(Agency).order_by(Agency.id)):
            click.echo(f"{agency.id}\t{agency.name}\t{agency.code or '-'}\t{agency.kind or '-'}")


@click.group("personnel")
def personnel_group() -> None:
    """Personnel changes of agencies (point 12)."""


@personnel_group.command("record")
@click.argument("agency")
@click.option("--post", type=click.Choice(POSTS), required=True)
@click.option("--person", required=True, help="The new case officer or unit supervisor.")
@click.option(
    "--effective", type=DATE, metavar="YYYY-MM-DD", required=True,
    help="Date the change took effect (today or earlier).",
)
@click.option("--letter", required=True, help="Reference of the agency's letter (函).")
@click.option(
    "--departing", metavar="USERNAME",
    help="The departing person's account: its API tokens and sessions are revoked now.",
)
@by_option("The recording provider official's username.")
@db_option
def personnel_record(
    agency: str, post: str, person: str, effective: datetime, letter: str,
    departing: str | None, by: str, db: str | None,
) -> None:
    """Record AGENCY's reported change of case officer or unit supervisor."""
    with _session(db) as session:
        change = record_personnel_change(
            session, _agency(session, agency), post, person, effective.date(), _now(),
            letter_ref=letter, by=_by(session, by),
            departing=_user(session, departing) if departing else None,
        )
        click.echo(f"recorded: {agency} {post} → {change.person} from {change.effective_on}"
                   + (f"; {departing}'s tokens and sessions revoked" if departing else ""))


@personnel_group.command("list")
@click.option("--agency", help="Only this agency's changes.")
@click.option("--json", "as_json", is_flag=True)
@db_option
def personnel_list(agency: str | None, as_json: bool, db: str | None) -> None:
    """List recorded personnel changes, oldest first."""
    with _session(db) as session:
        records = [
            {
                "id": c.id,
                "agency": session.get(Agency, c.agency_id).name,  # type: ignore[union-attr]
                "post": c.post,
                "person": c.person,
                "effective_on": str(c.effective_on),
                "letter": c.letter_ref,
                "reported_at": iso(c.reported_at),
                "recorded_by": _username(session, c.recorded_by),
                "departing": _username(session, c.departing_user_id),
            }
            for c in personnel_changes(session, _agency(session, agency) if agency else None)
        ]
    if as_json:
        _echo_json(records)
        return
    for r in records:
        click.echo("\t".join(str(r[k] if r[k] is not None else "-") for k in (
            "id", "agency", "post", "person", "effective_on", "letter", "recorded_by",
            "departing")))


def _username(session: Any, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id is not None else None
    return user.username if user else None


@click.group("user")
def user_group() -> None:
    """Users of providers and agencies."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--agency", help="The agency the user belongs to (agency_user).")
@click.option("--provider", help="The provider code the user belongs to: MOI or a county code.")
@click.password_option(help="Prompted for when not given.")
@click.option(
    "--by", "by", metavar="USERNAME",
    help="The provider official creating the account (required once any official exists; "
    "the first official of an empty database is created without it).",
)
@db_option
def user_add(
    username: str,
    role: str,
    agency: str | None,
    provider: str | None,
    password: str,
    by: str | None,
    db: str | None,
) -> None:
    """Create USERNAME with an argon2-hashed password.

    USERNAME: a lower-case letter, then lower-case letters, digits, _ . or -, 2 to 32 in all.
    The password: at least 12 characters, 5 of them different, not a common password, not
    containing the user name.
    """
    with _session(db) as session:
        accounts.ensure_standard_providers(session)
        officials = session.scalar(
            select(func.count()).select_from(User).where(User.role == "provider_official"))
        if by is None and officials:
            raise click.UsageError("--by USERNAME (a provider official) is required")
        actor = "setup"
        if by is not None:
            official = _by(session, by)
            agencies.require_official(session, official, "user.add", f"user:{username}", _now())
            actor = official.username
        elif role != "provider_official" or not provider:
            raise click.UsageError(
                "the first account of an empty database is a provider official (--provider)")
        party: dict[str, Any] = {}
        if agency:
            party["agency"] = _agency(session, agency)
        if provider:
            party["provider"] = _one(session, Provider, Provider.code, provider, "provider")
        user = accounts.add_user(session, username, password, role, _now(), actor=actor,
                                 **party)
        click.echo(f"user {user.id}: {user.username} ({user.role})")


@user_group.command("password")
@click.argument("username")
@click.password_option(help="The new password (prompted for when not given).")
@click.option("--by", "by", metavar="USERNAME", required=True,
              help="The provider official setting it.")
@db_option
def user_password(username: str, password: str, by: str, db: str | None) -> None:
    """Set USERNAME's password (the password policy applies) and lift its login locks."""
    with _session(db) as session:
        official = _by(session, by)
        agencies.require_official(session, official, "user.password", f"user:{username}", _now())
        user = _user(session, username)
        accounts.set_password(session, user, password)
        audit.record(session, official.username, "user.password_set", f"user:{user.id}", _now(),
                     agency_id=user.agency_id)
        click.echo(f"password of {user.username} set")


@click.group("token")
def token_group() -> None:
    """API tokens of agency users (stored only as SHA-256; they expire)."""


@token_group.command("issue")
@click.argument("username")
@click.option(
    "--days", type=click.IntRange(1, accounts.MAX_TOKEN_DAYS),
    help="Expire after this many days (default: $POPSTATS_TOKEN_DAYS, else 90).",
)
@by_option("The acting account: USERNAME themself or a provider official.")
@db_option
def token_issue(username: str, days: int | None, by: str, db: str | None) -> None:
    """Issue an API token for USERNAME and print it (it cannot be shown again)."""
    with _session(db) as session:
        token = accounts.issue_token(
            session, _user(session, username), _now(),
            timedelta(days=days) if days else None, by=_by(session, by),
        )
        click.echo(token)


@token_group.command("list")
@click.option("--user", "username", help="Only this user's tokens.")
@click.option("--agency", help="Only the tokens of this agency's users.")
@click.option("--json", "as_json", is_flag=True)
@db_option
def token_list(username: str | None, agency: str | None, as_json: bool, db: str | None) -> None:
    """List tokens (never their values): id, user, issued, expires, revoked, state now."""
    now = _now()
    with _session(db) as session:
        records = [
            {
                "id": t.id,
                "user": t.user.username,
                "created_at": iso(t.created_at),
                "expires_at": iso(accounts.token_expiry(t)),
                "revoked_at": iso(t.revoked_at) if t.revoked_at else None,
                "state": "revoked" if t.revoked_at else (
                    "expired" if now >= accounts.token_expiry(t) else "active"),
            }
            for t in accounts.user_tokens(
                session,
                _user(session, username) if username else None,
                _agency(session, agency).id if agency else None,
            )
        ]
    if as_json:
        _echo_json(records)
        return
    for r in records:
        click.echo("\t".join(str(r[k] or "-") for k in
                              ("id", "user", "state", "created_at", "expires_at", "revoked_at")))


@token_group.command("revoke")
@click.option("--user", "username", help="Revoke this user's tokens and sessions.")
@click.option("--agency", help="Revoke the tokens and sessions of every user of this agency.")
@by_option("The acting account: a provider official, or the user themself (--user).")
@db_option
def token_revoke(username: str | None, agency: str | None, by: str, db: str | None) -> None:
    """Revoke API tokens and login sessions of one user or of one agency's users."""
    if (username is None) == (agency is None):
        raise click.UsageError("give exactly one of --user and --agency")
    now = _now()
    with _session(db) as session:
        actor = _by(session, by)
        if username:
            target = _user(session, username)
            if actor.id != target.id:
                agencies.require_official(session, actor, "token.revoke", f"user:{target.id}",
                                          now, target.agency_id)
            count = accounts.revoke_user_access(session, target, now)
            obj, agency_id = f"user:{target.id}", target.agency_id
        else:
            party = _agency(session, agency or "")
            agencies.require_official(session, actor, "token.revoke", f"agency:{party.id}", now,
                                      party.id)
            count = accounts.revoke_agency_access(session, party.id, now)
            obj, agency_id = f"agency:{party.id}", party.id
        audit.record(session, actor.username, "token.revoked", obj, now, {"revoked": count},
                     agency_id=agency_id)
        click.echo(f"{count} credential(s) revoked")
