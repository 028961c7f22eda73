"""Commands for applications, grants, violations and terminations (points 10-13, 19, 20)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import select

from access import accounts, grants, sanctions
from access.calendar import local_date
from access.models import (
    CHANNELS,
    Application,
    Grant,
    Provider,
    Violation,
)
from popstats.access_cli.common import (
    DATE,
    _agency,
    _by,
    _date,
    _echo_json,
    _grant_record,
    _now,
    _one,
    _rules_file,
    _session,
    by_option,
    db_option,
)
from stats.catalogue import TABLES
from stats.taipei import format_time


@click.group("application")
def application_group() -> None:
    """Applications for linking (points 10, 11, 13)."""


@application_group.command("submit")
@click.option(
    "--agency", help="The applying agency's name (default: the --by user's agency; must match)."
)
@click.option(
    "--provider",
    default=None,
    help="The provider applied to: MOI for national or cross-county data, the county code for "
    "one county's data (point 6). Default: the one point 6 names for the areas.",
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
@click.option("--purpose", required=True, help="The purpose of use (point 13(1)), real text.")
@click.option(
    "--legal-basis", required=True, help="The legal basis of the use, e.g. the act and article."
)
@click.option(
    "--rules",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="JSON object: the management rules, one text per point 13 item: "
    + ", ".join(grants.RULE_ITEMS)
    + ".",
)
@click.option("--valid-from", type=DATE, metavar="YYYY-MM-DD", help="First day applied for.")
@click.option("--valid-to", type=DATE, metavar="YYYY-MM-DD", help="Last day applied for.")
@by_option("The applying agency user's username.")
@db_option
def application_submit(
    agency: str | None,
    provider: str | None,
    tables: tuple[str, ...],
    areas: tuple[str, ...],
    channels: tuple[str, ...],
    purpose: str,
    legal_basis: str,
    rules: Path,
    valid_from: datetime | None,
    valid_to: datetime | None,
    by: str,
    db: str | None,
) -> None:
    """File an application; say which point 13 items its rules still miss."""
    document = _rules_file(rules)
    with _session(db) as session:
        accounts.ensure_standard_providers(session)
        applicant = _by(session, by)
        target = _agency(session, agency) if agency else applicant.agency
        if target is None:
            raise click.ClickException(f"{by!r} is not an agency user; agencies apply")
        code = provider or grants.provider_code_for(areas)
        app = grants.submit(
            session,
            target,
            _one(session, Provider, Provider.code, code, "provider"),
            tables,
            areas,
            channels,
            purpose,
            document,
            _now(),
            legal_basis=legal_basis,
            by=applicant,
            requested_from=_date(valid_from),
            requested_to=_date(valid_to),
        )
        missing = grants.missing_rule_items(app.rules)
        click.echo(
            f"application {app.id} submitted to {app.provider.name}"
            + (f"; incomplete, rules miss: {', '.join(missing)}" if missing else "")
        )


@application_group.command("review")
@click.argument("application_id", type=int)
@by_option("The reviewing provider official's username.")
@click.option("--decision", type=click.Choice(["approve", "reject", "return"]), required=True)
@click.option(
    "--valid-from", type=DATE, metavar="YYYY-MM-DD", help="approve: first day of the grant."
)
@click.option("--valid-to", type=DATE, metavar="YYYY-MM-DD", help="approve: last day of the grant.")
@click.option(
    "--table",
    "tables",
    multiple=True,
    type=click.Choice(list(TABLES)),
    help="approve: grant only these of the tables applied for (repeat; default all).",
)
@click.option(
    "--area",
    "areas",
    multiple=True,
    help="approve: grant only these areas, inside those applied for (repeat; default all).",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    type=click.Choice(CHANNELS),
    help="approve: grant only these of the channels applied for (repeat; default all).",
)
@click.option(
    "--reason", default="", help="reject (required) / return / approve a narrower scope: why."
)
@db_option
def application_review(
    application_id: int,
    by: str,
    decision: str,
    valid_from: datetime | None,
    valid_to: datetime | None,
    tables: tuple[str, ...],
    areas: tuple[str, ...],
    channels: tuple[str, ...],
    reason: str,
    db: str | None,
) -> None:
    """Approve (all or a narrower scope, creating the grant), reject with a reason, or return
    for completion."""
    with _session(db) as session:
        app = _one(session, Application, Application.id, application_id, "application")
        reviewer = _by(session, by)
        if decision == "approve":
            first = _date(valid_from) or app.requested_from
            last = _date(valid_to) or app.requested_to
            if not first or not last:
                raise click.UsageError("approve needs --valid-from and --valid-to")
            grant = grants.approve(
                session, app, reviewer, first, last, _now(),
                tables=tables or None, areas=areas or None, channels=channels or None,
                reason=reason,
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
@click.option("--purpose", help="A completed purpose of use.")
@click.option("--legal-basis", help="A completed legal basis.")
@by_option("The applying agency user's username.")
@db_option
def application_resubmit(
    application_id: int,
    rules: Path | None,
    purpose: str | None,
    legal_basis: str | None,
    by: str,
    db: str | None,
) -> None:
    """Submit a returned application again, completed."""
    document = _rules_file(rules) if rules else None
    with _session(db) as session:
        app = _one(session, Application, Application.id, application_id, "application")
        grants.resubmit(
            session, app, _now(), by=_by(session, by), rules=document, purpose=purpose,
            legal_basis=legal_basis,
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
            f"{local_date(v.noticed_at)}, deadline {v.deadline}; unimproved, it lapses at "
            f"{format_time(sanctions.lapse_at(v), 'en')} (point 19)"
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
@click.option("--letter", required=True, help="Reference of the agency's written notice (函).")
@click.option(
    "--requested-on",
    type=DATE,
    metavar="YYYY-MM-DD",
    help="Date of the letter, if before today (never before the grant); default today.",
)
@click.option(
    "--effective-on",
    type=DATE,
    metavar="YYYY-MM-DD",
    required=True,
    help="Date access ends: at least one month after the notice and after today (point 20).",
)
@by_option("The recording provider official's username (jurisdiction enclosing the grant).")
@db_option
def terminate(
    grant_id: int,
    letter: str,
    requested_on: datetime | None,
    effective_on: datetime,
    by: str,
    db: str | None,
) -> None:
    """Record a written termination; access ends at the start of the effective date."""
    with _session(db) as session:
        official = _by(session, by)  # the acting account first: who asks is always checked
        grant = _one(session, Grant, Grant.id, grant_id, "grant")
        sanctions.request_termination(
            session,
            grant,
            letter,
            _date(requested_on),
            effective_on.date(),
            _now(),
            by=official,
        )
        click.echo(f"grant {grant.id} ends on {effective_on.date()} (Asia/Taipei)")
