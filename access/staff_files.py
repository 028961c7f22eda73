"""Provider staff's own export files (the Table builder): kept 1 day, then deleted.

Deliveries are made to agencies (point 2), so a provider's staff member who exports a table
gets a file of their own instead: ``<outbox>/staff/<server-made id>/`` holding the file and a
``meta.json`` naming its owner and expiry. Fetching is the dashboards' business; deleting
expired ones happens on the next export and in ``popstats maintain --outbox``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from access import audit
from stats.outbox import remove_tree
from stats.store import Place

STAFF_FOLDER = "staff"
STAFF_RETENTION = timedelta(days=1)


def staff_root(outbox: Place) -> Place:
    return outbox / STAFF_FOLDER


def staff_record(folder: Place) -> dict[str, Any] | None:
    """A staff file's ``meta.json`` (None when missing or unreadable)."""
    try:
        return json.loads((folder / "meta.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def expired_staff_files(outbox: Place, now: datetime) -> list[str]:
    """Ids of staff files past their day (and of folders without a readable record)."""
    root = staff_root(outbox)
    folders = sorted(root.iterdir()) if root.is_dir() else []
    return [
        folder.name for folder in folders
        if (record := staff_record(folder)) is None
        or now >= datetime.fromisoformat(record["expires_at"])
    ]


def purge_staff_files(
    session: Session, outbox: Place, now: datetime, actor: str = "system"
) -> list[str]:
    """Delete every expired staff file; one audit entry lists those verified gone (the
    caller commits). A folder still present after deletion is not reported deleted: it is
    logged as ``staff_export.purge_failed`` and left for the next run (``failed_staff_purges``
    names them)."""
    removed, failed = [], {}
    for item_id in expired_staff_files(outbox, now):
        folder = staff_root(outbox) / item_id
        try:
            remove_tree(folder)
        except OSError as error:
            if folder.exists():
                failed[item_id] = str(error)
                continue
        if folder.exists():
            failed[item_id] = f"{folder} is still present after deletion"
        else:
            removed.append(item_id)
    if removed:
        audit.record(session, actor, "staff_export.purged", "staff_files", now, {"ids": removed})
    if failed:
        audit.record(session, actor, "staff_export.purge_failed", "staff_files", now,
                     {"failed": failed})
    return removed
