"""Deliveries through the three channels (point 2), retention (point 17), outages (point 15),
disputes (point 16).

Point 17: the provider keeps online query results 1 day, file transfers 7 days and media
packages 7 days, then deletes them; an expired delivery is refused on every access, and an
extension may be requested before expiry (a provider decides). A timely request still
undecided at expiry keeps the delivery (not deleted, not handed out) until the decision:
then the new expiry holds, or the old one if refused, and a passed one deletes at once.
"Purged" is recorded only once the files are verified gone; downloads are audited by the
caller after the bytes went out (``record_download``), never before. Point 15: a request that fails
on the provider's side stays ``pending`` with its error and attempts, and is retried; nothing
is lost. Point 16: doubts are raised within 7 days of receipt, Asia/Taipei calendar (day 7
accepted, day 8 refused).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from access import audit
from access.accounts import AccessError
from access.calendar import local_date
from access.grants import actor_of, agency_rules
from access.models import Delivery, Dispute, Extension, User
from access.permissions import area_covers, can_view
from stats import outbox as outbox_files
from stats.outbox import outbox_place
from stats.said import said
from stats.store import Place
from stats.taipei import format_time

RETENTION = {
    "online_query": timedelta(days=1),
    "file_transfer": timedelta(days=7),
    "media_exchange": timedelta(days=7),
}
DISPUTE_DAYS = 7
MAX_EXTENSION_DAYS = 30


class Forbidden(AccessError):
    """Outside the caller's grant, or the agency is suspended, lapsed or terminated."""


class DeliveryExpired(AccessError):
    """A delivery past its retention period (point 17)."""


class DeliveryError(AccessError):
    """Any other refused delivery step (not ready, wrong agency, late dispute, ...)."""


class ExtensionPending(DeliveryError):
    """Past its expiry, but kept: a timely extension request awaits a decision (point 17)."""


class UnplaceablePath(DeliveryError):
    """A delivery's recorded place that cannot be turned into an absolute path with certainty
    (a relative path recorded by an earlier version, and no outbox to resolve it against)."""


class UnproducibleRequest(DeliveryError):
    """A request that can never be produced as asked (not a provider-side fault): ``produce``
    lets it through instead of keeping the delivery pending for a retry that cannot help."""


def authorize(
    session: Session,
    user: User,
    tables: Iterable[str],
    areas: Iterable[str],
    channel: str,
    now: datetime,
) -> None:
    """Pass if ``can_view`` allows every table × area; else audit the refusal, commit, raise."""
    tables, areas = list(tables), list(areas)
    rules = agency_rules(session, user.agency_id) if user.agency_id is not None else []
    actor = actor_of(user)
    denied = [
        f"{t}@{a}" for t in tables for a in areas if not can_view(actor, t, a, channel, rules, now)
    ]
    if denied or not tables or not areas:
        audit.record(
            session,
            user.username,
            "access.refused",
            f"tables:{','.join(tables)}",
            now,
            {"channel": channel, "denied": denied, "areas": areas},
            agency_id=user.agency_id,
        )
        session.commit()
        raise Forbidden(
            f"{', '.join(denied) or 'nothing requested'} through {channel} is outside "
            f"{user.username!r}'s grant, or the grant is suspended, lapsed, terminated or "
            "not in force"
        )


