"""The statistician's release workflow: publish (now or embargoed), list, plan a calendar.

A built revision is a draft. Publishing records who published it and from when it is
public (``publication.at``) in its manifest; nothing of a period is visible to agencies
before that moment. A newer revision that becomes public supersedes the older ones,
which stay readable. States are derived from the manifests and the clock, never stored
twice: draft → scheduled → published → superseded.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from stats.periods import Period
from stats.release import (
    MANIFEST,
    REVISIONS,
    ReleaseError,
    current_revision_dir,
    read_manifest,
    revision_dirs,
    write_json_atomic,
)

CALENDAR = "calendar.json"


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_public(manifest: dict[str, Any], now: datetime) -> bool:
    """Whether a revision's publication time has been reached."""
    publication = manifest.get("publication")
    return bool(publication) and _parse_time(publication["at"]) <= now


def revision_state(manifests: list[dict[str, Any]], index: int, now: datetime) -> str:
    """State of revision ``index`` among a period's revisions (oldest first)."""
    manifest = manifests[index]
    if not manifest.get("publication"):
        return "draft"
    if not is_public(manifest, now):
        return "scheduled"
    if any(is_public(later, now) for later in manifests[index + 1 :]):
        return "superseded"
    return "published"


def publish(
    releases: Path,
    period: str,
    *,
    by: str,
    now: datetime,
    at: datetime | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Publish the current revision of ``period`` at ``at`` (default: now).

    Raises
    ------
    ReleaseError
        When the period was never built or its current revision is already public.
    """
    Period.parse(period)
    revision_dir = current_revision_dir(releases, period)
    manifest = read_manifest(revision_dir)
    if is_public(manifest, now):
        raise ReleaseError(
            f"{period} revision {manifest['revision']} is already published "
            f"(at {manifest['publication']['at']}); build a new revision to revise it"
        )
    when = (at or now).astimezone(UTC)
    manifest["publication"] = {
        "at": when.isoformat(timespec="seconds"),
        "by": by,
        "recorded_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "note": note or manifest.get("note", ""),
    }
    manifest["status"] = "published" if when <= now else "scheduled"
    write_json_atomic(revision_dir / MANIFEST, manifest)
    return manifest


def published_revision_dir(releases: Path, period: str, now: datetime) -> Path | None:
    """The newest public revision of a period: what agencies may see (None if none)."""
    for folder in reversed(revision_dirs(releases, period)):
        if is_public(read_manifest(folder), now):
            return folder
    return None


def list_releases(releases: Path, now: datetime) -> list[dict[str, Any]]:
    """Every revision of every period with its state, for listings and dashboards."""
    rows = []
    root = releases / REVISIONS
    periods = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for period in periods:
        folders = revision_dirs(releases, period)
        manifests = [read_manifest(f) for f in folders]
        for i, manifest in enumerate(manifests):
            publication = manifest.get("publication") or {}
            rows.append(
                {
                    "period": period,
                    "kind": manifest["kind"],
                    "revision": manifest["revision"],
                    "state": revision_state(manifests, i, now),
                    "created_at": manifest["created_at"],
                    "published_at": publication.get("at"),
                    "published_by": publication.get("by"),
                    "note": publication.get("note") or manifest.get("note", ""),
                    "path": str(folders[i]),
                }
            )
    return rows


def read_calendar(releases: Path) -> list[dict[str, Any]]:
    """The release calendar: planned periods and dates, in date order."""
    path = releases / CALENDAR
    if not path.exists():
        return []
    entries = json.loads(path.read_text(encoding="utf-8"))["entries"]
    return sorted(entries, key=lambda e: (e["planned"], e["period"]))


def plan_release(releases: Path, period: str, planned: date, note: str = "") -> list[dict[str, Any]]:
    """Add or move a period's planned publication date in the calendar."""
    Period.parse(period)
    releases.mkdir(parents=True, exist_ok=True)
    entries = [e for e in read_calendar(releases) if e["period"] != period]
    entries.append({"period": period, "planned": planned.isoformat(), "note": note})
    write_json_atomic(releases / CALENDAR, {"entries": entries})
    return read_calendar(releases)
