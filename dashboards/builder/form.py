"""The builder's controls ⇄ a query document (CONTRACT §7); pure: no request, no data.

The page's controls hold plain values (``Form``); ``document_of`` makes the §7 document the
preview, the download, the saved query, the API call and the permalink all use, and
``form_of`` puts a (checked) query back into controls, for the permalink. Dimensions in the
controls are named by the table's keys (``age`` stays ``age`` when banded), so a choice of
what goes across survives switching the bands; the document names ``age_band``.
"""

from __future__ import annotations

import base64
import binascii
import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from stats.periods import Period, PeriodError, period_range
from stats.query import Query, QueryError, parse_query
from stats.schemas import TABLE_KEYS

KINDS = ("month", "quarter", "year")
MODES = ("range", "pick")
LABELS = ("zh-TW", "en", "codes")
# age bands offered: single years, MOI's 5-year groups (100 and over alone), the broad three
BANDS: dict[str, list[list[int]] | None] = {
    "single": None,
    "5y": [[low, low + 4] for low in range(0, 100, 5)] + [[100, 100]],
    "broad": [[0, 14], [15, 64], [65, 100]],
}
MAX_LINK = 64 * 1024  # characters of a permalink's q= (20,000 village codes fit)


@dataclass(frozen=True)
class Form:
    """The values of the builder's controls (straight from the browser: untrusted)."""

    table: str | None = None
    kind: str = "month"
    mode: str = "range"
    period_from: str | None = None
    period_to: str | None = None
    picks: list[str] = field(default_factory=list)
    level: str | None = None
    within: str | None = None
    areas: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    measures: list[str] = field(default_factory=list)
    bands: str = "single"
    heading: list[str] = field(default_factory=list)
    labels: str = "zh-TW"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _texts(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def form_from(table: Any, kind: Any, mode: Any, period_from: Any, period_to: Any, picks: Any,
              level: Any, within: Any, areas: Any, keep: Any, measures: Any, bands: Any,
              heading: Any, labels: Any) -> Form:
    """A ``Form`` of a callback's values (texts and lists of texts only; the rest dropped)."""
    return Form(_text(table), kind if kind in KINDS else "month",
                mode if mode in MODES else "range", _text(period_from), _text(period_to),
                _texts(picks), _text(level), _text(within), _texts(areas), _texts(keep),
                _texts(measures), bands if bands in BANDS else "single", _texts(heading),
                labels if labels in LABELS else "zh-TW")


def dimensions(table: str | None, keep: list[str]) -> list[str]:
    """The result's dimensions as the controls name them, in §7's order of precedence."""
    keys = [k for k in TABLE_KEYS.get(table or "", []) if k in keep]
    return ["area", *keys, "period", "measure"]


def _banded(form: Form) -> bool:
    return BANDS.get(form.bands) is not None and "age" in form.keep \
        and "age" in TABLE_KEYS.get(form.table or "", [])


def periods_of(form: Form) -> str | list[str]:
    """A range ``FROM..TO`` (one period when they are equal) or the picked list."""
    if form.mode == "pick":
        return list(form.picks)
    first, last = form.period_from or form.period_to, form.period_to or form.period_from
    if first is None or last is None:
        return []
    return first if first == last else f"{first}..{last}"


def document_of(form: Form) -> dict[str, Any]:
    """The §7 document of the controls: heading = the dimensions chosen across, in the order
    chosen (the first outermost); stub = the others, in §7's order."""
    doc: dict[str, Any] = {"table": form.table, "periods": periods_of(form),
                           "area_level": form.level}
    if form.areas:
        doc["areas"] = list(form.areas)
    elif form.within:
        doc["within"] = form.within
    if form.measures:
        doc["measures"] = list(form.measures)
    doc["keep"] = [k for k in TABLE_KEYS.get(form.table or "", []) if k in form.keep]
    banded = _banded(form)
    if banded:
        doc["age_bands"] = BANDS[form.bands]

    def named(dim: str) -> str:
        return "age_band" if dim == "age" and banded else dim

    dims = dimensions(form.table, form.keep)
    doc["stub"] = [named(d) for d in dims if d not in form.heading]
    doc["heading"] = [named(d) for d in form.heading if d in dims]  # outermost first
    doc["labels"] = form.labels
    return doc


def _is_range(periods: tuple[str, ...]) -> bool:
    try:
        whole = period_range(Period.parse(periods[0]), Period.parse(periods[-1]))
    except PeriodError:
        return False
    return [str(p) for p in whole] == list(periods)


def form_of(query: Query) -> Form:
    """The controls of a checked query (custom age bands, which the builder does not offer,
    become the nearest offered choice: ``single`` unless they equal a preset)."""
    periods = query.periods
    ranged = len(periods) == 1 or _is_range(periods)
    bands = next((name for name, value in BANDS.items() if value is not None and query.age_bands
                  and [list(b) for b in query.age_bands] == value), "single")
    heading = ["age" if d == "age_band" else d for d in query.heading]
    return Form(query.table, Period.parse(periods[0]).kind, "range" if ranged else "pick",
                periods[0] if ranged else None, periods[-1] if ranged else None,
                [] if ranged else list(periods), query.area_level, query.within,
                list(query.areas or []), list(query.keep), list(query.measures), bands,
                heading, query.labels)


def encode(doc: dict[str, Any]) -> str:
    """The permalink's ``q``: the document as URL-safe base64 of its compact JSON."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(text: Any) -> Query:
    """The query of a permalink's ``q``.

    Raises
    ------
    QueryError
        Not base64 of a JSON document, or not a valid query (every reason).
    """
    if not isinstance(text, str) or not text or len(text) > MAX_LINK:
        raise QueryError([f"the link's q is not a query (at most {MAX_LINK:,} characters)"])
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        doc = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise QueryError([f"the link's q is not a query document: {error}"]) from error
    return parse_query(doc)


def saved_json(doc: dict[str, Any]) -> str:
    """The document as a person copies it (a file for ``popstats query --spec``)."""
    return json.dumps(doc, ensure_ascii=False, indent=2)


def curl_line(doc: dict[str, Any], base_url: str) -> str:
    """``POST /api/v1/query`` with the document, the token left to the caller's shell."""
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return ("curl -sS -X POST -H 'Authorization: Bearer '\"$POPSTATS_TOKEN\" "
            "-H 'Content-Type: application/json' "
            f"--data {shlex.quote(body)} {shlex.quote(base_url.rstrip('/') + '/api/v1/query')}")
