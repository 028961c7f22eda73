"""The hash-chained audit log: tampering detected and located; concurrent appends never fork."""

from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import timedelta
from multiprocessing import get_context

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from access import audit, checkpoints
from access.db import make_engine, session_factory
from access.models import AuditEntry
from tests.access.conftest import NOW


def _fill(session: Session, n: int = 6) -> None:
    for i in range(n):
        audit.record(
            session,
            f"user{i}",
            "query",
            "table:population",
            NOW + timedelta(seconds=i),
            {"area": "63000", "rows": i, "名稱": "臺北市"},
            agency_id=1,
        )
    session.commit()


def _tamper(session: Session, *statements: str) -> audit.Verification:
    for statement in statements:
        session.execute(text(statement))
    session.commit()
    session.expire_all()
    return audit.verify(session)


def test_untouched_chain_verifies(session: Session) -> None:
    _fill(session)
    result = audit.verify(session)
    assert result.ok and result.entries == 6 and result.head_seq == 6 and result.problems == []


def test_edit_detected_where(session: Session) -> None:
    _fill(session)
    result = _tamper(session, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 3")
    assert not result.ok
    assert result.problems == ["seq 3: content does not match its hash (entry edited)"]


def test_edited_details_detected(session: Session) -> None:
    _fill(session)
    result = _tamper(
        session, """UPDATE audit_entries SET details = '{"area": "64000"}' WHERE seq = 5"""
    )
    assert any(p.startswith("seq 5:") for p in result.problems)


def test_delete_detected_where(session: Session) -> None:
    _fill(session)
    result = _tamper(session, "DELETE FROM audit_entries WHERE seq = 3")
    assert not result.ok and all(p.startswith("seq 4:") for p in result.problems)
    assert any("deleted" in p for p in result.problems)


def test_delete_tail_detected_by_checkpoint(session: Session) -> None:
    _fill(session)
    point = checkpoints.checkpoint(session, "agency", NOW)
    session.commit()
    _tamper(session, f"DELETE FROM audit_entries WHERE seq >= {point.seq}")
    assert audit.verify(session).ok  # a truncated chain is self-consistent ...
    assert checkpoints.verify_checkpoint(session, point)  # ... but the agency's checkpoint proves it


def test_insert_detected_where(session: Session) -> None:
    _fill(session)
    prev = session.scalars(select(AuditEntry.hash).where(AuditEntry.seq == 2)).one()
    forged = audit.entry_hash(3, NOW, "mallory", 1, "query", "x", {}, prev)  # a valid-looking link
    result = _tamper(
        session,
        "UPDATE audit_entries SET seq = seq + 1000 WHERE seq >= 3",
        "UPDATE audit_entries SET seq = seq - 999 WHERE seq >= 1003",
        "INSERT INTO audit_entries (seq, time, actor, agency_id, action, object, details, "
        "prev_hash, hash) "
        f"VALUES (3, '{NOW.strftime('%Y-%m-%d %H:%M:%S')}', 'mallory', 1, 'query', 'x', '{{}}', "
        f"'{prev}', '{forged}')",
    )
    assert not result.ok
    assert result.problems[0].startswith("seq 4:")  # the entry after the forged one breaks


def test_reorder_detected_where(session: Session) -> None:
    _fill(session)
    result = _tamper(
        session,
        "UPDATE audit_entries SET seq = -1 WHERE seq = 2",
        "UPDATE audit_entries SET seq = 2 WHERE seq = 3",
        "UPDATE audit_entries SET seq = 3 WHERE seq = -1",
    )
    assert not result.ok and result.problems[0].startswith("seq 2:")


def test_checkpoint_proves_later_tampering(session: Session) -> None:
    _fill(session, 4)
    point = checkpoints.checkpoint(session, "agency", NOW)
    session.commit()
    _fill(session, 3)
    assert checkpoints.verify_checkpoint(session, point) == []  # later entries do not matter
    _tamper(session, "UPDATE audit_entries SET object = 'table:indicators' WHERE seq = 2")
    assert checkpoints.verify_checkpoint(session, point)
    forged = replace(point, hash="f" * 64)
    assert "signature invalid" in checkpoints.verify_checkpoint(session, forged)[0]


def test_checkpoint_round_trips_json(session: Session) -> None:
    _fill(session, 2)
    point = checkpoints.checkpoint(session, "agency", NOW)
    assert checkpoints.Checkpoint.from_json(point.to_json()) == point


def test_checkpoint_needs_key(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POPSTATS_AUDIT_KEY")
    with pytest.raises(checkpoints.AuditKeyMissing, match="POPSTATS_AUDIT_KEY"):
        checkpoints.checkpoint(session, "agency", NOW)


def _append_many(url: str, writer: int, count: int) -> None:
    """One writer: ``count`` appends, each in its own transaction."""
    engine = make_engine(url)
    try:
        make = session_factory(engine)
        for i in range(count):
            with make() as session:
                audit.record(session, f"writer{writer}", "query", f"n:{i}", NOW, {"i": i})
                session.commit()
    finally:
        engine.dispose()


def test_concurrent_threads_never_fork(engine: Engine, db_url: str) -> None:
    writers, count = 6, 15
    errors: list[BaseException] = []

    def run(w: int) -> None:
        try:
            _append_many(db_url, w, count)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_factory(engine)() as session:
        result = audit.verify(session)
    assert result.ok and result.entries == writers * count


def test_concurrent_processes_never_fork(engine: Engine, db_url: str) -> None:
    writers, count = 3, 10
    with ProcessPoolExecutor(writers, mp_context=get_context("spawn")) as pool:
        for future in [pool.submit(_append_many, db_url, w, count) for w in range(writers)]:
            future.result()
    with session_factory(engine)() as session:
        result = audit.verify(session)
    assert result.ok and result.entries == writers * count
