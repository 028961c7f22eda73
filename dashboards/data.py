"""The dashboards' data layer: published releases read once, sliced by the caller's grant.

Every page reads release tables through ``view``: it takes the user from the server-side
session (never from callback inputs), passes each requested area through
``access.deliveries.record_view`` (``can_view`` plus an audit entry; refusals are audited
too) and only then returns rows. Two caches keep callbacks fast:

* raw tables, keyed by the revision folder (immutable once written, so a key never goes
  stale; a new revision has a new folder) — never shown to anyone as such;
* sliced results, keyed by the caller's *scope* (agency id, or provider jurisdiction) as
  well as the request, so one agency's answer can never be served to another.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

import polars as pl
from flask import g, has_request_context

from access import audit
from access.deliveries import Forbidden, record_view
from access.grants import granted_areas
from access.models import NATIONAL, PROVIDER_ROLES, User
from dashboards.figures import area_label
from dashboards.i18n import NATIONAL_NAME, language
from dashboards.callback_guard import InvalidCallback
from dashboards.web import Refused, current_user, services
from stats.codes import COUNTY_NAMES_EN
from stats.periods import Period
from stats.publication import list_releases, published_revision_dir
from stats.release import read_areas, read_table
from stats.schemas import OUTSIDE_CODE

CHANNEL = "online_query"
MAX_AREAS = 10_000  # codes per request: more than Taiwan's villages, townships and counties
KINDS = ("month", "quarter", "year")


class _Lru:
    """A small thread-safe LRU map whose entries together weigh at most ``limit``
    (``weigh`` gives an entry's weight: 1 by default, so ``limit`` counts entries)."""

    def __init__(self, limit: int, weigh: Callable[[Any], int] = lambda _value: 1) -> None:
        self.limit, self.weigh = limit, weigh
        self.items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.total, self.lock = 0, threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key][0]
        return None

    def put(self, key: Hashable, value: Any) -> Any:
        weight = self.weigh(value)
        with self.lock:
            if key in self.items:
                self.total -= self.items.pop(key)[1]
            self.items[key] = (value, weight)
            self.total += weight
            while self.total > self.limit and len(self.items) > 1:
                self.total -= self.items.popitem(last=False)[1][1]
        return value

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.total = 0


def _frame_bytes(frame: pl.DataFrame) -> int:
    return int(frame.estimated_size())


# Raw tables, by bytes: a national village-level table is ~100 MB, and each worker keeps
# its own cache, so the bound is what a worker may hold (POPSTATS_CACHE_MB, default 768).
RAW = _Lru(int(os.environ.get("POPSTATS_CACHE_MB", "768")) * 2**20, _frame_bytes)
RESULTS = _Lru(64 * 2**20, _frame_bytes)  # (scope, table, areas, revisions, columns) -> rows


def is_official(user: User | None) -> bool:
    """Provider staff (officials, statisticians, auditors)."""
    return user is not None and user.role in PROVIDER_ROLES


def is_agency_user(user: User | None) -> bool:
    return user is not None and user.role == "agency_user"


def scope(user: User) -> tuple[str, Any]:
    """Who a cached answer belongs to: the agency, or the provider's jurisdiction."""
    if user.agency_id is not None:
        return ("agency", user.agency_id)
    return ("provider", user.provider.jurisdiction if user.provider else None)


def _period_order(period: str) -> tuple[int, int, int]:
    parsed = Period.parse(period)
    return parsed.year, KINDS.index(parsed.kind), parsed.number


def _published_now() -> list[dict[str, Any]]:
    """The published revisions, read from disk once per request (a callback asks often)."""
    if has_request_context() and "published_releases" in g:
        return g.published_releases  # type: ignore[no-any-return]
    svc = services()
    found = [r for r in list_releases(svc.releases, svc.now()) if r["state"] == "published"]
    if has_request_context():
        g.published_releases = found
    return found


def published_periods(kind: str | None = None) -> list[str]:
    """Periods with a published revision now, oldest first (optionally one kind)."""
    found = {r["period"] for r in _published_now() if kind is None or r["kind"] == kind}
    return sorted(found, key=_period_order)


def latest_period(kind: str = "month") -> str | None:
    periods = published_periods(kind)
    return periods[-1] if periods else None


def periods_with(table: str, kind: str | None = None) -> list[str]:
    """Published periods whose revision holds ``table``, oldest first (CONTRACT §8: v1
    releases hold no v2-only tables, and only years hold the life table)."""
    found = {r["period"] for r in _published_now()
             if table in r.get("tables", []) and (kind is None or r["kind"] == kind)}
    return sorted(found, key=_period_order)


def release_dir(period: str) -> Path | None:
    """The published revision's folder, or None: anything but a published period's name (a
    callback's text, ``../x`` …) never reaches the file system."""
    if not isinstance(period, str) or period not in published_periods():
        return None
    svc = services()
    return published_revision_dir(svc.releases, period, svc.now())


def raw_table(folder: Path, table: str) -> pl.DataFrame:
    """A whole release table (cached by revision folder). Never return this to a caller."""
    key = (str(folder), table)
    found = RAW.get(key)
    return found if found is not None else RAW.put(key, read_table(folder, table))


