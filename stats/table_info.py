"""A table's page (regulation points 7 and 21: the provider publishes its data items, code
tables and formats): what the table holds, what every column means, its code lists, where
it comes from, when it was last published and when it is next due, its revisions, and how
to ask for it through the API. Holds no data, so any logged-in user may read it.

Pure: the release listing and the calendar are passed in (``stats.publication``).
"""

from __future__ import annotations

from typing import Any

from stats.catalogue import COLUMNS, VALUE_LABELS, table_spec, value_labels
from stats.definitions import REGULATION, SOURCE, definition
from stats.periods import Period
from stats.schemas import OUTSIDE_CODE

AGES = {"age": [(a, f"{a}歲" if a < 100 else "100歲以上", str(a) if a < 100 else "100 and over")
                for a in range(101)]}
# migration_flows' destination: the period's county codes, and 99999
DESTINATIONS = [("63000…", "縣市代碼（5碼，同區域代碼）", "county code (5 digits, as area_code)"),
                (OUTSIDE_CODE, "戶籍以外（國外、初設戶籍、廢止戶籍）",
                 "outside the register (abroad, first registration, de-registration)")]


def code_list(key: str, lang: str, table: str | None = None) -> list[dict[str, str]]:
    """The values a key column takes (in ``table``, when given), with their labels."""
    if key in AGES:
        return [{"code": str(a), "label": zh if lang == "zh" else en} for a, zh, en in AGES[key]]
    if key == "to_code":
        return [{"code": code, "label": zh if lang == "zh" else en} for code, zh, en in DESTINATIONS]
    return [{"code": str(code), "label": pair[lang == "en"]}
            for code, pair in value_labels(key, table).items()]


def table_info(table: str, releases: list[dict[str, Any]], planned: list[dict[str, Any]],
               lang: str = "zh") -> dict[str, Any]:
    """Everything the table's page shows, in ``lang``.

    ``releases``: ``stats.publication.list_releases`` rows the reader may see;
    ``planned``: ``stats.publication.calendar`` entries the reader may see.
    """
    spec = table_spec(table)
    zh = lang == "zh"
    columns = [
        {"name": c.name, "label": c.zh if zh else c.en, "unit": c.unit_zh if zh else c.unit_en,
         "definition": definition(c.name, lang), "key": c.name in spec.keys}
        for c in spec.columns
    ]
    own = sorted((r for r in releases if r["period"] and _has_table(r, table)),
                 key=lambda r: (_order(r["period"]), r["revision"]), reverse=True)
    public = [r for r in own if r["state"] == "published"]
    latest = max(public, key=lambda r: r["published_at"] or "", default=None)  # the newest
    upcoming = sorted(planned, key=lambda e: e.get("at") or e.get("planned") or "")
    example_period = latest["period"] if latest else "2025-03"
    return {
        "table": table,
        "code": spec.code,
        "title": spec.title_zh if zh else spec.title_en,
        "levels": [VALUE_LABELS["area_level"][level][not zh] for level in spec.levels],
        "keys": [{"name": k, "label": getattr(COLUMNS[k], lang), "values": code_list(k, lang, table)}
                 for k in spec.keys],
        "columns": columns,
        "footnotes": list(spec.footnotes_zh if zh else spec.footnotes_en),
        "source": SOURCE[not zh],
        "regulation": REGULATION[not zh],
        "latest": latest,
        "next": upcoming[0] if upcoming else None,
        "revisions": own,
        "api": {
            "table": f"GET /api/v1/tables/{table}?period={example_period}",
            "query": {"table": table, "periods": [example_period], "area_level": "county",
                      "labels": "codes"},
        },
    }


def _has_table(release: dict[str, Any], table: str) -> bool:
    """Rows without a table list (older listings) hold every v1 table."""
    tables = release.get("tables")
    return tables is None or table in tables


def _order(period: str) -> tuple[int, int, int]:
    parsed = Period.parse(period)
    kind = {"month": 0, "quarter": 1, "year": 2}[parsed.kind]
    return parsed.year, parsed.months[-1].month, kind
