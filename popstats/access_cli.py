"""Command-line workflows of the linking governance (``access/``), added to ``popstats``.

``register(main)`` adds: ``db``, ``demo-accounts``, ``agency``, ``user``, ``token``,
``application``, ``grant``, ``personnel``, ``violation``, ``terminate`` and ``audit``.
Every command takes ``--db URL`` (default: ``$POPSTATS_DB``, else the embedded SQLite file
``popstats.db``) and migrates that database to the current schema first. These commands
are the provider's administration tool: ``--by USERNAME`` names the acting official, whose
role and jurisdiction are checked and audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from access import accounts, audit, deliveries, grants, reports, sanctions
from access.accounts import AccessError
from access.audit import AuditKeyMissing
from access.calendar import local_date
from access.db import DEFAULT_URL, database_url, make_engine, session_factory, upgrade_engine
from access.models import (
    CHANNELS,
    ROLES,
    Agency,
    Application,
    Dispute,
    Extension,
    Grant,
    Provider,
    User,
    Violation,
)
from exports import UnknownEncoding, UnknownFormat
from stats.catalogue import TABLES

F = TypeVar("F", bound=Callable[..., Any])


def db_option(func: F) -> F:
    """The ``--db URL`` option every access command takes."""
    return click.option(
        "--db",
        "db",
        default=None,
        metavar="URL",
        help=f"Database URL (sqlite:///FILE or postgresql+psycopg://USER@HOST/DB); "
        f"default: $POPSTATS_DB, else {DEFAULT_URL}.",
    )(func)


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _session(db: str | None) -> Iterator[Session]:
    """A session on the migrated database; commits on success; domain errors → messages."""
    engine = make_engine(database_url(db))
    try:
        upgrade_engine(engine)
        with session_factory(engine)() as session:
            try:
                yield session
                session.commit()
            except (AccessError, AuditKeyMissing, UnknownFormat, UnknownEncoding) as exc:
                session.rollback()
                raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()


def _one(session: Session, model: Any, column: Any, value: Any, what: str) -> Any:
    found = session.scalar(select(model).where(column == value))
    if found is None:
        raise click.ClickException(f"no {what} {value!r}")
    return found


def _agency(session: Session, name: str) -> Agency:
    return _one(session, Agency, Agency.name, name, "agency")  # type: ignore[no-any-return]


def _user(session: Session, username: str) -> User:
    return _one(session, User, User.username, username, "user")  # type: ignore[no-any-return]


def _by(session: Session, username: str) -> User:
    return _user(session, username)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _grant_record(grant: Grant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "agency": grant.agency.name,
        "provider": grant.provider.name,
        "tables": grant.tables,
        "areas": grant.areas,
        "channels": grant.channels,
        "valid_from": str(local_date(grant.valid_from)),  # first day, Asia/Taipei
        "valid_to": str(local_date(grant.valid_to - timedelta(microseconds=1))),  # last day
        "state": grant.state,
        "ends_at": grant.ends_at.isoformat() if grant.ends_at else None,
    }


DATE = click.DateTime(formats=["%Y-%m-%d"])


def _date(value: datetime | None) -> date | None:
    return value.date() if value else None


def register(main: click.Group) -> None:
    """Add the access commands to the ``popstats`` group."""
    for command in (
        db_group,
        demo_accounts,
        agency_group,
        user_group,
        token_group,
        application_group,
        grant_group,
        personnel_group,
        violation_group,
        terminate,
        delivery_group,
        dispute_group,
        audit_group,
    ):
        main.add_command(command)


# ---------------------------------------------------------------- database and demo


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


# ---------------------------------------------------------------- applications and grants


@click.group("application")
def application_group() -> None:
    """Applications for linking (points 10, 11, 13)."""


@application_group.command("submit")
@click.option("--agency", required=True, help="The applying agency's name.")
@click.option(
    "--provider",
    default="MOI",
    show_default=True,
    help="The provider applied to: MOI or a county code.",
)
@click.option(
    "--table",
    "tables",
    multiple=True,
    required=True,
    type=click.Choice(list(TABLES)),
    help="A table of the data item list (repeat).",
)
@click.option(
    "--area",
    "areas",
    multiple=True,
    required=True,
    help="An area code: 00000 national, a county, township or village code (repeat).",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    required=True,
    type=click.Choice(CHANNELS),
    help="A delivery channel (repeat).",
)
@click.option("--purpose", required=True)
@click.option(
    "--rules",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="JSON object: the management rules, one text per point 13 item: "
    + ", ".join(grants.RULE_ITEMS)
    + ".",
)
@db_option
def application_submit(
    agency: str,
    provider: str,
    tables: tuple[str, ...],
    areas: tuple[str, ...],
    channels: tuple[str, ...],
    purpose: str,
    rules: Path,
    db: str | None,
) -> None:
    """File an application; say which point 13 items its rules still miss."""
    with _session(db) as session:
        accounts.ensure_standard_providers(session)
        app = grants.submit(
            session,
            _agency(session, agency),
            _one(session, Provider, Provider.code, provider, "provider"),
            tables,
            areas,
            channels,
            purpose,
            json.loads(rules.read_text(encoding="utf-8")),
            _now(),
            actor=agency,
        )
        missing = grants.missing_rule_items(app.rules)
        click.echo(
            f"application {app.id} submitted"
            + (f"; incomplete, rules miss: {', '.join(missing)}" if missing else "")
        )


@application_group.command("review")
@click.argument("application_id", type=int)
@click.option("--by", "by", required=True, help="The reviewing provider official's username.")
@click.option("--decision", type=click.Choice(["approve", "reject", "return"]), required=True)
@click.option(
    "--valid-from", type=DATE, metavar="YYYY-MM-DD", help="approve: first day of the grant."
)
@click.option("--valid-to", type=DATE, metavar="YYYY-MM-DD", help="approve: last day of the grant.")
@click.option("--reason", default="", help="reject (required) / return: why.")
@db_option
def application_review(
    application_id: int,
    by: str,
    decision: str,
    valid_from: datetime | None,
    valid_to: datetime | None,
    reason: str,
    db: str | None,
) -> None:
    """Approve (creating the grant), reject with a reason, or return for completion."""
    with _session(db) as session:
        app = _one(session, Application, Application.id, application_id, "application")
        reviewer = _by(session, by)
        if decision == "approve":
            if not valid_from or not valid_to:
                raise click.UsageError("approve needs --valid-from and --valid-to")
            grant = grants.approve(
                session, app, reviewer, valid_from.date(), valid_to.date(), _now()
            )
            click.echo(f"application {app.id} approved: grant {grant.id}")
        elif decision == "reject":
            grants.reject(session, app, reviewer, reason, _now())
            click.echo(f"application {app.id} rejected")
        else:
            grants.return_for_completion(session, app, reviewer, reason, _now())
            click.echo(f"application {app.id} returned: {app.reason}")


@application_group.command("resubmit")
@click.argument("application_id", type=int)
@click.option(
    "--rules",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON object with the completed point 13 items.",
)
@db_option
def application_resubmit(application_id: int, rules: Path | None, db: str | None) -> None:
    """Submit a returned application again, with completed rules."""
    with _session(db) as session:
        app = _one(session, Application, Application.id, application_id, "application")
        grants.resubmit(
            session,
            app,
            _now(),
            rules=json.loads(rules.read_text(encoding="utf-8")) if rules else None,
            actor=app.agency.name,
        )
        click.echo(f"application {app.id} resubmitted")


@application_group.command("list")
@db_option
def application_list(db: str | None) -> None:
    """List applications with their status."""
    with _session(db) as session:
        for app in session.scalars(select(Application).order_by(Application.id)):
            click.echo(
                f"{app.id}\t{app.status}\t{app.agency.name}\t{app.provider.code}\t"
                f"{','.join(app.tables)}\t{','.join(app.areas)}\t{','.join(app.channels)}"
            )


@click.group("grant")
def grant_group() -> None:
    """Grants: tables × areas × channels × validity (point 11)."""


@grant_group.command("list")
@click.option("--agency", help="Only this agency's grants.")
@click.option("--json", "as_json", is_flag=True)
@db_option
def grant_list(agency: str | None, as_json: bool, db: str | None) -> None:
    """List grants and their state."""
    with _session(db) as session:
        agency_id = _agency(session, agency).id if agency else None
        records = [_grant_record(g) for g in grants.list_grants(session, agency_id)]
    if as_json:
        _echo_json(records)
        return
    for r in records:
        click.echo(
            f"{r['id']}\t{r['state']}\t{r['agency']}\t{','.join(r['tables'])}\t"
            f"{','.join(r['areas'])}\t{','.join(r['channels'])}\t"
            f"{r['valid_from']}..{r['valid_to']}"
        )


# ---------------------------------------------------------------- sanctions


@click.group("violation")
def violation_group() -> None:
    """Violations: same-day notice, suspension, restore, lapse after six months (point 19)."""


@violation_group.command("record")
@click.option("--grant", "grant_id", type=int, required=True)
@click.option("--by", "by", required=True, help="The recording provider official's username.")
@click.option("--description", required=True)
@click.option(
    "--deadline", type=DATE, metavar="YYYY-MM-DD", required=True, help="Deadline to improve."
)
@db_option
def violation_record(
    grant_id: int, by: str, description: str, deadline: datetime, db: str | None
) -> None:
    """Record a violation: notify today, suspend every channel and revoke tokens at once."""
    with _session(db) as session:
        grant = _one(session, Grant, Grant.id, grant_id, "grant")
        v = sanctions.record_violation(
            session, grant, _by(session, by), description, deadline.date(), _now()
        )
        click.echo(
            f"violation {v.id}: grant {grant.id} suspended; notice sent "
            f"{v.noticed_at.date()}, deadline {v.deadline}, lapses from {sanctions.lapse_date(v)}"
        )


@violation_group.command("restore")
@click.argument("violation_id", type=int)
@click.option("--by", "by", required=True, help="The reviewing provider official's username.")
@click.option("--note", required=True, help="The review's finding.")
@db_option
def violation_restore(violation_id: int, by: str, note: str, db: str | None) -> None:
    """Restore linking after review (refused, and the grant lapses, after six months)."""
    with _session(db) as session:
        v = _one(session, Violation, Violation.id, violation_id, "violation")
        sanctions.restore(session, v, _by(session, by), note, _now())
        click.echo(f"violation {v.id} closed; grant {v.grant_id} is {v.grant.state}")


@violation_group.command("lapse-overdue")
@db_option
def violation_lapse(db: str | None) -> None:
    """Lapse grants whose violations are unimproved six months after notice; close terminated."""
    with _session(db) as session:
        lapsed = sanctions.lapse_overdue(session, _now())
        ended = sanctions.close_terminated(session, _now())
        click.echo(f"{len(lapsed)} grant(s) lapsed, {len(ended)} terminated")


@click.command("terminate")
@click.option("--grant", "grant_id", type=int, required=True)
@click.option("--letter", required=True, help="Reference of the written request.")
@click.option(
    "--requested-on", type=DATE, metavar="YYYY-MM-DD", required=True, help="Date of the letter."
)
@click.option(
    "--effective-on",
    type=DATE,
    metavar="YYYY-MM-DD",
    required=True,
    help="Date access ends: at least one month after the letter (point 20).",
)
@db_option
def terminate(
    grant_id: int, letter: str, requested_on: datetime, effective_on: datetime, db: str | None
) -> None:
    """Record a written termination; access ends at the start of the effective date."""
    with _session(db) as session:
        grant = _one(session, Grant, Grant.id, grant_id, "grant")
        sanctions.request_termination(
            session,
            grant,
            letter,
            requested_on.date(),
            effective_on.date(),
            _now(),
            actor=grant.agency.name,
        )
        click.echo(f"grant {grant.id} ends on {effective_on.date()} (Asia/Taipei)")


# ---------------------------------------------------------------- audit


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit log (point 18)."""


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also prove the log unchanged up to this signed checkpoint.",
)
@db_option
def audit_verify(checkpoint: Path | None, db: str | None) -> None:
    """Check the whole chain; exit 1 and say where if any entry was edited, deleted,
    inserted or reordered."""
    with _session(db) as session:
        result = audit.verify(session)
        problems = list(result.problems)
        if checkpoint:
            point = audit.Checkpoint.from_json(checkpoint.read_text(encoding="utf-8"))
            problems += [f"checkpoint: {p}" for p in audit.verify_checkpoint(session, point)]
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        raise SystemExit(1)
    click.echo(
        f"audit log intact: {result.entries} entries, head {result.head_seq} {result.head_hash}"
    )


