"""The append-only, hash-chained audit log (point 18).

Each entry's hash is SHA-256 over a canonical serialisation of its fields including the
previous entry's hash, so editing, deleting, inserting or reordering any entry breaks the
chain from that point on. Appends are serialised (PostgreSQL advisory lock; SQLite
``BEGIN IMMEDIATE``) and ``seq`` is the primary key, so concurrent writers never fork it.

Checkpoints of the chain's head are ``access.checkpoints``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from access.audit_bounds import bounded
from access.models import AuditEntry
from stats.said import with_wording

GENESIS = "0" * 64
_LOCK_KEY = 0x70_6F_70_61_75_64  # "popaud": one advisory lock for the whole chain
_APPENDED = "popstats.audit.appended"  # session.info: (transaction, its last entry)


def canonical_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    seq: int,
    time: datetime,
    actor: str,
    agency_id: int | None,
    action: str,
    obj: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the canonical JSON of one entry, chained by ``prev_hash``."""
    canonical = json.dumps(
        {
            "seq": seq,
            "time": canonical_time(time),
            "actor": actor,
            "agency_id": agency_id,
            "action": action,
            "object": obj,
            "details": details,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def lock_chain(session: Session) -> None:
    """Serialise appends until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    else:  # SQLite: the transaction began with BEGIN IMMEDIATE; make sure it has begun
        session.execute(text("SELECT 1"))


def record(
    session: Session,
    actor: str,
    action: str,
    obj: str,
    now: datetime,
    details: dict[str, Any] | None = None,
    agency_id: int | None = None,
) -> AuditEntry:
    """Append one entry to the chain (flushed; committed with the caller's transaction).

    Parameters
    ----------
    actor : the username (or ``"system"``) acting.
    action : a dotted verb, e.g. ``"login.failed"``, ``"grant.approved"``.
    obj : what it acted on, e.g. ``"grant:3"``.
    """
    appended = session.info.get(_APPENDED)
    if (appended is not None and appended[0] is session.get_transaction()
            and appended[1] in session):
        # this transaction holds the lock and wrote the head (an API answer records two
        # entries): two round trips fewer while every other writer waits for the lock.
        # A savepoint rolled back expunges its entry, and the head is read again
        seq, prev = appended[1].seq + 1, appended[1].hash
    else:
        lock_chain(session)
        head = session.execute(
            select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
        ).first()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    # bounded: a crafted request must not grow the log by hundreds of KB (audit_bounds)
    # a two-language reason keeps its zh-TW wording beside it (stats.said)
    details = json.loads(json.dumps(bounded(with_wording(details or {})), default=str))
    digest = entry_hash(seq, now, actor, agency_id, action, obj, details, prev)
    entry = AuditEntry(
        seq=seq,
        time=now,
        actor=actor,
        agency_id=agency_id,
        action=action,
        object=obj,
        details=details,
        prev_hash=prev,
        hash=digest,
    )
    session.add(entry)
    session.flush()
    session.info[_APPENDED] = (session.get_transaction(), entry)
    return entry


@dataclass
class Verification:
    """The result of checking the chain: ``ok``, entries read, the head, and each problem."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: list[str] = field(default_factory=list)


def verify(session: Session, upto: int | None = None) -> Verification:
    """Recompute the chain (up to ``upto``) and report every break and where it is."""
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if upto is not None:
        query = query.where(AuditEntry.seq <= upto)
    problems: list[str] = []
    prev, expected_seq, count = GENESIS, 1, 0
    for entry in session.scalars(query):
        count += 1
        if entry.seq != expected_seq:
            problems.append(
                f"seq {entry.seq}: expected seq {expected_seq} "
                f"(entries {expected_seq}..{entry.seq - 1} deleted or renumbered)"
                if entry.seq > expected_seq
                else f"seq {entry.seq}: out of order"
            )
        if entry.prev_hash != prev:
            problems.append(
                f"seq {entry.seq}: prev_hash does not match the hash of the entry "
                "before it (entry inserted, deleted or reordered)"
            )
        digest = entry_hash(
            entry.seq,
            entry.time,
            entry.actor,
            entry.agency_id,
            entry.action,
            entry.object,
            entry.details,
            entry.prev_hash,
        )
        if digest != entry.hash:
            problems.append(f"seq {entry.seq}: content does not match its hash (entry edited)")
        prev, expected_seq = entry.hash, entry.seq + 1
    return Verification(not problems, count, expected_seq - 1, prev, problems)
