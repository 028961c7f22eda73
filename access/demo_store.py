"""The quick-start demo keeps its accounts from one run to the next.

``popstats demo`` used to make new passwords and tokens on every run, so the credentials a
person had written down (or a browser had remembered) stopped working. Now the demo's
credentials are kept in a file the demo owns — readable by its owner only (0600), beside
the SQLite database (``popstats.db.demo-credentials.json``; with PostgreSQL in the demo's
folder) — because passwords cannot be recovered from their argon2 hashes and tokens from
their SHA-256 hashes. A later run prints the kept credentials after checking each one
still opens its account (password against the hash, token still live); if any does not
(another database, ``popstats demo-accounts`` re-created them, a token expired), or with
``--reset-accounts``, the demo parties are re-created as before and the file rewritten.

The file holds demo credentials only; never put real accounts in a demo database.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from access.accounts import token_user
from access.demo import AGENCIES, OFFICIALS, create_demo
from access.models import User

SUFFIX = ".demo-credentials.json"
USERNAMES = [o.username for o in OFFICIALS] + [a.username for a in AGENCIES]


def store_path(db_url: str | URL, folder: Path) -> Path:
    """Where the demo keeps its credentials: beside an SQLite file, else in ``folder``."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = Path(url.database)  # type: ignore[arg-type]
        return database.with_name(database.name + SUFFIX)
    return folder / f"demo{SUFFIX}"


def _opens(session: Session, record: dict[str, Any], now: datetime) -> bool:
    """Whether a kept record's password and token still open its account."""
    user = session.scalar(select(User).where(User.username == record.get("username")))
    if user is None or not isinstance(record.get("password"), str):
        return False
    try:
        PasswordHasher().verify(user.password_hash, record["password"])
    except (VerificationError, InvalidHashError):
        return False
    token = record.get("token")
    if token is None:
        return True
    owner = token_user(session, token, now)
    return owner is not None and owner.id == user.id


def kept_accounts(session: Session, store: Path, now: datetime) -> list[dict[str, Any]] | None:
    """The credentials of the last run, if every demo user's still work; else None."""
    try:
        records = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(records, list) or [r.get("username") for r in records if
                                         isinstance(r, dict)] != USERNAMES:
        return None
    return records if all(_opens(session, r, now) for r in records) else None


def save_accounts(store: Path, records: list[dict[str, Any]]) -> None:
    """Write the credentials for the owner's eyes only (0600), replacing the file at once."""
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = store.with_name(f".{store.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(records, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    os.replace(partial, store)


def demo_accounts(session: Session, now: datetime, store: Path,
                  reset: bool = False) -> list[dict[str, Any]]:
    """The demo's accounts: kept from the last run unless ``reset`` or they no longer work,
    else (re)created by ``create_demo``; the credentials file follows what is printed."""
    if not reset and (kept := kept_accounts(session, store, now)) is not None:
        return kept
    records = create_demo(session, now)
    save_accounts(store, records)
    return records