@audit_group.command("checkpoint")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the signed checkpoint here (default: print it).",
)
@click.option("--agency", help="The agency receiving the checkpoint (recorded).")
@db_option
def audit_checkpoint(out: Path | None, agency: str | None, db: str | None) -> None:
    """Sign the current chain head (HMAC-SHA256 with $POPSTATS_AUDIT_KEY) for an agency."""
    with _session(db) as session:
        agency_id = _agency(session, agency).id if agency else None
        point = audit.checkpoint(session, agency or "provider", _now(), agency_id=agency_id)
    if out:
        out.write_text(point.to_json() + "\n", encoding="utf-8")
        click.echo(f"checkpoint at seq {point.seq} written to {out}")
    else:
        click.echo(point.to_json())


@audit_group.command("report")
@click.option("--agency", required=True)
@click.option(
    "--from",
    "first",
    type=DATE,
    metavar="YYYY-MM-DD",
    required=True,
    help="First day (Asia/Taipei).",
)
@click.option(
    "--to", "last", type=DATE, metavar="YYYY-MM-DD", required=True, help="Last day (Asia/Taipei)."
)
@click.option("--json", "as_json", is_flag=True, help="Every entry as JSON (the agency's own log).")
@db_option
def audit_report(
    agency: str, first: datetime, last: datetime, as_json: bool, db: str | None
) -> None:
    """What an agency obtained in a period, through which channel, by whom."""
    with _session(db) as session:
        report = reports.agency_report(
            session, _agency(session, agency).id, first.date(), last.date()
        )
    if as_json:
        _echo_json(report)
        return
    click.echo(
        f"{agency}: {first.date()} – {last.date()}: {len(report['entries'])} entries, "
        f"{len(report['obtained'])} deliveries"
    )
    for row in report["summary"]:
        click.echo(
            f"  {row['count']:>5}  {row['action']:<28} {row['channel'] or '-':<15} {row['actor']}"
        )


