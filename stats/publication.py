"""The statistician's release workflow: publish (now or embargoed), list, plan a calendar.

A built revision is a draft and its folder never changes again. Publishing appends a
record — revision, from when it is public (``at``), who, when recorded, note — to the
period's append-only log ``RELEASES/.revisions/P/publications.jsonl``; nothing of a period
is visible to agencies before that moment. A newer revision that becomes public supersedes
the older ones, which stay readable. States are derived from the log and the clock, never
stored twice: draft → scheduled → published → superseded.

Concurrent publishers are serialised by an exclusive lock on the period's
``.publish.lock``; under it a publisher compares the revision's state with the one it
expects (a draft, or a scheduled revision when rescheduling) and appends only if they
match, so of several racing publishers exactly one wins and the others are refused with
the winner's name.

In an object store (``s3://``, stats.store) there is no append and no lock: each record is
its own object ``.revisions/P/publications/NNNNNNNN.json``, put only if absent. A publisher
counts the records, decides from them, and puts record count+1: if another publisher put it
meanwhile, the put fails, nothing is written, and the publisher decides again from the log
that now holds the winner's record — the same compare-and-set, kept by the store.

Releases published before the log existed carry a ``publication`` block in their
manifest; it is read as that revision's first log record.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from stats.periods import Period
from stats.release import (
    MANIFEST,
    REVISIONS,
    ReleaseError,
    as_umask_allows,
    current_revision_dir,
    read_manifest,
    revision_dirs,
    write_json_atomic,
)
from stats.store import is_remote
from stats.taipei import format_time, iso, to_taipei

CALENDAR = "calendar.json"
PUBLICATIONS = "publications.jsonl"
PUBLISH_LOCK = ".publish.lock"
RECORDS = "publications"  # in an object store: one object per record, in this "folder"


class PublicationConflict(ReleaseError):
    """The revision's state was not the one the publisher expected: someone else won."""


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


# --- the log --------------------------------------------------------------------------------


def _log_path(releases: Path, period: str) -> Path:
    return releases / REVISIONS / period / PUBLICATIONS


