"""One run at a time of a scheduled job (``popstats maintain``) across every host.

With several serving hosts it is easy to schedule the job on each of them. On PostgreSQL a
session-level advisory lock, taken without waiting, lets the first run work and tells the
others to stop at once; the database drops the lock if the holder dies. SQLite serves one
host, whose scheduler runs the job once: there every run proceeds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL's advisory lock space)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


@contextmanager
def single_run(engine: Engine, name: str) -> Iterator[bool]:
    """Yields whether this process holds the run lock ``name`` (held until the block ends)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    with engine.connect() as conn:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        conn.commit()
        try:
            yield held
        finally:
            if held:  # the pooled connection must not go back still holding it
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()
