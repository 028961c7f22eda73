"""The rules of a table request's parameters (``GET /api/v1/tables/{table}``): each checked
for syntax and length before anything touches the database, the disk or the audit log; a
breach names the parameter and its rule, never echoing the value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stats.catalogue import TABLES
from stats.codes import level_of_code

LEVELS = ("national", "county", "township", "village")
MAX_PAGE_ROWS = 10_000  # ≈ 430 KB of JSON for population_by_age: a page costs ≈ 20 ms
# to make, so a token at its rate limit cannot crowd out other agencies' requests
PERIOD = re.compile(r"[0-9]{4}(?:-(?:0[1-9]|1[0-2])|-Q[1-4])?")  # [0-9]: \d takes ６ too
AREA_CODE = re.compile(r"[0-9]{5}|[0-9]{8}|[0-9]{11}")
TABLE_NAME = re.compile(r"[a-z][a-z_]{0,63}")
POSITIVE = re.compile(r"[1-9][0-9]{0,5}")
RULES = {
    "period": "YYYY-MM, YYYY-Qn or YYYY (e.g. 2025-03, 2025-Q1, 2025)",
    "area_level": "one of national, county, township, village",
    "area_code": "00000 (national) or 5, 8 or 11 digits (county, township, village)",
    "page": "a whole number from 1",
    "page_size": f"a whole number from 1 to {MAX_PAGE_ROWS}",
}


MAX_VALUE = 32  # longer than any valid value of any parameter (but a list of periods)
MAX_PERIODS = 240  # periods in one range or list (20 years of months), as in stats.query
MAX_PERIOD_TEXT = MAX_PERIODS * 8  # a comma list of that many months


RULES["period"] += (f"; or a range FROM..TO, or a comma list, of one kind (at most "
                    f"{MAX_PERIODS} periods)")


class QueryError(ValueError):
    """A query that breaks a rule of its own syntax (400); ``parameter`` names the part."""

    def __init__(self, parameter: str, rule: str) -> None:
        super().__init__(f"{parameter}: {rule}")
        self.parameter, self.rule = parameter, rule


@dataclass(frozen=True)
class Query:
    """A table query that passed ``validate_query``: safe to put in paths, logs and records."""

    table: str
    period: str
    area_level: str | None
    area_code: str | None
    page: int
    page_size: int | None  # None: the whole answer (no paging asked for; CONTRACT §6)
    # CONTRACT §7: period=FROM..TO or a comma list; ``period`` is then its normalised text
    periods: tuple[str, ...] | None = None

    def record(self) -> dict[str, Any]:
        """What was asked, as kept with the delivery."""
        asked = {"area_level": self.area_level, "area_code": self.area_code,
                 "page": self.page, "page_size": self.page_size}
        return asked if self.periods is None else {**asked, "periods": list(self.periods)}


def parse_periods(text: str) -> tuple[str, ...] | None:
    """The periods of ``period=FROM..TO`` or ``period=A,B,C`` (one kind, ascending, each
    once); None for a single period (checked by the caller, as before).

    Raises
    ------
    QueryError
        Naming ``period`` and its rule.
    """
    from stats.periods import Period, PeriodError, period_range

    ranged, listed = ".." in text, "," in text
    if not ranged and not listed:
        return None
    if ranged and listed:
        raise QueryError("period", "a range FROM..TO or a comma list, not both")
    parts = text.split("..") if ranged else text.split(",")
    if (ranged and len(parts) != 2) or not all(PERIOD.fullmatch(p) for p in parts):
        raise QueryError("period", RULES["period"])
    found = [Period.parse(p) for p in parts]
    if len({p.kind for p in found}) > 1:
        raise QueryError("period", "every period of one kind (months, quarters or years)")
    if ranged:
        try:
            found = period_range(found[0], found[1])
        except PeriodError as error:
            raise QueryError("period", str(error)) from error
    elif len(set(parts)) != len(parts):
        raise QueryError("period", "a period is named twice")
    if len(found) > MAX_PERIODS:
        raise QueryError("period", f"at most {MAX_PERIODS} periods")
    return tuple(str(p) for p in sorted(found, key=lambda p: (p.year, p.number)))


def validate_query(table: str, params: dict[str, str]) -> Query:
    """Check every parameter's syntax and length (and that the level and code agree with
    each other and the table) before anything else runs.

    Raises
    ------
    QueryError
        Naming the parameter and its rule; the offending value is not echoed or logged.
    """
    if not TABLE_NAME.fullmatch(table):
        raise QueryError("table", "a table name: lower-case letters and _, at most 64")
    for name, value in params.items():
        if name not in RULES:
            raise QueryError(name[:40], f"unknown parameter; allowed: {', '.join(RULES)}")
        limit = MAX_PERIOD_TEXT if name == "period" else MAX_VALUE
        if len(value) > limit:
            raise QueryError(name, f"at most {limit} characters: {RULES[name]}")
    period = params.get("period") or ""
    if not period:
        raise QueryError("period", f"required: {RULES['period']}")
    periods = parse_periods(period)
    if periods is not None:  # checked; the single-period pattern below does not apply
        separator = ".." if ".." in period else ","
        period = separator.join([periods[0], periods[-1]] if separator == ".." else periods)
        params = {k: v for k, v in params.items() if k != "period"}
    checks = {"period": PERIOD, "area_level": re.compile("|".join(LEVELS)),
              "area_code": AREA_CODE, "page": POSITIVE, "page_size": POSITIVE}
    for name, pattern in checks.items():
        if name in params and not pattern.fullmatch(params[name]):
            raise QueryError(name, RULES[name])
    level, code = params.get("area_level"), params.get("area_code")
    if code and level and level_of_code(code) != level:
        raise QueryError("area_code", f"a {level_of_code(code)} code does not match "
                         f"area_level={level}")
    spec = TABLES.get(table)
    for wanted in (level, level_of_code(code) if code else None):
        if spec is not None and wanted and wanted not in spec.levels:
            raise QueryError("area_level" if wanted == level else "area_code",
                             f"{table} has no {wanted} level; its levels: "
                             f"{', '.join(spec.levels)}")
    paged = "page" in params or "page_size" in params
    page_size = int(params.get("page_size", MAX_PAGE_ROWS)) if paged else None
    if page_size is not None and page_size > MAX_PAGE_ROWS:
        raise QueryError("page_size", RULES["page_size"])
    return Query(table, period, level, code, int(params.get("page", 1)), page_size, periods)