# ---------------------------------------------------------------- deliveries and disputes


@click.group("delivery")
def delivery_group() -> None:
    """Deliveries and their retention: online query 1 day, file/media 7 days (point 17)."""


@delivery_group.command("status")
@click.argument("delivery_id")
@click.option("--user", "username", required=True, help="The agency user asking.")
@db_option
def delivery_status(delivery_id: str, username: str, db: str | None) -> None:
    """Show a delivery's status, attempts, last error and expiry (point 15)."""
    with _session(db) as session:
        d = deliveries.status(session, _user(session, username), delivery_id)
        click.echo(
            f"{d.id}\t{d.status}\t{d.channel}\t{','.join(d.tables)}\t{d.period}\tattempts={d.attempts}\t"
            f"expires={d.expires_at.isoformat() if d.expires_at else '-'}\t{d.last_error or ''}"
        )


def _delivery_options(func: F) -> F:
    for option in reversed(
        [
            click.option("--user", "username", required=True, help="The agency user requesting."),
            click.option(
                "--releases",
                type=click.Path(file_okay=False, path_type=Path),
                default=Path("demo/releases"),
                show_default=True,
            ),
            click.option("--period", required=True),
            click.option(
                "--area", "areas", multiple=True, required=True, help="Granted area code (repeat)."
            ),
            click.option("--format", "fmt", default="csv", show_default=True),
            click.option("--encoding", default="utf-8-sig", show_default=True),
            click.option(
                "--outbox",
                type=click.Path(file_okay=False, path_type=Path),
                default=Path("outbox"),
                show_default=True,
                help="The provider's outbox folder (files are fetched by id only).",
            ),
        ]
    ):
        func = option(func)
    return func


