"""Telling an agency that a file or media delivery it waited for is ready (point 15).

A delivery left pending by a provider-side fault is produced again by ``popstats maintain``
once the system is repaired. The agency sees it on its deliveries page (status ready) and
in its own log (``delivery.ready``, then ``delivery.notified``); and when the provider sets
``POPSTATS_NOTIFY_URL``, that URL is POSTed a small JSON message per delivery (ids and dates,
never data) — e.g. a relay that mails or messages the agency's contact. A webhook that fails
is logged (``delivery.notify_failed``) and does not hold anything up: the log still tells.
"""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from access import audit
from access.models import Delivery

NOTIFY_ENV = "POPSTATS_NOTIFY_URL"
TIMEOUT_SECONDS = 5


def message(delivery: Delivery) -> dict[str, object]:
    """What the webhook is told about one ready delivery: no data, only what and when."""
    return {
        "event": "delivery.ready",
        "delivery": delivery.id,
        "agency_id": delivery.agency_id,
        "channel": delivery.channel,
        "period": delivery.period,
        "tables": list(delivery.tables),
        "attempts": delivery.attempts,
        "ready_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
        "expires_at": delivery.expires_at.isoformat() if delivery.expires_at else None,
        "note": "ready after a provider-side outage (point 15); fetch it from your deliveries",
    }


def _post(url: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "popstats"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
        return int(answer.status)


def announce_ready(session: Session, delivery_ids: list[str], now: datetime,
                   url: str | None = None) -> list[str]:
    """Tell each agency that its delivery is ready: an audit entry in its log, and the
    webhook when configured (``url``, else ``$POPSTATS_NOTIFY_URL``). Returns the ids whose
    webhook failed (each logged). The caller commits."""
    url = url if url is not None else os.environ.get(NOTIFY_ENV, "")
    failed = []
    for delivery_id in delivery_ids:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status != "ready":
            continue
        details: dict[str, object] = {"channel": delivery.channel, "via": ["log"]}
        if url:
            try:
                if urlsplit(url).scheme not in ("http", "https"):
                    raise ValueError(f"{NOTIFY_ENV} must be an http(s) URL")
                details["webhook_status"] = _post(url, message(delivery))
                details["via"] = ["log", "webhook"]
            except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
                failed.append(delivery_id)
                audit.record(session, "system", "delivery.notify_failed",
                             f"delivery:{delivery.id}", now,
                             {"channel": delivery.channel, "error": f"{type(error).__name__}: "
                              f"{str(error)[:500]}"}, agency_id=delivery.agency_id)
        audit.record(session, "system", "delivery.notified", f"delivery:{delivery.id}", now,
                     details, agency_id=delivery.agency_id)
    return failed
