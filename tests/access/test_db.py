"""Migrations create exactly the models' schema, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from access.db import alembic_config
from access.models import Base


def test_migration_schema_equals_metadata(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}


def test_migration_is_idempotent(engine: Engine) -> None:
    from access.db import upgrade_engine

    upgrade_engine(engine)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_downgrade_and_upgrade_again_keep_the_rows(engine: Engine) -> None:
    """0002 adds a column and a table: going back to 0001 and forward again keeps agencies."""
    from access.db import upgrade_engine

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO agencies (name, created_at) VALUES ('甲機關', "
                          "CURRENT_TIMESTAMP)"))
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    assert "server_secrets" not in inspect(engine).get_table_names()
    upgrade_engine(engine)
    assert "last_seen_at" in {c["name"] for c in inspect(engine).get_columns("login_sessions")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM agencies")).scalars().all() == ["甲機關"]


def test_sqlite_foreign_keys_on(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
