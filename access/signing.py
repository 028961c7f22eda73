"""Ed25519 checkpoints of the audit chain that an agency verifies with a public key alone.

The HMAC checkpoints of ``access.audit`` can only be checked by whoever holds the
provider's secret, so an agency must take the provider's word for them. Here the provider
signs with a private key it keeps and hands agencies the public key: a checkpoint then
proves, to anyone, that the provider's log had this head at this time (point 18: both
sides audit). Everything here is pure (bytes in, bytes out); files and the database are
handled by the callers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORM = "ed25519"


class SigningError(ValueError):
    """A key or checkpoint that cannot be used (wrong type, malformed)."""


def generate_key() -> Ed25519PrivateKey:
    """A new private signing key."""
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    """The private key as PKCS#8 PEM (unencrypted: protect the file, mode 0600)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: Ed25519PublicKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM (what agencies are given)."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """Read a private key written by ``private_pem``.

    Raises
    ------
    SigningError
        Not a PEM private key, or not an Ed25519 one.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"an Ed25519 private key is needed, not {type(key).__name__}")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """Read a public key written by ``public_pem``.

    Raises
    ------
    SigningError
        Not a PEM public key, or not an Ed25519 one.
    """
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"an Ed25519 public key is needed, not {type(key).__name__}")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte public key: names the key inside a checkpoint."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8 (one text per content)."""
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class SignedCheckpoint:
    """A chain head signed with the provider's Ed25519 key.

    ``agency`` names who it was issued to (``None``: the provider's own); ``key_id`` names
    the signing key, so a verifier given the wrong public key is told so.
    """

    seq: int
    hash: str
    issued_at: str
    agency: str | None
    key_id: str
    signature: str
    form: str = FORM

    def signed_fields(self) -> dict[str, Any]:
        """Every field but the signature: what the signature covers (the form too, so a
        checkpoint cannot be passed off as another kind)."""
        fields = asdict(self)
        del fields["signature"]
        return fields

    def to_json(self) -> str:
        """The checkpoint as a JSON document."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> SignedCheckpoint:
        """Read the fields of a checkpoint document.

        Raises
        ------
        SigningError
            Missing or unexpected fields, or a form other than ``ed25519``.
        """
        expected = set(cls.__dataclass_fields__)
        if set(fields) != expected or fields.get("form") != FORM:
            raise SigningError(
                f"an {FORM} checkpoint has exactly the fields {', '.join(sorted(expected))}"
            )
        return cls(**fields)


def sign_checkpoint(
    key: Ed25519PrivateKey, seq: int, head_hash: str, issued_at: str, agency: str | None
) -> SignedCheckpoint:
    """Sign a chain head (``seq``, ``head_hash``) issued at ``issued_at`` to ``agency``."""
    unsigned = SignedCheckpoint(seq, head_hash, issued_at, agency, key_id(key.public_key()), "")
    signature = key.sign(canonical(unsigned.signed_fields())).hex()
    return SignedCheckpoint(seq, head_hash, issued_at, agency, unsigned.key_id, signature)


def signature_problem(point: SignedCheckpoint, key: Ed25519PublicKey) -> str | None:
    """Why ``point`` is not a checkpoint signed by ``key`` (``None``: it is)."""
    given = key_id(key)
    if point.key_id != given:
        return (
            f"checkpoint was signed by key {point.key_id[:16]}…, not by the given public key "
            f"{given[:16]}…"
        )
    try:
        key.verify(bytes.fromhex(point.signature), canonical(point.signed_fields()))
    except (InvalidSignature, ValueError):
        return "checkpoint signature invalid (the checkpoint was altered after signing)"
    return None
