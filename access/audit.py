"""The append-only, hash-chained audit log (point 18) and signed checkpoints of its head.

Each entry's hash is SHA-256 over a canonical serialisation of its fields including the
previous entry's hash, so editing, deleting, inserting or reordering any entry breaks the
chain from that point on. Appends are serialised (PostgreSQL advisory lock; SQLite
``BEGIN IMMEDIATE``) and ``seq`` is the primary key, so concurrent writers never fork it.

Checkpoints come in two forms, named by their ``form`` field: ``hmac-sha256`` (verified
with the provider's secret ``$POPSTATS_AUDIT_KEY``) and ``ed25519`` (verified by an agency
with the provider's public key alone; see ``access.signing``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from access.models import AuditEntry
from access.signing import FORM as SIGNED_FORM
from access.signing import SignedCheckpoint, SigningError, sign_checkpoint, signature_problem

GENESIS = "0" * 64
KEY_ENV = "POPSTATS_AUDIT_KEY"
_LOCK_KEY = 0x70_6F_70_61_75_64  # "popaud": one advisory lock for the whole chain


class AuditKeyMissing(RuntimeError):
    """The signing secret is not configured."""


def _time_text(moment: datetime) -> str:
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
            "time": _time_text(time),
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


def _lock_chain(session: Session) -> None:
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
    _lock_chain(session)
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    details = json.loads(json.dumps(details or {}, default=str))  # what the database returns
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


def audit_key() -> bytes:
    """The provider's signing secret from ``$POPSTATS_AUDIT_KEY``."""
    key = os.environ.get(KEY_ENV)
    if not key:
        raise AuditKeyMissing(
            f"set {KEY_ENV} to the provider's secret signing key to issue or "
            "verify audit checkpoints"
        )
    return key.encode("utf-8")


HMAC_FORM = "hmac-sha256"


class CheckpointError(ValueError):
    """A checkpoint document that cannot be read, or a chain that must not be certified."""


