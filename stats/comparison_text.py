"""A revision comparison (``stats.revision_compare``) as people read it, in zh-TW or English:
what ``popstats report --compare`` prints and the Releases page shows. Labels only; no
figures are computed here."""

from __future__ import annotations

from typing import Any

from stats.catalogue import TABLES, VALUE_LABELS, table_spec

AREAS_LISTED = 10


def _zh(lang: str) -> bool:
    return lang == "zh"


def level_label(level: str, lang: str) -> str:
    zh, en = VALUE_LABELS["area_level"].get(level, (level, level))
    return zh if _zh(lang) else en


def table_title(table: str, lang: str) -> str:
    spec = TABLES[table]
    return spec.title_zh if _zh(lang) else spec.title_en


def measure_label(table: str, measure: str, lang: str) -> str:
    column = table_spec(table).column(measure)
    return column.zh if _zh(lang) else column.en


def keys_label(keys: dict[str, Any], lang: str) -> str:
    """``男 17歲`` / ``male, age 17``: a cell's key values by their labels."""
    parts = []
    for key, value in keys.items():
        labels = VALUE_LABELS.get(key, {})
        if value in labels:
            parts.append(labels[value][0 if _zh(lang) else 1])
        elif key == "age":
            parts.append(f"{value}歲" if _zh(lang) else f"age {value}")
        else:
            parts.append(f"{key} {value}")
    return (" " if _zh(lang) else ", ").join(parts)


def area_label(row: dict[str, Any]) -> str:
    return f"{row['area_code']} {row['area_name'] or ''}".rstrip()


def number(value: float | None) -> str:
    """A cell value: integers without decimals, others to 4 significant decimals; null —."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4f}"


def signed(value: float | None) -> str:
    return "—" if value is None else ("+" if value > 0 else "") + number(value)


def headline(comparison: dict[str, Any], lang: str) -> str:
    c = comparison
    if _zh(lang):
        return (f"{c['period']} 第 {c['new']} 版與第 {c['old']} 版比較："
                f"{c['changed']:,} 個細格變動（共比較 {c['cells']:,} 個細格）")
    return (f"{c['period']} revision {c['new']} compared with revision {c['old']}: "
            f"{c['changed']:,} cells changed of {c['cells']:,} compared")


def table_summary(entry: dict[str, Any], lang: str) -> str:
    """One table's line: changed cells, by level, added and removed."""
    levels = ("、" if _zh(lang) else ", ").join(
        f"{level_label(level, lang)} {n:,}" for level, n in entry["by_level"].items())
    if _zh(lang):
        text = f"{entry['changed']:,} 個細格變動（共 {entry['cells']:,}）"
        text += f"，{entry['areas_changed']:,} 個區域" if entry["changed"] else ""
        text += f"：{levels}" if levels else ""
        text += f"；新增 {entry['added']:,}" if entry["added"] else ""
        text += f"；刪除 {entry['removed']:,}" if entry["removed"] else ""
        return text
    text = f"{entry['changed']:,} cells changed of {entry['cells']:,}"
    text += f" in {entry['areas_changed']:,} areas" if entry["changed"] else ""
    text += f": {levels}" if levels else ""
    text += f"; {entry['added']:,} added" if entry["added"] else ""
    text += f"; {entry['removed']:,} removed" if entry["removed"] else ""
    return text


def change_line(table: str, change: dict[str, Any], lang: str) -> str:
    """``09007010001 南竿鄉介壽村 男性人口數 男 17歲: 10 → 9 (−1)``."""
    keys = keys_label(change["keys"], lang)
    what = measure_label(table, change["measure"], lang) + (f" {keys}" if keys else "")
    return (f"{area_label(change)} {what}: {number(change['old'])} → {number(change['new'])} "
            f"({signed(change['change'])})")


def format_comparison(comparison: dict[str, Any], lang: str = "zh") -> str:
    """The whole comparison as text, table by table: counts, the areas most changed, the
    largest changes."""
    lines = [headline(comparison, lang), ""]
    for entry in comparison["tables"]:
        lines.append(f"{entry['table']}  {table_title(entry['table'], lang)}")
        lines.append(f"  {table_summary(entry, lang)}")
        if entry["areas"]:
            lines.append("  " + ("變動最多的區域" if _zh(lang) else "areas most changed") + ":")
            lines += [f"    {level_label(a['area_level'], lang)} {area_label(a)}: {a['changed']:,}"
                      for a in entry["areas"][:AREAS_LISTED]]
            more = entry["areas_changed"] - min(AREAS_LISTED, len(entry["areas"]))
            if more > 0:
                lines.append(f"    … 另 {more:,} 個區域" if _zh(lang) else f"    … {more:,} more")
        if entry["largest"]:
            lines.append("  " + ("最大變動" if _zh(lang) else "largest changes") + ":")
            lines += [f"    {change_line(entry['table'], c, lang)}" for c in entry["largest"]]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["change_line", "format_comparison", "headline", "table_summary"]
