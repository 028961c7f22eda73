"""Engines, sessions and migrations: embedded SQLite by default, PostgreSQL in production."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from stats.locations import DEFAULT_DB as DEFAULT_URL
from stats.locations import absolute_db_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The URL to use: the one given, else ``$POPSTATS_DB``, else the embedded SQLite file
    (an SQLite file's path made absolute, so every later step names the same file)."""
    return absolute_db_url(url or os.environ.get("POPSTATS_DB") or DEFAULT_URL)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url``; on SQLite with foreign keys on and write transactions serialised.

    SQLite transactions start with ``BEGIN IMMEDIATE`` so two writers never interleave
    (the audit chain relies on it); a busy writer is waited for, not failed.
    """
    url = database_url(url)
    if url.startswith("sqlite"):
        connect_args = {"timeout": 60, "check_same_thread": False, **kwargs.pop("connect_args", {})}
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with session_factory(engine)() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config() -> Config:
    """The Alembic configuration of the access schema (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` on ``engine``'s database."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def upgrade(url: str | None = None, revision: str = "head") -> Engine:
    """Migrate the database at ``url`` to ``revision`` and return an engine for it."""
    engine = make_engine(url)
    upgrade_engine(engine, revision)
    return engine