def create(
    session: Session,
    user: User,
    channel: str,
    tables: list[str],
    period: str,
    areas: list[str],
    now: datetime,
    options: dict[str, Any] | None = None,
) -> Delivery:
    """Record a requested delivery (authorised first); ``pending`` until produced."""
    authorize(session, user, tables, areas, channel, now)
    if user.agency_id is None:
        raise DeliveryError("deliveries are made to agencies")
    delivery = Delivery(
        id=secrets.token_hex(16),
        agency_id=user.agency_id,
        user_id=user.id,
        channel=channel,
        tables=list(tables),
        period=period,
        areas=list(areas),
        options=dict(options or {}),
        status="pending",
        attempts=0,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    audit.record(
        session,
        user.username,
        "delivery.created",
        f"delivery:{delivery.id}",
        now,
        {"channel": channel, "tables": list(tables), "period": period, "areas": areas},
        agency_id=user.agency_id,
    )
    return delivery


def produce(
    session: Session,
    delivery: Delivery,
    producer: Callable[[Delivery], tuple[str, str]],
    now: datetime,
) -> bool:
    """Run ``producer`` (returns server path and SHA-256); on failure keep it pending (point 15).

    Returns whether the delivery is ready. The retention clock starts when it is ready.
    """
    delivery.attempts += 1
    try:
        path, digest = producer(delivery)
    except UnproducibleRequest:
        raise
    except Exception as exc:  # noqa: BLE001 - any provider-side fault is kept and retried
        delivery.status, delivery.last_error = "pending", f"{type(exc).__name__}: {exc}"
        audit.record(
            session,
            "system",
            "delivery.failed",
            f"delivery:{delivery.id}",
            now,
            {
                "channel": delivery.channel,
                "attempt": delivery.attempts,
                "error": delivery.last_error,
            },
            agency_id=delivery.agency_id,
        )
        session.flush()
        return False
    # recorded absolute, against the folder the file was just written from: a later job or
    # server started elsewhere must find (and delete) this very file
    delivery.status, delivery.path, delivery.sha256, delivery.last_error = (
        "ready",
        outbox_files.recorded(path),
        digest,
        None,
    )
    delivery.delivered_at = now
    delivery.expires_at = now + RETENTION[delivery.channel]
    audit.record(
        session,
        "system",
        "delivery.ready",
        f"delivery:{delivery.id}",
        now,
        {
            "channel": delivery.channel,
            "sha256": digest,
            "expires_at": delivery.expires_at.isoformat(),
        },
        agency_id=delivery.agency_id,
    )
    session.flush()
    return True


# Online-query answers are not kept when their production fails (the agency asks again);
# file transfers and media packages are re-produced from their stored request.
RETRIED_CHANNELS = ("file_transfer", "media_exchange")


def pending_deliveries(session: Session) -> list[Delivery]:
    """Pending deliveries that a retry can produce, oldest first."""
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.status == "pending", Delivery.channel.in_(RETRIED_CHANNELS))
            .order_by(Delivery.created_at, Delivery.id)
        )
    )


def _awaiting_decision() -> Any:
    """SQL: the delivery has a timely extension request not yet decided (point 17 lets the
    agency ask before expiry; the data is kept until the provider has answered)."""
    return exists().where(
        Extension.delivery_id == Delivery.id,
        Extension.decided_at.is_(None),
        Extension.requested_at < Delivery.expires_at,
    )


def pending_extension(session: Session, delivery: Delivery) -> Extension | None:
    """The delivery's timely extension request still awaiting a decision, if any."""
    if delivery.expires_at is None:
        return None
    return session.scalars(
        select(Extension)
        .where(Extension.delivery_id == delivery.id, Extension.decided_at.is_(None),
               Extension.requested_at < delivery.expires_at)
        .order_by(Extension.id)
    ).first()


def expired_deliveries(session: Session, now: datetime) -> list[Delivery]:
    """Deliveries past their retention whose files are not yet purged, oldest expiry first;
    one with a timely extension request awaiting a decision is kept until it is decided."""
    return list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.purged_at.is_(None),
                Delivery.expires_at.is_not(None),
                Delivery.expires_at <= now,
                ~_awaiting_decision(),
            )
            .order_by(Delivery.expires_at, Delivery.id)
        )
    )


def retry_pending(
    session: Session, producer: Callable[[Delivery], tuple[str, str]], now: datetime
) -> list[Delivery]:
    """Retry every pending file or media delivery once (after the provider's system is
    repaired); returns those now ready. One that can no longer be produced as asked (its
    data changed under it) is marked failed, with the reason, rather than retried for ever."""
    ready = []
    for delivery in pending_deliveries(session):
        try:
            if produce(session, delivery, producer, now):
                ready.append(delivery)
        except UnproducibleRequest as error:
            delivery.status, delivery.last_error = "failed", str(error)
            audit.record(session, "system", "delivery.failed", f"delivery:{delivery.id}", now,
                         {"channel": delivery.channel, "error": str(error)[:2000],
                          "final": True}, agency_id=delivery.agency_id)
    return ready