def read_log(releases: Path, period: str) -> list[dict[str, Any]]:
    """The period's publication records, oldest first.

    A line that is not JSON is a record whose writer died mid-``write`` (the next append
    starts on a new line after it): that publication never took effect and is skipped.

    Raises
    ------
    ReleaseError
        For a JSON line that is not a publication record (the log was edited by hand).
    """
    path = _log_path(releases, period)
    try:
        text = _log_text(path)
    except FileNotFoundError:
        return []
    records = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # torn by a killed writer
        try:
            _moment(record["at"])
            int(record["revision"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ReleaseError(f"{path}, line {number}: not a publication record ({exc})") from exc
        records.append(record)
    return records


def _record_objects(log: Path) -> list[Path]:
    """An object store's records of a period, in order (their names are their numbers)."""
    folder = log.parent / RECORDS
    return [folder / key for key in sorted(folder.walk_keys()) if key.endswith(".json")]


def _log_text(log: Path) -> str:
    """The log's lines: the file, or in an object store its record objects one a line."""
    if is_remote(log):
        return "\n".join(record.read_text(encoding="utf-8", errors="replace")
                         for record in _record_objects(log))
    return log.read_text(encoding="utf-8", errors="replace")


def _append(releases: Path, period: str, record: dict[str, Any], seen: int = 0) -> bool:
    """Append one record in a single ``write`` and make it durable before returning.

    In an object store: put it as record ``seen + 1`` if that is still free, and say whether
    it was (False: another publisher appended after the ``seen`` records were counted)."""
    path = _log_path(releases, period)
    line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
    if is_remote(path):
        return (path.parent / RECORDS / f"{seen + 1:08d}.json").put_if_absent(line.encode("utf-8"))
    new = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = "\n" + line  # after a torn line from a killed writer, a line of our own
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        as_umask_allows(path)
    return True


@contextmanager
def _publish_lock(releases: Path, period: str) -> Iterator[None]:
    """Exclusive lock of a period's publications (waits for the holder; the kernel drops
    it when a holder dies). None in an object store: there the append is the compare-and-set."""
    if is_remote(releases):
        with nullcontext():
            yield
        return
    fd = os.open(releases / REVISIONS / period / PUBLISH_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                break
            except OSError as exc:  # interrupted by a signal: try again
                if exc.errno != errno.EINTR:
                    raise
        yield
    finally:
        os.close(fd)


# --- states ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Publication:
    """A revision's publication as the log has it last."""

    revision: int
    at: datetime  # UTC: public from this moment
    by: str
    recorded_at: datetime | None
    note: str
    provisional: bool = False  # published with --provisional: its cells are marked p

    def public(self, now: datetime) -> bool:
        return self.at <= now


def _from_record(record: dict[str, Any]) -> Publication:
    recorded = record.get("recorded_at")
    return Publication(revision=int(record["revision"]), at=_moment(record["at"]),
                       by=str(record.get("by") or ""),
                       recorded_at=_moment(recorded) if recorded else None,
                       note=str(record.get("note") or ""),
                       provisional=bool(record.get("provisional", False)))


def publications(releases: Path | None, period: str,
                 manifests: dict[int, dict[str, Any]] | None = None) -> dict[int, Publication]:
    """revision → its publication: the last log record for it, or for a release published
    before the log, its manifest's block. ``manifests`` saves re-reading them; without
    ``releases`` (a revision folder outside its releases folder) only they count."""
    if manifests is None:
        manifests = {}
        for folder in revision_dirs(releases, period) if releases else []:
            manifest = read_manifest(folder)
            manifests[int(manifest["revision"])] = manifest
    found: dict[int, Publication] = {}
    for revision, manifest in manifests.items():
        block = manifest.get("publication")
        if block:
            found[revision] = _from_record({**block, "revision": revision})
    for record in read_log(releases, period) if releases else []:
        found[int(record["revision"])] = _from_record(record)
    return found


def is_public(manifest: dict[str, Any], now: datetime) -> bool:
    """Whether a manifest-with-publication (as ``publish`` returns) is public at ``now``."""
    publication = manifest.get("publication")
    return bool(publication) and _moment(publication["at"]) <= now


def state_of(revision: int, found: dict[int, Publication], now: datetime) -> str:
    """State of one revision among the period's publications at ``now``."""
    mine = found.get(revision)
    if mine is None:
        return "draft"
    if not mine.public(now):
        return "scheduled"
    if any(p.public(now) for r, p in found.items() if r > revision):
        return "superseded"
    return "published"


def revision_state(manifests: list[dict[str, Any]], index: int, now: datetime) -> str:
    """State of revision ``index`` among manifests carrying their publication blocks."""
    found = {int(m["revision"]): _from_record({**m["publication"], "revision": m["revision"]})
             for m in manifests if m.get("publication")}
    return state_of(int(manifests[index]["revision"]), found, now)


def _release_root(revision_dir: Path) -> Path | None:
    """``RELEASES`` for a folder ``RELEASES/.revisions/P/rNNNN`` (None elsewhere)."""
    folder = revision_dir.resolve()
    if folder.parent.parent.name == REVISIONS:
        return folder.parent.parent.parent
    return None


def publication_of(release_dir: Path) -> tuple[str, Publication | None, dict[int, Publication]]:
    """(period, the publication of the revision a release folder — ``RELEASES/P`` or a
    revision folder — holds, every publication of the period)."""
    manifest = read_manifest(release_dir)
    revision = int(manifest["revision"])
    root = _release_root(release_dir)
    # a folder copied out of its releases folder: only its own manifest speaks for it
    found = publications(root, manifest["period"], None if root else {revision: manifest})
    return manifest["period"], found.get(revision), found


def release_state(release_dir: Path, now: datetime) -> str:
    """draft / scheduled / published / superseded of the revision in ``release_dir``."""
    revision = int(read_manifest(release_dir)["revision"])
    _, _, found = publication_of(release_dir)
    return state_of(revision, found, now)


# --- embargo of files made from unpublished revisions ---------------------------------------


@dataclass(frozen=True)
class Embargo:
    """What a file made from a not-yet-public revision must say about itself."""

    until: datetime | None  # when it becomes public; None for a draft

    @property
    def zh(self) -> str:
        if self.until is None:
            return "未公布，禁止外流"
        return f"未公布，禁止外流至 {format_time(self.until, 'zh')}"

    @property
    def en(self) -> str:
        if self.until is None:
            return "Unpublished: not to be released"
        return f"Unpublished: embargoed until {format_time(self.until, 'en')}"


def embargo_of(release_dir: Path, now: datetime) -> Embargo | None:
    """None when the revision is public (published or superseded); else its embargo."""
    _, mine, found = publication_of(release_dir)
    revision = int(read_manifest(release_dir)["revision"])
    if state_of(revision, found, now) in ("published", "superseded"):
        return None
    return Embargo(mine.at if mine else None)


# --- publishing -----------------------------------------------------------------------------


def publish(
    releases: Path,
    period: str,
    *,
    by: str,
    now: datetime,
    at: datetime | None = None,
    note: str = "",
    reschedule: bool = False,
    provisional: bool = False,
) -> dict[str, Any]:
    """Publish the current revision of ``period`` at ``at`` (default: now).

    ``provisional``: the revision's figures are provisional (marked ``p`` in every file,
    ``stats.marks``) until a final revision supersedes it; only then is the key written,
    so the records of final publications stay as they were.

    A compare-and-set under the period's lock: the revision must be a draft (or, with
    ``reschedule``, scheduled and not yet public). Returns the manifest with the
    ``publication`` block and ``status`` as recorded (the manifest file is not changed).

    Raises
    ------
    PublicationConflict
        When the revision is not in the expected state, naming who published it and when.
    ReleaseError
        When the period was never built.
    """
    Period.parse(period)
    revision_dir = current_revision_dir(releases, period)
    manifest = read_manifest(revision_dir)
    revision = int(manifest["revision"])
    when = (at or now).astimezone(UTC)
    expected = "scheduled" if reschedule else "draft"
    with _publish_lock(releases, period):
        seen = len(_record_objects(_log_path(releases, period))) if is_remote(releases) else 0
        found = publications(releases, period)
        state = state_of(revision, found, now)
        if state != expected:
            raise PublicationConflict(_refusal(period, revision, state, found.get(revision)))
        record = {
            "period": period,
            "revision": revision,
            "at": iso(when),
            "by": by,
            "recorded_at": iso(now),
            "note": note or manifest.get("note", ""),
            **({"provisional": True} if provisional else {}),
        }
        if not _append(releases, period, record, seen):  # another publisher came first:
            return publish(releases, period, by=by, now=now, at=at, note=note,  # decide again
                           reschedule=reschedule, provisional=provisional)
    publication = {k: record[k] for k in ("at", "by", "recorded_at", "note", "provisional")
                   if k in record}
    status = "published" if when <= now else "scheduled"
    return {**manifest, "publication": publication, "status": status}


def _refusal(period: str, revision: int, state: str, winner: Publication | None) -> str:
    if winner is None:
        return (f"{period} revision {revision} is a draft, not scheduled: publish it without "
                "--reschedule")
    public = format_time(winner.at, "en")
    recorded = format_time(winner.recorded_at, "en", seconds=True) if winner.recorded_at else "?"
    verb = {"scheduled": "scheduled", "published": "already published",
            "superseded": "already published"}[state]
    advice = ("use --reschedule to move its time" if state == "scheduled"
              else "build a new revision to revise it")
    return (f"{period} revision {revision} is {verb} by {winner.by} (public from {public}, "
            f"recorded {recorded}); nothing was changed — {advice}")


def published_revision_dir(releases: Path, period: str, now: datetime) -> Path | None:
    """The newest public revision of a period: what agencies may see (None if none)."""
    folders = revision_dirs(releases, period)
    manifests = [read_manifest(f) for f in folders]
    found = publications(releases, period, {int(m["revision"]): m for m in manifests})
    for folder, manifest in reversed(list(zip(folders, manifests, strict=True))):
        publication = found.get(int(manifest["revision"]))
        if publication is not None and publication.public(now):
            return folder
    return None


def list_releases(releases: Path, now: datetime) -> list[dict[str, Any]]:
    """Every revision of every period with its state, for listings and dashboards.

    Times are ISO 8601 in UTC with their offset (machine form; format them to show them).
    """
    rows = []
    root = releases / REVISIONS
    periods = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for period in periods:
        folders = revision_dirs(releases, period)
        manifests = [read_manifest(f) for f in folders]
        by_revision = {int(m["revision"]): m for m in manifests}
        found = publications(releases, period, by_revision)
        for folder, manifest in zip(folders, manifests, strict=True):
            revision = int(manifest["revision"])
            publication = found.get(revision)
            rows.append(
                {
                    "period": period,
                    "kind": manifest["kind"],
                    "revision": revision,
                    "state": state_of(revision, found, now),
                    "created_at": iso(_moment(manifest["created_at"])),
                    "published_at": iso(publication.at) if publication else None,
                    "published_by": publication.by if publication else None,
                    "note": (publication.note if publication else "") or manifest.get("note", ""),
                    "provisional": bool(publication and publication.provisional),
                    "path": str(folder),
                    "tables": [t["table"] for t in manifest.get("tables", [])],
                }
            )
    return rows


# --- the calendar ---------------------------------------------------------------------------


def read_calendar(releases: Path) -> list[dict[str, Any]]:
    """The planned dates of the release calendar (``calendar.json``), in date order."""
    path = releases / CALENDAR
    if not path.exists():
        return []
    entries = json.loads(path.read_text(encoding="utf-8"))["entries"]
    return sorted(entries, key=lambda e: (e["planned"], e["period"]))


def calendar(releases: Path, now: datetime) -> list[dict[str, Any]]:
    """What is coming: the planned dates and every scheduled publication, in time order.

    Each entry: ``period``, ``planned`` (the Taipei date, ISO), ``at`` (the publication
    moment in UTC ISO for a scheduled publication, else None), ``revision`` (None for a
    plan) and ``note``. A scheduled publication replaces its period's planned date (it is
    the firmer of the two); the plan's note is kept when the publication has none.
    """
    plans = {e["period"]: e for e in read_calendar(releases)}
    scheduled = [r for r in list_releases(releases, now) if r["state"] == "scheduled"]
    entries = []
    for row in scheduled:
        plan = plans.pop(row["period"], None)
        at = _moment(row["published_at"])
        entries.append({"period": row["period"], "planned": to_taipei(at).date().isoformat(),
                        "at": row["published_at"], "revision": row["revision"],
                        "note": row["note"] or (plan or {}).get("note", "")})
    entries += [{"period": e["period"], "planned": e["planned"], "at": None, "revision": None,
                 "note": e.get("note", "")} for e in plans.values()]
    return sorted(entries, key=lambda e: (e["planned"], e["at"] or "", e["period"]))


def plan_release(releases: Path, period: str, planned: date,
                 note: str = "") -> list[dict[str, Any]]:
    """Add or move a period's planned publication date in the calendar."""
    Period.parse(period)
    releases.mkdir(parents=True, exist_ok=True)
    entries = [e for e in read_calendar(releases) if e["period"] != period]
    entries.append({"period": period, "planned": planned.isoformat(), "note": note})
    write_json_atomic(releases / CALENDAR, {"entries": entries})
    return read_calendar(releases)


__all__ = ["CALENDAR", "MANIFEST", "PUBLICATIONS", "Embargo", "Publication",
           "PublicationConflict", "calendar", "embargo_of", "is_public", "list_releases",
           "plan_release", "publications", "publish", "published_revision_dir", "read_calendar",
           "read_log", "release_state", "revision_state", "state_of"]


# Notes the system writes by itself (a build without --note, the demo): machine records in
# English, shown to people in their language.
SYSTEM_NOTES = {"first release": ("首次發布", "first release"),
                "demo release": ("示範發布", "demo release")}
_REBUILD = re.compile(r"^rebuild of revision (\d+)$")


def note_label(note: str, lang: str = "zh") -> str:
    """A revision's note as people read it: the system's own notes in ``lang``, a note a
    person typed as typed."""
    if note in SYSTEM_NOTES:
        return SYSTEM_NOTES[note][lang == "en"]
    if match := _REBUILD.match(note):
        return (f"重新產製（取代第 {match.group(1)} 版）" if lang == "zh"
                else f"rebuild of revision {match.group(1)}")
    return note
