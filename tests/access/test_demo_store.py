"""``popstats demo`` keeps its accounts between runs (issue 9 item 10): the same passwords and
tokens, kept in a 0600 file beside the database, unless they no longer work or are reset."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from access.accounts import token_user
from access.demo import create_demo
from access.demo_store import USERNAMES, demo_accounts, store_path
from access.models import User
from popstats.cli import main

NOW = datetime(2025, 4, 20, 2, 0, tzinfo=UTC)
KEYS = ["username", "password", "token", "agency", "role", "tables", "areas"]


def _password_opens(session: Session, record: dict) -> bool:
    from argon2 import PasswordHasher

    user = session.scalar(select(User).where(User.username == record["username"]))
    try:
        return user is not None and PasswordHasher().verify(user.password_hash, record["password"])
    except Exception:  # noqa: BLE001 (argon2's several mismatch errors)
        return False


def test_a_second_run_keeps_passwords_and_tokens(session: Session, engine: Engine,
                                                 tmp_path: Path) -> None:
    store = store_path(engine.url, tmp_path)
    first = demo_accounts(session, NOW, store)
    session.commit()
    assert [r["username"] for r in first] == USERNAMES and all(list(r) == KEYS for r in first)
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert json.loads(store.read_text(encoding="utf-8")) == first

    second = demo_accounts(session, NOW, store)
    session.commit()
    assert second == first  # the same credentials, printable again
    assert all(_password_opens(session, r) for r in second)
    for record in second:
        if record["token"]:
            assert token_user(session, record["token"], NOW).username == record["username"]


def test_reset_makes_new_credentials_and_the_old_ones_stop_working(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    store = store_path(engine.url, tmp_path)
    first = demo_accounts(session, NOW, store)
    session.commit()
    fresh = demo_accounts(session, NOW, store, reset=True)
    session.commit()
    assert all(a["password"] != b["password"] for a, b in zip(first, fresh, strict=True))
    assert not any(_password_opens(session, r) for r in first)
    assert token_user(session, first[3]["token"], NOW) is None
    assert json.loads(store.read_text(encoding="utf-8")) == fresh


def test_credentials_that_no_longer_open_their_accounts_are_not_printed(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    store = store_path(engine.url, tmp_path)
    kept = demo_accounts(session, NOW, store)
    session.commit()
    recreated = create_demo(session, NOW)  # what `popstats demo-accounts` does
    session.commit()
    again = demo_accounts(session, NOW, store)
    session.commit()
    assert again != kept and again != recreated  # neither stale set: new, working ones
    assert all(_password_opens(session, r) for r in again)
    assert json.loads(store.read_text(encoding="utf-8")) == again


def test_the_store_sits_beside_an_sqlite_file_else_in_the_demo_folder(tmp_path: Path) -> None:
    assert store_path(f"sqlite:///{tmp_path}/popstats.db", tmp_path / "demo") == (
        tmp_path / "popstats.db.demo-credentials.json")
    assert store_path("postgresql+psycopg://u@h/db", tmp_path / "demo") == (
        tmp_path / "demo" / "demo.demo-credentials.json")


def test_the_demo_command_offers_reset_accounts() -> None:
    names = {p.name for p in main.commands["demo"].params}
    assert "reset_accounts" in names
