"""The grant check as a truth table: tables × areas × channels × dates × sanctions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from access.permissions import Actor, GrantRule, area_covers, can_view

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 1, tzinfo=UTC)
BEFORE, WITHIN, AFTER = datetime(2024, 12, 31, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC), T1
ALL = frozenset({"online_query", "file_transfer", "media_exchange"})

TAIPEI = GrantRule(1, frozenset({"population"}), frozenset({"63000"}), ALL, T0, T1)
NATIONAL = GrantRule(
    2,
    frozenset({"population", "vital_events"}),
    frozenset({"00000"}),
    frozenset({"online_query"}),
    T0,
    T1,
)
TOWNSHIP = GrantRule(3, frozenset({"population"}), frozenset({"63000010"}), ALL, T0, T1)
GRANTS = [TAIPEI, NATIONAL, TOWNSHIP]

TAIPEI_USER = Actor("tp", "agency_user", agency_id=1)
NATIONAL_USER = Actor("nat", "agency_user", agency_id=2)
TOWNSHIP_USER = Actor("town", "agency_user", agency_id=3)
OTHER_USER = Actor("other", "agency_user", agency_id=9)
MOI = Actor("moi", "provider_official", jurisdiction="00000")
KHH_GOV = Actor("khh", "provider_statistician", jurisdiction="64000")


@pytest.mark.parametrize(
    "actor, table, area, channel, now, expected",
    [
        (None, "population", "63000", "online_query", WITHIN, False),  # anonymous: never
        (OTHER_USER, "population", "63000", "online_query", WITHIN, False),  # no grant at all
        # county grant (臺北市): own county and everything inside it, nothing else
        (TAIPEI_USER, "population", "63000", "online_query", WITHIN, True),  # own county
        (TAIPEI_USER, "population", "63000010", "file_transfer", WITHIN, True),  # its township
        (TAIPEI_USER, "population", "63000010001", "media_exchange", WITHIN, True),  # its village
        (TAIPEI_USER, "population", "64000", "online_query", WITHIN, False),  # other county
        (
            TAIPEI_USER,
            "population",
            "64000010001",
            "online_query",
            WITHIN,
            False,
        ),  # other's village
        (TAIPEI_USER, "population", "00000", "online_query", WITHIN, False),  # national
        (TAIPEI_USER, "vital_events", "63000", "online_query", WITHIN, False),  # table not granted
        # dates: valid_from inclusive, valid_to exclusive
        (TAIPEI_USER, "population", "63000", "online_query", BEFORE, False),  # before validity
        (TAIPEI_USER, "population", "63000", "online_query", T0, True),  # first instant
        (TAIPEI_USER, "population", "63000", "online_query", AFTER, False),  # after validity
        # national grant: every area, but only its tables and its one channel
        (NATIONAL_USER, "vital_events", "00000", "online_query", WITHIN, True),
        (NATIONAL_USER, "vital_events", "64000010001", "online_query", WITHIN, True),
        (NATIONAL_USER, "vital_events", "64000", "file_transfer", WITHIN, False),  # channel
        (NATIONAL_USER, "indicators", "64000", "online_query", WITHIN, False),  # table
        # township grant: its villages, not its county nor a sibling township
        (TOWNSHIP_USER, "population", "63000010002", "online_query", WITHIN, True),
        (TOWNSHIP_USER, "population", "63000", "online_query", WITHIN, False),
        (TOWNSHIP_USER, "population", "63000020", "online_query", WITHIN, False),
        # providers see their own jurisdiction (point 6)
        (MOI, "population", "64000", "online_query", WITHIN, True),
        (KHH_GOV, "population", "64000010001", "file_transfer", WITHIN, True),
        (KHH_GOV, "population", "63000", "file_transfer", WITHIN, False),
        (KHH_GOV, "population", "00000", "file_transfer", WITHIN, False),
    ],
)
def test_can_view_truth_table(
    actor: Actor | None, table: str, area: str, channel: str, now: datetime, expected: bool
) -> None:
    assert can_view(actor, table, area, channel, GRANTS, now) is expected


@pytest.mark.parametrize(
    "change, now, expected",
    [
        ({}, WITHIN, True),  # in force
        ({"state": "suspended"}, WITHIN, False),  # point 19 suspension
        ({"state": "lapsed"}, WITHIN, False),  # six months unimproved
        ({"state": "terminated"}, WITHIN, False),  # point 20
        ({"ends_at": datetime(2025, 6, 1, tzinfo=UTC)}, WITHIN, False),  # termination date reached
        ({"ends_at": datetime(2025, 6, 2, tzinfo=UTC)}, WITHIN, True),  # termination still ahead
        ({"state": "suspended"}, BEFORE, False),
    ],
)
def test_can_view_sanctions(change: dict[str, object], now: datetime, expected: bool) -> None:
    grant = replace(TAIPEI, **change)  # type: ignore[arg-type]
    assert can_view(TAIPEI_USER, "population", "63000", "online_query", [grant], now) is expected


def test_can_view_other_agencys_grant_never_counts() -> None:
    assert not can_view(
        OTHER_USER, "population", "63000", "online_query", [replace(TAIPEI, agency_id=1)], WITHIN
    )


@pytest.mark.parametrize(
    "granted, area, expected",
    [
        ("00000", "00000", True),
        ("00000", "63000010001", True),
        ("63000", "63000", True),
        ("63000", "00000", False),
        ("63000", "6300", False),
        ("63000010", "63000010001", True),
        ("63000010001", "63000010", False),
    ],
)
def test_area_covers(granted: str, area: str, expected: bool) -> None:
    assert area_covers(granted, area) is expected
