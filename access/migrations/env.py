"""Alembic environment: runs on the connection handed over by ``access.db.upgrade_engine``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from access.db import make_engine
from access.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the alembic command line: ``alembic -x url=...``
    url = context.get_x_argument(as_dictionary=True).get("url")
    with make_engine(url).begin() as conn:
        _run(conn)
