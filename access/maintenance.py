"""The scheduled upkeep the regulation's deadlines need, run in one go (``popstats maintain``).

Four steps, each in its own transaction so one failing step does not undo the others:

1. ``retry``  — re-produce file-transfer and media deliveries left pending by a
   provider-side fault (point 15). Online-query answers are not retried: their content
   was never stored, and point 15 has the agency resend the query after the repair.
2. ``purge``  — delete the files of expired deliveries, logging each deletion (point 17);
   a delivery is "purged" only once its files are verified absent, otherwise the failure is
   logged, the run fails (non-zero exit) and the next run tries again. A delivery with a
   timely extension request awaiting a decision is kept.
3. ``lapse``  — lapse grants whose violation went unimproved six months (point 19).
4. ``close``  — mark grants whose termination date has come as terminated (point 20).
5. ``staff``  — with an outbox given: delete provider staff's own export files past their
   day (``access.staff_files``).
6. ``checkpoint`` — verify the audit chain and keep a checkpoint of its head (point 18:
   the periodic audit), signed with the provider's Ed25519 key or HMAC secret when one is
   configured; a chain that does not verify is never certified: the step fails, the
   problems are logged as ``audit.verify_failed`` and the run exits non-zero (an alert for
   cron's mail).

Paths are absolute (``stats.locations``); rows an earlier version recorded with relative
paths are placed under the outbox (and releases) given to the run, and refused, with the
reason, when none is given.

Every step acts only on rows that are still due, so a second run changes nothing. A dry
run reads what each step would act on and writes nothing (not even the audit record).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from access import audit, checkpoints, deliveries, notify, packages, sanctions, staff_files
from access.calendar import local_date
from access.models import Delivery, Grant, Violation
from stats.locations import is_object_store
from stats.store import Place


@dataclass(frozen=True)
class Step:
    """One upkeep step: what is due now (read only) and how to do it (returns the ids done
    and the ids still left, e.g. deliveries that stayed pending)."""

    name: str
    summary: str
    due: Callable[[Session, datetime], list[str]]
    apply: Callable[[Session, datetime], tuple[list[str], list[str]]]
    left_is_failure: bool = False  # what it left undone is a failure (purge), not a wait


@dataclass(frozen=True)
class Places:
    """Where the run was told the outbox and releases are (absolute; None: not given)."""

    outbox: Place | None = None  # a folder or s3://bucket/prefix (stats.outbox)
    releases: Path | None = None


@dataclass(frozen=True)
class StepOutcome:
    """What one step did (dry run: would do); ``error`` when it failed and was rolled back."""

    name: str
    done: tuple[str, ...] = ()
    left: tuple[str, ...] = ()
    error: str | None = None
    left_is_failure: bool = False


@dataclass(frozen=True)
class MaintenanceReport:
    """The outcome of one run: the moment used, whether it was a dry run, each step."""

    at: datetime
    dry_run: bool
    steps: tuple[StepOutcome, ...]

    @property
    def ok(self) -> bool:
        """Whether every step succeeded (a purge that left files behind did not)."""
        return not self.failures()

    def counts(self) -> dict[str, int]:
        """Objects acted on per step, and per step the ones left (``retry_left``)."""
        counts = {step.name: len(step.done) for step in self.steps}
        counts |= {f"{step.name}_left": len(step.left) for step in self.steps if step.left}
        return counts

    def failures(self) -> dict[str, str]:
        """The error of each failed step, and what a step whose leftovers are failures left."""
        failed = {step.name: step.error for step in self.steps if step.error is not None}
        failed |= {step.name: f"{len(step.left)} not done (see the audit log): "
                   f"{', '.join(step.left)}"
                   for step in self.steps
                   if step.error is None and step.left_is_failure and step.left}
        return failed


# ---------------------------------------------------------------- what is due


def _delivery_ids(items: Sequence[Delivery]) -> list[str]:
    return [f"delivery:{d.id}" for d in items]


def _grant_ids(items: Sequence[Grant]) -> list[str]:
    return [f"grant:{g.id}" for g in items]


def _violation_ids(items: Sequence[Violation]) -> list[str]:
    return [f"grant:{v.grant_id} (violation {v.id})" for v in items]


def _overdue(session: Session, now: datetime) -> list[Violation]:
    # the same rows sanctions.lapse_overdue selects: open six months after the Taipei notice day
    open_violations = session.scalars(
        select(Violation)
        .where(Violation.restored_at.is_(None), Violation.lapsed_at.is_(None))
        .order_by(Violation.id)
    )
    return [v for v in open_violations if local_date(now) >= sanctions.lapse_date(v)]


def _ending(session: Session, now: datetime) -> list[Grant]:
    # the same rows sanctions.close_terminated selects
    return list(
        session.scalars(
            select(Grant)
            .where(Grant.ends_at.is_not(None), Grant.ends_at <= now, Grant.state != "terminated")
            .order_by(Grant.id)
        )
    )


# ---------------------------------------------------------------- doing it


def _placed(delivery: Delivery, places: Places) -> str | None:
    """Make a pending delivery's stored request name absolute places (None), or say why it
    cannot be: an earlier version recorded a relative outbox or releases folder, and this
    run was not told where that is (then producing it would write to the wrong place)."""
    options = dict(delivery.options)
    for key, given in (("outbox", places.outbox), ("releases", places.releases)):
        recorded = options.get(key)
        if recorded is None or is_object_store(recorded) or Path(recorded).is_absolute():
            continue
        if given is None:
            return (f"its request names the relative {key} folder {recorded!r}; run "
                    f"popstats maintain --{key} DIR to say where that is")
        options[key] = str(given)
    if options != delivery.options:
        delivery.options = options
    return None


def _retry(places: Places) -> Callable[[Session, datetime], tuple[list[str], list[str]]]:
    def retry(session: Session, now: datetime) -> tuple[list[str], list[str]]:
        """Produce each pending delivery once more; a still-failing one stays pending,
        logged."""
        build = packages.producer(now)
        pending = deliveries.pending_deliveries(session)
        ready = []
        for delivery in pending:
            if (problem := _placed(delivery, places)) is not None:
                delivery.last_error = problem
                audit.record(session, "system", "delivery.failed", f"delivery:{delivery.id}",
                             now, {"channel": delivery.channel, "error": problem},
                             agency_id=delivery.agency_id)
            elif deliveries.produce(session, delivery, build, now):
                ready.append(delivery)
        return _delivery_ids(ready), _delivery_ids([d for d in pending if d not in ready])

    return retry


def _purge(places: Places) -> Callable[[Session, datetime], tuple[list[str], list[str]]]:
    def purge(session: Session, now: datetime) -> tuple[list[str], list[str]]:
        due = deliveries.expired_deliveries(session, now)
        purged = deliveries.purge(session, now, outbox=places.outbox)
        return _delivery_ids(purged), _delivery_ids([d for d in due if d not in purged])

    return purge


def _lapse(session: Session, now: datetime) -> tuple[list[str], list[str]]:
    return _violation_ids(sanctions.lapse_overdue(session, now)), []


def _close(session: Session, now: datetime) -> tuple[list[str], list[str]]:
    return _grant_ids(sorted(sanctions.close_terminated(session, now), key=lambda g: g.id)), []


def steps(places: Places = Places()) -> tuple[Step, ...]:  # noqa: B008 - frozen, empty
    """The four steps, with the places the run was given."""
    return (
        Step(
            "retry",
            "retry pending file and media deliveries (point 15)",
            lambda s, now: _delivery_ids(deliveries.pending_deliveries(s)),
            _retry(places),
        ),
        Step(
            "purge",
            "delete expired deliveries' files, logging each (point 17)",
            lambda s, now: _delivery_ids(deliveries.expired_deliveries(s, now)),
            _purge(places),
            left_is_failure=True,
        ),
        Step(
            "lapse",
            "lapse grants whose violation went unimproved six months (point 19)",
            lambda s, now: _violation_ids(_overdue(s, now)),
            _lapse,
        ),
        Step(
            "close",
            "close grants whose termination date has come (point 20)",
            lambda s, now: _grant_ids(_ending(s, now)),
            _close,
        ),
    )


STEPS: tuple[Step, ...] = steps()


def staff_files_step(outbox: Place) -> Step:
    """The step deleting provider staff's expired export files under ``outbox``."""
    return Step(
        "staff",
        "delete provider staff's own export files past their day",
        lambda s, now: [f"staff_file:{i}" for i in staff_files.expired_staff_files(outbox, now)],
        lambda s, now: _purge_staff(s, outbox, now),
        left_is_failure=True,
    )


