"""Commands for the hash-chained audit log (point 18): verify, signed checkpoints, reports."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.orm import Session

from access import audit, checkpoints, reports, signing
from access import audit_report as audit_report_module
from exports.delimited import safe_csv_bytes
from stats.periods import Period, PeriodError
from popstats.access_cli.common import (
    DATE,
    _agency,
    _echo_json,
    _now,
    _session,
    db_option,
)

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


def _read_checkpoint(path: Path) -> checkpoints.Checkpoint | signing.SignedCheckpoint:
    try:
        return checkpoints.read_checkpoint(path.read_text(encoding="utf-8"))
    except checkpoints.CheckpointError as exc:
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
    inserted or reordered, or if the log no longer holds the head of the latest checkpoint
    kept beside it (cut short or emptied since; every checkpoint and maintain run keeps one).

    With --checkpoint, also check that the log still holds the checkpoint's head: an
    ed25519 checkpoint is verified with --public-key alone, an hmac-sha256 one with
    $POPSTATS_AUDIT_KEY.
    """
    point = _read_checkpoint(checkpoint) if checkpoint else None
    if public_key and point is None:
        raise click.UsageError("--public-key verifies a --checkpoint; give one")
    if isinstance(point, signing.SignedCheckpoint) and public_key is None:
        raise click.UsageError("this checkpoint is ed25519-signed; give --public-key PEM")
    if isinstance(point, checkpoints.Checkpoint) and public_key is not None:
        raise click.UsageError(
            f"this checkpoint is {point.form}: it is verified with ${checkpoints.KEY_ENV}, "
            "not a public key"
        )
    with _session(db) as session:
        result = checkpoints.verify_log(session)  # the chain, and the latest kept checkpoint
        problems = list(result.problems)
        if isinstance(point, signing.SignedCheckpoint):
            assert public_key is not None
            key = _read_key(public_key, signing.load_public_key)
            checked = checkpoints.verify_signed_checkpoint(session, point, key)
            problems += [f"checkpoint: {p}" for p in checked]
        elif point is not None:
            problems += [f"checkpoint: {p}" for p in checkpoints.verify_checkpoint(session, point)]
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
        point: checkpoints.Checkpoint | signing.SignedCheckpoint
        try:
            if key is None:
                point = checkpoints.checkpoint(session, agency or "provider", _now(),
                                               agency_id=agency_id)
            else:
                point = checkpoints.signed_checkpoint(
                    session, agency or "provider", _now(), key, agency, agency_id
                )
        except checkpoints.CheckpointError as exc:
            raise click.ClickException(str(exc)) from exc
    if out:
        out.write_text(point.to_json() + "\n", encoding="utf-8")
        click.echo(f"checkpoint ({point.form}) at seq {point.seq} written to {out}")
    else:
        click.echo(point.to_json())


@audit_group.command("report")
@click.option("--agency", help="One agency (default with --out: every agency with entries).")
@click.option("--period", help="A month, quarter or year (2025-03, 2025-Q1, 2025), in place of "
              "--from/--to.")
@click.option("--from", "first", type=DATE, metavar="YYYY-MM-DD", help="First day (Asia/Taipei).")
@click.option("--to", "last", type=DATE, metavar="YYYY-MM-DD", help="Last day (Asia/Taipei).")
@click.option("--json", "as_json", is_flag=True, help="Every entry as JSON (the agency's own log).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the periodic audit report (point 18) to FILE.html or FILE.csv.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the --out report.")
@db_option
def audit_report(agency: str | None, period: str | None, first: datetime | None,
                 last: datetime | None, as_json: bool, out: Path | None, lang: str,
                 db: str | None) -> None:
    """What agencies obtained in a period, through which channel, by whom; with --out the
    periodic audit report an auditor keeps (per agency: queries, downloads, deliveries,
    refusals, sanctions; the log's verification and head)."""
    span = _report_span(period, first, last)
    if out is None and agency is None:
        raise click.UsageError("give --agency, or --out FILE for the report on every agency")
    with _session(db) as session:
        agency_id = _agency(session, agency).id if agency else None
        if out is not None:
            _write_periodic_report(session, span, agency_id, out, lang)
            return
        report = reports.agency_report(session, agency_id, *span)
    if as_json:
        _echo_json(report)
        return
    click.echo(
        f"{agency}: {span[0]} – {span[1]}: {len(report['entries'])} entries, "
        f"{len(report['obtained'])} deliveries"
    )
    for row in report["summary"]:
        click.echo(
            f"  {row['count']:>5}  {row['action']:<28} {row['channel'] or '-':<15} {row['actor']}"
        )


def _report_span(period: str | None, first: datetime | None,
                 last: datetime | None) -> tuple[date, date]:
    if period is not None:
        if first or last:
            raise click.UsageError("give --period or --from/--to, not both")
        try:
            parsed = Period.parse(period)
        except PeriodError as exc:
            raise click.BadParameter(str(exc), param_hint="--period") from exc
        return parsed.first_day, parsed.reference_date
    if first is None or last is None:
        raise click.UsageError("give --period, or both --from and --to")
    if last < first:
        raise click.BadParameter(f"--to {last.date()} is before --from {first.date()}")
    return first.date(), last.date()


def _write_periodic_report(session: Session, span: tuple[date, date], agency_id: int | None,
                           out: Path, lang: str) -> None:
    suffix = out.suffix.lower()
    if suffix not in (".html", ".csv"):
        raise click.BadParameter(f"{out}: the report is written as .html or .csv",
                                 param_hint="--out")
    report = audit_report_module.periodic_report(
        session, *span, _now(), None if agency_id is None else [agency_id])
    if suffix == ".html":
        content = audit_report_module.render_html(report, lang).encode("utf-8")
    else:  # with a BOM, so that Excel opens the Chinese headers as UTF-8
        content = safe_csv_bytes(audit_report_module.report_frame(report, lang),
                                 encoding="utf-8-sig")
    partial = out.with_name(f".{out.name}.partial")
    partial.write_bytes(content)
    partial.replace(out)  # a reader never sees half a report
    audit.record(session, "provider", "audit.report", f"audit:{span[0]}..{span[1]}", _now(),
                 {"file": out.name, "agencies": len(report.rows), "log_ok": report.log_ok})
    click.echo(f"audit report {span[0]} – {span[1]}: {len(report.rows)} agencies, log "
               f"{'intact' if report.log_ok else 'DOES NOT VERIFY'}; written to {out}")
    if not report.log_ok:
        for problem in report.log_problems:
            click.echo(problem, err=True)
