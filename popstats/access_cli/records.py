"""Commands for deliveries and disputes (points 15-17)."""

from __future__ import annotations

from pathlib import Path

import click

from access import deliveries
from access.models import (
    Dispute,
    Extension,
)
from popstats.access_cli.common import (
    F,
    _by,
    _now,
    _one,
    _session,
    _user,
    db_option,
)
from popstats.store_option import OutboxPlace, ReleasesPlace
from stats.catalogue import TABLES

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
                type=ReleasesPlace(),
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
                type=OutboxPlace(),
                envvar="POPSTATS_OUTBOX",
                default=Path("outbox"),
                show_default=True,
                help="The provider's outbox folder, or s3://bucket/prefix (files are fetched "
                "by id only).",
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
