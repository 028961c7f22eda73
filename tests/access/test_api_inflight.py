"""The in-flight limit of large online answers (issue 10): one agency's slots are shared by
every worker — two engines on one database stand for two workers — a further request waits
a bounded time, then is refused; other agencies are never held up; a slot is free again
when its holder ends."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import Engine

from access.api_inflight import InFlight, agency_slot
from access.db import make_engine

ONE = InFlight(limit=1, wait=timedelta(milliseconds=50))


def _worker(engine: Engine) -> Engine:
    """A second engine on the same database: another worker's connections."""
    return make_engine(str(engine.url.render_as_string(hide_password=False)))


def test_one_slot_per_agency_across_workers(engine: Engine) -> None:
    other = _worker(engine)
    try:
        with agency_slot(engine, 7, ONE) as held:
            assert held
            started = time.monotonic()
            with agency_slot(other, 7, ONE) as second:
                assert not second  # the same agency, another worker: refused...
            assert time.monotonic() - started >= 0.04  # ...after waiting its bounded time
            with agency_slot(other, 8, ONE) as another_agency:
                assert another_agency  # never held up by agency 7
        with agency_slot(other, 7, ONE) as again:
            assert again  # freed when its holder ended
    finally:
        other.dispose()


def test_a_waiting_request_gets_the_slot_when_it_is_freed(engine: Engine) -> None:
    other = _worker(engine)
    patient = InFlight(limit=1, wait=timedelta(seconds=5))
    taken, got = threading.Event(), []

    def first() -> None:
        with agency_slot(engine, 7, ONE) as held:
            assert held
            taken.set()
            time.sleep(0.2)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        taken.wait(5)
        with agency_slot(other, 7, patient) as held:
            got.append(held)
    finally:
        thread.join()
        other.dispose()
    assert got == [True]


def test_two_slots_admit_two_answers_at_once(engine: Engine) -> None:
    two = InFlight(limit=2, wait=timedelta(0))
    with agency_slot(engine, 9, two) as a, agency_slot(engine, 9, two) as b, \
            agency_slot(engine, 9, two) as c:
        assert (a, b, c) == (True, True, False)


def test_no_limit_holds_nothing(engine: Engine) -> None:
    free = InFlight(limit=None)
    with agency_slot(engine, 7, free) as a, agency_slot(engine, 7, free) as b:
        assert a and b
