"""Checkpoints of the audit chain's head (point 18), and verification against them.

A checkpoint is the chain's head (seq and hash) at a moment, in one of three forms named by
its ``form`` field: ``ed25519`` (an agency verifies it with the provider's public key
alone; ``access.signing``), ``hmac-sha256`` (verified with the provider's secret
``$POPSTATS_AUDIT_KEY``) and ``unsigned`` (kept by ``maintain`` when no key is configured).
Every checkpoint issued is also kept beside the log, so ``verify_log`` notices a log that
was cut short or emptied after it — which the chain alone cannot show. A broken chain is
never certified.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.audit import Verification, canonical_time, lock_chain, record, verify
from access.models import AuditCheckpoint
from access.signing import FORM as SIGNED_FORM
from access.signing import SignedCheckpoint, SigningError, sign_checkpoint, signature_problem

KEY_ENV = "POPSTATS_AUDIT_KEY"


class AuditKeyMissing(RuntimeError):
    """The signing secret is not configured."""


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
    """The chain head to sign, read under the chain lock so no append slips in between.

    Raises
    ------
    CheckpointError
        The chain does not verify: a broken log is investigated, never certified.
    """
    lock_chain(session)
    result = verify(session)
    if result.ok:
        result.problems = _kept_head_problems(session)
        result.ok = not result.problems
    if not result.ok:
        raise CheckpointError(
            "the audit log does not verify, so no checkpoint is signed: "
            + "; ".join(result.problems)
        )
    return result


UNSIGNED_FORM = "unsigned"


def _keep(session: Session, now: datetime, seq: int, digest: str, form: str, document: str) -> None:
    """Keep an issued checkpoint beside the log (``audit verify`` reads the latest)."""
    session.add(AuditCheckpoint(seq=seq, hash=digest, issued_at=now, form=form, document=document))
    session.flush()


def latest_kept_checkpoint(session: Session) -> AuditCheckpoint | None:
    """The most recently issued checkpoint kept beside the log (None before the first)."""
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).first()


def _kept_head_problems(session: Session) -> list[str]:
    kept = latest_kept_checkpoint(session)
    if kept is None:
        return []
    issued = kept.issued_at.astimezone(UTC).isoformat(timespec="seconds")
    return [f"against the checkpoint of {issued} (seq {kept.seq}): {problem}"
            for problem in _head_problems(session, kept.seq, kept.hash)]


def verify_log(session: Session) -> Verification:
    """The chain checked link by link AND against the latest kept checkpoint, so that a log
    cut short after it, or emptied, is reported too (the chain alone cannot show that)."""
    result = verify(session)
    result.problems += _kept_head_problems(session)
    result.ok = not result.problems
    return result


def unsigned_checkpoint(session: Session, actor: str, now: datetime) -> dict[str, Any]:
    """Keep the chain head without a signature (no key configured): it still lets
    ``audit verify`` notice a truncated or emptied log."""
    result = _certifiable_head(session)
    document = {"seq": result.head_seq, "hash": result.head_hash, "issued_at": canonical_time(now),
                "form": UNSIGNED_FORM}
    _keep(session, now, result.head_seq, result.head_hash, UNSIGNED_FORM, json.dumps(document))
    _record_checkpoint(session, actor, now, result.head_seq, result.head_hash, None,
                       {"form": UNSIGNED_FORM})
    return document


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
    """Sign the current chain head, keep it beside the log and record that it was issued.

    Raises
    ------
    CheckpointError
        The chain does not verify (see ``_certifiable_head``).
    """
    key = key or audit_key()
    result = _certifiable_head(session)
    issued = canonical_time(now)
    point = Checkpoint(
        result.head_seq,
        result.head_hash,
        issued,
        _signature(key, result.head_seq, result.head_hash, issued),
    )
    _keep(session, now, point.seq, point.hash, point.form, point.to_json())
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
    point = sign_checkpoint(key, result.head_seq, result.head_hash, canonical_time(now), agency)
    _keep(session, now, point.seq, point.hash, point.form, point.to_json())
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