@dataclass(frozen=True)
class Checkpoint:
    """A chain head signed by the provider (HMAC-SHA256) for an agency to keep.

    Only the holder of ``$POPSTATS_AUDIT_KEY`` can verify it; ``signing.SignedCheckpoint``
    is the form an agency verifies with a public key alone.
    """

    seq: int
    hash: str
    issued_at: str
    signature: str
    form: str = HMAC_FORM  # files written before forms existed have no "form": HMAC

    def to_json(self) -> str:
        """The checkpoint as a JSON document."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text_: str) -> Checkpoint:
        """Read a checkpoint written by ``to_json``."""
        return cls(**json.loads(text_))


def read_checkpoint(text_: str) -> Checkpoint | SignedCheckpoint:
    """Read a checkpoint document of either form (its ``form`` field says which).

    Raises
    ------
    CheckpointError
        Not JSON, an unknown form, or missing/unexpected fields.
    """
    try:
        fields = json.loads(text_)
    except ValueError as exc:
        raise CheckpointError(f"a checkpoint is a JSON document: {exc}") from exc
    if not isinstance(fields, dict):
        raise CheckpointError("a checkpoint is a JSON object")
    form = fields.get("form", HMAC_FORM)
    if form == SIGNED_FORM:
        try:
            return SignedCheckpoint.from_dict(fields)
        except SigningError as exc:
            raise CheckpointError(str(exc)) from exc
    if form != HMAC_FORM:
        raise CheckpointError(
            f"unknown checkpoint form {form!r}; expected {HMAC_FORM!r} or {SIGNED_FORM!r}"
        )
    try:
        return Checkpoint(**fields)
    except TypeError as exc:
        raise CheckpointError(
            f"a {HMAC_FORM} checkpoint has the fields seq, hash, issued_at, signature, form"
        ) from exc


def _signature(key: bytes, seq: int, digest: str, issued_at: str) -> str:
    return hmac.new(key, f"{seq}:{digest}:{issued_at}".encode(), hashlib.sha256).hexdigest()


def _certifiable_head(session: Session) -> Verification:
    """The chain head to sign, read under the chain lock so no append slips in between."""
    _lock_chain(session)
    return verify(session)


def _record_checkpoint(
    session: Session,
    actor: str,
    now: datetime,
    seq: int,
    digest: str,
    agency_id: int | None,
    extra: dict[str, Any] | None = None,
) -> None:
    record(
        session,
        actor,
        "audit.checkpoint",
        f"audit:{seq}",
        now,
        {"seq": seq, "hash": digest, **(extra or {})},
        agency_id=agency_id,
    )


def checkpoint(
    session: Session,
    actor: str,
    now: datetime,
    key: bytes | None = None,
    agency_id: int | None = None,
) -> Checkpoint:
    """Sign the current chain head and record that a checkpoint was issued."""
    key = key or audit_key()
    result = _certifiable_head(session)
    issued = _time_text(now)
    point = Checkpoint(
        result.head_seq,
        result.head_hash,
        issued,
        _signature(key, result.head_seq, result.head_hash, issued),
    )
    _record_checkpoint(session, actor, now, point.seq, point.hash, agency_id)
    return point


def signed_checkpoint(
    session: Session,
    actor: str,
    now: datetime,
    key: Ed25519PrivateKey,
    agency: str | None = None,
    agency_id: int | None = None,
) -> SignedCheckpoint:
    """Sign the current chain head with the provider's Ed25519 key and record the issue.

    Raises
    ------
    CheckpointError
        The chain does not verify: a broken log is investigated, never certified.
    """
    result = _certifiable_head(session)
    if not result.ok:
        raise CheckpointError(
            "the audit log does not verify, so no checkpoint is signed: "
            + "; ".join(result.problems)
        )
    point = sign_checkpoint(key, result.head_seq, result.head_hash, _time_text(now), agency)
    _record_checkpoint(
        session,
        actor,
        now,
        point.seq,
        point.hash,
        agency_id,
        {"form": point.form, "key_id": point.key_id},
    )
    return point


def _head_problems(session: Session, seq: int, digest: str) -> list[str]:
    """Problems proving the chain up to ``seq`` no longer ends in ``digest`` (empty: it does).

    Edits, deletions and reorderings that left the stored hashes inconsistent are reported
    at their own seq by ``verify``; a rewrite that recomputed every hash after it is only
    visible as a different head, so it is reported at the checkpoint's seq.
    """
    result = verify(session, upto=seq)
    problems = list(result.problems)
    if result.head_seq < seq:
        problems.append(
            f"seq {seq}: the log ends at seq {result.head_seq}; entries "
            f"{result.head_seq + 1}..{seq} were deleted since the checkpoint"
        )
    elif result.head_hash != digest:
        problems.append(
            f"seq {seq}: the log's hash {result.head_hash[:12]}… differs from the "
            f"checkpoint's {digest[:12]}… (an entry at or before seq {seq} was changed)"
        )
    return problems


def verify_checkpoint(session: Session, point: Checkpoint, key: bytes | None = None) -> list[str]:
    """Problems proving the log changed since ``point`` was issued (empty = untouched)."""
    key = key or audit_key()
    if not hmac.compare_digest(
        point.signature, _signature(key, point.seq, point.hash, point.issued_at)
    ):
        return ["checkpoint signature invalid (not issued by this provider, or altered)"]
    return _head_problems(session, point.seq, point.hash)


def verify_signed_checkpoint(
    session: Session, point: SignedCheckpoint, key: Ed25519PublicKey
) -> list[str]:
    """Check ``point``'s signature with the public ``key`` alone, then that the log still
    holds its head; problems found (empty = the log is unchanged up to ``point.seq``)."""
    if problem := signature_problem(point, key):
        return [problem]
    return _head_problems(session, point.seq, point.hash)
