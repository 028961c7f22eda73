"""Applications and grants: completeness (point 13), review state machine, jurisdiction."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.grants import (
    RULE_ITEMS,
    ApplicationError,
    IncompleteApplication,
    JurisdictionError,
    actor_of,
    agency_rules,
    approve,
    reject,
    resubmit,
    return_for_completion,
    submit,
)
from access.models import Application, AuditEntry, Grant
from access.permissions import can_view
from tests.access.conftest import LEGAL_BASIS, NOW, PURPOSE, World, full_rules


def _apply(
    session: Session,
    world: World,
    areas: list[str],
    rules: dict[str, str] | None = None,
    provider: object = None,
) -> Application:
    return submit(
        session,
        world.agency,
        provider or world.moi,
        ["population", "vital_events"],
        areas,
        ["online_query", "file_transfer"],
        PURPOSE,
        full_rules() if rules is None else rules,
        NOW,
        legal_basis=LEGAL_BASIS,
        by=world.user,
    )


def test_application_approved_grants_tables_areas_channels(session: Session, world: World) -> None:
    app = _apply(session, world, ["63000"], provider=world.taipei_gov)
    grant = approve(session, app, world.taipei_official, date(2025, 3, 1), date(2025, 12, 31), NOW)
    session.commit()
    stored = session.scalars(select(Grant)).one()
    assert (stored.tables, stored.areas, stored.channels) == (
        ["population", "vital_events"],
        ["63000"],
        ["online_query", "file_transfer"],
    )
    assert app.status == "approved" and grant.id == stored.id
    rules = agency_rules(session, world.agency.id)
    actor = actor_of(world.user)
    assert can_view(actor, "population", "63000010001", "file_transfer", rules, NOW)
    assert not can_view(actor, "population", "64000", "file_transfer", rules, NOW)
    assert not can_view(actor, "population", "63000", "media_exchange", rules, NOW)
    # valid_to is inclusive of its Taipei date: 2025-12-31 23:59 Taipei is 15:59 UTC
    assert stored.valid_to - timedelta(seconds=1) < stored.valid_to


@pytest.mark.parametrize("missing", list(RULE_ITEMS))
def test_application_missing_any_rule_item_cannot_be_approved(
    session: Session, world: World, missing: str
) -> None:
    rules = {**full_rules(), missing: "  "}
    app = _apply(session, world, ["00000"], rules)
    with pytest.raises(IncompleteApplication, match="point 13"):
        approve(session, app, world.moi_official, date(2025, 3, 1), date(2025, 12, 31), NOW)
    assert app.status == "submitted"
    assert session.scalars(select(Grant)).all() == []


def test_application_returned_completed_then_approved(session: Session, world: World) -> None:
    app = _apply(session, world, ["00000"], {"confidentiality": "保密"})
    return_for_completion(session, app, world.moi_official, "", NOW)
    assert app.status == "returned" and "purpose_and_security" in (app.reason or "")
    resubmit(session, app, NOW, rules=full_rules(), by=world.user)
    assert app.status == "submitted"
    approve(session, app, world.moi_official, date(2025, 3, 1), date(2025, 3, 31), NOW)
    assert app.status == "approved"


@pytest.mark.parametrize(
    "first, second",
    [
        ("approve", "approve"),
        ("approve", "reject"),
        ("approve", "return"),
        ("reject", "approve"),
        ("reject", "return"),
        ("return", "approve"),
        ("return", "reject"),
    ],
)
def test_application_illegal_transitions_refused(
    session: Session, world: World, first: str, second: str
) -> None:
    app = _apply(session, world, ["00000"])
    steps = {
        "approve": lambda: approve(
            session, app, world.moi_official, date(2025, 3, 1), date(2025, 4, 1), NOW
        ),
        "reject": lambda: reject(session, app, world.moi_official, "目的不明確", NOW),
        "return": lambda: return_for_completion(session, app, world.moi_official, "補件", NOW),
    }
    steps[first]()
    status = app.status
    with pytest.raises(ApplicationError):
        steps[second]()
    assert app.status == status


def test_resubmit_only_after_return(session: Session, world: World) -> None:
    app = _apply(session, world, ["00000"])
    with pytest.raises(ApplicationError):
        resubmit(session, app, NOW, by=world.user)


def test_reject_needs_reason(session: Session, world: World) -> None:
    app = _apply(session, world, ["00000"])
    with pytest.raises(ApplicationError, match="reason"):
        reject(session, app, world.moi_official, " ", NOW)
    reject(session, app, world.moi_official, "超出業務需要", NOW)
    assert (app.status, app.reason) == ("rejected", "超出業務需要")


@pytest.mark.parametrize(
    "addressed, reviewer, areas, allowed",
    [
        ("moi", "moi_official", ["00000"], True),  # MOI grants anything
        ("moi", "moi_official", ["64000", "63000010"], True),
        ("taipei_gov", "taipei_official", ["63000"], True),  # own county
        ("taipei_gov", "taipei_official", ["63000010001"], True),  # a village of it
        # point 6: what is applied for to 臺北市政府 is decided by it, not by MOI
        ("taipei_gov", "moi_official", ["63000"], False),
        ("moi", "taipei_official", ["00000"], False),  # national: MOI only
        ("moi", "taipei_official", ["63000", "64000"], False),  # addressed to MOI, not Taipei
        ("moi", "taipei_official", ["64000", "65000"], False),  # other counties
        ("moi", "taipei_official", ["63000", "64000010"], False),  # partly outside
        ("taipei_gov", "khh_official", ["63000"], False),  # another county's official
        ("moi", "statistician", ["00000"], False),  # not an official
    ],
)
def test_grant_jurisdiction(
    session: Session, world: World, addressed: str, reviewer: str, areas: list[str], allowed: bool
) -> None:
    app = _apply(session, world, areas, provider=getattr(world, addressed))
    session.commit()
    official = getattr(world, reviewer)
    if allowed:
        approve(session, app, official, date(2025, 3, 1), date(2025, 4, 1), NOW)
        assert app.status == "approved"
        return
    with pytest.raises(JurisdictionError):
        approve(session, app, official, date(2025, 3, 1), date(2025, 4, 1), NOW)
    session.rollback()  # the caller's transaction is abandoned; the refusal's record stays
    refused = session.scalars(select(AuditEntry).where(AuditEntry.action == "grant.refused")).one()
    assert refused.actor == official.username and refused.object == f"application:{app.id}"
    assert session.get(Application, app.id).status == "submitted"  # type: ignore[union-attr]
    assert session.scalars(select(Grant)).all() == []


@pytest.mark.parametrize("areas", [["00000"], ["64000"], ["63000", "64000010001"]])
def test_county_provider_receives_only_its_own_area(
    session: Session, world: World, areas: list[str]
) -> None:
    with pytest.raises(ApplicationError, match="point 6"):
        _apply(session, world, areas, provider=world.taipei_gov)


@pytest.mark.parametrize(
    "tables, areas, channels",
    [
        (["nope"], ["00000"], ["online_query"]),
        (["population"], ["99999"], ["online_query"]),
        (["population"], ["6300001"], ["online_query"]),
        (["population"], ["00000"], ["fax"]),
        ([], ["00000"], ["online_query"]),
    ],
)
def test_application_invalid_lists_refused(
    session: Session, world: World, tables: list[str], areas: list[str], channels: list[str]
) -> None:
    with pytest.raises(ApplicationError):
        submit(session, world.agency, world.moi, tables, areas, channels, PURPOSE, full_rules(),
               NOW, legal_basis=LEGAL_BASIS, by=world.user)
