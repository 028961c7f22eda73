"""Ed25519 checkpoints: verified with the public key alone; tampering located; CLI round trip."""

from __future__ import annotations

import hashlib
import json
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from access import audit, checkpoints, signing
from access.models import AuditEntry
from tests.access.conftest import NOW

# RFC 8032, section 7.1, test 1: a published key pair, so the key id is checked by hand
RFC_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
HEAD = "ab" * 32


def _flip_bit(hex_text: str, index: int = 0) -> str:
    """``hex_text`` with the lowest bit of its ``index``-th hex digit flipped."""
    digit = int(hex_text[index], 16) ^ 1
    return f"{hex_text[:index]}{digit:x}{hex_text[index + 1 :]}"


@pytest.fixture
def key() -> Ed25519PrivateKey:
    """The RFC 8032 test key."""
    return Ed25519PrivateKey.from_private_bytes(RFC_SECRET)


# ---------------------------------------------------------------- pure signing


def test_key_id_is_sha256_of_the_raw_public_key(key: Ed25519PrivateKey) -> None:
    assert signing.key_id(key.public_key()) == hashlib.sha256(RFC_PUBLIC).hexdigest()


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert signing.canonical({"seq": 3, "agency": "衛福部", "a": None}) == (
        '{"a":null,"agency":"衛福部","seq":3}'.encode()
    )


def test_signature_covers_the_documented_fields(key: Ed25519PrivateKey) -> None:
    point = signing.sign_checkpoint(key, 7, HEAD, "2025-03-10T02:00:00.000000Z", "衛福部")
    # what an agency rebuilds from the file with any Ed25519 tool: every field but the
    # signature, as sorted, compact UTF-8 JSON
    signed = (
        '{"agency":"衛福部","form":"ed25519","hash":"' + HEAD + '","issued_at":'
        '"2025-03-10T02:00:00.000000Z","key_id":"'
        + hashlib.sha256(RFC_PUBLIC).hexdigest()
        + '","seq":7}'
    ).encode()
    key.public_key().verify(bytes.fromhex(point.signature), signed)  # raises if not
    assert signing.signature_problem(point, key.public_key()) is None


def test_tampered_checkpoint_or_other_key_fails(key: Ed25519PrivateKey) -> None:
    point = signing.sign_checkpoint(key, 7, HEAD, "2025-03-10T02:00:00.000000Z", None)
    public = key.public_key()
    flipped_signature = replace(point, signature=_flip_bit(point.signature, 5))
    assert "signature invalid" in (signing.signature_problem(flipped_signature, public) or "")
    flipped_head = replace(point, hash=_flip_bit(point.hash, 63))
    assert "signature invalid" in (signing.signature_problem(flipped_head, public) or "")
    assert "signature invalid" in (signing.signature_problem(replace(point, seq=8), public) or "")
    other = Ed25519PrivateKey.generate().public_key()
    assert "not by the given public key" in (signing.signature_problem(point, other) or "")
    # claiming the other key's id does not help: the id is signed too
    relabelled = replace(point, key_id=signing.key_id(other))
    assert "signature invalid" in (signing.signature_problem(relabelled, other) or "")


def test_keys_round_trip_through_pem_and_wrong_keys_refused(key: Ed25519PrivateKey) -> None:
    again = signing.load_private_key(signing.private_pem(key))
    assert signing.key_id(again.public_key()) == signing.key_id(key.public_key())
    public = signing.load_public_key(signing.public_pem(key.public_key()))
    assert signing.key_id(public) == hashlib.sha256(RFC_PUBLIC).hexdigest()
    with pytest.raises(signing.SigningError, match="private key"):
        signing.load_private_key(signing.public_pem(key.public_key()))
    with pytest.raises(signing.SigningError, match="public key"):
        signing.load_public_key(b"-----BEGIN NONSENSE-----\n")


