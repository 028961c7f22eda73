"""Commands for the audit log, deliveries and disputes (points 15-18)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import click

from access import audit, deliveries, reports, signing
from access.models import (
    Dispute,
    Extension,
)
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
    db_option,
)
from stats.catalogue import TABLES

T = TypeVar("T")


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit log (point 18)."""


PRIVATE_KEY_FILE = "audit-signing.key"
PUBLIC_KEY_FILE = "audit-signing.pub"
PEM = click.Path(exists=True, dir_okay=False, path_type=Path)


def _write_new(path: Path, content: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start (never readable by others, not even
    briefly) and refuse to overwrite: replacing a signing key orphans every checkpoint."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), mode)  # the umask may have removed bits; set exactly
        handle.write(content)


def _read_key(path: Path, load: Callable[[bytes], T]) -> T:
    try:
        return load(path.read_bytes())
    except signing.SigningError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc


@audit_group.command("keygen")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the key pair (created if missing).",
)
def audit_keygen(out: Path) -> None:
    """Make an Ed25519 key pair for checkpoints agencies can verify themselves.

    \b
    Writes, refusing to overwrite existing files:
      audit-signing.key  the private key (PEM, mode 0600): keep it on the provider's side
      audit-signing.pub  the public key (PEM): give it to every agency
    """
    private, public = out / PRIVATE_KEY_FILE, out / PUBLIC_KEY_FILE
    if existing := [str(p) for p in (private, public) if p.exists()]:
        raise click.ClickException(f"{', '.join(existing)} already exist(s); not overwritten")
    out.mkdir(parents=True, exist_ok=True)
    key = signing.generate_key()
    _write_new(private, signing.private_pem(key), 0o600)
    _write_new(public, signing.public_pem(key.public_key()), 0o644)
    click.echo(f"private key: {private} (mode 0600; keep it secret)")
    click.echo(f"public key:  {public} (give it to the agencies)")
    click.echo(f"key id:      {signing.key_id(key.public_key())}")


def _read_checkpoint(path: Path) -> audit.Checkpoint | signing.SignedCheckpoint:
    try:
        return audit.read_checkpoint(path.read_text(encoding="utf-8"))
    except audit.CheckpointError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also prove the log unchanged up to this checkpoint (either form).",
)
@click.option(
    "--public-key",
    type=PEM,
    help="The provider's public key (PEM), for an ed25519 checkpoint: no secret needed.",
)
@db_option
def audit_verify(checkpoint: Path | None, public_key: Path | None, db: str | None) -> None:
    """Check the whole chain; exit 1 and say where if any entry was edited, deleted,
    inserted or reordered.

    With --checkpoint, also check that the log still holds the checkpoint's head: an
    ed25519 checkpoint is verified with --public-key alone, an hmac-sha256 one with
    $POPSTATS_AUDIT_KEY.
    """
    point = _read_checkpoint(checkpoint) if checkpoint else None
    if public_key and point is None:
        raise click.UsageError("--public-key verifies a --checkpoint; give one")
    if isinstance(point, signing.SignedCheckpoint) and public_key is None:
        raise click.UsageError("this checkpoint is ed25519-signed; give --public-key PEM")
    if isinstance(point, audit.Checkpoint) and public_key is not None:
        raise click.UsageError(
            f"this checkpoint is {point.form}: it is verified with ${audit.KEY_ENV}, "
            "not a public key"
        )
    with _session(db) as session:
        result = audit.verify(session)
        problems = list(result.problems)
        if isinstance(point, signing.SignedCheckpoint):
            assert public_key is not None
            key = _read_key(public_key, signing.load_public_key)
            checked = audit.verify_signed_checkpoint(session, point, key)
            problems += [f"checkpoint: {p}" for p in checked]
        elif point is not None:
            problems += [f"checkpoint: {p}" for p in audit.verify_checkpoint(session, point)]
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        raise SystemExit(1)
    if point is not None:
        click.echo(
            f"checkpoint ({point.form}) valid: the log still holds seq {point.seq} {point.hash}"
        )
    click.echo(
        f"audit log intact: {result.entries} entries, head {result.head_seq} {result.head_hash}"
    )


@audit_group.command("checkpoint")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the checkpoint here (default: print it).",
)
@click.option("--agency", help="The agency receiving the checkpoint (recorded, and signed).")
@click.option(
    "--sign-key",
    type=PEM,
    help="Sign with this Ed25519 private key (from 'audit keygen'), so agencies verify with "
    "the public key; default: HMAC-SHA256 with $POPSTATS_AUDIT_KEY.",
)
@db_option
def audit_checkpoint(
    out: Path | None, agency: str | None, sign_key: Path | None, db: str | None
) -> None:
    """Sign the current chain head for an agency to keep and later verify against the log."""
    key = _read_key(sign_key, signing.load_private_key) if sign_key else None
    with _session(db) as session:
        agency_id = _agency(session, agency).id if agency else None
        point: audit.Checkpoint | signing.SignedCheckpoint
        if key is None:
            point = audit.checkpoint(session, agency or "provider", _now(), agency_id=agency_id)
        else:
            try:
                point = audit.signed_checkpoint(
                    session, agency or "provider", _now(), key, agency, agency_id
                )
            except audit.CheckpointError as exc:
                raise click.ClickException(str(exc)) from exc
    if out:
        out.write_text(point.to_json() + "\n", encoding="utf-8")
        click.echo(f"checkpoint ({point.form}) at seq {point.seq} written to {out}")
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