def release_areas(period: str) -> pl.DataFrame:
    """area_level, area_code, area_name of a published period (empty if unpublished)."""
    folder = release_dir(period)
    if folder is None:
        return pl.DataFrame(schema={"area_level": pl.String, "area_code": pl.String,
                                    "area_name": pl.String})
    key = (str(folder), "__areas__")
    found = RAW.get(key)
    return found if found is not None else RAW.put(key, read_areas(folder))


def offered_roots(user: User, tables: Iterable[str]) -> list[str]:
    """The granted area roots (national or county codes …) for any of ``tables`` online.

    Offering is not permission: ``view`` checks every request again.
    """
    svc = services()
    roots: set[str] = set()
    for table in tables:
        roots |= set(granted_areas(g.db, user, table, CHANNEL, svc.now()))
    return sorted(roots)


def covered(roots: Iterable[str], code: str) -> bool:
    return any(root == NATIONAL or (code != NATIONAL and code.startswith(root)) for root in roots)


def areas_under(period: str, roots: list[str], level: str) -> pl.DataFrame:
    """The areas of ``level`` inside the granted roots, with names, in code order."""
    frame = release_areas(period).filter(pl.col("area_level") == level)
    if NATIONAL in roots:
        return frame
    if not roots:
        return frame.clear()
    return frame.filter(pl.any_horizontal(pl.col("area_code").str.starts_with(r) for r in roots))


def area_name(code: str, period: str | None = None, lang: str | None = None) -> str:
    """An area's name in the caller's language (village and township names exist in Chinese
    only, so English shows those with their code)."""
    lang = lang or language()
    if code == NATIONAL:
        return NATIONAL_NAME[lang]
    if lang == "en" and code in COUNTY_NAMES_EN:
        return COUNTY_NAMES_EN[code]
    period = period or latest_period()
    if period:
        names = release_areas(period).filter(pl.col("area_code") == code)["area_name"]
        if len(names):
            return area_label(release_areas(period), code, lang) or code  # area_name_en
    return code


def area_with_code(code: str, period: str | None = None) -> str:
    """``area_name`` followed by the code, unless the name already shows it."""
    name = area_name(code, period)
    return name if code in name else f"{name} ({code})"


def area_codes(areas: Any) -> list[str]:
    """``areas`` as a list of code texts, or ``InvalidCallback`` (400): a list, dict or number
    where a code belongs, or more codes than any release has areas, come from no page."""
    if not isinstance(areas, list | tuple) or not all(isinstance(a, str) for a in areas):
        raise InvalidCallback(f"areas: expected a list of area codes (texts), got {areas!r:.80}")
    if len(areas) > MAX_AREAS:
        raise InvalidCallback(f"areas: {len(areas):,} codes; at most {MAX_AREAS:,} per request")
    return list(areas)


def refuse_unknown(user: User, table: str, areas: list[str], periods: list[str]) -> None:
    """Refuse (``Refused``, audited) codes that are no area of any of the published
    ``periods``: a made-up ``63000xxxxxx`` passes a prefix grant check, so existence is
    checked first, against the release's own area list."""
    known = pl.concat([release_areas(p).select("area_code") for p in periods],
                      how="vertical") if periods else pl.DataFrame(schema={"area_code": pl.String})
    if table == "migration_flows":  # its origin 99999, outside the register, is no area
        known = pl.concat([known, pl.DataFrame({"area_code": [OUTSIDE_CODE]})])
    unknown = pl.Series("area_code", areas, dtype=pl.String)
    unknown = unknown.filter(~unknown.is_in(known["area_code"].implode()))
    if unknown.is_empty():
        return
    svc = services()
    audit.record(g.db, user.username, "access.refused", f"table:{table}", svc.now(),
                 {"channel": CHANNEL, "reason": "not an area of the release",
                  "period": ",".join(periods), "areas": unknown.to_list()},
                 agency_id=user.agency_id)  # a long list is summarised (audit_bounds)
    g.db.commit()
    raise Refused(f"{unknown.len()} area code(s) are no area of {', '.join(periods)}")


def view(table: str, areas: list[str], periods: list[str],
         columns: list[str] | None = None) -> pl.DataFrame:
    """The rows of ``table`` for exactly ``areas`` in the published ``periods``.

    Every area is checked and the view audited first; if any is outside the grant the
    refusal is audited and ``Refused`` raised, and no rows are returned at all.
    """
    user, db = current_user(), getattr(g, "db", None)
    if user is None or db is None:
        raise Refused("not logged in")
    svc = services()
    areas = sorted(set(area_codes(areas)))
    if not isinstance(periods, list) or not all(isinstance(p, str) for p in periods):
        raise InvalidCallback(f"periods: expected a list of period texts, got {periods!r:.80}")
    refuse_unknown(user, table, areas, periods)
    try:
        record_view(db, user, table, areas, ",".join(periods), svc.now())
    except Forbidden as error:
        raise Refused(str(error)) from error
    db.commit()
    folders = [f for f in (release_dir(p) for p in periods) if f is not None]
    # revision folders, not period names, in the key: a new revision is a new answer
    key = (scope(user), table, tuple(areas), tuple(map(str, folders)), tuple(columns or ()))
    found = RESULTS.get(key)
    if found is not None:
        return found
    frames = []
    for folder in folders:
        frame = raw_table(folder, table).filter(pl.col("area_code").is_in(areas))
        frames.append(frame.select(columns) if columns else frame)
    result = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    return RESULTS.put(key, result)