def _purge_staff(session: Session, outbox: Place, now: datetime) -> tuple[list[str], list[str]]:
    """Staff files deleted, and those still present afterwards (logged; a failure)."""
    done = staff_files.purge_staff_files(session, outbox, now)
    left = [i for i in staff_files.expired_staff_files(outbox, now) if i not in done]
    return [f"staff_file:{i}" for i in done], [f"staff_file:{i}" for i in left]


def checkpoint_step(sign_key: Ed25519PrivateKey | None = None,
                    hmac_key: bytes | None = None) -> Step:
    """The step keeping a checkpoint of the verified chain's head (signed if it can be)."""

    def apply(session: Session, now: datetime) -> tuple[list[str], list[str]]:
        try:
            if sign_key is not None:
                seq = checkpoints.signed_checkpoint(session, "maintenance", now, sign_key).seq
            elif hmac_key is not None:
                seq = checkpoints.checkpoint(session, "maintenance", now, hmac_key).seq
            else:
                seq = checkpoints.unsigned_checkpoint(session, "maintenance", now)["seq"]
        except checkpoints.CheckpointError as error:
            session.rollback()
            problems = checkpoints.verify_log(session).problems or [str(error)]
            audit.record(session, "system", "audit.verify_failed", "audit:chain", now,
                         {"problems": problems})
            return [], ["audit:chain (does not verify; see audit.verify_failed)"]
        return [f"audit:{seq}"], []

    return Step("checkpoint", "verify the audit log and keep a checkpoint of its head "
                "(point 18)", lambda s, now: ["audit:head"], apply, left_is_failure=True)


