"""The one permission rule every channel uses: ``can_view`` (pure: no I/O, no clock).

Grants are data (point 11): tables × areas × channels × validity, plus the state that
sanctions set (suspended, point 19; lapsed, point 19; terminated, point 20).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from access.models import NATIONAL, PROVIDER_ROLES


@dataclass(frozen=True)
class Actor:
    """Who is asking: an agency user (``agency_id``) or a provider's staff (``jurisdiction``)."""

    username: str
    role: str
    agency_id: int | None = None
    jurisdiction: str | None = None  # the provider's area: "00000" or a county code


@dataclass(frozen=True)
class GrantRule:
    """One grant as ``can_view`` sees it."""

    agency_id: int
    tables: frozenset[str]
    areas: frozenset[str]
    channels: frozenset[str]
    valid_from: datetime
    valid_to: datetime  # exclusive
    state: str = "active"  # active | suspended | lapsed | terminated
    ends_at: datetime | None = None  # termination takes effect at this moment (point 20)


def area_covers(granted: str, area_code: str) -> bool:
    """Whether a granted area encloses ``area_code``: national covers all; else by code prefix.

    County codes are 5 digits, townships 8, villages 11, and each begins with its parent's
    code, so a county grant covers its townships and villages.
    """
    if granted == NATIONAL:
        return True
    if area_code == NATIONAL:
        return False
    return area_code.startswith(granted)


def grant_in_force(grant: GrantRule, now: datetime) -> bool:
    """Active, within validity and before any termination date."""
    if grant.state != "active":
        return False
    if not grant.valid_from <= now < grant.valid_to:
        return False
    return grant.ends_at is None or now < grant.ends_at


def can_view(
    actor: Actor | None,
    table: str,
    area_code: str,
    channel: str,
    grants: Iterable[GrantRule],
    now: datetime,
) -> bool:
    """Whether ``actor`` may obtain ``table`` for ``area_code`` through ``channel`` at ``now``.

    Deny unless granted. A provider's staff see their own jurisdiction (point 6); an agency
    user sees what a grant of their agency in force names (point 11).
    """
    if actor is None:
        return False
    if actor.role in PROVIDER_ROLES:
        return actor.jurisdiction is not None and area_covers(actor.jurisdiction, area_code)
    if actor.agency_id is None:
        return False
    return any(
        grant.agency_id == actor.agency_id
        and table in grant.tables
        and channel in grant.channels
        and any(area_covers(granted, area_code) for granted in grant.areas)
        and grant_in_force(grant, now)
        for grant in grants
    )