def test_checkpoint_documents_say_their_form(key: Ed25519PrivateKey) -> None:
    signed = signing.sign_checkpoint(key, 7, HEAD, "2025-03-10T02:00:00.000000Z", "衛福部")
    assert json.loads(signed.to_json())["form"] == "ed25519"
    assert checkpoints.read_checkpoint(signed.to_json()) == signed
    hmac_point = checkpoints.Checkpoint(7, HEAD, "2025-03-10T02:00:00.000000Z", "00" * 32)
    assert json.loads(hmac_point.to_json())["form"] == "hmac-sha256"
    assert checkpoints.read_checkpoint(hmac_point.to_json()) == hmac_point
    # files written before forms existed are HMAC checkpoints
    old = json.dumps({"seq": 7, "hash": HEAD, "issued_at": "x", "signature": "00"})
    assert checkpoints.read_checkpoint(old) == checkpoints.Checkpoint(7, HEAD, "x", "00")
    with pytest.raises(checkpoints.CheckpointError, match="unknown checkpoint form"):
        checkpoints.read_checkpoint(json.dumps({"form": "rsa", "seq": 7}))
    missing_key_id = json.loads(signed.to_json())
    del missing_key_id["key_id"]
    with pytest.raises(checkpoints.CheckpointError, match="exactly the fields"):
        checkpoints.read_checkpoint(json.dumps(missing_key_id))
    with pytest.raises(checkpoints.CheckpointError, match="JSON"):
        checkpoints.read_checkpoint("seq=7")


# ---------------------------------------------------------------- against the database


def _fill(session: Session, n: int) -> None:
    for i in range(n):
        audit.record(
            session,
            f"user{i}",
            "query",
            "table:population",
            NOW + timedelta(seconds=i),
            {"area": "63000", "rows": i},
            agency_id=1,
        )
    session.commit()


def _tamper(session: Session, statement: str) -> None:
    session.execute(text(statement))
    session.commit()
    session.expire_all()


def test_signed_checkpoint_verifies_with_public_key_only(
    session: Session, key: Ed25519PrivateKey
) -> None:
    _fill(session, 5)
    point = checkpoints.signed_checkpoint(session, "provider", NOW, key, "衛福部", agency_id=1)
    session.commit()
    assert (point.seq, point.agency) == (5, "衛福部")
    head = session.scalars(select(AuditEntry.hash).where(AuditEntry.seq == 5)).one()
    assert point.hash == head
    issued = session.scalars(select(AuditEntry).where(AuditEntry.seq == 6)).one()
    assert issued.action == "audit.checkpoint" and issued.details == {
        "seq": 5,
        "hash": head,
        "form": "ed25519",
        "key_id": hashlib.sha256(RFC_PUBLIC).hexdigest(),
    }
    _fill(session, 3)  # later entries do not matter
    assert checkpoints.verify_signed_checkpoint(session, point, key.public_key()) == []


