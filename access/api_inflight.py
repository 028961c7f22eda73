"""At most ``limit`` large online answers of one agency in flight at once, across every
worker (and, on PostgreSQL, every host): an agency asking for many pages at once queues
behind itself instead of taking every worker from the other agencies (issue 10).

A slot is a PostgreSQL session advisory lock (two-key form: this module's key and the
agency's slot, a lock space apart from the audit chain's one-key lock) on a connection of its
own, or on SQLite — one host — an ``flock`` on a file per agency and slot beside the database
file. Both are released by the operating system or the server when a worker dies, so a
killed worker never leaves an agency locked out. A caller waits at most ``wait`` for a slot,
then gets a 429 (``busy_answer``) telling it to send one request at a time.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from access import audit
from access.api_http import CHANNEL, ApiResponse, error_answer
from access.api_limits import RateLimiter
from access.models import ApiToken

_KEY = 0x706F7073  # "pops": the first key of every slot lock (int4)
_SLOTS_PER_AGENCY = 64  # the second key: agency id × 64 + slot
POLL_SECONDS = 0.01  # SQLite: how often a waiting caller tries its agency's files again


@dataclass(frozen=True)
class InFlight:
    """How many large answers one agency may have in flight (None: no limit) and how long a
    further request waits for one of them to end before its 429."""

    limit: int | None = 1
    wait: timedelta = timedelta(milliseconds=100)  # a sync worker waits idle meanwhile

    def __post_init__(self) -> None:
        if self.limit is not None and not 1 <= self.limit <= _SLOTS_PER_AGENCY:
            raise ValueError(f"in-flight limit must be 1..{_SLOTS_PER_AGENCY} or None")


def lock_folder(engine: Engine) -> Path | None:
    """Where an SQLite database's slot files live (beside the file); None on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:":  # one process can use it: its own folder
        return Path(tempfile.gettempdir()) / f"popstats-inflight-{os.getpid()}"
    return Path(database).with_name(Path(database).name + ".inflight")


@contextmanager
def agency_slot(engine: Engine, agency_id: int, rule: InFlight) -> Iterator[bool]:
    """Hold one of the agency's slots for the block (True), or, when all stay taken for
    ``rule.wait``, take none (False)."""
    if rule.limit is None:
        yield True
        return
    if engine.dialect.name == "postgresql":
        with _postgresql_slot(engine, agency_id, rule) as held:
            yield held
    else:
        folder = lock_folder(engine)
        assert folder is not None
        with _file_slot(folder, agency_id, rule) as held:
            yield held


@contextmanager
def _postgresql_slot(engine: Engine, agency_id: int, rule: InFlight) -> Iterator[bool]:
    assert rule.limit is not None
    keys = [{"a": _KEY, "b": agency_id * _SLOTS_PER_AGENCY + s} for s in range(rule.limit)]
    # autocommit: a session lock outlives transactions, and none is left open meanwhile
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        held = next((k for k in keys if conn.execute(
            text("SELECT pg_try_advisory_lock(:a, :b)"), k).scalar()), None)
        if held is None and rule.wait > timedelta(0):  # then wait on one slot, bounded
            held = keys[agency_id % len(keys)]
            try:
                conn.execute(text("SELECT set_config('lock_timeout', :t, false)"),
                             {"t": f"{int(rule.wait.total_seconds() * 1000)}ms"})
                conn.execute(text("SELECT pg_advisory_lock(:a, :b)"), held)
            except OperationalError:  # lock_timeout: still busy
                held = None
            finally:
                conn.execute(text("RESET lock_timeout"))
        try:
            yield held is not None
        finally:
            if held is not None:
                conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), held)


@contextmanager
def _file_slot(folder: Path, agency_id: int, rule: InFlight) -> Iterator[bool]:
    assert rule.limit is not None
    folder.mkdir(exist_ok=True)
    paths = [folder / f"agency-{int(agency_id)}-{s}.lock" for s in range(rule.limit)]
    deadline = time.monotonic() + rule.wait.total_seconds()
    held: int | None = None
    while held is None:
        for path in paths:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:  # flock belongs to this open file: threads of one worker exclude each other
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held = fd
            break
        if held is None:
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
    try:
        yield held is not None
    finally:
        if held is not None:
            fcntl.flock(held, fcntl.LOCK_UN)
            os.close(held)


def busy_answer(rule: InFlight) -> ApiResponse:
    """The 429 of an agency whose slots stayed taken."""
    return error_answer(
        429, f"your agency already has {rule.limit} large answer(s) in flight: send the next "
        "request when one has arrived (pages one at a time)", (("Retry-After", "1"),),
        retry_after_seconds=1)


def busy_refusal(session: Session, limiter: RateLimiter, token: ApiToken, rule: InFlight,
                 now: datetime) -> ApiResponse:
    """``busy_answer``, the first of a rate-limit window audited as ``api.concurrency_limited``
    (like the rate limit's 429s: one entry per window, not per request). Commits."""
    agency_id = token.user.agency_id
    if limiter.first_refusal(session, f"in-flight:agency:{agency_id}", now):
        audit.record(session, token.user.username, "api.concurrency_limited",
                     f"api:agency:{agency_id}", now,
                     {"channel": CHANNEL, "limit": rule.limit,
                      "wait_ms": int(rule.wait.total_seconds() * 1000),
                      "note": "first refusal of this window; later ones are not logged"},
                     agency_id=agency_id)
    session.commit()
    return busy_answer(rule)
