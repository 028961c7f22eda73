"""``popstats maintain``: the scheduled upkeep of deliveries and grants (points 15, 17, 19, 20)."""

from __future__ import annotations

import getpass
import os
from datetime import datetime
from pathlib import Path

import click

from access import checkpoints, maintenance, signing
from access.db import make_engine, session_factory, upgrade_engine
from access.run_lock import single_run
from popstats.access_cli.common import _now, db_option
from popstats.store_option import OutboxPlace, ReleasesPlace
from stats.locations import LocationError, resolve_locations, store_place
from stats.taipei import TimeInputError, format_time, parse_moment


class AwareTime(click.ParamType):
    """A typed moment, read as every ``--at`` is (stats.taipei.parse_moment): Taipei time
    unless it names a zone, ISO or ROC forms, or ``+8d``/``+2h``/``+30m`` from now."""

    name = "TIME"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        """Parse ``value``; refuse what is not a time, saying which forms are."""
        if isinstance(value, datetime):
            return value
        try:
            return parse_moment(str(value), _now())
        except TimeInputError as exc:
            self.fail(str(exc), param, ctx)


def _checkpoint_keys(sign_key: Path | None) -> tuple[object | None, bytes | None]:
    """The Ed25519 key given, else the HMAC secret of the environment, else neither."""
    if sign_key is not None:
        try:
            return signing.load_private_key(sign_key.read_bytes()), None
        except signing.SigningError as error:
            raise click.BadParameter(f"{sign_key}: {error}", param_hint="--sign-key") from error
    secret = os.environ.get(checkpoints.KEY_ENV)
    return None, secret.encode("utf-8") if secret else None


def _os_user() -> str | None:
    """Who started the run, for the audit record (none in some containers)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _echo_report(report: maintenance.MaintenanceReport) -> None:
    """One line per step (count, then ids), the failures, and a closing summary."""
    verb = "would act on" if report.dry_run else "done"
    # a person reads it: Taipei time, both ways (as publish says its times)
    zh, en = (format_time(report.at, lang, seconds=True) for lang in ("zh", "en"))
    at = f"{zh} ({en})"
    click.echo(f"maintenance at {at}" + (" (dry run)" if report.dry_run else ""))
    summaries = {step.name: step.summary for step in maintenance.STEPS}
    summaries["staff"] = "delete provider staff's own export files past their day"
    summaries["checkpoint"] = "verify the audit log and keep a checkpoint of its head"
    for step in report.steps:
        click.echo(f"{step.name}: {summaries.get(step.name, '')}")
        if step.error is not None:
            click.echo(f"  FAILED (rolled back): {step.error}", err=True)
            continue
        ids = f" — {', '.join(step.done)}" if step.done else ""
        click.echo(f"  {verb}: {len(step.done)}{ids}")
        if step.left and step.left_is_failure:
            click.echo(f"  NOT DONE (logged; retried next run): {len(step.left)} — "
                       f"{', '.join(step.left)}", err=True)
        elif step.left:
            click.echo(f"  still pending: {len(step.left)} — {', '.join(step.left)}")
    failed = report.failures()
    if failed:
        click.echo(f"{len(failed)} step(s) failed: {', '.join(failed)}", err=True)


@click.command("maintain")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Only list what each step would act on; change nothing, record nothing.",
)
@click.option(
    "--at",
    "at",
    type=AwareTime(),
    default=None,
    help="Run as if it were this moment: Taipei time unless a zone is given (ISO, ROC "
    "115/12/10 16:00, or +8d from now); default: now.",
)
@click.option(
    "--outbox",
    type=OutboxPlace(),
    envvar="POPSTATS_OUTBOX",
    default=None,
    help="The server's outbox: also delete provider staff's own export files past their day, "
    "and place deliveries an earlier version recorded with relative paths.",
)
@click.option(
    "--releases",
    type=ReleasesPlace(),
    envvar="POPSTATS_RELEASES",
    default=None,
    help="The releases folder (or s3://bucket/prefix), for pending deliveries an earlier "
    "version recorded relative.",
)
@click.option(
    "--sign-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="POPSTATS_AUDIT_SIGN_KEY",
    default=None,
    help="The provider's Ed25519 private key (audit keygen) to sign the run's audit "
    "checkpoint; else HMAC with $POPSTATS_AUDIT_KEY if set; else the head is kept unsigned.",
)
@db_option
def maintain(dry_run: bool, at: datetime | None, outbox: Path | None, releases: Path | None,
             sign_key: Path | None, db: str | None) -> None:
    """Scheduled upkeep of deliveries and grants, for cron or a systemd timer.

    \b
    In order, each step in its own transaction:
      retry  pending file and media deliveries (point 15)
      purge  expired deliveries: files deleted, each deletion logged (point 17)
      lapse  grants whose violation went unimproved six months (point 19)
      close  grants whose termination date has come (point 20)
      staff  with --outbox: staff's own export files past their day
      checkpoint  verify the audit log and keep a checkpoint of its head (point 18),
             signed with --sign-key or $POPSTATS_AUDIT_KEY; a broken log fails the run

    Every path (--outbox, --releases, an SQLite --db) is made absolute once, at start, so
    the run deletes the same files from whatever folder cron starts it in. A delivery is
    reported purged only once its files are verified gone; one that is not is logged, the
    exit status is 1, and the next run tries again.

    Prints each step's count and ids. A failing step is rolled back and reported, the
    others still run, and the exit status is 1. Running it again changes nothing. The run
    is audited as maintenance.run with its counts (a dry run is not).

    \b
    Example crontab line: hourly, so files are deleted within the hour after expiry
    and a repaired fault is retried within the hour:
      17 * * * *  popstats maintain --db postgresql+psycopg://popstats@db/popstats
    """
    try:  # once, here: every later step names these absolute places
        places = maintenance.Places(
            outbox=store_place(outbox) if outbox else None,  # may be s3://bucket/prefix
            releases=store_place(releases) if releases else None,  # may be s3://bucket/prefix
        )
        db_url = resolve_locations(db=db).db_url
    except LocationError as error:
        raise click.BadParameter(str(error)) from error
    steps = maintenance.steps(places)
    if places.outbox is not None:
        steps += (maintenance.staff_files_step(places.outbox),)
    steps += (maintenance.checkpoint_step(*_checkpoint_keys(sign_key)),)
    engine = make_engine(db_url)
    try:
        upgrade_engine(engine)
        with single_run(engine, "popstats maintain") as mine:
            if not mine and not dry_run:  # several hosts may schedule it: one run works
                click.echo("another popstats maintain run holds the lock on this database: "
                           "this run did nothing", err=True)
                return
            report = maintenance.run(
                session_factory(engine),
                (lambda: at) if at is not None else _now,
                dry_run=dry_run,
                steps=steps,
                invoked_by=_os_user(),
            )
    finally:
        engine.dispose()
    _echo_report(report)
    if not report.ok:
        raise SystemExit(1)