@delivery_group.command("file")
@_delivery_options
@click.option("--table", required=True, type=click.Choice(list(TABLES)))
@db_option
def delivery_file(
    username: str,
    releases: Path,
    period: str,
    areas: tuple[str, ...],
    fmt: str,
    encoding: str,
    outbox: Path,
    table: str,
    db: str | None,
) -> None:
    """File transfer: one table in the agency's outbox, kept 7 days."""
    from access.packages import deliver_file

    with _session(db) as session:
        d = deliver_file(
            session,
            _user(session, username),
            releases,
            period,
            table,
            list(areas),
            fmt,
            encoding,
            outbox,
            _now(),
        )
        click.echo(f"delivery {d.id}: {d.status}" + (f" ({d.last_error})" if d.last_error else ""))


@delivery_group.command("media")
@_delivery_options
@click.option(
    "--table",
    "tables",
    multiple=True,
    required=True,
    type=click.Choice(list(TABLES)),
    help="A table to include (repeat).",
)
@db_option
def delivery_media(
    username: str,
    releases: Path,
    period: str,
    areas: tuple[str, ...],
    fmt: str,
    encoding: str,
    outbox: Path,
    tables: tuple[str, ...],
    db: str | None,
) -> None:
    """Media exchange: an offline package (files, manifest.json, SHA256SUMS, README), 7 days."""
    from access.packages import deliver_media

    with _session(db) as session:
        d = deliver_media(
            session,
            _user(session, username),
            releases,
            period,
            list(tables),
            list(areas),
            fmt,
            encoding,
            outbox,
            _now(),
        )
        click.echo(f"delivery {d.id}: {d.status}" + (f" ({d.last_error})" if d.last_error else ""))


