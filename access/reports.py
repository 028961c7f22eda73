"""Periodic audit reports per agency (point 18): what was obtained, how, and by whom."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from access.calendar import end_of_day, start_of_day
from access.models import AuditEntry

# Actions that deliver data to an agency (the agency's "log of data obtained").
DELIVERY_ACTIONS = ("view", "query", "download", "delivery.created", "delivery.fetched")


def agency_report(session: Session, agency_id: int, first: date, last: date,
                  within: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
                  ) -> dict[str, Any]:
    """The agency's audit entries from ``first`` to ``last`` (Asia/Taipei dates, inclusive).

    Returns ``{"agency_id", "from", "to", "entries", "obtained", "summary"}``: every entry,
    the data-obtaining ones, and counts by (action, channel, actor). ``within`` keeps only
    the entries a reader may see (an official's jurisdiction), before anything is counted.
    """
    rows = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.agency_id == agency_id,
            AuditEntry.time >= start_of_day(first),
            AuditEntry.time < end_of_day(last),
        )
        .order_by(AuditEntry.seq)
    ).all()
    entries: list[dict[str, Any]] = [
        {
            "seq": e.seq,
            "time": e.time.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "object": e.object,
            "details": e.details,
        }
        for e in rows
    ]
    if within is not None:
        entries = within(entries)
    obtained = [e for e in entries if e["action"] in DELIVERY_ACTIONS]
    counts = Counter(
        (e["action"], str(e["details"].get("channel", "")), e["actor"]) for e in entries
    )
    summary = [
        {"action": a, "channel": c or None, "actor": u, "count": n}
        for (a, c, u), n in sorted(counts.items())
    ]
    return {
        "agency_id": agency_id,
        "from": str(first),
        "to": str(last),
        "entries": entries,
        "obtained": obtained,
        "summary": summary,
    }