def status(session: Session, user: User, delivery_id: str) -> Delivery:
    """The agency's view of one of its deliveries (status, attempts, last error, expiry)."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.agency_id != user.agency_id:
        raise DeliveryError(said(f"no delivery {delivery_id!r} for {user.username!r}",
                                 f"{user.username} 沒有編號 {delivery_id[:64]} 的交付"))
    return delivery


def fetch(session: Session, user: User, delivery_id: str, now: datetime) -> Delivery:
    """The user's agency's delivery if it may be handed over now: ready, unexpired, still
    granted; found by its server-made id only. Records no download: the caller sends the
    file and then records what happened with ``record_download``.

    Raises
    ------
    DeliveryError
        Not this agency's, or not ready; ``ExtensionPending`` past expiry while a timely
        extension request awaits a decision.
    DeliveryExpired
        Past its retention (audited and committed first).
    Forbidden
        Outside the grant now (audited and committed first).
    """
    delivery = status(session, user, delivery_id)
    if delivery.status != "ready":
        raise DeliveryError(said(
            f"delivery {delivery_id} is {delivery.status} "
            f"(attempts {delivery.attempts}; {delivery.last_error or 'waiting'})",
            f"交付 {delivery_id} 尚未完成"
            f"（狀態 {delivery.status}，已嘗試 {delivery.attempts} 次）"))
    past_expiry = delivery.expires_at is not None and now >= delivery.expires_at
    if past_expiry and delivery.purged_at is None and pending_extension(session, delivery):
        raise ExtensionPending(said(
            f"delivery {delivery_id} reached its expiry at "
            f"{format_time(delivery.expires_at, 'en')}; it is kept while your extension "
            "request awaits the provider's decision, and can be downloaded again once the "
            "extension is approved (point 17)",
            f"交付 {delivery_id} 已於 {format_time(delivery.expires_at, 'zh')} 到期；延長申請待"
            "提供機關決定期間保留，核准後可再下載（第十七點）"))
    if delivery.purged_at is not None or past_expiry:
        audit.record(
            session,
            user.username,
            "delivery.expired",
            f"delivery:{delivery.id}",
            now,
            {"channel": delivery.channel},
            agency_id=user.agency_id,
        )
        session.commit()
        kept = RETENTION[delivery.channel].days
        raise DeliveryExpired(said(
            f"delivery {delivery_id} expired at {format_time(delivery.expires_at, 'en')} "
            f"({delivery.channel} results are kept {kept} day(s), point 17); "
            "request it again",
            f"交付 {delivery_id} 已於 {format_time(delivery.expires_at, 'zh')} 到期"
            f"（此管道的結果保留 {kept} 日，第十七點）；請重新申請"))
    authorize(session, user, delivery.tables, delivery.areas, delivery.channel, now)
    return delivery


def record_download(
    session: Session,
    user: User,
    delivery: Delivery,
    now: datetime,
    sent: bool,
    sent_bytes: int,
    total_bytes: int,
    error: str | None = None,
) -> None:
    """Audit what became of a download, once it is known (the caller commits): ``download``
    when every byte was handed to the connection, ``download.failed`` with the reason
    otherwise. Never before the fact: an entry says what happened."""
    details: dict[str, Any] = {
        "channel": delivery.channel,
        "tables": list(delivery.tables),
        "period": delivery.period,
        "sha256": delivery.sha256,
        "bytes": total_bytes,
    }
    if isinstance(delivery.options, dict) and "describes" in delivery.options:
        details["describes"] = delivery.options["describes"]  # a chart's picture: what it shows
    if not sent:
        details |= {"sent_bytes": sent_bytes, "error": error or "not sent"}
    audit.record(session, user.username, "download" if sent else "download.failed",
                 f"delivery:{delivery.id}", now, details, agency_id=user.agency_id)


def stored_path(delivery: Delivery, outbox: Place | None = None) -> Place | None:
    """The absolute place of a delivery's file or folder (None: it has none).

    Paths are recorded absolute (``stats.locations`` resolves the outbox at start-up), or as
    the ``s3://`` place of an outbox in a bucket (``stats.outbox``). A
    relative one recorded by an earlier version named ``<outbox>/<id>`` relative to a
    folder nobody remembers: it is placed under the ``outbox`` given, and refused otherwise
    — guessing against the current folder is how files were left behind.

    Raises
    ------
    UnplaceablePath
        A relative path and no outbox, or one not of the ``<outbox>/<id>`` form.
    """
    if not delivery.path:
        return None
    recorded = outbox_place(delivery.path)
    if recorded.is_absolute():
        return recorded
    if outbox is not None and outbox.is_absolute() and recorded.name == delivery.id:
        return outbox / delivery.id
    raise UnplaceablePath(
        f"delivery {delivery.id} has the relative path {delivery.path!r} (recorded by an "
        "earlier version); give the outbox it was written to (popstats maintain --outbox DIR)"
        if outbox is None else
        f"delivery {delivery.id} has the relative path {delivery.path!r}, which is not "
        f"<outbox>/<id>; it cannot be placed under {outbox}"
    )


def purge_one(
    session: Session, delivery: Delivery, now: datetime, actor: str = "system",
    outbox: Place | None = None,
) -> bool:
    """Delete one delivery's files and record what happened (the caller commits).

    ``delivery.purged`` is recorded, and ``purged_at`` set, only once the files are verified
    absent. Anything else — a path that cannot be placed, a legacy relative path whose files
    are not where it says (they may be elsewhere), a deletion refused, files still present
    afterwards — is recorded as ``delivery.purge_failed`` with the reason, and the delivery
    stays due for the next run. Returns whether it was purged.
    """
    details = {"channel": delivery.channel, "path": delivery.path,
               "sha256": delivery.sha256, "expired_at": str(delivery.expires_at)}
    try:
        target = stored_path(delivery, outbox)
        if target is not None and delivery.path != str(target) and not outbox_files.exists(target):
            raise UnplaceablePath(f"no files at {target} for the relative path "
                                  f"{delivery.path!r}; they may be elsewhere")
        removed = outbox_files.remove(target) if target is not None else False
        if target is not None and outbox_files.exists(target):
            raise OSError(f"{target} is still present after deletion")
    except (OSError, UnplaceablePath) as error:
        audit.record(session, actor, "delivery.purge_failed", f"delivery:{delivery.id}", now,
                     {**details, "error": str(error)}, agency_id=delivery.agency_id)
        return False
    delivery.purged_at = now
    audit.record(session, actor, "delivery.purged", f"delivery:{delivery.id}", now,
                 {**details, "deleted": str(target) if target else None, "removed": removed,
                  "verified_absent": True}, agency_id=delivery.agency_id)
    return True


def purge(
    session: Session, now: datetime, actor: str = "system", outbox: Place | None = None
) -> list[Delivery]:
    """Delete the files of every expired delivery (``purge_one``); the purged ones.

    A delivery whose files cannot be deleted is logged (``delivery.purge_failed``) and left
    for the next run, without holding up the others: retention must not stop for everyone.
    ``outbox`` places paths recorded relative by earlier versions (``stored_path``).
    """
    return [d for d in expired_deliveries(session, now)
            if purge_one(session, d, now, actor, outbox)]


def request_extension(
    session: Session, user: User, delivery_id: str, days: int, reason: str, now: datetime
) -> Extension:
    """Ask, before expiry, to keep a delivery ``days`` longer."""
    delivery = status(session, user, delivery_id)
    if delivery.expires_at is None or now >= delivery.expires_at or delivery.purged_at:
        raise DeliveryError(said(
            f"delivery {delivery_id} has expired or is not ready; an extension "
            "must be requested before expiry (point 17)",
            f"交付 {delivery_id} 已到期或尚未完成；延長須於到期前申請（第十七點）"))
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise DeliveryError(said(f"an extension is 1 to {MAX_EXTENSION_DAYS} days, not {days}",
                                 f"延長天數為 1 至 {MAX_EXTENSION_DAYS} 日，不能是 {days}"))
    if (earlier := pending_extension(session, delivery)) is not None:
        raise DeliveryError(said(
            f"delivery {delivery_id} already has an extension request awaiting "
            f"a decision (request {earlier.id})",
            f"交付 {delivery_id} 已有待決定的延長申請（申請 {earlier.id}）"))
    ext = Extension(
        delivery_id=delivery.id, requested_by=user.id, requested_at=now, days=days, reason=reason
    )
    session.add(ext)
    session.flush()
    audit.record(
        session,
        user.username,
        "extension.requested",
        f"delivery:{delivery.id}",
        now,
        {"days": days, "reason": reason},
        agency_id=user.agency_id,
    )
    return ext


def _refuse_decision(
    session: Session,
    official: User,
    action: str,
    obj: str,
    delivery: Delivery | None,
    now: datetime,
    message: str,
) -> None:
    """Audit a refused provider decision, commit that record, raise (as ``grants._refuse``)."""
    audit.record(
        session,
        official.username,
        action,
        obj,
        now,
        {"reason": message, "areas": list(delivery.areas) if delivery else []},
        agency_id=delivery.agency_id if delivery else None,
    )
    session.commit()
    raise DeliveryError(message)


def _decision_problem(official: User, roles: tuple[str, ...], delivery: Delivery | None) -> str:
    """Why ``official`` may not decide on ``delivery`` ("" = may): only provider staff of
    ``roles`` whose jurisdiction encloses every area of the delivery (point 6): MOI
    (``00000``) anything, a county government its own county only."""
    if official.role not in roles or official.provider is None:
        return said(f"{official.username!r} is not {' or '.join(roles)}; only such provider "
                    "staff decide", f"{official.username} 無權決定；只有提供機關的權責人員能決定")
    if delivery is None:
        return said("no such delivery", "查無此交付")
    jurisdiction = official.provider.jurisdiction
    if outside := [a for a in delivery.areas if not area_covers(jurisdiction, a)]:
        return said(
            f"{official.provider.name} decides only within {jurisdiction}; delivery "
            f"{delivery.id} has areas outside it: {', '.join(outside)} (point 6)",
            f"{official.provider.name}只能決定其轄區（{jurisdiction}）內的事項；交付 "
            f"{delivery.id} 含轄區外的地區：{'、'.join(outside)}（第六點）")
    return ""


def decide_extension(
    session: Session, ext: Extension, official: User, approve: bool, now: datetime
) -> None:
    """A provider official approves (expiry moves by the days asked, from the old expiry) or
    refuses an extension request. The delivery was kept while the request waited (point 17):
    if its expiry — the new one, or the old one when refused — has passed by the decision,
    its files are purged at once (``purge_one``; a failure is logged and the next
    ``popstats maintain`` retries).

    Raises
    ------
    DeliveryError
        Not a provider official, a delivery outside the official's jurisdiction (both audited
        and committed first), or the request was already decided.
    """
    delivery = session.get(Delivery, ext.delivery_id)
    if problem := _decision_problem(official, ("provider_official",), delivery):
        _refuse_decision(
            session,
            official,
            "extension.decision_refused",
            f"extension:{ext.id}",
            delivery,
            now,
            problem,
        )
    assert delivery is not None
    if ext.decided_at is not None:
        raise DeliveryError(said(f"extension {ext.id} was already decided",
                                 f"延長申請 {ext.id} 已決定"))
    assert delivery.expires_at is not None
    ext.decided_by, ext.decided_at, ext.approved = official.id, now, approve
    if approve:
        delivery.expires_at += timedelta(days=ext.days)
    audit.record(
        session,
        official.username,
        "extension.decided",
        f"delivery:{delivery.id}",
        now,
        {"approved": approve, "expires_at": delivery.expires_at.isoformat()},
        agency_id=delivery.agency_id,
    )
    session.flush()
    if delivery.purged_at is None and now >= delivery.expires_at:
        purge_one(session, delivery, now, official.username)


def raise_dispute(
    session: Session, user: User, delivery_id: str, description: str, now: datetime
) -> Dispute:
    """Raise a doubt about received data: day 7 after receipt is the last day (point 16)."""
    delivery = status(session, user, delivery_id)
    if delivery.delivered_at is None:
        raise DeliveryError(said(f"delivery {delivery_id} has not been received",
                                 f"交付 {delivery_id} 尚未收受"))
    received, today = local_date(delivery.delivered_at), local_date(now)
    if (today - received).days > DISPUTE_DAYS:
        last_day = received + timedelta(days=DISPUTE_DAYS)
        raise DeliveryError(said(
            f"received on {received}: doubts must be raised by {last_day} (7 days, point 16)",
            f"收受日 {received}：疑義須於 {last_day} 前提出（7 日內，第十六點）")
        )
    dispute = Dispute(
        delivery_id=delivery.id, raised_by=user.id, raised_at=now, description=description
    )
    session.add(dispute)
    session.flush()
    audit.record(
        session,
        user.username,
        "dispute.raised",
        f"dispute:{dispute.id}",
        now,
        {"delivery": delivery.id, "description": description},
        agency_id=user.agency_id,
    )
    return dispute


def resolve_dispute(
    session: Session, dispute: Dispute, official: User, resolution: str, now: datetime
) -> None:
    """The provider records the investigation's resolution.

    Raises
    ------
    DeliveryError
        Not provider staff (official or statistician), a delivery outside their jurisdiction
        (both audited and committed first), or the dispute is already resolved.
    """
    delivery = session.get(Delivery, dispute.delivery_id)
    staff = ("provider_official", "provider_statistician")
    if problem := _decision_problem(official, staff, delivery):
        _refuse_decision(
            session,
            official,
            "dispute.resolution_refused",
            f"dispute:{dispute.id}",
            delivery,
            now,
            problem,
        )
    assert delivery is not None
    if dispute.resolved_at is not None:
        raise DeliveryError(said(f"dispute {dispute.id} is already resolved",
                                 f"疑義 {dispute.id} 已處理完畢"))
    dispute.resolved_by, dispute.resolved_at, dispute.resolution = official.id, now, resolution
    audit.record(
        session,
        official.username,
        "dispute.resolved",
        f"dispute:{dispute.id}",
        now,
        {"resolution": resolution},
        agency_id=delivery.agency_id,
    )


def record_answer(
    session: Session,
    user: User,
    channel: str,
    tables: list[str],
    period: str,
    areas: list[str],
    content: bytes,
    outbox: Place,
    now: datetime,
) -> Delivery:
    """Authorise, store ``content`` under a server-made id in ``outbox`` and mark it ready.

    The online query API calls this for every answer (kept 1 day); exports and media
    packages likewise with their bytes (kept 7 days).
    """
    delivery = create(session, user, channel, tables, period, areas, now)

    def write(d: Delivery) -> tuple[str, str]:
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / d.id
        path.write_bytes(content)
        return str(path), hashlib.sha256(content).hexdigest()

    produce(session, delivery, write, now)
    return delivery


def record_view(
    session: Session, user: User, table: str, areas: list[str], period: str, now: datetime
) -> None:
    """Authorise a dashboard view of ``table`` for ``areas`` and audit it (points 2, 18).

    Raises
    ------
    Forbidden
        Outside the grant (the refusal is audited and committed first).
    """
    authorize(session, user, [table], areas, "online_query", now)
    audit.record(
        session,
        user.username,
        "view",
        f"table:{table}",
        now,
        {"channel": "online_query", "period": period, "areas": areas},
        agency_id=user.agency_id,
    )


def record_online_answer(
    session: Session,
    user: User,
    table: str,
    period: str,
    areas: list[str],
    answer: dict[str, Any],
    now: datetime,
) -> Delivery:
    """Record one online-query answer as a delivery kept 1 day (points 2, 17), without a copy
    of its bytes: releases are immutable and checksummed, so what was asked (``answer``: the
    release revision, the query, the format and page) plus the answer's SHA-256 and size
    reproduce it on demand (``access.api.reproduce_answer``). Nothing is written to the
    outbox, so a flood of large answers cannot fill the disk.

    The caller has authorised the query (``access.api``: grant, table and areas) and audits
    it as ``query`` with the checksum; this adds the delivery and its ``delivery.created``
    entry. ``answer`` must hold ``sha256`` and ``size``. The caller commits before sending
    the answer: an answer that has no delivery record is never sent.
    """
    if user.agency_id is None:
        raise DeliveryError("deliveries are made to agencies")
    delivery = Delivery(
        id=secrets.token_hex(16), agency_id=user.agency_id, user_id=user.id,
        channel="online_query", tables=[table], period=period, areas=list(areas),
        options={k: v for k, v in answer.items() if k != "sha256"}, status="ready",
        attempts=1, path=None, sha256=answer["sha256"], created_at=now, delivered_at=now,
        expires_at=now + RETENTION["online_query"],
    )
    session.add(delivery)
    audit.record(session, user.username, "delivery.created", f"delivery:{delivery.id}", now,
                 {"channel": "online_query", "tables": [table], "period": period,
                  "areas": list(areas), "sha256": answer["sha256"], "size": answer["size"],
                  "expires_at": delivery.expires_at.isoformat()},  # type: ignore[union-attr]
                 agency_id=user.agency_id)
    return delivery