def test_tampering_up_to_the_head_reported_with_its_seq(
    session: Session, key: Ed25519PrivateKey
) -> None:
    _fill(session, 5)
    point = checkpoints.signed_checkpoint(session, "provider", NOW, key)
    session.commit()
    _tamper(session, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 3")
    assert checkpoints.verify_signed_checkpoint(session, point, key.public_key()) == [
        "seq 3: content does not match its hash (entry edited)"
    ]


def test_rewritten_chain_with_recomputed_hashes_caught_at_the_head(
    session: Session, key: Ed25519PrivateKey
) -> None:
    _fill(session, 4)
    point = checkpoints.signed_checkpoint(session, "provider", NOW, key)
    session.commit()
    # the hashes are not keyed: someone with database access edits seq 2 and recomputes
    # every later hash, so the chain is self-consistent again ...
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    prev = entries[0].hash
    for entry in entries[1:]:
        if entry.seq == 2:
            entry.actor = "mallory"
        entry.prev_hash = prev
        entry.hash = audit.entry_hash(
            entry.seq,
            entry.time,
            entry.actor,
            entry.agency_id,
            entry.action,
            entry.object,
            entry.details,
            prev,
        )
        prev = entry.hash
    session.commit()
    assert audit.verify(session).ok
    # ... but no longer ends in the signed head
    (problem,) = checkpoints.verify_signed_checkpoint(session, point, key.public_key())
    assert problem.startswith("seq 4: the log's hash") and "at or before seq 4" in problem


def test_deleted_head_reported(session: Session, key: Ed25519PrivateKey) -> None:
    _fill(session, 4)
    point = checkpoints.signed_checkpoint(session, "provider", NOW, key)
    session.commit()
    _tamper(session, "DELETE FROM audit_entries WHERE seq >= 3")
    assert checkpoints.verify_signed_checkpoint(session, point, key.public_key()) == [
        "seq 4: the log ends at seq 2; entries 3..4 were deleted since the checkpoint"
    ]


def test_broken_chain_is_not_signed(session: Session, key: Ed25519PrivateKey) -> None:
    _fill(session, 3)
    _tamper(session, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
    with pytest.raises(checkpoints.CheckpointError, match="seq 2: content does not match"):
        checkpoints.signed_checkpoint(session, "provider", NOW, key)


# ---------------------------------------------------------------- command line


def _run(cli: click.Group, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_keygen_private_key_mode_0600_and_no_overwrite(cli: click.Group, tmp_path: Path) -> None:
    made = _run(cli, "audit", "keygen", "--out", str(tmp_path / "keys"))
    assert made.exit_code == 0, made.output
    private = tmp_path / "keys" / "audit-signing.key"
    public = tmp_path / "keys" / "audit-signing.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = signing.load_private_key(private.read_bytes())
    assert signing.key_id(signing.load_public_key(public.read_bytes())) == signing.key_id(
        key.public_key()
    )
    assert signing.key_id(key.public_key()) in made.output
    before = private.read_bytes()
    again = _run(cli, "audit", "keygen", "--out", str(tmp_path / "keys"))
    assert again.exit_code == 1 and "not overwritten" in again.output
    assert private.read_bytes() == before


def test_cli_round_trip(cli: click.Group, tmp_path: Path, db_url: str, engine: Engine) -> None:
    db = ["--db", db_url]
    keys, point = tmp_path / "keys", tmp_path / "checkpoint.json"
    official = ["user", "add", "moi", "--role", "provider_official", "--provider", "MOI",
                "--password", "lantern-river-4821"]
    assert _run(cli, *official, *db).exit_code == 0  # audit entry 1
    agency = ["--code", "A21000000I", "--kind", "central", "--by", "moi"]
    assert _run(cli, "agency", "add", "衛生福利部", *agency, *db).exit_code == 0  # entry 2
    assert _run(cli, "audit", "keygen", "--out", str(keys)).exit_code == 0
    issued = _run(
        cli,
        "audit",
        "checkpoint",
        "--sign-key",
        str(keys / "audit-signing.key"),
        "--agency",
        "衛生福利部",
        "--out",
        str(point),
        *db,
    )
    assert issued.exit_code == 0, issued.output
    document = json.loads(point.read_text(encoding="utf-8"))
    assert (document["form"], document["agency"], document["seq"]) == ("ed25519", "衛生福利部", 2)
    public = ["--checkpoint", str(point), "--public-key", str(keys / "audit-signing.pub")]
    verified = _run(cli, "audit", "verify", *public, *db)
    assert verified.exit_code == 0 and "checkpoint (ed25519) valid" in verified.output
    # without the public key the signed checkpoint is not silently skipped
    assert _run(cli, "audit", "verify", "--checkpoint", str(point), *db).exit_code == 2
    # a public key of another pair fails
    assert _run(cli, "audit", "keygen", "--out", str(tmp_path / "other")).exit_code == 0
    other = _run(
        cli,
        "audit",
        "verify",
        "--checkpoint",
        str(point),
        "--public-key",
        str(tmp_path / "other" / "audit-signing.pub"),
        *db,
    )
    assert other.exit_code == 1 and "not by the given public key" in other.output
    # tampering with the head entry (seq 1) is reported with its seq
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET object = 'agency:99' WHERE seq = 1"))
    tampered = _run(cli, "audit", "verify", *public, *db)
    assert tampered.exit_code == 1
    assert "checkpoint: seq 1: content does not match its hash" in tampered.output


def test_hmac_checkpoint_still_issued_without_sign_key(
    cli: click.Group, tmp_path: Path, db_url: str
) -> None:
    point = tmp_path / "hmac.json"
    assert _run(cli, "audit", "checkpoint", "--out", str(point), "--db", db_url).exit_code == 0
    assert json.loads(point.read_text(encoding="utf-8"))["form"] == "hmac-sha256"
    wrong_kind = _run(cli, "audit", "keygen", "--out", str(tmp_path / "k"))
    assert wrong_kind.exit_code == 0
    refused = _run(
        cli,
        "audit",
        "verify",
        "--checkpoint",
        str(point),
        "--public-key",
        str(tmp_path / "k" / "audit-signing.pub"),
        "--db",
        db_url,
    )
    assert refused.exit_code == 2 and "POPSTATS_AUDIT_KEY" in refused.output
    ok = _run(cli, "audit", "verify", "--checkpoint", str(point), "--db", db_url)
    assert ok.exit_code == 0 and "checkpoint (hmac-sha256) valid" in ok.output
