"""Extension decisions and dispute resolutions stay inside the decider's jurisdiction
(point 6): MOI decides anything, a county government only deliveries whose every area lies
in its county; refusals (wrong role or outside the jurisdiction) are audited and committed."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from access import deliveries
from access.accounts import add_user
from access.deliveries import DeliveryError
from access.grants import approve, submit
from access.models import AuditEntry, Delivery, Dispute, Extension
from tests.access.conftest import LEGAL_BASIS, NOW, PURPOSE, World, full_rules

# The agency holds a national grant (from MOI), so it may receive any area: each delivery
# below differs only in its areas, which decide who may rule on it.
AREAS = {
    "taipei": ["63000"],
    "taipei_village": ["63000010001"],
    "kaohsiung": ["64000"],
    "both": ["63000", "64000010"],
    "national": ["00000"],
}


@pytest.fixture
def granted(session: Session, world: World) -> World:
    """``world.user``'s agency granted population nationally by MOI (file transfer)."""
    app = submit(session, world.agency, world.moi, ["population"], ["00000"], ["file_transfer"],
                 PURPOSE, full_rules(), NOW, legal_basis=LEGAL_BASIS, by=world.user)
    approve(session, app, world.moi_official, date(2025, 1, 1), date(2099, 12, 31), NOW)
    session.commit()
    return world


def _delivered(session: Session, world: World, areas: list[str], folder: Path) -> Delivery:
    """A ready file-transfer delivery of ``areas`` to ``world.user``'s agency."""
    delivery = deliveries.create(
        session, world.user, "file_transfer", ["population"], "2025-02", areas, NOW
    )

    def write(d: Delivery) -> tuple[str, str]:
        path = folder / d.id
        path.write_bytes(b"x")
        return str(path), hashlib.sha256(b"x").hexdigest()

    assert deliveries.produce(session, delivery, write, NOW)
    session.commit()
    return delivery


def _refusals(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# who decides × which areas the delivery has → allowed?
CASES = [
    ("moi_official", "national", True),  # MOI: everything
    ("moi_official", "kaohsiung", True),
    ("taipei_official", "taipei", True),  # own county
    ("taipei_official", "taipei_village", True),  # a village of it
    ("taipei_official", "kaohsiung", False),  # another county
    ("taipei_official", "both", False),  # partly outside
    ("taipei_official", "national", False),  # national: MOI only
    ("khh_official", "taipei", False),
]


@pytest.mark.parametrize(("decider", "areas", "allowed"), CASES)
def test_extension_decision_jurisdiction(
    session: Session, granted: World, tmp_path: Path, decider: str, areas: str, allowed: bool
) -> None:
    delivery = _delivered(session, granted, AREAS[areas], tmp_path)
    expires = delivery.expires_at
    assert expires is not None
    ext = deliveries.request_extension(session, granted.user, delivery.id, 3, "資料量大", NOW)
    session.commit()
    official = getattr(granted, decider)
    if allowed:
        deliveries.decide_extension(session, ext, official, True, NOW)
        session.commit()
        assert delivery.expires_at == expires + timedelta(days=3)
        assert _refusals(session, "extension.decision_refused") == []
        return
    with pytest.raises(DeliveryError, match="point 6"):
        deliveries.decide_extension(session, ext, official, True, NOW)
    session.rollback()  # the caller abandons its transaction; the refusal's record stays
    session.expire_all()
    stored = session.get(Extension, ext.id)
    assert stored is not None and stored.decided_at is None and stored.approved is None
    assert session.get(Delivery, delivery.id).expires_at == expires  # type: ignore[union-attr]
    [refused] = _refusals(session, "extension.decision_refused")
    assert (refused.actor, refused.object) == (official.username, f"extension:{ext.id}")
    assert refused.agency_id == granted.agency.id and refused.details["areas"] == AREAS[areas]


@pytest.mark.parametrize(("decider", "areas", "allowed"), CASES)
def test_dispute_resolution_jurisdiction(
    session: Session, granted: World, tmp_path: Path, decider: str, areas: str, allowed: bool
) -> None:
    delivery = _delivered(session, granted, AREAS[areas], tmp_path)
    dispute = deliveries.raise_dispute(session, granted.user, delivery.id, "總數不符", NOW)
    session.commit()
    official = getattr(granted, decider)
    if allowed:
        deliveries.resolve_dispute(session, dispute, official, "已說明", NOW)
        session.commit()
        assert dispute.resolution == "已說明"
        assert _refusals(session, "dispute.resolution_refused") == []
        return
    with pytest.raises(DeliveryError, match="point 6"):
        deliveries.resolve_dispute(session, dispute, official, "已說明", NOW)
    session.rollback()
    session.expire_all()
    stored = session.get(Dispute, dispute.id)
    assert stored is not None and stored.resolved_at is None and stored.resolution is None
    [refused] = _refusals(session, "dispute.resolution_refused")
    assert (refused.actor, refused.object) == (official.username, f"dispute:{dispute.id}")
    assert refused.details["areas"] == AREAS[areas]


def test_wrong_roles_are_refused_and_audited(
    session: Session, granted: World, tmp_path: Path
) -> None:
    """A statistician may resolve disputes but not decide extensions; an auditor neither;
    an agency user never."""
    auditor = add_user(session, "aud", "lantern-river-4821", "auditor", NOW, provider=granted.moi)
    delivery = _delivered(session, granted, ["63000"], tmp_path)
    ext = deliveries.request_extension(session, granted.user, delivery.id, 3, "再一週", NOW)
    dispute = deliveries.raise_dispute(session, granted.user, delivery.id, "總數不符", NOW)
    session.commit()
    for refused_user in (granted.statistician, auditor, granted.user):
        with pytest.raises(DeliveryError, match="provider_official"):
            deliveries.decide_extension(session, ext, refused_user, True, NOW)
    for refused_user in (auditor, granted.user):
        with pytest.raises(DeliveryError, match="provider_statistician"):
            deliveries.resolve_dispute(session, dispute, refused_user, "x", NOW)
    deliveries.resolve_dispute(session, dispute, granted.statistician, "已更正", NOW)
    session.commit()
    assert ext.decided_at is None and dispute.resolution == "已更正"
    actors = [e.actor for e in _refusals(session, "extension.decision_refused")]
    assert actors == ["stat", "aud", "alice"]
    actors = [e.actor for e in _refusals(session, "dispute.resolution_refused")]
    assert actors == ["aud", "alice"]


def test_already_decided_is_refused_after_the_jurisdiction_check(
    session: Session, granted: World, tmp_path: Path
) -> None:
    """A second decision inside the jurisdiction is an ordinary error; from outside it, the
    jurisdiction refusal comes first (an outsider learns nothing of the request's state)."""
    delivery = _delivered(session, granted, ["63000"], tmp_path)
    ext = deliveries.request_extension(session, granted.user, delivery.id, 3, "再一週", NOW)
    deliveries.decide_extension(session, ext, granted.taipei_official, False, NOW)
    session.commit()
    with pytest.raises(DeliveryError, match="already decided"):
        deliveries.decide_extension(session, ext, granted.moi_official, True, NOW)
    with pytest.raises(DeliveryError, match="point 6"):
        deliveries.decide_extension(session, ext, granted.khh_official, True, NOW)
    assert [e.actor for e in _refusals(session, "extension.decision_refused")] == ["khh"]