@delivery_group.command("retry")
@db_option
def delivery_retry(db: str | None) -> None:
    """Retry every delivery left pending by a provider-side failure (point 15)."""
    from access.packages import retry

    with _session(db) as session:
        done = retry(session, _now())
        click.echo(f"{len(done)} pending delivery(ies) now ready")


@delivery_group.command("purge")
@db_option
def delivery_purge(db: str | None) -> None:
    """Delete every expired delivery's files and log each deletion."""
    with _session(db) as session:
        purged = deliveries.purge(session, _now())
        for d in purged:
            click.echo(f"purged {d.id} ({d.channel}, expired {d.expires_at}): {d.path or '-'}")
        click.echo(f"{len(purged)} delivery(ies) purged")


@delivery_group.command("extend")
@click.argument("delivery_id")
@click.option("--user", "username", required=True, help="The agency user asking.")
@click.option("--days", type=click.IntRange(1, deliveries.MAX_EXTENSION_DAYS), required=True)
@click.option("--reason", required=True)
@db_option
def delivery_extend(
    delivery_id: str, username: str, days: int, reason: str, db: str | None
) -> None:
    """Request, before expiry, to keep a delivery longer."""
    with _session(db) as session:
        ext = deliveries.request_extension(
            session, _user(session, username), delivery_id, days, reason, _now()
        )
        click.echo(f"extension request {ext.id} filed")


@delivery_group.command("decide-extension")
@click.argument("extension_id", type=int)
@click.option("--by", "by", required=True, help="The deciding provider official.")
@click.option("--approve/--refuse", required=True)
@db_option
def delivery_decide(extension_id: int, by: str, approve: bool, db: str | None) -> None:
    """Approve or refuse an extension request."""
    with _session(db) as session:
        ext = _one(session, Extension, Extension.id, extension_id, "extension request")
        deliveries.decide_extension(session, ext, _by(session, by), approve, _now())
        click.echo(f"extension {ext.id} {'approved' if approve else 'refused'}")


@click.group("dispute")
def dispute_group() -> None:
    """Doubts about received data, within 7 days of receipt (point 16)."""


@dispute_group.command("raise")
@click.argument("delivery_id")
@click.option("--user", "username", required=True, help="The agency user raising it.")
@click.option("--description", required=True)
@db_option
def dispute_raise(delivery_id: str, username: str, description: str, db: str | None) -> None:
    """Raise a doubt about a delivery (refused from day 8 after receipt, Asia/Taipei)."""
    with _session(db) as session:
        d = deliveries.raise_dispute(
            session, _user(session, username), delivery_id, description, _now()
        )
        click.echo(f"dispute {d.id} raised")


@dispute_group.command("resolve")
@click.argument("dispute_id", type=int)
@click.option("--by", "by", required=True, help="The investigating provider staff member.")
@click.option("--resolution", required=True)
@db_option
def dispute_resolve(dispute_id: int, by: str, resolution: str, db: str | None) -> None:
    """Record the resolution of a dispute."""
    with _session(db) as session:
        d = _one(session, Dispute, Dispute.id, dispute_id, "dispute")
        deliveries.resolve_dispute(session, d, _by(session, by), resolution, _now())
        click.echo(f"dispute {d.id} resolved")