def _run_step(
    make_session: Callable[[], Session], step: Step, now: datetime, dry_run: bool
) -> StepOutcome:
    """One step in its own transaction; any failure is rolled back and reported, not raised,
    so the remaining steps still run."""
    with make_session() as session:
        try:
            if dry_run:
                outcome = StepOutcome(step.name, tuple(step.due(session, now)))
                session.rollback()
                return outcome
            done, left = step.apply(session, now)
            session.commit()
            return StepOutcome(step.name, tuple(done), tuple(left), None, step.left_is_failure)
        except Exception as exc:  # noqa: BLE001 - reported per step; the others must still run
            session.rollback()
            return StepOutcome(step.name, error=f"{type(exc).__name__}: {exc}")


def run(
    make_session: Callable[[], Session],
    clock: Callable[[], datetime],
    dry_run: bool = False,
    steps: Sequence[Step] = STEPS,
    invoked_by: str | None = None,
) -> MaintenanceReport:
    """Run every step at one moment and audit the run as ``maintenance.run``.

    Parameters
    ----------
    make_session : makes a new session (each step gets its own transaction).
    clock : read once, so every step sees the same moment (``--at`` in tests).
    dry_run : only list what each step would act on; nothing is written or audited.
    invoked_by : who started the run (an operating-system user), kept in the audit record.

    Returns
    -------
    MaintenanceReport
        Ids done and left per step, and the error of each failed step.
    """
    now = clock()
    report = MaintenanceReport(
        now, dry_run, tuple(_run_step(make_session, step, now, dry_run) for step in steps)
    )
    if not dry_run:
        ready = [i.removeprefix("delivery:") for s in report.steps if s.name == "retry"
                 for i in s.done]
        if ready:  # point 15: the agency is told (its log; the webhook if configured)
            with make_session() as session:
                notify.announce_ready(session, ready, now)
                session.commit()
        with make_session() as session:
            audit.record(
                session,
                "system",
                "maintenance.run",
                "maintenance",
                now,
                {"counts": report.counts(), "failed": report.failures(), "invoked_by": invoked_by},
            )
            session.commit()
    return report
